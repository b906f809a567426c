"""The outage journal: voice model records kept while the database was away, saved once it answers.

A voice cloned while the database is unavailable has no record, but it is live (the user was given its id).
Its record waits in ``DATA_DIR/unsaved_voice_models.json``, counts as live for the start-up sweep
(``backend.services.upkeep``), and is saved at start and at the hourly upkeep, once the database answers.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path
from typing import Any

from bson import ObjectId, json_util
from bson.json_util import JSONOptions

from backend.database import DatabaseManager, utcnow
from backend.errors import DatabaseUnavailable

log = logging.getLogger(__name__)

JOURNAL_NAME = "unsaved_voice_models.json"
_JSON = JSONOptions(tz_aware=True, tzinfo=UTC)


class JournalUnreadable(Exception):
    """The journal cannot be read: nothing is saved from it, and nothing it may point at is swept."""


class UnsavedVoiceModels:
    """Voice model records that could not be saved (database unavailable), kept until they are.

    A small JSON file (bson's extended JSON: ids and times survive), rewritten whole through a temporary file
    and a rename, under a lock shared by every thread and process using this DATA_DIR.
    """

    _thread_lock = threading.Lock()

    def __init__(self, data_dir: Path):
        self.path = Path(data_dir) / JOURNAL_NAME
        self._lock_path = Path(data_dir) / f".{JOURNAL_NAME}.lock"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)

    def _read(self) -> list[dict[str, Any]]:
        try:
            items = json_util.loads(self.path.read_text(), json_options=_JSON)
        except FileNotFoundError:
            return []
        except ValueError as exc:
            log.error("%s is unreadable (%s); it is left as it is for a person to look at", self.path, exc)
            raise JournalUnreadable(str(self.path)) from exc
        return [item for item in items if isinstance(item, dict) and item.get("model_id")]

    def _write(self, items: list[dict[str, Any]]) -> None:
        if not items:
            self.path.unlink(missing_ok=True)
            return
        temporary = self.path.with_name(f".{JOURNAL_NAME}.{os.getpid()}")
        with open(temporary, "w", encoding="utf-8") as fh:
            fh.write(json_util.dumps(items, json_options=_JSON))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temporary, self.path)

    def add(self, record: dict[str, Any]) -> dict[str, Any]:
        """Journal a record, with the id and times it will be saved with (so saving it twice is harmless)."""
        record = dict(record)
        now = utcnow()
        record.setdefault("_id", ObjectId())
        record.setdefault("created_at", now)
        record.setdefault("updated_at", now)
        with self._locked():
            items = [item for item in self._read() if item["model_id"] != record["model_id"]]
            items.append(record)
            self._write(items)
        return record

    def records(self) -> list[dict[str, Any]]:
        if not self.path.exists():  # the usual case: no lock file made for nothing
            return []
        with self._locked():
            return self._read()

    def save_all(self, db: DatabaseManager, discard: Callable[[dict[str, Any]], bool]) -> tuple[int, int]:
        """Save journaled records into the database; returns (saved, still waiting).

        A record whose user no longer exists (the account was deleted meanwhile) is not saved: ``discard``
        deletes its voice (False keeps it for the next pass). A record linked to an echo that is not its
        user's is saved without the link (the link could not be checked at upload).
        """
        if not self.path.exists():
            return 0, 0
        with self._locked():
            try:
                items = self._read()
            except JournalUnreadable:
                return 0, 0
            if not items:
                return 0, 0
            for leftover in self.path.parent.glob(f".{JOURNAL_NAME}.*"):  # a writer killed part-way
                if leftover != self._lock_path:
                    leftover.unlink(missing_ok=True)
            remaining: list[dict[str, Any]] = []
            saved = 0
            for index, record in enumerate(items):
                try:
                    outcome = _save_one(db, record, discard)
                except DatabaseUnavailable:
                    remaining.extend(items[index:])
                    break
                if outcome == "saved":
                    saved += 1
                elif outcome == "kept":
                    remaining.append(record)
            self._write(remaining)
        if saved:
            log.info("saved %d voice model records kept while the database was unavailable", saved)
        if remaining:
            log.info("%d voice model records are still waiting for the database", len(remaining))
        return saved, len(remaining)


def _save_one(db: DatabaseManager, record: dict[str, Any], discard: Callable[[dict[str, Any]], bool]) -> str:
    """The outcome: "saved", "gone" (saved already, or discarded) or "kept" (for the next pass)."""
    model_id = record["model_id"]
    if db.get_voice_model(model_id) is not None:
        return "gone"  # saved by an earlier pass that was stopped before it could rewrite the journal
    user_id = record.get("user_id")
    if user_id is not None and db.get_user(user_id) is None:
        if discard(record):
            log.info("voice %s was not saved: its user no longer exists; deleted", model_id)
            return "gone"
        return "kept"
    echo_id = record.get("echo_id")
    if echo_id is not None:
        echo = db.get_echo(echo_id)
        if echo is not None and echo.get("user_id") == user_id:
            db.update_echo(echo_id, {"voice_model_id": model_id})
        else:
            record = dict(record, echo_id=None)
    try:
        db.save_voice_model(record)
    except Exception as exc:  # a duplicate key (saved meanwhile by another process) is fine
        if "DuplicateKey" not in type(exc).__name__:
            raise
        return "gone"
    return "saved"
