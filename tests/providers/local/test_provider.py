"""The local engine as a voice provider: profiles, every output format, voice matching, streaming and errors."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import parselmouth
import pytest

from backend.audio import AudioInfo, DecodedAudio, inspect
from backend.errors import ProviderVoiceNotFound, UnprocessableAudio
from backend.formats import PCM_SAMPLE_RATE
from backend.providers.local.signal import change_voice
from tests.helpers import collect_stream

TEXT = "The parcel arrived this morning. It was much heavier than we expected."
REFERENCE_F0 = 150.0


def _median_f0(samples: np.ndarray, rate: int) -> float:
    pitch = parselmouth.Sound(samples.astype(np.float64), sampling_frequency=rate).to_pitch_ac(
        time_step=0.01, pitch_floor=50.0, pitch_ceiling=400.0
    )
    f0 = pitch.selected_array["frequency"]
    return float(np.median(f0[f0 > 0]))


@pytest.fixture(scope="module")
def reference(provider) -> DecodedAudio:
    """A different speaker made from the base voice: higher pitch (~150 Hz) and formants raised by 15%."""
    engine = provider.engine
    rate = engine.sample_rate
    speech = np.concatenate(
        list(engine.speak("A bright morning is a fine time for a walk. Shall we go down to the river together?"))
    )
    transform = {
        "formant_ratio": 1.15,
        "median_f0_hz": REFERENCE_F0,
        "pitch_range_factor": 1.0,
        "source_pitch_floor_hz": 50.0,
        "source_pitch_ceiling_hz": 300.0,
    }
    shifted = change_voice(speech, rate, transform)
    info = AudioInfo(container="wav", codec="pcm_s16le", duration=shifted.size / rate, sample_rate=rate, channels=1)
    return DecodedAudio(info=info, samples=shifted, sample_rate=rate)


@pytest.fixture(scope="module")
def voice(provider, reference, tmp_path_factory):
    created = provider.create_voice(
        title="Test speaker", audio_path=tmp_path_factory.mktemp("ref") / "ref.wav", audio=reference, transcript=None
    )
    yield created
    provider.delete_voice(created.model_id)


def test_create_voice_stores_profile(provider, voice, reference):
    assert provider.owns(voice.model_id) and not provider.owns("fish-model-1")
    assert voice.model_id.startswith("local-") and len(voice.model_id) == len("local-") + 24
    assert voice.state == "trained"
    details = voice.details
    json.dumps(details)  # stored with the voice model record
    assert details["median_f0_hz"] == pytest.approx(REFERENCE_F0, rel=0.15)
    assert 1.0 < details["formant_ratio"] <= 1.4  # the reference's formants were raised
    path = provider.voices_dir / f"{voice.model_id}.json"
    profile = json.loads(path.read_text())
    assert profile["model_id"] == voice.model_id and profile["engine"] == "piper en_US-joe-medium"
    assert [p.name for p in provider.voices_dir.iterdir() if p.name.startswith(".tmp")] == []


@pytest.mark.parametrize("fmt, rate", [("mp3", 22050), ("wav", 22050), ("opus", 48000), ("pcm", 24000)])
def test_synthesize_each_format(provider, voice, tmp_path, fmt, rate):
    stream = provider.synthesize(text=TEXT, reference_id=voice.model_id, fmt=fmt)
    assert stream.sample_rate == rate
    data, _ = collect_stream(stream)
    if fmt == "pcm":
        assert stream.media_type == "audio/pcm" and len(data) % 2 == 0
        duration = len(data) / 2 / rate
    else:
        path = tmp_path / f"out.{fmt}"
        path.write_bytes(data)
        info = inspect(path, max_seconds=60)
        assert info.sample_rate == rate and info.channels == 1
        duration = info.duration
    assert 2.5 < duration < 9.0


def test_matching_moves_pitch_toward_reference(provider, voice, reference, tmp_path):
    def rendered(reference_id):
        data, _ = collect_stream(provider.synthesize(text=TEXT, reference_id=reference_id, fmt="pcm"))
        return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0

    rate = PCM_SAMPLE_RATE  # raw PCM is always at Echo's one rate
    plain = _median_f0(rendered(None), rate)
    matched = _median_f0(rendered(voice.model_id), rate)
    target = _median_f0(reference.samples, reference.sample_rate)
    assert plain < target  # the base voice is lower than the made-up reference
    assert abs(matched - target) < 0.5 * abs(plain - target)
    assert matched == pytest.approx(target, rel=0.12)


def test_first_chunk_comes_before_the_rest(provider, voice):
    stream = provider.synthesize(text=TEXT + " " + TEXT, reference_id=voice.model_id, fmt="wav")
    first = next(stream.chunks)
    assert first.startswith(b"RIFF") and len(first) > 44  # header plus the first sentence's audio
    rest = list(stream.chunks)
    assert len(rest) >= 2  # later sentences are still to come after the first one is out


def test_concurrent_requests(provider, voice):
    results: list[int] = []
    errors: list[BaseException] = []

    def worker(reference_id):
        try:
            data, _ = collect_stream(
                provider.synthesize(text="Hello from a thread.", reference_id=reference_id, fmt="pcm")
            )
            results.append(len(data))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(rid,)) for rid in (voice.model_id, None, voice.model_id)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors and len(results) == 3 and all(n > 22050 for n in results)


def test_unknown_and_malformed_ids(provider):
    for model_id in ("local-" + "0" * 24, "local-../../etc/passwd", "local-"):
        with pytest.raises(ProviderVoiceNotFound, match="voice model not found"):
            provider.synthesize(text=TEXT, reference_id=model_id, fmt="mp3")
    provider.delete_voice("local-../../etc/passwd")  # ignored, never a path outside voices/


def test_delete_removes_profile(provider, reference, tmp_path):
    created = provider.create_voice(title="Gone", audio_path=tmp_path / "r.wav", audio=reference, transcript="x")
    path = provider.voices_dir / f"{created.model_id}.json"
    assert path.exists()
    provider.delete_voice(created.model_id)
    assert not path.exists()
    provider.delete_voice(created.model_id)  # idempotent
    with pytest.raises(ProviderVoiceNotFound):
        provider.synthesize(text=TEXT, reference_id=created.model_id, fmt="wav")


def test_silent_reference_is_rejected(provider, tmp_path):
    profiles = sorted(Path(provider.voices_dir).glob("*.json"))  # other tests' voices (the provider is shared)
    rate = 16000
    info = AudioInfo(container="wav", codec="pcm_s16le", duration=4.0, sample_rate=rate, channels=1)
    silent = DecodedAudio(info=info, samples=np.zeros(4 * rate, np.float32), sample_rate=rate)
    with pytest.raises(UnprocessableAudio):
        provider.create_voice(title="Silence", audio_path=tmp_path / "s.wav", audio=silent, transcript=None)
    noise = DecodedAudio(
        info=info, samples=np.random.default_rng(1).normal(0, 0.1, 4 * rate).astype(np.float32), sample_rate=rate
    )
    with pytest.raises(UnprocessableAudio):
        provider.create_voice(title="Noise", audio_path=tmp_path / "n.wav", audio=noise, transcript=None)
    assert sorted(Path(provider.voices_dir).glob("*.json")) == profiles  # no profile saved for either


def test_status_is_honest(provider):
    status = provider.status()
    assert status["status"] == "ok" and status["provider"] == "local"
    assert status["engine"] == "piper en_US-joe-medium"
    assert "not a neural clone" in status["description"]
    assert provider.name == "local" and provider.description == status["description"]
