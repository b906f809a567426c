"""Echos (/api/echo, /api/echos) and their conversations (/api/conversation/<echo_id>)."""

from __future__ import annotations

from bson import ObjectId

from tests.helpers import FISH_MODEL_ID, FISH_URL, fish_model, upload

OTHER_MODEL_ID = "fedcba9876543210fedcba9876543210"


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
