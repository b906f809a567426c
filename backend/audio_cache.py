"""A bounded on-disk cache of synthesized audio: identical requests are answered without the provider."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import threading
import time
from contextlib import suppress
from pathlib import Path

from backend.storage import StoredAudio, StoredFile

log = logging.getLogger(__name__)

_RESCAN_SECONDS = 60.0
_ENTRY_NAME = re.compile(r"^[0-9a-f]{12}_[0-9a-f]{40}\.(mp3|wav|opus|pcm)$")


class CacheBase:
    """What every cache shares: entry names, the on/off switch and the running size estimate.

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
        return isinstance(name, str) and bool(_ENTRY_NAME.match(name))

    def _grow(self, size: int) -> None:
        """Count an added entry; evict when the estimate (rescanned every minute) passes the bound."""
        with self._lock:
            stale = self._approx_bytes is None or time.monotonic() - self._last_scan > _RESCAN_SECONDS
            if not stale:
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

    def _evict(self) -> tuple[int, int]:
        """Remove least recently used entries until the cache fits: (entries removed, bytes left)."""
        raise NotImplementedError


class AudioCache(CacheBase):
    """Files ``root/<entry name>`` on this machine, evicted least-recently-used beyond ``max_bytes``.

    Entries are copies (not links) of output files, so bumping an entry's modification time, the recency
    mark, never changes an output's age.
    """

    def __init__(self, root: Path, max_bytes: int):
        super().__init__(max_bytes)
        self.root = Path(root)
        if self.enabled:
            self.root.mkdir(parents=True, exist_ok=True)

    def lookup(self, namespace: str, key: str, fmt: str) -> StoredAudio | None:
        if not self.enabled:
            return None
        path = self.root / self.entry_name(namespace, key, fmt)
        try:
            os.utime(path)  # recency mark for LRU
        except FileNotFoundError:
            return None
        return StoredFile.at(path)

    def entry(self, name: str) -> StoredAudio | None:
        """The entry with this public name, if there is one."""
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
        """Remove every entry of a namespace (a deleted voice or account)."""
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


def default_voice_namespace(user_id: object) -> str:
    """The cache namespace of a user's requests for the provider's default voice."""
    return f"default:{user_id}"
