"""fish-speech through the API: clone with /api/upload-reference, speak with /api/synthesize (whole and streamed,
raw PCM at 24,000 Hz), the engine named in the voice record and in /health, and the plain refusal of its voices
by a server that no longer has it."""

from __future__ import annotations

import mongomock
import pytest

from backend import audio
from backend.api_server import create_app
from backend.formats import PCM_SAMPLE_RATE
from tests.fake_fish_speech import SECONDS_PER_CHARACTER
from tests.helpers import closed_port, fetch, reference_voice, upload

TEXT = "Good morning, my love. Did you sleep well?"


@pytest.fixture
def database():
    return mongomock.MongoClient(tz_aware=True)


def app_for(data_dir, database, **config):
    settings = {"DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING", **config}
    return create_app(settings, environ={}, db_client=database)


def test_clone_and_speak_through_the_api(tmp_path, database, server):
    app = app_for(tmp_path / "data", database, VOICE_PROVIDER="fish-speech", FISH_SPEECH_URL=server.url)
    client = app.test_client()
    user = client.post("/api/users/local|gran").json["user"]

    created = upload(
        client, reference_voice().read_bytes(), user_id=user, name="Gran", transcript="The words she said."
    )
    assert created.status_code == 201, created.json
    model_id = created.json["model_id"]
    assert model_id.startswith("fishspeech-") and created.json["provider"] == "fish-speech"
    record = created.json["database_record"]
    assert record["provider"] == "fish-speech"
    listed = client.get(f"/api/voice-models?user_id={user}").json
    assert [(v["model_id"], v["provider"]) for v in listed["voice_models"]] == [(model_id, "fish-speech")]

    spoken = client.post(
        "/api/synthesize", json={"text": TEXT, "reference_id": model_id, "format": "mp3", "user_id": user}
    )
    assert spoken.status_code == 200, spoken.json
    assert spoken.json["provider"] == "fish-speech"
    response, data = fetch(client, spoken.json["audio_url"])
    assert response.status_code == 200 and audio.looks_like("mp3", data[:16])
    (heard,) = server.tts_calls
    assert heard.json["streaming"] is True and heard.json["text"] == TEXT
    (reference,) = heard.references
    assert reference["text"] == "The words she said." and audio.looks_like("wav", reference["audio"][:16])

    streamed = client.post(
        "/api/synthesize",
        json={"text": TEXT, "reference_id": model_id, "format": "pcm", "user_id": user, "stream": True},
    )
    assert streamed.status_code == 200 and streamed.mimetype == "audio/pcm"
    pcm = streamed.get_data()
    streamed.close()
    assert len(pcm) / 2 / PCM_SAMPLE_RATE == pytest.approx(len(TEXT) * SECONDS_PER_CHARACTER, abs=0.02)

    health = client.get("/health").json["components"]["voice_provider"]
    assert health["status"] == "ok" and health["provider"] == "fish-speech"
    assert server.url not in str(health)  # the engine's address is not for the public
    assert health["engines"]["fish-speech"]["makes_new_voices"] is True
    assert health["engines"]["local"]["makes_new_voices"] is False
    assert "fish-speech" in health["engines"]["fish-speech"]["description"]

    # The same records on a server whose engine is now the local one, without fish-speech: refused plainly.
    elsewhere = app_for(tmp_path / "data", database, VOICE_PROVIDER="local").test_client()
    refused = elsewhere.post(
        "/api/synthesize", json={"text": TEXT, "reference_id": model_id, "format": "mp3", "user_id": user}
    )
    assert refused.status_code == 409
    assert "fish-speech server, which is not configured on this server (set FISH_SPEECH_URL)" in refused.json["message"]
    # ... and with FISH_SPEECH_URL set beside it, the voice speaks again.
    beside = app_for(tmp_path / "data", database, VOICE_PROVIDER="local", FISH_SPEECH_URL=server.url).test_client()
    again = beside.post(
        "/api/synthesize", json={"text": "Hello again.", "reference_id": model_id, "format": "wav", "user_id": user}
    )
    assert again.status_code == 200 and again.json["provider"] == "fish-speech"

    assert client.delete(f"/api/voice-models/{model_id}?user_id={user}").status_code == 200
    gone = client.post("/api/synthesize", json={"text": "Hi", "reference_id": model_id, "user_id": user})
    assert gone.status_code == 404


def test_an_unreachable_server_answers_503_and_makes_no_voice(tmp_path, database, slept):
    app = app_for(
        tmp_path / "data",
        database,
        VOICE_PROVIDER="fish-speech",
        FISH_SPEECH_URL=f"http://127.0.0.1:{closed_port()}",
    )
    client = app.test_client()
    user = client.post("/api/users/local|gran").json["user"]
    created = upload(client, reference_voice().read_bytes(), user_id=user, name="Gran")
    assert created.status_code == 503 and created.json["error"] == "voice_provider_unavailable"
    assert len(slept) == 2  # asked three times, as Fish.Audio's calls are
    assert client.get(f"/api/voice-models?user_id={user}").json["voice_models"] == []
