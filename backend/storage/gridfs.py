"""The audio store in MongoDB (``AUDIO_STORE=gridfs``), so that every app instance serves the same audio.

Nothing a user needs is kept on one machine: reference and consent recordings live in the ``references``
bucket, generated speech in ``audio`` (cache entries in ``cache``, see ``backend.storage.cache``). DATA_DIR
keeps only the scratch folder (uploads being checked, speech being written).

Speech that is still being produced can be followed from any instance: the writer publishes each piece to
``audio_progress_pieces`` as it arrives, and a follower on another machine reads the pieces in order, then
the rest of the finished file from GridFS. While it writes, the writer refreshes its progress mark in
``audio_progress`` every second (a heartbeat), so a follower sees within seconds that a killed writer's
audio will not end. Every collection is reached through the DatabaseManager (``operation()``, ``bucket()``),
so outages surface as DatabaseUnavailable here as everywhere.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from bson import Binary
from gridfs import GridFSBucket, GridOut
from gridfs.errors import NoFile

from backend.database import DatabaseManager, utcnow
from backend.errors import DatabaseUnavailable
from backend.storage.follow import State, follow
from backend.storage.names import is_output_name, is_reference_key, new_output_name, new_reference_key
from backend.storage.scratch import Scratch

log = logging.getLogger(__name__)

# Audio being written whose writer has been silent this long was abandoned (a killed process).
ABANDONED_AFTER = timedelta(hours=1)
_FOLLOW_BATCH = 64
# A writer refreshes its progress mark this often, even while it waits for the provider; a follower that
# sees neither a new piece nor a refreshed mark for WRITER_DEAD_AFTER seconds takes the writer as dead.
HEARTBEAT_SECONDS = 1.0
WRITER_DEAD_AFTER = 5.0

Document = dict[str, Any]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class StoredBlob:
    """A complete file in a GridFS bucket."""

    name: str
    size: int
    modified: datetime
    bucket: GridFSBucket
    file_id: object
    path: None = None  # never a file on this machine

    @classmethod
    def of(cls, grid_out: GridOut, bucket: GridFSBucket) -> StoredBlob:
        return cls(grid_out.filename, grid_out.length, _aware(grid_out.upload_date), bucket, grid_out._id)

    def open(self) -> BinaryIO:
        """A seekable reader; FileNotFoundError when the file went in the meantime."""
        try:
            return self.bucket.open_download_stream(self.file_id)
        except NoFile as exc:
            raise FileNotFoundError(self.name) from exc


def find_blob(
    db: DatabaseManager, bucket: GridFSBucket, query: Document, sort: list[tuple[str, int]] | None = None
) -> StoredBlob | None:
    """The first file of ``bucket`` matching ``query`` (in ``sort`` order), or None."""
    with db.operation():
        found = next(iter(bucket.find(query, limit=1, sort=sort)), None)
    return None if found is None else StoredBlob.of(found, bucket)


def delete_blob(db: DatabaseManager, bucket: GridFSBucket, file_id: object) -> bool:
    """Delete a file; False when it was gone already."""
    with db.operation(), suppress(NoFile):
        bucket.delete(file_id)
        return True
    return False


class Heartbeat:
    """One thread per store that refreshes the progress marks of the audio this process is writing."""

    def __init__(self, refresh: Callable[[list[str]], None], every: float):
        self.refresh = refresh
        self.every = every
        self._names: set[str] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, name: str) -> None:
        with self._lock:
            self._names.add(name)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="audio-heartbeat", daemon=True)
                self._thread.start()

    def discard(self, name: str) -> None:
        with self._lock:
            self._names.discard(name)

    def _run(self) -> None:
        while True:
            time.sleep(self.every)
            with self._lock:
                names = list(self._names)
                if not names:
                    self._thread = None  # the next writer starts another
                    return
            try:
                self.refresh(names)
            except DatabaseUnavailable:
                pass  # followers elsewhere cannot read the pieces either
            except Exception:  # never let the heartbeat die for good
                log.exception("could not refresh the progress of audio being written")


class Progress:
    """Audio being written, published for every instance: a mark per name and its pieces, in order."""

    def __init__(self, db: DatabaseManager, heartbeat_every: float):
        self.db = db
        self._heartbeat = Heartbeat(self._refresh, heartbeat_every)

    def begin(self, name: str) -> None:
        with self.db.operation() as db:
            db.audio_progress.insert_one({"_id": name, "state": "writing", "updated_at": utcnow()})
        self._heartbeat.add(name)

    def publish(self, name: str, seq: int, data: bytes) -> None:
        with self.db.operation() as db:
            db.audio_progress_pieces.insert_one({"name": name, "seq": seq, "data": Binary(data)})

    def end(self, name: str) -> None:
        """Forget the pieces, then the mark (followers take an absent mark as "finished or abandoned")."""
        self._heartbeat.discard(name)
        with self.db.operation() as db:
            db.audio_progress_pieces.delete_many({"name": name})
            db.audio_progress.delete_one({"_id": name})

    def mark(self, name: str) -> Document | None:
        with self.db.operation() as db:
            return db.audio_progress.find_one({"_id": name})

    def pieces_after(self, name: str, seq: int) -> list[Document]:
        with self.db.operation() as db:
            query = {"name": name, "seq": {"$gt": seq}}
            return list(db.audio_progress_pieces.find(query, sort=[("seq", 1)], limit=_FOLLOW_BATCH))

    def abandoned(self, silent_for: timedelta) -> list[str]:
        """Names whose mark has not been refreshed for ``silent_for``: their writers died."""
        with self.db.operation() as db:
            return [d["_id"] for d in db.audio_progress.find({"updated_at": {"$lt": utcnow() - silent_for}})]

    def _refresh(self, names: list[str]) -> None:
        with self.db.operation() as db:
            db.audio_progress.update_many({"_id": {"$in": names}}, {"$set": {"updated_at": utcnow()}})


class GridStore:
    """Recordings and speech in GridFS: names and keys are the same random tokens, used as file ids."""

    kind = "gridfs"

    def __init__(self, data_dir: Path, db: DatabaseManager):
        self.db = db
        self.scratch = Scratch(data_dir)
        self.references = db.bucket("references")
        self.outputs = db.bucket("audio")
        self.progress = Progress(db, HEARTBEAT_SECONDS)

    def upload(self, stream: BinaryIO) -> AbstractContextManager[Path]:
        return self.scratch.upload(stream)

    def remove_stale_temporaries(self) -> int:
        return self.scratch.remove_stale_temporaries()

    # -- reference recordings ---------------------------------------------------------------------

    def keep_reference(self, source: Path, extension: str) -> str:
        """Store ``source`` under a new random key; nothing is visible under the key until it is complete."""
        key = new_reference_key(extension)
        with self.db.operation(), source.open("rb") as fh:
            self.references.upload_from_stream_with_id(key, key, fh, metadata={"kind": "reference"})
        return key

    def delete_reference(self, key: str | None) -> None:
        if is_reference_key(key):
            delete_blob(self.db, self.references, key)

    def reference(self, key: str | None) -> StoredBlob | None:
        return find_blob(self.db, self.references, {"_id": key}) if is_reference_key(key) else None

    def stored_references(self) -> list[tuple[str, datetime]]:
        with self.db.operation() as db:
            docs = list(db["references.files"].find({}, {"_id": 1, "uploadDate": 1}))
        return [(d["_id"], _aware(d["uploadDate"])) for d in docs if is_reference_key(d["_id"])]

    # -- synthesized audio ------------------------------------------------------------------------

    def new_output(self, fmt: str) -> GridOutput:
        return GridOutput(self, fmt)

    def output(self, name: str) -> StoredBlob | None:
        if not is_output_name(name):
            return None
        return find_blob(self.db, self.outputs, {"_id": name})

    def delete_output(self, name: str | None) -> None:
        if is_output_name(name):
            delete_blob(self.db, self.outputs, name)

    def purge_outputs(self, older_than: float) -> list[str]:
        """Delete generated audio older than ``older_than`` seconds, and audio abandoned part-way."""
        cutoff = utcnow() - timedelta(seconds=older_than)
        with self.db.operation():
            old = [g._id for g in self.outputs.find({"uploadDate": {"$lt": cutoff}})]
        abandoned = self.progress.abandoned(ABANDONED_AFTER)
        gone = [name for name in old if delete_blob(self.db, self.outputs, name)]
        for name in abandoned:
            self.progress.end(name)
        return gone

    def follow_output(self, name: str, *, stall_timeout: float = 60.0, poll: float = 0.05) -> Iterator[bytes] | None:
        """Audio still being written by any instance (see ``backend.storage.follow``); None if it is not.

        Raises, part-way, if the writer gives up (no mark and no file), dies (its mark's heartbeat stops for
        ``WRITER_DEAD_AFTER`` seconds with no new piece) or stops growing for ``stall_timeout``.
        """
        if not is_output_name(name) or self.progress.mark(name) is None:
            return None
        growing = _GrowingBlob(self, name)
        return follow(growing, stall_timeout=stall_timeout, poll=poll, check_after=0.0, dead_after=WRITER_DEAD_AFTER)


class GridOutput:
    """Generated audio on its way into GridFS: written to scratch, published piece by piece, stored on commit."""

    def __init__(self, store: GridStore, fmt: str):
        self.name = new_output_name(fmt)
        self._store = store
        self._seq = 0
        self._publishing = True
        self._committed = False
        store.progress.begin(self.name)  # the database is needed to store the audio: fail before any audio
        self._marked = True
        try:
            self._partial = store.scratch.begin(self.name)
        except BaseException:
            self._end_progress()
            raise

    @property
    def size(self) -> int:
        return self._partial.size

    def write(self, chunk: bytes) -> None:
        self._partial.write(chunk)
        if self._publishing:
            try:
                self._store.progress.publish(self.name, self._seq, chunk)
                self._seq += 1
            except DatabaseUnavailable:
                # The audio still reaches this client; followers elsewhere see it stop growing.
                log.warning("audio %s can no longer be followed from other instances", self.name)
                self._publishing = False

    def commit(self, finish: Callable[[Path], None] | None = None) -> StoredBlob:
        self._partial.seal(finish)
        store = self._store
        with store.db.operation(), self._partial.path.open("rb") as fh:
            store.outputs.upload_from_stream_with_id(self.name, self.name, fh, metadata={"kind": "speech"})
        self._committed = True
        size = self._partial.path.stat().st_size
        self._end_progress()
        self._partial.discard()  # stored: the scratch copy goes, then the writer's lock
        return StoredBlob(self.name, size, utcnow(), store.outputs, self.name)

    def discard(self) -> None:
        """Drop the scratch file and the published pieces unless committed; safe to call more than once."""
        if self._committed:
            self._partial.release()
            return
        self._partial.discard()
        self._end_progress()

    def _end_progress(self) -> None:
        if not self._marked:
            return
        self._marked = False
        try:
            self._store.progress.end(self.name)
        except DatabaseUnavailable:
            log.info("audio %s: its progress mark goes with the next purge", self.name)


class _GrowingBlob:
    """Audio being written on any instance, as a follower sees it: the published pieces, then the stored file."""

    def __init__(self, store: GridStore, name: str):
        self.name = name
        self._store = store
        self._seq = -1
        self._offset = 0
        self._mark: Document | None = None
        self._beat: object = None
        self._stored: StoredBlob | None = None

    def read_new(self) -> Sequence[bytes]:
        new = []
        for piece in self._store.progress.pieces_after(self.name, self._seq):
            if piece["seq"] != self._seq + 1:
                break  # pieces being deleted out of order: the finished file has the rest
            self._seq += 1
            self._offset += len(piece["data"])
            new.append(bytes(piece["data"]))
        return new

    def state(self) -> State:
        self._mark = self._store.progress.mark(self.name)
        if self._mark is not None:
            return State.WRITING
        self._stored = self._store.output(self.name)
        return State.ABANDONED if self._stored is None else State.FINISHED

    def read_rest(self) -> Iterator[bytes]:
        if self._stored is None:  # asked before the audio was finished: nothing to read yet
            return
        with self._stored.open() as fh:
            fh.seek(self._offset)
            while chunk := fh.read(1 << 16):
                yield chunk

    def writer_alive(self) -> bool | None:
        """True when the mark (as last looked at) was refreshed since the last call; None otherwise."""
        beat = None if self._mark is None else self._mark.get("updated_at")
        if beat is None or beat == self._beat:
            return None
        self._beat = beat
        return True

    def close(self) -> None:
        pass
