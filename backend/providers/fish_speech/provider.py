"""A self-hosted fish-speech server as a voice provider: neural zero-shot clones from the reference recording,
speech streamed as the server makes it and encoded into the asked-for format here."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import secrets
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import av
import numpy as np

from backend import audio as audio_codec
from backend.audio import DecodedAudio, StreamEncoder
from backend.errors import ProviderError, ProviderRejected, ProviderTimeout, ProviderVoiceNotFound
from backend.formats import FORMATS, PCM_SAMPLE_RATE
from backend.providers import VOICE_ID_SHAPES, CreatedVoice, SynthesisStream
from backend.providers.fish_speech.client import FishSpeechClient, ReferenceAudio
from backend.storage import ProfileStore
from backend.storage.profiles import new_profile

log = logging.getLogger(__name__)

ENGINE = "fish-speech"
MODEL_PREFIX = "fishspeech-"
PROFILE_VERSION = 1
# fish-speech asks for 10 to 30 s of reference speech; a longer recording is cut to its first 30 s (and then
# its transcript, which tells more words than are left, is not sent).
REFERENCE_MAX_SECONDS = 30.0
# The reference is kept and sent as 16-bit mono WAV at its own rate, at most the codec's 44,100 Hz.
REFERENCE_MAX_RATE = 44100
DESCRIPTION = (
    "Self-hosted fish-speech server: a neural zero-shot clone. The reference recording (and its transcript, when "
    "known) is sent with every request; nothing leaves the machines you run."
)


class FishSpeechProvider:
    """VoiceProvider over a fish-speech API server.

    How a voice is kept: fish-speech can take the reference in two ways, inline with every request
    (``ServeTTSRequest.references: [{audio, text}]``) or registered once on the server (``POST
    /v1/references/add`` with an id, then ``reference_id``). Echo sends it inline, for these reasons:

    - The server reads a ``reference_id`` as a folder under its working directory; an id it does not have (a
      reinstalled server, another machine behind the same address, a different working directory) is not an
      error there: it creates the empty folder and speaks in a random voice. Inline, a voice speaks as itself
      or not at all.
    - Registration needs a transcript (the server refuses empty text); inline, a voice cloned without one still
      works (the model then listens to the recording alone).
    - Inline costs little: with ``use_memory_cache: on`` the server encodes each reference once and keeps the
      codes by the recording's hash, and the recording is at most 30 s of 16-bit mono WAV.

    So cloning keeps the reference here: the recording (cut to ``REFERENCE_MAX_SECONDS``, at most
    ``REFERENCE_MAX_RATE`` Hz) and its transcript go into a voice profile in the same profile store as the
    local engine's (files under DATA_DIR/voices, or the database with GridFS, so every instance can speak with
    every voice). Deleting a voice deletes that profile; the server holds nothing of it but a cache.

    Speech is asked for in fish-speech's streaming mode (WAV, the only format it streams), read as 16-bit PCM as
    it arrives and encoded into the asked-for format here (raw PCM at Echo's 24,000 Hz).
    """

    name = ENGINE
    description = DESCRIPTION

    def __init__(self, client: FishSpeechClient, profiles: ProfileStore, *, status_ttl: float = 30.0):
        self.client = client
        self.profiles = profiles
        # The same text in the same voice from another server (another model) is another recording.
        self.cache_tag = client.server
        self._status_ttl = status_ttl
        self._status_cache: tuple[float, dict[str, Any]] | None = None
        self._status_lock = threading.Lock()

    # -- ids and profiles

    def owns(self, model_id: str) -> bool:
        return isinstance(model_id, str) and bool(VOICE_ID_SHAPES[ENGINE].fullmatch(model_id))

    def _reference(self, model_id: str) -> ReferenceAudio:
        if not self.owns(model_id):
            raise ProviderVoiceNotFound("fish-speech voice not found.")
        try:
            text = self.profiles.load(model_id)
            if text is None:
                raise ProviderVoiceNotFound("fish-speech voice not found.")
            profile = json.loads(text)
            reference = profile["reference"]
            return ReferenceAudio(
                audio=base64.b64decode(reference["audio"], validate=True), text=profile.get("transcript") or ""
            )
        except (OSError, ValueError, KeyError, TypeError, binascii.Error) as exc:
            log.error("Unreadable fish-speech voice profile %s: %s", model_id, type(exc).__name__)
            raise ProviderVoiceNotFound("fish-speech voice not found (its profile is unreadable).") from exc

    # -- protocol

    def create_voice(
        self, *, title: str, audio_path: Path, audio: DecodedAudio, transcript: str | None
    ) -> CreatedVoice:
        """Keep the reference for this server; the server is asked first whether it is up and takes Echo's key,
        so that a voice is never made for an engine that cannot speak it."""
        self.client.health(patient=True)
        samples, rate = audio.samples, audio.sample_rate
        if rate > REFERENCE_MAX_RATE:
            rate = REFERENCE_MAX_RATE
            samples = audio_codec.decode(audio_path, max_seconds=REFERENCE_MAX_SECONDS, target_rate=rate).samples
        limit = int(REFERENCE_MAX_SECONDS * rate)
        cut = samples.size > limit
        samples = samples[:limit]
        words = (transcript or "").strip()
        sent_words = "" if cut else words
        wav = audio_codec.encode(samples, rate, "wav")
        model_id = MODEL_PREFIX + secrets.token_hex(12)
        seconds = round(samples.size / rate, 2)
        profile = new_profile(
            version=PROFILE_VERSION,
            engine=ENGINE,
            model_id=model_id,
            title=title,
            transcript=sent_words or None,
            reference={
                "format": "wav",
                "sample_rate": rate,
                "seconds": seconds,
                "cut": cut,
                "audio": base64.b64encode(wav).decode("ascii"),
            },
        )
        self.profiles.save(model_id, json.dumps(profile))
        if sent_words:
            said = "sent with the recording"
        elif words:
            said = f"left out: the recording was cut to its first {REFERENCE_MAX_SECONDS:g} s"
        else:
            said = "none given: the server listens to the recording alone"
        details = {
            "engine": ENGINE,
            "method": "zero-shot cloning: the reference recording is sent with every request",
            "reference_seconds": seconds,
            "reference_cut": cut,
            "transcript": said,
        }
        return CreatedVoice(model_id=model_id, state="trained", details=details)

    def delete_voice(self, model_id: str) -> None:
        if self.owns(model_id):
            self.profiles.delete(model_id)

    def synthesize(self, *, text: str, reference_id: str | None, fmt: str) -> SynthesisStream:
        if fmt not in FORMATS:
            raise ProviderRejected(f"Unknown output format {fmt!r}; use one of {', '.join(FORMATS)}.")
        # The voice is looked up now, so that an unknown one fails before anything is streamed. Without one,
        # fish-speech speaks in a voice of its own choosing.
        references = [self._reference(reference_id)] if reference_id is not None else []
        chunks = self.client.tts(text=text, references=references)
        return SynthesisStream(
            chunks=_transcoded(chunks, fmt, self.client.stream_sample_rate),
            media_type=FORMATS[fmt].media_type,
            sample_rate=PCM_SAMPLE_RATE if fmt == "pcm" else None,
        )

    def status(self) -> dict[str, Any]:
        """Whether the server answers its health check and takes Echo's key, asked at most once per TTL."""
        with self._status_lock:
            now = time.monotonic()
            if self._status_cache and now - self._status_cache[0] < self._status_ttl:
                return self._status_cache[1]
            state: dict[str, Any] = {
                "provider": self.name,
                "description": self.description,
                "engine": ENGINE,
                "voice_cloning": "zero-shot, the reference recording sent with every request",
            }
            try:
                self.client.health()
                state["status"] = "ok"
            except ProviderTimeout as exc:
                # fish-speech answers nothing while it generates a stretch of speech: up, but busy.
                state.update(
                    status="busy",
                    error=exc.code,
                    detail="The fish-speech server did not answer its health check in time; it answers nothing "
                    "else while it generates speech.",
                )
            except ProviderError as exc:
                state.update(status="unavailable", error=exc.code, detail=exc.message)
            self._status_cache = (now, state)
            return state


# -- fish-speech's stream, read as PCM and encoded --------------------------------------------------------


class PcmReader:
    """fish-speech's streamed audio as float samples, chunk by chunk.

    The stream is 16-bit little-endian PCM, either bare (what the server sends: its WAV header is lost on the
    way) at ``default_rate``, or after a WAV header, which then says the rate and channels. Samples split across
    chunks are carried over; channels are mixed down to mono.
    """

    _MAX_HEADER = 1 << 16

    def __init__(self, default_rate: int):
        self.default_rate = default_rate
        self.rate: int | None = None  # known once the start of the stream has been seen
        self.channels = 1
        self.frames = 0
        self._buffer = bytearray()

    def feed(self, data: bytes) -> np.ndarray:
        self._buffer += data
        if self.rate is None and not self._read_header(final=False):
            return np.zeros(0, np.float32)
        return self._samples()

    def finish(self) -> np.ndarray:
        """The last samples (an odd trailing byte is dropped); raises if the stream held no audio at all."""
        if self.rate is None:
            self._read_header(final=True)
        samples = self._samples()
        self._buffer.clear()
        if self.frames == 0:
            raise ProviderError("The fish-speech server returned no audio.")
        return samples

    def _samples(self) -> np.ndarray:
        frame = 2 * self.channels
        usable = len(self._buffer) - len(self._buffer) % frame
        if not usable:
            return np.zeros(0, np.float32)
        pcm = np.frombuffer(bytes(self._buffer[:usable]), dtype="<i2").astype(np.float32) / 32768.0
        del self._buffer[:usable]
        if self.channels > 1:
            pcm = pcm.reshape(-1, self.channels).mean(axis=1)
        self.frames += pcm.size
        return pcm

    def _read_header(self, *, final: bool) -> bool:
        """Whether the start of the stream is known (and any WAV header consumed)."""
        head = bytes(self._buffer[:12])
        if len(head) < 4 and not final:
            return False
        if not head.startswith(b"RIFF"):
            self.rate = self.default_rate  # bare PCM
            return True
        if len(head) < 12:
            if final:
                raise ProviderError("The fish-speech server's audio ended inside its WAV header.")
            return False
        if head[8:12] != b"WAVE":
            raise ProviderError("The fish-speech server answered with RIFF data that is not WAV audio.")
        offset, fmt = 12, None
        while True:
            if offset + 8 > len(self._buffer):
                break
            chunk_id = bytes(self._buffer[offset : offset + 4])
            size = struct.unpack("<I", self._buffer[offset + 4 : offset + 8])[0]
            if chunk_id == b"data":
                if fmt is None:
                    raise ProviderError("The fish-speech server's WAV audio has no format chunk.")
                self.channels, self.rate = fmt
                del self._buffer[: offset + 8]
                return True
            if offset + 8 + size > len(self._buffer):
                break
            if chunk_id == b"fmt ":
                fmt = self._format(bytes(self._buffer[offset + 8 : offset + 8 + size]))
            offset += 8 + size + (size & 1)
        if len(self._buffer) > self._MAX_HEADER or final:
            raise ProviderError("The fish-speech server's WAV audio has no data chunk.")
        return False

    @staticmethod
    def _format(chunk: bytes) -> tuple[int, int]:
        if len(chunk) < 16:
            raise ProviderError("The fish-speech server's WAV format chunk is truncated.")
        tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", chunk[:16])
        if tag not in (1, 0xFFFE) or bits != 16 or not 1 <= channels <= 16 or not 4000 <= rate <= 192000:
            raise ProviderError(
                f"The fish-speech server sent WAV audio Echo cannot read (format {tag}, {bits}-bit, {channels} "
                f"channels, {rate} Hz); it expects 16-bit PCM."
            )
        return channels, rate


def _transcoded(chunks: Iterator[bytes], fmt: str, default_rate: int) -> Iterator[bytes]:
    """fish-speech's PCM stream encoded into ``fmt`` as it comes (raw PCM resampled to Echo's 24,000 Hz)."""
    reader = PcmReader(default_rate)
    encoder: StreamEncoder | None = None
    try:
        for chunk in chunks:
            samples = reader.feed(chunk)
            if reader.rate is None:
                continue
            if encoder is None:
                encoder = StreamEncoder(fmt, reader.rate)
            if samples.size and (data := encoder.encode(samples)):
                yield data
        samples = reader.finish()
        if encoder is None:
            encoder = StreamEncoder(fmt, reader.rate or default_rate)
        tail = (encoder.encode(samples) if samples.size else b"") + encoder.close()
        if tail:
            yield tail
    finally:
        audio_codec.close_source(chunks)
        if encoder is not None:
            with suppress(av.FFmpegError, ValueError):  # abandoned: nothing to hand the last bytes to
                encoder.close()
