"""The audio store in GridFS: recordings and speech shared by every instance, followed while written."""

from __future__ import annotations

import threading
import time

import pytest

from backend.database import utcnow
from backend.storage import gridfs
from backend.storage.gridfs import GridStore
from backend.storage.names import new_output_name
from tests.storage.contract import test_a_follower_of_audio_given_up_part_way_raises  # noqa: F401


@pytest.fixture
def store(shared, tmp_path) -> GridStore:
    return GridStore(tmp_path, shared.manager())


def progress_of(shared) -> tuple[int, int]:
    """(marks, pieces) of audio being written."""
    return shared.db.audio_progress.count_documents({}), shared.db.audio_progress_pieces.count_documents({})


def test_a_kept_recording_is_in_the_references_bucket(store, shared, tmp_path):
    source = tmp_path / "upload.wav"
    source.write_bytes(b"RIFF" + bytes(3000))
    key = store.keep_reference(source, "wav")
    assert [doc["_id"] for doc in shared.db["references.files"].find()] == [key]
    assert [k for k, _ in store.stored_references()] == [key]
    assert store.stored_references()[0][1].tzinfo is not None
    store.delete_reference(key)
    store.delete_reference(key)  # gone already: fine
    store.delete_reference("../not-a-key")
    assert store.stored_references() == [] and shared.db["references.chunks"].count_documents({}) == 0


def test_an_output_is_published_while_written_and_stored_on_commit(store, shared, tmp_path):
    out = store.new_output("mp3")
    out.write(b"ID3")
    out.write(bytes(1000))
    assert out.size == 1003 and progress_of(shared) == (1, 2)
    assert store.output(out.name) is None  # nothing under its name yet
    stored = out.commit()
    assert progress_of(shared) == (0, 0) and list((tmp_path / "tmp").iterdir()) == []
    found = store.output(out.name)
    assert (found.name, found.size, found.path) == (out.name, 1003, None) == (stored.name, stored.size, None)
    with found.open() as fh:
        assert fh.read() == b"ID3" + bytes(1000)
    out.discard()  # after commit: nothing to drop
    assert store.output(out.name) is not None
    store.delete_output(out.name)
    assert store.output(out.name) is None
    with pytest.raises(FileNotFoundError):
        found.open()


def test_a_discarded_output_leaves_nothing_anywhere(store, shared, tmp_path):
    out = store.new_output("wav")
    out.write(b"RIFF")
    out.discard()
    out.discard()  # twice is fine
    assert progress_of(shared) == (0, 0) and list((tmp_path / "tmp").iterdir()) == []
    assert shared.db["audio.files"].count_documents({}) == 0


def test_only_audio_being_written_can_be_followed(store):
    assert store.follow_output(new_output_name("mp3")) is None
    assert store.follow_output("not a name") is None
    out = store.new_output("mp3")
    out.commit()
    assert store.follow_output(out.name) is None


def test_a_follower_reads_the_pieces_then_what_the_stored_file_holds_beyond_them(store):
    out = store.new_output("mp3")
    out.write(b"ID3")
    follower = store.follow_output(out.name, poll=0.01)
    assert next(follower) == b"ID3"
    out.write(bytes(4000))
    out.commit()  # the pieces go with the mark: the rest comes from GridFS
    assert b"".join(follower) == bytes(4000)


def test_old_and_abandoned_audio_are_purged(store, shared):
    from datetime import timedelta

    kept = store.new_output("mp3")
    kept.write(b"ID3")
    kept.commit()
    old = store.new_output("mp3")
    old.write(b"ID3")
    old.commit()
    shared.db["audio.files"].update_one({"_id": old.name}, {"$set": {"uploadDate": utcnow() - timedelta(days=8)}})
    writing = store.new_output("mp3")  # a live writer: its mark is fresh
    writing.write(b"ID3")
    dead = new_output_name("mp3")  # a writer killed part-way, an hour and more ago
    shared.db.audio_progress.insert_one({"_id": dead, "state": "writing", "updated_at": utcnow() - timedelta(hours=2)})
    shared.db.audio_progress_pieces.insert_one({"name": dead, "seq": 0, "data": b"ID3"})
    assert store.purge_outputs(7 * 86400) == [old.name]
    assert store.output(kept.name) is not None and store.output(old.name) is None
    assert [d["_id"] for d in shared.db.audio_progress.find()] == [writing.name]
    assert shared.db.audio_progress_pieces.count_documents({"name": dead}) == 0
    writing.discard()


# -- crash recovery -------------------------------------------------------------------------------


def test_a_follower_of_a_writer_whose_heartbeat_stopped_ends_within_seconds(shared, tmp_path):
    """A writer killed part-way leaves its mark and pieces; the mark's heartbeat stops, and followers end."""
    from backend.storage.gridfs import WRITER_DEAD_AFTER

    store = GridStore(tmp_path, shared.manager())
    name = new_output_name("mp3")
    shared.db.audio_progress.insert_one({"_id": name, "state": "writing", "updated_at": utcnow()})
    shared.db.audio_progress_pieces.insert_one({"name": name, "seq": 0, "data": b"ID3" + bytes(500)})
    follower = store.follow_output(name, stall_timeout=70, poll=0.01)
    assert next(follower) == b"ID3" + bytes(500)
    started = time.monotonic()
    with pytest.raises(OSError, match="writer stopped"):
        next(follower)
    assert time.monotonic() - started < WRITER_DEAD_AFTER + 2  # not the 70 s stall timeout


def test_a_silent_writer_keeps_its_followers_with_its_heartbeat(shared, tmp_path, monkeypatch):
    """A writer waiting for the provider publishes nothing, but its heartbeat keeps followers waiting."""
    monkeypatch.setattr(gridfs, "HEARTBEAT_SECONDS", 0.1)
    monkeypatch.setattr(gridfs, "WRITER_DEAD_AFTER", 0.5)
    store = GridStore(tmp_path, shared.manager())
    out = store.new_output("mp3")
    out.write(b"ID3" + bytes(1000))
    follower = store.follow_output(out.name, stall_timeout=60, poll=0.01)
    received: list[bytes] = []
    failed: list[BaseException] = []

    def follow():
        try:
            received.extend(follower)
        except BaseException as exc:  # noqa: B036 - reported to the test below
            failed.append(exc)

    reader = threading.Thread(target=follow)
    reader.start()
    beats, seen = 0, None
    deadline = time.monotonic() + 10
    while beats < 12 and time.monotonic() < deadline:  # 12 heartbeats: over twice WRITER_DEAD_AFTER of silence
        mark = shared.db.audio_progress.find_one({"_id": out.name})
        if mark["updated_at"] != seen:
            beats, seen = beats + 1, mark["updated_at"]
        time.sleep(0.02)
    assert beats >= 12 and reader.is_alive() and failed == []
    out.write(bytes(2000))
    out.commit()
    reader.join(timeout=10)
    assert not reader.is_alive() and failed == []
    assert b"".join(received) == b"ID3" + bytes(1000) + bytes(2000)
    assert shared.db.audio_progress.count_documents({}) == 0  # the heartbeat stopped with the mark


def test_writing_goes_on_for_this_client_when_publishing_fails(store, shared, monkeypatch):
    from backend.errors import DatabaseUnavailable

    out = store.new_output("mp3")
    out.write(b"ID3")

    def down(*args):
        raise DatabaseUnavailable()

    monkeypatch.setattr(store.progress, "publish", down)
    out.write(bytes(100))  # not published, but written
    out.write(bytes(100))
    monkeypatch.undo()
    stored = out.commit()
    assert stored.size == 203 and progress_of(shared) == (0, 0)
