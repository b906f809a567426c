"""An echo's memories: /api/echo/<echo_id>/memories and /api/echo/<echo_id>/memories/<memory_id>."""

from __future__ import annotations

import pytest
from bson import ObjectId

from backend.services.memories import MAX_MEMORIES


@pytest.fixture
def gran(client, user_id) -> dict:
    response = client.post("/api/echo", json={"user_id": user_id, "name": "Gran", "persona_prompt": "Warm."})
    assert response.status_code == 201, response.json
    return response.json["echo"]


@pytest.fixture
def path(gran, user_id) -> str:
    return f"/api/echo/{gran['_id']}/memories"


def add(client, path: str, user_id: str, text: str):
    return client.post(path, json={"user_id": user_id, "text": text})


def test_add_list_edit_delete(client, app, gran, path, user_id):
    created = add(client, path, user_id, "  She grew prize roses in her back garden.  ")
    assert created.status_code == 201, created.json
    assert created.json["success"] is True
    memory = created.json["memory"]
    assert memory["text"] == "She grew prize roses in her back garden."
    assert memory["echo_id"] == gran["_id"] and memory["user_id"] == user_id
    assert memory["created_at"].endswith("Z") and memory["updated_at"] == memory["created_at"]
    assert set(memory) == {"_id", "echo_id", "user_id", "text", "created_at", "updated_at"}
    others = ["Her apple pie had cinnamon.", "She drove a Morris Minor.", "She hummed Vera Lynn songs."]
    for text in others:
        assert add(client, path, user_id, text).status_code == 201

    listing = client.get(f"{path}?user_id={user_id}").json
    assert listing == {
        "success": True,
        "memories": listing["memories"],
        "count": 4,
        "total": 4,
        "limit": 50,
        "offset": 0,
    }
    assert [m["text"] for m in listing["memories"]] == [*reversed(others), memory["text"]]  # newest first
    page = client.get(f"{path}?user_id={user_id}&limit=2&offset=1").json
    assert [m["text"] for m in page["memories"]] == [others[1], others[0]]
    assert (page["count"], page["total"], page["limit"], page["offset"]) == (2, 4, 2, 1)

    one = f"{path}/{memory['_id']}"
    edited = client.patch(one, json={"user_id": user_id, "text": "She grew red roses."})
    assert edited.status_code == 200
    assert edited.json["memory"]["text"] == "She grew red roses." and edited.json["memory"]["_id"] == memory["_id"]
    assert edited.json["memory"]["created_at"] == memory["created_at"]

    deleted = client.delete(f"{one}?user_id={user_id}")
    assert deleted.status_code == 200 and deleted.json == {"success": True, "deleted": True}
    assert client.delete(f"{one}?user_id={user_id}").status_code == 404
    assert client.patch(one, json={"user_id": user_id, "text": "back?"}).status_code == 404
    assert client.get(f"{path}?user_id={user_id}").json["total"] == 3

    # what a reply will be given: the memory that matters to the message
    recall = app.extensions["echo"].memories.relevant
    assert [m["text"] for m in recall(ObjectId(gran["_id"]), "Do you still have the Morris?")][0] == others[1]
    left = [m["text"] for m in recall(ObjectId(gran["_id"]), "Do you remember your roses?")]
    assert "She grew red roses." not in left and len(left) == 3  # that memory was deleted
    assert all("vector" not in m for m in client.get(f"{path}?user_id={user_id}").json["memories"])


@pytest.mark.parametrize(
    "body, reason",
    [
        ({"text": ""}, "memory_empty"),
        ({"text": "   "}, "memory_empty"),
        ({}, "memory_empty"),
        ({"text": None}, "memory_empty"),
        ({"text": "x" * 1001}, "memory_too_long"),
        ({"text": 12}, "memory_not_text"),
    ],
)
def test_text_limits_answer_400_with_a_reason(client, path, user_id, body, reason):
    kept = add(client, path, user_id, "kept").json["memory"]
    refused = client.post(path, json={"user_id": user_id, **body})
    assert refused.status_code == 400
    assert refused.json["success"] is False and refused.json["error"] == "bad_request"
    assert refused.json["reason"] == reason and refused.json["message"]
    edit = client.patch(f"{path}/{kept['_id']}", json={"user_id": user_id, **body})
    assert edit.status_code == 400 and edit.json["reason"] == reason
    listing = client.get(f"{path}?user_id={user_id}").json
    assert [m["text"] for m in listing["memories"]] == ["kept"]


def test_a_thousand_characters_fit(client, path, user_id):
    text = "y" * 1000
    assert add(client, path, user_id, f"\n{text} ").json["memory"]["text"] == text


def test_at_most_200_memories_per_echo(client, app, gran, path, user_id):
    db = app.extensions["echo"].db
    for i in range(MAX_MEMORIES - 1):  # quicker than 199 requests
        db.add_memory(ObjectId(gran["_id"]), ObjectId(user_id), f"memory {i}")
    assert add(client, path, user_id, "the 200th").status_code == 201
    refused = add(client, path, user_id, "the 201st")
    assert refused.status_code == 400 and refused.json["reason"] == "too_many_memories"
    assert client.get(f"{path}?user_id={user_id}").json["total"] == MAX_MEMORIES
    newest = client.get(f"{path}?user_id={user_id}&limit=1").json["memories"][0]
    assert client.delete(f"{path}/{newest['_id']}?user_id={user_id}").status_code == 200
    assert add(client, path, user_id, "room again").status_code == 201


def test_requests_are_checked(client, gran, path, user_id):
    memory = add(client, path, user_id, "A saying.").json["memory"]
    assert client.get(path).status_code == 400  # who is asking?
    assert client.get(path).json["reason"] == "user_required"
    assert client.post(path, json={"text": "no user"}).status_code == 400
    assert client.get(f"/api/echo/nothex/memories?user_id={user_id}").json["reason"] == "invalid_id"
    bad_id = client.patch(f"{path}/{memory['_id']}x", json={"user_id": user_id, "text": "x"})
    assert bad_id.status_code == 400 and bad_id.json["reason"] == "invalid_id"
    assert client.delete(f"{path}/{memory['_id'].upper()}%0A?user_id={user_id}").status_code == 400
    assert client.get(f"/api/echo/{'c' * 24}/memories?user_id={user_id}").status_code == 404
    assert client.post(path, data="text=x", content_type="application/x-www-form-urlencoded").status_code == 400
    not_json = client.post(f"{path}?user_id={user_id}", data="hello", content_type="text/plain")
    assert not_json.status_code == 400
    assert client.get(f"{path}?user_id={user_id}&limit=0").status_code == 400
    assert client.get(f"{path}?user_id={user_id}&limit=201").status_code == 400
    assert client.delete(f"{path}/{'d' * 24}?user_id={user_id}").status_code == 404
    assert client.put(f"{path}/{memory['_id']}?user_id={user_id}").status_code == 405


def test_other_users_get_404_and_change_nothing(client, gran, path, user_id):
    memory = add(client, path, user_id, "Her secret recipe.").json["memory"]
    other = client.post("/api/users/local|mallory").json["user"]
    for method, url in [
        ("get", path),
        ("post", path),
        ("patch", f"{path}/{memory['_id']}"),
        ("delete", f"{path}/{memory['_id']}"),
    ]:
        response = getattr(client, method)(f"{url}?user_id={other}", json={"user_id": other, "text": "mine now"})
        assert response.status_code == 404, (method, url)
        assert response.json["error"] == "not_found"
    # through an echo of their own, the memory is still out of reach
    theirs = client.post("/api/echo", json={"user_id": other, "name": "Mum"}).json["echo"]
    for method in ("patch", "delete"):
        url = f"/api/echo/{theirs['_id']}/memories/{memory['_id']}?user_id={other}"
        assert getattr(client, method)(url, json={"text": "mine now"}).status_code == 404
    listing = client.get(f"{path}?user_id={user_id}").json
    assert [(m["_id"], m["text"]) for m in listing["memories"]] == [(memory["_id"], "Her secret recipe.")]
    assert client.get(f"/api/echo/{theirs['_id']}/memories?user_id={other}").json["total"] == 0


def test_a_memory_of_another_echo_of_mine_answers_404(client, path, user_id):
    memory = add(client, path, user_id, "Gran's.").json["memory"]
    grandad = client.post("/api/echo", json={"user_id": user_id, "name": "Grandad"}).json["echo"]
    other_path = f"/api/echo/{grandad['_id']}/memories/{memory['_id']}"
    assert client.patch(other_path, json={"user_id": user_id, "text": "Grandad's"}).status_code == 404
    assert client.delete(f"{other_path}?user_id={user_id}").status_code == 404
    assert client.get(f"{path}?user_id={user_id}").json["memories"][0]["text"] == "Gran's."


def test_memories_go_with_their_echo(client, app, gran, path, user_id):
    for text in ("one", "two"):
        add(client, path, user_id, text)
    kept = client.post("/api/echo", json={"user_id": user_id, "name": "Grandad"}).json["echo"]
    add(client, f"/api/echo/{kept['_id']}/memories", user_id, "his")
    assert client.delete(f"/api/echo/{gran['_id']}?user_id={user_id}").status_code == 200
    db = app.extensions["echo"].db
    assert db.count_memories(ObjectId(gran["_id"])) == 0
    assert client.get(f"{path}?user_id={user_id}").status_code == 404
    assert db.count_memories(ObjectId(kept["_id"])) == 1


def test_memories_go_with_the_account(client, app, gran, path, user_id):
    for text in ("one", "two", "three"):
        add(client, path, user_id, text)
    other = client.post("/api/users/local|other").json["user"]
    theirs = client.post("/api/echo", json={"user_id": other, "name": "Mum"}).json["echo"]
    add(client, f"/api/echo/{theirs['_id']}/memories", other, "theirs")
    response = client.delete(f"/api/users/local|tester?user_id={user_id}")
    assert response.status_code == 200 and response.json["deleted"]["memories"] == 3
    db = app.extensions["echo"].db
    assert db.count_memories(ObjectId(gran["_id"])) == 0
    assert db.count_memories(ObjectId(theirs["_id"])) == 1
