"""Local voice profiles: JSON files written atomically, or documents in the shared database."""

from __future__ import annotations

import mongomock
import pytest

from backend.database import DatabaseManager
from backend.storage.profiles import DatabaseProfiles, FileProfiles
from tests.helpers import backdate

MODEL_A, MODEL_B = "local-" + "a" * 24, "local-" + "b" * 24


@pytest.fixture(params=["files", "database"])
def profiles(request, tmp_path):
    if request.param == "files":
        yield FileProfiles(tmp_path / "voices")
        return
    db = DatabaseManager(client=mongomock.MongoClient(tz_aware=True))
    yield DatabaseProfiles(db)
    db.close()


def test_a_profile_is_saved_loaded_replaced_and_deleted(profiles):
    assert profiles.load(MODEL_A) is None
    profiles.save(MODEL_A, '{"v": 1}')
    profiles.save(MODEL_A, '{"v": 2}')
    profiles.save(MODEL_B, "{}")
    assert profiles.load(MODEL_A) == '{"v": 2}'
    assert sorted(model_id for model_id, _ in profiles.stored()) == [MODEL_A, MODEL_B]
    assert all(saved.tzinfo is not None for _, saved in profiles.stored())
    profiles.delete(MODEL_A)
    profiles.delete(MODEL_A)  # gone already: fine
    assert profiles.load(MODEL_A) is None and [m for m, _ in profiles.stored()] == [MODEL_B]


def test_saving_leaves_no_temporary_behind(tmp_path):
    profiles = FileProfiles(tmp_path / "voices")
    profiles.save(MODEL_A, "{}")
    assert [p.name for p in (tmp_path / "voices").iterdir()] == [f"{MODEL_A}.json"]


def test_half_written_profiles_of_a_killed_process_are_removed_once_old_enough(tmp_path):
    profiles = FileProfiles(tmp_path / "voices")
    assert profiles.stored() == [] and profiles.remove_temporaries(0) == 0  # no directory yet
    profiles.save(MODEL_A, "{}")
    old, young = tmp_path / "voices" / ".tmp-old.json", tmp_path / "voices" / ".tmp-young.json"
    old.write_text('{"ha')
    young.write_text('{"ha')
    backdate(old, 7200)
    assert [m for m, _ in profiles.stored()] == [MODEL_A]  # temporaries are not profiles
    assert profiles.remove_temporaries(3600) == 1
    assert sorted(p.name for p in (tmp_path / "voices").iterdir()) == [".tmp-young.json", f"{MODEL_A}.json"]


def test_database_profiles_have_no_temporaries():
    db = DatabaseManager(client=mongomock.MongoClient(tz_aware=True))
    assert DatabaseProfiles(db).remove_temporaries(0) == 0
    db.close()
