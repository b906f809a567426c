"""The outage journal: voice records kept while the database was away, saved once it answers."""

from __future__ import annotations

import mongomock
import pytest
from bson import ObjectId

from backend.database import DatabaseManager
from backend.errors import DatabaseUnavailable
from backend.storage.journal import JOURNAL_NAME, JournalUnreadable, UnsavedVoiceModels


@pytest.fixture
def db():
    manager = DatabaseManager(client=mongomock.MongoClient(tz_aware=True))
    yield manager
    manager.close()


@pytest.fixture
def user(db) -> dict:
    return db.get_or_create_user("local|journal", None)[0]


def keep_all(record: dict) -> bool:
    raise AssertionError(f"nothing should be discarded, asked for {record['model_id']}")


def test_a_journaled_record_keeps_its_id_and_times_and_replaces_an_earlier_one(tmp_path, user):
    journal = UnsavedVoiceModels(tmp_path)
    assert journal.records() == [] and list(tmp_path.iterdir()) == []  # no lock file made for nothing
    first = journal.add({"model_id": "m1", "user_id": user["_id"], "name": "Gran"})
    assert isinstance(first["_id"], ObjectId) and first["created_at"] == first["updated_at"]
    again = journal.add({"model_id": "m1", "user_id": user["_id"], "name": "Grandma"})
    journal.add({"model_id": "m2", "user_id": user["_id"], "name": "Grandad"})
    records = UnsavedVoiceModels(tmp_path).records()  # read back from disk, types intact
    assert [(r["model_id"], r["name"]) for r in records] == [("m1", "Grandma"), ("m2", "Grandad")]
    assert records[0]["_id"] == again["_id"] and records[0]["user_id"] == user["_id"]
    assert records[0]["created_at"].tzinfo is not None


def test_saving_moves_records_into_the_database_with_the_ids_they_were_given(tmp_path, db, user):
    journal = UnsavedVoiceModels(tmp_path)
    kept = journal.add({"model_id": "m1", "user_id": user["_id"], "name": "Gran"})
    assert journal.save_all(db, keep_all) == (1, 0)
    assert db.get_voice_model("m1")["_id"] == kept["_id"]
    assert not (tmp_path / JOURNAL_NAME).exists()
    assert journal.save_all(db, keep_all) == (0, 0)


def test_a_record_saved_by_an_earlier_pass_is_not_saved_twice(tmp_path, db, user):
    journal = UnsavedVoiceModels(tmp_path)
    record = journal.add({"model_id": "m1", "user_id": user["_id"], "name": "Gran"})
    db.save_voice_model(record)  # that pass was stopped before it could rewrite the journal
    assert journal.save_all(db, keep_all) == (0, 0)
    assert db.list_voice_models(user["_id"])[1] == 1


def test_a_voice_whose_account_went_meanwhile_is_discarded_not_saved(tmp_path, db):
    journal = UnsavedVoiceModels(tmp_path)
    journal.add({"model_id": "orphan", "user_id": ObjectId(), "name": "Gone"})
    asked = []
    assert journal.save_all(db, lambda record: asked.append(record["model_id"]) or False) == (0, 1)
    assert asked == ["orphan"] and db.get_voice_model("orphan") is None  # kept for the next pass
    assert journal.save_all(db, lambda record: True) == (0, 0)
    assert journal.records() == []


def test_an_echo_link_is_kept_only_to_the_users_own_echo(tmp_path, db, user):
    other, _ = db.get_or_create_user("local|other", None)
    mine = db.create_echo(user_id=user["_id"], name="Mine", persona_prompt="", voice_model_id=None)
    theirs = db.create_echo(user_id=other["_id"], name="Theirs", persona_prompt="", voice_model_id=None)
    journal = UnsavedVoiceModels(tmp_path)
    journal.add({"model_id": "m1", "user_id": user["_id"], "echo_id": mine["_id"]})
    journal.add({"model_id": "m2", "user_id": user["_id"], "echo_id": theirs["_id"]})
    assert journal.save_all(db, keep_all) == (2, 0)
    assert db.get_echo(mine["_id"])["voice_model_id"] == "m1"
    assert db.get_echo(theirs["_id"])["voice_model_id"] is None
    assert db.get_voice_model("m2")["echo_id"] is None


def test_records_wait_while_the_database_is_away(tmp_path, db, user, monkeypatch):
    journal = UnsavedVoiceModels(tmp_path)
    for model_id in ("m1", "m2", "m3"):
        journal.add({"model_id": model_id, "user_id": user["_id"]})
    real_save = db.save_voice_model
    saved = []

    def save_then_fail(record):
        if saved:
            raise DatabaseUnavailable()
        saved.append(record["model_id"])
        return real_save(record)

    monkeypatch.setattr(db, "save_voice_model", save_then_fail)
    assert journal.save_all(db, keep_all) == (1, 2)
    assert [r["model_id"] for r in journal.records()] == ["m2", "m3"]
    monkeypatch.undo()
    assert journal.save_all(db, keep_all) == (2, 0)


def test_an_unreadable_journal_is_left_for_a_person_and_saves_nothing(tmp_path, db, caplog):
    (tmp_path / JOURNAL_NAME).write_text("[{broken")
    journal = UnsavedVoiceModels(tmp_path)
    with pytest.raises(JournalUnreadable):
        journal.records()
    assert journal.save_all(db, keep_all) == (0, 0)
    assert (tmp_path / JOURNAL_NAME).read_text() == "[{broken" and "unreadable" in caplog.text


def test_a_rewrite_cut_short_by_a_kill_is_cleaned_up_at_the_next_save(tmp_path, db, user):
    journal = UnsavedVoiceModels(tmp_path)
    journal.add({"model_id": "m1", "user_id": user["_id"]})
    (tmp_path / f".{JOURNAL_NAME}.12345").write_text("[")
    assert journal.save_all(db, keep_all) == (1, 0)
    assert [p.name for p in tmp_path.iterdir()] == [f".{JOURNAL_NAME}.lock"]
