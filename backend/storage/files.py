"""The audio store on this machine's disk (``AUDIO_STORE=files``), under DATA_DIR.

Directory layout: tmp/ (the scratch folder: work in progress), references/ (kept recordings), audio/
(generated speech). A file appears under its final name only when it is complete (written in tmp/, then
renamed), so a crash leaves no partial file under a public name. Audio still being written is followed
through its partial file in tmp/, by any process on this machine.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from backend.storage.follow import State, follow
from backend.storage.names import is_output_name, is_reference_key, new_output_name, new_reference_key
from backend.storage.scratch import Scratch, writer_is_alive

# A follower that gets no audio for this long asks whether the writer is still alive (its lock).
WRITER_CHECK_SECONDS = 1.0


@dataclass(frozen=True)
class StoredFile:
    """A complete file on this machine."""

    name: str
    path: Path
    size: int
    modified: datetime

    @classmethod
    def at(cls, path: Path) -> StoredFile | None:
        """The file at ``path``, or None when there is none."""
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        return cls(path.name, path, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC))

    def open(self) -> BinaryIO:
        return self.path.open("rb")


class FileStore:
    """Recordings and speech on this machine. Names and keys are random tokens chosen here."""

    kind = "files"

    def __init__(self, data_dir: Path):
        root = Path(data_dir)
        self.scratch = Scratch(root)
        self.references_dir = root / "references"
        self.outputs_dir = root / "audio"
        for directory in (self.references_dir, self.outputs_dir):
            directory.mkdir(parents=True, exist_ok=True)

    def upload(self, stream: BinaryIO) -> AbstractContextManager[Path]:
        return self.scratch.upload(stream)

    def remove_stale_temporaries(self) -> int:
        return self.scratch.remove_stale_temporaries()

    # -- reference recordings ---------------------------------------------------------------------

    def keep_reference(self, source: Path, extension: str) -> str:
        """Copy ``source`` into references/ under a new random key; returns the key."""
        key = new_reference_key(extension)
        with self.scratch.temporary(".part") as part:
            with source.open("rb") as src, part.open("wb") as dst:
                while chunk := src.read(1 << 16):
                    dst.write(chunk)
                dst.flush()
                os.fsync(dst.fileno())
            os.replace(part, self.references_dir / key)
        return key

    def delete_reference(self, key: str | None) -> None:
        if is_reference_key(key):
            with suppress(FileNotFoundError):
                (self.references_dir / key).unlink()

    def reference(self, key: str | None) -> StoredFile | None:
        return StoredFile.at(self.references_dir / key) if is_reference_key(key) else None

    def stored_references(self) -> list[tuple[str, datetime]]:
        found = []
        for path in self.references_dir.iterdir():
            if is_reference_key(path.name):
                with suppress(FileNotFoundError):
                    found.append((path.name, datetime.fromtimestamp(path.stat().st_mtime, UTC)))
        return found

    # -- synthesized audio ------------------------------------------------------------------------

    def new_output(self, fmt: str) -> FileOutput:
        """A new output file, written in tmp/ and renamed into audio/ on commit."""
        return FileOutput(self.scratch, self.outputs_dir, fmt)

    def follow_output(self, name: str, *, stall_timeout: float = 60.0, poll: float = 0.05) -> Iterator[bytes] | None:
        """Audio still being written by any process on this machine (see ``backend.storage.follow``).

        It ends when the file is complete, and raises if the writer gives up (the partial file vanishes
        without a final one), dies (nobody holds the writer's lock on the partial file: seen within about a
        second of silence), or stops growing for ``stall_timeout`` seconds.
        """
        if not is_output_name(name):
            return None
        part = self.scratch.partial_path(name)
        try:
            handle = part.open("rb")
        except FileNotFoundError:
            return None
        growing = _GrowingFile(name, handle, part, self.outputs_dir / name)
        return follow(growing, stall_timeout=stall_timeout, poll=poll, check_after=WRITER_CHECK_SECONDS)

    def output(self, name: str) -> StoredFile | None:
        if not is_output_name(name):
            return None
        return StoredFile.at(self.outputs_dir / name)

    def delete_output(self, name: str | None) -> None:
        if is_output_name(name):
            with suppress(FileNotFoundError):
                (self.outputs_dir / name).unlink()

    def purge_outputs(self, older_than: float) -> list[str]:
        cutoff = time.time() - older_than
        gone = []
        for path in self.outputs_dir.iterdir():
            with suppress(FileNotFoundError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    gone.append(path.name)
        return gone


class FileOutput:
    """Generated audio on its way to disk: written to ``tmp/<name>.part``, renamed into place on commit."""

    def __init__(self, scratch: Scratch, outputs_dir: Path, fmt: str):
        self.name = new_output_name(fmt)
        self.path = outputs_dir / self.name
        self._partial = scratch.begin(self.name)
        self._committed = False

    @property
    def size(self) -> int:
        return self._partial.size

    def write(self, chunk: bytes) -> None:
        self._partial.write(chunk)

    def commit(self, finish: Callable[[Path], None] | None = None) -> StoredFile:
        self._partial.seal(finish)
        os.replace(self._partial.path, self.path)
        self._committed = True
        self._partial.release()  # only now: followers see the final file before the lock comes free
        stored = StoredFile.at(self.path)
        if stored is None:
            raise FileNotFoundError(self.path)
        return stored

    def discard(self) -> None:
        if not self._committed:
            self._partial.discard()


class _GrowingFile:
    """A partial file in tmp/ as a follower sees it: read through its own handle, finished once renamed."""

    def __init__(self, name: str, handle: BinaryIO, part: Path, final: Path):
        self.name = name
        self._handle = handle
        self._part = part
        self._final = final

    def read_new(self) -> Sequence[bytes]:
        chunk = self._handle.read(1 << 15)
        return [chunk] if chunk else []

    def state(self) -> State:
        if self._part.exists():
            return State.WRITING
        # Renamed into place: what is left of the same file is read through the handle.
        return State.FINISHED if self._final.exists() else State.ABANDONED

    def read_rest(self) -> Iterator[bytes]:
        if rest := self._handle.read():
            yield rest

    def writer_alive(self) -> bool | None:
        # The writer holds its lock from before the first byte until the file is renamed into place (or
        # removed): a free lock means it is gone.
        return writer_is_alive(self._handle.fileno())

    def close(self) -> None:
        self._handle.close()
