"""Test audio made on the fly with PyAV, in every container Echo accepts."""

from __future__ import annotations

import io

import av
import numpy as np

# container format, codec, file extension
CONTAINERS = {
    "wav": ("wav", "pcm_s16le", "wav"),
    "mp3": ("mp3", "libmp3lame", "mp3"),
    "m4a": ("ipod", "aac", "m4a"),
    "ogg": ("ogg", "libopus", "ogg"),
    "webm": ("webm", "libopus", "webm"),
    "flac": ("flac", "flac", "flac"),
}


def voice_like(seconds: float, rate: int = 16000, f0: float = 140.0, seed: int = 0) -> np.ndarray:
    """A buzzy, syllable-modulated harmonic tone: decodes like speech-ish audio, deterministic."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    pitch = f0 * (1 + 0.05 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    tone = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3.0 * t) ** 2
    signal = 0.2 * tone * envelope + 0.01 * rng.standard_normal(t.size)
    return signal.astype(np.float32)


def encode(samples: np.ndarray, rate: int, kind: str) -> bytes:
    """Encode mono float32 samples into one of CONTAINERS."""
    container_format, codec, _ = CONTAINERS[kind]
    codec_rate = 48000 if codec == "libopus" else rate
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container_format) as container:
        stream = container.add_stream(codec, rate=codec_rate, layout="mono")
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout="mono", rate=codec_rate)
        fifo = av.AudioFifo()
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = rate
        for out in resampler.resample(frame) + resampler.resample(None):
            fifo.write(out)
        size = stream.codec_context.frame_size or 1024
        while fifo.samples:
            chunk = fifo.read(min(size, fifo.samples))
            if chunk.samples < size and codec == "libopus":
                break
            chunk.pts = None
            for packet in stream.encode(chunk):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def audio_file(kind: str = "wav", seconds: float = 6.0, **kwargs) -> bytes:
    return encode(voice_like(seconds, **kwargs), kwargs.get("rate", 16000), kind)
