"""The whole voice flow through the API on the offline local engine (no key, no network)."""

from __future__ import annotations

import mongomock
import pytest

from backend import audio
from backend.api_server import create_app
from tests.helpers import fetch, files_under, reference_voice, upload


@pytest.fixture(scope="module")
def local_client(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("local-flow")
    app = create_app(
        {"DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING"},
        environ={},
        db_client=mongomock.MongoClient(tz_aware=True),
    )
    return app.test_client(), data_dir


def test_no_key_means_the_local_engine(local_client):
    client, _ = local_client
    health = client.get("/health").json
    assert health["components"]["voice_provider"]["provider"] == "local"
    assert "not a neural clone" in health["components"]["voice_provider"]["description"]


def test_clone_speak_and_delete_offline(local_client, tmp_path):
    client, data_dir = local_client
    user = client.post("/api/users/local|offline").json["user"]
    created = upload(client, reference_voice().read_bytes(), user_id=user, name="SLT")
    assert created.status_code == 201, created.json
    model_id = created.json["model_id"]
    assert model_id.startswith("local-") and created.json["provider"] == "local"
    assert files_under(data_dir / "voices")

    for fmt, rate in (("wav", 22050), ("mp3", 22050), ("opus", 48000)):
        spoken = client.post(
            "/api/synthesize",
            json={
                "text": "Hello, my dear. I have missed you.",
                "reference_id": model_id,
                "format": fmt,
                "user_id": user,
            },
        )
        assert spoken.status_code == 200, spoken.json
        response, data = fetch(client, spoken.json["audio_url"])
        path = tmp_path / f"out.{fmt}"
        path.write_bytes(data)
        info = audio.inspect(path, max_seconds=60)
        assert info.sample_rate == rate and 1.0 < info.duration < 6.0

    assert client.delete(f"/api/voice-models/{model_id}?user_id={user}").status_code == 200
    assert not list((data_dir / "voices").glob(f"{model_id}*"))
    gone = client.post("/api/synthesize", json={"text": "Hi", "reference_id": model_id, "user_id": user})
    assert gone.status_code == 404
