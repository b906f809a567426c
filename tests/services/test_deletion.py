"""Deleting as a unit: a voice goes at its provider first and its record last (so a failure leaves the record for
a retry); an account goes with everything of it, and nothing of anyone else."""

from __future__ import annotations

import secrets
from pathlib import Path

import mongomock
import pytest
from bson import ObjectId

from backend.config import load_settings
from backend.errors import Conflict, ProviderUnavailable
from backend.services import Services, build_services
from backend.services.deletion import delete_account, delete_voice, voice_recordings
from backend.storage.cache import default_voice_namespace
from tests.helpers import names_in


class FakeProvider:
    name = "fish"
    description = "fake"

    def __init__(self):
        self.deleted: list[str] = []
        self.fail: Exception | None = None

    def owns(self, model_id: str) -> bool:
        return len(model_id) == 32

    def delete_voice(self, model_id: str) -> None:
        if self.fail is not None:
            raise self.fail
        self.deleted.append(model_id)

    def status(self):
        return {"status": "ok"}


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def svc(tmp_path, provider):
    settings = load_settings({"DATA_DIR": str(tmp_path / "data"), "VOICE_PROVIDER": "fish"}, env={})
    services = build_services(settings, db_client=mongomock.MongoClient(tz_aware=True), providers={"fish": provider})
    yield services
    services.close()


@pytest.fixture
def source(tmp_path) -> Path:
    path = tmp_path / "recording.wav"
    path.write_bytes(b"RIFF....WAVE")
    return path


def speak(svc: Services, *, user_id, model_id: str | None, text: str = "hi") -> str:
    """A generated file, recorded as its user's (and voice's), and cached under its voice."""
    output = svc.store.new_output("mp3")
    output.write(b"ID3 audio of " + text.encode())
    stored = output.commit()
    svc.db.record_audio(stored.name, user_id=user_id, model_id=model_id)
    svc.db.add_spoken({"user_id": user_id, "model_id": model_id, "text": text, "format": "mp3", "audio": stored.name})
    namespace = model_id or default_voice_namespace(user_id)
    svc.storage.cache.add(stored, namespace, svc.storage.cache.key(voice=model_id, text=text), "mp3")
    return stored.name


def add_voice(svc: Services, source: Path, user_id, *, consent: bool = True, provider: str = "fish") -> dict:
    model_id = secrets.token_hex(16) if provider == "fish" else f"{provider}-{secrets.token_hex(12)}"
    record = {
        "model_id": model_id,
        "user_id": user_id,
        "provider": provider,
        "reference_audio": svc.store.keep_reference(source, "wav"),
        "consent": {"attested": True, "recording": svc.store.keep_reference(source, "wav") if consent else None},
    }
    return svc.db.save_voice_model(record)


def test_a_voices_recordings_are_its_reference_and_its_consent_recording():
    assert voice_recordings({"reference_audio": "a.wav", "consent": {"recording": "b.wav"}}) == ["a.wav", "b.wav"]
    assert voice_recordings({"reference_audio": "a.wav", "consent": {"recording": None}}) == ["a.wav"]
    assert voice_recordings({"reference_audio": "a.wav", "consent": "yes"}) == ["a.wav"]
    assert voice_recordings({}) == []


def test_a_retry_after_the_provider_is_back_finishes_the_job(svc, provider, source):
    user = ObjectId()
    record = add_voice(svc, source, user)
    speak(svc, user_id=user, model_id=record["model_id"])
    provider.fail = ProviderUnavailable()
    with pytest.raises(ProviderUnavailable):
        delete_voice(svc, record)
    provider.fail = None
    delete_voice(svc, svc.db.get_voice_model(record["model_id"]))
    assert svc.db.get_voice_model(record["model_id"]) is None
    assert names_in(svc.store.outputs_dir) == names_in(svc.store.references_dir) == []


def test_a_voice_goes_at_its_provider_first_and_its_record_last(svc, provider, source, monkeypatch):
    user = ObjectId()
    record = add_voice(svc, source, user)
    model_id = record["model_id"]
    for text in ("one", "two"):
        speak(svc, user_id=user, model_id=model_id, text=text)
    steps: list[str] = []

    def spy(owner, method: str, label: str):
        real = getattr(owner, method)

        def step(*args, **kwargs):
            steps.append(label)
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, method, step)

    spy(provider, "delete_voice", "provider")
    spy(svc.storage.cache, "drop", "cache")
    spy(svc.store, "delete_reference", "recording")
    spy(svc.store, "delete_output", "output")
    spy(svc.db, "forget_audio", "audio records")
    spy(svc.db, "delete_voice_model", "record")
    delete_voice(svc, record)
    assert steps == ["provider", "cache", "recording", "recording", "output", "output", "audio records", "record"]
    assert provider.deleted == [model_id]
    assert svc.db.get_voice_model(model_id) is None
    assert names_in(svc.store.references_dir) == [] and names_in(svc.store.outputs_dir) == []
    assert svc.db.audio_names(model_id=model_id) == []
    assert names_in(svc.storage.cache.root) == []


def provider_down(provider: FakeProvider) -> str:
    provider.fail = ProviderUnavailable()
    return "fish"


def provider_not_here(provider: FakeProvider) -> str:
    return "local"  # a voice of the local engine, which this server does not offer


@pytest.mark.parametrize(("failure", "error"), [(provider_down, ProviderUnavailable), (provider_not_here, Conflict)])
def test_a_voice_the_provider_cannot_delete_keeps_its_record_for_a_retry(svc, provider, source, failure, error):
    user = ObjectId()
    record = add_voice(svc, source, user, provider=failure(provider))
    model_id = record["model_id"]
    output = speak(svc, user_id=user, model_id=model_id)
    with pytest.raises(error):
        delete_voice(svc, record)
    assert svc.db.get_voice_model(model_id) is not None
    assert names_in(svc.store.references_dir) == sorted(voice_recordings(record))
    assert names_in(svc.store.outputs_dir) == [output] and svc.db.audio_names(model_id=model_id) == [output]
    assert len(names_in(svc.storage.cache.root)) == 1
    assert provider.deleted == []


def test_an_account_goes_with_everything_of_it_and_nothing_of_anyone_else(svc, provider, source):
    user, other = (svc.db.get_or_create_user(name, None)[0]["_id"] for name in ("local|a", "local|b"))
    voices = [add_voice(svc, source, user, consent=i < 2) for i in range(103)]  # more than one page of voices
    theirs = add_voice(svc, source, other)
    voice_outputs = [speak(svc, user_id=user, model_id=voices[i]["model_id"], text=str(i)) for i in range(2)]
    default_outputs = [speak(svc, user_id=user, model_id=None, text=t) for t in ("a", "b")]
    their_outputs = [speak(svc, user_id=other, model_id=None), speak(svc, user_id=other, model_id=theirs["model_id"])]
    echo = svc.db.create_echo(user_id=user, name="Gran", persona_prompt="", voice_model_id=voices[0]["model_id"])
    svc.db.add_message(echo["_id"], "user", "hello", user_id=user)
    svc.db.add_message(echo["_id"], "assistant", "hi", user_id=user)
    their_echo = svc.db.create_echo(user_id=other, name="Mum", persona_prompt="", voice_model_id=None)

    counts = delete_account(svc, user)

    # Each deleted voice took its history with it; the default voice's two entries went with the account.
    assert counts == {
        "messages": 2,
        "memories": 0,
        "echos": 1,
        "voice_models": 103,
        "audio_files": 2,
        "speech_history": 2,
        "api_keys": 0,
        "users": 1,
    }
    assert svc.db.list_spoken(user)[1] == 0 and svc.db.list_spoken(other)[1] == 2
    assert sorted(provider.deleted) == sorted(v["model_id"] for v in voices)
    assert names_in(svc.store.references_dir) == sorted(voice_recordings(theirs))
    assert names_in(svc.store.outputs_dir) == sorted(their_outputs)
    assert not set(voice_outputs + default_outputs) & set(names_in(svc.store.outputs_dir))
    assert svc.db.list_voice_models(user) == ([], 0)
    assert svc.db.list_voice_models(other)[1] == 1
    assert svc.db.audio_names(user_id=user) == []
    assert sorted(svc.db.audio_names(user_id=other)) == sorted(their_outputs)
    assert svc.db.get_echo(echo["_id"]) is None and svc.db.get_echo(their_echo["_id"]) is not None
    assert svc.db.get_user(user) is None and svc.db.get_user(other) is not None
    # The default voice's cache went with the account; the other user's cache entries stay.
    cache = svc.storage.cache
    assert cache.lookup(default_voice_namespace(user), cache.key(voice=None, text="a"), "mp3") is None
    assert cache.lookup(default_voice_namespace(other), cache.key(voice=None, text="hi"), "mp3") is not None
