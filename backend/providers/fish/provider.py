"""Fish.Audio as a voice provider: private fast-trained clones, speech streamed in the asked-for format."""

from __future__ import annotations

import io
import logging
import threading
import time
from pathlib import Path
from typing import Any

from backend import audio as audio_codec
from backend.audio import DecodedAudio
from backend.errors import ProviderError, ProviderVoiceNotFound
from backend.formats import FORMATS, PCM_SAMPLE_RATE
from backend.providers import VOICE_ID_SHAPES, CreatedVoice, SynthesisStream
from backend.providers.fish.client import FishAudioClient

log = logging.getLogger(__name__)

# Containers Fish.Audio takes as they are; anything else is sent as WAV.
_FISH_ACCEPTS = {"wav": "audio/wav", "mp3": "audio/mpeg", "m4a": "audio/mp4"}


class FishAudioProvider:
    """Voice provider backed by Fish.Audio's cloud clones."""

    name = "fish"
    description = "Fish.Audio cloud voice cloning"

    def __init__(self, client: FishAudioClient, *, status_ttl: float = 60.0):
        self.client = client
        self.cache_tag = client.tts_model  # the same text in another TTS model is another recording
        self._status_ttl = status_ttl
        self._status_cache: tuple[float, dict[str, Any]] | None = None
        self._status_lock = threading.Lock()

    def owns(self, model_id: str) -> bool:
        return isinstance(model_id, str) and bool(VOICE_ID_SHAPES["fish"].fullmatch(model_id))

    def create_voice(
        self, *, title: str, audio_path: Path, audio: DecodedAudio, transcript: str | None
    ) -> CreatedVoice:
        container = audio.info.container
        texts = [transcript] if transcript else None
        if container in _FISH_ACCEPTS:
            with open(audio_path, "rb") as fh:
                model = self.client.create_model(
                    title=title, voices=[(f"reference.{container}", fh, _FISH_ACCEPTS[container])], texts=texts
                )
        else:
            wav = io.BytesIO(audio_codec.encode(audio.samples, audio.sample_rate, "wav"))
            model = self.client.create_model(title=title, voices=[("reference.wav", wav, "audio/wav")], texts=texts)
        model_id = model.get("_id") or model.get("id")
        if not isinstance(model_id, str) or not model_id:
            raise ProviderError("Fish.Audio created a model but returned no id.")
        return CreatedVoice(
            model_id=model_id,
            state=str(model.get("state") or "created"),
            details={"visibility": model.get("visibility"), "train_mode": model.get("train_mode")},
        )

    def delete_voice(self, model_id: str) -> None:
        try:
            self.client.delete_model(model_id)
        except ProviderVoiceNotFound:
            log.info("fish.audio model %s was already gone", model_id)

    def synthesize(self, *, text: str, reference_id: str | None, fmt: str) -> SynthesisStream:
        # Raw PCM is always at Echo's one rate; the other formats carry their rate in their headers.
        options = {"sample_rate": PCM_SAMPLE_RATE} if fmt == "pcm" else {}
        chunks = self.client.tts(text=text, reference_id=reference_id, fmt=fmt, **options)
        rate = PCM_SAMPLE_RATE if fmt == "pcm" else None
        return SynthesisStream(chunks=chunks, media_type=FORMATS[fmt].media_type, sample_rate=rate)

    def status(self) -> dict[str, Any]:
        """Whether the key works, checked against the credit endpoint at most once per TTL."""
        with self._status_lock:
            now = time.monotonic()
            if self._status_cache and now - self._status_cache[0] < self._status_ttl:
                return self._status_cache[1]
            state: dict[str, Any] = {"provider": self.name, "description": self.description}
            try:
                credit = self.client.api_credit()
                state.update(status="ok", credit=credit.get("credit"))
            except ProviderError as exc:
                state.update(status="unavailable", error=exc.code, detail=exc.message)
            self._status_cache = (now, state)
            return state
