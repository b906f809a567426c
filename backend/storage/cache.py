"""A bounded cache of synthesized audio: identical requests are answered without the provider.

``FileCache`` keeps entries on this machine (DATA_DIR/cache), ``GridCache`` in the ``cache`` GridFS bucket,
shared by every instance. Both evict least recently used entries beyond their bound.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import threading
import time
from abc import ABC, abstractmethod
from contextlib import suppress
from pathlib import Path

from backend.database import DatabaseManager, utcnow
from backend.errors import DatabaseUnavailable
from backend.formats import EXTENSIONS_PATTERN
from backend.storage import StoredAudio
from backend.storage.files import StoredFile
from backend.storage.gridfs import StoredBlob, delete_blob, find_blob

log = logging.getLogger(__name__)

_RESCAN_SECONDS = 60.0
_ENTRY_NAME = re.compile(rf"[0-9a-f]{{12}}_[0-9a-f]{{40}}\.({EXTENSIONS_PATTERN})")


def default_voice_namespace(user_id: object) -> str:
    """The cache namespace of a user's requests for the provider's default voice."""
    return f"default:{user_id}"


class _BoundedCache(ABC):
    """What both caches share: entry names, the on/off switch and the running size estimate.

    An entry is named ``<namespace hash>_<request key>.<format>``. A namespace is a voice (or "the default
    voice for this user"), so deleting a voice or an account drops its entries. An entry's name is a valid
    audio name of its own: a hit is served straight from the cache through a signed link, with no copy.
    ``max_bytes == 0`` switches the cache off.
    """

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._approx_bytes: int | None = None
        self._last_scan = 0.0

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    @staticmethod
    def key(**parts: object) -> str:
        """A stable digest of everything that shapes the audio (provider, voice, model, text, format, options)."""
        return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:40]

    @staticmethod
    def _prefix(namespace: str) -> str:
        return hashlib.sha256(namespace.encode()).hexdigest()[:12]

    def entry_name(self, namespace: str, key: str, fmt: str) -> str:
        return f"{self._prefix(namespace)}_{key}.{fmt}"

    @staticmethod
    def is_entry_name(name: object) -> bool:
        return isinstance(name, str) and bool(_ENTRY_NAME.fullmatch(name))

    def _grow(self, size: int) -> None:
        """Count an added entry; evict when the estimate (rescanned every minute) passes the bound."""
        with self._lock:
            stale = self._approx_bytes is None or time.monotonic() - self._last_scan > _RESCAN_SECONDS
            if self._approx_bytes is not None and not stale:
                self._approx_bytes += size
                if self._approx_bytes <= self.max_bytes:
                    return
            self.evict()

    def _forget_size(self) -> None:
        with self._lock:
            self._approx_bytes = None

    def evict(self) -> int:
        """Remove least recently used entries until the cache fits; returns how many went."""
        removed, left = self._evict()
        self._approx_bytes = left
        self._last_scan = time.monotonic()
        return removed

    @abstractmethod
    def _evict(self) -> tuple[int, int]:
        """Remove least recently used entries until the cache fits: (entries removed, bytes left)."""


class FileCache(_BoundedCache):
    """Files ``root/<entry name>`` on this machine, evicted least-recently-used beyond ``max_bytes``.

    Entries are copies (not links) of output files, so bumping an entry's modification time, the recency
    mark, never changes an output's age.
    """

    def __init__(self, root: Path, max_bytes: int):
        super().__init__(max_bytes)
        self.root = Path(root)
        if self.enabled:
            self.root.mkdir(parents=True, exist_ok=True)

    def lookup(self, namespace: str, key: str, fmt: str) -> StoredFile | None:
        if not self.enabled:
            return None
        path = self.root / self.entry_name(namespace, key, fmt)
        try:
            os.utime(path)  # recency mark for LRU
        except FileNotFoundError:
            return None
        return StoredFile.at(path)

    def entry(self, name: str) -> StoredFile | None:
        if not self.enabled or not self.is_entry_name(name):
            return None
        return StoredFile.at(self.root / name)

    def add(self, source: StoredAudio, namespace: str, key: str, fmt: str) -> None:
        """Keep a copy of a finished output as the cache entry."""
        if not self.enabled:
            return
        target = self.root / self.entry_name(namespace, key, fmt)
        temporary = self.root / f".{target.name}.{os.getpid()}.{threading.get_ident()}"
        try:
            with source.open() as src, temporary.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 16)
            os.replace(temporary, target)
        except OSError as exc:
            log.warning("could not cache audio: %s", exc)
            with suppress(FileNotFoundError):
                temporary.unlink()
            return
        self._grow(source.size)

    def drop(self, namespace: str) -> int:
        if not self.enabled:
            return 0
        removed = 0
        for path in self.root.glob(f"{self._prefix(namespace)}_*"):
            with suppress(FileNotFoundError):
                path.unlink()
                removed += 1
        self._forget_size()
        return removed

    def _evict(self) -> tuple[int, int]:
        entries = []
        for path in self.root.glob("*_*"):
            with suppress(FileNotFoundError):
                stat = path.stat()
                entries.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _, size, _ in entries)
        removed = 0
        for _, size, path in sorted(entries):
            if total <= self.max_bytes:
                break
            with suppress(FileNotFoundError):
                path.unlink()
                total -= size
                removed += 1
        return removed, total


class GridCache(_BoundedCache):
    """Cache entries in the ``cache`` bucket, shared by every instance; LRU by ``metadata.last_used``.

    Entries get fresh ids and are found by name, so two instances caching the same answer at once
    both succeed (the later one is found first; eviction removes the other in time).
    """

    def __init__(self, db: DatabaseManager, max_bytes: int):
        super().__init__(max_bytes)
        self.db = db
        self.bucket = db.bucket("cache") if self.enabled else None

    def _find(self, name: str) -> StoredBlob | None:
        if self.bucket is None:
            return None
        return find_blob(self.db, self.bucket, {"filename": name}, sort=[("uploadDate", -1)])

    def lookup(self, namespace: str, key: str, fmt: str) -> StoredBlob | None:
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

    def entry(self, name: str) -> StoredBlob | None:
        if not self.enabled or not self.is_entry_name(name):
            return None
        return self._find(name)

    def add(self, source: StoredAudio, namespace: str, key: str, fmt: str) -> None:
        if not self.enabled or self.bucket is None:
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
        if not self.enabled or self.bucket is None:
            return 0
        bucket = self.bucket
        pattern = "^" + re.escape(self._prefix(namespace) + "_")
        with self.db.operation():
            ids = [g._id for g in bucket.find({"filename": {"$regex": pattern}})]
        removed = sum(delete_blob(self.db, bucket, file_id) for file_id in ids)
        self._forget_size()
        return removed

    def _total_bytes(self) -> int:
        with self.db.operation() as db:
            totals = list(db["cache.files"].aggregate([{"$group": {"_id": None, "bytes": {"$sum": "$length"}}}]))
        return totals[0]["bytes"] if totals else 0

    def _evict(self) -> tuple[int, int]:
        if self.bucket is None:
            return 0, 0
        excess = self._total_bytes() - self.max_bytes
        victims = []
        if excess > 0:
            with self.db.operation() as db:
                for doc in db["cache.files"].find({}, {"length": 1}, sort=[("metadata.last_used", 1)]):
                    if excess <= 0:
                        break
                    victims.append(doc["_id"])
                    excess -= doc["length"]
        removed = sum(delete_blob(self.db, self.bucket, file_id) for file_id in victims)
        return removed, self._total_bytes()
