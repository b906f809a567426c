"""The embedded store: MongoDB-shaped documents in one SQLite file, reached through pymongo's calls.

Echo's data layer (``backend.database``) speaks pymongo. With no MongoDB configured it runs on this module,
which offers the part of pymongo's collection API Echo uses (``insert_one``, ``find``/``find_one`` with
sort, skip, limit and projection, ``count_documents``, ``update_one``/``update_many``/``replace_one`` with
``$set``/``$unset``/``$inc`` and upsert, ``delete_one``/``delete_many``, ``create_index``), with pymongo's
result classes and ``DuplicateKeyError``, so one code path serves both stores.

How it is kept:

- one SQLite database file in write-ahead-log mode with ``synchronous=FULL``: a write is on disk when the
  call returns, and a process killed at any moment leaves the file as it was before or after each
  transaction;
- a table per collection: the document as BSON (``bson`` from pymongo, so ``ObjectId``, ``datetime``
  and nested documents come back as they went in) and its ``_id``; a table is created in one transaction
  on first use, so a kill during a collection's first write leaves no half-made collection;
- an index on fields is a real SQLite index on a column per field, holding the field's value in an
  order-preserving SQL form (ObjectId as its 12 bytes, datetime as milliseconds); filters, sorts, skips
  and limits on indexed fields run in SQL and use the index (``Cursor.explain()`` shows SQLite's plan);
  a filter or sort on other fields is applied to the documents in Python, correct but a scan;
- :meth:`DocStore.transaction` makes several calls one transaction (Echo's multi-record operations, such as
  deleting an echo with its messages, are all-or-nothing); calls are serialised by one lock, so the store
  is safe under threads. One process per file: ``backend.database`` holds a lock file for that.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bson
from bson import ObjectId
from bson.codec_options import CodecOptions
from pymongo.errors import DuplicateKeyError, OperationFailure
from pymongo.results import DeleteResult, InsertManyResult, InsertOneResult, UpdateResult

ASCENDING = 1
DESCENDING = -1
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,119}")
_COMPARISONS = {"$eq": "=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_TABLE_PREFIX = "c:"
# Times come back aware, in UTC, as from Echo's MongoDB client (tz_aware=True).
_CODEC = CodecOptions(tz_aware=True, tzinfo=UTC)
_COLUMN_PREFIX = "f:"


class UnsupportedQuery(OperationFailure):
    """A filter, update or option this store does not implement (Echo's own code never sends one)."""


# -- values in SQL ----------------------------------------------------------------------------------


# Tags that put values of different types in MongoDB's order when SQLite compares them as bytes: SQLite
# orders NULL < numbers < text < blobs, and MongoDB null < numbers < strings < documents and arrays
# < ObjectId < booleans < dates.
_TAG_OTHER, _TAG_OBJECT_ID, _TAG_BOOL, _TAG_DATE = b"\x03", b"\x07", b"\x08", b"\x09"


def sql_value(value: Any) -> Any:
    """A field's value in a form SQLite compares and orders as MongoDB does.

    None and a missing field are both NULL (MongoDB's ``{"f": None}`` matches both). Numbers and strings
    are themselves; other types are tagged bytes, so that ``true`` is not ``1`` and types sort in MongoDB's
    order: an ObjectId is its 12 bytes (ordered by creation time), a boolean one byte, a datetime its
    milliseconds since the epoch as 8 order-preserving bytes (naive ones are UTC, as MongoDB stores them).
    Documents, lists and bytes are kept as BSON: equal values compare equal, but their order means nothing.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return _TAG_BOOL + (b"\x01" if value else b"\x00")
    if isinstance(value, (int, float, str)):
        return value
    if isinstance(value, ObjectId):
        return _TAG_OBJECT_ID + value.binary
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        milliseconds = int(moment.timestamp() * 1000)
        return _TAG_DATE + (milliseconds + (1 << 63)).to_bytes(8, "big")
    return _TAG_OTHER + bson.encode({"v": value})


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _check_name(kind: str, name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise UnsupportedQuery(f"invalid {kind} name: {name!r}")
    return name


# -- documents in Python ----------------------------------------------------------------------------

_MISSING = object()


def get_path(doc: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path, or ``_MISSING``."""
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _set_path(doc: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        inner = doc.get(part)
        if not isinstance(inner, dict):
            inner = doc[part] = {}
        doc = inner
    doc[parts[-1]] = value


def _unset_path(doc: dict[str, Any], path: str) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        doc = doc.get(part)
        if not isinstance(doc, dict):
            return
    doc.pop(parts[-1], None)


def _type_rank(value: Any) -> int:
    """MongoDB's order of types, for sorting in Python (null, numbers, strings, documents, ids, dates)."""
    if value is None or value is _MISSING:
        return 0
    if isinstance(value, bool):
        return 6
    if isinstance(value, (int, float)):
        return 1
    if isinstance(value, str):
        return 2
    if isinstance(value, Mapping):
        return 3
    if isinstance(value, ObjectId):
        return 5
    if isinstance(value, datetime):
        return 7
    return 4


def _sort_key(value: Any) -> tuple[int, Any]:
    rank = _type_rank(value)
    if rank == 0:
        return (0, 0)
    if rank in (1, 2, 6):
        return (rank, value)
    return (rank, sql_value(value))


def _equal(found: Any, wanted: Any) -> bool:
    if wanted is None:
        return found is None or found is _MISSING
    if found is _MISSING:
        return False
    if isinstance(found, list) and not isinstance(wanted, list):
        return any(_equal(item, wanted) for item in found)
    return sql_value(found) == sql_value(wanted)


def _compare(found: Any, operator: str, wanted: Any) -> bool:
    if operator == "$eq":
        return _equal(found, wanted)
    if operator == "$ne":
        return not _equal(found, wanted)
    if operator == "$in":
        return any(_equal(found, item) for item in wanted)
    if operator == "$nin":
        return not any(_equal(found, item) for item in wanted)
    if operator == "$exists":
        return (found is not _MISSING) == bool(wanted)
    if found is _MISSING or found is None or wanted is None or _type_rank(found) != _type_rank(wanted):
        return False
    a, b = sql_value(found), sql_value(wanted)
    return {"$gt": a > b, "$gte": a >= b, "$lt": a < b, "$lte": a <= b}[operator]


def matches(doc: Mapping[str, Any], query: Mapping[str, Any]) -> bool:
    """Whether a document matches a filter of field conditions (and ``$and``/``$or``)."""
    for field, condition in query.items():
        if field == "$and":
            if not all(matches(doc, part) for part in condition):
                return False
            continue
        if field == "$or":
            if not any(matches(doc, part) for part in condition):
                return False
            continue
        if field.startswith("$"):
            raise UnsupportedQuery(f"unsupported query operator {field}")
        found = get_path(doc, field)
        if _is_operator_document(condition):
            for operator, wanted in condition.items():
                if operator not in (*_COMPARISONS, "$ne", "$in", "$nin", "$exists"):
                    raise UnsupportedQuery(f"unsupported query operator {operator}")
                if not _compare(found, operator, wanted):
                    return False
        elif not _equal(found, condition):
            return False
    return True


def _is_operator_document(condition: Any) -> bool:
    return isinstance(condition, Mapping) and bool(condition) and all(str(k).startswith("$") for k in condition)


def _project(doc: dict[str, Any], projection: Mapping[str, Any] | None) -> dict[str, Any]:
    if not projection:
        return doc
    include = {field for field, flag in projection.items() if flag and field != "_id"}
    exclude = {field for field, flag in projection.items() if not flag}
    if include:
        shown = {field: doc[field] for field in include if field in doc}
        if "_id" not in exclude and "_id" in doc:
            shown = {"_id": doc["_id"], **shown}
        return shown
    return {field: value for field, value in doc.items() if field not in exclude}


def _normalise_keys(keys: Any) -> list[tuple[str, int]]:
    if isinstance(keys, str):
        return [(keys, ASCENDING)]
    if isinstance(keys, Mapping):
        keys = list(keys.items())
    normalised = []
    for key in keys:
        field, direction = (key, ASCENDING) if isinstance(key, str) else key
        if direction not in (ASCENDING, DESCENDING):
            raise UnsupportedQuery(f"unsupported index or sort direction {direction!r}")
        normalised.append((field, direction))
    return normalised


# -- the store --------------------------------------------------------------------------------------


class DocStore:
    """One SQLite file of collections; ``store["name"]`` or ``store.name`` is a :class:`Collection`."""

    def __init__(self, path: Path | str, *, synchronous: str = "FULL"):
        self.path = Path(path)
        self._lock = threading.RLock()
        self._depth = 0
        self._collections: dict[str, Collection] = {}
        self._schema_read: list[Collection] = []  # collections whose schema this transaction read or made
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        try:
            self._conn.execute("PRAGMA journal_mode=WAL").fetchone()
            self._conn.execute(f"PRAGMA synchronous={synchronous}")
            self._conn.execute("PRAGMA foreign_keys=OFF")
        except sqlite3.DatabaseError:
            self._conn.close()
            raise

    # the store

    def __getitem__(self, name: str) -> Collection:
        with self._lock:
            collection = self._collections.get(name)
            if collection is None:
                collection = self._collections[name] = Collection(self, _check_name("collection", name))
            return collection

    def __getattr__(self, name: str) -> Collection:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def get_collection(self, name: str) -> Collection:
        return self[name]

    def list_collection_names(self) -> list[str]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ? ORDER BY name",
                (_TABLE_PREFIX + "%",),
            ).fetchall()
        return [row[0][len(_TABLE_PREFIX) :] for row in rows]

    @contextmanager
    def transaction(self) -> Iterator[DocStore]:
        """Everything inside is one SQLite transaction, under the lock: all of it is stored, or none.

        A transaction inside another is a savepoint: if it fails, only its own writes are undone, and the
        outer one goes on (as when a caller catches a DuplicateKeyError and carries on).
        """
        with self._lock:
            depth = self._depth
            self._conn.execute(f"SAVEPOINT s{depth}" if depth else "BEGIN")
            self._depth = depth + 1
            try:
                yield self
                if depth:
                    self._conn.execute(f"RELEASE s{depth}")
                else:
                    self._conn.execute("COMMIT")
            except BaseException:
                if depth:
                    self._conn.execute(f"ROLLBACK TO s{depth}")
                    self._conn.execute(f"RELEASE s{depth}")
                elif self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                self._forget_schema()
                raise
            finally:
                self._depth = depth
            if not depth:
                self._schema_read.clear()

    def _forget_schema(self) -> None:
        """After a rollback: tables and columns made in it are gone, so what collections know is read again."""
        for collection in self._schema_read:
            collection._columns = None
        self._schema_read.clear()

    def execute(self, sql: str, parameters: tuple | list = ()) -> list[tuple]:
        """A statement of this module's own (under the lock); the rows it gave."""
        with self._lock:
            return self._conn.execute(sql, parameters).fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class Collection:
    """A collection: pymongo's calls, kept in one SQLite table (see the module docstring)."""

    def __init__(self, store: DocStore, name: str):
        self.store = store
        self.name = name
        self.table = _quote(_TABLE_PREFIX + name)
        self._columns: set[str] | None = None

    # schema

    def _ensure(self) -> set[str]:
        """The table (made on first use, in one transaction) and the fields that have columns."""
        if self._columns is not None:
            return self._columns
        with self.store.transaction():
            self.store._schema_read.append(self)
            self.store.execute(f"CREATE TABLE IF NOT EXISTS {self.table} (_id PRIMARY KEY NOT NULL, doc BLOB NOT NULL)")
            info = self.store.execute(f"PRAGMA table_info({self.table})")
        self._columns = {row[1][len(_COLUMN_PREFIX) :] for row in info if row[1].startswith(_COLUMN_PREFIX)}
        return self._columns

    def _column(self, field: str) -> str:
        return "_id" if field == "_id" else _quote(_COLUMN_PREFIX + field)

    def create_index(self, keys: Any, *, unique: bool = False, name: str | None = None, **_: Any) -> str:
        """An index on these fields (a column per field, filled from the stored documents); its name."""
        keys = _normalise_keys(keys)
        index_name = name or "_".join(f"{field}_{direction}" for field, direction in keys)
        _check_name("index", index_name)
        with self.store.transaction():
            self.store._schema_read.append(self)  # columns added here go if the transaction is rolled back
            self._add_index(keys, index_name, unique)
        return index_name

    def _add_index(self, keys: list[tuple[str, int]], index_name: str, unique: bool) -> None:
        with self.store.transaction():
            columns = self._ensure()
            for field, _direction in keys:
                if field != "_id" and field not in columns:
                    _check_name("field", field)
                    self.store.execute(f"ALTER TABLE {self.table} ADD COLUMN {self._column(field)}")
                    for rowid, raw in self.store.execute(f"SELECT rowid, doc FROM {self.table}"):
                        value = get_path(bson.decode(raw, _CODEC), field)
                        self.store.execute(
                            f"UPDATE {self.table} SET {self._column(field)} = ? WHERE rowid = ?",
                            (None if value is _MISSING else sql_value(value), rowid),
                        )
                    columns.add(field)
            parts = ", ".join(f"{self._column(f)} {'DESC' if d == DESCENDING else 'ASC'}" for f, d in keys)
            index = _quote(f"{self.name}:{index_name}")
            try:
                self.store.execute(
                    f"CREATE {'UNIQUE ' if unique else ''}INDEX IF NOT EXISTS {index} ON {self.table} ({parts})"
                )
            except sqlite3.IntegrityError as exc:
                raise DuplicateKeyError(f"cannot make the unique index {index_name}: {exc}") from exc

    def index_information(self) -> dict[str, dict[str, Any]]:
        """pymongo's shape: ``{name: {"key": [(field, direction), ...], "unique": bool}}``."""
        self._ensure()
        info: dict[str, dict[str, Any]] = {"_id_": {"key": [("_id", ASCENDING)], "unique": True}}
        with self.store.transaction():
            for _seq, index, unique, origin, _partial in self.store.execute(f"PRAGMA index_list({self.table})"):
                if origin != "c":  # the primary key's own index is "_id_" above
                    continue
                keys = []
                for row in self.store.execute(f"PRAGMA index_xinfo({_quote(index)})"):
                    column, descending, is_key = row[2], row[3], row[5]
                    if is_key and column is not None:
                        field = "_id" if column == "_id" else column[len(_COLUMN_PREFIX) :]
                        keys.append((field, DESCENDING if descending else ASCENDING))
                info[index.split(":", 1)[1]] = {"key": keys, "unique": bool(unique)}
        return info

    # writing

    def _row(self, doc: Mapping[str, Any]) -> tuple[list[str], list[Any]]:
        columns = ["_id", "doc"]
        values = [sql_value(doc["_id"]), bson.encode(doc)]
        for field in sorted(self._ensure()):
            value = get_path(doc, field)
            columns.append(self._column(field))
            values.append(None if value is _MISSING else sql_value(value))
        return columns, values

    def _insert(self, doc: dict[str, Any]) -> Any:
        if not isinstance(doc, dict):
            raise TypeError("a document must be a dict")
        if "_id" not in doc:
            doc["_id"] = ObjectId()
        columns, values = self._row(doc)
        try:
            self.store.execute(
                f"INSERT INTO {self.table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(values))})", values
            )
        except sqlite3.IntegrityError as exc:
            raise DuplicateKeyError(f"duplicate key in {self.name}: {exc}") from exc
        return doc["_id"]

    def insert_one(self, document: dict[str, Any], **_: Any) -> InsertOneResult:
        with self.store.transaction():
            return InsertOneResult(self._insert(document), True)

    def insert_many(self, documents: list[dict[str, Any]], **_: Any) -> InsertManyResult:
        with self.store.transaction():
            return InsertManyResult([self._insert(doc) for doc in documents], True)

    def _write_back(self, rowid: int, doc: dict[str, Any]) -> None:
        columns, values = self._row(doc)
        assignments = ", ".join(f"{column} = ?" for column in columns)
        try:
            self.store.execute(f"UPDATE {self.table} SET {assignments} WHERE rowid = ?", [*values, rowid])
        except sqlite3.IntegrityError as exc:
            raise DuplicateKeyError(f"duplicate key in {self.name}: {exc}") from exc

    @staticmethod
    def _apply(doc: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
        if not update or not all(str(key).startswith("$") for key in update):
            raise UnsupportedQuery("an update must use operators ($set, $unset, $inc); use replace_one to replace")
        changed = dict(doc)
        for operator, fields in update.items():
            for path, value in fields.items():
                if path == "_id" or path.startswith("_id."):
                    raise UnsupportedQuery("the _id of a document cannot change")
                if operator == "$set":
                    _set_path(changed, path, value)
                elif operator == "$unset":
                    _unset_path(changed, path)
                elif operator == "$inc":
                    current = get_path(changed, path)
                    _set_path(changed, path, (0 if current is _MISSING else current) + value)
                else:
                    raise UnsupportedQuery(f"unsupported update operator {operator}")
        return changed

    def _upsert_document(self, query: Mapping[str, Any], replacement: Mapping[str, Any] | None) -> dict[str, Any]:
        seed = {k: v for k, v in query.items() if not k.startswith("$") and not _is_operator_document(v)}
        return dict(replacement) if replacement is not None else seed

    def _update(self, query: Mapping[str, Any], update: Mapping[str, Any], *, many: bool, upsert: bool):
        with self.store.transaction():
            found = list(self._select(query, limit=0 if many else 1, rowid=True))
            for rowid, doc in found:
                self._write_back(rowid, self._apply(doc, update))
            raw: dict[str, Any] = {"n": len(found), "nModified": len(found)}
            if not found and upsert:
                doc = self._apply(self._upsert_document(query, None), update)
                raw = {"n": 1, "nModified": 0, "upserted": self._insert(doc)}
            return UpdateResult(raw, True)

    def update_one(self, filter: Mapping[str, Any], update: Mapping[str, Any], upsert: bool = False, **_: Any):  # noqa: A002
        return self._update(filter, update, many=False, upsert=upsert)

    def update_many(self, filter: Mapping[str, Any], update: Mapping[str, Any], upsert: bool = False, **_: Any):  # noqa: A002
        return self._update(filter, update, many=True, upsert=upsert)

    def replace_one(self, filter: Mapping[str, Any], replacement: Mapping[str, Any], upsert: bool = False, **_: Any):  # noqa: A002
        if any(str(key).startswith("$") for key in replacement):
            raise UnsupportedQuery("a replacement document cannot hold update operators")
        with self.store.transaction():
            found = list(self._select(filter, limit=1, rowid=True))
            if found:
                rowid, old = found[0]
                new = dict(replacement)
                if "_id" in new and sql_value(new["_id"]) != sql_value(old["_id"]):
                    raise UnsupportedQuery("the _id of a document cannot change")
                self._write_back(rowid, {"_id": old["_id"], **new})
                return UpdateResult({"n": 1, "nModified": 1}, True)
            if upsert:
                doc = self._upsert_document(filter, None)
                doc.update(replacement)
                return UpdateResult({"n": 1, "nModified": 0, "upserted": self._insert(doc)}, True)
            return UpdateResult({"n": 0, "nModified": 0}, True)

    def _delete(self, query: Mapping[str, Any], *, many: bool) -> DeleteResult:
        with self.store.transaction():
            rowids = [rowid for rowid, _doc in self._select(query, limit=0 if many else 1, rowid=True)]
            for start in range(0, len(rowids), 500):
                chunk = rowids[start : start + 500]
                self.store.execute(f"DELETE FROM {self.table} WHERE rowid IN ({', '.join('?' * len(chunk))})", chunk)
            return DeleteResult({"n": len(rowids)}, True)

    def delete_one(self, filter: Mapping[str, Any], **_: Any) -> DeleteResult:  # noqa: A002
        return self._delete(filter, many=False)

    def delete_many(self, filter: Mapping[str, Any], **_: Any) -> DeleteResult:  # noqa: A002
        return self._delete(filter, many=True)

    def drop(self) -> None:
        with self.store.transaction():
            for (index,) in self.store.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
                (_TABLE_PREFIX + self.name,),
            ):
                self.store.execute(f"DROP INDEX IF EXISTS {_quote(index)}")
            self.store.execute(f"DROP TABLE IF EXISTS {self.table}")
        self._columns = None

    # reading

    def find(self, filter: Mapping[str, Any] | None = None, projection: Any = None, **options: Any) -> Cursor:  # noqa: A002
        return Cursor(self, filter or {}, projection, **options)

    def find_one(self, filter: Any = None, projection: Any = None, **options: Any) -> dict[str, Any] | None:  # noqa: A002
        if filter is not None and not isinstance(filter, Mapping):
            filter = {"_id": filter}  # noqa: A001 - pymongo's shorthand
        for doc in self.find(filter, projection, **options).limit(1):
            return doc
        return None

    def count_documents(self, filter: Mapping[str, Any], **_: Any) -> int:  # noqa: A002
        plan = self._plan(filter, None)
        if plan.exact:
            return self.store.execute(f"SELECT COUNT(*) FROM {self.table}{plan.where}", plan.parameters)[0][0]
        return sum(1 for _ in self._select(filter))

    def estimated_document_count(self, **_: Any) -> int:
        self._ensure()
        return self.store.execute(f"SELECT COUNT(*) FROM {self.table}")[0][0]

    def _plan(self, query: Mapping[str, Any], sort: list[tuple[str, int]] | None) -> _Plan:
        """What of a query SQL can do: the WHERE clause for indexed fields, and ORDER BY when possible."""
        columns = self._ensure()
        clauses: list[str] = []
        parameters: list[Any] = []
        exact = True
        for field, condition in query.items():
            indexed = field == "_id" or field in columns
            if field.startswith("$") or not indexed:
                exact = False
                continue
            column = self._column(field)
            if not _is_operator_document(condition):
                if isinstance(condition, (Mapping, list)):
                    exact = False
                elif condition is None:
                    clauses.append(f"{column} IS NULL")
                else:
                    clauses.append(f"{column} = ?")
                    parameters.append(sql_value(condition))
                continue
            for operator, wanted in condition.items():
                if operator in ("$in", "$nin") and isinstance(wanted, (list, tuple)):
                    plain = [item for item in wanted if item is not None and not isinstance(item, (Mapping, list))]
                    if len(plain) != len(wanted) or not plain:
                        exact = False
                        continue
                    marks = ", ".join("?" * len(plain))
                    negation = "NOT " if operator == "$nin" else ""
                    clauses.append(f"{column} {negation}IN ({marks})")
                    if operator == "$nin":
                        clauses[-1] = f"({clauses[-1]} OR {column} IS NULL)"
                    parameters.extend(sql_value(item) for item in plain)
                elif operator in _COMPARISONS and wanted is not None and not isinstance(wanted, (Mapping, list)):
                    clauses.append(f"{column} {_COMPARISONS[operator]} ?")
                    parameters.append(sql_value(wanted))
                    if operator != "$eq":
                        exact = False  # MongoDB compares within one type only: checked in Python too
                else:
                    exact = False
        order = ""
        if sort and all(field == "_id" or field in columns for field, _ in sort):
            order = " ORDER BY " + ", ".join(
                f"{self._column(field)} {'DESC' if direction == DESCENDING else 'ASC'}" for field, direction in sort
            )
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        return _Plan(where, parameters, order, exact)

    def _select(
        self,
        query: Mapping[str, Any],
        *,
        sort: list[tuple[str, int]] | None = None,
        skip: int = 0,
        limit: int = 0,
        rowid: bool = False,
    ) -> Iterator[Any]:
        """Matching documents (or (rowid, document) pairs) in order; SQL does all it can."""
        if not isinstance(query, Mapping):
            raise UnsupportedQuery("a filter must be a document")
        plan = self._plan(query, sort)
        sql = f"SELECT rowid, doc FROM {self.table}{plan.where}{plan.order}"
        parameters = list(plan.parameters)
        pushed = plan.exact and (plan.order or not sort)
        if pushed and (limit or skip):
            sql += " LIMIT ? OFFSET ?"
            parameters += [limit if limit else -1, skip]
        rows = self.store.execute(sql, parameters)
        docs = [(row_id, bson.decode(raw, _CODEC)) for row_id, raw in rows]
        if not pushed:
            if not plan.exact:
                docs = [(row_id, doc) for row_id, doc in docs if matches(doc, query)]
            if sort and not plan.order:
                for field, direction in reversed(sort):
                    docs.sort(key=lambda item: _sort_key(get_path(item[1], field)), reverse=direction == DESCENDING)
            docs = docs[skip : skip + limit if limit else None]
        for row_id, doc in docs:
            yield (row_id, doc) if rowid else doc

    def explain(self, query: Mapping[str, Any], sort: Any = None) -> dict[str, Any]:
        """SQLite's plan for a query: ``{"plan": [...], "uses_index": bool, "sorts_in_memory": bool}``."""
        sort_keys = _normalise_keys(sort) if sort else None
        plan = self._plan(query, sort_keys)
        steps = [row[3] for row in self.store.execute(
            f"EXPLAIN QUERY PLAN SELECT rowid, doc FROM {self.table}{plan.where}{plan.order}", plan.parameters
        )]  # fmt: skip
        return {
            "plan": steps,
            "uses_index": any("USING INDEX" in step or "USING PRIMARY KEY" in step for step in steps),
            "sorts_in_memory": any("TEMP B-TREE" in step for step in steps) or bool(sort_keys and not plan.order),
            "filtered_in_python": not plan.exact,
        }


class _Plan:
    __slots__ = ("where", "parameters", "order", "exact")

    def __init__(self, where: str, parameters: list[Any], order: str, exact: bool):
        self.where, self.parameters, self.order, self.exact = where, parameters, order, exact


class Cursor:
    """pymongo's cursor, as far as Echo uses it: ``sort``, ``skip``, ``limit``, iteration, ``explain``."""

    def __init__(
        self,
        collection: Collection,
        query: Mapping[str, Any],
        projection: Any = None,
        *,
        sort: Any = None,
        skip: int = 0,
        limit: int = 0,
        **options: Any,
    ):
        unknown = set(options) - {"batch_size", "no_cursor_timeout", "allow_disk_use"}
        if unknown:
            raise UnsupportedQuery(f"unsupported find options: {sorted(unknown)}")
        if isinstance(projection, (list, tuple)):
            projection = dict.fromkeys(projection, 1)
        self._collection, self._query, self._projection = collection, query, projection
        self._sort = _normalise_keys(sort) if sort else None
        self._skip, self._limit = int(skip or 0), int(limit or 0)
        if self._skip < 0 or self._limit < 0:
            raise UnsupportedQuery("skip and limit must not be negative")

    def sort(self, key: Any, direction: int | None = None) -> Cursor:
        self._sort = _normalise_keys([(key, direction or ASCENDING)] if isinstance(key, str) else key)
        return self

    def skip(self, count: int) -> Cursor:
        self._skip = int(count)
        return self

    def limit(self, count: int) -> Cursor:
        self._limit = int(count)
        return self

    def __iter__(self) -> Iterator[dict[str, Any]]:
        with self._collection.store.transaction():  # one consistent read
            docs = list(self._collection._select(self._query, sort=self._sort, skip=self._skip, limit=self._limit))
        return iter([_project(doc, self._projection) for doc in docs])

    def explain(self) -> dict[str, Any]:
        return self._collection.explain(self._query, self._sort)
