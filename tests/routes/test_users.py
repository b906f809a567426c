"""Users: /api/users/<auth0_id> (create idempotently, read, who may see and change the email)."""

from __future__ import annotations


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
