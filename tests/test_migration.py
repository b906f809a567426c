"""An embedded store of an earlier version (montydb) moves into the current one by itself, whatever happens."""

from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from bson import ObjectId

from backend.database import DatabaseManager
from backend.migration import LEGACY_KEPT_AS, store_file
from tests.helpers import cue, started_on_cue

REPO = Path(__file__).resolve().parent.parent
BASE = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
COLLECTIONS = ("users", "voice_models", "echos", "messages", "audio_files", "local_voice_profiles", "secrets")


def legacy_records(messages: int = 40) -> dict[str, list[dict]]:
    """Records shaped as the earlier versions' DatabaseManager wrote them."""
    alice, bob = ObjectId(), ObjectId()
    grandma, grandpa = ObjectId(), ObjectId()
    consent = {
        "confirmed": True,
        "statement": "I have the right to use this voice.",
        "at": BASE,
        "ip": "127.0.0.1",
        "recording": "consent-abc.wav",
    }
    users = [
        {"_id": alice, "auth0_user_id": "local|alice", "email": None, "created_at": BASE, "updated_at": BASE},
        {"_id": bob, "auth0_user_id": "auth0|bob", "email": "bob@example.com", "created_at": BASE, "updated_at": BASE},
    ]
    voice_models = [
        {
            "_id": ObjectId(),
            "model_id": "a" * 32,
            "user_id": alice,
            "name": "Grandma's voice",
            "provider": "fish",
            "echo_id": grandma,
            "reference_audio": "ref-a.wav",
            "consent": consent,
            "created_at": BASE,
            "updated_at": BASE + timedelta(seconds=1),
        },
        {
            "_id": ObjectId(),
            "model_id": "local-" + "b" * 24,
            "user_id": bob,
            "name": "Dad",
            "provider": "local",
            "echo_id": None,
            "reference_audio": "ref-b.wav",
            "consent": {**consent, "recording": "consent-b.wav"},
            "created_at": BASE + timedelta(minutes=1),
            "updated_at": BASE + timedelta(minutes=1),
        },
    ]
    echos = [
        {
            "_id": grandma,
            "user_id": alice,
            "name": "Grandma",
            "persona_prompt": "Warm, talks about her garden.",
            "voice_model_id": "a" * 32,
            "created_at": BASE,
            "updated_at": BASE,
        },
        {
            "_id": grandpa,
            "user_id": alice,
            "name": "Grandpa",
            "persona_prompt": "",
            "voice_model_id": None,
            "voice_deleted_at": BASE + timedelta(days=1),
            "created_at": BASE,  # the same time as Grandma's: order falls to the id
            "updated_at": BASE,
        },
    ]
    message_docs = []
    for n in range(messages):
        message_docs.append(
            {
                "_id": ObjectId(),
                "echo_id": grandma if n % 4 else grandpa,
                "user_id": alice,
                "role": "user" if n % 2 else "assistant",
                "content": f"message {n} \u00e9\U0001f600",
                "created_at": BASE + timedelta(seconds=n // 3),  # some share a time
            }
        )
    audio_files = [
        {"_id": "out-1.mp3", "user_id": alice, "model_id": "a" * 32, "created_at": BASE},
        {"_id": "out-2.wav", "user_id": None, "model_id": None, "created_at": BASE},
    ]
    profiles = [{"_id": "local-" + "b" * 24, "profile": '{"median_f0_hz": 120.5}', "updated_at": BASE}]
    shared = [{"_id": "links", "value": "ab" * 32, "created_at": BASE}]
    return {
        "users": users,
        "voice_models": voice_models,
        "echos": echos,
        "messages": message_docs,
        "audio_files": audio_files,
        "local_voice_profiles": profiles,
        "secrets": shared,
    }


def build_legacy_store(data_dir: Path, records: dict[str, list[dict]]) -> None:
    """A montydb store as earlier versions kept it, under DATA_DIR/db."""
    from montydb import MontyClient, set_storage

    db_dir = data_dir / "db"
    db_dir.mkdir(parents=True)
    set_storage(str(db_dir), storage="sqlite", use_bson=True)
    client = MontyClient(str(db_dir))
    for name, docs in records.items():
        client["echo_db"][name].insert_many(docs)
    client.close()


def stored(db: DatabaseManager, name: str) -> dict:
    return {doc["_id"]: doc for doc in db._db[name].find({})}


def test_every_record_and_relation_moves_over_and_the_old_files_are_kept(tmp_path):
    records = legacy_records()
    build_legacy_store(tmp_path, records)
    db = DatabaseManager(data_dir=tmp_path)
    assert db.migration is not None
    assert db.migration.copied == {name: len(docs) for name, docs in records.items()}
    for name, docs in records.items():  # every field of every record, with its id and times
        assert stored(db, name) == {doc["_id"]: doc for doc in docs}, name

    alice, bob = (u["_id"] for u in records["users"])
    grandma, grandpa = (e["_id"] for e in records["echos"])
    assert db.get_user_by_auth0("local|alice")["_id"] == alice
    assert db.get_voice_model("a" * 32)["consent"]["recording"] == "consent-abc.wav"
    echos, total = db.list_echos(alice)
    assert total == 2 and [e["_id"] for e in echos] == sorted([grandma, grandpa], reverse=True)
    assert db.get_echo(grandpa)["voice_deleted_at"] == BASE + timedelta(days=1)
    wanted = sorted(
        (m for m in records["messages"] if m["echo_id"] == grandma), key=lambda m: (m["created_at"], m["_id"])
    )
    assert db.list_messages(grandma, limit=1000) == wanted
    assert db.list_messages(grandma, limit=5) == wanted[-5:]
    assert sorted(db.audio_names(user_id=alice)) == ["out-1.mp3"]
    assert db.get_local_profile("local-" + "b" * 24) == '{"median_f0_hz": 120.5}'
    assert db.shared_secret("links") == "ab" * 32
    assert db.delete_user_data(bob)["voice_models"] == 1  # and it works as a store
    db.close()

    db_dir = tmp_path / "db"
    kept = db_dir / LEGACY_KEPT_AS
    assert sorted(p.name for p in kept.iterdir()) == [".monty.storage", "echo_db", "monty.storage.cfg"]
    assert sorted(p.name for p in (kept / "echo_db").iterdir()) == sorted(f"{n}.collection" for n in COLLECTIONS)
    assert not list(db_dir.glob(".new-*"))
    again = DatabaseManager(data_dir=tmp_path)  # a second start: nothing to move
    assert again.migration is None
    assert again.get_user(alice)["auth0_user_id"] == "local|alice"
    again.close()


def _left_half_set_up(db_dir: Path, state: str) -> None:
    """What a kill at each step of montydb's own set-up could leave (its files were written in place)."""
    db_dir.mkdir(parents=True)
    name, config = db_dir / ".monty.storage", db_dir / "monty.storage.cfg"
    whole_config = "[sqlite]\nuse_bson = yes\nmongo_version = 4.2\n\n"
    if state == "storage name truncated":
        name.write_text("")
    elif state == "storage name only":
        name.write_text("sqlite")
    elif state == "configuration truncated":
        name.write_text("sqlite")
        config.write_text("")
    elif state == "storage name truncated, configuration whole":
        name.write_text("")
        config.write_text(whole_config)
    elif state == "collection without its table":
        name.write_text("sqlite")
        config.write_text(whole_config)
        (db_dir / "echo_db").mkdir()
        connection = sqlite3.connect(db_dir / "echo_db" / "messages.collection")
        connection.execute("PRAGMA journal_mode=WAL")  # montydb's first step; the table never came
        connection.close()


@pytest.mark.parametrize(
    "state",
    [
        "storage name truncated",
        "storage name only",
        "configuration truncated",
        "storage name truncated, configuration whole",
        "collection without its table",
    ],
)
def test_an_old_store_left_half_set_up_by_a_kill_migrates_and_works(tmp_path, state):
    _left_half_set_up(tmp_path / "db", state)
    db = DatabaseManager(data_dir=tmp_path)
    assert db.migration is not None and sum(db.migration.copied.values()) == 0
    for name in COLLECTIONS:
        db._db[name].insert_one({"_id": ObjectId(), "n": 1})
        assert db._db[name].count_documents({"n": 1}) == 1, name
    user, created = db.get_or_create_user("after-repair", None)
    assert created and db.get_user(user["_id"])["auth0_user_id"] == "after-repair"
    db.close()
    assert not list((tmp_path / "db").glob(".new-*"))  # nothing staged is left
    assert not (tmp_path / "db" / ".monty.storage").exists()


def test_a_migration_renamed_into_place_but_not_yet_tidied_is_finished_without_copying_again(tmp_path):
    records = legacy_records(messages=4)
    build_legacy_store(tmp_path, records)
    first = DatabaseManager(data_dir=tmp_path)
    first.close()
    db_dir = tmp_path / "db"
    kept = db_dir / LEGACY_KEPT_AS
    for path in list(kept.iterdir()):  # as if killed after the rename, before the old files moved
        path.rename(db_dir / path.name)
    kept.rmdir()
    store = store_file(db_dir, "echo_db")
    with sqlite3.connect(store) as connection:  # a write made after the migration must survive
        connection.execute('DELETE FROM "c:secrets"')
    db = DatabaseManager(data_dir=tmp_path)
    assert db.migration is not None and db.migration.copied == {}
    assert db._db.secrets.count_documents({}) == 0  # the store in place was kept, not copied again
    assert stored(db, "messages") == {m["_id"]: m for m in records["messages"]}
    assert sorted(p.name for p in (db_dir / LEGACY_KEPT_AS).iterdir()) == [
        ".monty.storage",
        "echo_db",
        "monty.storage.cfg",
    ]
    db.close()


OPEN = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[2])
    from backend.database import DatabaseManager
    print("ready", flush=True)
    sys.stdin.readline()
    DatabaseManager(data_dir=sys.argv[1]).close()
    print("done", flush=True)
    """
)


def test_a_migration_killed_at_any_moment_loses_nothing_at_the_next_start(tmp_path):
    """SIGKILL at moments spread over a migration of 40,000 records: the next start has every record once."""
    records = legacy_records(messages=40000)
    template = tmp_path / "template"
    build_legacy_store(template, records)
    want = {name: {doc["_id"]: doc for doc in docs} for name, docs in records.items()}
    runs = 8
    children = []
    for index in range(runs):
        data = tmp_path / f"run-{index}"
        shutil.copytree(template, data)
        children.append((data, started_on_cue(OPEN, str(data), str(REPO))))
    mid_copy = 0
    for index, (data, child) in enumerate(children):
        cue(child)
        try:  # a different moment of the migration each run (it takes about a second here)
            child.wait(timeout=0.05 + index * 0.15)
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGKILL)
            child.wait()
        mid_copy += any((data / "db").glob(".new-*"))  # killed while the copy was being written
        child.stdout.close()
        child.stdin.close()
        db = DatabaseManager(data_dir=data)  # resumes or restarts the migration, whatever the kill left
        for name, docs in want.items():
            assert stored(db, name) == docs, (index, name)
        db.close()
        assert not (data / "db" / ".monty.storage").exists()
        assert not list((data / "db").glob(".new-*"))
    assert mid_copy, "no kill landed during a copy: the window was never hit"
