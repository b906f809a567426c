"""The voice service: which provider owns a voice, cloning, consent recordings and deleting a voice everywhere."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, BinaryIO

from backend import audio
from backend.config import Settings
from backend.errors import (
    Conflict,
    NotFound,
    ProviderError,
    ProviderNotConfigured,
    UnprocessableAudio,
)
from backend.providers import CreatedVoice, VoiceProvider, provider_named_by
from backend.storage import AudioCache, AudioStore
from backend.storage.pending import PendingDeletions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClonedVoice:
    voice: CreatedVoice
    provider: str
    info: audio.AudioInfo
    reference_key: str


class VoiceService:
    """One face over the voice providers (Fish.Audio, the local engine).

    New voices go to the active provider; speech for an existing voice goes to the provider that
    made it, recognised by its id, so voices made earlier keep working when the active one changes.
    """

    def __init__(
        self,
        settings: Settings,
        store: AudioStore,
        providers: dict[str, VoiceProvider],
        active: str,
        cache: AudioCache,
    ):
        self.settings = settings
        self.store = store
        self.cache = cache
        self.providers = providers
        self.active_name = active

    @property
    def active(self) -> VoiceProvider:
        provider = self.providers.get(self.active_name)
        if provider is None:
            raise ProviderNotConfigured()
        return provider

    def provider_for(self, model_id: str | None, recorded_provider: str | None = None) -> VoiceProvider:
        """The provider that owns ``model_id`` (or the active one for no voice)."""
        if not model_id:
            return self.active
        if recorded_provider in self.providers:
            return self.providers[recorded_provider]
        for provider in self.providers.values():
            if provider.owns(model_id):
                return provider
        name = recorded_provider or provider_named_by(model_id)
        if name is None:
            raise NotFound("No voice model with this id.")
        if name == "fish":
            raise Conflict(
                "This voice was cloned with Fish.Audio, which is not configured on this server "
                "(set FISH_AUDIO_API_KEY)."
            )
        if name == "fish-speech":
            raise Conflict(
                "This voice was cloned with a self-hosted fish-speech server, which is not configured on this "
                "server (set FISH_SPEECH_URL)."
            )
        raise Conflict(f"This voice belongs to the '{name}' provider, which is not available on this server.")

    # -- cloning ----------------------------------------------------------------------------------

    def clone(self, upload: BinaryIO, *, title: str, transcript: str | None) -> ClonedVoice:
        """Check an upload by its content, clone it at the active provider and keep the recording.

        The temporary copy of the upload is removed whatever happens; if keeping the recording fails
        after the provider made the voice, the voice is deleted there again.
        """
        provider = self.active
        settings = self.settings
        with self.store.upload(upload) as path:
            decoded = audio.decode(path, max_seconds=settings.max_audio_seconds)
            duration = decoded.info.duration
            if duration < settings.min_audio_seconds:
                raise UnprocessableAudio(
                    f"The recording is {duration:.1f} s long; at least {settings.min_audio_seconds:g} s is needed "
                    "(10 to 30 s works best).",
                    reason="too_short",
                )
            if duration > settings.max_audio_seconds:
                raise UnprocessableAudio(
                    f"The recording is longer than {settings.max_audio_seconds:g} s; "
                    "trim it to 10 to 30 s of clear speech.",
                    reason="too_long",
                )
            created = provider.create_voice(title=title, audio_path=path, audio=decoded, transcript=transcript)
            try:
                key = self.store.keep_reference(path, audio.UPLOAD_EXTENSIONS[decoded.info.container])
            except Exception:
                self._undo_create(provider, created.model_id)
                raise
        return ClonedVoice(voice=created, provider=provider.name, info=decoded.info, reference_key=key)

    def _undo_create(self, provider: VoiceProvider, model_id: str) -> None:
        try:
            provider.delete_voice(model_id)
        except ProviderError as exc:
            log.error("could not delete voice %s at %s after a failed save (%s); kept for retry", model_id,
                      provider.name, exc.code)  # fmt: skip
            self._pending_deletions().append(model_id, provider.name)

    def _pending_deletions(self) -> PendingDeletions:
        return PendingDeletions(self.settings.data_dir / "pending_deletions.json")

    def retry_pending_deletions(self) -> int:
        """Delete again the provider voices whose first deletion failed; returns how many are still pending."""
        pending = self._pending_deletions()

        def delete(model_id: str, provider_name: str) -> bool:
            provider = self.providers.get(provider_name)
            if provider is None:
                return False
            try:
                provider.delete_voice(model_id)
            except ProviderError:
                return False
            return True

        return pending.retry(delete)

    def forget(self, cloned: ClonedVoice) -> None:
        """Undo a clone whose record could not be saved: provider model and kept recording."""
        self._undo_create(self.providers[cloned.provider], cloned.voice.model_id)
        self.store.delete_reference(cloned.reference_key)

    # -- deleting ---------------------------------------------------------------------------------

    def delete(self, model_id: str, *, provider_name: str | None, recordings: list[str], outputs: list[str]) -> None:
        """Delete a voice at its provider (already gone is fine), then its recordings and generated audio."""
        self.provider_for(model_id, provider_name).delete_voice(model_id)
        self.cache.drop(model_id)
        for key in recordings:
            self.store.delete_reference(key)
        for name in outputs:
            self.store.delete_output(name)

    def keep_consent_recording(self, upload: BinaryIO) -> str:
        """Check and keep the optional recording of the speaker giving consent; returns its storage key."""
        with self.store.upload(upload) as path:
            info = audio.inspect(path, max_seconds=self.settings.max_audio_seconds)
            if info.duration < 1.0 or info.duration > self.settings.max_audio_seconds:
                raise UnprocessableAudio(
                    f"The consent recording must hold between 1 s and {self.settings.max_audio_seconds:g} s of audio.",
                    reason="consent_recording_length",
                )
            return self.store.keep_reference(path, audio.UPLOAD_EXTENSIONS[info.container])

    # -- state ------------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        if self.active_name not in self.providers:
            return {
                "status": "not_configured",
                "provider": None,
                "detail": ProviderNotConfigured.default_message,
            }
        state = dict(self.active.status())
        state["available_providers"] = sorted(self.providers)
        return state


# The seed's name for the voice service (SYSTEM_ARCHITECTURE.md), for those who look for it.
VoiceServiceWrapper = VoiceService
