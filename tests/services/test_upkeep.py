"""Upkeep as a unit: the hourly pass runs at most hourly unless forced, in one background thread at a time and never
in the request that noticed it is due; a failing pass is logged and the next one runs. And the start-up sweep's
rules that no HTTP test reaches: what grace applies, and that nothing goes on missing information."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from types import SimpleNamespace

import mongomock
import pytest

from backend.database import DatabaseManager
from backend.errors import DatabaseUnavailable
from backend.services import upkeep as upkeep_module
from backend.services.upkeep import (
    GRACE_EMBEDDED,
    GRACE_SHARED_DATABASE,
    GRACE_SHARED_FILES,
    PURGE_EVERY_SECONDS,
    Upkeep,
    sweep_grace,
    sweep_unreferenced,
)
from backend.storage.files import FileStore
from backend.storage.journal import JOURNAL_NAME, UnsavedVoiceModels
from backend.storage.names import new_reference_key
from backend.storage.profiles import FileProfiles
from tests.helpers import backdate, join_all, names_in

DEADLINE = 10.0  # seconds; only a broken feature makes a test wait this long


class Clock:
    """``time.monotonic`` as the upkeep module reads it, moved by hand."""

    def __init__(self, now: float = 100_000.0):
        self.now = now

    def monotonic(self) -> float:
        return self.now


class FakeServices:
    """What the hourly pass touches; ``on_retry`` runs at the start of each pass, in the pass's thread."""

    def __init__(self, data_dir):
        self.settings = SimpleNamespace(data_dir=data_dir, audio_retention_hours=2)
        self.passes: list[str] = []  # the thread each pass ran in
        self.on_retry = lambda: None
        self.purged_with: list[float] = []
        self.forgotten: list[list[str]] = []
        self.gone = ["old.mp3", "older.mp3"]
        self.purge_error: Exception | None = None
        self.forget_error: Exception | None = None
        self.voices = SimpleNamespace(retry_pending_deletions=self._retry)
        self.store = SimpleNamespace(remove_stale_temporaries=lambda: 0, purge_outputs=self._purge)
        self.db = SimpleNamespace(forget_audio=self._forget)

    def _retry(self) -> int:
        self.passes.append(threading.current_thread().name)
        self.on_retry()
        return 0

    def _purge(self, older_than: float) -> list[str]:
        self.purged_with.append(older_than)
        if self.purge_error is not None:
            raise self.purge_error
        return list(self.gone)

    def _forget(self, names: list[str]) -> None:
        self.forgotten.append(names)
        if self.forget_error is not None:
            raise self.forget_error


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(upkeep_module, "time", clock)
    return clock


@pytest.fixture
def svc(tmp_path) -> FakeServices:
    return FakeServices(tmp_path)


def upkeep_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "echo-upkeep"]


@pytest.fixture(autouse=True)
def no_pass_left_running():
    yield
    join_all(upkeep_threads(), timeout=DEADLINE)


# -- the hourly pass -------------------------------------------------------------------------------


def test_a_pass_purges_old_audio_and_forgets_its_records(svc, clock):
    upkeep = Upkeep(svc)
    assert upkeep.purge_old_audio() == 2
    assert svc.purged_with == [2 * 3600] and svc.forgotten == [["old.mp3", "older.mp3"]]


def test_the_pass_runs_at_most_hourly_unless_forced(svc, clock):
    upkeep = Upkeep(svc)
    upkeep.purge_old_audio()
    clock.now += PURGE_EVERY_SECONDS - 1
    assert upkeep.purge_old_audio() == 0
    assert len(svc.passes) == 1
    assert upkeep.purge_old_audio(force=True) == 2  # at start
    assert len(svc.passes) == 2
    clock.now += PURGE_EVERY_SECONDS - 1  # an hour counts from the forced pass
    upkeep.purge_old_audio()
    assert len(svc.passes) == 2
    clock.now += 1
    upkeep.purge_old_audio()
    assert len(svc.passes) == 3


def test_audio_in_an_unavailable_database_waits_for_the_next_pass(svc, clock, caplog):
    caplog.set_level(logging.INFO, logger="backend.services.upkeep")
    svc.purge_error = DatabaseUnavailable()
    assert Upkeep(svc).purge_old_audio() == 0
    assert svc.forgotten == []
    assert "purged at the next hourly pass" in caplog.text


def test_records_of_purged_audio_that_cannot_be_forgotten_go_with_the_next_purge(svc, clock, caplog):
    caplog.set_level(logging.INFO, logger="backend.services.upkeep")
    svc.forget_error = DatabaseUnavailable()
    assert Upkeep(svc).purge_old_audio() == 2
    assert "purged 2 audio files; their records go with the next purge" in caplog.text


# -- in the background -----------------------------------------------------------------------------


def test_a_due_pass_runs_beside_the_caller_one_at_a_time(svc, clock):
    upkeep = Upkeep(svc)
    entered, release = threading.Event(), threading.Event()

    def hold():
        entered.set()
        assert release.wait(DEADLINE)

    svc.on_retry = hold
    try:
        upkeep.run_if_due()  # returns while the pass is held: it does not run in this thread
        assert entered.wait(DEADLINE), "the pass never started"
        assert svc.passes == ["echo-upkeep"] and threading.current_thread().name != "echo-upkeep"
        clock.now += 3 * PURGE_EVERY_SECONDS  # due again, but one is still running
        for _ in range(5):
            upkeep.run_if_due()
        assert len(upkeep_threads()) == 1 and svc.passes == ["echo-upkeep"]
    finally:
        release.set()
    join_all(upkeep_threads(), timeout=DEADLINE)
    clock.now += PURGE_EVERY_SECONDS
    svc.on_retry = lambda: None
    upkeep.run_if_due()
    join_all(upkeep_threads(), timeout=DEADLINE)
    assert svc.passes == ["echo-upkeep", "echo-upkeep"]


def test_a_pass_that_is_not_due_is_not_started(svc, clock):
    upkeep = Upkeep(svc)
    upkeep.purge_old_audio(force=True)
    clock.now += PURGE_EVERY_SECONDS - 1
    upkeep.run_if_due()
    join_all(upkeep_threads(), timeout=DEADLINE)
    assert len(svc.passes) == 1


def test_a_failing_pass_is_logged_and_the_next_one_runs(svc, clock, caplog):
    upkeep = Upkeep(svc)

    def fail():
        raise RuntimeError("provider exploded")

    svc.on_retry = fail
    with caplog.at_level(logging.ERROR, logger="backend.services.upkeep"):
        upkeep.run_if_due()
        join_all(upkeep_threads(), timeout=DEADLINE)
    (record,) = [r for r in caplog.records if r.getMessage() == "hourly upkeep failed"]
    assert record.exc_info and isinstance(record.exc_info[1], RuntimeError)
    svc.on_retry = lambda: None
    clock.now += PURGE_EVERY_SECONDS
    upkeep.run_if_due()
    join_all(upkeep_threads(), timeout=DEADLINE)
    assert svc.passes == ["echo-upkeep", "echo-upkeep"] and svc.forgotten == [["old.mp3", "older.mp3"]]


# -- the start-up sweep ----------------------------------------------------------------------------


def test_the_grace_fits_who_may_share_the_store():
    embedded = SimpleNamespace(backend="embedded")
    shared = SimpleNamespace(backend="mongodb")
    assert sweep_grace(embedded, SimpleNamespace(kind="files")) == GRACE_EMBEDDED == timedelta(0)
    assert sweep_grace(shared, SimpleNamespace(kind="files")) == GRACE_SHARED_FILES
    assert sweep_grace(shared, SimpleNamespace(kind="gridfs")) == GRACE_SHARED_DATABASE
    assert GRACE_EMBEDDED < GRACE_SHARED_FILES < GRACE_SHARED_DATABASE


@pytest.fixture
def sweep_parts(tmp_path):
    store = FileStore(tmp_path)
    orphan = new_reference_key("wav")
    (store.references_dir / orphan).write_bytes(b"RIFF")
    backdate(store.references_dir / orphan, 30 * 86400)
    profiles = FileProfiles(tmp_path / "voices")
    db = DatabaseManager(client=mongomock.MongoClient(tz_aware=True))
    return SimpleNamespace(store=store, profiles=profiles, db=db, journal=UnsavedVoiceModels(tmp_path), orphan=orphan)


def test_an_unreadable_journal_sweeps_nothing_record_based(sweep_parts, tmp_path, caplog):
    (tmp_path / JOURNAL_NAME).write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="backend.services.upkeep"):
        counts = sweep_unreferenced(
            db=sweep_parts.db,
            store=sweep_parts.store,
            profiles=sweep_parts.profiles,
            journal=sweep_parts.journal,
            grace=GRACE_EMBEDDED,
        )
    assert counts is None
    assert names_in(sweep_parts.store.references_dir) == [sweep_parts.orphan]
    assert f"{JOURNAL_NAME} unreadable" in caplog.text


def test_only_local_engine_profiles_are_swept(sweep_parts):
    parts = sweep_parts
    local_orphan, foreign = "local-" + "0" * 24, "not-a-local-id"
    parts.profiles.stored = lambda: [(local_orphan, upkeep_module.utcnow()), (foreign, upkeep_module.utcnow())]
    deleted = []
    parts.profiles.delete = deleted.append
    counts = sweep_unreferenced(
        db=parts.db, store=parts.store, profiles=parts.profiles, journal=parts.journal, grace=GRACE_EMBEDDED
    )
    assert counts == {"recordings": 1, "voice_profiles": 1, "profile_temporaries": 0}
    assert deleted == [local_orphan]
    assert names_in(parts.store.references_dir) == []


class NoThread:
    """A thread that cannot be had (the process is out of threads)."""

    def __init__(self, *args, **kwargs):
        pass

    def start(self):
        raise RuntimeError("can't start new thread")


def test_a_pass_that_cannot_start_fails_no_request_and_is_tried_again(svc, clock, monkeypatch):
    upkeep = Upkeep(svc)
    monkeypatch.setattr(upkeep_module, "threading", SimpleNamespace(Thread=NoThread, Lock=threading.Lock))
    try:
        upkeep.run_if_due()  # the request that noticed the pass is due must not fail for it
    finally:
        monkeypatch.setattr(upkeep_module, "threading", threading)
        upkeep.run_if_due()  # threads again: the pass runs
        join_all(upkeep_threads(), timeout=DEADLINE)
    assert svc.passes == ["echo-upkeep"]
