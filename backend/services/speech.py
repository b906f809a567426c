"""Speaking: from the cache or a provider, into a stored file, followed while it grows, owned by its caller."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

from backend import audio
from backend.database import DatabaseManager
from backend.errors import DatabaseUnavailable, ProviderError, ServiceUnavailable
from backend.formats import FORMATS, PCM_SAMPLE_RATE
from backend.services.voices import VoiceService
from backend.storage import AudioCache, AudioStore, Output, StoredAudio
from backend.storage.cache import default_voice_namespace

log = logging.getLogger(__name__)


class Speech:
    """Speech use cases over the voice service, the store, the cache and the audio records.

    Every finished file is recorded as its caller's (and its voice's) exactly once, whichever way it was
    asked for (whole, streamed or progressive), so retention, voice deletion and account deletion find it.
    """

    def __init__(self, voices: VoiceService, store: AudioStore, cache: AudioCache, db: DatabaseManager, *,
                 stall_timeout: float):  # fmt: skip
        self.voices = voices
        self.store = store
        self.cache = cache
        self.db = db
        self.stall_timeout = stall_timeout

    def start(
        self,
        *,
        text: str,
        reference_id: str | None,
        fmt: str,
        provider_name: str | None = None,
        user_id: object = None,
        use_cache: bool = True,
        history: dict | None = None,
        voice_recorded: bool = False,
    ) -> SynthesisJob:
        """Begin speaking ``text``: from the cache when the same request was answered before, else the provider.

        Provider errors and output in the wrong format surface here, before any audio is handed on.
        ``use_cache=False`` bypasses the cache both ways (for voices whose record could not be checked).
        ``history`` (e.g. ``{"echo_id": ...}``) asks for the finished request to join its caller's history of
        what was spoken. ``voice_recorded`` says the voice's record existed when speaking began: if it is gone
        by the end (the voice was deleted meanwhile), nothing of the speech is kept.
        """
        remember = None if history is None or user_id is None else {"text": text, **history}
        provider = self.voices.provider_for(reference_id, provider_name)
        namespace = reference_id or default_voice_namespace(user_id)
        key = self.cache.key(
            provider=provider.name,
            tag=getattr(provider, "cache_tag", ""),
            voice=reference_id,
            text=text,
            fmt=fmt,
            **({"pcm_rate": PCM_SAMPLE_RATE} if fmt == "pcm" else {}),
        )
        hit = self.cache.lookup(namespace, key, fmt) if use_cache else None
        if hit is not None:
            job = SynthesisJob(
                chunks=_read_chunks(hit),
                output=None,
                name=hit.name,
                fmt=fmt,
                media_type=FORMATS[fmt].media_type,
                provider=provider.name,
                reference_id=reference_id,
                cached=hit,
            )
            job.on_complete = lambda stored: self._finished(job, stored, user_id, reference_id, remember)
            return job
        output = self.store.new_output(fmt)  # first: with GridFS it needs the database, so fail before the provider
        try:
            stream = provider.synthesize(text=text, reference_id=reference_id, fmt=fmt)
        except BaseException:
            output.discard()
            raise
        job = SynthesisJob(
            chunks=stream.chunks,
            output=output,
            name=output.name,
            fmt=fmt,
            media_type=stream.media_type,
            provider=provider.name,
            reference_id=reference_id,
        )

        def completed(stored: StoredAudio) -> None:
            """A new file is complete: cache it, record whose it is (the one place that does), remember it."""
            if voice_recorded and reference_id is not None and self._voice_gone(reference_id):
                # Its voice was deleted while it spoke: keep nothing of it (the deletion could not see this file).
                self.store.delete_output(stored.name)
                return
            if use_cache:
                self.cache.add(stored, namespace, key, fmt)
            self._record(stored, user_id, reference_id)
            self._finished(job, stored, user_id, reference_id, remember)

        job.on_complete = completed
        return job

    def start_stream(
        self,
        chunks: Iterator[bytes],
        *,
        output: Output,
        fmt: str,
        provider: str,
        reference_id: str | None,
        user_id: object = None,
    ) -> SynthesisJob:
        """Audio made elsewhere (an echo's reply, sentence by sentence) into ``output``, recorded as its caller's
        once complete. Not cached: a reply is said once. Waits for the first bytes, like ``start``."""
        job = SynthesisJob(
            chunks=chunks,
            output=output,
            name=output.name,
            fmt=fmt,
            media_type=FORMATS[fmt].media_type,
            provider=provider,
            reference_id=reference_id,
        )
        job.on_complete = lambda stored: self._record(stored, user_id, reference_id)
        return job

    def _finished(self, job: SynthesisJob, stored: StoredAudio, user_id: Any, reference_id: str | None,
                  remember: dict | None) -> None:  # fmt: skip
        """The whole audio has passed: measure it, and add it to its caller's history when asked."""
        job.duration = audio.duration_of(stored, job.fmt)
        if remember is None or not self._history_wanted(user_id, reference_id, remember.get("echo_id")):
            return
        entry = {
            **remember,
            "user_id": user_id,
            "model_id": reference_id,
            "format": job.fmt,
            "audio": stored.name,
            "size_bytes": stored.size,
            "duration_seconds": job.duration,
        }
        try:
            self.db.add_spoken(entry)
        except DatabaseUnavailable:
            log.info("speech %s not added to the history (database unavailable)", stored.name)

    def _voice_gone(self, reference_id: str) -> bool:
        """Whether a voice whose record existed when speaking began has been deleted since (False when the
        database cannot tell)."""
        try:
            return self.db.get_voice_model(reference_id) is None
        except DatabaseUnavailable:
            return False

    def _history_wanted(self, user_id: Any, reference_id: str | None, echo_id: Any) -> bool:
        """A history entry only for a user who exists, and whose voice (checked by the caller) and echo still do:
        one that finished after its account or echo was deleted would be an entry nobody can see or clear."""
        try:
            if self.db.get_user(user_id) is None:
                return False
            return echo_id is None or self.db.get_echo(echo_id) is not None
        except DatabaseUnavailable:
            return False  # the entry could not be written either

    def _record(self, stored: StoredAudio, user_id: Any, reference_id: str | None) -> None:
        try:
            self.db.record_audio(stored.name, user_id=user_id, model_id=reference_id)
        except DatabaseUnavailable:
            log.info("audio %s not recorded (database unavailable); retention removes it", stored.name)

    def finish_in_background(self, job: SynthesisJob) -> threading.Thread:
        """Drive ``job`` to completion in a thread; meanwhile ``follow_audio(name)`` streams it as it grows."""

        def finish() -> None:
            try:
                for _ in job:
                    pass
            except Exception:  # the job cleaned up after itself; followers see the file vanish
                log.exception("background synthesis %s failed", job.name)

        thread = threading.Thread(target=finish, name=f"synth-{job.name[:8]}", daemon=True)
        try:
            thread.start()
        except RuntimeError:  # no thread to be had: drop the unfinished file now, and say the server is busy
            job.close()
            raise ServiceUnavailable("The server is too busy to speak now; try again shortly.") from None
        return thread

    def follow_audio(self, name: str) -> Iterator[bytes] | None:
        """Audio still being produced (on this machine, or on any instance with GridFS), or None."""
        return self.store.follow_output(name, stall_timeout=self.stall_timeout)

    def stored_audio(self, name: str) -> StoredAudio | None:
        """The audio behind a public name: generated speech, or a cache entry."""
        return self.store.output(name) or self.cache.entry(name)

    def forget_user_cache(self, user_id: object) -> None:
        self.cache.drop(default_voice_namespace(user_id))


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
        output: Output | None,  # None for a cache hit
        name: str,
        fmt: str,
        media_type: str,
        provider: str,
        reference_id: str | None,
        cached: StoredAudio | None = None,  # the cache entry a hit reads
        on_complete: Callable[[StoredAudio], None] | None = None,
    ):
        self.fmt = fmt
        self.media_type = media_type
        self.provider = provider
        self.reference_id = reference_id
        self.name = name
        self.cached = output is None
        self.size = 0
        self.duration: float | None = None  # seconds, once the whole audio has passed
        # Called with the stored audio once the whole of it has passed (committed, or the cache entry read).
        self.on_complete = on_complete
        self._output = output
        self._source = cached
        self._chunks = iter(chunks)
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
            else:
                stored = self._source
            if self.on_complete is not None and stored is not None:
                self.on_complete(stored)
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
