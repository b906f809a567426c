"""Speaking as a unit: a synthesis job checks the provider's first bytes, stores nothing it did not finish and
commits once; Speech records whose each new file is exactly once, however it is consumed, and never a cache hit."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import pytest
from bson import ObjectId

from backend import audio
from backend.config import load_settings
from backend.database import DatabaseManager
from backend.errors import DatabaseUnavailable, ProviderError, ProviderUnavailable
from backend.providers import SynthesisStream
from backend.services.speech import Speech, SynthesisJob
from backend.services.voices import VoiceService
from backend.storage.cache import FileCache
from backend.storage.files import FileStore
from tests.helpers import FlakyClient, join_all, names_in

MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 4
WAV_HEAD = b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00"
LOCAL_VOICE = "local-" + "ab" * 12


class Chunks:
    """A provider's audio stream: hands out ``parts``, then raises ``error`` if given; remembers being closed."""

    def __init__(self, parts, error: Exception | None = None):
        self.parts = list(parts)
        self.error = error
        self.handed = 0
        self.closed = False

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        if self.parts:
            self.handed += 1
            return self.parts.pop(0)
        if self.error is not None:
            raise self.error
        raise StopIteration

    def close(self) -> None:
        self.closed = True


def split(data: bytes, size: int = 100) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


# -- the job ---------------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path) -> FileStore:
    return FileStore(tmp_path / "data")


def nothing_stored(store: FileStore) -> bool:
    return names_in(store.outputs_dir) == [] and names_in(store.scratch.tmp_dir) == []


def new_job(store, chunks, fmt="mp3", completed=None):
    output = store.new_output(fmt)
    return SynthesisJob(
        chunks=chunks,
        output=output,
        name=output.name,
        fmt=fmt,
        media_type="audio/mpeg",
        provider="fake",
        reference_id=None,
        on_complete=None if completed is None else completed.append,
    )


def test_the_format_is_checked_on_the_first_bytes_however_they_are_split(store):
    source = Chunks([b"", b"I", b"", b"D3", b"\x04" + bytes(20), b"more audio"])
    completed = []
    job = new_job(store, source, completed=completed)
    assert source.handed == 5  # read up to the sixteenth byte, not on to the end of the audio
    assert b"".join(job) == b"ID3\x04" + bytes(20) + b"more audio"
    assert job.size == 34
    (stored,) = completed
    assert stored.name == job.name and store.output(job.name).path.read_bytes() == b"".join(
        [b"ID3\x04", bytes(20), b"more audio"]
    )


@pytest.mark.parametrize(
    ("fmt", "head"),
    [("mp3", WAV_HEAD), ("wav", MP3[:16]), ("opus", MP3[:16]), ("mp3", b"<html>Oops</html>" * 2)],
)
def test_audio_in_another_format_is_refused_before_anything_is_handed_on(store, fmt, head):
    source = Chunks([head, b"rest of it"])
    completed = []
    with pytest.raises(ProviderError, match=f"not {fmt}"):
        new_job(store, source, fmt=fmt, completed=completed)
    assert source.closed and completed == []
    assert nothing_stored(store)


def test_raw_pcm_has_no_signature_to_check(store):
    job = new_job(store, Chunks([b"\x01\x02" * 10]), fmt="pcm")
    assert b"".join(job) == b"\x01\x02" * 10


def test_a_short_but_well_formed_answer_is_accepted(store):
    assert b"".join(new_job(store, Chunks([b"ID3"]))) == b"ID3"


@pytest.mark.parametrize("parts", [[], [b""], [b"", b"", b""]])
def test_no_audio_at_all_is_a_provider_error(store, parts):
    source = Chunks(parts)
    with pytest.raises(ProviderError, match="returned no audio"):
        new_job(store, source)
    assert source.closed and nothing_stored(store)


def test_a_stream_that_fails_before_its_first_bytes_leaves_nothing(store):
    source = Chunks([], error=ProviderUnavailable())
    with pytest.raises(ProviderUnavailable):
        new_job(store, source)
    assert source.closed and nothing_stored(store)


def test_a_stream_that_fails_part_way_stores_nothing_and_completes_nothing(store):
    source = Chunks(split(MP3), error=ProviderUnavailable("cut off"))
    completed = []
    job = new_job(store, source, completed=completed)
    received = []
    with pytest.raises(ProviderUnavailable, match="cut off"):
        for chunk in job:
            received.append(chunk)
    assert b"".join(received) == MP3  # what came through was handed on before the failure
    assert completed == [] and source.closed
    assert nothing_stored(store)


def test_a_consumer_that_goes_away_leaves_nothing(store):
    source = Chunks(split(MP3))
    completed = []
    job = new_job(store, source, completed=completed)
    consumer = iter(job)
    next(consumer)
    next(consumer)
    consumer.close()  # the client went away
    assert completed == [] and source.closed
    assert nothing_stored(store)


def test_a_job_closed_before_it_is_read_leaves_nothing(store):
    source = Chunks(split(MP3))
    job = new_job(store, source)
    job.close()
    assert source.closed and nothing_stored(store)


def test_the_file_is_committed_once_after_the_last_byte(store, monkeypatch):
    source = Chunks(split(MP3))
    completed = []
    job = new_job(store, source, completed=completed)
    commits = []
    commit = job._output.commit
    monkeypatch.setattr(job._output, "commit", lambda finish=None: commits.append(finish) or commit(finish))
    consumer = iter(job)
    received = [next(consumer) for _ in range(len(split(MP3)))]
    assert b"".join(received) == MP3
    assert store.output(job.name) is None and commits == []  # every byte through, but not yet ended
    with pytest.raises(StopIteration):
        next(consumer)
    assert commits == [None] and len(completed) == 1
    job.close()  # closing again after the end keeps the file
    assert store.output(job.name).path.read_bytes() == MP3
    assert names_in(store.scratch.tmp_dir) == []


def test_a_wav_is_committed_with_its_header_fixed(store, monkeypatch):
    finishes = []
    job = new_job(store, Chunks([WAV_HEAD + bytes(100)]), fmt="wav")
    commit = job._output.commit
    monkeypatch.setattr(job._output, "commit", lambda finish=None: finishes.append(finish) or commit(finish))
    for _ in job:
        pass
    assert finishes == [audio.finalize_wav]


def test_a_cache_hit_has_no_output_and_completes_nothing(store):
    completed = []
    job = SynthesisJob(
        chunks=iter([MP3]),
        output=None,
        name="cached-entry.mp3",
        fmt="mp3",
        media_type="audio/mpeg",
        provider="fake",
        reference_id=None,
        on_complete=completed.append,
    )
    assert job.cached and job.name == "cached-entry.mp3"
    assert b"".join(job) == MP3
    assert completed == [] and nothing_stored(store)


# -- speech ----------------------------------------------------------------------------------------


class FakeProvider:
    """Speaks ``audio`` for any text; ``error``/``cut`` make it fail before or during the audio."""

    def __init__(self, name: str):
        self.name = name
        self.description = name
        self.cache_tag = "v1"
        self.audio = MP3
        self.error: Exception | None = None
        self.cut: Exception | None = None
        self.calls = 0

    def owns(self, model_id: str) -> bool:
        return model_id.startswith(f"{self.name}-")

    def synthesize(self, *, text, reference_id, fmt):
        self.calls += 1
        if self.error is not None:
            raise self.error
        return SynthesisStream(chunks=Chunks(split(self.audio), error=self.cut), media_type="audio/mpeg")

    def status(self):
        return {"status": "ok"}


class Setup:
    def __init__(self, data_dir: Path):
        settings = load_settings({"DATA_DIR": str(data_dir)}, env={})
        self.provider = FakeProvider("local")
        self.store = FileStore(data_dir)
        self.cache = FileCache(data_dir / "cache", 1 << 20)
        self.client = FlakyClient()
        self.db = DatabaseManager(client=self.client)
        voices = VoiceService(settings, self.store, {"local": self.provider}, "local", cache=self.cache)
        self.speech = Speech(voices, self.store, self.cache, self.db, stall_timeout=5)
        self.recorded: list[tuple] = []
        record = self.db.record_audio

        def spy(name, *, user_id, model_id):
            self.recorded.append((name, user_id, model_id))
            record(name, user_id=user_id, model_id=model_id)

        self.db.record_audio = spy

    def outputs(self) -> list[str]:
        return names_in(self.store.outputs_dir)


@pytest.fixture
def setup(tmp_path) -> Setup:
    return Setup(tmp_path / "data")


def whole(setup: Setup, job: SynthesisJob) -> bytes:
    return b"".join(job)


def streamed(setup: Setup, job: SynthesisJob) -> bytes:
    """As a streamed response sends it: chunk by chunk, with nothing stored or recorded before the end."""
    received = []
    recorded = list(setup.recorded)
    for chunk in job:
        received.append(chunk)
        assert setup.recorded == recorded
        assert job.cached or setup.store.output(job.name) is None
    return b"".join(received)


def background(setup: Setup, job: SynthesisJob) -> bytes:
    join_all([setup.speech.finish_in_background(job)])
    with setup.speech.stored_audio(job.name).open() as fh:
        return fh.read()


MODES = [whole, streamed, background]


@pytest.mark.parametrize("consume", MODES)
def test_a_new_file_is_recorded_once_as_its_callers_and_a_cache_hit_not_again(setup, consume):
    user = ObjectId()
    job = setup.speech.start(text="Hello", reference_id=None, fmt="mp3", user_id=user)
    assert not job.cached and setup.recorded == []
    assert consume(setup, job) == MP3
    assert setup.recorded == [(job.name, user, None)]
    assert setup.db.audio_names(user_id=user) == [job.name] == setup.outputs()
    again = setup.speech.start(text="Hello", reference_id=None, fmt="mp3", user_id=user)
    assert again.cached and again.name != job.name
    assert consume(setup, again) == MP3
    assert setup.recorded == [(job.name, user, None)]  # a cache hit is no new file: nothing more recorded
    assert setup.provider.calls == 1 and setup.outputs() == [job.name]


@pytest.mark.parametrize("consume", MODES)
def test_a_file_in_a_voice_is_recorded_as_that_voices(setup, consume):
    user = ObjectId()
    job = setup.speech.start(text="Hi", reference_id=LOCAL_VOICE, fmt="mp3", user_id=user)
    consume(setup, job)
    assert setup.recorded == [(job.name, user, LOCAL_VOICE)]
    assert setup.db.audio_names(model_id=LOCAL_VOICE) == [job.name]


def test_without_the_cache_every_request_is_a_new_file_recorded_once(setup):
    user = ObjectId()
    names = []
    for _ in range(2):
        job = setup.speech.start(text="Hi", reference_id=LOCAL_VOICE, fmt="mp3", user_id=user, use_cache=False)
        assert not job.cached
        whole(setup, job)
        names.append(job.name)
    assert [name for name, _, _ in setup.recorded] == names and len(set(names)) == 2
    assert names_in(setup.cache.root) == []  # nothing added to the cache either


def test_users_share_no_cache_for_the_default_voice(setup):
    for user in (ObjectId(), ObjectId()):
        whole(setup, setup.speech.start(text="Same", reference_id=None, fmt="mp3", user_id=user))
    assert setup.provider.calls == 2 and len(setup.recorded) == 2


def test_a_database_outage_while_recording_is_logged_not_raised(setup, caplog):
    caplog.set_level(logging.INFO, logger="backend.services.speech")
    user = ObjectId()
    job = setup.speech.start(text="Hello", reference_id=None, fmt="mp3", user_id=user)
    setup.client.down = True
    assert whole(setup, job) == MP3
    assert setup.outputs() == [job.name]  # the audio is kept (retention removes it in time)
    assert f"audio {job.name} not recorded (database unavailable)" in caplog.text
    setup.client.down = False
    assert setup.db.audio_names(user_id=user) == []
    assert setup.speech.start(text="Hello", reference_id=None, fmt="mp3", user_id=user).cached  # cached all the same


def test_a_provider_that_fails_at_once_leaves_no_output(setup):
    setup.provider.error = ProviderUnavailable()
    with pytest.raises(ProviderUnavailable):
        setup.speech.start(text="Hello", reference_id=None, fmt="mp3", user_id=ObjectId())
    assert nothing_stored(setup.store) and setup.recorded == []


def test_no_output_means_the_provider_is_not_asked(setup, monkeypatch):
    def no_output(fmt):
        raise DatabaseUnavailable()

    monkeypatch.setattr(setup.store, "new_output", no_output)
    with pytest.raises(DatabaseUnavailable):
        setup.speech.start(text="Hello", reference_id=None, fmt="mp3", user_id=ObjectId())
    assert setup.provider.calls == 0


def test_a_background_synthesis_that_fails_is_logged_and_leaves_nothing(setup, caplog):
    setup.provider.cut = ProviderUnavailable("cut off")
    job = setup.speech.start(text="Hello", reference_id=None, fmt="mp3", user_id=ObjectId())
    with caplog.at_level(logging.ERROR, logger="backend.services.speech"):
        join_all([setup.speech.finish_in_background(job)])
    assert f"background synthesis {job.name} failed" in caplog.text
    assert setup.recorded == [] and nothing_stored(setup.store)
    assert setup.speech.stored_audio(job.name) is None


def test_stored_audio_is_an_output_or_a_cache_entry(setup):
    user = ObjectId()
    first = setup.speech.start(text="Hello", reference_id=None, fmt="mp3", user_id=user)
    whole(setup, first)
    hit = setup.speech.start(text="Hello", reference_id=None, fmt="mp3", user_id=user)
    assert setup.speech.stored_audio(first.name).name == first.name
    assert setup.speech.stored_audio(hit.name).name == hit.name
    assert setup.speech.stored_audio("nothing-here.mp3") is None
    setup.speech.forget_user_cache(user)
    assert setup.speech.stored_audio(hit.name) is None
    after = setup.speech.start(text="Hello", reference_id=None, fmt="mp3", user_id=user)
    assert not after.cached
    after.close()


def test_a_background_job_that_cannot_get_a_thread_leaves_nothing_and_says_busy(monkeypatch):
    """No thread to finish a progressive synthesis: the unfinished file is dropped at once, and the caller is told
    the server is busy (a 503), not left with a link that never grows."""
    from backend.errors import ServiceUnavailable
    from backend.services import speech as speech_module
    from backend.services.speech import Speech

    closed = []

    class Job:
        name = "job-name"

        def close(self):
            closed.append(True)

    class NoThread:
        def __init__(self, *args, **kwargs):
            pass

        def start(self):
            raise RuntimeError("can't start new thread")

    monkeypatch.setattr(speech_module, "threading", SimpleNamespace(Thread=NoThread))
    speech = Speech.__new__(Speech)
    with pytest.raises(ServiceUnavailable):
        speech.finish_in_background(Job())
    assert closed == [True]
