"""The local engine as a voice provider: voice profiles (files, or the database) and speech in any format."""

from __future__ import annotations

import json
import logging
import secrets
from pathlib import Path
from typing import Any

import numpy as np

from backend.audio import OUTPUT_FORMATS, DecodedAudio, StreamEncoder, encode_stream
from backend.errors import ProviderRejected, ProviderVoiceNotFound
from backend.providers import VOICE_ID_SHAPES, CreatedVoice, SynthesisStream
from backend.providers.local.engine import ENGINE, LocalEngine, _piper_paths
from backend.storage import ProfileStore
from backend.storage.profiles import FileProfiles, new_profile

log = logging.getLogger(__name__)


PROFILE_VERSION = 1
MODEL_PREFIX = "local-"
DESCRIPTION = (
    "Offline approximation of the speaker: a fixed neural TTS voice (piper en_US-joe-medium) whose pitch level "
    "and range, formants and long-term spectral timbre are shifted toward the reference recording. It is not a "
    "neural clone: accent, rhythm and voice quality stay the base voice's."
)


class LocalProvider:
    """VoiceProvider for the offline engine; voice profiles in data_dir/voices/ or, shared, in the database."""

    name = "local"
    description = DESCRIPTION

    def __init__(
        self,
        data_dir: Path,
        profiles: ProfileStore | None = None,
        *,
        workers: int | None = None,
        queue: int = 32,
        queue_timeout: float = 30.0,
        threads: int | None = None,
    ):
        self.data_dir = Path(data_dir)
        self.voices_dir = self.data_dir / "voices"
        self.profiles = profiles or FileProfiles(self.voices_dir)
        self.engine = LocalEngine(workers=workers, queue=queue, queue_timeout=queue_timeout, threads=threads)

    def warm_up(self) -> None:
        """Load the model and run it once, so the first request does not pay for it (call in a background thread)."""
        for _ in self.engine.render("Ready.", None):
            pass

    # -- ids and profiles

    def owns(self, model_id: str) -> bool:
        return isinstance(model_id, str) and bool(VOICE_ID_SHAPES["local"].fullmatch(model_id))

    def _load_profile(self, model_id: str) -> dict[str, Any]:
        if not VOICE_ID_SHAPES["local"].fullmatch(model_id or ""):
            raise ProviderVoiceNotFound("Local voice model not found.")
        try:
            text = self.profiles.load(model_id)
            if text is None:
                raise ProviderVoiceNotFound("Local voice model not found.")
            return json.loads(text)
        except (OSError, ValueError) as exc:
            log.error("Unreadable local voice profile %s: %s", model_id, exc)
            raise ProviderVoiceNotFound("Local voice model not found (its profile is unreadable).") from exc

    # -- protocol

    def create_voice(
        self, *, title: str, audio_path: Path, audio: DecodedAudio, transcript: str | None
    ) -> CreatedVoice:
        analysis = self.engine.analyse_reference(audio)
        model_id = MODEL_PREFIX + secrets.token_hex(12)
        ref_pitch = analysis["reference"]["pitch"]
        transform = analysis["transform"]
        profile = new_profile(
            version=PROFILE_VERSION, engine=ENGINE, model_id=model_id, title=title, transcript=transcript, **analysis
        )
        self.profiles.save(model_id, json.dumps(profile))
        eq = np.asarray(transform["eq_db"])
        details = {
            "engine": ENGINE,
            "method": "pitch, formant and timbre matching",
            "median_f0_hz": round(ref_pitch["median_f0_hz"], 1),
            "pitch_range_semitones": round(ref_pitch["pitch_range_semitones"], 1),
            "formant_ratio": round(transform["formant_ratio"], 3),
            "pitch_range_factor": round(transform["pitch_range_factor"], 3),
            "timbre_eq_max_db": round(float(np.max(np.abs(eq))), 1) if eq.size else 0.0,
            "reference_seconds": round(analysis["reference"]["seconds"], 2),
        }
        return CreatedVoice(model_id=model_id, state="trained", details=details)

    def delete_voice(self, model_id: str) -> None:
        if not VOICE_ID_SHAPES["local"].fullmatch(model_id or ""):
            return
        self.profiles.delete(model_id)

    def synthesize(self, *, text: str, reference_id: str | None, fmt: str) -> SynthesisStream:
        if fmt not in OUTPUT_FORMATS:
            raise ProviderRejected(f"Unknown output format {fmt!r}; use one of {', '.join(OUTPUT_FORMATS)}.")
        profile = self._load_profile(reference_id) if reference_id is not None else None
        engine = self.engine
        rate = engine.sample_rate  # loads the model now, so a broken install fails before streaming starts
        encoder = StreamEncoder(fmt, rate)
        return SynthesisStream(
            chunks=encode_stream(engine.render(text, profile), encoder),
            media_type=encoder.media_type,
            sample_rate=encoder.output_rate,
        )

    def status(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "status": "ok",
            "provider": self.name,
            "description": self.description,
            "engine": ENGINE,
            "voice_matching": "pitch level/range, formant ratio and long-term timbre (Praat PSOLA + equaliser)",
            "loaded": self.engine.loaded,
            "workers": self.engine.pool.workers,
            "rendering": self.engine.pool.running,
            "queued": self.engine.pool.waiting,
        }
        try:
            import parselmouth  # noqa: F401
            import piper  # noqa: F401

            model, config = _piper_paths()
            if not (model.is_file() and config.is_file()):
                raise FileNotFoundError(model)
        except Exception as exc:  # report, never raise: this feeds /health
            info["status"] = "unavailable"
            info["error"] = f"{type(exc).__name__}: {exc}"
        return info
