"""Where the local engine keeps its voice profiles: JSON files on this machine, or the shared database."""

from __future__ import annotations

import os
import tempfile
import time
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from backend.database import DatabaseManager


def new_profile(*, version: int, engine: str, model_id: str, title: str, **fields: Any) -> dict[str, Any]:
    """A new voice profile: what every engine's profile starts with (made now, in UTC), then ``fields``."""
    return {
        "version": version,
        "engine": engine,
        "model_id": model_id,
        "title": title,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **fields,
    }


class FileProfiles:
    """Local voice profiles as JSON files, data_dir/voices/<model_id>.json, written atomically."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def _path(self, model_id: str) -> Path:
        return self.directory / f"{model_id}.json"

    def load(self, model_id: str) -> str | None:
        try:
            return self._path(model_id).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def save(self, model_id: str, text: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self._path(model_id))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def delete(self, model_id: str) -> None:
        self._path(model_id).unlink(missing_ok=True)

    def stored(self) -> list[tuple[str, datetime]]:
        found = []
        for path in self.directory.glob("*.json") if self.directory.is_dir() else ():
            if not path.name.startswith("."):
                with suppress(FileNotFoundError):
                    found.append((path.stem, datetime.fromtimestamp(path.stat().st_mtime, UTC)))
        return found

    def remove_temporaries(self, older_than: float) -> int:
        """Remove half-written profiles (``.tmp-*.json``) left by a killed process, older than ``older_than`` s."""
        removed = 0
        cutoff = time.time() - older_than
        for path in self.directory.glob(".tmp-*.json") if self.directory.is_dir() else ():
            with suppress(FileNotFoundError):
                if path.stat().st_mtime <= cutoff:
                    path.unlink()
                    removed += 1
        return removed


class DatabaseProfiles:
    """Local voice profiles in the database, so that every instance can speak with every local voice."""

    def __init__(self, db: DatabaseManager):
        self.db = db

    def load(self, model_id: str) -> str | None:
        return self.db.get_local_profile(model_id)

    def save(self, model_id: str, text: str) -> None:
        self.db.save_local_profile(model_id, text)

    def delete(self, model_id: str) -> None:
        self.db.delete_local_profile(model_id)

    def stored(self) -> list[tuple[str, datetime]]:
        return self.db.local_profiles_saved()

    def remove_temporaries(self, older_than: float) -> int:
        return 0  # a database write is whole or absent
