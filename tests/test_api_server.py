"""The application factory as a unit: ``environ={}`` reads no environment, the injected database client and
providers are the ones used, the request guards refuse a body before any route sees it, every response carries
the security headers, and the JSON provider writes ids and times as the README says."""

from __future__ import annotations

import io
import json
import threading
from datetime import UTC, datetime, timedelta, timezone

import mongomock
import pytest
from bson import ObjectId
from flask import Flask, request
from urllib3 import encode_multipart_formdata

from backend import api_server, config
from backend.api_server import API_CSP, PAGE_CSP, create_app, warm_up
from backend.config import load_settings
from backend.errors import BadRequest


class FakeProvider:
    name = "local"
    description = "a fake local engine"

    def __init__(self):
        self.warmed = threading.Event()

    def owns(self, model_id: str) -> bool:
        return model_id.startswith("local-")

    def status(self):
        return {"status": "ok", "provider": "local", "description": self.description}

    def warm_up(self) -> None:
        self.warmed.set()


@pytest.fixture
def mongo():
    return mongomock.MongoClient(tz_aware=True)


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def make(tmp_path, mongo, provider):
    def factory(providers=None, **config):
        settings = {"DATA_DIR": str(tmp_path / "data"), "VOICE_PROVIDER": "local", "LOG_LEVEL": "WARNING"}
        settings.update(config)
        given = {"local": provider} if providers is None else providers
        return create_app(settings, environ={}, db_client=mongo, providers=given)

    return factory


# -- settings and injection ------------------------------------------------------------------------


def test_an_empty_environ_reads_neither_the_environment_nor_dotenv(make, tmp_path, monkeypatch):
    monkeypatch.setenv("MAX_UPLOAD_MB", "1")
    monkeypatch.setenv("AUDIO_URL_TTL", "60")
    monkeypatch.setenv("FISH_AUDIO_API_KEY", "from-the-environment-0123456789")
    monkeypatch.setattr(config, "REPO_ROOT", tmp_path)
    (tmp_path / ".env").write_text("MAX_JSON_KB=1\n")
    # They would change settings for a factory that reads the process's environment:
    read = load_settings({"DATA_DIR": str(tmp_path / "data")})
    assert (read.max_upload_mb, read.audio_url_ttl, read.max_json_kb) == (1, 60, 1)
    assert read.fish_audio_api_key == "from-the-environment-0123456789"
    app = make()
    settings = app.config["ECHO_SETTINGS"]
    assert (settings.max_upload_mb, settings.audio_url_ttl, settings.max_json_kb) == (20, 3600, 64)
    assert settings.fish_audio_api_key == ""
    assert app.config["MAX_CONTENT_LENGTH"] == 20 * 1024 * 1024
    assert app.extensions["echo"].links.ttl == 3600


def test_config_overrides_the_given_environ(tmp_path, mongo, provider):
    base = {"DATA_DIR": str(tmp_path / "data"), "LOG_LEVEL": "WARNING"}
    from_environ = create_app(base, environ={"MAX_UPLOAD_MB": "3"}, db_client=mongo, providers={"local": provider})
    assert from_environ.config["MAX_CONTENT_LENGTH"] == 3 * 1024 * 1024
    overridden = create_app(
        {**base, "MAX_UPLOAD_MB": 4}, environ={"MAX_UPLOAD_MB": "3"}, db_client=mongo, providers={"local": provider}
    )
    assert overridden.config["MAX_CONTENT_LENGTH"] == 4 * 1024 * 1024


def test_the_injected_database_client_is_the_one_written_to(make, mongo):
    app = make()
    svc = app.extensions["echo"]
    assert svc.db.backend == "injected"
    assert app.test_client().post("/api/users/local|tester", json={"email": "t@example.com"}).status_code == 201
    assert mongo[svc.settings.mongodb_db].users.count_documents({"auth0_user_id": "local|tester"}) == 1


def test_the_injected_providers_are_the_ones_offered(make, provider):
    voices = make().extensions["echo"].voices
    assert voices.providers == {"local": provider} and voices.active_name == "local"
    assert voices.status()["available_providers"] == ["local"]


def test_with_injected_providers_the_active_one_is_one_of_them(make, provider):
    voices = make(VOICE_PROVIDER="fish").extensions["echo"].voices  # Fish.Audio named, but not given
    assert voices.active_name == "local" and voices.active is provider


def test_with_no_provider_injected_none_is_active(make):
    voices = make(providers={}).extensions["echo"].voices
    assert voices.providers == {} and voices.status()["status"] == "not_configured"


def test_warm_up_loads_the_local_engine_in_the_background(make, provider):
    warm_up(make())
    assert provider.warmed.wait(10)
    warm_up(make(providers={}))  # nothing to warm: nothing happens


# -- request guards --------------------------------------------------------------------------------


@pytest.fixture
def guarded(make):
    """An app with a spy route (JSON and form bodies limited to 1 KB, uploads to 1 MB)."""
    app = make(MAX_JSON_KB=1, MAX_UPLOAD_MB=1)
    seen: list = []

    @app.post("/api/spy")
    def spy():
        seen.append(request.get_json(silent=True) if request.is_json else dict(request.form))
        return {"ok": True}

    @app.get("/api/boom")
    def boom():
        raise RuntimeError("unexpected")

    @app.get("/api/own-policy")
    def own_policy():
        return {"ok": True}, 200, {"Content-Security-Policy": "default-src 'self'"}

    app.spy_seen = seen
    return app


def big_json() -> bytes:
    return json.dumps({"text": "x" * 2000}).encode()


def test_a_json_body_over_the_limit_is_refused_before_the_route(guarded):
    client = guarded.test_client()
    response = client.post("/api/spy", data=big_json(), content_type="application/json")
    assert response.status_code == 413
    assert response.get_json() == {
        "success": False,
        "error": "payload_too_large",
        "message": "JSON and form bodies are limited to 1 KB.",
    }
    chunked = client.post("/api/spy", input_stream=io.BytesIO(big_json()), content_type="application/json")
    assert chunked.status_code == 413  # no declared length: the limit holds all the same
    form = client.post("/api/spy", data=b"user_id=" + b"a" * 2000, content_type="application/x-www-form-urlencoded")
    assert form.status_code == 413
    assert guarded.spy_seen == []


def test_an_upload_over_the_limit_is_refused_before_the_route(guarded):
    body, content_type = encode_multipart_formdata({"audio": ("a.wav", b"\0" * (1024 * 1024 + 1), "audio/wav")})
    response = guarded.test_client().post("/api/spy", data=body, content_type=content_type)
    assert response.status_code == 413
    assert response.get_json()["message"] == "The upload is larger than the 1 MB limit."
    assert guarded.spy_seen == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"data": b'{"text": NaN}', "content_type": "application/json"},
        {"data": b'{"text": ', "content_type": "application/json"},
        {"json": {"text": "a\x00b"}},
        {"query_string": {"q": "bell\x07"}},
        {"data": {"name": "a\x1bb"}},
    ],
    ids=["nan", "malformed", "nul-in-json", "bell-in-query", "escape-in-form"],
)
def test_input_that_breaks_the_rules_is_refused_before_the_route(guarded, kwargs):
    response = guarded.test_client().post("/api/spy", **kwargs)
    assert response.status_code == 400 and response.get_json()["error"] == "bad_request"
    assert guarded.spy_seen == []


def test_a_body_within_the_rules_reaches_the_route_parsed(guarded):
    client = guarded.test_client()
    assert client.post("/api/spy", json={"text": "hello"}).status_code == 200
    assert client.post("/api/spy", data={"name": "Gran"}).status_code == 200
    assert guarded.spy_seen == [{"text": "hello"}, {"name": "Gran"}]


# -- security headers ------------------------------------------------------------------------------


def test_every_response_carries_the_security_headers(guarded):
    client = guarded.test_client()
    responses = {
        "json": client.post("/api/spy", json={}),
        "not found": client.get("/api/nothing"),
        "wrong method": client.put("/api/spy"),
        "too large": client.post("/api/spy", data=big_json(), content_type="application/json"),
        "bad input": client.get("/api/nothing?q=%00"),
        "unexpected": client.get("/api/boom"),
        "page": client.get("/"),
    }
    assert [r.status_code for r in responses.values()] == [200, 404, 405, 413, 400, 500, 200]
    for name, response in responses.items():
        headers = response.headers
        assert headers["X-Content-Type-Options"] == "nosniff", name
        assert headers["Referrer-Policy"] == "no-referrer", name
        assert headers["X-Frame-Options"] == "DENY", name
        assert headers["Content-Security-Policy"] == (PAGE_CSP if name == "page" else API_CSP), name


def test_a_route_that_sets_its_own_policy_keeps_it(guarded):
    response = guarded.test_client().get("/api/own-policy")
    assert response.headers["Content-Security-Policy"] == "default-src 'self'"
    assert response.headers["X-Frame-Options"] == "DENY"


# -- JSON ------------------------------------------------------------------------------------------


@pytest.fixture
def json_app() -> Flask:
    app = Flask(__name__)
    app.json = api_server.EchoJSONProvider(app)
    return app


def test_ids_are_strings_and_times_iso_8601_utc_with_milliseconds(json_app):
    oid = ObjectId("65a1b2c3d4e5f60718293a4b")
    written = json_app.json.dumps(
        {
            "id": oid,
            "naive": datetime(2026, 11, 24, 18, 48, 41, 649999),  # as stored: UTC without a zone
            "utc": datetime(2026, 11, 24, 18, 48, 41, 649000, tzinfo=UTC),
            "paris": datetime(2026, 11, 24, 19, 48, 41, 649000, tzinfo=timezone(timedelta(hours=1))),
            "ids": [oid],
        }
    )
    assert json.loads(written) == {
        "id": "65a1b2c3d4e5f60718293a4b",
        "naive": "2026-11-24T18:48:41.649Z",  # the README's example
        "utc": "2026-11-24T18:48:41.649Z",
        "paris": "2026-11-24T18:48:41.649Z",
        "ids": ["65a1b2c3d4e5f60718293a4b"],
    }


def test_keys_keep_their_order_and_other_types_are_refused(json_app):
    assert list(json.loads(json_app.json.dumps({"success": True, "b": 1, "a": 2}))) == ["success", "b", "a"]
    with pytest.raises(TypeError):
        json_app.json.dumps({"x": object()})


def test_responses_are_written_by_the_provider(json_app):
    @json_app.get("/thing")
    def thing():
        return {"id": ObjectId("65a1b2c3d4e5f60718293a4b"), "at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)}

    assert json_app.test_client().get("/thing").get_json() == {
        "id": "65a1b2c3d4e5f60718293a4b",
        "at": "2026-01-02T03:04:05.000Z",
    }


def test_bodies_are_read_by_the_input_rules(json_app):
    assert json_app.json.loads('{"a": [1, 2.5, "x"]}') == {"a": [1, 2.5, "x"]}
    for broken in ('{"a": NaN}', '{"a": 1e999}', "[" * 10000 + "]" * 10000, b"\xff"):
        with pytest.raises(BadRequest):
            json_app.json.loads(broken)


# -- the whole app: JSON errors and the request log ------------------------------------------------


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
