"""Files under DATA_DIR: uploads in progress, reference recordings and generated audio, written atomically.

``AudioStore`` keeps everything on this machine's disk. ``backend.gridfs_store.GridAudioStore`` has the same
face and keeps recordings and audio in MongoDB, for several instances; both hand out ``StoredAudio``.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Protocol

log = logging.getLogger(__name__)

_OUTPUT_NAME = re.compile(r"^[A-Za-z0-9_-]{22,64}\.(mp3|wav|opus|pcm)$")
_REFERENCE_KEY = re.compile(r"^[A-Za-z0-9_-]{22,64}\.(wav|mp3|m4a|aac|ogg|webm|flac)$")
_STALE_TMP_SECONDS = 3600
# A temporary nobody holds a lock on belongs to a dead writer, unless it is this new: a live writer locks
# its file a moment after creating it.
_UNLOCKED_TMP_SECONDS = 10
# A follower that gets no audio for this long asks whether the writer is still alive.
WRITER_CHECK_SECONDS = 1.0

# Stored output files are named by format.
OUTPUT_EXTENSIONS = {"mp3": "mp3", "wav": "wav", "opus": "opus", "pcm": "pcm"}


def is_output_name(name: object) -> bool:
    return isinstance(name, str) and bool(_OUTPUT_NAME.match(name))


def is_reference_key(key: object) -> bool:
    return isinstance(key, str) and bool(_REFERENCE_KEY.match(key))


def new_output_name(fmt: str) -> str:
    return f"{secrets.token_urlsafe(24)}.{OUTPUT_EXTENSIONS[fmt]}"


def new_reference_key(extension: str) -> str:
    return f"{secrets.token_urlsafe(18)}.{extension}"


def hold_lock(fd: int) -> None:
    """Mark a file as being written by a live process: an exclusive lock, released when it is closed
    (or when the process dies, however it dies). Where locks are not supported, followers and the sweep of
    tmp/ fall back to time limits."""
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


class StoredAudio(Protocol):
    """A complete stored audio file, wherever it lives."""

    name: str
    size: int
    modified: datetime
    path: Path | None  # set when it is a file on this machine

    def open(self) -> BinaryIO: ...


@dataclass(frozen=True)
class StoredFile:
    name: str
    path: Path
    size: int
    modified: datetime

    @classmethod
    def at(cls, path: Path, name: str | None = None) -> StoredFile | None:
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        return cls(name or path.name, path, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC))

    def open(self) -> BinaryIO:
        return self.path.open("rb")


class Scratch:
    """tmp/ under DATA_DIR: uploads being checked and audio being written, on this machine only."""

    def __init__(self, data_dir: Path):
        self.root = Path(data_dir)
        self.tmp_dir = self.root / "tmp"
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.remove_stale_temporaries()

    def remove_stale_temporaries(self, older_than: float = _STALE_TMP_SECONDS) -> int:
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
                    if alive is False and age > _UNLOCKED_TMP_SECONDS:
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
        return self.tmp_dir / f"{name}.part"


class AudioStore(Scratch):
    """Directory layout: tmp/ (work in progress), references/ (uploads), audio/ (synthesized output).

    Names are random tokens chosen here, never a client's file name. A file appears under its final
    name only when it is complete (temporary file + rename), so a crash leaves no partial file.
    """

    kind = "files"

    def __init__(self, data_dir: Path):
        super().__init__(data_dir)
        self.references_dir = self.root / "references"
        self.outputs_dir = self.root / "audio"
        for directory in (self.references_dir, self.outputs_dir):
            directory.mkdir(parents=True, exist_ok=True)

    # -- reference recordings ---------------------------------------------------------------------

    def keep_reference(self, source: Path, extension: str) -> str:
        """Copy ``source`` into references/ under a new random key; returns the key."""
        key = new_reference_key(extension)
        with self.temporary(".part") as part:
            with source.open("rb") as src, part.open("wb") as dst:
                while chunk := src.read(1 << 16):
                    dst.write(chunk)
                dst.flush()
                os.fsync(dst.fileno())
            os.replace(part, self.references_dir / key)
        return key

    def reference(self, key: str) -> StoredAudio | None:
        if not is_reference_key(key):
            return None
        return StoredFile.at(self.references_dir / key)

    def delete_reference(self, key: str | None) -> None:
        if is_reference_key(key):
            with suppress(FileNotFoundError):
                (self.references_dir / key).unlink()

    def stored_references(self) -> list[tuple[str, datetime]]:
        """Every kept recording's key with the time it was kept (for the start-up sweep)."""
        found = []
        for path in self.references_dir.iterdir():
            if is_reference_key(path.name):
                with suppress(FileNotFoundError):
                    found.append((path.name, datetime.fromtimestamp(path.stat().st_mtime, UTC)))
        return found

    # -- synthesized audio ------------------------------------------------------------------------

    def new_output(self, fmt: str) -> OutputFile:
        """A new output file, written through a temporary file and renamed into audio/ on commit."""
        return OutputFile(self, fmt)

    def follow_output(self, name: str, *, stall_timeout: float = 60.0, poll: float = 0.05) -> Iterator[bytes] | None:
        """Audio still being written (by any process on this machine), from its first byte to its last.

        None when ``name`` is not being written. The stream ends when the file is complete, and raises
        if the writer gives up (the partial file vanishes without a final one), dies (nobody holds the
        writer's lock on the partial file: seen within about a second of silence), or stops growing for
        ``stall_timeout`` seconds.
        """
        if not is_output_name(name):
            return None
        part, final = self.partial_path(name), self.outputs_dir / name
        try:
            handle = part.open("rb")
        except FileNotFoundError:
            return None
        return self._follow(handle, part, final, stall_timeout, poll)

    @staticmethod
    def _follow(handle: BinaryIO, part: Path, final: Path, stall_timeout: float, poll: float) -> Iterator[bytes]:
        last_growth = last_check = time.monotonic()
        writer_dead = False
        try:
            while True:
                chunk = handle.read(1 << 15)
                if chunk:
                    last_growth = time.monotonic()
                    yield chunk
                    continue
                if not part.exists():
                    if final.exists():  # renamed into place: what is left of the same file is read above
                        rest = handle.read()
                        if rest:
                            yield rest
                        return
                    raise OSError(f"the audio {final.name} was abandoned part-way")
                if writer_dead:  # checked again above after the lock came free: not finished, so dead
                    raise OSError(f"the audio {final.name} was abandoned: its writer stopped")
                now = time.monotonic()
                if now - last_growth > stall_timeout:
                    raise OSError(f"the audio {final.name} stopped growing")
                if now - max(last_growth, last_check) > WRITER_CHECK_SECONDS:
                    last_check = now
                    # The writer holds its lock from before the first byte until the file is renamed into
                    # place (or removed): a free lock means it is gone, once the looks above are repeated.
                    writer_dead = writer_is_alive(handle.fileno()) is False
                    continue
                time.sleep(poll)
        finally:
            handle.close()

    def output(self, name: str) -> StoredAudio | None:
        """The stored audio for a public output name, or None (also for names that are not ours)."""
        if not is_output_name(name):
            return None
        return StoredFile.at(self.outputs_dir / name)

    def delete_output(self, name: str | None) -> None:
        if is_output_name(name):
            with suppress(FileNotFoundError):
                (self.outputs_dir / name).unlink()

    def purge_outputs(self, older_than: float) -> list[str]:
        """Delete generated audio older than ``older_than`` seconds; returns the names that went."""
        cutoff = time.time() - older_than
        gone = []
        for path in self.outputs_dir.iterdir():
            with suppress(FileNotFoundError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    gone.append(path.name)
        return gone


class ScratchOutput:
    """Generated audio being written to ``tmp/<name>.part``; subclasses decide where ``commit`` puts it."""

    def __init__(self, scratch: Scratch, name: str):
        self.name = name
        self.size = 0
        self.committed = False
        # Named after the output, so any process on this machine can follow it while it grows.
        self.part = scratch.partial_path(name)
        self._fh = open(self.part, "xb")  # noqa: SIM115 - closed by commit or discard
        # Locked until the file is renamed into place or removed: followers and the sweep of tmp/ see a
        # free lock as a dead writer.
        try:
            hold_lock(self._fh.fileno())
        except BaseException:
            self._fh.close()
            self.part.unlink(missing_ok=True)
            raise

    def write(self, chunk: bytes) -> None:
        self._fh.write(chunk)
        self._fh.flush()  # followers read what is on disk
        self.size += len(chunk)

    def _seal(self, finish: Callable[[Path], None] | None) -> None:
        """Make the scratch file whole and durable (and let ``finish`` fix it up, e.g. a WAV header).

        The handle stays open, holding the writer's lock, until ``_release`` (after the rename or removal).
        """
        self._fh.flush()
        os.fsync(self._fh.fileno())
        if finish is not None:
            finish(self.part)

    def _release(self) -> None:
        if not self._fh.closed:
            self._fh.close()

    def discard(self) -> None:
        """Drop the temporary file unless committed; safe to call more than once."""
        if not self.committed:
            with suppress(FileNotFoundError):
                self.part.unlink()
        self._release()


class OutputFile(ScratchOutput):
    """Generated audio on its way to disk: nothing appears under ``name`` until ``commit``."""

    def __init__(self, store: AudioStore, fmt: str):
        super().__init__(store, new_output_name(fmt))
        self.path = store.outputs_dir / self.name

    def commit(self, finish: Callable[[Path], None] | None = None) -> StoredAudio:
        self._seal(finish)
        os.replace(self.part, self.path)
        self.committed = True
        self._release()
        return StoredFile.at(self.path)
