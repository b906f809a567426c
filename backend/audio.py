"""Audio in and out through PyAV: recognise uploads by content, decode to mono PCM, encode output.

Everything here uses the codecs that ship inside PyAV's wheels; no external ffmpeg binary.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from backend.errors import UnprocessableAudio, UnsupportedMediaType
from backend.formats import FORMATS, PCM_SAMPLE_RATE

# Containers we accept, keyed by the name FFmpeg's prober gives them.
_ACCEPTED_CONTAINERS = {
    "wav": "wav",
    "mp3": "mp3",
    "mov,mp4,m4a,3gp,3g2,mj2": "m4a",
    "aac": "aac",
    "ogg": "ogg",
    "matroska,webm": "webm",
    "flac": "flac",
}

# What each output format is served as (from the one formats table).
OUTPUT_FORMATS = {name: f.media_type for name, f in FORMATS.items()}
# Formats Echo encodes only on the way out (the OpenAI-compatible speech API), never stored or asked of a provider.
STREAM_ONLY_FORMATS = {"aac": "audio/aac", "flac": "audio/flac"}
ENCODER_FORMATS = {**OUTPUT_FORMATS, **STREAM_ONLY_FORMATS}
# Container and codec of each compressed format.
_CODECS = {"mp3": ("mp3", "libmp3lame"), "opus": ("ogg", "libopus"), "aac": ("adts", "aac"), "flac": ("flac", "flac")}
_BIT_RATES = {"mp3": 128000, "opus": 32000, "aac": 64000}

# File extensions for stored uploads, by detected container.
UPLOAD_EXTENSIONS = {
    "wav": "wav",
    "mp3": "mp3",
    "m4a": "m4a",
    "aac": "aac",
    "ogg": "ogg",
    "webm": "webm",
    "flac": "flac",
}

_MIN_RATE, _MAX_RATE = 4000, 192000
_OPUS_RATE = 48000


@dataclass(frozen=True)
class AudioInfo:
    """What an audio file is, as measured by decoding it (headers can lie)."""

    container: str
    codec: str
    duration: float
    sample_rate: int
    channels: int


@dataclass(frozen=True)
class DecodedAudio:
    info: AudioInfo
    samples: np.ndarray  # float32 mono in [-1, 1]
    sample_rate: int


def inspect(path: str | Path, *, max_seconds: float, target_rate: int | None = None, keep_samples: bool = False):
    """Open ``path`` by content, decode at most ``max_seconds`` (plus a little) of its first audio stream.

    Returns an AudioInfo, or a DecodedAudio when ``keep_samples`` is set. Decoding stops just past
    ``max_seconds``, so a tiny file that claims hours of audio costs bounded work; the caller compares
    ``info.duration`` with its limit. Raises UnsupportedMediaType for anything that is not audio in an
    accepted container and UnprocessableAudio for audio that cannot be decoded.
    """
    try:
        container = av.open(str(path), mode="r", metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise UnsupportedMediaType() from exc
    with container:
        kind = _ACCEPTED_CONTAINERS.get(container.format.name)
        streams = container.streams.audio
        if kind is None or not streams:
            raise UnsupportedMediaType()
        stream = streams[0]
        codec = stream.codec_context.name
        rate = stream.codec_context.sample_rate or stream.rate or 0
        channels = stream.codec_context.channels or 0
        if not (_MIN_RATE <= rate <= _MAX_RATE) or not (1 <= channels <= 16):
            raise UnsupportedMediaType("The audio has an unusable sample rate or channel layout.")
        resampler = av.AudioResampler(format="flt", layout="mono", rate=target_rate or rate) if keep_samples else None
        chunks: list[np.ndarray] = []
        decoded = 0
        limit = int((max_seconds + 1.0) * rate)
        try:
            for frame in container.decode(stream):
                decoded += frame.samples
                if resampler is not None:
                    chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(frame))
                if decoded > limit:
                    break
            if resampler is not None:
                chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(None))
        except (av.FFmpegError, ValueError) as exc:
            if decoded == 0:
                raise UnsupportedMediaType() from exc
            raise UnprocessableAudio("The audio is damaged or truncated and cannot be decoded.") from exc
        if decoded == 0:
            raise UnsupportedMediaType("The file holds no decodable audio.")
    info = AudioInfo(container=kind, codec=codec, duration=decoded / rate, sample_rate=rate, channels=channels)
    if not keep_samples:
        return info
    samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    return DecodedAudio(info=info, samples=samples, sample_rate=target_rate or rate)


def decode(path: str | Path, *, max_seconds: float, target_rate: int | None = None) -> DecodedAudio:
    """Decode an audio file to float32 mono samples (resampled to ``target_rate`` when given)."""
    return inspect(path, max_seconds=max_seconds, target_rate=target_rate, keep_samples=True)


class _Sink(io.RawIOBase):
    """A write-only, non-seekable byte collector that a muxer writes into and we drain."""

    def __init__(self):
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


def wav_header(sample_rate: int, data_bytes: int | None, channels: int = 1, bits: int = 16) -> bytes:
    """A PCM WAV header; with ``data_bytes`` None the sizes say 'unknown' (streaming)."""
    block = channels * bits // 8
    data_size = 0xFFFFFFFF if data_bytes is None else data_bytes
    riff_size = 0xFFFFFFFF if data_bytes is None else 36 + data_bytes
    return (
        b"RIFF"
        + struct.pack("<I", riff_size)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, channels, sample_rate, sample_rate * block, block, bits)
        + b"data"
        + struct.pack("<I", data_size)
    )


def finalize_wav(path: str | Path) -> None:
    """Rewrite the size fields of a WAV file that was written as a stream."""
    path = Path(path)
    size = path.stat().st_size
    with path.open("r+b") as fh:
        fh.seek(4)
        fh.write(struct.pack("<I", size - 8))
        fh.seek(40)
        fh.write(struct.pack("<I", size - 44))


def _to_s16(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


class StreamEncoder:
    """Encodes float32 mono chunks into mp3, wav, opus (in Ogg) or raw 16-bit little-endian PCM.

    ``encode`` returns the bytes ready so far and ``close`` the rest, so output can be sent while
    later chunks are still being produced. A streamed WAV carries 'unknown' sizes; ``finalize_wav``
    fixes a stored copy.
    """

    def __init__(self, fmt: str, sample_rate: int):
        if fmt not in ENCODER_FORMATS:
            raise ValueError(f"unknown format {fmt!r}")
        self.fmt = fmt
        self.input_rate = sample_rate
        self._started = False
        self._closed = False
        self._container = None
        if fmt in _CODECS:
            self._sink = _Sink()
            container_format, codec = _CODECS[fmt]
            self.output_rate = _OPUS_RATE if fmt == "opus" else sample_rate
            if fmt == "mp3" and sample_rate not in (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000):
                self.output_rate = 44100
            self._container = av.open(self._sink, mode="w", format=container_format)
            self._stream = self._container.add_stream(codec, rate=self.output_rate, layout="mono")
            if fmt in _BIT_RATES:
                self._stream.bit_rate = _BIT_RATES[fmt]
            self._resampler = av.AudioResampler(
                format=self._stream.codec_context.format.name, layout="mono", rate=self.output_rate
            )
            self._fifo = av.AudioFifo()
        else:
            self.output_rate = sample_rate
            if fmt == "pcm" and sample_rate != PCM_SAMPLE_RATE:  # raw PCM is always at Echo's one rate
                self.output_rate = PCM_SAMPLE_RATE
                self._resampler = av.AudioResampler(format="s16", layout="mono", rate=PCM_SAMPLE_RATE)

    @property
    def media_type(self) -> str:
        return ENCODER_FORMATS[self.fmt]

    def encode(self, samples: np.ndarray) -> bytes:
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        if self._container is None:
            head = b""
            if self.fmt == "wav" and not self._started:
                head = wav_header(self.output_rate, None)
            self._started = True
            if self.output_rate != self.input_rate:
                return self._resampled(samples)
            return head + _to_s16(samples)
        if samples.size:
            frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt", layout="mono")
            frame.sample_rate = self.input_rate
            frame.pts = None
            for out in self._resampler.resample(frame):
                self._fifo.write(out)
            self._mux_full_frames()
        self._started = True
        return self._sink.drain()

    def _resampled(self, samples: np.ndarray | None) -> bytes:
        """Raw PCM at Echo's rate: ``samples`` resampled (None flushes what the resampler holds)."""
        frame = None
        if samples is not None:
            if not samples.size:
                return b""
            frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt", layout="mono")
            frame.sample_rate = self.input_rate
            frame.pts = None
        return b"".join(out.to_ndarray().astype("<i2").tobytes() for out in self._resampler.resample(frame))

    def _mux_full_frames(self, final: bool = False) -> None:
        size = self._stream.codec_context.frame_size or 1152
        while self._fifo.samples >= size or (final and self._fifo.samples):
            frame = self._fifo.read(min(size, self._fifo.samples))
            if frame.samples < size and self.fmt == "opus":
                # libopus wants whole frames: pad the last one with silence.
                padded = np.zeros((1, size), dtype=frame.to_ndarray().dtype)
                padded[0, : frame.samples] = frame.to_ndarray().reshape(-1)[: frame.samples]
                layout_format = frame.format.name
                frame = av.AudioFrame.from_ndarray(padded, format=layout_format, layout="mono")
                frame.sample_rate = self.output_rate
            frame.pts = None
            for packet in self._stream.encode(frame):
                self._container.mux(packet)

    def close(self) -> bytes:
        if self._closed:
            return b""
        self._closed = True
        if self._container is None:
            if self.fmt == "wav" and not self._started:
                return wav_header(self.output_rate, 0)
            if self.output_rate != self.input_rate:
                return self._resampled(None)
            return b""
        for out in self._resampler.resample(None):
            self._fifo.write(out)
        self._mux_full_frames(final=True)
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()
        return self._sink.drain()


_STRETCH_FRAME = 1024  # samples pushed into atempo at a time


class Stretch:
    """Changes the pace of speech without changing its pitch (FFmpeg's atempo), chunk by chunk.

    ``speed`` 2.0 says the same words in half the time. atempo keeps best within 0.5-2.0 per stage, so wider
    speeds are chained stages (0.25 = 0.5 x 0.5, 4.0 = 2.0 x 2.0).
    """

    def __init__(self, speed: float, sample_rate: int):
        if not 0.25 <= speed <= 4.0:
            raise ValueError(f"speed {speed} is outside 0.25-4.0")
        self.sample_rate = sample_rate
        self.speed = speed
        self._pts = 0  # samples fed
        self._made = 0  # samples handed out
        self._graph = av.filter.Graph()
        stages = []
        left = speed
        while left > 2.0 or left < 0.5:
            step = 2.0 if left > 2.0 else 0.5
            stages.append(step)
            left /= step
        stages.append(left)
        self._source = self._graph.add_abuffer(
            format="flt", sample_rate=sample_rate, layout="mono", time_base=Fraction(1, sample_rate)
        )
        node = self._source
        for step in stages:
            stage = self._graph.add("atempo", f"{step:.6f}")
            node.link_to(stage)
            node = stage
        sink = self._graph.add("abuffersink")
        node.link_to(sink)
        self._graph.configure()
        self._done = False

    def feed(self, samples: np.ndarray) -> np.ndarray:
        """Samples in (float32 mono); the stretched samples ready so far out."""
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        if not samples.size:
            return samples
        # In small frames: atempo answers each frame pushed with what it can make of it, and a long frame would
        # wait inside the filter until the next one came (a whole sentence later).
        pieces = []
        for start in range(0, samples.size, _STRETCH_FRAME):
            self._push(samples[start : start + _STRETCH_FRAME])
            pieces.append(self._pull())
        out = np.concatenate(pieces)
        self._made += out.size
        return out

    def flush(self) -> np.ndarray:
        """What the filter still holds, once the input has ended: exactly as long as the speed says in all.

        atempo keeps back up to a window of input per stage and drops it when the stream ends (all of a short
        input), so a second of silence goes in behind the speech to push it out, and is cut off again.
        """
        if self._done:
            return np.zeros(0, dtype=np.float32)
        self._done = True
        want = max(0, round(self._pts / self.speed) - self._made)
        if self._pts:
            self._push(np.zeros(self.sample_rate, dtype=np.float32))
        self._graph.push(None)
        out = self._pull()[:want]
        if out.size < want:
            out = np.concatenate([out, np.zeros(want - out.size, dtype=np.float32)])
        self._made += out.size
        return out

    def _push(self, samples: np.ndarray) -> None:
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = self.sample_rate
        frame.time_base = Fraction(1, self.sample_rate)
        frame.pts = self._pts
        self._pts += samples.size
        self._graph.push(frame)

    def _pull(self) -> np.ndarray:
        out = []
        while True:
            try:
                frame = self._graph.pull()
            except (BlockingIOError, av.EOFError):
                break
            out.append(frame.to_ndarray().astype(np.float32, copy=False).reshape(-1))
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def transcode_pcm(chunks: Iterable[bytes], fmt: str, speed: float = 1.0) -> Iterator[bytes]:
    """Echo's raw PCM (24 kHz s16le mono) into ``fmt`` at ``speed``, as it comes.

    Abandoned early (a client gone), it closes its source at once, whichever Python runs it.
    """
    encoder = StreamEncoder(fmt, PCM_SAMPLE_RATE)
    stretch = Stretch(speed, PCM_SAMPLE_RATE) if speed != 1.0 else None
    carry = b""
    try:
        for chunk in chunks:
            data = carry + chunk
            whole = len(data) - len(data) % 2
            carry = data[whole:]
            samples = np.frombuffer(data[:whole], dtype="<i2").astype(np.float32) / 32768.0
            if stretch is not None:
                samples = stretch.feed(samples)
            out = encoder.encode(samples) if samples.size else b""
            if out:
                yield out
        tail = encoder.encode(stretch.flush()) if stretch is not None else b""
        tail += encoder.close()
        if tail:
            yield tail
    finally:
        close_source(chunks)


def close_source(chunks: Iterable) -> None:
    """Close what a stream was reading from, when it can be closed (a generator: its own clean-up runs now)."""
    close = getattr(chunks, "close", None)
    if close is not None:
        close()


def encode(samples: np.ndarray, sample_rate: int, fmt: str) -> bytes:
    """Encode a whole clip at once (a WAV gets exact sizes)."""
    if fmt == "wav":
        body = _to_s16(np.asarray(samples, dtype=np.float32).reshape(-1))
        return wav_header(sample_rate, len(body)) + body
    encoder = StreamEncoder(fmt, sample_rate)
    return encoder.encode(samples) + encoder.close()


def encode_stream(chunks: Iterable[np.ndarray], encoder: StreamEncoder) -> Iterator[bytes]:
    """Encode chunks as they come, yielding bytes as soon as the encoder has them.

    A stream abandoned early (client gone, failure upstream) still closes its source and its encoder.
    """
    try:
        for chunk in chunks:
            data = encoder.encode(chunk)
            if data:
                yield data
        tail = encoder.close()
        if tail:
            yield tail
    finally:
        close_source(chunks)
        with suppress(av.FFmpegError, ValueError):  # abandoned: nothing to hand the last bytes to
            encoder.close()


def duration_of(stored, fmt: str) -> float | None:
    """Seconds of audio in a stored file (``StoredAudio``), from its packets; None when it cannot be told."""
    if fmt == "pcm":
        return round(stored.size / 2 / PCM_SAMPLE_RATE, 3)
    try:
        with stored.open() as fh, av.open(fh) as container:
            stream = container.streams.audio[0]
            ticks = sum(packet.duration or 0 for packet in container.demux(stream))
            if ticks and stream.time_base:
                return round(float(ticks * stream.time_base), 3)
            return round(container.duration / av.time_base, 3) if container.duration else None
    except (av.FFmpegError, OSError, IndexError, ValueError):
        return None


def looks_like(fmt: str, head: bytes) -> bool:
    """Whether the first bytes of a provider's output match the format that was asked for."""
    if fmt == "mp3":
        return head.startswith(b"ID3") or (len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0)
    if fmt == "wav":
        return head.startswith(b"RIFF") and head[8:12] == b"WAVE"
    if fmt == "opus":
        return head.startswith(b"OggS")
    return True  # raw PCM has no signature
