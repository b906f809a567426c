"""The local voice engine: profiles, every output format, voice matching, streaming and errors (no bench deps)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import mongomock
import numpy as np
import parselmouth
import pytest

from backend.api_server import create_app
from backend.audio import AudioInfo, DecodedAudio, inspect
from backend.config import ConfigError, default_engine_workers, load_settings
from backend.errors import ProviderVoiceNotFound, UnprocessableAudio
from backend.providers.local import EngineBusy, LocalEngine, LocalProvider, RenderPool
from backend.providers.local.signal import change_voice
from backend.providers.local.text import split_text
from tests.helpers import files_under, reference_voice, upload

TEXT = "The parcel arrived this morning. It was much heavier than we expected."
REFERENCE_F0 = 150.0


def _median_f0(samples: np.ndarray, rate: int) -> float:
    pitch = parselmouth.Sound(samples.astype(np.float64), sampling_frequency=rate).to_pitch_ac(
        time_step=0.01, pitch_floor=50.0, pitch_ceiling=400.0
    )
    f0 = pitch.selected_array["frequency"]
    return float(np.median(f0[f0 > 0]))


def _collect(stream) -> tuple[bytes, int]:
    chunks = list(stream.chunks)
    return b"".join(chunks), len(chunks)


@pytest.fixture(scope="module")
def provider(tmp_path_factory) -> LocalProvider:
    return LocalProvider(tmp_path_factory.mktemp("local-engine") / "data")


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


def test_split_text_sentences_and_long_clauses():
    assert split_text("One. Two?  Three!\nFour") == ["One.", "Two?", "Three!", "Four"]
    long = ", ".join(["a clause of several words"] * 20) + "."
    pieces = split_text(long, max_chars=80)
    assert len(pieces) > 1 and all(len(p) <= 80 for p in pieces)
    assert " ".join(pieces) == long
    assert split_text("   ") == []


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


@pytest.mark.parametrize("fmt, rate", [("mp3", 22050), ("wav", 22050), ("opus", 48000), ("pcm", 22050)])
def test_synthesize_each_format(provider, voice, tmp_path, fmt, rate):
    stream = provider.synthesize(text=TEXT, reference_id=voice.model_id, fmt=fmt)
    assert stream.sample_rate == rate
    data, _ = _collect(stream)
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
        data, _ = _collect(provider.synthesize(text=TEXT, reference_id=reference_id, fmt="pcm"))
        return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0

    rate = provider.engine.sample_rate
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
            data, _ = _collect(provider.synthesize(text="Hello from a thread.", reference_id=reference_id, fmt="pcm"))
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


# -- the render pool: bounded concurrency, a bounded queue, 503 when full -----------------------------------------

DEADLINE = 30.0  # generous: only a broken pool ever waits this long


def _wait_until(predicate, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.002)


class GatedEngine(LocalEngine):
    """An engine whose sentences are rendered by a fake that waits for the test's go-ahead and counts overlap."""

    sample_rate = 22050  # no model is loaded

    def __init__(self, **pool):
        super().__init__(**pool)
        self.gate = threading.Event()
        self.lock = threading.Lock()
        self.active = 0
        self.most_active = 0
        self.rendered: list[str] = []
        self.fail_on: str | None = None

    def _render_piece(self, piece, profile, rate):
        with self.lock:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        try:
            if not self.gate.wait(DEADLINE):
                raise AssertionError("the test never opened the gate")
            if piece == self.fail_on:
                raise RuntimeError("render failed")
            with self.lock:
                self.rendered.append(piece)
            return [np.full(100, 0.1, dtype=np.float32)]
        finally:
            with self.lock:
                self.active -= 1


def _drain(engine: LocalEngine, text: str, results: list, errors: list) -> None:
    try:
        results.append(len(list(engine.render(text, None))))
    except BaseException as exc:  # reported by the test
        errors.append(exc)


def test_pool_never_runs_more_renders_than_workers():
    engine = GatedEngine(workers=2, queue=10, queue_timeout=DEADLINE)
    results: list[int] = []
    errors: list[BaseException] = []
    threads = [
        threading.Thread(target=_drain, args=(engine, f"Request {i} first. Request {i} second.", results, errors))
        for i in range(6)
    ]
    for thread in threads:
        thread.start()
    _wait_until(lambda: engine.active == 2 and engine.pool.waiting == 4, "two render and four wait")
    assert engine.pool.running == 2
    engine.gate.set()
    for thread in threads:
        thread.join(DEADLINE)
    assert not errors and results == [2] * 6
    assert engine.most_active == 2  # never more than the pool's workers at once
    assert engine.pool.running == 0 and engine.pool.waiting == 0


def test_full_queue_is_busy_and_a_queued_request_proceeds_when_a_slot_frees():
    engine = GatedEngine(workers=1, queue=1, queue_timeout=DEADLINE)
    first: list[int] = []
    queued: list[int] = []
    errors: list[BaseException] = []
    a = threading.Thread(target=_drain, args=(engine, "First request.", first, errors))
    a.start()
    _wait_until(lambda: engine.active == 1, "the first request renders")
    b = threading.Thread(target=_drain, args=(engine, "Queued request.", queued, errors))
    b.start()
    _wait_until(lambda: engine.pool.waiting == 1, "the second request waits")
    with pytest.raises(EngineBusy) as busy:  # the queue (1) is full: turned away at once, before any audio
        next(engine.render("One too many.", None))
    assert busy.value.status == 503 and busy.value.code == "voice_engine_busy"
    assert busy.value.headers["Retry-After"].isdigit()
    engine.gate.set()  # the first request finishes; its slot goes to the queued one
    a.join(DEADLINE)
    b.join(DEADLINE)
    assert not errors and first == [1] and queued == [1]
    assert engine.rendered == ["First request.", "Queued request."]
    assert engine.pool.running == 0 and engine.pool.waiting == 0


def test_wait_for_a_slot_times_out_with_busy_and_leaves_no_ticket():
    pool = RenderPool(workers=1, queue=5, timeout=0.01)
    with pool.slot():
        with pytest.raises(EngineBusy):
            with pool.slot():
                raise AssertionError("a second slot was handed out")
        assert pool.waiting == 0 and pool.running == 1
    assert pool.running == 0
    with pool.slot():  # and the pool still works
        assert pool.running == 1


def test_slot_is_released_when_a_stream_is_closed_early_or_fails():
    engine = GatedEngine(workers=1, queue=0, queue_timeout=DEADLINE)
    engine.gate.set()
    stream = engine.render("One. Two. Three.", None)
    next(stream)
    assert engine.pool.running == 0  # no slot is held while a sentence is handed on (slow or gone readers)
    stream.close()  # the client went away
    assert engine.pool.running == 0 and engine.pool.waiting == 0

    engine.fail_on = "Two."
    with pytest.raises(RuntimeError, match="render failed"):
        list(engine.render("One. Two. Three.", None))
    assert engine.pool.running == 0 and engine.pool.waiting == 0
    assert len(list(engine.render("Still works.", None))) == 1


def test_a_stream_already_speaking_waits_for_its_next_sentence_instead_of_failing():
    engine = GatedEngine(workers=1, queue=0, queue_timeout=DEADLINE)
    engine.gate.set()
    stream = engine.render("One. Two.", None)
    next(stream)
    results: list[int] = []
    errors: list[BaseException] = []
    with engine.pool.slot():  # someone else renders now, and the queue holds no one
        rest = threading.Thread(target=lambda: results.append(len(list(stream))))
        rest.start()
        _wait_until(lambda: engine.pool.waiting == 1, "the second sentence waits for the slot")
        with pytest.raises(EngineBusy):  # a new request is turned away ...
            next(engine.render("New.", None))
    rest.join(DEADLINE)  # ... but the stream that had started goes on
    assert results == [1] and not errors


def test_engine_settings_defaults_and_limits():
    settings = load_settings({}, env={})
    assert settings.local_engine_workers == default_engine_workers() >= 1
    assert settings.local_engine_queue == 32 and settings.local_engine_queue_timeout == 30.0
    assert settings.local_engine_threads == min(default_engine_workers(), 4)
    custom = load_settings(
        {
            "LOCAL_ENGINE_WORKERS": "3",
            "LOCAL_ENGINE_QUEUE": "0",
            "LOCAL_ENGINE_QUEUE_TIMEOUT": "2.5",
            "LOCAL_ENGINE_THREADS": "1",
        },
        env={},
    )
    assert (custom.local_engine_workers, custom.local_engine_queue, custom.local_engine_queue_timeout) == (3, 0, 2.5)
    assert custom.local_engine_threads == 1
    invalid = (
        ("LOCAL_ENGINE_WORKERS", "0"),
        ("LOCAL_ENGINE_QUEUE", "-1"),
        ("LOCAL_ENGINE_QUEUE_TIMEOUT", "x"),
        ("LOCAL_ENGINE_THREADS", "0"),
    )
    for name, value in invalid:
        with pytest.raises(ConfigError, match=name):
            load_settings({name: value}, env={})


@pytest.fixture
def busy_app(tmp_path):
    data_dir = tmp_path / "data"
    app = create_app(
        {
            "DATA_DIR": str(data_dir),
            "VOICE_PROVIDER": "local",
            "LOCAL_ENGINE_WORKERS": 1,
            "LOCAL_ENGINE_QUEUE": 0,
            "LOCAL_ENGINE_THREADS": 1,
            "LOG_LEVEL": "WARNING",
        },
        environ={},
        db_client=mongomock.MongoClient(tz_aware=True),
    )
    return app, data_dir


def test_full_queue_answers_503_through_the_api(busy_app):
    app, data_dir = busy_app
    client = app.test_client()
    pool = app.extensions["echo"].voices.providers["local"].engine.pool
    engine = app.extensions["echo"].voices.providers["local"].engine
    assert (pool.workers, pool.queue, engine.threads) == (1, 0, 1)
    user = client.post("/api/users/local|busy").json["user"]
    reference = reference_voice()
    with pool.slot():  # the one render slot is taken and no one may queue
        spoken = client.post("/api/synthesize", json={"text": "Hello there.", "user_id": user, "format": "mp3"})
        assert spoken.status_code == 503
        assert spoken.json == {
            "success": False,
            "error": "voice_engine_busy",
            "message": "The voice engine is busy; try again in a few seconds.",
        }
        # the engine's own 5 s, not the rate limiter's window
        assert spoken.headers["Retry-After"] == "5"
        assert files_under(data_dir / "audio") == [] and files_under(data_dir / "tmp") == []
        # cloning analyses the recording in a slot too
        created = upload(client, reference.read_bytes(), user_id=user, name="Busy")
        assert created.status_code == 503 and created.json["error"] == "voice_engine_busy"
        assert files_under(data_dir / "voices") == []
    spoken = client.post("/api/synthesize", json={"text": "Hello there.", "user_id": user, "format": "mp3"})
    assert spoken.status_code == 200, spoken.json  # free again: the same request goes through
    assert pool.running == 0 and pool.waiting == 0


def test_idle_pool_hands_memory_back_once_work_stops():
    calls: list[int] = []
    idle = threading.Event()

    def hook():
        calls.append(1)
        idle.set()

    pool = RenderPool(workers=1, queue=0, timeout=DEADLINE, on_idle=hook, idle_delay=0.0)
    with pool.slot():
        assert not idle.is_set()  # never while work is going on
    assert idle.wait(DEADLINE)
    _wait_until(lambda: pool._housekeeper is None, "the housekeeping thread ends (the engine can be collected)")
    idle.clear()
    with pool.slot():  # the next burst of work is followed by housekeeping again
        pass
    assert idle.wait(DEADLINE) and len(calls) == 2


def test_release_memory_on_the_real_engine(provider):
    provider.engine.release_memory()  # a tiny run with arena shrinkage, then malloc_trim
    data, _ = _collect(provider.synthesize(text="Still speaking.", reference_id=None, fmt="pcm"))
    assert len(data) > 22050
