"""Audio in MongoDB (GridFS), so that every app instance serves the same recordings, speech and cache.

With ``AUDIO_STORE=gridfs`` (the default when MONGODB_URI is set) nothing a user needs is kept on one
machine: reference and consent recordings live in the ``references`` bucket, generated speech in ``audio``,
cache entries in ``cache``. DATA_DIR keeps only scratch files (uploads being checked, speech being written).

Speech that is still being produced can be followed from any instance: the writer publishes each piece
to ``audio_progress_pieces`` as it arrives, and a follower on another machine reads the pieces in order,
then the rest of the finished file from GridFS. While it writes, the writer refreshes its progress mark
every second (a heartbeat), so a follower sees within seconds that a killed writer's audio will not end.
This module, like ``backend.database``, is data layer.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from bson import Binary
from gridfs.errors import NoFile

from backend.audio_cache import CacheBase
from backend.database import DatabaseManager, utcnow
from backend.errors import DatabaseUnavailable
from backend.storage import (
    Scratch,
    ScratchOutput,
    StoredAudio,
    is_output_name,
    is_reference_key,
    new_output_name,
    new_reference_key,
)

log = logging.getLogger(__name__)

# Audio being written whose writer has been silent this long was abandoned (a killed process).
ABANDONED_AFTER = timedelta(hours=1)
_FOLLOW_BATCH = 64
# A writer refreshes its progress mark this often, even while it waits for the provider; a follower that
# sees neither a new piece nor a refreshed mark for WRITER_DEAD_AFTER seconds (by its own clock, so clocks
# need not agree between machines) takes the writer as dead.
HEARTBEAT_SECONDS = 1.0
WRITER_DEAD_AFTER = 5.0


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class StoredBlob:
    """A complete file in a GridFS bucket."""

    name: str
    size: int
    modified: datetime
    bucket: Any
    file_id: Any
    path: Path | None = None

    @classmethod
    def of(cls, grid_out: Any, bucket: Any, name: str | None = None) -> StoredBlob:
        return cls(
            name=name or grid_out.filename,
            size=grid_out.length,
            modified=_aware(grid_out.upload_date),
            bucket=bucket,
            file_id=grid_out._id,
        )

    def open(self) -> BinaryIO:
        """A seekable reader; FileNotFoundError when the file went in the meantime."""
        try:
            return self.bucket.open_download_stream(self.file_id)
        except NoFile as exc:
            raise FileNotFoundError(self.name) from exc


def _first(db: DatabaseManager, bucket: Any, query: dict, **kwargs: Any) -> Any | None:
    with db.operation():
        return next(iter(bucket.find(query, limit=1, **kwargs)), None)


def _delete(db: DatabaseManager, bucket: Any, file_id: Any) -> bool:
    with db.operation(), suppress(NoFile):
        bucket.delete(file_id)
        return True
    return False


class _Heartbeat:
    """One thread per store that refreshes the progress marks of the audio this process is writing."""

    def __init__(self, db: DatabaseManager, every: float):
        self.db = db
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
                with self.db.operation() as db:
                    db.audio_progress.update_many({"_id": {"$in": names}}, {"$set": {"updated_at": utcnow()}})
            except DatabaseUnavailable:
                pass  # followers elsewhere cannot read the pieces either
            except Exception:  # never let the heartbeat die for good
                log.exception("could not refresh the progress of audio being written")


class GridAudioStore(Scratch):
    """The ``AudioStore`` face over GridFS: names and keys are the same random tokens, used as file ids."""

    kind = "gridfs"

    def __init__(self, data_dir: Path, db: DatabaseManager):
        super().__init__(data_dir)
        self.db = db
        self.references = db.bucket("references")
        self.outputs = db.bucket("audio")
        self._heartbeat = _Heartbeat(db, HEARTBEAT_SECONDS)

    # -- reference recordings ---------------------------------------------------------------------

    def keep_reference(self, source: Path, extension: str) -> str:
        """Store ``source`` under a new random key; nothing is visible under the key until it is complete."""
        key = new_reference_key(extension)
        with self.db.operation(), source.open("rb") as fh:
            self.references.upload_from_stream_with_id(key, key, fh, metadata={"kind": "reference"})
        return key

    def reference(self, key: str) -> StoredAudio | None:
        if not is_reference_key(key):
            return None
        found = _first(self.db, self.references, {"_id": key})
        return None if found is None else StoredBlob.of(found, self.references)

    def delete_reference(self, key: str | None) -> None:
        if is_reference_key(key):
            _delete(self.db, self.references, key)

    def stored_references(self) -> list[tuple[str, datetime]]:
        """Every kept recording's key with the time it was stored (for the start-up sweep)."""
        with self.db.operation() as db:
            docs = list(db["references.files"].find({}, {"_id": 1, "uploadDate": 1}))
        return [(d["_id"], _aware(d["uploadDate"])) for d in docs if is_reference_key(d["_id"])]

    # -- synthesized audio ------------------------------------------------------------------------

    def new_output(self, fmt: str) -> GridOutputFile:
        return GridOutputFile(self, fmt)

    def output(self, name: str) -> StoredAudio | None:
        if not is_output_name(name):
            return None
        found = _first(self.db, self.outputs, {"_id": name})
        return None if found is None else StoredBlob.of(found, self.outputs)

    def delete_output(self, name: str | None) -> None:
        if is_output_name(name):
            _delete(self.db, self.outputs, name)

    def purge_outputs(self, older_than: float) -> list[str]:
        """Delete generated audio older than ``older_than`` seconds, and audio abandoned part-way."""
        now = utcnow()
        with self.db.operation() as db:
            old = [g._id for g in self.outputs.find({"uploadDate": {"$lt": now - timedelta(seconds=older_than)}})]
            abandoned = [d["_id"] for d in db.audio_progress.find({"updated_at": {"$lt": now - ABANDONED_AFTER}})]
        gone = [name for name in old if _delete(self.db, self.outputs, name)]
        for name in abandoned:
            self._progress_end(name)
        return gone

    # -- audio being written, followed from any instance ------------------------------------------

    def _progress_begin(self, name: str) -> None:
        with self.db.operation() as db:
            db.audio_progress.insert_one({"_id": name, "state": "writing", "updated_at": utcnow()})
        self._heartbeat.add(name)

    def _progress_piece(self, name: str, seq: int, data: bytes) -> None:
        with self.db.operation() as db:
            db.audio_progress_pieces.insert_one({"name": name, "seq": seq, "data": Binary(data)})

    def _progress_end(self, name: str) -> None:
        """Forget the pieces, then the mark (followers take an absent mark as "finished or abandoned")."""
        self._heartbeat.discard(name)
        with self.db.operation() as db:
            db.audio_progress_pieces.delete_many({"name": name})
            db.audio_progress.delete_one({"_id": name})

    def follow_output(self, name: str, *, stall_timeout: float = 60.0, poll: float = 0.05) -> Iterator[bytes] | None:
        """Audio still being written (by any instance), from its first byte to its last; None if it is not.

        Raises, part-way, if the writer gives up (no mark and no file), dies (its mark's heartbeat stops for
        ``WRITER_DEAD_AFTER`` seconds with no new piece) or stops growing for ``stall_timeout``.
        """
        if not is_output_name(name):
            return None
        with self.db.operation() as db:
            if db.audio_progress.find_one({"_id": name}) is None:
                return None
        return self._follow(name, stall_timeout, poll)

    def _follow(self, name: str, stall_timeout: float, poll: float) -> Iterator[bytes]:
        seq, offset = -1, 0
        last_growth = last_beat = time.monotonic()
        beat = None
        while True:
            with self.db.operation() as db:
                pieces = list(
                    db.audio_progress_pieces.find(
                        {"name": name, "seq": {"$gt": seq}}, sort=[("seq", 1)], limit=_FOLLOW_BATCH
                    )
                )
            taken = False
            for piece in pieces:
                if piece["seq"] != seq + 1:
                    break  # pieces being deleted out of order: the finished file has the rest
                seq += 1
                offset += len(piece["data"])
                taken = True
                yield bytes(piece["data"])
            if taken:
                last_growth = time.monotonic()
                continue
            with self.db.operation() as db:
                mark = db.audio_progress.find_one({"_id": name})
            if mark is not None and mark.get("updated_at") != beat:
                beat, last_beat = mark.get("updated_at"), time.monotonic()
            if mark is None:
                stored = self.output(name)
                if stored is None:
                    raise OSError(f"the audio {name} was abandoned part-way")
                with stored.open() as fh:
                    fh.seek(offset)
                    while chunk := fh.read(1 << 16):
                        yield chunk
                return
            now = time.monotonic()
            if now - max(last_growth, last_beat) > WRITER_DEAD_AFTER:
                raise OSError(f"the audio {name} was abandoned: its writer stopped")
            if now - last_growth > stall_timeout:
                raise OSError(f"the audio {name} stopped growing")
            time.sleep(poll)


class GridOutputFile(ScratchOutput):
    """Generated audio on its way into GridFS: written to scratch, published piece by piece, stored on commit."""

    def __init__(self, store: GridAudioStore, fmt: str):
        self._store = store
        self._seq = 0
        self._publishing = True
        name = new_output_name(fmt)
        store._progress_begin(name)  # the database is needed to store the audio: fail before any audio
        self._marked = True
        self.name = name
        try:
            super().__init__(store, name)
        except BaseException:
            self._end_progress()
            raise

    def write(self, chunk: bytes) -> None:
        super().write(chunk)
        if self._publishing:
            try:
                self._store._progress_piece(self.name, self._seq, chunk)
                self._seq += 1
            except DatabaseUnavailable:
                # The audio still reaches this client; followers elsewhere see it stop growing.
                log.warning("audio %s can no longer be followed from other instances", self.name)
                self._publishing = False

    def commit(self, finish: Callable[[Path], None] | None = None) -> StoredAudio:
        self._seal(finish)
        store = self._store
        with store.db.operation(), self.part.open("rb") as fh:
            store.outputs.upload_from_stream_with_id(self.name, self.name, fh, metadata={"kind": "speech"})
        self.committed = True
        size = self.part.stat().st_size
        self._end_progress()
        self.part.unlink(missing_ok=True)
        self._release()
        return StoredBlob(self.name, size, utcnow(), store.outputs, self.name)

    def _end_progress(self) -> None:
        if not self._marked:
            return
        self._marked = False
        try:
            self._store._progress_end(self.name)
        except DatabaseUnavailable:
            log.info("audio %s: its progress mark goes with the next purge", self.name)

    def discard(self) -> None:
        """Drop the scratch file and the published pieces unless committed; safe to call more than once."""
        super().discard()
        if not self.committed:
            self._end_progress()


class GridAudioCache(CacheBase):
    """Cache entries in the ``cache`` bucket, shared by every instance; LRU by ``metadata.last_used``.

    Entries get fresh ids and are found by name, so two instances caching the same answer at once
    both succeed (the later one is found first; eviction removes the other in time).
    """

    def __init__(self, db: DatabaseManager, max_bytes: int):
        super().__init__(max_bytes)
        self.db = db
        self.bucket = db.bucket("cache") if self.enabled else None

    def _find(self, name: str) -> StoredBlob | None:
        found = _first(self.db, self.bucket, {"filename": name}, sort=[("uploadDate", -1)])
        return None if found is None else StoredBlob.of(found, self.bucket)

    def lookup(self, namespace: str, key: str, fmt: str) -> StoredAudio | None:
        if not self.enabled:
            return None
        try:
            entry = self._find(self.entry_name(namespace, key, fmt))
            if entry is not None:
                with self.db.operation() as db:
                    db["cache.files"].update_one({"_id": entry.file_id}, {"$set": {"metadata.last_used": utcnow()}})
        except DatabaseUnavailable:
            return None  # no cache while the database is away: the provider answers
        return entry

    def entry(self, name: str) -> StoredAudio | None:
        if not self.enabled or not self.is_entry_name(name):
            return None
        return self._find(name)

    def add(self, source: StoredAudio, namespace: str, key: str, fmt: str) -> None:
        if not self.enabled:
            return
        name = self.entry_name(namespace, key, fmt)
        try:
            with self.db.operation(), source.open() as fh:
                self.bucket.upload_from_stream(name, fh, metadata={"last_used": utcnow(), "kind": "cache"})
        except (DatabaseUnavailable, OSError) as exc:
            log.warning("could not cache audio: %s", exc)
            return
        self._grow(source.size)

    def drop(self, namespace: str) -> int:
        if not self.enabled:
            return 0
        pattern = "^" + re.escape(self._prefix(namespace) + "_")
        with self.db.operation():
            ids = [g._id for g in self.bucket.find({"filename": {"$regex": pattern}})]
        removed = sum(_delete(self.db, self.bucket, file_id) for file_id in ids)
        self._forget_size()
        return removed

    def _evict(self) -> tuple[int, int]:
        with self.db.operation() as db:
            files = db["cache.files"]
            totals = list(files.aggregate([{"$group": {"_id": None, "bytes": {"$sum": "$length"}}}]))
            total = totals[0]["bytes"] if totals else 0
            victims = []
            if total > self.max_bytes:
                excess = total - self.max_bytes
                for doc in files.find({}, {"length": 1}, sort=[("metadata.last_used", 1)]):
                    if excess <= 0:
                        break
                    victims.append(doc["_id"])
                    excess -= doc["length"]
        removed = 0
        for file_id in victims:
            if _delete(self.db, self.bucket, file_id):
                removed += 1
        with self.db.operation() as db:
            totals = list(db["cache.files"].aggregate([{"$group": {"_id": None, "bytes": {"$sum": "$length"}}}]))
        return removed, totals[0]["bytes"] if totals else 0
