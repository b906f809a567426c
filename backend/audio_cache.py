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

_SAFE = re.compile(r"[^A-Za-z0-9_-]")
_RESCAN_SECONDS = 60.0


class AudioCache:
    """Files under ``root/<voice>/<key>.<format>``, evicted least-recently-used beyond ``max_bytes``.

    Entries are grouped by voice so that deleting a voice drops its entries in one step. Entries are
    copies (not links) of output files, so that bumping an entry's modification time, the recency
    mark, never changes an output's age. ``max_bytes == 0`` switches the cache off.
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

    def _voice_dir(self, reference_id: str | None) -> Path:
        return self.root / (_SAFE.sub("_", reference_id) if reference_id else "_default")

    def _path(self, reference_id: str | None, key: str, fmt: str) -> Path:
        return self._voice_dir(reference_id) / f"{key}.{fmt}"

    def lookup(self, reference_id: str | None, key: str, fmt: str) -> Path | None:
        if not self.enabled:
            return None
        path = self._path(reference_id, key, fmt)
        try:
            os.utime(path)  # recency mark for LRU
        except FileNotFoundError:
            return None
        return path

    def add(self, source: Path, reference_id: str | None, key: str, fmt: str) -> None:
        """Keep a copy of a finished output file as the cache entry."""
        if not self.enabled:
            return
        target = self._path(reference_id, key, fmt)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}")
        try:
            shutil.copyfile(source, temporary)
            os.replace(temporary, target)
        except OSError as exc:
            log.warning("could not cache audio: %s", exc)
            with suppress(FileNotFoundError):
                temporary.unlink()
            return
        self._grow(source.stat().st_size)

    def drop_voice(self, reference_id: str) -> None:
        shutil.rmtree(self._voice_dir(reference_id), ignore_errors=True)
        with self._lock:
            self._approx_bytes = None

    def _grow(self, size: int) -> None:
        with self._lock:
            stale = self._approx_bytes is None or time.monotonic() - self._last_scan > _RESCAN_SECONDS
            if not stale:
                self._approx_bytes += size
                if self._approx_bytes <= self.max_bytes:
                    return
            self.evict()

    def evict(self) -> int:
        """Remove least recently used entries until the cache fits; returns how many went. Caller holds no lock."""
        entries = []
        for path in self.root.glob("*/*"):
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
