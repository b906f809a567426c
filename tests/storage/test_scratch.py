"""The scratch folder: temporaries locked by their writer, partial files, and the sweep of what dead writers left."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from backend.storage import scratch
from backend.storage.scratch import Scratch, writer_is_alive
from tests.helpers import backdate


def held(path: Path) -> bool | None:
    """Whether a writer holds its lock on ``path``, as another process would see it (a separate open file)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return writer_is_alive(fd)
    finally:
        os.close(fd)


def test_a_temporary_is_locked_while_in_use_and_removed_after(tmp_path):
    box = Scratch(tmp_path)
    with box.temporary(".upload") as path:
        assert path.parent == tmp_path / "tmp" and path.name.endswith(".upload")
        assert path.exists() and held(path) is True
    assert not path.exists()


def test_a_temporary_is_removed_when_its_user_fails(tmp_path):
    box = Scratch(tmp_path)
    with pytest.raises(RuntimeError), box.temporary() as path:
        path.write_bytes(b"half")
        raise RuntimeError("checking failed")
    assert list((tmp_path / "tmp").iterdir()) == []


def test_an_upload_is_copied_to_scratch_and_removed_on_exit(tmp_path):
    box = Scratch(tmp_path)
    body = os.urandom(200_000)
    with box.upload(io.BytesIO(body), chunk_size=4096) as path:
        assert path.read_bytes() == body
    assert not path.exists()


def test_a_partial_file_is_named_after_its_audio_and_made_only_once(tmp_path):
    box = Scratch(tmp_path)
    assert box.partial_path("abc.mp3") == tmp_path / "tmp" / "abc.mp3.part"
    partial = box.begin("abc.mp3")
    with pytest.raises(FileExistsError):
        box.begin("abc.mp3")  # never two writers of one name
    partial.discard()


def test_a_partial_file_is_locked_until_released(tmp_path):
    partial = Scratch(tmp_path).begin("abc.mp3")
    partial.write(b"ID3")
    partial.write(bytes(100))
    assert partial.size == 103 and partial.path.read_bytes() == b"ID3" + bytes(100)  # flushed for followers
    assert held(partial.path) is True
    sealed: list[bytes] = []
    partial.seal(lambda path: sealed.append(path.read_bytes()))
    assert sealed == [b"ID3" + bytes(100)] and held(partial.path) is True  # still locked after sealing
    partial.release()
    partial.release()  # twice is fine
    assert held(partial.path) is False and partial.path.exists()  # what becomes of the file is the owner's


def test_discarding_a_partial_file_removes_it_and_frees_its_lock(tmp_path):
    partial = Scratch(tmp_path).begin("abc.mp3")
    partial.write(b"ID3")
    partial.discard()
    partial.discard()  # twice is fine
    assert not partial.path.exists()


def test_the_sweep_removes_only_what_no_live_writer_holds(tmp_path):
    box = Scratch(tmp_path)
    tmp = tmp_path / "tmp"
    dead_old = tmp / "dead-old.upload"
    dead_young = tmp / "dead-young.upload"
    dead_old.write_bytes(b"left by a killed process")
    dead_young.write_bytes(b"a writer may be about to lock it")
    backdate(dead_old, 60)
    (tmp / "a-directory").mkdir()
    live = box.begin("live.mp3")
    backdate(live.path, 2 * scratch.STALE_TMP_SECONDS)  # old, but its writer lives
    with box.temporary(".upload") as checking:
        backdate(checking, 60)
        assert box.remove_stale_temporaries() == 1
        assert sorted(p.name for p in tmp.iterdir()) == sorted(
            ["a-directory", "dead-young.upload", "live.mp3.part", checking.name]
        )
    live.discard()


def test_without_file_locks_the_sweep_goes_by_age(tmp_path, monkeypatch):
    box = Scratch(tmp_path)
    monkeypatch.setattr(scratch, "writer_is_alive", lambda fd: None)
    old, young = tmp_path / "tmp" / "old", tmp_path / "tmp" / "young"
    old.write_bytes(b"x")
    young.write_bytes(b"x")
    backdate(old, 120)
    backdate(young, 30)
    assert box.remove_stale_temporaries(older_than=60) == 1
    assert [p.name for p in (tmp_path / "tmp").iterdir()] == ["young"]


def test_a_new_scratch_folder_sweeps_what_a_killed_process_left(tmp_path):
    (tmp_path / "tmp").mkdir()
    left = tmp_path / "tmp" / "killed.mp3.part"
    left.write_bytes(b"ID3")
    backdate(left, 60)
    Scratch(tmp_path)
    assert not left.exists()
