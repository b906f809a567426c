"""FishAudioProvider: the voice provider over the client (what it sends to clone, what it streams, deletion of a
voice already gone, the cached status, the ids it owns), on a transport mocked by ``fish``."""

from __future__ import annotations

import pytest

from backend import audio
from backend.errors import ProviderError
from backend.providers import CreatedVoice
from backend.providers.fish import FishAudioProvider
from tests.helpers import FISH_MODEL_ID, FISH_URL, audio_file, fish_model, multipart_fields

pytestmark = pytest.mark.usefixtures("slept")


def test_delete_of_a_missing_model_is_fine(client, fish):
    fish.delete(f"{FISH_URL}/model/{FISH_MODEL_ID}", status=404, json={"status": 404, "message": "Not found"})
    FishAudioProvider(client).delete_voice(FISH_MODEL_ID)
    assert [call.request.method for call in fish.calls] == ["DELETE"]


def test_status_is_cached(client, fish):
    fish.get(f"{FISH_URL}/wallet/self/api-credit", json={"credit": "3.00"})
    provider = FishAudioProvider(client, status_ttl=60)
    assert provider.status()["status"] == "ok" and provider.status()["credit"] == "3.00"
    assert len(fish.calls) == 1


def test_provider_owns_fish_ids_only(client):
    provider = FishAudioProvider(client)
    assert provider.owns(FISH_MODEL_ID) and not provider.owns("local-abc") and not provider.owns("../x")


# -- cloning --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def recordings(tmp_path_factory) -> dict[str, tuple[bytes, audio.DecodedAudio]]:
    """A short recording in each container, as bytes and as decoded (what cloning hands the provider)."""
    folder = tmp_path_factory.mktemp("recordings")
    made = {}
    for kind in ("wav", "mp3", "m4a", "ogg", "flac"):
        path = folder / f"voice.{kind}"
        path.write_bytes(audio_file(kind, seconds=2.0))
        made[kind] = (path, audio.decode(path, max_seconds=10))
    return made


@pytest.mark.parametrize(
    ("kind", "filename", "mime"),
    [
        ("wav", "reference.wav", "audio/wav"),
        ("mp3", "reference.mp3", "audio/mpeg"),
        ("m4a", "reference.m4a", "audio/mp4"),
        ("ogg", "reference.wav", "audio/wav"),  # Fish.Audio does not take it: converted to WAV
        ("flac", "reference.wav", "audio/wav"),
    ],
)
def test_create_voice_sends_what_fish_takes_as_it_is_and_the_rest_as_wav(
    client, fish, recordings, kind, filename, mime
):
    fish.post(f"{FISH_URL}/model", json=fish_model(), status=201)
    path, decoded = recordings[kind]
    created = FishAudioProvider(client).create_voice(title="Gran", audio_path=path, audio=decoded, transcript=None)
    assert created == CreatedVoice(
        FISH_MODEL_ID, state="trained", details={"visibility": "private", "train_mode": "fast"}
    )
    fields = multipart_fields(fish.calls[0].request)
    (voice,) = [(value, name) for field, value, name in fields if field == "voices"]
    assert voice[1] == filename
    assert f"Content-Type: {mime}".encode() in fish.calls[0].request.body
    if filename == f"reference.{kind}":
        assert voice[0] == path.read_bytes()
    else:
        assert audio.looks_like("wav", voice[0][:16])
    assert "texts" not in [field for field, _, _ in fields] and ("title", "Gran", None) in fields


def test_create_voice_sends_the_transcript_as_texts(client, fish, recordings):
    fish.post(f"{FISH_URL}/model", json=fish_model(), status=201)
    path, decoded = recordings["wav"]
    FishAudioProvider(client).create_voice(title="Gran", audio_path=path, audio=decoded, transcript="Hello, dear.")
    assert [value for field, value, _ in multipart_fields(fish.calls[0].request) if field == "texts"] == [
        "Hello, dear."
    ]


@pytest.mark.parametrize(
    ("answer", "created"),
    [
        ({"_id": FISH_MODEL_ID, "state": "training"}, CreatedVoice(FISH_MODEL_ID, state="training")),
        ({"id": FISH_MODEL_ID}, CreatedVoice(FISH_MODEL_ID, state="created")),  # no state said: just created
        ({}, None),
        ({"_id": ""}, None),
        ({"_id": 12345}, None),
    ],
    ids=["_id", "id", "no-id", "empty-id", "number-id"],
)
def test_a_created_model_must_name_its_id(client, fish, recordings, answer, created):
    fish.post(f"{FISH_URL}/model", json=answer, status=201)
    path, decoded = recordings["wav"]
    provider = FishAudioProvider(client)
    if created is None:
        with pytest.raises(ProviderError, match="no id"):
            provider.create_voice(title="Gran", audio_path=path, audio=decoded, transcript=None)
    else:
        made = provider.create_voice(title="Gran", audio_path=path, audio=decoded, transcript=None)
        assert (made.model_id, made.state) == (created.model_id, created.state)


# -- speech and status ----------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "media_type"), [("mp3", "audio/mpeg"), ("wav", "audio/wav"), ("opus", "audio/ogg")])
def test_synthesize_streams_in_the_asked_format_once_read(client, fish, fmt, media_type):
    fish.post(f"{FISH_URL}/v1/tts", body=b"audio bytes", content_type="application/octet-stream")
    stream = FishAudioProvider(client).synthesize(text="Hi", reference_id=FISH_MODEL_ID, fmt=fmt)
    assert (stream.media_type, stream.sample_rate) == (media_type, None)  # Fish.Audio picks the rate
    assert len(fish.calls) == 0  # nothing is asked before the audio is read
    assert b"".join(stream.chunks) == b"audio bytes" and len(fish.calls) == 1


def test_a_refused_key_makes_the_status_unavailable_and_is_cached_too(client, fish):
    fish.get(f"{FISH_URL}/wallet/self/api-credit", status=401, body="Unauthorized")
    provider = FishAudioProvider(client, status_ttl=60)
    status = provider.status()
    assert status["status"] == "unavailable" and status["error"] == "voice_provider_auth_failed"
    assert status["provider"] == "fish" and status["detail"]
    assert provider.status() == status and len(fish.calls) == 1


def test_without_a_ttl_the_status_is_asked_every_time(client, fish):
    fish.get(f"{FISH_URL}/wallet/self/api-credit", json={"credit": "3.00"})
    provider = FishAudioProvider(client, status_ttl=0)
    provider.status()
    provider.status()
    assert len(fish.calls) == 2


def test_cached_speech_is_tagged_with_the_tts_model(client):
    assert FishAudioProvider(client).cache_tag == "s2-pro"  # the same text in another model is another recording
