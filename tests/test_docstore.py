"""The embedded store (backend.docstore): pymongo's calls on SQLite, checked against mongomock."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import mongomock
import pytest
from bson import ObjectId
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo.errors import DuplicateKeyError

from backend.docstore import DocStore, UnsupportedQuery, sql_value

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def store(tmp_path):
    opened = DocStore(tmp_path / "store.sqlite3")
    yield opened
    opened.close()


# -- values come back as they went in -----------------------------------------------------------------


def test_documents_keep_their_types(store):
    moment = datetime(2026, 3, 4, 5, 6, 7, 123000, tzinfo=UTC)
    doc = {
        "_id": ObjectId(),
        "text": "Grandma's kitchen \u00e9\u00e8 \U0001f600",
        "number": 42,
        "big": 2**62,
        "ratio": 0.25,
        "flag": True,
        "nothing": None,
        "when": moment,
        "nested": {"consent": {"recording": "r.wav", "at": moment}},
        "items": [1, "two", {"three": 3}],
        "raw": b"\x00\x01",
    }
    store.things.insert_one(doc)
    found = store.things.find_one({"_id": doc["_id"]})
    assert found == doc
    assert found["when"].tzinfo is not None and found["when"] == moment


def test_a_document_without_an_id_gets_an_object_id(store):
    doc = {"name": "a"}
    result = store.things.insert_one(doc)
    assert isinstance(doc["_id"], ObjectId) and result.inserted_id == doc["_id"]
    assert store.things.find_one(doc["_id"])["name"] == "a"  # pymongo's find_one(id) shorthand


# -- the same answers as MongoDB (mongomock), for any data and query -----------------------------------

POOL_IDS = [ObjectId(f"{n:024x}") for n in range(1, 6)]
BASE = datetime(2026, 1, 1, tzinfo=UTC)
values = st.one_of(
    st.none(),
    st.integers(-3, 3),
    st.sampled_from(["a", "b", "c"]),
    st.sampled_from(POOL_IDS),
    st.integers(0, 5).map(lambda n: BASE + timedelta(minutes=n)),
)
docs = st.lists(st.fixed_dictionaries({}, optional={"a": values, "b": values, "n": st.integers(-3, 3)}), max_size=25)
conditions = st.one_of(
    values,
    st.builds(lambda v: {"$in": v}, st.lists(values, min_size=1, max_size=3)),
    st.builds(lambda v: {"$ne": v}, values),
    st.builds(lambda op, v: {op: v}, st.sampled_from(["$gt", "$gte", "$lt", "$lte"]), st.integers(-3, 3)),
)
queries = st.dictionaries(st.sampled_from(["a", "b", "n"]), conditions, max_size=2)
sorts = st.lists(
    st.tuples(st.sampled_from(["a", "b", "n"]), st.sampled_from([1, -1])), max_size=2, unique_by=lambda s: s[0]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=docs,
    query=queries,
    sort=sorts,
    skip=st.integers(0, 5),
    limit=st.integers(0, 8),
    indexed=st.sets(st.sampled_from(["a", "b", "n"])),
)
def test_find_and_count_answer_as_mongodb_does(tmp_path_factory, data, query, sort, skip, limit, indexed):
    """Filters, sorts, skip and limit, with and without indexes (SQL or Python), give MongoDB's answer."""
    store = DocStore(tmp_path_factory.mktemp("prop") / "s.sqlite3")
    mock = mongomock.MongoClient(tz_aware=True).db.things
    try:
        ours = store.things
        for field in sorted(indexed):
            ours.create_index([(field, 1)])
        ids = [ObjectId() for _ in data]
        for oid, doc in zip(ids, data, strict=True):
            ours.insert_one({"_id": oid, **doc})
            mock.insert_one({"_id": oid, **doc})
        order = [*sort, ("_id", 1)]  # a total order, so pages are comparable
        want = [d["_id"] for d in mock.find(query, sort=order, skip=skip, limit=limit)]
        got = [d["_id"] for d in ours.find(query, sort=order, skip=skip, limit=limit)]
        assert got == want
        assert ours.count_documents(query) == mock.count_documents(query)
    finally:
        store.close()


@settings(max_examples=80, deadline=None)
@given(data=docs, query=queries, change=st.fixed_dictionaries({"a": values}), many=st.booleans())
def test_updates_and_deletes_touch_what_mongodb_touches(tmp_path_factory, data, query, change, many):
    store = DocStore(tmp_path_factory.mktemp("upd") / "s.sqlite3")
    mock = mongomock.MongoClient(tz_aware=True).db.things
    try:
        ours = store.things
        ours.create_index([("a", 1)])
        for index, doc in enumerate(data):
            ours.insert_one({"_id": index, **doc})
            mock.insert_one({"_id": index, **doc})
        update = {"$set": change, "$inc": {"n": 1}}
        if many:
            assert ours.update_many(query, update).matched_count == mock.update_many(query, update).matched_count
        else:
            ours_one, mock_one = ours.update_one(query, update), mock.update_one(query, update)
            assert ours_one.matched_count == mock_one.matched_count
        every = [("_id", 1)]
        assert list(ours.find({}, sort=every)) == list(mock.find({}, sort=every))
        assert ours.delete_many(query).deleted_count == mock.delete_many(query).deleted_count
        assert list(ours.find({}, sort=every)) == list(mock.find({}, sort=every))
    finally:
        store.close()


# -- writes -----------------------------------------------------------------------------------------


def test_unique_indexes_and_ids_refuse_duplicates_and_keep_the_first(store):
    users = store.users
    users.create_index([("auth0_user_id", 1)], unique=True)
    users.insert_one({"_id": 1, "auth0_user_id": "auth0|a"})
    with pytest.raises(DuplicateKeyError):
        users.insert_one({"_id": 2, "auth0_user_id": "auth0|a"})
    with pytest.raises(DuplicateKeyError):
        users.insert_one({"_id": 1, "auth0_user_id": "auth0|b"})
    users.insert_one({"_id": 3, "auth0_user_id": "auth0|c"})
    with pytest.raises(DuplicateKeyError):  # an update into a taken key
        users.update_one({"_id": 3}, {"$set": {"auth0_user_id": "auth0|a"}})
    assert [u["auth0_user_id"] for u in users.find({}, sort=[("_id", 1)])] == ["auth0|a", "auth0|c"]
    users.insert_many([{"_id": 4, "email": "same@example.com"}, {"_id": 5, "email": "same@example.com"}])
    with pytest.raises(DuplicateKeyError):  # a unique index over data that already breaks it
        users.create_index([("email", 1)], unique=True)
    assert set(users.index_information()) == {"_id_", "auth0_user_id_1"}
    assert users.count_documents({"email": "same@example.com"}) == 2


def test_upserts_replace_and_unset(store):
    profiles = store.local_voice_profiles
    result = profiles.replace_one({"_id": "m1"}, {"_id": "m1", "profile": "{}"}, upsert=True)
    assert result.upserted_id == "m1"
    profiles.replace_one({"_id": "m1"}, {"profile": '{"a": 1}'}, upsert=True)
    assert profiles.find_one({"_id": "m1"}) == {"_id": "m1", "profile": '{"a": 1}'}
    assert profiles.count_documents({}) == 1
    store.counters.update_one({"_id": "c"}, {"$inc": {"n": 2}, "$set": {"meta.kind": "x"}}, upsert=True)
    store.counters.update_one({"_id": "c"}, {"$inc": {"n": 3}, "$unset": {"meta.kind": ""}})
    assert store.counters.find_one({"_id": "c"}) == {"_id": "c", "n": 5, "meta": {}}


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.update_one({}, {"name": "replacement"}),
        lambda c: c.update_one({}, {"$push": {"items": 1}}),
        lambda c: c.update_one({"_id": 1}, {"$set": {"_id": 2}}),
        lambda c: list(c.find({"$where": "1"})),
        lambda c: list(c.find({"a": {"$regex": "x"}})),
        lambda c: c.replace_one({}, {"$set": {"a": 1}}),
        lambda c: list(c.find({}, collation={"locale": "en"})),
    ],
)
def test_what_the_store_does_not_do_it_refuses_out_loud(store, call):
    store.things.insert_one({"_id": 1, "a": 1})
    with pytest.raises(UnsupportedQuery):
        call(store.things)
    assert store.things.find_one({"_id": 1}) == {"_id": 1, "a": 1}


def test_a_failed_transaction_leaves_nothing(store):
    store.echos.insert_one({"_id": 1, "name": "kept"})
    with pytest.raises(RuntimeError), store.transaction():
        store.echos.insert_one({"_id": 2, "name": "half"})
        store.messages.insert_one({"_id": 3, "echo_id": 2})
        store.echos.delete_one({"_id": 1})
        raise RuntimeError("crash in the middle")
    assert [e["_id"] for e in store.echos.find({})] == [1]
    assert store.messages.count_documents({}) == 0


def test_a_failure_caught_inside_a_transaction_undoes_only_its_own_part(store):
    with store.transaction():
        store.users.insert_one({"_id": 1, "email": "same@example.com"})
        store.users.insert_one({"_id": 2, "email": "same@example.com"})
        with pytest.raises(DuplicateKeyError):
            store.users.create_index([("email", 1)], unique=True)  # adds a column, then fails: all undone
        with pytest.raises(DuplicateKeyError):
            store.users.insert_one({"_id": 1})
        store.users.insert_one({"_id": 3, "email": "other@example.com"})
    assert [u["_id"] for u in store.users.find({}, sort=[("_id", 1)])] == [1, 2, 3]
    assert set(store.users.index_information()) == {"_id_"}
    columns = [row[1] for row in store.execute('PRAGMA table_info("c:users")')]
    assert columns == ["_id", "doc"]


def test_an_index_made_over_existing_documents_finds_them(store):
    store.messages.insert_many(
        [{"_id": n, "echo_id": n % 3, "created_at": BASE + timedelta(seconds=n)} for n in range(30)]
    )
    store.messages.create_index([("echo_id", 1), ("created_at", -1)])
    cursor = store.messages.find({"echo_id": 1}, sort=[("created_at", -1)], limit=3)
    assert [m["_id"] for m in cursor] == [28, 25, 22]
    assert cursor.explain()["uses_index"] and not cursor.explain()["sorts_in_memory"]


def test_threads_write_and_read_without_losing_anything(store):
    store.messages.create_index([("echo_id", 1)])
    errors = []

    def writer(n: int) -> None:
        try:
            for i in range(100):
                store.messages.insert_one({"echo_id": n, "i": i})
                assert store.messages.count_documents({"echo_id": n}) == i + 1
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.messages.count_documents({}) == 800


def test_sql_values_keep_the_order_of_each_type():
    ids = sorted(ObjectId() for _ in range(5))
    assert sorted(ids, key=sql_value) == ids
    times = [BASE + timedelta(milliseconds=n) for n in (5, 1, 3)]
    assert sorted(times, key=sql_value) == sorted(times)
    assert sql_value(datetime(2026, 1, 1)) == sql_value(datetime(2026, 1, 1, tzinfo=UTC))  # naive is UTC


# -- killed at any moment ---------------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[2])
    from backend.docstore import DocStore

    store = DocStore(sys.argv[1])
    i = 0
    while True:
        with store.transaction():  # two collections, one transaction: both or neither
            store["c%d" % (i % 7)].insert_one({"_id": i, "pair": i})
            store.pairs.insert_one({"_id": i})
        print(i, flush=True)  # acknowledged
        i += 1
    """
)


def test_a_kill_never_loses_an_acknowledged_write_or_splits_a_transaction(tmp_path):
    """SIGKILL while writing, including the first write into each new collection: all acknowledged is there."""
    for run in range(4):
        path = tmp_path / f"kill-{run}.sqlite3"
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(REPO)], stdout=subprocess.PIPE, text=True
        )
        acknowledged = -1
        target = 3 + run * 40  # early runs die while collections are still being made
        while acknowledged < target:
            acknowledged = int(child.stdout.readline())
        child.send_signal(signal.SIGKILL)
        child.wait()
        for line in child.stdout:  # anything printed before the kill landed was acknowledged too
            if line.strip():
                acknowledged = int(line)
        child.stdout.close()
        store = DocStore(path)
        pairs = sorted(doc["_id"] for doc in store.pairs.find({}))
        assert pairs[: acknowledged + 1] == list(range(acknowledged + 1))
        assert len(pairs) <= acknowledged + 2  # at most the one in flight
        spread = sorted(
            doc["_id"] for name in store.list_collection_names() if name != "pairs" for doc in store[name].find({})
        )
        assert spread == pairs  # each transaction whole: in both collections or neither
        store.c0.insert_one({"_id": "after"})  # and it takes writes again
        store.close()
