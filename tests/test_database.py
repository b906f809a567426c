"""DatabaseManager against mongomock, the embedded store and (with MONGODB_URI) a real MongoDB."""

from __future__ import annotations

import os
import threading
import uuid
from datetime import timedelta

import mongomock
import pytest
from bson import ObjectId

from backend.api_server import create_app
from backend.database import NEWEST_FIRST, DatabaseManager, utcnow
from backend.errors import DatabaseUnavailable
from tests.helpers import (
    FISH_KEY,
    FISH_MODEL_ID,
    FISH_URL,
    FlakyClient,
    closed_port,
    fetch,
    fish_model,
    upload,
    wait_until,
)

BACKENDS = ["mongomock", "embedded", pytest.param("mongodb", marks=pytest.mark.mongodb)]


@pytest.fixture(params=BACKENDS)
def db(request, tmp_path):
    if request.param == "mongomock":
        manager = DatabaseManager(client=mongomock.MongoClient(tz_aware=True))
    elif request.param == "embedded":
        manager = DatabaseManager(data_dir=tmp_path)
    else:
        uri = os.environ.get("MONGODB_URI")
        if not uri:
            pytest.skip("MONGODB_URI is not set")
        name = f"echo_test_{uuid.uuid4().hex[:8]}"
        manager = DatabaseManager(uri=uri, db_name=name)
        yield manager
        manager._client.drop_database(name)
        manager.close()
        return
    yield manager
    manager.close()


def make_voice(db, user_id, model_id, **extra):
    record = {"model_id": model_id, "user_id": user_id, "name": model_id, "provider": "fish", "echo_id": None}
    record.update(extra)
    return db.save_voice_model(record)


def test_users_get_or_create(db):
    user, created = db.get_or_create_user("auth0|1", "a@example.com")
    assert created and isinstance(user["_id"], ObjectId)
    again, created_again = db.get_or_create_user("auth0|1", None)
    assert not created_again and again["_id"] == user["_id"] and again["email"] == "a@example.com"
    assert db.get_user_by_auth0("auth0|1")["_id"] == user["_id"]
    assert db.get_user(user["_id"])["auth0_user_id"] == "auth0|1"
    assert db.get_user(ObjectId()) is None


def test_concurrent_get_or_create_makes_one_user(db):
    ids = []

    def worker():
        ids.append(db.get_or_create_user("auth0|race", None)[0]["_id"])

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 1


def test_voice_models_listing_newest_first_and_paged(db):
    user = db.get_or_create_user("auth0|v", None)[0]["_id"]
    other = db.get_or_create_user("auth0|w", None)[0]["_id"]
    first = utcnow()
    for i in range(4):  # a second apart, whatever the clock's resolution: newest first is well defined
        make_voice(db, user, f"model-{i}", created_at=first + timedelta(seconds=i))
    make_voice(db, other, "someone-else")
    models, total = db.list_voice_models(user, limit=2, offset=1)
    assert total == 4 and [m["model_id"] for m in models] == ["model-2", "model-1"]
    assert db.get_voice_model("model-0")["user_id"] == user
    assert db.get_voice_model("missing") is None


def test_echo_links_and_deletes(db):
    user = db.get_or_create_user("auth0|e", None)[0]["_id"]
    make_voice(db, user, "voice-a")
    make_voice(db, user, "voice-b")
    echo = db.create_echo(user_id=user, name="Gran", persona_prompt="kind", voice_model_id="voice-a")
    assert db.get_voice_model("voice-a")["echo_id"] == echo["_id"]

    updated = db.update_echo(echo["_id"], {"voice_model_id": "voice-b", "name": "Granny", "user_id": "ignored"})
    assert updated["voice_model_id"] == "voice-b" and updated["name"] == "Granny" and updated["user_id"] == user
    assert db.get_voice_model("voice-a")["echo_id"] is None
    assert db.get_voice_model("voice-b")["echo_id"] == echo["_id"]
    assert db.update_echo(ObjectId(), {"name": "x"}) is None

    for i in range(3):
        db.add_message(echo["_id"], "user", f"m{i}")
    assert db.delete_voice_model("voice-b") is True
    assert db.get_echo(echo["_id"])["voice_model_id"] is None
    assert db.delete_voice_model("voice-b") is False

    assert db.delete_echo(echo["_id"]) is True
    assert db.get_echo(echo["_id"]) is None and db.list_messages(echo["_id"]) == []
    assert db.delete_echo(echo["_id"]) is False
    echos, total = db.list_echos(user)
    assert echos == [] and total == 0


def test_messages_latest_n_oldest_first(db):
    echo_id = ObjectId()
    for i in range(6):
        db.add_message(echo_id, "user" if i % 2 else "assistant", f"m{i}")
    assert [m["content"] for m in db.list_messages(echo_id, limit=3)] == ["m3", "m4", "m5"]
    assert [m["content"] for m in db.list_messages(echo_id)] == [f"m{i}" for i in range(6)]


def test_memories_add_list_update_delete(db):
    user = db.get_or_create_user("auth0|m", None)[0]["_id"]
    echo = db.create_echo(user_id=user, name="Gran", persona_prompt="", voice_model_id=None)["_id"]
    other_echo = ObjectId()
    first = db.add_memory(echo, user, "She grew roses.")
    assert isinstance(first["_id"], ObjectId) and first["echo_id"] == echo and first["user_id"] == user
    assert first["text"] == "She grew roses." and first["created_at"] == first["updated_at"]
    for i in range(4):
        db.add_memory(echo, user, f"memory {i}")
    db.add_memory(other_echo, user, "someone else's")
    assert db.get_memory(first["_id"])["text"] == "She grew roses."
    assert db.get_memory(ObjectId()) is None
    assert db.count_memories(echo) == 5 and db.count_memories(other_echo) == 1 and db.count_memories(ObjectId()) == 0

    page, total = db.list_memories(echo, limit=2, offset=1)  # newest first, even within one millisecond
    assert total == 5 and [m["text"] for m in page] == ["memory 2", "memory 1"]
    everything = db.all_memories(echo)
    assert [m["text"] for m in everything] == ["memory 3", "memory 2", "memory 1", "memory 0", "She grew roses."]
    assert len(db.all_memories(echo, limit=3)) == 3

    updated = db.update_memory(first["_id"], "She grew red roses.")
    assert updated["text"] == "She grew red roses." and updated["created_at"] == first["created_at"]
    assert updated["updated_at"] >= first["updated_at"]
    assert db.get_memory(first["_id"])["text"] == "She grew red roses."
    assert db.update_memory(ObjectId(), "x") is None

    assert db.delete_memory(first["_id"]) is True
    assert db.delete_memory(first["_id"]) is False
    assert db.get_memory(first["_id"]) is None and db.count_memories(echo) == 4


def test_add_memory_at_most(db):
    echo = ObjectId()
    for i in range(3):
        assert db.add_memory(echo, None, f"m{i}", at_most=3) is not None
    assert db.add_memory(echo, None, "one too many", at_most=3) is None
    assert db.count_memories(echo) == 3
    assert db.add_memory(ObjectId(), None, "another echo", at_most=3) is not None


def test_concurrent_adds_keep_the_limit(db):
    echo = ObjectId()
    stored = []

    def worker(n):
        for i in range(5):
            stored.append(db.add_memory(echo, None, f"{n}-{i}", at_most=12))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert db.count_memories(echo) == 12 and sum(m is not None for m in stored) == 12


def test_memories_go_with_their_echo_and_their_account(db):
    user = db.get_or_create_user("auth0|mine", None)[0]["_id"]
    other = db.get_or_create_user("auth0|theirs", None)[0]["_id"]
    echo = db.create_echo(user_id=user, name="Gran", persona_prompt="", voice_model_id=None)["_id"]
    kept = db.create_echo(user_id=user, name="Grandad", persona_prompt="", voice_model_id=None)["_id"]
    theirs = db.create_echo(user_id=other, name="Mum", persona_prompt="", voice_model_id=None)["_id"]
    ownerless = db.create_echo(user_id=None, name="Old", persona_prompt="", voice_model_id=None)["_id"]
    db.add_memory(echo, user, "a")
    db.add_memory(echo, user, "b")
    db.add_memory(kept, user, "c")
    db.add_memory(theirs, other, "d")
    db.add_memory(ownerless, user, "added by the user to an echo without owner")
    db.add_memory(ownerless, other, "added by someone else")

    assert db.delete_echo(echo) is True
    assert db.all_memories(echo) == [] and db.count_memories(kept) == 1

    counts = db.delete_user_data(user)
    assert counts["memories"] == 2 and counts["echos"] == 1 and counts["users"] == 1
    assert db.count_memories(kept) == 0
    assert [m["text"] for m in db.all_memories(ownerless)] == ["added by someone else"]
    assert [m["text"] for m in db.all_memories(theirs)] == ["d"]


def test_times_are_utc(db):
    user, _ = db.get_or_create_user("auth0|t", None)
    stored = db.get_user(user["_id"])
    created = stored["created_at"]
    assert created.tzinfo is None or created.utcoffset().total_seconds() == 0


def test_threads_share_the_store_safely(db):
    echo_id = ObjectId()

    def writer(n):
        for i in range(20):
            db.add_message(echo_id, "user", f"{n}-{i}")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(db.list_messages(echo_id, limit=500)) == 120


@pytest.mark.parametrize("backend", ["mongomock", "embedded"])
def test_indexes(tmp_path, backend):
    db = (
        DatabaseManager(client=mongomock.MongoClient())
        if backend == "mongomock"
        else DatabaseManager(data_dir=tmp_path)
    )
    db.get_user(ObjectId())  # indexes are made on first use
    info = db._db.users.index_information()
    assert any(spec["key"] == [("auth0_user_id", 1)] and spec.get("unique") for spec in info.values())
    models = db._db.voice_models.index_information()
    assert any(spec["key"] == [("model_id", 1)] and spec.get("unique") for spec in models.values())
    newest_first = [("created_at", -1), ("_id", -1)]
    assert any(spec["key"] == [("user_id", 1), *newest_first] for spec in models.values())
    messages = db._db.messages.index_information().values()
    assert any(spec["key"] == [("echo_id", 1), *newest_first] for spec in messages)
    assert any(spec["key"] == [("user_id", 1), *newest_first] for spec in db._db.echos.index_information().values())
    memories = db._db.memories.index_information().values()
    assert any(spec["key"] == [("echo_id", 1), *newest_first] for spec in memories)
    db.close()


def test_embedded_store_persists_across_restarts(tmp_path):
    first = DatabaseManager(data_dir=tmp_path)
    user, _ = first.get_or_create_user("auth0|p", "p@example.com")
    first.add_message(user["_id"], "user", "remember me")
    first.close()
    second = DatabaseManager(data_dir=tmp_path)
    assert second.get_user_by_auth0("auth0|p")["_id"] == user["_id"]
    assert second.list_messages(user["_id"])[0]["content"] == "remember me"
    second.close()


def test_outage_raises_unavailable_and_recovers_without_restart():
    flaky = FlakyClient()
    flaky.down = True
    db = DatabaseManager(client=flaky)
    with pytest.raises(DatabaseUnavailable):
        db.get_or_create_user("auth0|o", None)
    assert db.ping()["status"] == "unavailable"
    flaky.down = False
    user, created = db.get_or_create_user("auth0|o", None)
    assert created and db.ping()["status"] == "ok"
    assert flaky.real["echo_db"].users.index_information()  # indexes made once it came back
    flaky.down = True
    with pytest.raises(DatabaseUnavailable):
        db.list_messages(user["_id"])


def test_unreachable_mongodb_server_degrades_the_app(tmp_path):
    """A real driver pointed at a closed port: the server starts, database routes answer 503."""
    app = create_app(
        {
            "DATA_DIR": str(tmp_path),
            "MONGODB_URI": f"mongodb://127.0.0.1:{closed_port()}/?directConnection=true",
            "RATELIMIT_STORAGE_URI": "memory://",  # the MongoDB-backed limiter is tested in test_security
            "MONGODB_TIMEOUT_MS": 200,
            "LOG_LEVEL": "ERROR",
        },
        environ={},
        providers={},
    )
    client = app.test_client()

    def checked() -> dict | None:
        body = client.get("/health").json
        return body if body["components"]["database"]["status"] != "checking" else None

    health = wait_until(checked, "/health reports the database check")  # checks run in the background
    assert health["status"] == "degraded"
    assert health["components"]["database"] == {
        "status": "unavailable",
        "backend": "mongodb",
        "detail": "The database is unavailable; try again shortly.",
    }
    response = client.post("/api/users/auth0|x")
    assert response.status_code == 503 and response.json["error"] == "database_unavailable"
    app.extensions["echo"].db.close()


def test_mongo_uri_alias_and_bad_uri(tmp_path):
    from backend.config import ConfigError, load_settings

    assert load_settings(env={"MONGO_URI": "mongodb://h/"}).mongodb_uri == "mongodb://h/"
    with pytest.raises(ConfigError):
        DatabaseManager(uri="http://not-mongo")


def test_upload_and_synthesize_work_while_mongodb_is_unreachable(tmp_path, fish, wav_bytes, slept):
    """A real driver pointed at a closed port, audio on local disk: cloning and speech go on, with a warning."""
    app = create_app(
        {
            "DATA_DIR": str(tmp_path),
            "MONGODB_URI": f"mongodb://127.0.0.1:{closed_port()}/?directConnection=true",
            "RATELIMIT_STORAGE_URI": "memory://",  # the MongoDB-backed limiter is tested in test_security
            "MONGODB_TIMEOUT_MS": 200,
            "AUDIO_STORE": "files",
            "VOICE_PROVIDER": "fish",
            "FISH_AUDIO_API_KEY": FISH_KEY,
            "FISH_AUDIO_API_URL": FISH_URL,
            "LOG_LEVEL": "ERROR",
        },
        environ={},
    )
    client = app.test_client()
    fish.post(f"{FISH_URL}/model", json=fish_model(), status=201)
    fish.post(f"{FISH_URL}/v1/tts", body=b"ID3" + b"\0" * 300, content_type="audio/mpeg")
    user = "a" * 24  # named, though the database cannot say who it is now
    created = upload(client, wav_bytes, name="Gran", user_id=user)
    assert created.status_code == 201
    assert created.json["database_record"] is None
    assert any("database is unavailable" in w for w in created.json["warnings"])
    spoken = client.post("/api/synthesize", json={"text": "Hello", "reference_id": FISH_MODEL_ID, "user_id": user})
    assert spoken.status_code == 200
    assert fetch(client, spoken.json["audio_url"])[1].startswith(b"ID3")
    assert client.get("/api/voice-models?user_id=" + user).status_code == 503
    app.extensions["echo"].db.close()


def _stages(plan) -> list[str]:
    """Every stage name in an explain() plan, whatever the server version's nesting."""
    if isinstance(plan, dict):
        found = [plan["stage"]] if isinstance(plan.get("stage"), str) else []
        return found + [stage for value in plan.values() for stage in _stages(value)]
    if isinstance(plan, list):
        return [stage for value in plan for stage in _stages(value)]
    return []


@pytest.mark.mongodb
@pytest.mark.parametrize("db", ["mongodb"], indirect=True)
@pytest.mark.parametrize(
    "collection, field",
    [("voice_models", "user_id"), ("echos", "user_id"), ("messages", "echo_id"), ("memories", "echo_id")],
)
def test_lists_are_served_by_indexes(db, collection, field):
    """A page of a list reads only that page from an index, so it takes the same time at 1k or 100k records."""
    from backend.database import NEWEST_FIRST

    db.ping()  # creates the indexes
    plan = db._db[collection].find({field: ObjectId()}, sort=NEWEST_FIRST, skip=50, limit=50).explain()
    stages = _stages(plan["queryPlanner"]["winningPlan"])
    assert "IXSCAN" in stages and "COLLSCAN" not in stages and "SORT" not in stages, stages


LISTS = [
    # (collection, filter field, sort): every list Echo serves, as DatabaseManager asks for it
    ("voice_models", "user_id", "NEWEST_FIRST"),
    ("echos", "user_id", "NEWEST_FIRST"),
    ("messages", "echo_id", "NEWEST_FIRST"),
    ("memories", "echo_id", "NEWEST_FIRST"),
    ("memories", "user_id", None),
    ("users", "auth0_user_id", None),
    ("voice_models", "model_id", None),
    ("voice_models", "echo_id", None),
    ("echos", "voice_model_id", None),
    ("audio_files", "model_id", None),
    ("audio_files", "user_id", None),
]


@pytest.mark.parametrize("collection, field, sort", LISTS)
def test_the_embedded_store_serves_every_list_from_an_index(tmp_path, collection, field, sort):
    """As on MongoDB: the filter and the order come from an index, and SQL reads only the page."""
    from backend.database import NEWEST_FIRST

    db = DatabaseManager(data_dir=tmp_path)
    db.ping()  # creates the indexes
    order = NEWEST_FIRST if sort else None
    plan = db._db[collection].find({field: ObjectId()}, sort=order, skip=50, limit=50).explain()
    assert plan["uses_index"] and not plan["sorts_in_memory"] and not plan["filtered_in_python"], plan
    db.close()


@pytest.mark.parametrize("backend", ["mongomock", "embedded"])
def test_the_history_on_each_store_pages_clears_what_was_listed_and_finds_an_echos_audio(tmp_path, backend):
    """The history's queries on the embedded store as on mongomock, each from an index."""
    if backend == "mongomock":
        db = DatabaseManager(client=mongomock.MongoClient(tz_aware=True))
    else:
        db = DatabaseManager(data_dir=tmp_path)
    try:
        user, other, echo = ObjectId(), ObjectId(), ObjectId()
        for i in range(5):
            db.add_spoken({"user_id": user, "text": f"{i}", "model_id": None, "echo_id": echo if i % 2 else None,
                           "audio": f"a{i}.mp3"})  # fmt: skip
        db.add_spoken({"user_id": other, "text": "theirs", "model_id": None, "echo_id": None, "audio": "b.mp3"})
        page, total = db.list_spoken(user, limit=2, offset=1)
        assert total == 5 and [e["text"] for e in page] == ["3", "2"]
        assert sorted(db.spoken_audio(echo_id=echo)) == ["a1.mp3", "a3.mp3"]
        listed, _ = db.list_spoken(user, limit=None)
        db.add_spoken({"user_id": user, "text": "late", "model_id": None, "echo_id": None, "audio": "late.mp3"})
        assert db.clear_spoken(user, [e["_id"] for e in listed]) == 5
        assert [e["text"] for e in db.list_spoken(user)[0]] == ["late"]
        assert db.clear_spoken(user) == 1 and db.list_spoken(other)[1] == 1
        if backend == "embedded":
            for query, sort in [
                ({"user_id": user}, NEWEST_FIRST),
                ({"model_id": "x"}, None),
                ({"echo_id": echo}, None),
            ]:
                plan = db._db["speech_history"].find(query, sort=sort, skip=50, limit=50).explain()
                assert plan["uses_index"] and not plan["sorts_in_memory"] and not plan["filtered_in_python"], plan
    finally:
        db.close()
