"""The interface every voice provider (Fish.Audio, a self-hosted fish-speech server, the local engine) offers the
voice service, and which ones this configuration offers."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from backend.audio import DecodedAudio

if TYPE_CHECKING:
    from backend.config import Settings
    from backend.storage import ProfileStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CreatedVoice:
    """A voice model the provider has made from a reference recording."""

    model_id: str
    state: str = "trained"
    details: dict[str, Any] = field(default_factory=dict)  # stored with the voice model record


@dataclass(frozen=True)
class SynthesisStream:
    """Encoded audio in the asked-for format, produced chunk by chunk."""

    chunks: Iterator[bytes]
    media_type: str
    sample_rate: int | None = None


class VoiceProvider(Protocol):
    name: str  # "fish", "fish-speech" or "local"
    description: str  # what a person is told about it (health, README)

    def owns(self, model_id: str) -> bool:
        """Whether a model id was made by this provider."""

    def create_voice(
        self, *, title: str, audio_path: Path, audio: DecodedAudio, transcript: str | None
    ) -> CreatedVoice: ...

    def delete_voice(self, model_id: str) -> None:
        """Delete a model; an id the provider no longer knows is not an error."""

    def synthesize(self, *, text: str, reference_id: str | None, fmt: str) -> SynthesisStream: ...

    def status(self) -> dict[str, Any]:
        """{'status': 'ok'|'unavailable'|..., 'provider': name, 'description': ..., ...}"""


# The shape of each provider's voice ids, configured here or not: a voice of a provider this server does not
# offer is refused with a plain message, never sent to another one.
VOICE_ID_SHAPES = {
    "fish": re.compile(r"[0-9a-f]{24,40}"),
    "fish-speech": re.compile(r"fishspeech-[0-9a-f]{24}"),  # MODEL_PREFIX of backend.providers.fish_speech.provider
    "local": re.compile(r"local-[0-9a-f]{24}"),  # MODEL_PREFIX of backend.providers.local.provider
}


def provider_named_by(model_id: str) -> str | None:
    """The provider whose ids look like ``model_id`` (None for an id no provider makes)."""
    return next((name for name, shape in VOICE_ID_SHAPES.items() if shape.fullmatch(model_id)), None)


def build_providers(settings: Settings, profiles: ProfileStore | None = None) -> dict[str, VoiceProvider]:
    """The providers this configuration can offer; ``profiles`` keeps the local engine's voice profiles and the
    fish-speech voices' references (default: files under DATA_DIR/voices).

    Every engine that is configured is offered, whichever VOICE_PROVIDER names (that one only makes new voices):
    so the voices made with each keep speaking when another becomes the active one.
    """
    providers: dict[str, VoiceProvider] = {}
    if settings.fish_audio_api_key:
        from backend.providers.fish import FishAudioClient, FishAudioProvider

        client = FishAudioClient(
            api_key=settings.fish_audio_api_key,
            base_url=settings.fish_audio_api_url,
            tts_model=settings.fish_audio_model,
            timeout=settings.fish_audio_timeout,
            connect_timeout=settings.fish_audio_connect_timeout,
            max_retries=settings.fish_audio_max_retries,
            max_concurrency=settings.fish_audio_max_concurrency,
            queue_timeout=settings.fish_audio_queue_timeout,
        )
        providers["fish"] = FishAudioProvider(client)
    if settings.fish_speech_url:
        from backend.providers.fish_speech import FishSpeechClient, FishSpeechProvider

        speech_client = FishSpeechClient(
            base_url=settings.fish_speech_url,
            api_key=settings.fish_speech_api_key or None,
            timeout=settings.fish_speech_timeout,
            stream_sample_rate=settings.fish_speech_sample_rate,
        )
        providers["fish-speech"] = FishSpeechProvider(speech_client, _profiles(settings, profiles))
    # The local engine loads lazily, so offering it costs nothing; voices made with it keep working
    # when Fish.Audio becomes the active provider.
    local = _local_provider(settings, profiles)
    if local is not None:
        providers["local"] = local
    return providers


def _profiles(settings: Settings, profiles: ProfileStore | None) -> ProfileStore:
    if profiles is not None:
        return profiles
    from backend.storage.profiles import FileProfiles

    return FileProfiles(settings.data_dir / "voices")


def _local_provider(settings: Settings, profiles: ProfileStore | None = None) -> VoiceProvider | None:
    try:
        from backend.providers.local import LocalProvider
    except ImportError as exc:  # the engine's packages are not installed
        log.warning("local voice engine unavailable: %s", exc)
        return None
    return LocalProvider(
        settings.data_dir,
        profiles=profiles,
        workers=settings.local_engine_workers,
        queue=settings.local_engine_queue,
        queue_timeout=settings.local_engine_queue_timeout,
        threads=settings.local_engine_threads,
    )
