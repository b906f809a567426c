"""FishSpeechProvider over the fake server: what cloning keeps and sends (the recording and its transcript,
inline with every request), speech streamed in every format (raw PCM at Echo's 24,000 Hz), the voice's
deletion, its status, the ids it owns, and the PCM reader under the stream."""

from __future__ import annotations

import inspect
import io
import json
import threading
import wave

import numpy as np
import pytest

from backend import audio
from backend.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
    ProviderVoiceNotFound,
)
from backend.formats import PCM_SAMPLE_RATE
from backend.providers import VOICE_ID_SHAPES, VoiceProvider
from backend.providers.fish_speech import FishSpeechProvider
from backend.providers.fish_speech.provider import REFERENCE_MAX_SECONDS, PcmReader
from tests.fake_fish import Reply
from tests.fake_fish_speech import SECONDS_PER_CHARACTER, error_body
from tests.helpers import closed_port

TEXT = "Hello, my dear. I have missed you so much."  # 42 characters: 1.68 s from the fake


def clone(provider, recordings, name="short", transcript="The words of the recording."):
    path, decoded = recordings[name]
    return provider.create_voice(title="Gran", audio_path=path, audio=decoded, transcript=transcript)


def wav_of(data: bytes) -> tuple[int, int, float]:
    """(rate, channels, seconds) of a whole WAV file."""
    with wave.open(io.BytesIO(data)) as wav:
        return wav.getframerate(), wav.getnchannels(), wav.getnframes() / wav.getframerate()


# -- cloning --------------------------------------------------------------------------------------


def test_clone_keeps_the_recording_and_transcript_and_asks_the_server_first(provider, profiles, server, recordings):
    created = clone(provider, recordings)
    assert VOICE_ID_SHAPES["fish-speech"].fullmatch(created.model_id) and provider.owns(created.model_id)
    assert created.state == "trained"
    assert created.details == {
        "engine": "fish-speech",
        "method": "zero-shot cloning: the reference recording is sent with every request",
        "reference_seconds": 4.0,
        "reference_cut": False,
        "transcript": "sent with the recording",
    }
    assert [(r.method, r.path) for r in server.requests] == [("GET", "/v1/health")]  # registers nothing there
    profile = json.loads(profiles.load(created.model_id))
    assert (profile["engine"], profile["model_id"], profile["title"]) == ("fish-speech", created.model_id, "Gran")
    assert profile["transcript"] == "The words of the recording."
    assert profile["reference"]["sample_rate"] == 16000 and not profile["reference"]["cut"]


def test_the_reference_and_transcript_go_with_every_request(provider, server, recordings):
    model_id = clone(provider, recordings, transcript="  The words of the recording.  ").model_id
    for _ in range(2):
        assert b"".join(provider.synthesize(text=TEXT, reference_id=model_id, fmt="mp3").chunks)
    first, second = server.tts_calls
    assert first.json["text"] == TEXT and "reference_id" not in first.json  # inline, never registered
    assert first.references == second.references
    (reference,) = first.references
    assert reference["text"] == "The words of the recording."
    rate, channels, seconds = wav_of(reference["audio"])
    assert (rate, channels) == (16000, 1) and seconds == pytest.approx(4.0, abs=0.01)
    path, decoded = recordings["short"]
    sent = np.frombuffer(reference["audio"][44:], "<i2").astype(np.float32) / 32767
    assert np.allclose(sent, decoded.samples[: sent.size], atol=2e-4)  # the recording itself, losslessly


def test_without_a_transcript_the_recording_goes_alone(provider, server, recordings):
    created = clone(provider, recordings, transcript=None)
    assert created.details["transcript"] == "none given: the server listens to the recording alone"
    b"".join(provider.synthesize(text="Hi", reference_id=created.model_id, fmt="wav").chunks)
    assert server.tts_calls[0].references[0]["text"] == ""


def test_a_long_recording_is_cut_and_its_transcript_left_out(provider, server, recordings):
    created = clone(provider, recordings, name="long", transcript="Forty seconds of words.")
    assert created.details["reference_seconds"] == REFERENCE_MAX_SECONDS and created.details["reference_cut"]
    assert created.details["transcript"] == "left out: the recording was cut to its first 30 s"
    b"".join(provider.synthesize(text="Hi", reference_id=created.model_id, fmt="wav").chunks)
    (reference,) = server.tts_calls[0].references
    assert reference["text"] == "" and wav_of(reference["audio"])[2] == pytest.approx(REFERENCE_MAX_SECONDS)


@pytest.mark.parametrize("name", ["phone", "web"])
def test_recordings_above_the_codec_rate_are_kept_at_44100(provider, server, recordings, name):
    created = clone(provider, recordings, name=name)
    b"".join(provider.synthesize(text="Hi", reference_id=created.model_id, fmt="wav").chunks)
    rate, channels, seconds = wav_of(server.tts_calls[0].references[0]["audio"])
    assert (rate, channels) == (44100, 1) and seconds == pytest.approx(4.0, abs=0.05)


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (Reply(status=401, body=error_body(401, "Invalid token")), ProviderAuthError),
        (Reply(status=503, body=error_body(503, "down")), ProviderUnavailable),
    ],
    ids=["wrong key", "server down"],
)
def test_no_voice_is_made_for_a_server_that_cannot_speak_it(provider, profiles, server, recordings, reply, error):
    server.plan["GET /v1/health"] = reply
    with pytest.raises(error):
        clone(provider, recordings)
    assert profiles.stored() == []


def test_no_voice_is_made_when_the_server_is_unreachable(make_client, profiles, recordings):
    provider = FishSpeechProvider(make_client(base_url=f"http://127.0.0.1:{closed_port()}"), profiles)
    with pytest.raises(ProviderUnavailable, match="cannot be reached"):
        clone(provider, recordings)
    assert profiles.stored() == []


# -- speech ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "media_type", "rate"),
    [("mp3", "audio/mpeg", 44100), ("wav", "audio/wav", 44100), ("opus", "audio/ogg", 48000)],
)
def test_speech_in_each_format(provider, server, recordings, tmp_path, fmt, media_type, rate):
    model_id = clone(provider, recordings).model_id
    stream = provider.synthesize(text=TEXT, reference_id=model_id, fmt=fmt)
    assert (stream.media_type, stream.sample_rate) == (media_type, None)
    data = b"".join(stream.chunks)
    assert audio.looks_like(fmt, data[:16])
    path = tmp_path / f"speech.{fmt}"
    path.write_bytes(data)
    if fmt == "wav":
        audio.finalize_wav(path)  # a streamed WAV says 'unknown' sizes until stored
    info = audio.inspect(path, max_seconds=60)
    assert info.sample_rate == rate and info.channels == 1
    assert info.duration == pytest.approx(len(TEXT) * SECONDS_PER_CHARACTER, abs=0.1)


def test_raw_pcm_is_24000_hz_16_bit_mono(provider, server, recordings):
    model_id = clone(provider, recordings).model_id
    stream = provider.synthesize(text=TEXT, reference_id=model_id, fmt="pcm")
    assert (stream.media_type, stream.sample_rate) == ("audio/pcm", PCM_SAMPLE_RATE)
    data = b"".join(stream.chunks)
    assert len(data) % 2 == 0
    assert len(data) / 2 / PCM_SAMPLE_RATE == pytest.approx(len(TEXT) * SECONDS_PER_CHARACTER, abs=0.02)
    samples = np.frombuffer(data, "<i2").astype(np.float32)
    spectrum = np.abs(np.fft.rfft(samples))
    assert np.argmax(spectrum) * PCM_SAMPLE_RATE / samples.size == pytest.approx(220.0, abs=2.0)  # the fake's tone


def test_speech_streams_while_the_server_is_still_speaking(provider, server, recordings):
    model_id = clone(provider, recordings).model_id
    server.hold = threading.Event()
    stream = provider.synthesize(text=TEXT * 3, reference_id=model_id, fmt="mp3")
    first = next(iter(stream.chunks))  # from the first segment alone: the rest is held back
    assert audio.looks_like("mp3", first[:16])
    server.hold.set()
    assert b"".join(stream.chunks)


def test_a_wav_header_in_the_stream_sets_the_rate_and_channels(provider, server, recordings, tmp_path):
    server.stream_header, server.sample_rate, server.channels = True, 22050, 2
    model_id = clone(provider, recordings).model_id
    data = b"".join(provider.synthesize(text=TEXT, reference_id=model_id, fmt="wav").chunks)
    path = tmp_path / "speech.wav"
    path.write_bytes(data)
    audio.finalize_wav(path)
    info = audio.inspect(path, max_seconds=60)
    assert (info.sample_rate, info.channels) == (22050, 1)
    assert info.duration == pytest.approx(len(TEXT) * SECONDS_PER_CHARACTER, abs=0.02)


def test_the_stream_rate_is_the_configured_one(make_client, profiles, server):
    server.sample_rate = 24000  # a server whose codec says so, told to Echo with FISH_SPEECH_SAMPLE_RATE
    provider = FishSpeechProvider(make_client(stream_sample_rate=24000), profiles)
    data = b"".join(provider.synthesize(text=TEXT, reference_id=None, fmt="pcm").chunks)
    assert len(data) / 2 / PCM_SAMPLE_RATE == pytest.approx(len(TEXT) * SECONDS_PER_CHARACTER, abs=0.01)


def test_without_a_voice_no_reference_is_sent(provider, server):
    assert b"".join(provider.synthesize(text="Hi", reference_id=None, fmt="mp3").chunks)
    assert server.tts_calls[0].json["references"] == []


def test_nothing_is_asked_before_the_audio_is_read(provider, server, recordings):
    model_id = clone(provider, recordings).model_id
    provider.synthesize(text="Hi", reference_id=model_id, fmt="mp3")
    assert server.tts_calls == []


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (Reply(body=b"", content_type="audio/wav"), "no audio"),
        (Reply(body=b"RIFF\x00\x00\x00\x00WAVEfmt ", content_type="audio/wav"), "WAV"),
        (Reply(body=b"RIFF\x00\x00\x00\x00AVI LIST", content_type="audio/wav"), "not WAV"),
        (Reply(body=audio.wav_header(44100, 0, bits=8) + bytes(1000), content_type="audio/wav"), "16-bit"),
        (Reply(body=b'{"statusCode": 500}', content_type="application/json"), "not audio"),
    ],
    ids=["empty", "header cut short", "not WAV", "8-bit", "JSON"],
)
def test_answers_that_are_not_usable_audio_are_errors(provider, server, reply, words):
    server.plan["POST /v1/tts"] = reply
    with pytest.raises(ProviderError, match=words):
        b"".join(provider.synthesize(text="Hi", reference_id=None, fmt="mp3").chunks)


def test_a_connection_dropped_part_way_is_an_error(provider, server):
    server.plan["POST /v1/tts"] = Reply(body=bytes(200000), content_type="audio/wav", chunks=8, drop_after_chunks=3)
    chunks = provider.synthesize(text="Hi", reference_id=None, fmt="pcm").chunks
    assert next(chunks)
    with pytest.raises(ProviderError, match="dropped"):
        list(chunks)


def test_an_unknown_format_is_refused(provider):
    with pytest.raises(ProviderRejected):
        provider.synthesize(text="Hi", reference_id=None, fmt="aiff")


# -- deleting, unknown voices ------------------------------------------------------------------------


def test_delete_removes_the_kept_reference(provider, profiles, server, recordings):
    model_id = clone(provider, recordings).model_id
    provider.delete_voice(model_id)
    assert profiles.load(model_id) is None
    provider.delete_voice(model_id)  # already gone is fine
    provider.delete_voice("../../etc/passwd")  # not ours: nothing happens
    with pytest.raises(ProviderVoiceNotFound):
        provider.synthesize(text="Hi", reference_id=model_id, fmt="mp3")
    assert server.tts_calls == []  # refused before anything was asked


@pytest.mark.parametrize("stored", ["{not json", '{"reference": {"audio": "***"}}', '{"reference": 5}'])
def test_an_unreadable_profile_is_a_voice_not_found(provider, profiles, stored):
    model_id = "fishspeech-" + "0" * 24
    profiles.save(model_id, stored)
    with pytest.raises(ProviderVoiceNotFound, match="unreadable"):
        provider.synthesize(text="Hi", reference_id=model_id, fmt="mp3")


@pytest.mark.parametrize("model_id", ["fishspeech-" + "0" * 24, "local-" + "0" * 24, "a" * 32])
def test_a_voice_never_made_is_not_found(provider, model_id):
    with pytest.raises(ProviderVoiceNotFound):
        provider.synthesize(text="Hi", reference_id=model_id, fmt="mp3")


def test_the_provider_owns_fish_speech_ids_only(provider):
    assert provider.owns("fishspeech-0123456789abcdef01234567")
    for other in ("local-0123456789abcdef01234567", "0123456789abcdef0123456789abcdef", "fishspeech-../x", None):
        assert not provider.owns(other)


# -- status ---------------------------------------------------------------------------------------


def test_status_names_the_engine_and_is_cached(provider, server):
    state = provider.status()
    assert state == {
        "status": "ok",
        "provider": "fish-speech",
        "description": provider.description,
        "engine": "fish-speech",
        "voice_cloning": "zero-shot, the reference recording sent with every request",
    }
    assert provider.status() == state and len(server.calls("GET", "/v1/health")) == 1


def test_status_says_why_the_server_cannot_speak(make_client, profiles):
    provider = FishSpeechProvider(make_client(base_url=f"http://127.0.0.1:{closed_port()}"), profiles, status_ttl=0)
    state = provider.status()
    assert state["status"] == "unavailable" and state["error"] == "voice_provider_unavailable"
    assert "cannot be reached" in state["detail"]


def test_a_server_busy_speaking_is_reported_busy_and_still_clones(make_client, profiles, server, recordings):
    """fish-speech answers nothing, not even its health check, while it generates a stretch of speech."""
    server.plan["GET /v1/health"] = Reply(body=b'{"status": "ok"}', first_byte_delay=0.6)
    provider = FishSpeechProvider(make_client(status_timeout=0.3), profiles, status_ttl=0)
    state = provider.status()
    assert (state["status"], state["error"]) == ("busy", "voice_provider_timeout")
    assert "generates speech" in state["detail"]
    assert clone(provider, recordings).model_id  # cloning waits for it as long as speech would


def test_speech_is_cached_per_server(provider, server):
    assert provider.cache_tag == server.url


def test_the_provider_keeps_the_protocol():
    assert FishSpeechProvider.name == "fish-speech" and "fish-speech" in FishSpeechProvider.description
    for method in ("create_voice", "delete_voice", "owns", "status", "synthesize"):
        expected = inspect.signature(getattr(VoiceProvider, method)).parameters.values()
        actual = inspect.signature(getattr(FishSpeechProvider, method)).parameters.values()
        assert [(p.name, p.kind) for p in actual] == [(p.name, p.kind) for p in expected], method


# -- the PCM reader -----------------------------------------------------------------------------------


def test_pcm_split_anywhere_reads_the_same():
    samples = (np.sin(np.arange(1001) / 7) * 20000).astype("<i2")
    data = samples.tobytes()
    reader = PcmReader(44100)
    parts = [reader.feed(data[i : i + 3]) for i in range(0, len(data), 3)] + [reader.finish()]
    assert reader.rate == 44100 and reader.frames == 1001
    assert np.array_equal(np.concatenate(parts), samples.astype(np.float32) / 32768)


def test_a_wav_header_split_across_chunks_is_read():
    header = audio.wav_header(16000, 0, channels=2)
    body = np.array([[1000, 3000], [-2000, 2000]], dtype="<i2").tobytes()
    reader = PcmReader(44100)
    out = [reader.feed(bytes([byte])) for byte in header + body] + [reader.finish()]
    assert (reader.rate, reader.channels) == (16000, 2)
    assert np.allclose(np.concatenate(out), [2000 / 32768, 0.0])
