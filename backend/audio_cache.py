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

log = logging.getLogger(__name__)

_RESCAN_SECONDS = 60.0
_ENTRY_NAME = re.compile(r"^[0-9a-f]{12}_[0-9a-f]{40}\.(mp3|wav|opus|pcm)$")


class AudioCache:
    """Files ``root/<namespace hash>_<request key>.<format>``, evicted least-recently-used beyond ``max_bytes``.

    A namespace is a voice (or "the default voice for this user"), so deleting a voice or an account drops
    its entries. An entry's name is a valid audio name of its own: a hit is served straight from the cache
    through a signed link, with no copy. Entries are copies (not links) of output files, so bumping an
    entry's modification time, the recency mark, never changes an output's age. ``max_bytes == 0`` switches
    the cache off.
    """

    def __init__(self, root: Path, max_bytes: int):
        self.root = Path(root)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._approx_bytes: int | None = None
        self._last_scan = 0.0
        if self.enabled:
            self.root.mkdir(parents=True, exist_ok=True)

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

    def _path(self, namespace: str, key: str, fmt: str) -> Path:
        return self.root / f"{self._prefix(namespace)}_{key}.{fmt}"

    def lookup(self, namespace: str, key: str, fmt: str) -> Path | None:
        if not self.enabled:
            return None
        path = self._path(namespace, key, fmt)
        try:
            os.utime(path)  # recency mark for LRU
        except FileNotFoundError:
            return None
        return path

    def entry(self, name: str) -> Path | None:
        """The entry with this public name, if there is one."""
        if not self.enabled or not _ENTRY_NAME.match(name):
            return None
        path = self.root / name
        return path if path.is_file() else None

    def add(self, source: Path, namespace: str, key: str, fmt: str) -> None:
        """Keep a copy of a finished output file as the cache entry."""
        if not self.enabled:
            return
        target = self._path(namespace, key, fmt)
        temporary = self.root / f".{target.name}.{os.getpid()}.{threading.get_ident()}"
        try:
            shutil.copyfile(source, temporary)
            os.replace(temporary, target)
        except OSError as exc:
            log.warning("could not cache audio: %s", exc)
            with suppress(FileNotFoundError):
                temporary.unlink()
            return
        self._grow(source.stat().st_size)

    def drop(self, namespace: str) -> int:
        """Remove every entry of a namespace (a deleted voice or account)."""
        if not self.enabled:
            return 0
        removed = 0
        for path in self.root.glob(f"{self._prefix(namespace)}_*"):
            with suppress(FileNotFoundError):
                path.unlink()
                removed += 1
        with self._lock:
            self._approx_bytes = None
        return removed

    def _grow(self, size: int) -> None:
        with self._lock:
            stale = self._approx_bytes is None or time.monotonic() - self._last_scan > _RESCAN_SECONDS
            if not stale:
                self._approx_bytes += size
                if self._approx_bytes <= self.max_bytes:
                    return
            self.evict()

    def evict(self) -> int:
        """Remove least recently used entries until the cache fits; returns how many went."""
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
        self._approx_bytes = total
        self._last_scan = time.monotonic()
        return removed


def default_voice_namespace(user_id: object) -> str:
    """The cache namespace of a user's requests for the provider's default voice."""
    return f"default:{user_id}"
