"""Provider voices that must still be deleted: their record was never saved, and deleting them failed.

Kept in DATA_DIR/pending_deletions.json and retried at start and at the hourly upkeep.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)


class PendingDeletions:
    """A small JSON list of ``{"model_id", "provider"}``, rewritten whole through a temporary file and a rename,
    under a process-wide lock."""

    _lock = threading.Lock()

    def __init__(self, path: Path):
        self.path = path

    def _read(self) -> list[dict[str, str]]:
        try:
            items = json.loads(self.path.read_text())
        except FileNotFoundError:
            return []
        except ValueError:
            log.error("%s is unreadable; starting a new list", self.path)
            return []
        return [item for item in items if isinstance(item, dict) and item.get("model_id")]

    def _write(self, items: list[dict[str, str]]) -> None:
        if not items:
            self.path.unlink(missing_ok=True)
            return
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        temporary.write_text(json.dumps(items))
        os.replace(temporary, self.path)

    def items(self) -> list[dict[str, str]]:
        with self._lock:
            return self._read()

    def append(self, model_id: str, provider: str) -> None:
        with self._lock:
            items = self._read()
            items.append({"model_id": model_id, "provider": provider})
            self._write(items)

    def retry(self, delete: Callable[[str, str], bool]) -> int:
        """Call ``delete(model_id, provider)`` for each; those it returns True for go. Returns how many are left."""
        with self._lock:
            remaining = [item for item in self._read() if not delete(item["model_id"], item.get("provider", ""))]
            self._write(remaining)
            return len(remaining)
