"""Personal API keys: made, listed and revoked on /api/api-keys; required on /v1/* (local mode too); refused on
/api/*; counted per key by the rate limits; gone with the account; on every store.

The /v1 routes are tried through a probe route added to the test app (``add_probe``): it answers who
``caller_id(required=True)`` says is calling, as the speech routes rely on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import string
from datetime import timedelta

import pytest
from bson import ObjectId
from flask import Flask, g
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.database import utcnow
from backend.extensions import rate_limit_key
from backend.routes.common import caller_id
from backend.services import api_keys as api_keys_module
from backend.services.api_keys import MAX_KEYS, PREFIX_LENGTH, digest
from tests.helpers import bearer

PROBE = "/v1/test/whoami"
LIMITED = "/v1/test/limited"
PUBLIC_FIELDS = {"_id", "name", "prefix", "created_at", "last_used_at"}


def add_probe(app: Flask, limit: str = "2 per minute") -> Flask:
    """Test-only /v1 routes (before the app's first request): who is calling, and the same rate limited."""

    def whoami():
        caller = g.caller
        return {
            "user_id": caller_id(required=True),
            "auth0_id": caller.auth0_id,
            "key_id": caller.key_id,
            "rate_limit_key": rate_limit_key(),
        }

    app.add_url_rule(PROBE, "v1_probe", whoami, methods=["GET", "POST"])
    app.add_url_rule(LIMITED, "v1_probe_limited", whoami, methods=["POST"])
    app.view_functions["v1_probe_limited"] = app.extensions["echo_limiter"].limit(limit)(whoami)
    return app


def v1_error(response) -> tuple[str, str]:
    """(code, message) of an error from /v1, in Echo's shape or OpenAI's ({"error": {"message", "code"}})."""
    body = response.get_json()
    error = body["error"]
    if isinstance(error, dict):
        return error["code"], error["message"]
    return error, body["message"]


def db_of(app):
    return app.extensions["echo"].db


@pytest.fixture
def app(make_app):
    return add_probe(make_app())


def new_user(client, name: str) -> str:
    response = client.post(f"/api/users/local|{name}", json={})
    assert response.status_code == 201
    return response.json["user"]


def make_key(client, user_id: str, name: str = "Kitchen speaker") -> dict:
    response = client.post("/api/api-keys", json={"user_id": user_id, "name": name})
    assert response.status_code == 201, response.json
    return response.json


def all_documents(app) -> str:
    """Every record in the database, as text (to look for a secret in it)."""
    db = db_of(app)._db
    return json.dumps([list(db[name].find()) for name in db.list_collection_names()], default=str)


# -- making, listing, revoking ---------------------------------------------------------------------------


def test_a_key_is_shown_once_and_stored_only_as_its_hash(app, client, user_id):
    made = make_key(client, user_id)
    secret, record = made["key"], made["api_key"]
    assert secret.startswith("echo_") and len(secret) == 48
    assert set(record) == PUBLIC_FIELDS
    assert record["name"] == "Kitchen speaker" and record["prefix"] == secret[:PREFIX_LENGTH]
    assert record["last_used_at"] is None

    listed = client.get(f"/api/api-keys?user_id={user_id}")
    assert listed.status_code == 200 and listed.json["count"] == 1 and listed.json["total"] == 1
    assert listed.json["api_keys"] == [record]
    assert secret not in listed.get_data(as_text=True)

    stored = db_of(app).get_api_key(ObjectId(record["_id"]))
    assert stored["hash"] == hashlib.sha256(secret.encode()).hexdigest() == digest(secret)
    assert stored["user_id"] == ObjectId(user_id)
    assert secret not in all_documents(app) and secret[5:] not in all_documents(app)


def test_the_secret_is_never_logged(make_app, caplog):
    caplog.set_level(logging.DEBUG)
    app = add_probe(make_app(LOG_LEVEL="DEBUG"))
    client = app.test_client()
    user_id = new_user(client, "logged")
    secret = make_key(client, user_id)["key"]
    assert client.get(PROBE, headers=bearer(secret)).status_code == 200
    assert client.get("/api/echos", headers=bearer(secret)).status_code == 401
    assert client.get(PROBE, headers=bearer(secret[:-1] + ("B" if secret.endswith("A") else "A"))).status_code == 401
    assert caplog.records  # the request log was captured
    assert secret[5:20] not in caplog.text


def test_keys_are_listed_newest_first_with_when_they_were_last_used(client, user_id):
    first = make_key(client, user_id, "Kitchen speaker")
    second = make_key(client, user_id, "  Open WebUI  ")
    assert second["api_key"]["name"] == "Open WebUI"  # stripped
    listed = client.get(f"/api/api-keys?user_id={user_id}").json
    assert [k["name"] for k in listed["api_keys"]] == ["Open WebUI", "Kitchen speaker"]
    assert listed["limit"] == 50 and listed["offset"] == 0
    assert client.get(PROBE, headers=bearer(first["key"])).status_code == 200
    listed = client.get(f"/api/api-keys?user_id={user_id}").json["api_keys"]
    used = {k["name"]: k["last_used_at"] for k in listed}
    assert used["Kitchen speaker"] is not None and used["Open WebUI"] is None
    page = client.get(f"/api/api-keys?user_id={user_id}&limit=1&offset=1").json
    assert page["count"] == 1 and page["total"] == 2 and page["api_keys"][0]["name"] == "Kitchen speaker"


def test_last_used_is_written_at_most_once_a_minute(app, client, user_id, monkeypatch):
    db = db_of(app)
    writes = []
    touch = db.touch_api_key
    monkeypatch.setattr(db, "touch_api_key", lambda *a, **k: writes.append(a) or touch(*a, **k))
    made = make_key(client, user_id)
    for _ in range(5):
        assert client.get(PROBE, headers=bearer(made["key"])).status_code == 200
    assert len(writes) == 1
    first = db.get_api_key(ObjectId(made["api_key"]["_id"]))["last_used_at"]

    later = utcnow() + timedelta(seconds=61)
    monkeypatch.setattr(api_keys_module, "utcnow", lambda: later)
    for _ in range(3):
        assert client.get(PROBE, headers=bearer(made["key"])).status_code == 200
    assert len(writes) == 2
    second = db.get_api_key(ObjectId(made["api_key"]["_id"]))["last_used_at"]
    assert second > first


def test_a_revoked_key_is_refused_at_once(client, user_id):
    made = make_key(client, user_id)
    assert client.get(PROBE, headers=bearer(made["key"])).status_code == 200
    key_id = made["api_key"]["_id"]
    revoked = client.delete(f"/api/api-keys/{key_id}?user_id={user_id}")
    assert revoked.status_code == 200 and revoked.json == {"success": True}
    refused = client.get(PROBE, headers=bearer(made["key"]))
    assert refused.status_code == 401 and "revoked" in v1_error(refused)[1]
    assert client.get(f"/api/api-keys?user_id={user_id}").json["count"] == 0
    assert client.delete(f"/api/api-keys/{key_id}?user_id={user_id}").status_code == 404


def test_another_users_key_cannot_be_listed_or_revoked(client, user_id):
    mine = make_key(client, user_id)
    other = new_user(client, "mallory")
    assert client.get(f"/api/api-keys?user_id={other}").json["count"] == 0
    attempt = client.delete(f"/api/api-keys/{mine['api_key']['_id']}?user_id={other}")
    assert attempt.status_code == 404 and attempt.json["error"] == "not_found"
    unknown = client.delete(f"/api/api-keys/{ObjectId()}?user_id={other}")
    assert unknown.status_code == 404 and unknown.json["message"] == attempt.json["message"]  # reveals nothing
    assert client.get(PROBE, headers=bearer(mine["key"])).status_code == 200  # still works


def test_at_most_twenty_keys(client, user_id):
    made = [make_key(client, user_id, f"Speaker {n}") for n in range(MAX_KEYS)]
    refused = client.post("/api/api-keys", json={"user_id": user_id, "name": "One too many"})
    assert refused.status_code == 400 and refused.json["reason"] == "too_many_keys"
    assert client.get(f"/api/api-keys?user_id={user_id}").json["total"] == MAX_KEYS
    assert client.delete(f"/api/api-keys/{made[0]['api_key']['_id']}?user_id={user_id}").status_code == 200
    assert client.post("/api/api-keys", json={"user_id": user_id, "name": "Now there is room"}).status_code == 201
    other = new_user(client, "other")
    assert client.post("/api/api-keys", json={"user_id": other, "name": "Theirs"}).status_code == 201  # per user


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({}, "api_key_name_empty"),
        ({"name": None}, "api_key_name_empty"),
        ({"name": ""}, "api_key_name_empty"),
        ({"name": " \t\n "}, "api_key_name_empty"),
        ({"name": "x" * 101}, "api_key_name_too_long"),
        ({"name": 42}, "api_key_name_not_text"),
        ({"name": ["Kitchen"]}, "api_key_name_not_text"),
        ({"name": {"text": "Kitchen"}}, "api_key_name_not_text"),
        ({"name": True}, "api_key_name_not_text"),
        ({"name": "bell\u0007"}, "forbidden_character"),
        ({"name": "half \ud800"}, "forbidden_character"),
    ],
    ids=["missing", "null", "empty", "blank", "101-chars", "number", "list", "object", "bool", "control", "surrogate"],
)
def test_bad_names_are_refused(client, user_id, body, reason):
    response = client.post("/api/api-keys", json={"user_id": user_id, **body})
    assert response.status_code == 400, response.json
    assert response.json["reason"] == reason
    assert client.get(f"/api/api-keys?user_id={user_id}").json["count"] == 0


def test_names_at_the_limits_are_kept(client, user_id):
    assert make_key(client, user_id, "x" * 100)["api_key"]["name"] == "x" * 100
    assert make_key(client, user_id, "K")["api_key"]["name"] == "K"
    assert make_key(client, user_id, "Küche 🔊")["api_key"]["name"] == "Küche 🔊"


def test_making_a_key_needs_a_known_user(client):
    assert client.post("/api/api-keys", json={"name": "x"}).json["reason"] == "user_required"
    assert client.post("/api/api-keys", json={"user_id": str(ObjectId()), "name": "x"}).status_code == 404
    assert client.get("/api/api-keys").status_code == 400
    assert client.post("/api/api-keys", data="name=x", content_type="text/plain").status_code == 400
    assert client.delete(f"/api/api-keys/not-an-id?user_id={ObjectId()}").json["reason"] == "invalid_id"


# -- where keys are accepted ------------------------------------------------------------------------------


def test_keys_are_refused_on_the_api_routes(client, user_id):
    """A key is for speaking: it cannot manage keys, delete the account or read conversations."""
    secret = make_key(client, user_id)["key"]
    attempts = [
        client.get(f"/api/echos?user_id={user_id}", headers=bearer(secret)),
        client.get("/api/api-keys", headers=bearer(secret)),
        client.post("/api/api-keys", json={"name": "another"}, headers=bearer(secret)),
        client.delete("/api/users/local|tester", headers=bearer(secret)),
        client.get("/api/echos", headers=bearer("echo_not-even-a-real-key")),
    ]
    for response in attempts:
        assert response.status_code == 401, response.json
        assert "only for the speech API at /v1" in response.json["message"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get(f"/api/api-keys?user_id={user_id}").json["count"] == 1  # nothing was made
    assert client.get(f"/api/echos?user_id={user_id}").status_code == 200  # local mode as before


def test_the_speech_api_needs_a_key_in_local_mode(client, user_id):
    made = make_key(client, user_id)
    ok = client.get(PROBE, headers=bearer(made["key"]))
    assert ok.status_code == 200
    assert ok.json["user_id"] == user_id and ok.json["key_id"] == made["api_key"]["_id"]
    assert ok.json["auth0_id"] == "local|tester"
    assert ok.json["rate_limit_key"] == f"key:{made['api_key']['_id']}"
    refused = {
        "none": client.get(PROBE),
        "named-user": client.get(f"{PROBE}?user_id={user_id}"),
        "basic": client.get(PROBE, headers={"Authorization": "Basic dXNlcjpwYXNz"}),
        "unknown-key": client.get(PROBE, headers=bearer("echo_" + "A" * 43)),
        "short-key": client.get(PROBE, headers=bearer(made["key"][:-1])),
        "a-jwt": client.get(PROBE, headers=bearer("eyJhbGciOiJIUzI1NiJ9.e30.x")),
        "unknown-route": client.get("/v1/no-such-route"),
    }
    assert {name: r.status_code for name, r in refused.items()} == dict.fromkeys(refused, 401)
    assert 'error="invalid_request"' in refused["none"].headers["WWW-Authenticate"]
    assert client.get("/v1/no-such-route", headers=bearer(made["key"])).status_code == 404


def test_a_key_speaks_only_for_its_owner(client, user_id):
    """In local mode a /v1 request that names another user is refused (403), as a signed-in one is."""
    secret = make_key(client, user_id)["key"]
    other = new_user(client, "mallory")
    assert client.post(PROBE, json={"user_id": other}, headers=bearer(secret)).status_code == 403
    assert client.get(f"{PROBE}?user_id={other}", headers=bearer(secret)).status_code == 403
    assert client.get(f"{PROBE}?user_id={user_id}", headers=bearer(secret)).json["user_id"] == user_id


def test_rate_limits_count_per_key(client, user_id):
    first = make_key(client, user_id, "Kitchen")["key"]
    second = make_key(client, user_id, "Bedroom")["key"]
    assert [client.post(LIMITED, headers=bearer(first)).status_code for _ in range(3)] == [200, 200, 429]
    assert client.post(LIMITED, headers=bearer(second)).status_code == 200  # the same owner, another key
    limited = client.post(LIMITED, headers=bearer(first))
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0


def test_a_caller_in_a_request_context(app):
    """What the speech routes get from a key: caller_id(required=True) is the key's owner."""
    from backend.auth import Caller

    owner, key = ObjectId(), ObjectId()
    with app.test_request_context(PROBE, method="POST"):
        g.caller = Caller(user_id=owner, auth0_id="local|x", key_id=key)
        assert caller_id(required=True) == owner
        assert rate_limit_key() == f"key:{key}"
    assert Caller(user_id=owner, auth0_id="auth0|x").key_id is None


def test_keys_go_with_the_account(app, client, user_id, fish):
    made = make_key(client, user_id)
    make_key(client, user_id, "Second")
    deleted = client.delete(f"/api/users/local|tester?user_id={user_id}")
    assert deleted.status_code == 200, deleted.json
    assert deleted.json["deleted"]["api_keys"] == 2
    assert client.get(PROBE, headers=bearer(made["key"])).status_code == 401
    assert db_of(app).list_api_keys(ObjectId(user_id)) == ([], 0)


@given(
    header=st.one_of(
        st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=80),
        st.builds(lambda t: "Bearer " + t, st.text(alphabet=string.printable.strip() + " ", max_size=80)),
        st.builds(lambda t: "Bearer echo_" + t, st.text(alphabet=string.ascii_letters + "_-=+/.", max_size=60)),
        st.builds(lambda t: "bEaReR  " + t + "  ", st.text(alphabet=string.ascii_letters + "-_", max_size=50)),
    )
)
@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_malformed_authorization_headers_are_401_never_500(client, header):
    response = client.get(PROBE, headers={"Authorization": header})
    assert response.status_code == 401, (header, response.status_code)
    assert v1_error(response)[0] == "unauthorized"


# -- the embedded store ---------------------------------------------------------------------------------


def test_keys_on_the_embedded_store(make_app):
    app = add_probe(make_app(db_client=None))
    db = db_of(app)
    assert db.backend == "embedded"
    client = app.test_client()
    user_id = new_user(client, "embedded")
    made = [make_key(client, user_id, f"Speaker {n}") for n in range(3)]
    listed = client.get(f"/api/api-keys?user_id={user_id}").json["api_keys"]
    assert [k["name"] for k in listed] == ["Speaker 2", "Speaker 1", "Speaker 0"]
    secret = made[0]["key"]
    ok = client.get(PROBE, headers=bearer(secret))
    assert ok.status_code == 200 and ok.json["user_id"] == user_id
    assert db.get_api_key(ObjectId(made[0]["api_key"]["_id"]))["last_used_at"] is not None
    # the key is found through its unique index, and lists come in index order
    store = db._db
    assert store["api_keys"].explain({"hash": digest(secret)})["uses_index"]
    listing = store["api_keys"].explain({"user_id": ObjectId(user_id)}, [("created_at", -1), ("_id", -1)])
    assert listing["uses_index"] and not listing["sorts_in_memory"]
    assert secret not in all_documents(app)
    # a hash is unique
    from pymongo.errors import DuplicateKeyError

    with pytest.raises(DuplicateKeyError):
        store["api_keys"].insert_one({"_id": ObjectId(), "hash": digest(secret), "user_id": ObjectId(user_id)})
    assert client.delete(f"/api/api-keys/{made[0]['api_key']['_id']}?user_id={user_id}").status_code == 200
    assert client.get(PROBE, headers=bearer(secret)).status_code == 401
    deleted = client.delete(f"/api/users/local|embedded?user_id={user_id}")
    assert deleted.json["deleted"]["api_keys"] == 2
    assert client.get(PROBE, headers=bearer(made[1]["key"])).status_code == 401
    db.close()
