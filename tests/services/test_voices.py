"""The voice service as a unit: which provider a voice goes to, cloning with its undo, deletions kept for retry."""

from __future__ import annotations

import dataclasses
import io
import logging
import re
import secrets
from pathlib import Path

import pytest

from backend.config import load_settings
from backend.errors import (
    Conflict,
    NotFound,
    ProviderError,
    ProviderNotConfigured,
    ProviderUnavailable,
    UnprocessableAudio,
    UnsupportedMediaType,
)
from backend.providers import CreatedVoice
from backend.services.voices import VoiceService, VoiceServiceWrapper
from backend.storage.cache import FileCache
from backend.storage.files import FileStore
from tests.helpers import audio_file

FISH_ID = re.compile(r"[0-9a-f]{32}")
LOCAL_ID = re.compile(r"local-[0-9a-f]{24}")


class FakeProvider:
    """A voice provider that remembers what it was asked; ``fail_create``/``fail_delete`` make it fail."""

    def __init__(self, name: str, owns=None):
        self.name = name
        self.description = f"fake {name}"
        self._owns = owns or (lambda model_id: model_id.startswith(f"{name}-"))
        self.created: list[str] = []
        self.deleted: list[str] = []  # every deletion asked for, failed or not
        self.fail_create: Exception | None = None
        self.fail_delete: Exception | None = None

    def owns(self, model_id: str) -> bool:
        return self._owns(model_id)

    def create_voice(self, *, title, audio_path, audio, transcript):
        assert Path(audio_path).is_file()  # the upload is still there while the provider reads it
        if self.fail_create is not None:
            raise self.fail_create
        model_id = secrets.token_hex(16) if self.name == "fish" else f"{self.name}-{secrets.token_hex(12)}"
        self.created.append(model_id)
        return CreatedVoice(model_id)

    def delete_voice(self, model_id: str) -> None:
        self.deleted.append(model_id)
        if self.fail_delete is not None:
            raise self.fail_delete

    def synthesize(self, *, text, reference_id, fmt):  # pragma: no cover - not used here
        raise AssertionError("not used")

    def status(self):
        return {"status": "ok", "provider": self.name}


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def settings(data_dir):
    return load_settings({"DATA_DIR": str(data_dir)}, env={})


@pytest.fixture
def store(data_dir) -> FileStore:
    return FileStore(data_dir)


@pytest.fixture
def cache(data_dir) -> FileCache:
    return FileCache(data_dir / "cache", 1 << 20)


@pytest.fixture
def fish() -> FakeProvider:
    return FakeProvider("fish", owns=lambda model_id: bool(FISH_ID.fullmatch(model_id)))


@pytest.fixture
def local() -> FakeProvider:
    return FakeProvider("local", owns=lambda model_id: bool(LOCAL_ID.fullmatch(model_id)))


@pytest.fixture
def make_voices(settings, store, cache):
    def make(providers: dict, active: str, **changes) -> VoiceService:
        return VoiceService(dataclasses.replace(settings, **changes), store, providers, active, cache=cache)

    return make


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob("*") if p.is_file()) if directory.exists() else []


def test_the_seeds_name_is_the_voice_service():
    assert VoiceServiceWrapper is VoiceService


# -- which provider --------------------------------------------------------------------------------


def test_no_voice_goes_to_the_active_provider(make_voices, fish, local):
    voices = make_voices({"fish": fish, "local": local}, "local")
    assert voices.provider_for(None) is local
    assert voices.provider_for("") is local
    assert make_voices({"fish": fish, "local": local}, "fish").provider_for(None) is fish


def test_a_voice_goes_to_the_provider_that_owns_its_id_whichever_is_active(make_voices, fish, local):
    robot = FakeProvider("robot")
    voices = make_voices({"fish": fish, "local": local, "robot": robot}, "local")
    assert voices.provider_for("0123456789abcdef0123456789abcdef") is fish
    assert voices.provider_for("local-" + "a" * 24) is local
    # Recognised by its owner, not by the fallback guess (which would say Fish.Audio).
    assert voices.provider_for("robot-1") is robot


def test_the_recorded_provider_wins_over_the_id(make_voices, fish, local):
    voices = make_voices({"fish": fish, "local": local}, "fish")
    assert voices.provider_for("0123456789abcdef0123456789abcdef", "local") is local
    assert voices.provider_for("local-" + "a" * 24, "fish") is fish


def test_an_id_of_no_providers_shape_is_not_found_and_reaches_no_provider(make_voices, fish, local):
    voices = make_voices({"fish": fish, "local": local}, "local")
    for model_id in ("some-public-voice", "local-short", "../../etc/passwd"):
        with pytest.raises(NotFound) as caught:
            voices.provider_for(model_id)
        assert (caught.value.status, caught.value.message) == (404, "No voice model with this id.")
    assert fish.deleted == local.deleted == []


@pytest.mark.parametrize("recorded", [None, "fish"])
def test_a_fish_voice_without_fish_configured_is_a_conflict_in_plain_words(make_voices, local, recorded):
    voices = make_voices({"local": local}, "local")
    with pytest.raises(Conflict) as caught:
        voices.provider_for("0123456789abcdef0123456789abcdef", recorded)
    assert (caught.value.status, caught.value.code) == (409, "conflict")
    assert caught.value.message == (
        "This voice was cloned with Fish.Audio, which is not configured on this server (set FISH_AUDIO_API_KEY)."
    )


def test_a_voice_of_another_missing_provider_is_a_conflict_naming_it(make_voices, fish):
    voices = make_voices({"fish": fish}, "fish")
    with pytest.raises(Conflict) as by_shape:
        voices.provider_for("local-" + "a" * 24)
    assert by_shape.value.message == (
        "This voice belongs to the 'local' provider, which is not available on this server."
    )
    with pytest.raises(Conflict, match="^This voice belongs to the 'robot' provider"):
        voices.provider_for("robot-1", "robot")


def test_a_recorded_provider_that_is_gone_yields_to_the_owner_of_the_id(make_voices, fish):
    voices = make_voices({"fish": fish}, "fish")
    assert voices.provider_for("0123456789abcdef0123456789abcdef", "robot") is fish


def test_without_the_active_provider_new_work_is_refused_and_status_says_so(make_voices, local):
    voices = make_voices({"local": local}, "fish")
    with pytest.raises(ProviderNotConfigured):
        voices.provider_for(None)
    with pytest.raises(ProviderNotConfigured):
        voices.clone(io.BytesIO(b"never read"), title="x", transcript=None)
    assert voices.status() == {
        "status": "not_configured",
        "provider": None,
        "detail": ProviderNotConfigured.default_message,
    }
    assert voices.provider_for("local-" + "a" * 24) is local  # voices it does have keep working


def test_status_is_the_active_providers_with_every_available_one(make_voices, fish, local):
    state = make_voices({"local": local, "fish": fish}, "fish").status()
    assert state == {"status": "ok", "provider": "fish", "available_providers": ["fish", "local"]}


# -- cloning ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def recording() -> bytes:
    return audio_file("wav", seconds=4.0)


def test_a_clone_keeps_the_recording_and_no_temporary(make_voices, fish, store, data_dir, recording):
    voices = make_voices({"fish": fish}, "fish")
    cloned = voices.clone(io.BytesIO(recording), title="Gran", transcript="hello")
    assert cloned.provider == "fish" and cloned.voice.model_id == fish.created[0]
    assert cloned.info.container == "wav" and 3.9 < cloned.info.duration < 4.1
    assert cloned.reference_key.endswith(".wav")
    assert (store.references_dir / cloned.reference_key).read_bytes() == recording
    assert files_in(data_dir / "tmp") == []
    assert fish.deleted == []


def refuse_keeping(source, extension):
    raise OSError("disk full")


def fails_at_the_provider(voices, fish, store, monkeypatch):
    fish.fail_create = ProviderUnavailable()
    return ProviderUnavailable, None


def is_too_short(voices, fish, store, monkeypatch):
    voices.settings = dataclasses.replace(voices.settings, min_audio_seconds=5.0)
    return UnprocessableAudio, None


def is_too_long(voices, fish, store, monkeypatch):
    voices.settings = dataclasses.replace(voices.settings, max_audio_seconds=2.0)
    return UnprocessableAudio, None


def is_not_audio(voices, fish, store, monkeypatch):
    return UnsupportedMediaType, b"RIFF but not really audio" * 100


def cannot_be_kept(voices, fish, store, monkeypatch):
    monkeypatch.setattr(store, "keep_reference", refuse_keeping)
    return OSError, None


@pytest.mark.parametrize("failure", [fails_at_the_provider, is_too_short, is_too_long, is_not_audio, cannot_be_kept])
def test_a_failed_clone_keeps_nothing_and_removes_its_temporary(
    make_voices, fish, store, data_dir, recording, monkeypatch, failure
):
    voices = make_voices({"fish": fish}, "fish")
    error, upload = failure(voices, fish, store, monkeypatch)
    with pytest.raises(error):
        voices.clone(io.BytesIO(upload or recording), title="Gran", transcript=None)
    assert files_in(store.references_dir) == []
    assert files_in(data_dir / "tmp") == []
    assert fish.deleted == fish.created  # a voice made at the provider is deleted there again


@pytest.mark.parametrize(("change", "reason"), [({"min_audio_seconds": 5.0}, "too_short"),
                                                ({"max_audio_seconds": 2.0}, "too_long")])  # fmt: skip
def test_a_recording_of_the_wrong_length_never_reaches_the_provider(make_voices, fish, recording, change, reason):
    voices = make_voices({"fish": fish}, "fish", **change)
    with pytest.raises(UnprocessableAudio) as caught:
        voices.clone(io.BytesIO(recording), title="Gran", transcript=None)
    assert caught.value.extra == {"reason": reason}
    assert fish.created == []


def test_a_failed_keep_deletes_the_provider_voice(make_voices, fish, store, data_dir, recording, monkeypatch):
    voices = make_voices({"fish": fish}, "fish")
    monkeypatch.setattr(store, "keep_reference", refuse_keeping)
    with pytest.raises(OSError, match="disk full"):
        voices.clone(io.BytesIO(recording), title="Gran", transcript=None)
    assert len(fish.created) == 1 and fish.deleted == fish.created
    assert voices._pending_deletions().items() == []  # deleted at once: nothing to retry
    assert not (data_dir / "pending_deletions.json").exists()


def test_an_undo_the_provider_refuses_is_kept_for_retry_and_the_first_error_stands(
    make_voices, fish, store, recording, monkeypatch, caplog
):
    voices = make_voices({"fish": fish}, "fish")
    monkeypatch.setattr(store, "keep_reference", refuse_keeping)
    fish.fail_delete = ProviderUnavailable()
    with caplog.at_level(logging.ERROR, logger="backend.services.voices"):
        with pytest.raises(OSError, match="disk full"):
            voices.clone(io.BytesIO(recording), title="Gran", transcript=None)
    (model_id,) = fish.created
    assert voices._pending_deletions().items() == [{"model_id": model_id, "provider": "fish"}]
    assert f"could not delete voice {model_id} at fish" in caplog.text


def test_forgetting_a_clone_deletes_the_provider_voice_and_the_kept_recording(make_voices, fish, store, recording):
    voices = make_voices({"fish": fish}, "fish")
    cloned = voices.clone(io.BytesIO(recording), title="Gran", transcript=None)
    voices.forget(cloned)
    assert fish.deleted == [cloned.voice.model_id]
    assert files_in(store.references_dir) == []


def test_pending_deletions_are_retried_until_the_provider_deletes_them(make_voices, fish, local):
    voices = make_voices({"fish": fish, "local": local}, "fish")
    pending = voices._pending_deletions()
    pending.append("fish-stubborn", "fish")
    pending.append("local-gone", "local")
    pending.append("robot-orphan", "robot")  # its provider is not configured here: kept, never dropped
    fish.fail_delete = ProviderError()
    assert voices.retry_pending_deletions() == 2
    assert local.deleted == ["local-gone"] and fish.deleted == ["fish-stubborn"]
    assert [item["model_id"] for item in pending.items()] == ["fish-stubborn", "robot-orphan"]
    fish.fail_delete = None
    assert voices.retry_pending_deletions() == 1
    assert fish.deleted == ["fish-stubborn", "fish-stubborn"]
    assert pending.items() == [{"model_id": "robot-orphan", "provider": "robot"}]


# -- consent recordings and deleting ---------------------------------------------------------------


def test_a_consent_recording_of_the_wrong_length_is_refused_and_not_kept(make_voices, fish, store, data_dir):
    voices = make_voices({"fish": fish}, "fish")
    with pytest.raises(UnprocessableAudio) as caught:
        voices.keep_consent_recording(io.BytesIO(audio_file("wav", seconds=0.5)))
    assert caught.value.extra == {"reason": "consent_recording_length"}
    key = voices.keep_consent_recording(io.BytesIO(audio_file("wav", seconds=1.5)))
    assert files_in(store.references_dir) == [key]
    assert files_in(data_dir / "tmp") == []


def test_deleting_a_voice_takes_its_recordings_outputs_and_cache(make_voices, fish, store, cache, tmp_path):
    voices = make_voices({"fish": fish}, "fish")
    source = tmp_path / "r.wav"
    source.write_bytes(b"RIFF")
    recordings = [store.keep_reference(source, "wav") for _ in range(2)]
    output = store.new_output("mp3")
    output.write(b"ID3 audio")
    stored = output.commit()
    model_id = "0123456789abcdef0123456789abcdef"
    key = cache.key(voice=model_id, text="hi")
    cache.add(stored, model_id, key, "mp3")
    kept = store.keep_reference(source, "wav")  # another voice's recording
    voices.delete(model_id, provider_name=None, recordings=recordings, outputs=[stored.name])
    assert fish.deleted == [model_id]
    assert files_in(store.references_dir) == [kept]
    assert store.output(stored.name) is None
    assert cache.lookup(model_id, key, "mp3") is None


def test_a_voice_the_provider_cannot_delete_keeps_everything(make_voices, fish, store, tmp_path):
    voices = make_voices({"fish": fish}, "fish")
    source = tmp_path / "r.wav"
    source.write_bytes(b"RIFF")
    recording = store.keep_reference(source, "wav")
    fish.fail_delete = ProviderUnavailable()
    with pytest.raises(ProviderUnavailable):
        voices.delete("0123456789abcdef0123456789abcdef", provider_name="fish", recordings=[recording], outputs=[])
    assert files_in(store.references_dir) == [recording]
