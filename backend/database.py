"""DatabaseManager: users, voice models, echos, messages, memories (MongoDB, or the embedded store).

Only the data layer and the storage package touch collections: this module, and ``backend.storage`` (GridFS
buckets and the progress of audio being written), which reaches them through ``operation()`` and ``bucket()``.
"""

from __future__ import annotations

import fcntl
import logging
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, MongoClient
from pymongo.errors import ConfigurationError, ConnectionFailure, DuplicateKeyError, InvalidURI

from backend.config import ConfigError
from backend.docstore import DocStore
from backend.errors import DatabaseUnavailable
from backend.migration import migrate_if_needed, store_file

log = logging.getLogger(__name__)

# (collection, keys, unique)
INDEXES = [
    ("users", [("auth0_user_id", ASCENDING)], True),
    ("voice_models", [("model_id", ASCENDING)], True),
    # Lists: filter and newest-first order both come from the index (no in-memory sort, whatever the size).
    ("voice_models", [("user_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)], False),
    ("echos", [("user_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)], False),
    # Unlinking a deleted voice from its echos, and an echo from its voice models.
    ("echos", [("voice_model_id", ASCENDING)], False),
    ("voice_models", [("echo_id", ASCENDING)], False),
    ("messages", [("echo_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)], False),
    ("memories", [("echo_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)], False),
    ("memories", [("user_id", ASCENDING)], False),  # deleting an account: the memories its user added
    ("audio_files", [("model_id", ASCENDING)], False),
    ("audio_files", [("user_id", ASCENDING)], False),
    # What a person had spoken: their history, newest first; dropped with its voice, its echo or the account.
    ("speech_history", [("user_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)], False),
    ("speech_history", [("model_id", ASCENDING)], False),
    ("speech_history", [("echo_id", ASCENDING)], False),
    # Personal API keys: found by the hash of the secret a client sends; listed per owner, newest first.
    ("api_keys", [("hash", ASCENDING)], True),
    ("api_keys", [("user_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)], False),
    # The shared audio store (GridFS buckets and audio being written), used with AUDIO_STORE=gridfs.
    ("audio.files", [("uploadDate", ASCENDING)], False),
    ("cache.files", [("filename", ASCENDING)], False),
    ("cache.files", [("metadata.last_used", ASCENDING)], False),
    ("audio_progress", [("updated_at", ASCENDING)], False),
    ("audio_progress_pieces", [("name", ASCENDING), ("seq", ASCENDING)], True),
]

ECHO_FIELDS = ("name", "persona_prompt", "talking_with", "relation", "voice_model_id")
NEWEST_FIRST = [("created_at", DESCENDING), ("_id", DESCENDING)]


NO_VECTOR = {"vector": 0, "vector_model": 0}  # a memory as callers see it


def _vector_fields(vector: tuple[str, bytes] | None) -> dict[str, Any]:
    if vector is None:
        return {}
    model, data = vector
    return {"vector_model": model, "vector": data}


def utcnow() -> datetime:
    """Now, in UTC, at the millisecond precision MongoDB stores."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _aware(moment: datetime) -> datetime:
    """A stored time in UTC (the embedded store and mongomock may hand back naive ones)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _lock_for_this_process(path: Path):
    """Hold an exclusive lock on the embedded store for this process's life: one process per store.

    The embedded store is safe under threads but not shared between processes; several workers need
    MongoDB. The lock goes away with the process, however it ends.
    """
    handle = open(path, "a+")  # noqa: SIM115 - held open on purpose
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        handle.close()
        raise ConfigError(
            f"The embedded store in {path.parent} is in use by another process. Run one server process "
            "(threads are fine), or set MONGODB_URI to share data between several processes."
        ) from exc
    return handle


class DatabaseManager:
    """Users, voice models, echos, messages and memories.

    Backends: a MongoDB server (MONGODB_URI), the embedded store (``backend.docstore``: one SQLite file
    under DATA_DIR/db) when no URI is set, or any injected pymongo-compatible client (tests use mongomock).
    All three run the same pymongo calls and the same indexes. While MongoDB is unreachable every method
    raises DatabaseUnavailable; the driver reconnects by itself, and indexes are created on the first call
    that succeeds. On the embedded store each method is one transaction: all of it happens, or none.
    """

    def __init__(
        self,
        *,
        uri: str = "",
        db_name: str = "echo_db",
        data_dir: Path | None = None,
        timeout_ms: int = 2000,
        client: Any = None,
    ):
        self._index_lock = threading.Lock()
        self._indexes_ready = False
        self.migration = None
        if client is not None:
            self.backend = "injected"
            self._client = client
            self._lock = threading.RLock()
        elif uri:
            self.backend = "mongodb"
            try:
                from pymongo.uri_parser import split_options

                # Options written in MONGODB_URI win over Echo's defaults (keyword arguments would override
                # them); names are case-insensitive. Only the query string is read, as pymongo reads it:
                # parse_uri would resolve a mongodb+srv:// name in DNS, and this constructor does no I/O.
                written = split_options(uri.partition("?")[2]) if "?" in uri else {}
                defaults = {
                    "serverSelectionTimeoutMS": timeout_ms,
                    "connectTimeoutMS": timeout_ms,
                    "socketTimeoutMS": max(timeout_ms * 5, 10000),
                    "appname": "echo",
                }
                # connect=False: no I/O here, so the server starts while MongoDB is down (and forks safely).
                self._client = MongoClient(
                    uri,
                    connect=False,
                    tz_aware=True,
                    **{name: value for name, value in defaults.items() if name not in written},
                )
            except (ConfigurationError, InvalidURI, ValueError) as exc:
                raise ConfigError(f"MONGODB_URI is not a valid MongoDB connection string: {exc}") from exc
            self._lock = None  # pymongo is thread-safe
        else:
            if data_dir is None:
                raise ConfigError("the embedded store needs DATA_DIR")
            path = Path(data_dir) / "db"
            path.mkdir(parents=True, exist_ok=True)
            self._process_lock = _lock_for_this_process(path / ".lock")
            self.backend = "embedded"
            try:
                self.migration = migrate_if_needed(path, db_name)  # data of an earlier version's store
                self._client = DocStore(store_file(path, db_name))
            except sqlite3.DatabaseError as exc:
                self.close()
                raise ConfigError(
                    f"The embedded store in {path} could not be opened ({exc}); restore it from a backup."
                ) from exc
            except BaseException:
                self.close()
                raise
            self._lock = None  # DocStore.transaction serialises, and makes each operation one transaction
            self._db = self._client
            return
        self._db = self._client[db_name]

    # -- plumbing ---------------------------------------------------------------------------------

    @property
    def shared(self) -> bool:
        """Whether every app instance can reach this store (MongoDB, or a client injected by tests)."""
        return self.backend != "embedded"

    def operation(self):
        """One logical operation for the storage package (the GridFS store and cache)."""
        return self._op()

    def bucket(self, name: str):
        """A GridFS bucket in this database (MongoDB only)."""
        if not self.shared:
            raise ConfigError("GridFS needs MongoDB (set MONGODB_URI)")
        from gridfs import GridFSBucket

        return GridFSBucket(self._db, bucket_name=name)

    @contextmanager
    def _op(self) -> Iterator[Any]:
        """Run one logical operation: serialised for the embedded store, outages mapped to 503."""
        try:
            if self.backend == "embedded":
                with self._client.transaction():
                    self._ensure_indexes()
                    yield self._db
            elif self._lock is not None:
                with self._lock:
                    self._ensure_indexes()
                    yield self._db
            else:
                self._ensure_indexes()
                yield self._db
        except ConnectionFailure as exc:
            log.warning("database unavailable: %s", type(exc).__name__)
            raise DatabaseUnavailable() from exc
        except (OSError, sqlite3.Error) as exc:
            if self.backend != "embedded":
                raise
            log.error("embedded store I/O error: %s", exc)
            raise DatabaseUnavailable("The embedded store could not be read or written.") from exc

    def _ensure_indexes(self) -> None:
        if self._indexes_ready:
            return
        with self._index_lock:
            if self._indexes_ready:
                return
            for collection, keys, unique in INDEXES:
                self._db[collection].create_index(keys, unique=unique)
            self._indexes_ready = True

    def ping(self) -> dict[str, Any]:
        """The real state of the store, for /health."""
        try:
            with self._op() as db:
                if self.backend == "mongodb":
                    self._client.admin.command("ping")
                else:
                    db["users"].count_documents({})
            return {"status": "ok", "backend": self.backend}
        except DatabaseUnavailable as exc:
            return {"status": "unavailable", "backend": self.backend, "detail": exc.message}

    def close(self) -> None:
        close = getattr(getattr(self, "_client", None), "close", None)
        if close:
            close()
        lock = getattr(self, "_process_lock", None)
        if lock is not None:
            lock.close()
            self._process_lock = None

    @staticmethod
    def _page(limit: int | None, offset: int) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if offset:
            kwargs["skip"] = offset
        if limit:
            kwargs["limit"] = limit
        return kwargs

    # -- users ------------------------------------------------------------------------------------

    def get_user_by_auth0(self, auth0_id: str) -> dict | None:
        with self._op() as db:
            return db.users.find_one({"auth0_user_id": auth0_id})

    def get_user(self, user_id: ObjectId) -> dict | None:
        with self._op() as db:
            return db.users.find_one({"_id": user_id})

    def get_or_create_user(self, auth0_id: str, email: str | None) -> tuple[dict, bool]:
        """The user with this auth0 id, created on first call; (user, created)."""
        with self._op() as db:
            existing = db.users.find_one({"auth0_user_id": auth0_id})
            if existing is not None:
                if email and existing.get("email") != email:
                    now = utcnow()
                    db.users.update_one({"_id": existing["_id"]}, {"$set": {"email": email, "updated_at": now}})
                    existing.update(email=email, updated_at=now)
                return existing, False
            now = utcnow()
            user = {"_id": ObjectId(), "auth0_user_id": auth0_id, "email": email, "created_at": now, "updated_at": now}
            try:
                db.users.insert_one(user)
            except DuplicateKeyError:
                # Another request created it between our find and insert.
                return db.users.find_one({"auth0_user_id": auth0_id}), False
            return user, True

    # -- voice models -----------------------------------------------------------------------------

    def save_voice_model(self, record: dict) -> dict:
        record = dict(record)
        now = utcnow()
        record.setdefault("_id", ObjectId())
        record.setdefault("created_at", now)
        record.setdefault("updated_at", now)
        with self._op() as db:
            db.voice_models.insert_one(record)
        return record

    def get_voice_model(self, model_id: str) -> dict | None:
        with self._op() as db:
            return db.voice_models.find_one({"model_id": model_id})

    def list_voice_models(self, user_id: ObjectId, *, limit: int = 50, offset: int = 0) -> tuple[list[dict], int]:
        query = {"user_id": user_id}
        with self._op() as db:
            total = db.voice_models.count_documents(query)
            docs = list(db.voice_models.find(query, sort=NEWEST_FIRST, **self._page(limit, offset)))
        return docs, total

    def rename_voice_model(self, model_id: str, name: str) -> dict | None:
        """Give a voice model a new name; the updated record, or None when there is none."""
        with self._op() as db:
            db.voice_models.update_one({"model_id": model_id}, {"$set": {"name": name, "updated_at": utcnow()}})
            return db.voice_models.find_one({"model_id": model_id})

    def set_voice_model_echo(self, model_id: str, echo_id: ObjectId | None) -> None:
        with self._op() as db:
            db.voice_models.update_one({"model_id": model_id}, {"$set": {"echo_id": echo_id, "updated_at": utcnow()}})

    def delete_voice_model(self, model_id: str) -> bool:
        """Delete the record and unlink it from its echo; False when there was none."""
        with self._op() as db:
            record = db.voice_models.find_one({"model_id": model_id})
            if record is None:
                return False
            now = utcnow()
            # The echo keeps the fact that its voice was deleted: it says so, and never speaks in another voice.
            db.echos.update_many(
                {"voice_model_id": model_id},
                {"$set": {"voice_model_id": None, "voice_deleted_at": now, "updated_at": now}},
            )
            db.voice_models.delete_one({"_id": record["_id"]})
            db.speech_history.delete_many({"model_id": model_id})  # its audio is gone with it
            return True

    # -- echos ------------------------------------------------------------------------------------

    def create_echo(
        self,
        *,
        user_id: ObjectId,
        name: str,
        persona_prompt: str,
        voice_model_id: str | None,
        talking_with: str = "",
        relation: str = "",
    ) -> dict:
        now = utcnow()
        echo = {
            "_id": ObjectId(),
            "user_id": user_id,
            "name": name,
            "persona_prompt": persona_prompt,
            "talking_with": talking_with,
            "relation": relation,
            "voice_model_id": voice_model_id,
            "created_at": now,
            "updated_at": now,
        }
        with self._op() as db:
            db.echos.insert_one(echo)
            if voice_model_id:
                db.voice_models.update_one(
                    {"model_id": voice_model_id}, {"$set": {"echo_id": echo["_id"], "updated_at": now}}
                )
        return echo

    def get_echo(self, echo_id: ObjectId) -> dict | None:
        with self._op() as db:
            return db.echos.find_one({"_id": echo_id})

    def list_echos(self, user_id: ObjectId, *, limit: int = 50, offset: int = 0) -> tuple[list[dict], int]:
        query = {"user_id": user_id}
        with self._op() as db:
            total = db.echos.count_documents(query)
            docs = list(db.echos.find(query, sort=NEWEST_FIRST, **self._page(limit, offset)))
        return docs, total

    def update_echo(self, echo_id: ObjectId, changes: dict[str, Any]) -> dict | None:
        """Apply ``changes`` (name, persona_prompt, voice_model_id), keeping voice links both ways."""
        changes = {k: v for k, v in changes.items() if k in ECHO_FIELDS}
        with self._op() as db:
            echo = db.echos.find_one({"_id": echo_id})
            if echo is None:
                return None
            now = utcnow()
            if "voice_model_id" in changes and changes["voice_model_id"] != echo.get("voice_model_id"):
                if echo.get("voice_model_id"):
                    db.voice_models.update_one(
                        {"model_id": echo["voice_model_id"]}, {"$set": {"echo_id": None, "updated_at": now}}
                    )
                if changes["voice_model_id"]:
                    db.voice_models.update_one(
                        {"model_id": changes["voice_model_id"]}, {"$set": {"echo_id": echo_id, "updated_at": now}}
                    )
            if "voice_model_id" in changes:
                changes["voice_deleted_at"] = None  # a voice chosen (or none, on purpose) ends the deleted state
            changes["updated_at"] = now
            db.echos.update_one({"_id": echo_id}, {"$set": changes})
            echo.update(changes)
            return echo

    def delete_echo(self, echo_id: ObjectId) -> bool:
        """Delete an echo with its messages and memories and unlink its voice model; False when there was none."""
        with self._op() as db:
            echo = db.echos.find_one({"_id": echo_id})
            if echo is None:
                return False
            db.messages.delete_many({"echo_id": echo_id})
            db.memories.delete_many({"echo_id": echo_id})
            db.speech_history.delete_many({"echo_id": echo_id})
            db.voice_models.update_many({"echo_id": echo_id}, {"$set": {"echo_id": None, "updated_at": utcnow()}})
            db.echos.delete_one({"_id": echo_id})
            return True

    # -- messages ---------------------------------------------------------------------------------

    def add_message(
        self,
        echo_id: ObjectId,
        role: str,
        content: str,
        *,
        user_id: ObjectId | None = None,
        model: dict[str, str] | None = None,
    ) -> dict:
        """Store a message; ``model``: who wrote an echo's reply ({"provider", "name"})."""
        message = {
            "_id": ObjectId(),
            "echo_id": echo_id,
            "user_id": user_id,
            "role": role,
            "content": content,
            "created_at": utcnow(),
        }
        if model is not None:
            message["model"] = model
        with self._op() as db:
            db.messages.insert_one(message)
        return message

    def list_messages(self, echo_id: ObjectId, *, limit: int = 100) -> list[dict]:
        """The latest ``limit`` messages of an echo, oldest first."""
        with self._op() as db:
            newest_first = list(db.messages.find({"echo_id": echo_id}, sort=NEWEST_FIRST, limit=limit))
        return newest_first[::-1]

    # -- memories ---------------------------------------------------------------------------------

    def add_memory(
        self,
        echo_id: ObjectId,
        user_id: ObjectId | None,
        text: str,
        *,
        at_most: int | None = None,
        vector: tuple[str, bytes] | None = None,
    ) -> dict | None:
        """Store a memory of an echo (``user_id``: who added it), with its meaning's ``vector`` (the model's
        name and the vector's bytes) when there is one; the memory is returned without the vector.

        With ``at_most``, None (and nothing stored) when the echo already has that many: counted and added in
        one operation, so on the embedded store two requests at once cannot pass the limit together.
        """
        now = utcnow()
        memory = {
            "_id": ObjectId(),
            "echo_id": echo_id,
            "user_id": user_id,
            "text": text,
            "created_at": now,
            "updated_at": now,
        }
        stored = {**memory, **_vector_fields(vector)}
        with self._op() as db:
            if at_most is not None and db.memories.count_documents({"echo_id": echo_id}) >= at_most:
                return None
            db.memories.insert_one(stored)
        return memory

    def get_memory(self, memory_id: ObjectId) -> dict | None:
        with self._op() as db:
            return db.memories.find_one({"_id": memory_id}, projection=NO_VECTOR)

    def list_memories(self, echo_id: ObjectId, *, limit: int = 50, offset: int = 0) -> tuple[list[dict], int]:
        """A page of an echo's memories, newest first, and how many it has (without their vectors)."""
        query = {"echo_id": echo_id}
        with self._op() as db:
            total = db.memories.count_documents(query)
            docs = list(db.memories.find(query, projection=NO_VECTOR, sort=NEWEST_FIRST, **self._page(limit, offset)))
        return docs, total

    def all_memories(self, echo_id: ObjectId, *, limit: int = 1000) -> list[dict]:
        """An echo's memories, newest first, at most ``limit`` of them (callers pass their per-echo limit), with
        their vectors (``vector``, ``vector_model``) where they have them."""
        with self._op() as db:
            return list(db.memories.find({"echo_id": echo_id}, sort=NEWEST_FIRST, limit=limit))

    def set_memory_vector(self, memory_id: ObjectId, text: str, vector: tuple[str, bytes]) -> bool:
        """Keep a memory's vector, if its text is still ``text`` (an edit meanwhile brought its own)."""
        with self._op() as db:
            result = db.memories.update_one({"_id": memory_id, "text": text}, {"$set": _vector_fields(vector)})
            return result.matched_count == 1

    def memories_without_vector(self, model: str, *, limit: int = 200) -> list[dict]:
        """Memories (of any echo) with no vector from ``model``: those saved before it, or by another one."""
        with self._op() as db:
            return list(db.memories.find({"vector_model": {"$ne": model}}, projection=NO_VECTOR, limit=limit))

    def count_memories(self, echo_id: ObjectId) -> int:
        with self._op() as db:
            return db.memories.count_documents({"echo_id": echo_id})

    def update_memory(self, memory_id: ObjectId, text: str, *, vector: tuple[str, bytes] | None = None) -> dict | None:
        """Change a memory's text (and its vector with it: the new one, or none); the memory as it is now
        (without the vector), or None when there was none."""
        with self._op() as db:
            memory = db.memories.find_one({"_id": memory_id}, projection=NO_VECTOR)
            if memory is None:
                return None
            changes = {"text": text, "updated_at": utcnow()}
            update: dict[str, Any] = {"$set": {**changes, **_vector_fields(vector)}}
            if vector is None:
                update["$unset"] = {"vector": "", "vector_model": ""}
            db.memories.update_one({"_id": memory_id}, update)
            memory.update(changes)
            return memory

    def delete_memory(self, memory_id: ObjectId) -> bool:
        """Delete a memory; False when there was none."""
        with self._op() as db:
            return db.memories.delete_one({"_id": memory_id}).deleted_count == 1

    # -- generated audio --------------------------------------------------------------------------

    def record_audio(self, name: str, *, user_id: ObjectId | None, model_id: str | None) -> None:
        """Remember who a generated file belongs to, so deleting a voice or a user deletes it too."""
        with self._op() as db:
            db.audio_files.insert_one({"_id": name, "user_id": user_id, "model_id": model_id, "created_at": utcnow()})

    def audio_names(self, *, model_id: str | None = None, user_id: ObjectId | None = None) -> list[str]:
        query = {"model_id": model_id} if model_id is not None else {"user_id": user_id}
        with self._op() as db:
            return [doc["_id"] for doc in db.audio_files.find(query)]

    def forget_audio(self, names: list[str]) -> None:
        with self._op() as db:
            for name in names:
                db.audio_files.delete_one({"_id": name})

    # -- history of what was spoken --------------------------------------------------------------

    def add_spoken(self, entry: dict) -> dict:
        """Remember one finished request to speak (its text, voice, echo, format and audio name)."""
        entry = {"_id": ObjectId(), "created_at": utcnow(), **entry}
        with self._op() as db:
            db.speech_history.insert_one(entry)
        return entry

    def list_spoken(self, user_id: ObjectId, *, limit: int = 20, offset: int = 0) -> tuple[list[dict], int]:
        query = {"user_id": user_id}
        with self._op() as db:
            total = db.speech_history.count_documents(query)
            docs = list(db.speech_history.find(query, sort=NEWEST_FIRST, **self._page(limit, offset)))
        return docs, total

    def spoken_audio(self, *, echo_id: ObjectId) -> list[str]:
        """The audio names of an echo's history entries (to delete with the echo)."""
        with self._op() as db:
            return [doc["audio"] for doc in db.speech_history.find({"echo_id": echo_id}) if doc.get("audio")]

    def get_spoken(self, entry_id: ObjectId) -> dict | None:
        with self._op() as db:
            return db.speech_history.find_one({"_id": entry_id})

    def delete_spoken(self, entry_id: ObjectId) -> bool:
        with self._op() as db:
            return db.speech_history.delete_one({"_id": entry_id}).deleted_count == 1

    def clear_spoken(self, user_id: ObjectId, entry_ids: list[ObjectId] | None = None) -> int:
        """Forget a user's history, or only the entries ``entry_ids`` of it (those whose audio the caller deletes:
        an entry added meanwhile stays, with its audio)."""
        query: dict[str, Any] = {"user_id": user_id}
        if entry_ids is not None:
            query["_id"] = {"$in": entry_ids}
        with self._op() as db:
            return db.speech_history.delete_many(query).deleted_count

    # -- personal API keys -------------------------------------------------------------------------

    def add_api_key(self, key: dict, *, at_most: int) -> dict | None:
        """Store a key record (never its secret); None (and nothing stored) when its owner already has
        ``at_most`` keys: counted and added in one operation, as memories are."""
        key = {"_id": ObjectId(), "created_at": utcnow(), "last_used_at": None, **key}
        with self._op() as db:
            if db.api_keys.count_documents({"user_id": key["user_id"]}) >= at_most:
                return None
            db.api_keys.insert_one(key)
        return key

    def list_api_keys(self, user_id: ObjectId, *, limit: int = 50, offset: int = 0) -> tuple[list[dict], int]:
        query = {"user_id": user_id}
        with self._op() as db:
            total = db.api_keys.count_documents(query)
            docs = list(db.api_keys.find(query, sort=NEWEST_FIRST, **self._page(limit, offset)))
        return docs, total

    def get_api_key(self, key_id: ObjectId) -> dict | None:
        with self._op() as db:
            return db.api_keys.find_one({"_id": key_id})

    def api_key_by_hash(self, digest: str) -> dict | None:
        """The key whose secret hashes to ``digest`` (one lookup in the unique index), or None."""
        with self._op() as db:
            return db.api_keys.find_one({"hash": digest})

    def touch_api_key(self, key_id: ObjectId, now: datetime, *, unless_since: datetime) -> bool:
        """Set ``last_used_at`` to ``now`` unless it is already ``unless_since`` or later (so instances that
        race write once); whether it was written."""
        query = {"_id": key_id, "$or": [{"last_used_at": None}, {"last_used_at": {"$lt": unless_since}}]}
        with self._op() as db:
            return db.api_keys.update_one(query, {"$set": {"last_used_at": now}}).matched_count == 1

    def delete_api_key(self, key_id: ObjectId) -> bool:
        """Revoke a key: its record goes; False when there was none."""
        with self._op() as db:
            return db.api_keys.delete_one({"_id": key_id}).deleted_count == 1

    # -- shared state for several instances ------------------------------------------------------

    def shared_secret(self, name: str) -> str:
        """A random secret kept in the database, the same for every instance (made by the first to ask)."""
        with self._op() as db:
            doc = db.secrets.find_one({"_id": name})
            if doc is None:
                try:
                    db.secrets.insert_one({"_id": name, "value": secrets.token_hex(32), "created_at": utcnow()})
                except DuplicateKeyError:
                    pass  # another instance made it first: use theirs
                doc = db.secrets.find_one({"_id": name})
            return doc["value"]

    def get_local_profile(self, model_id: str) -> str | None:
        """A local-engine voice profile (JSON text), or None."""
        with self._op() as db:
            doc = db.local_voice_profiles.find_one({"_id": model_id})
            return None if doc is None else doc["profile"]

    def save_local_profile(self, model_id: str, profile: str) -> None:
        with self._op() as db:
            db.local_voice_profiles.replace_one(
                {"_id": model_id}, {"_id": model_id, "profile": profile, "updated_at": utcnow()}, upsert=True
            )

    def delete_local_profile(self, model_id: str) -> None:
        with self._op() as db:
            db.local_voice_profiles.delete_one({"_id": model_id})

    def local_profiles_saved(self) -> list[tuple[str, datetime]]:
        """Every local voice profile's model id with the time it was saved (for the start-up sweep)."""
        with self._op() as db:
            docs = list(db.local_voice_profiles.find({}, {"_id": 1, "updated_at": 1}))
        return [(doc["_id"], _aware(doc.get("updated_at") or datetime.min)) for doc in docs]

    # -- what the records point at ----------------------------------------------------------------

    def voice_model_references(self) -> tuple[set[str], set[str]]:
        """(recording keys, model ids) of every voice model record: what the start-up sweep must keep.

        Read whole or not at all: an outage part-way raises DatabaseUnavailable, never a partial answer.
        """
        recordings: set[str] = set()
        model_ids: set[str] = set()
        with self._op() as db:
            for doc in db.voice_models.find({}, {"model_id": 1, "reference_audio": 1, "consent": 1}):
                model_ids.add(doc.get("model_id"))
                consent = doc.get("consent") if isinstance(doc.get("consent"), dict) else {}
                recordings.update(k for k in (doc.get("reference_audio"), consent.get("recording")) if k)
        model_ids.discard(None)
        return recordings, model_ids

    # -- accounts ---------------------------------------------------------------------------------

    def delete_user_data(self, user_id: ObjectId) -> dict[str, int]:
        """Delete a user and every record of theirs; returns how many of each went."""
        with self._op() as db:
            echo_ids = [doc["_id"] for doc in db.echos.find({"user_id": user_id})]
            counts = {"messages": 0, "memories": 0}
            for echo_id in echo_ids:
                counts["messages"] += db.messages.delete_many({"echo_id": echo_id}).deleted_count
                counts["memories"] += db.memories.delete_many({"echo_id": echo_id}).deleted_count
            # and those they added to echos that are not theirs (in local mode, echos made before users were named)
            counts["memories"] += db.memories.delete_many({"user_id": user_id}).deleted_count
            counts["echos"] = db.echos.delete_many({"user_id": user_id}).deleted_count
            counts["voice_models"] = db.voice_models.delete_many({"user_id": user_id}).deleted_count
            counts["audio_files"] = db.audio_files.delete_many({"user_id": user_id}).deleted_count
            counts["speech_history"] = db.speech_history.delete_many({"user_id": user_id}).deleted_count
            counts["api_keys"] = db.api_keys.delete_many({"user_id": user_id}).deleted_count
            counts["users"] = db.users.delete_many({"_id": user_id}).deleted_count
            return counts
