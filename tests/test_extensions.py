"""What views declare, as a unit on tiny apps: a view marked ``rate_limited`` is limited by its setting and an
unmarked one is not; a ``public`` view skips sign-in; the rate-limit key never raises, whatever the request, and
counts per signed-in caller, per named user id (in any case) or per address."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from bson import ObjectId
from flask import Flask, g
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend import extensions, inputs
from backend.api_server import EchoJSONProvider
from backend.auth import Caller, init_auth
from backend.config import load_settings
from backend.errors import register_error_handlers
from backend.extensions import init_rate_limits, is_public, public, rate_limit_key, rate_limited, wait_in_words

ALICE = "a1" * 12


@pytest.fixture
def echo_settings(tmp_path):
    return load_settings(
        {"DATA_DIR": str(tmp_path), "UPLOAD_RATE_LIMIT": "2 per hour", "SYNTHESIZE_RATE_LIMIT": "3 per hour"}, env={}
    )


def tiny_app() -> Flask:
    app = Flask(__name__)
    app.json = EchoJSONProvider(app)

    @app.post("/api/upload")
    @rate_limited("upload_rate_limit", "clone another voice")
    def upload():
        return {"ok": True}

    @app.post("/api/speak")
    @rate_limited("synthesize_rate_limit", "ask for more speech")
    def speak():
        return {"ok": True}

    @app.get("/api/free")
    def free():
        return {"ok": True}

    @app.get("/api/audio/<name>")
    @public
    def audio(name):
        return {"name": name}

    register_error_handlers(app)
    return app


def test_marks_are_attributes_and_change_nothing_else():
    def view():
        return "same"

    assert rate_limited("upload_rate_limit", "upload")(view) is view and view.echo_rate_limit == "upload_rate_limit"
    assert view.echo_rate_action == "upload"
    assert public(view) is view and view.echo_public is True and view() == "same"


def test_marked_views_are_limited_by_their_own_setting_and_unmarked_ones_not_at_all(echo_settings):
    app = tiny_app()
    limiter = init_rate_limits(app, echo_settings)
    assert app.extensions["echo_limiter"] is limiter
    client = app.test_client()
    assert [client.post("/api/upload").status_code for _ in range(3)] == [200, 200, 429]
    assert [client.post("/api/speak").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert {client.get("/api/free").status_code for _ in range(20)} == {200}
    limited = client.post("/api/upload")
    body = limited.get_json()
    assert body["error"] == "too_many_requests"
    # The wait, in words a person reads (an hour's window: some number of minutes), and in seconds for programs.
    wait = int(limited.headers["Retry-After"])
    assert body["retry_after"] == wait and 3500 < wait <= 3600
    assert body["message"].startswith(f"You can clone another voice in {wait_in_words(wait)}.")
    assert client.post("/api/speak").get_json()["message"].startswith("You can ask for more speech in ")


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (1, "1 second"),
        (30, "30 seconds"),
        (59, "59 seconds"),
        (60, "1 minute"),
        (61, "2 minutes"),  # rounded up: after the time said, the request is allowed
        (2820, "47 minutes"),
        (3599, "1 hour"),
        (3600, "1 hour"),
        (3601, "1 hour and 1 minute"),
        (7500, "2 hours and 5 minutes"),
        (86400, "24 hours"),
    ],
)
def test_waits_in_words(seconds, words):
    assert wait_in_words(seconds) == words


@given(st.integers(min_value=1, max_value=10**6))
def test_a_wait_in_words_is_never_shorter_than_the_wait(seconds):
    words = wait_in_words(seconds)
    units = {"second": 1, "minute": 60, "hour": 3600}
    said = sum(int(n) * units[u.rstrip("s")] for n, u in re.findall(r"(\d+) (second|minute|hour)s?", words))
    assert seconds <= said < seconds + 60 or seconds < 60 and said == seconds


def test_limits_count_per_named_user_in_any_case_and_per_address(echo_settings):
    app = tiny_app()
    init_rate_limits(app, echo_settings)
    client = app.test_client()
    for _ in range(2):
        assert client.post(f"/api/upload?user_id={ALICE}").status_code == 200
    assert client.post(f"/api/upload?user_id={ALICE.upper()}").status_code == 429  # the same user
    assert client.post("/api/upload", json={"user_id": ALICE}).status_code == 429  # named in the body
    assert client.post(f"/api/upload?user_id={'b2' * 12}").status_code == 200  # someone else
    assert client.post("/api/upload").status_code == 200  # the address has its own count
    other = {"REMOTE_ADDR": "10.0.0.9"}
    assert [client.post("/api/upload", environ_base=other).status_code for _ in range(3)] == [200, 200, 429]


def test_public_views_skip_sign_in_and_others_need_it(echo_settings):
    app = tiny_app()
    signed = dataclasses.replace(
        echo_settings,
        auth0_domain="issuer.test",
        auth0_audience="https://api.echo.test",
        auth0_issuer="https://issuer.test/",
        auth0_jwks_url="https://issuer.test/.well-known/jwks.json",  # never fetched: no token is sent
    )
    init_auth(app, signed)
    client = app.test_client()
    assert client.get("/api/audio/x.mp3").status_code == 200
    refused = client.get("/api/free")
    assert refused.status_code == 401 and refused.get_json()["error"] == "unauthorized"
    assert is_public(app, "audio") is True
    assert is_public(app, "free") is False
    assert is_public(app, None) is False and is_public(app, "no-such-endpoint") is False


# -- the key ---------------------------------------------------------------------------------------


def key_for(app: Flask, path: str = "/api/upload", **request) -> str:
    with app.test_request_context(path, method="POST", **request):
        return rate_limit_key()


def test_a_signed_in_caller_is_counted_by_their_user_id():
    app = tiny_app()
    user = ObjectId()
    with app.test_request_context(f"/api/upload?user_id={ALICE}", method="POST"):
        g.caller = Caller(user_id=user, auth0_id="auth0|alice")
        assert rate_limit_key() == f"user:{user}"  # whatever user_id the request names


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"query_string": {"user_id": ALICE.upper()}},
        {"json": {"user_id": ALICE}},
        {"data": {"user_id": ALICE.upper()}},  # a form
        {"data": {"user_id": ALICE, "audio": (b"RIFF", "a.wav")}, "content_type": "multipart/form-data"},
    ],
    ids=["query", "json", "form", "multipart"],
)
def test_a_named_user_id_is_the_key_in_lower_case(request_kwargs):
    assert key_for(tiny_app(), **request_kwargs) == f"user:{ALICE}"


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {},
        {"query_string": {"user_id": "not-an-id"}},
        {"query_string": {"user_id": ALICE + "0"}},
        {"json": {"user_id": 12345}},
        {"json": {"user_id": [ALICE]}},
        {"json": [ALICE]},
        {"data": b'{"user_id": ', "content_type": "application/json"},  # malformed
        {"data": b"\xff\xfe", "content_type": "application/json"},  # not UTF-8
        {"data": b'{"user_id": 1e999}', "content_type": "application/json"},  # refused by the input rules
        {"data": b"--x\r\nbroken", "content_type": "multipart/form-data; boundary=x"},
        {"data": b"--x\r\nbroken", "content_type": "multipart/form-data"},  # no boundary
    ],
)
def test_anything_else_is_keyed_by_the_address(request_kwargs):
    assert key_for(tiny_app(), environ_base={"REMOTE_ADDR": "192.0.2.7"}, **request_kwargs) == "addr:192.0.2.7"


def test_a_failure_while_reading_the_request_falls_back_to_the_address(monkeypatch):
    def broken(request):
        raise RuntimeError("unexpected")

    monkeypatch.setattr(inputs, "named_user_id", broken)
    assert extensions.inputs is inputs
    address = {"REMOTE_ADDR": "192.0.2.7"}
    assert key_for(tiny_app(), query_string={"user_id": ALICE}, environ_base=address) == "addr:192.0.2.7"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)
user_ids = st.one_of(st.text(max_size=30), st.sampled_from([ALICE, ALICE.upper(), "A" * 24, "g" * 24]))
content_types = st.sampled_from(
    [
        None,
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "multipart/form-data; boundary=zz",
        "text/plain",
        "application/json; charset=latin-1",
    ]
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    query=st.dictionaries(st.sampled_from(["user_id", "x", ""]), user_ids, max_size=2),
    body=st.one_of(st.binary(max_size=200), json_values.map(lambda v: json.dumps(v).encode())),
    content_type=content_types,
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
)
def test_the_key_never_raises_whatever_the_request(query, body, content_type, method):
    app = tiny_app()
    with app.test_request_context("/api/upload", method=method, query_string=query, data=body,
                                  content_type=content_type):  # fmt: skip
        key = rate_limit_key()
    assert isinstance(key, str)
    named = query.get("user_id")
    if isinstance(named, str) and named and inputs.OBJECT_ID.fullmatch(named):
        assert key == f"user:{named.lower()}"
    else:
        assert key.startswith(("user:", "addr:"))
        if key.startswith("user:"):
            assert inputs.OBJECT_ID.fullmatch(key[5:]) and key == key.lower()
