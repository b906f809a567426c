"""Cloning for a user as a unit: the record with its consent attestation, the outage journal, undoing a clone
whose record cannot be kept, and the warnings the answer carries."""

from __future__ import annotations

import io
import logging
import secrets
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import mongomock
import pytest
from bson import ObjectId

from backend.config import load_settings
from backend.errors import DatabaseUnavailable, ProviderUnavailable
from backend.providers import CreatedVoice
from backend.services import Services, build_services
from backend.services.cloning import CONSENT_STATEMENT, CloneRequest, clone_voice
from tests.helpers import audio_file, names_in

SHORT = "Recordings of 10 to 30 seconds clone better than short ones."
NO_TRANSCRIPT = "No transcript was given; Fish.Audio works out what was said."


class FakeProvider:
    def __init__(self, name: str):
        self.name = name
        self.description = name
        self.state = "trained"
        self.created: list[str] = []
        self.deleted: list[str] = []
        self.fail_create: Exception | None = None

    def owns(self, model_id: str) -> bool:
        return model_id in self.created

    def create_voice(self, *, title, audio_path, audio, transcript):
        if self.fail_create is not None:
            raise self.fail_create
        model_id = secrets.token_hex(16) if self.name == "fish" else f"local-{secrets.token_hex(12)}"
        self.created.append(model_id)
        return CreatedVoice(model_id, state=self.state, details={"title": title})

    def delete_voice(self, model_id: str) -> None:
        self.deleted.append(model_id)

    def status(self):
        return {"status": "ok"}


@pytest.fixture(scope="module")
def recording() -> bytes:
    return audio_file("wav", seconds=4.0)


@pytest.fixture(scope="module")
def long_recording() -> bytes:
    return audio_file("wav", seconds=12.0)


@pytest.fixture(scope="module")
def consent_recording() -> bytes:
    return audio_file("wav", seconds=2.0)


def make_services(data_dir: Path, provider: FakeProvider) -> Services:
    settings = load_settings({"DATA_DIR": str(data_dir), "VOICE_PROVIDER": provider.name}, env={})
    return build_services(settings, db_client=mongomock.MongoClient(tz_aware=True), providers={provider.name: provider})


@pytest.fixture
def fish() -> FakeProvider:
    return FakeProvider("fish")


@pytest.fixture
def svc(tmp_path, fish):
    services = make_services(tmp_path / "data", fish)
    yield services
    services.close()


def request_for(upload: bytes, **changes) -> CloneRequest:
    fields = {
        "upload": io.BytesIO(upload),
        "name": "Gran",
        "transcript": "Hello there.",
        "user_id": ObjectId(),
        "attested_by": "local|tester",
    }
    fields.update(changes)
    return CloneRequest(**fields)


def kept_recordings(svc: Services) -> list[str]:
    return names_in(svc.store.references_dir)


# -- the record ------------------------------------------------------------------------------------


def test_the_record_carries_the_consent_attestation(svc, fish, recording):
    before = datetime.now(UTC)
    request = request_for(recording)
    result = clone_voice(svc, request)
    after = datetime.now(UTC)
    record = result.record
    (model_id,) = fish.created
    consent = record["consent"]
    assert consent["attested"] is True
    assert consent["statement"] == CONSENT_STATEMENT
    assert consent["attested_by"] == "local|tester"
    assert before <= consent["attested_at"] <= after and consent["attested_at"].tzinfo is not None
    assert consent["recording"] is None
    assert record["model_id"] == record["reference_id"] == model_id
    assert (record["user_id"], record["name"], record["provider"]) == (request.user_id, "Gran", "fish")
    assert (record["visibility"], record["file_type"], record["transcript"]) == ("private", "wav", "Hello there.")
    assert record["duration_seconds"] == round(result.cloned.info.duration, 2)
    assert kept_recordings(svc) == [record["reference_audio"]]
    saved = svc.db.get_voice_model(model_id)
    assert saved["consent"]["statement"] == CONSENT_STATEMENT and saved["_id"] == record["_id"]


def test_a_consent_recording_is_kept_beside_the_reference(svc, recording, consent_recording):
    result = clone_voice(svc, request_for(recording, consent_upload=io.BytesIO(consent_recording)))
    consent_key = result.record["consent"]["recording"]
    assert consent_key and consent_key != result.record["reference_audio"]
    assert kept_recordings(svc) == sorted([consent_key, result.record["reference_audio"]])


def test_the_voice_is_linked_to_its_echo(svc, fish, recording):
    user = ObjectId()
    echo = svc.db.create_echo(user_id=user, name="Gran", persona_prompt="", voice_model_id=None)
    result = clone_voice(svc, request_for(recording, user_id=user, echo_id=echo["_id"]))
    assert result.record["echo_id"] == echo["_id"] and result.warnings == [SHORT]
    assert svc.db.get_echo(echo["_id"])["voice_model_id"] == fish.created[0]


# -- the database away -----------------------------------------------------------------------------


def database_down(*args, **kwargs):
    raise DatabaseUnavailable()


def test_a_record_that_cannot_be_saved_waits_in_the_journal_and_the_voice_lives(svc, fish, recording, monkeypatch):
    monkeypatch.setattr(svc.db, "save_voice_model", database_down)
    result = clone_voice(svc, request_for(recording))
    (model_id,) = fish.created
    assert result.record is None
    (journaled,) = svc.upkeep.journal().records()
    assert journaled["model_id"] == model_id
    assert journaled["consent"]["statement"] == CONSENT_STATEMENT
    assert kept_recordings(svc) == [journaled["reference_audio"]]
    assert fish.deleted == []
    assert any("appears in your list once the database is back" in w and model_id in w for w in result.warnings)


def test_a_request_whose_user_could_not_be_checked_goes_straight_to_the_journal(svc, fish, recording, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("the database is known to be away")

    monkeypatch.setattr(svc.db, "save_voice_model", never)
    result = clone_voice(svc, request_for(recording, database_ok=False))
    assert result.record is None
    assert [r["model_id"] for r in svc.upkeep.journal().records()] == fish.created


def test_a_journal_that_cannot_be_written_leaves_the_voice_and_says_to_keep_its_id(
    svc, fish, recording, monkeypatch, caplog
):
    monkeypatch.setattr(svc.db, "save_voice_model", database_down)
    journal = svc.upkeep.journal()

    def unwritable(record):
        raise OSError("read-only file system")

    monkeypatch.setattr(journal, "add", unwritable)
    monkeypatch.setattr(svc.upkeep, "journal", lambda: journal)
    with caplog.at_level(logging.ERROR, logger="backend.services.cloning"):
        result = clone_voice(svc, request_for(recording))
    (model_id,) = fish.created
    assert result.record is None and fish.deleted == []
    assert any("was not saved to your list" in w and model_id in w for w in result.warnings)
    assert f"could not journal the record of voice {model_id}" in caplog.text
    assert len(kept_recordings(svc)) == 1


def test_a_database_lost_before_the_echo_link_keeps_the_record_and_says_so(svc, fish, recording, monkeypatch):
    user = ObjectId()
    echo = svc.db.create_echo(user_id=user, name="Gran", persona_prompt="", voice_model_id=None)
    monkeypatch.setattr(svc.db, "update_echo", database_down)
    result = clone_voice(svc, request_for(recording, user_id=user, echo_id=echo["_id"]))
    assert result.record is not None and svc.db.get_voice_model(fish.created[0]) is not None
    assert result.warnings == [
        "The database became unavailable before this voice could be linked to its echo.",
        SHORT,
    ]
    assert svc.upkeep.journal().records() == []


def test_with_recordings_kept_in_an_unavailable_database_no_voice_is_made():
    voices = SimpleNamespace(
        keep_consent_recording=lambda upload: pytest.fail("nothing is kept"),
        clone=lambda *args, **kwargs: pytest.fail("no voice is made"),
    )
    down = SimpleNamespace(
        store=SimpleNamespace(kind="gridfs"), db=SimpleNamespace(ping=lambda: {"status": "unavailable"}), voices=voices
    )
    with pytest.raises(DatabaseUnavailable, match="Recordings are kept in the database"):
        clone_voice(down, request_for(b""))
    unchecked = SimpleNamespace(store=SimpleNamespace(kind="gridfs"), db=None, voices=voices)
    with pytest.raises(DatabaseUnavailable):
        clone_voice(unchecked, request_for(b"", database_ok=False))


# -- undoing ---------------------------------------------------------------------------------------


def test_a_record_that_fails_to_save_for_another_reason_undoes_the_clone(
    svc, fish, recording, consent_recording, monkeypatch
):
    def broken(record):
        raise RuntimeError("write conflict")

    monkeypatch.setattr(svc.db, "save_voice_model", broken)
    with pytest.raises(RuntimeError, match="write conflict"):
        clone_voice(svc, request_for(recording, consent_upload=io.BytesIO(consent_recording)))
    assert fish.deleted == fish.created and len(fish.created) == 1
    assert kept_recordings(svc) == []  # the reference and the consent recording
    assert svc.upkeep.journal().records() == []


def test_a_clone_the_provider_refuses_keeps_no_consent_recording(svc, fish, recording, consent_recording):
    fish.fail_create = ProviderUnavailable()
    with pytest.raises(ProviderUnavailable):
        clone_voice(svc, request_for(recording, consent_upload=io.BytesIO(consent_recording)))
    assert kept_recordings(svc) == []
    assert names_in(svc.settings.data_dir / "tmp") == []


# -- warnings --------------------------------------------------------------------------------------


def test_a_long_clean_clone_has_no_warnings(svc, long_recording):
    assert clone_voice(svc, request_for(long_recording)).warnings == []


def test_a_short_recording_is_warned_about(svc, recording):
    assert clone_voice(svc, request_for(recording)).warnings == [SHORT]


def test_a_voice_still_training_is_warned_about(svc, fish, long_recording):
    fish.state = "training"
    warnings = clone_voice(svc, request_for(long_recording)).warnings
    assert warnings == ["The provider reports the voice as 'training'; it may not be usable yet."]


@pytest.mark.parametrize("transcript", [None, ""])
def test_no_transcript_is_warned_about_for_fish_audio_only(tmp_path, long_recording, transcript):
    for name, expected in (("fish", [NO_TRANSCRIPT]), ("local", [])):
        services = make_services(tmp_path / name, FakeProvider(name))
        try:
            assert clone_voice(services, request_for(long_recording, transcript=transcript)).warnings == expected
        finally:
            services.close()
