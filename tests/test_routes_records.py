"""Users, voice models, echos, conversations, health and the shared error shape."""

from __future__ import annotations

import pytest
from bson import ObjectId

from tests.helpers import FISH_MODEL_ID, FISH_URL, FlakyClient, files_under, fish_model, upload, wait_until

OTHER_MODEL_ID = "fedcba9876543210fedcba9876543210"


@pytest.fixture
def voice(client, fish, user_id, wav_bytes):
    fish.post(f"{FISH_URL}/model", json=fish_model(), status=201)
    response = upload(client, wav_bytes, name="Grandma", user_id=user_id)
    assert response.status_code == 201
    return response.json["database_record"]


@pytest.fixture
def echo(client, user_id, voice):
    response = client.post(
        "/api/echo",
        json={"user_id": user_id, "name": "Gran", "persona_prompt": "Warm and funny.", "voice_model_id": FISH_MODEL_ID},
    )
    assert response.status_code == 201, response.json
    return response.json["echo"]


# -- users ----------------------------------------------------------------------------------------


def test_create_user_is_idempotent(client):
    first = client.post("/api/users/auth0|abc123", json={"email": "ann@example.com"})
    assert first.status_code == 201 and first.json["created"] is True
    assert isinstance(first.json["user"], str) and len(first.json["user"]) == 24
    assert first.json["user_record"]["auth0_user_id"] == "auth0|abc123"
    again = client.post("/api/users/auth0|abc123", json={"email": "ann@example.com"})
    assert again.status_code == 200 and again.json["user"] == first.json["user"] and again.json["created"] is False
    fetched = client.get(f"/api/users/auth0|abc123?user_id={first.json['user']}").json["user"]
    assert fetched["_id"] == first.json["user"] and fetched["email"] == "ann@example.com"
    assert fetched["created_at"].endswith("Z")
    # Anyone else (or someone naming no user) reads the record without its email, and cannot change it.
    assert "email" not in client.get("/api/users/auth0|abc123").json["user"]
    other = client.post("/api/users/local|other").json["user"]
    assert "email" not in client.get(f"/api/users/auth0|abc123?user_id={other}").json["user"]
    assert "email" not in again.json["user_record"]
    hijack = client.post(f"/api/users/auth0|abc123?user_id={other}", json={"email": "mallory@example.com"})
    assert hijack.status_code == 403
    mine = client.post(f"/api/users/auth0|abc123?user_id={first.json['user']}", json={"email": "ann@new.example"})
    assert mine.status_code == 200 and mine.json["user_record"]["email"] == "ann@new.example"


def test_user_errors(client):
    assert client.get("/api/users/auth0|nobody").status_code == 404
    assert client.post("/api/users/bad%20id", json={}).status_code == 400
    assert client.post("/api/users/auth0|x", json={"email": "not-an-email"}).status_code == 400
    assert client.post("/api/users/auth0|x", data="[1]", content_type="application/json").status_code == 400
    assert client.post("/api/users/auth0|x").status_code == 201  # email is optional


# -- voice models ---------------------------------------------------------------------------------


def test_list_and_get_voice_models(client, user_id, voice):
    listing = client.get(f"/api/voice-models?user_id={user_id}").json
    assert listing["count"] == 1 and listing["total"] == 1
    assert listing["voice_models"][0]["model_id"] == FISH_MODEL_ID
    one = client.get(f"/api/voice-models/{FISH_MODEL_ID}?user_id={user_id}").json["voice_model"]
    assert one["name"] == "Grandma" and one["user_id"] == user_id and one["reference_id"] == FISH_MODEL_ID
    assert "reference_audio" not in one


def test_voice_model_listing_needs_a_valid_user(client):
    assert client.get("/api/voice-models").status_code == 400
    assert client.get("/api/voice-models?user_id=123").status_code == 400
    assert client.get(f"/api/voice-models?user_id={'a' * 24}").status_code == 404
    assert client.get(f"/api/voice-models/unknown?user_id={'a' * 24}").status_code == 404


def test_voice_model_pagination(client, fish, user_id, wav_bytes):
    ids = [f"{i:032x}" for i in range(5)]
    for model_id in ids:
        fish.post(f"{FISH_URL}/model", json=fish_model(model_id), status=201)
        assert upload(client, wav_bytes, user_id=user_id).status_code == 201
    page = client.get(f"/api/voice-models?user_id={user_id}&limit=2&offset=1").json
    assert page["total"] == 5 and page["count"] == 2
    assert [m["model_id"] for m in page["voice_models"]] == [ids[3], ids[2]]  # newest first
    assert client.get(f"/api/voice-models?user_id={user_id}&limit=0").status_code == 400
    assert client.get(f"/api/voice-models?user_id={user_id}&limit=x").status_code == 400


def test_delete_voice_model_removes_it_everywhere(client, fish, user_id, voice, echo, data_dir):
    fish.delete(f"{FISH_URL}/model/{FISH_MODEL_ID}", status=200)
    assert len(files_under(data_dir / "references")) == 1
    response = client.delete(f"/api/voice-models/{FISH_MODEL_ID}?user_id={user_id}")
    assert response.status_code == 200 and response.json["success"] is True
    assert fish.calls[-1].request.method == "DELETE"
    assert files_under(data_dir / "references") == []
    assert client.get(f"/api/voice-models/{FISH_MODEL_ID}?user_id={user_id}").status_code == 404
    gone = client.get(f"/api/echo/{echo['_id']}?user_id={user_id}").json["echo"]
    assert gone["voice_model_id"] is None and gone["voice_status"] == "deleted"
    # repeating it changes nothing and calls nobody
    calls = len(fish.calls)
    assert client.delete(f"/api/voice-models/{FISH_MODEL_ID}?user_id={user_id}").status_code == 404
    assert len(fish.calls) == calls


def test_delete_voice_model_already_gone_at_fish(client, fish, user_id, voice):
    fish.delete(f"{FISH_URL}/model/{FISH_MODEL_ID}", status=404, json={"status": 404, "message": "Not found"})
    assert client.delete(f"/api/voice-models/{FISH_MODEL_ID}?user_id={user_id}").status_code == 200
    assert client.get(f"/api/voice-models/{FISH_MODEL_ID}?user_id={user_id}").status_code == 404


def test_delete_voice_model_keeps_record_when_fish_fails(client, fish, user_id, voice, data_dir):
    fish.delete(f"{FISH_URL}/model/{FISH_MODEL_ID}", status=503, json={"status": 503, "message": "busy"})
    response = client.delete(f"/api/voice-models/{FISH_MODEL_ID}?user_id={user_id}")
    assert response.status_code == 503
    assert client.get(f"/api/voice-models/{FISH_MODEL_ID}?user_id={user_id}").status_code == 200  # can be retried
    assert len(files_under(data_dir / "references")) == 1


def test_other_users_cannot_see_or_delete_a_voice(client, fish, user_id, voice):
    other = client.post("/api/users/local|mallory").json["user"]
    assert client.get(f"/api/voice-models/{FISH_MODEL_ID}?user_id={other}").status_code == 404
    assert client.delete(f"/api/voice-models/{FISH_MODEL_ID}?user_id={other}").status_code == 404
    assert client.get(f"/api/voice-models?user_id={other}").json["count"] == 0
    assert not [c for c in fish.calls if c.request.method == "DELETE"]


# -- echos ----------------------------------------------------------------------------------------


def test_echo_links_voice_both_ways(client, user_id, echo):
    assert echo["voice_model_id"] == FISH_MODEL_ID and echo["user_id"] == user_id
    assert echo["voice_status"] == "ready"
    model = client.get(f"/api/voice-models/{FISH_MODEL_ID}?user_id={user_id}").json["voice_model"]
    assert model["echo_id"] == echo["_id"]
    linked = client.get(f"/api/echo/{echo['_id']}/voice-model?user_id={user_id}").json["voice_model"]
    assert linked["model_id"] == FISH_MODEL_ID


def test_echo_crud(client, fish, user_id, echo, wav_bytes):
    listing = client.get(f"/api/echos?user_id={user_id}").json
    assert listing["count"] == 1 and listing["echos"][0]["_id"] == echo["_id"]

    path = f"/api/echo/{echo['_id']}?user_id={user_id}"
    patched = client.patch(path, json={"name": "Granny", "persona_prompt": "Gentle."})
    assert patched.status_code == 200
    assert patched.json["echo"]["name"] == "Granny" and patched.json["echo"]["persona_prompt"] == "Gentle."

    # move the echo to a new voice: links follow
    fish.post(f"{FISH_URL}/model", json=fish_model(OTHER_MODEL_ID), status=201)
    assert upload(client, wav_bytes, user_id=user_id).status_code == 201
    moved = client.patch(path, json={"voice_model_id": OTHER_MODEL_ID})
    assert moved.json["echo"]["voice_model_id"] == OTHER_MODEL_ID
    voice_of = lambda model_id: client.get(f"/api/voice-models/{model_id}?user_id={user_id}").json["voice_model"]  # noqa: E731
    assert voice_of(OTHER_MODEL_ID)["echo_id"] == echo["_id"]
    assert voice_of(FISH_MODEL_ID)["echo_id"] is None

    assert client.patch(path, json={}).status_code == 400
    assert client.patch(path, json={"name": ""}).status_code == 400


def test_echo_validation(client, user_id, voice, echo):
    assert client.post("/api/echo", json={"user_id": user_id}).status_code == 400  # no name
    assert client.post("/api/echo", json={"name": "x"}).status_code == 400  # no user
    assert client.post("/api/echo", json={"user_id": "zz", "name": "x"}).status_code == 400
    assert client.post("/api/echo", json={"user_id": "b" * 24, "name": "x"}).status_code == 404
    unknown_voice = client.post("/api/echo", json={"user_id": user_id, "name": "x", "voice_model_id": "nope"})
    assert unknown_voice.status_code == 404
    taken = client.post("/api/echo", json={"user_id": user_id, "name": "x", "voice_model_id": FISH_MODEL_ID})
    assert taken.status_code == 409
    assert client.get(f"/api/echo/{'c' * 24}?user_id={user_id}").status_code == 404
    assert client.get(f"/api/echo/nothex?user_id={user_id}").status_code == 400
    assert client.post("/api/echo", json={"user_id": user_id, "name": "no voice"}).status_code == 201


def test_delete_echo_removes_its_messages(client, user_id, echo, app):
    for i in range(3):
        client.post(f"/api/conversation/{echo['_id']}", json={"role": "user", "content": f"m{i}", "user_id": user_id})
    db = app.extensions["echo"].db
    assert len(db.list_messages(ObjectId(echo["_id"]))) == 3
    response = client.delete(f"/api/echo/{echo['_id']}?user_id={user_id}")
    assert response.status_code == 200
    assert client.get(f"/api/echo/{echo['_id']}?user_id={user_id}").status_code == 404
    assert client.get(f"/api/conversation/{echo['_id']}?user_id={user_id}").status_code == 404
    assert db.list_messages(ObjectId(echo["_id"])) == []
    model = client.get(f"/api/voice-models/{FISH_MODEL_ID}?user_id={user_id}").json["voice_model"]
    assert model["echo_id"] is None
    assert client.delete(f"/api/echo/{echo['_id']}?user_id={user_id}").status_code == 404


def test_other_users_cannot_reach_an_echo(client, echo, user_id):
    other = client.post("/api/users/local|mallory").json["user"]
    for method, path in [
        ("get", f"/api/echo/{echo['_id']}"),
        ("patch", f"/api/echo/{echo['_id']}"),
        ("delete", f"/api/echo/{echo['_id']}"),
        ("get", f"/api/echo/{echo['_id']}/voice-model"),
        ("get", f"/api/conversation/{echo['_id']}"),
        ("post", f"/api/conversation/{echo['_id']}"),
    ]:
        kwargs = {"json": {"user_id": other, "name": "x", "role": "user", "content": "x"}}
        response = getattr(client, method)(f"{path}?user_id={other}", **kwargs)
        assert response.status_code == 404, (method, path)
    assert client.get(f"/api/echos?user_id={other}").json["count"] == 0
    assert client.get(f"/api/echo/{echo['_id']}?user_id={user_id}").json["echo"]["name"] == "Gran"


# -- conversation ---------------------------------------------------------------------------------


def test_conversation_oldest_first_with_limit(client, echo, user_id):
    path = f"/api/conversation/{echo['_id']}?user_id={user_id}"
    for i in range(5):
        role = "user" if i % 2 == 0 else "assistant"
        response = client.post(path, json={"role": role, "content": f"message {i}"})
        assert response.status_code == 201
        assert response.json["message"]["echo_id"] == echo["_id"]
    messages = client.get(path).json["messages"]
    assert [m["content"] for m in messages] == [f"message {i}" for i in range(5)]
    assert messages[1]["role"] == "assistant" and messages[0]["created_at"].endswith("Z")
    latest = client.get(f"{path}&limit=2").json["messages"]
    assert [m["content"] for m in latest] == ["message 3", "message 4"]


def test_conversation_validation(client, echo, user_id):
    path = f"/api/conversation/{echo['_id']}?user_id={user_id}"
    assert client.post(path, json={"role": "system", "content": "x"}).status_code == 400
    assert client.post(path, json={"role": "user"}).status_code == 400
    assert client.post(path, json={"role": "user", "content": "x" * 10001}).status_code == 400
    assert client.get(f"{path}&limit=-1").status_code == 400
    assert client.get(f"/api/conversation/xyz?user_id={user_id}").status_code == 400
    assert client.get(path).json["messages"] == []


# -- health and failures --------------------------------------------------------------------------


def test_health_healthy(client, fish):
    fish.get(f"{FISH_URL}/wallet/self/api-credit", json={"credit": "12.50"})
    body = client.get("/health").json
    assert body["status"] == "healthy"
    assert body["components"]["database"]["status"] == "ok"
    voice = body["components"]["voice_provider"]
    assert voice["status"] == "ok" and voice["provider"] == "fish" and voice["credit"] == "12.50"


def test_health_reports_a_bad_key(client, fish):
    fish.get(f"{FISH_URL}/wallet/self/api-credit", status=401, body="Unauthorized")
    body = client.get("/health").json
    assert body["status"] == "degraded"
    assert body["components"]["voice_provider"]["error"] == "voice_provider_auth_failed"


def test_database_outage_gives_503_and_degraded_health(make_app, fish):
    """The database fails as an unreachable server does (the driver's own ServerSelectionTimeoutError, through
    Echo's real mapping): record routes answer 503, and /health's own ping reports it, then the recovery."""
    fish.get(f"{FISH_URL}/wallet/self/api-credit", json={"credit": "1"})
    database = FlakyClient()
    client = make_app(db_client=database).test_client()
    user_id = client.post("/api/users/local|tester").json["user"]

    def health_once(status: str):
        """/health's body once its database check has found ``status`` (checks run in the background)."""
        body = client.get("/health").json
        return body if body["components"]["database"]["status"] == status else None

    assert wait_until(lambda: health_once("ok"), "/health finds the database")["status"] == "healthy"
    database.down = True
    for response in (
        client.get(f"/api/voice-models?user_id={user_id}"),
        client.get("/api/users/local|tester"),
        client.post("/api/users/local|new"),
        client.get(f"/api/echo/{'a' * 24}?user_id={user_id}"),
    ):
        assert response.status_code == 503
        assert response.json["error"] == "database_unavailable"
    health = wait_until(lambda: health_once("unavailable"), "/health finds the database unreachable")
    assert health["status"] == "degraded"
    assert health["components"]["database"] == {
        "status": "unavailable",
        "backend": "injected",
        "detail": "The database is unavailable; try again shortly.",
    }
    assert health["components"]["voice_provider"]["status"] == "ok"  # only the database is down
    database.down = False
    assert wait_until(lambda: health_once("ok"), "/health finds the database back")["status"] == "healthy"
    assert client.get("/api/users/local|tester").status_code == 200


def test_unknown_routes_and_methods_answer_json(client):
    missing = client.get("/api/nothing")
    assert missing.status_code == 404 and missing.json["error"] == "not_found"
    wrong = client.put("/api/synthesize")
    assert wrong.status_code == 405 and "POST" in wrong.headers["Allow"] and wrong.json["success"] is False


def test_every_request_is_logged_once(client, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="echo.requests")
    client.get("/api/users/local|nobody")
    (line,) = [r.getMessage() for r in caplog.records if r.name == "echo.requests"]
    assert line.startswith("GET /api/users/local|nobody 404 ") and line.endswith("ms")
