"""VoiceServiceWrapper: routes cloning and speech to the right provider and keeps the audio files."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from backend import audio
from backend.audio_cache import AudioCache, CacheBase, default_voice_namespace
from backend.config import Settings
from backend.errors import (
    BadRequest,
    Conflict,
    ProviderError,
    ProviderNotConfigured,
    UnprocessableAudio,
)
from backend.providers import SYNTH_FORMATS, CreatedVoice, VoiceProvider
from backend.storage import AudioStore, StoredAudio

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClonedVoice:
    voice: CreatedVoice
    provider: str
    info: audio.AudioInfo
    reference_key: str


class VoiceServiceWrapper:
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
        cache: CacheBase | None = None,
    ):
        self.settings = settings
        self.store = store  # an AudioStore, or a GridAudioStore with the same face
        self.cache = cache or AudioCache(settings.data_dir / "cache", settings.cache_max_mb * 1024 * 1024)
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
        name = recorded_provider or next(
            (n for n, p in self.providers.items() if p.owns(model_id)),
            "local" if model_id.startswith("local-") else "fish",
        )
        provider = self.providers.get(name)
        if provider is None:
            if name == "fish":
                raise Conflict(
                    "This voice was cloned with Fish.Audio, which is not configured on this server "
                    "(set FISH_AUDIO_API_KEY)."
                )
            raise Conflict(f"This voice belongs to the '{name}' provider, which is not available on this server.")
        return provider

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

    # -- speech -----------------------------------------------------------------------------------

    def start_synthesis(
        self,
        *,
        text: str,
        reference_id: str | None,
        fmt: str,
        provider_name: str | None = None,
        user_id: object = None,
        use_cache: bool = True,
    ) -> SynthesisJob:
        """Begin speaking ``text``: from the cache when the same request was answered before, else the provider.

        Provider errors and output in the wrong format surface here, before any audio is handed on.
        ``use_cache=False`` bypasses the cache both ways (for voices whose record could not be checked).
        """
        if fmt not in SYNTH_FORMATS:
            raise BadRequest(f"format must be one of {', '.join(SYNTH_FORMATS)}.")
        provider = self.provider_for(reference_id, provider_name)
        namespace = reference_id or default_voice_namespace(user_id)
        key = self.cache.key(
            provider=provider.name,
            tag=getattr(provider, "cache_tag", ""),
            voice=reference_id,
            text=text,
            fmt=fmt,
        )
        hit = self.cache.lookup(namespace, key, fmt) if use_cache else None
        if hit is not None:
            return SynthesisJob(
                chunks=_read_chunks(hit),
                output=None,
                name=hit.name,
                fmt=fmt,
                media_type=audio.OUTPUT_FORMATS[fmt],
                provider=provider.name,
                reference_id=reference_id,
            )
        output = self.store.new_output(fmt)  # first: with GridFS it needs the database, so fail before the provider
        try:
            stream = provider.synthesize(text=text, reference_id=reference_id, fmt=fmt)
        except BaseException:
            output.discard()
            raise
        return SynthesisJob(
            chunks=stream.chunks,
            output=output,
            name=output.name,
            fmt=fmt,
            media_type=stream.media_type,
            provider=provider.name,
            reference_id=reference_id,
            on_complete=(lambda stored: self.cache.add(stored, namespace, key, fmt)) if use_cache else None,
        )

    def finish_in_background(self, job: SynthesisJob, on_done: Callable[[], None]) -> threading.Thread:
        """Drive ``job`` to completion in a thread; meanwhile ``follow_audio(name)`` streams it as it grows."""

        def finish() -> None:
            try:
                for _ in job:
                    pass
            except Exception:  # the job cleaned up after itself; followers see the file vanish
                log.exception("background synthesis %s failed", job.name)
                return
            on_done()

        thread = threading.Thread(target=finish, name=f"synth-{job.name[:8]}", daemon=True)
        thread.start()
        return thread

    def follow_audio(self, name: str) -> Iterator[bytes] | None:
        """Audio still being produced (on this machine, or on any instance with GridFS), or None."""
        return self.store.follow_output(name, stall_timeout=self.settings.fish_audio_timeout + 10)

    def stored_audio(self, name: str) -> StoredAudio | None:
        """The audio behind a public name: generated speech, or a cache entry."""
        return self.store.output(name) or self.cache.entry(name)

    def forget_user_cache(self, user_id: object) -> None:
        self.cache.drop(default_voice_namespace(user_id))

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


def build_providers(settings: Settings, profiles: Any = None) -> dict[str, VoiceProvider]:
    """The providers this configuration can offer; ``profiles`` keeps local voice profiles (default: files)."""
    providers: dict[str, VoiceProvider] = {}
    if settings.fish_audio_api_key:
        from backend.fish_audio import FishAudioClient, FishAudioProvider

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
    # The local engine loads lazily, so offering it costs nothing; voices made with it keep working
    # when Fish.Audio becomes the active provider.
    local = _local_provider(settings, profiles)
    if local is not None:
        providers["local"] = local
    return providers


def _local_provider(settings: Settings, profiles: Any = None) -> VoiceProvider | None:
    try:
        from backend.local_engine import LocalProvider
    except ImportError as exc:  # the engine's packages are not installed
        log.warning("local voice engine unavailable: %s", exc)
        return None
    return LocalProvider(
        settings.data_dir,
        profiles=profiles,
        workers=settings.local_engine_workers,
        queue=settings.local_engine_queue,
        queue_timeout=settings.local_engine_queue_timeout,
    )


def _read_chunks(stored: StoredAudio, size: int = 1 << 16) -> Iterator[bytes]:
    with stored.open() as fh:
        while chunk := fh.read(size):
            yield chunk


class SynthesisJob:
    """Speech on its way: iterating yields the audio as it is produced and writes it to the output file.

    The file appears under ``name`` only once the last byte is through; a provider failure, audio in
    the wrong format or a client that goes away leaves nothing behind. A cache hit has no output file:
    its ``name`` is the cache entry's.
    """

    def __init__(
        self,
        *,
        chunks: Iterator[bytes],
        output: Any,  # an OutputFile or GridOutputFile; None for a cache hit
        name: str,
        fmt: str,
        media_type: str,
        provider: str,
        reference_id: str | None,
        on_complete: Callable[[StoredAudio], None] | None = None,
    ):
        self.fmt = fmt
        self.media_type = media_type
        self.provider = provider
        self.reference_id = reference_id
        self.name = name
        self.cached = output is None
        self.size = 0
        self._output = output
        self._chunks = iter(chunks)
        self._on_complete = on_complete
        self._pending: list[bytes] = []
        try:
            head = b""
            for chunk in self._chunks:
                if chunk:
                    self._pending.append(chunk)
                    head += chunk[: 16 - len(head)]
                    if len(head) >= 16:
                        break
            if not head:
                raise ProviderError("The voice provider returned no audio.")
            if not audio.looks_like(fmt, head):
                raise ProviderError(f"The voice provider returned audio that is not {fmt}.")
        except BaseException:
            self.close()
            raise

    def __iter__(self) -> Iterator[bytes]:
        try:
            while self._pending:
                yield self._pass(self._pending.pop(0))
            for chunk in self._chunks:
                if chunk:
                    yield self._pass(chunk)
            if self._output is not None:
                stored = self._output.commit(audio.finalize_wav if self.fmt == "wav" else None)
                if self._on_complete is not None:
                    self._on_complete(stored)
        finally:
            self.close()

    def _pass(self, chunk: bytes) -> bytes:
        if self._output is not None:
            self._output.write(chunk)
        self.size += len(chunk)
        return chunk

    def close(self) -> None:
        """Release the provider's stream and drop any unfinished file."""
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()
        if self._output is not None:
            self._output.discard()


class PendingDeletions:
    """Provider voices that must still be deleted (their record was never saved): a small JSON file.

    Rewritten whole through a temporary file and a rename, under a process-wide lock.
    """

    _lock = threading.Lock()

    def __init__(self, path: Path):
        self.path = path

    def _read(self) -> list[dict[str, str]]:
        try:
            items = json.loads(self.path.read_text())
        except FileNotFoundError:
            return []
        except ValueError:
            log.error("%s is unreadable; starting a new list", self.path)
            return []
        return [item for item in items if isinstance(item, dict) and item.get("model_id")]

    def _write(self, items: list[dict[str, str]]) -> None:
        if not items:
            self.path.unlink(missing_ok=True)
            return
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        temporary.write_text(json.dumps(items))
        os.replace(temporary, self.path)

    def items(self) -> list[dict[str, str]]:
        with self._lock:
            return self._read()

    def append(self, model_id: str, provider: str) -> None:
        with self._lock:
            items = self._read()
            items.append({"model_id": model_id, "provider": provider})
            self._write(items)

    def retry(self, delete: Callable[[str, str], bool]) -> int:
        with self._lock:
            remaining = [item for item in self._read() if not delete(item["model_id"], item.get("provider", ""))]
            self._write(remaining)
            return len(remaining)
