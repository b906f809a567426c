"""The audio store under DATA_DIR: atomic writes, public names only, following audio while it is written."""

from __future__ import annotations

import os
import threading

import pytest

from backend.storage import files
from backend.storage.files import FileStore, StoredFile
from backend.storage.names import new_output_name
from tests.helpers import backdate, kill, names_in, scratch_writer
from tests.storage.contract import test_a_follower_of_audio_given_up_part_way_raises  # noqa: F401


@pytest.fixture
def store(tmp_path) -> FileStore:
    return FileStore(tmp_path)


# -- reference recordings -------------------------------------------------------------------------


def test_a_kept_recording_gets_a_random_key_and_nothing_is_left_in_scratch(store, tmp_path):
    source = tmp_path / "upload.wav"
    source.write_bytes(b"RIFF" + os.urandom(5000))
    key = store.keep_reference(source, "wav")
    assert key.endswith(".wav") and key != "upload.wav"
    assert (store.references_dir / key).read_bytes() == source.read_bytes()
    assert names_in(tmp_path / "tmp") == []
    assert [k for k, _ in store.stored_references()] == [key]
    store.delete_reference(key)
    store.delete_reference(key)  # gone already: fine
    store.delete_reference(None)
    assert store.stored_references() == []


def test_only_our_keys_are_listed_or_deleted(store, tmp_path):
    (store.references_dir / "notes.txt").write_text("someone else's")
    store.delete_reference("../audio/x.mp3")
    store.delete_reference("notes.txt")
    assert store.stored_references() == [] and names_in(store.references_dir) == ["notes.txt"]


# -- generated audio ------------------------------------------------------------------------------


def test_an_output_appears_under_its_name_only_when_committed(store, tmp_path):
    out = store.new_output("mp3")
    out.write(b"ID3")
    out.write(bytes(1000))
    assert out.size == 1003
    assert store.output(out.name) is None and names_in(store.outputs_dir) == []
    assert names_in(tmp_path / "tmp") == [f"{out.name}.part"]
    stored = out.commit()
    assert stored == store.output(out.name)
    assert stored.size == 1003 and stored.path == store.outputs_dir / out.name
    with stored.open() as fh:
        assert fh.read() == b"ID3" + bytes(1000)
    assert names_in(tmp_path / "tmp") == []
    out.discard()  # after commit: nothing to drop
    assert store.output(out.name) is not None


def test_commit_lets_the_format_fix_the_file_up_before_it_is_visible(store):
    out = store.new_output("wav")
    out.write(b"RIFF" + bytes(40))
    seen = []

    def finish(path):
        seen.append(store.output(out.name))  # not visible yet
        with path.open("r+b") as fh:
            fh.write(b"RIFX")

    stored = out.commit(finish)
    assert seen == [None]
    assert stored.path.read_bytes()[:4] == b"RIFX"


def test_a_discarded_output_leaves_nothing(store, tmp_path):
    out = store.new_output("opus")
    out.write(b"OggS")
    out.discard()
    out.discard()  # twice is fine
    assert names_in(tmp_path / "tmp") == [] and names_in(store.outputs_dir) == []
    assert store.output(out.name) is None


def test_only_output_names_are_served_or_deleted(store, tmp_path):
    (tmp_path / "secret.mp3").write_bytes(b"ID3")
    name = new_output_name("mp3")
    (store.outputs_dir / name).write_bytes(b"ID3")
    for bad in ("../secret.mp3", "secret.mp3", name.replace(".mp3", ".exe"), ""):
        assert store.output(bad) is None
        store.delete_output(bad)
    assert (tmp_path / "secret.mp3").exists()
    assert StoredFile.at(store.outputs_dir / name) == store.output(name)
    store.delete_output(name)
    store.delete_output(name)
    assert store.output(name) is None


def test_old_outputs_are_purged(store):
    old, new = new_output_name("mp3"), new_output_name("mp3")
    for name in (old, new):
        (store.outputs_dir / name).write_bytes(b"ID3")
    backdate(store.outputs_dir / old, 7200)
    assert store.purge_outputs(3600) == [old]
    assert names_in(store.outputs_dir) == [new]


def test_uploads_and_the_sweep_go_through_the_scratch_folder(store, tmp_path):
    import io

    with store.upload(io.BytesIO(b"RIFF....")) as path:
        assert path.parent == tmp_path / "tmp" and path.read_bytes() == b"RIFF...."
    left = tmp_path / "tmp" / "killed.upload"
    left.write_bytes(b"x")
    backdate(left, 60)
    assert store.remove_stale_temporaries() == 1


# -- following audio while it is written ----------------------------------------------------------


def test_only_audio_being_written_can_be_followed(store):
    assert store.follow_output(new_output_name("mp3")) is None
    assert store.follow_output("../../etc/passwd") is None
    out = store.new_output("mp3")
    out.commit()
    assert store.follow_output(out.name) is None  # finished: served as a file


def test_a_follower_reads_the_audio_as_it_grows_and_ends_with_the_file(store):
    out = store.new_output("mp3")
    out.write(b"ID3")
    follower = store.follow_output(out.name, poll=0.01)
    assert next(follower) == b"ID3"
    out.write(bytes(5000))
    out.write(bytes(7000))
    out.commit()
    assert b"ID3" + b"".join(follower) == b"ID3" + bytes(12000)


def test_a_follower_whose_writer_lost_its_lock_raises(store, monkeypatch):
    monkeypatch.setattr(files, "WRITER_CHECK_SECONDS", 0.0)
    out = store.new_output("mp3")
    out.write(b"ID3")
    follower = store.follow_output(out.name, poll=0.01)
    assert next(follower) == b"ID3"
    out._partial.release()  # as when the writer's process dies: the file stays, its lock goes
    with pytest.raises(OSError, match="its writer stopped"):
        next(follower)
    out.discard()


def test_a_silent_but_live_writer_keeps_its_followers(tmp_path, monkeypatch):
    """The writer's lock, not silence, decides: a pause longer than the check keeps the follower waiting."""
    checks = threading.Semaphore(0)
    real_check = files.writer_is_alive

    def counted(fd):
        alive = real_check(fd)
        checks.release()
        return alive

    monkeypatch.setattr(files, "writer_is_alive", counted)
    data = tmp_path / "data"
    writer, name = scratch_writer(data, "output")
    try:
        follower = FileStore(data).follow_output(name, stall_timeout=60, poll=0.01)
        received: list[bytes] = []
        failed: list[BaseException] = []

        def follow():
            try:
                received.extend(follower)
            except BaseException as exc:  # noqa: B036 - reported to the test below
                failed.append(exc)

        reader = threading.Thread(target=follow)
        reader.start()
        for _ in range(2):  # two liveness checks, each after a second of silence, found the writer alive
            assert checks.acquire(timeout=10)
        writer.stdin.write("write\n")
        writer.stdin.flush()
        assert writer.stdout.readline().strip() == "written"
        writer.stdin.write("commit\n")
        writer.stdin.flush()
        assert writer.stdout.readline().strip() == "committed"
        reader.join(timeout=10)
        assert not reader.is_alive() and failed == []
        assert b"".join(received) == b"ID3" + bytes(2000) + bytes(3000)
    finally:
        kill(writer)
