"""backend.audio: recognising uploads by content, measuring them, encoding output."""

from __future__ import annotations

import numpy as np
import pytest

from backend import audio
from backend.errors import UnprocessableAudio, UnsupportedMediaType
from tests.helpers import CONTAINERS, audio_file, encode, voice_like


@pytest.mark.parametrize("kind", sorted(CONTAINERS))
def test_inspect_every_accepted_container(tmp_path, kind):
    path = tmp_path / "upload.bin"  # the name says nothing: content decides
    path.write_bytes(audio_file(kind, seconds=4.0))
    info = audio.inspect(path, max_seconds=270)
    assert info.container == kind
    assert 3.8 < info.duration < 4.3
    assert info.channels == 1


@pytest.mark.parametrize(
    "data",
    [b"", b"hello world" * 50, np.random.default_rng(1).bytes(40000), b"RIFF\x00\x00\x00\x00WAVEjunk" * 10],
    ids=["empty", "text", "random", "fake-riff"],
)
def test_not_audio_is_415(tmp_path, data):
    path = tmp_path / "x.wav"
    path.write_bytes(data)
    with pytest.raises(UnsupportedMediaType):
        audio.inspect(path, max_seconds=270)


def test_truncated_wav_measures_what_is_there(tmp_path):
    data = audio_file("wav", seconds=6.0)
    path = tmp_path / "cut.wav"
    path.write_bytes(data[: len(data) // 2])
    assert 2.9 < audio.inspect(path, max_seconds=270).duration < 3.1


def test_decoding_stops_soon_after_the_limit(tmp_path):
    """A small file holding a lot of audio (FLAC of near-silence) is not decoded to the end."""
    silence = np.zeros(16000 * 600, dtype=np.float32)
    path = tmp_path / "bomb.flac"
    path.write_bytes(encode(silence, 16000, "flac"))
    assert path.stat().st_size < 2_000_000
    info = audio.inspect(path, max_seconds=10)
    assert 10 < info.duration < 12


def test_decode_resamples_to_mono(tmp_path):
    path = tmp_path / "a.mp3"
    path.write_bytes(audio_file("mp3", seconds=2.0))
    decoded = audio.decode(path, max_seconds=30, target_rate=8000)
    assert decoded.sample_rate == 8000 and decoded.samples.dtype == np.float32 and decoded.samples.ndim == 1
    assert abs(decoded.samples.size - 16000) < 1200


@pytest.mark.parametrize(("fmt", "rate"), [("mp3", 22050), ("wav", 22050), ("opus", 48000)])
def test_stream_encoding_round_trips(tmp_path, fmt, rate):
    samples = voice_like(3.0, rate=22050)
    chunks = [samples[i : i + 22050] for i in range(0, samples.size, 22050)]
    data = b"".join(audio.encode_stream(chunks, audio.StreamEncoder(fmt, 22050)))
    assert audio.looks_like(fmt, data[:16])
    path = tmp_path / f"out.{fmt}"
    path.write_bytes(data)
    if fmt == "wav":
        audio.finalize_wav(path)
    info = audio.inspect(path, max_seconds=30)
    assert info.sample_rate == rate and 2.9 < info.duration < 3.2


def test_pcm_is_raw_little_endian_16_bit():
    samples = np.array([0.0, 0.5, -0.5, 1.0], dtype=np.float32)
    data = audio.encode(samples, 24000, "pcm")
    assert np.frombuffer(data, "<i2").tolist() == [0, 16383, -16383, 32767]


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000])
def test_pcm_is_always_at_24000_hz_whatever_the_engine_speaks_at(rate):
    """Raw PCM carries no header, so Echo's is one shape: the same second of a tone is 24,000 samples."""
    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)).astype(np.float32)
    encoder = audio.StreamEncoder("pcm", rate)
    data = b"".join(encoder.encode(part) for part in np.array_split(tone, 7)) + encoder.close()
    samples = np.frombuffer(data, "<i2").astype(np.float32) / 32768
    assert encoder.output_rate == 24000 and abs(len(samples) - 24000) <= 48
    spectrum = np.abs(np.fft.rfft(samples[1000:-1000]))
    peak = np.argmax(spectrum) * 24000 / (len(samples) - 2000)
    assert abs(peak - 440) < 5  # the same pitch: resampled, not merely relabelled


def test_wav_header_sizes():
    data = audio.encode(np.zeros(100, dtype=np.float32), 16000, "wav")
    assert len(data) == 44 + 200 and int.from_bytes(data[40:44], "little") == 200


def test_damaged_audio_after_a_good_start_is_422(tmp_path, monkeypatch):
    path = tmp_path / "a.wav"
    path.write_bytes(audio_file("wav", seconds=2.0))

    real_open = audio.av.open

    class Broken:
        def __init__(self, container):
            self.container = container

        def __getattr__(self, name):
            return getattr(self.container, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.container.close()

        def decode(self, stream):
            iterator = self.container.decode(stream)
            yield next(iterator)
            raise audio.av.InvalidDataError(1, "Invalid data found when processing input")

    monkeypatch.setattr(audio.av, "open", lambda *a, **k: Broken(real_open(*a, **k)))
    with pytest.raises(UnprocessableAudio):
        audio.inspect(path, max_seconds=30)


@pytest.mark.parametrize("fmt", ["mp3", "opus", "aac", "flac", "wav", "pcm"])
@pytest.mark.parametrize("speed", [0.25, 0.5, 1.0, 1.5, 4.0])
def test_raw_pcm_is_transcoded_as_it_comes_at_any_speed(tmp_path, fmt, speed):
    """The OpenAI-compatible API's formats and speeds, made from Echo's raw PCM in pieces of odd sizes."""
    tone = (0.4 * np.sin(2 * np.pi * 220 * np.arange(48000) / 24000)).astype(np.float32)
    pcm = (tone * 32767).astype("<i2").tobytes()
    pieces = [pcm[i : i + 3001] for i in range(0, len(pcm), 3001)]  # odd sizes split samples in two
    data = b"".join(audio.transcode_pcm(iter(pieces), fmt, speed))
    if fmt == "pcm":
        seconds = len(data) / 2 / 24000
    else:
        path = tmp_path / f"out.{fmt}"
        path.write_bytes(data)
        seconds = audio.inspect(path, max_seconds=60).duration
    assert seconds == pytest.approx(2.0 / speed, rel=0.05, abs=0.1)  # encoders pad a frame or two


def test_stretch_refuses_speeds_outside_its_range():
    for speed in (0.2, 4.5):
        with pytest.raises(ValueError):
            audio.Stretch(speed, 24000)


@pytest.mark.parametrize("size", [100, 1000, 2400])
@pytest.mark.parametrize("speed", [0.25, 0.5, 2.0, 4.0])
def test_stretch_keeps_all_of_a_short_input(size, speed):
    tone = (0.4 * np.sin(2 * np.pi * 220 * np.arange(size) / 24000)).astype(np.float32)
    stretch = audio.Stretch(speed, 24000)
    made = stretch.feed(tone).size + stretch.flush().size
    assert made == pytest.approx(size / speed, rel=0.02, abs=2)


@pytest.mark.parametrize("speed", [0.25, 0.5, 1.5, 4.0])
def test_stretch_hands_on_a_long_piece_at_once_not_a_piece_later(speed):
    """A sentence arrives as one long piece; its stretched audio must come out then (all but atempo's window),
    not when the next sentence pushes it through (the first audio byte at speed 1.5 was 0.9 s, not 0.25 s)."""
    tone = (0.4 * np.sin(2 * np.pi * 220 * np.arange(24000) / 24000)).astype(np.float32)
    stretch = audio.Stretch(speed, 24000)
    assert stretch.feed(tone).size >= 0.85 * 24000 / speed
