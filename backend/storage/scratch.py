"""The scratch folder, DATA_DIR/tmp: uploads being checked and audio being written, on this machine only.

Both audio stores hold one. Every writer holds an exclusive lock on its scratch file for as long as it lives
(released when the file is closed, or when the process dies, however it dies), so a free lock tells a dead
writer: followers of audio being written and the sweep of tmp/ rely on it. Where locks are not supported,
they fall back to time limits.
"""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

STALE_TMP_SECONDS = 3600
# A temporary nobody holds a lock on belongs to a dead writer, unless it is this new: a live writer locks
# its file a moment after creating it.
UNLOCKED_TMP_SECONDS = 10


def hold_lock(fd: int) -> None:
    """Mark a file as being written by a live process: an exclusive lock, released when it is closed."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError as exc:
        log.debug("no file locks here (%s): dead writers are told by time limits only", exc)


def writer_is_alive(fd: int) -> bool | None:
    """Whether some process holds the writer's lock on this open file; None when locks are not supported."""
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return None
    fcntl.flock(fd, fcntl.LOCK_UN)
    return False


class Scratch:
    """tmp/ under DATA_DIR. Made (and swept of what dead writers left) when the store that holds it starts."""

    def __init__(self, data_dir: Path):
        self.tmp_dir = Path(data_dir) / "tmp"
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.remove_stale_temporaries()

    def remove_stale_temporaries(self, older_than: float = STALE_TMP_SECONDS) -> int:
        """Remove temporary files left by a killed process (at start, and at the hourly upkeep).

        Several processes may share tmp/ (MongoDB configured), so age alone does not tell: every writer holds
        a lock on its temporary for as long as it lives, and only files nobody holds are removed (a few
        seconds after they were made, the moment a writer takes between creating its file and locking it).
        Where locks are not supported, files older than ``older_than`` seconds go.
        """
        removed = 0
        now = time.time()
        for path in self.tmp_dir.iterdir():
            with suppress(OSError):  # gone meanwhile, or not ours to read: left alone
                if not path.is_file():
                    continue
                fd = os.open(path, os.O_RDONLY)
                try:
                    alive = writer_is_alive(fd)
                    age = now - os.fstat(fd).st_mtime
                    if alive is False and age > UNLOCKED_TMP_SECONDS:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held while it goes
                    elif not (alive is None and age > older_than):
                        continue
                    path.unlink()
                    removed += 1
                except BlockingIOError:
                    pass  # a writer took it in the meantime
                finally:
                    os.close(fd)
        if removed:
            log.info("removed %d temporary files left by a stopped process", removed)
        return removed

    @contextmanager
    def temporary(self, suffix: str = "") -> Iterator[Path]:
        """A fresh temporary path under tmp/, locked by this process while in use, removed on exit."""
        fd, name = tempfile.mkstemp(dir=self.tmp_dir, suffix=suffix)
        path = Path(name)
        try:
            hold_lock(fd)
            yield path
        finally:
            with suppress(FileNotFoundError):
                path.unlink()
            os.close(fd)

    @contextmanager
    def upload(self, stream: BinaryIO, chunk_size: int = 1 << 16) -> Iterator[Path]:
        """Copy an incoming upload to a temporary file, removed on exit."""
        with self.temporary(".upload") as path:
            with path.open("wb") as out:
                while chunk := stream.read(chunk_size):
                    out.write(chunk)
            yield path

    def partial_path(self, name: str) -> Path:
        """Where audio named ``name`` is written: known to every process on this machine, so it can be followed."""
        return self.tmp_dir / f"{name}.part"

    def begin(self, name: str) -> PartialFile:
        """Start writing the audio ``name`` at its partial path (which must not exist yet)."""
        return PartialFile(self.partial_path(name))


class PartialFile:
    """A scratch file this process is writing, locked from before its first byte until it is released.

    What happens to it in the end (renamed into place, uploaded, removed) is the owner's to decide; the lock
    is released only after that, so a follower never takes a writer that finished for a dead one.
    """

    def __init__(self, path: Path):
        self.path = path
        self.size = 0
        self._fh = open(path, "xb")  # noqa: SIM115 - closed by release
        try:
            hold_lock(self._fh.fileno())
        except BaseException:
            self._fh.close()
            path.unlink(missing_ok=True)
            raise

    def write(self, chunk: bytes) -> None:
        self._fh.write(chunk)
        self._fh.flush()  # followers read what is on disk
        self.size += len(chunk)

    def seal(self, finish: Callable[[Path], None] | None = None) -> None:
        """Make the file whole and durable, then let ``finish`` fix it up (e.g. a WAV header). Still locked."""
        self._fh.flush()
        os.fsync(self._fh.fileno())
        if finish is not None:
            finish(self.path)

    def release(self) -> None:
        """Close the file, and with it the writer's lock; safe to call more than once."""
        if not self._fh.closed:
            self._fh.close()

    def discard(self) -> None:
        """Remove the file, then release it; safe to call more than once."""
        with suppress(FileNotFoundError):
            self.path.unlink()
        self.release()
