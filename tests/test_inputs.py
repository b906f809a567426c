"""The input rules (backend/inputs.py) hold on every route, in local mode and with sign-in: bad JSON of any
shape, text that cannot be stored or spoken, ids that are not exactly ids, bodies over their limit however
they are framed, and client values in logs. Each class of input is covered as a class (tables and
Hypothesis), and each test checks that nothing was stored."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.extensions import rate_limit_key
from backend.inputs import FORBIDDEN_CHARACTERS, MAX_JSON_DEPTH
from backend.logs import SafeLogRecords
from tests.helpers import (
    AUDIENCE,
    FISH_MODEL_ID,
    FISH_URL,
    ISSUER,
    MP3_BYTES,
    JWKSServer,
    KeyPair,
    bearer,
    files_under,
    fish_model,
    token,
    upload,
)

# -- the two modes ----------------------------------------------------------------------------------


class Caller:
    """A client in one mode, with the way it names itself and the records it owns."""

    def __init__(self, client, *, headers: dict, sign_in_id: str, user_id: str, named: dict):
        self.client, self.headers, self.sign_in_id, self.user_id, self.named = (
            client,
            headers,
            sign_in_id,
            user_id,
            named,
        )
        echo = self.call("post", "/api/echo", json={**named, "name": "Gran", "persona_prompt": "Warm."})
        assert echo.status_code == 201, echo.json
        self.echo_id = echo.json["echo"]["_id"]

    def call(self, method: str, path: str, **kwargs):
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return getattr(self.client, method)(path, headers=headers, **kwargs)

    def json_routes(self) -> list[tuple[str, str]]:
        """Every route that takes a JSON body."""
        return [
            ("post", "/api/synthesize"),
            ("post", "/api/echo"),
            ("patch", f"/api/echo/{self.echo_id}"),
            ("post", f"/api/conversation/{self.echo_id}"),
            ("post", f"/api/users/{self.sign_in_id}"),
        ]


@pytest.fixture(scope="module")
def signing_key():
    return KeyPair("inputs-key")


@pytest.fixture(params=["local", "sign-in"])
def caller(request, make_app, signing_key, fish):
    # A body that is valid text reaches the voice provider: it answers (a 503 here would be the fake's, not Echo's).
    fish.post(f"{FISH_URL}/v1/tts", body=MP3_BYTES, content_type="audio/mpeg")
    if request.param == "local":
        client = make_app().test_client()
        user = client.post("/api/users/local|tester").json["user"]
        yield Caller(client, headers={}, sign_in_id="local|tester", user_id=user, named={"user_id": user})
        return
    jwks = JWKSServer()
    jwks.keys = [signing_key.jwk]
    try:
        app = make_app(AUTH0_ISSUER=ISSUER, AUTH0_AUDIENCE=AUDIENCE, AUTH0_JWKS_URL=jwks.url)
        client = app.test_client()
        headers = bearer(token(signing_key, sub="auth0|alice"))
        user = client.get("/api/users/auth0|alice", headers=headers).json["user"]["_id"]
        yield Caller(client, headers=headers, sign_in_id="auth0|alice", user_id=user, named={})
    finally:
        jwks.close()


def stored(caller: Caller) -> dict[str, int]:
    db = caller.client.application.extensions["echo"].db._db
    return {name: db[name].count_documents({}) for name in ("users", "echos", "messages", "voice_models")}


def assert_error_shape(response, status: int | None = 400) -> None:
    if status is not None:
        assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:300])
    assert response.mimetype == "application/json"
    body = response.json
    assert body["success"] is False and isinstance(body["error"], str) and isinstance(body["message"], str)


# -- JSON of any shape ------------------------------------------------------------------------------

DEEP = 5000
BAD_BODIES = {
    "objects nested thousands deep": '{"a":' * DEEP + "1" + "}" * DEEP,
    "arrays nested thousands deep": "[" * DEEP + "]" * DEEP,
    "nesting thousands deep inside a field": '{"text": ' + "[" * DEEP + "]" * DEEP + "}",
    f"nesting past {MAX_JSON_DEPTH} levels inside a field": '{"text": ' + "[" * 40 + "]" * 40 + "}",
    "a lone high surrogate in a value": '{"text": "Hello \\ud800 Gran", "name": "x", "role": "user"}',
    "a lone low surrogate in a key": '{"\\udc00": "x", "text": "hi"}',
    "a NUL in a value": '{"text": "Hello\\u0000Gran", "name": "x\\u0000", "content": "a\\u0000"}',
    "an escape character in a value": '{"text": "\\u001b[31mred", "name": "\\u001b"}',
    "a C1 control character": '{"text": "a\\u0085b", "name": "a\\u0085b"}',
    "a raw control character": '{"text": "a\x01b"}',
    "a float that overflows": '{"text": "hi", "limit": 1e999}',
    "a negative float that overflows": '{"text": "hi", "n": -1e999}',
    "an integer over 64 bits": '{"text": "hi", "n": 123456789012345678901234567890}',
    "an integer of thousands of digits": '{"text": "hi", "n": ' + "9" * 5000 + "}",
    "NaN": '{"text": "hi", "n": NaN}',
    "Infinity": '{"text": "hi", "n": Infinity}',
    "-Infinity": '{"text": "hi", "n": -Infinity}',
    "bytes that are not UTF-8": b'{"text": "\xff\xfe"}',
    "a truncated body": '{"text": "hi"',
    "not an object": "[1, 2]",
    "a bare string": '"hello"',
}


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_json_of_any_shape_is_a_400_on_every_json_route(caller, body):
    before = stored(caller)
    for method, path in caller.json_routes():
        response = caller.call(method, path, data=body, content_type="application/json")
        assert_error_shape(response)
    assert stored(caller) == before


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def _holds_forbidden_text(value) -> bool:
    if isinstance(value, str):
        return FORBIDDEN_CHARACTERS.search(value) is not None
    if isinstance(value, dict):
        return any(_holds_forbidden_text(k) or _holds_forbidden_text(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_forbidden_text(v) for v in value)
    return False


def _holds_bad_number(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, float):
        return value != value or value in (float("inf"), float("-inf"))
    if isinstance(value, int):
        return not -(2**63) <= value < 2**63
    if isinstance(value, dict):
        return any(_holds_bad_number(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_bad_number(v) for v in value)
    return False


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=json_values, field=st.sampled_from(["text", "name", "content", "persona_prompt", "email", "extra"]))
def test_any_json_value_in_any_field_never_gives_a_500(caller, value, field):
    """Property: whatever JSON a client sends in a field, the answer is never a 5xx; text that cannot be stored
    or spoken, and numbers that are not finite 64-bit values, are always a 400."""
    body = json.dumps({field: value, "role": "user"}, allow_nan=True)
    refused = _holds_forbidden_text(value) or _holds_forbidden_text(field) or _holds_bad_number(value)
    for method, path in caller.json_routes():
        response = caller.call(method, path, data=body, content_type="application/json")
        assert response.status_code < 500, (path, response.get_data(as_text=True)[:300])
        if response.status_code >= 400:
            assert_error_shape(response, status=None)
        if refused:
            assert response.status_code == 400, (path, body[:200])


def test_text_rule_is_documented_the_same_for_every_field(caller):
    """The same character is refused in every field of every route, with the same reason."""
    for method, path in caller.json_routes():
        for field in ("text", "name", "persona_prompt", "content", "email", "role", "format"):
            response = caller.call(method, path, json={field: "a\u0000b"})
            assert_error_shape(response)
            assert response.json["reason"] == "forbidden_character" and "U+0000" in response.json["message"]


# -- form fields, query arguments, ids in paths ----------------------------------------------------------------

CONTROL_TEXTS = ["Gran\u0000", "Gran\n\u0007", "\u001b[2J", "a\u009bb", "line\u007f"]


@pytest.mark.parametrize("text", CONTROL_TEXTS)
def test_form_fields_with_forbidden_characters_are_refused_before_any_work(
    client, fish, user_id, wav_bytes, data_dir, text
):
    for fields in ({"name": text}, {"transcript": text}, {"consent": text}):
        response = upload(client, wav_bytes, user_id=user_id, **fields)
        assert_error_shape(response)
        assert response.json["reason"] == "forbidden_character"
    assert len(fish.calls) == 0
    assert files_under(data_dir / "references") == [] and files_under(data_dir / "tmp") == []


@pytest.mark.parametrize("suffix", ["%0A", "%0D", "%00", "%09", "%1B", "%C2%85", "%20", "%E2%80%A8"])
def test_ids_are_exact_a_trailing_character_is_a_400_and_nothing_is_stored(client, user_id, suffix):
    echo = client.post("/api/echo", json={"user_id": user_id, "name": "Gran"}).json["echo"]["_id"]
    paths = [
        ("get", f"/api/users/local%7Cann{suffix}"),
        ("post", f"/api/users/local%7Cann{suffix}"),
        ("delete", f"/api/users/local%7Cann{suffix}?user_id={user_id}"),
        ("get", f"/api/echo/{echo}{suffix}?user_id={user_id}"),
        ("patch", f"/api/echo/{echo}{suffix}?user_id={user_id}"),
        ("delete", f"/api/echo/{echo}{suffix}?user_id={user_id}"),
        ("get", f"/api/echo/{echo}{suffix}/voice-model?user_id={user_id}"),
        ("get", f"/api/conversation/{echo}{suffix}?user_id={user_id}"),
        ("post", f"/api/conversation/{echo}{suffix}?user_id={user_id}"),
        ("get", f"/api/voice-models/{FISH_MODEL_ID}{suffix}?user_id={user_id}"),
        ("delete", f"/api/voice-models/{FISH_MODEL_ID}{suffix}?user_id={user_id}"),
        ("get", f"/api/voice-models?user_id={user_id}{suffix}"),
        ("get", f"/api/echos?user_id={user_id}{suffix}"),
    ]
    for method, path in paths:
        response = getattr(client, method)(path, json={"name": "x", "role": "user", "content": "x"})
        assert_error_shape(response)
        assert response.json["reason"] in ("invalid_id", "forbidden_character"), (path, response.json)
    bodies = [
        ("/api/echo", {"user_id": user_id + "\n", "name": "x"}),
        ("/api/echo", {"user_id": user_id, "name": "x", "voice_model_id": "abc\n"}),
        ("/api/synthesize", {"text": "hi", "reference_id": "abc\n"}),
        ("/api/synthesize", {"text": "hi", "echo_id": echo + "\n", "user_id": user_id}),
        ("/api/synthesize", {"text": "hi", "reference_id": ["a"]}),
    ]
    for path, body in bodies:
        assert_error_shape(client.post(path, json=body))
    db = client.application.extensions["echo"].db._db
    assert db.users.count_documents({"auth0_user_id": {"$regex": "ann"}}) == 0
    assert db.echos.count_documents({}) == 1


# -- body limits, whatever the framing -----------------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
@pytest.mark.parametrize("mimetype", ["application/json", "application/x-www-form-urlencoded"])
def test_small_bodies_over_the_limit_are_413_however_framed(make_app, chunked, mimetype):
    client = make_app(MAX_JSON_KB=1).test_client()
    user = client.post("/api/users/local|big").json["user"]
    body = json.dumps({"text": "x" * 5000, "user_id": user}).encode()
    if mimetype != "application/json":
        body = b"text=" + b"x" * 5000 + f"&user_id={user}".encode()
    kwargs = {"content_type": mimetype}
    if chunked:  # no Content-Length: the server reads until the stream ends (gunicorn: chunked framing)
        kwargs.update(input_stream=io.BytesIO(body), environ_overrides={"wsgi.input_terminated": True})
    else:
        kwargs["data"] = body
    for path in ("/api/synthesize", "/api/echo", "/api/upload-reference"):
        response = client.post(path, **kwargs)
        if chunked:
            kwargs["input_stream"] = io.BytesIO(body)
        assert_error_shape(response, 413)
    assert client.application.extensions["echo"].db._db.echos.count_documents({}) == 0


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
def test_uploads_over_the_limit_are_413_however_framed(make_app, fish, chunked, data_dir):
    from urllib3 import encode_multipart_formdata

    client = make_app(MAX_UPLOAD_MB=1).test_client()
    user = client.post("/api/users/local|uploader").json["user"]
    body, content_type = encode_multipart_formdata(
        {"audio": ("a.wav", b"\0" * (2 * 1024 * 1024), "audio/wav"), "user_id": user, "consent": "true"}
    )
    kwargs = {"content_type": content_type}
    if chunked:
        kwargs.update(input_stream=io.BytesIO(body), environ_overrides={"wsgi.input_terminated": True})
    else:
        kwargs["data"] = body
    response = client.post("/api/upload-reference", **kwargs)
    assert_error_shape(response, 413)
    assert len(fish.calls) == 0 and files_under(data_dir / "references") == []


# -- the rate limiter's key ---------------------------------------------------------------------------

EARLY_REFUSALS = {
    "declared body over the limit": {"data": b'{"text":"' + b"x" * 3000 + b'"}', "content_type": "application/json"},
    "chunked body over the limit": {
        "input_stream": b'{"text":"' + b"x" * 3000 + b'"}',
        "content_type": "application/json",
        "environ_overrides": {"wsgi.input_terminated": True},
    },
    "malformed JSON": {"data": b'{"text": ', "content_type": "application/json"},
    "JSON nested thousands deep": {"data": ("[" * DEEP + "]" * DEEP).encode(), "content_type": "application/json"},
    "a lone surrogate": {"data": b'{"text": "\\ud800"}', "content_type": "application/json"},
    "a user id with a newline": {"json": {"text": "hi", "user_id": "a" * 24 + "\n"}},
    "a form body over the limit": {
        "data": b"user_id=" + b"a" * 3000,
        "content_type": "application/x-www-form-urlencoded",
    },
}


def test_the_rate_limit_key_never_fails_and_early_refusals_reset_no_counters(make_app, fish):
    app = make_app(SYNTHESIZE_RATE_LIMIT="2 per minute", MAX_JSON_KB=1)
    client = app.test_client()
    limiter = app.extensions["echo_limiter"]
    fish.post(f"{FISH_URL}/v1/tts", body=b"ID3" + b"\0" * 100, content_type="audio/mpeg")
    alice = "a" * 24
    for _ in range(2):
        assert client.post("/api/synthesize", json={"text": "hi", "user_id": alice}).status_code == 200
    assert client.post("/api/synthesize", json={"text": "hi", "user_id": alice}).status_code == 429
    for name, request in EARLY_REFUSALS.items():
        kwargs = dict(request)
        if "input_stream" in kwargs:
            kwargs["input_stream"] = io.BytesIO(kwargs["input_stream"])
        response = client.post(
            f"/api/synthesize?user_id={alice}" if "json" not in kwargs else "/api/synthesize", **kwargs
        )
        assert 400 <= response.status_code < 500, name
        assert_error_shape(response, status=None)
        # The key itself, computed for that very request, is a string and raises nothing.
        kwargs = dict(request)
        if "input_stream" in kwargs:
            kwargs["input_stream"] = io.BytesIO(kwargs["input_stream"])
        with app.test_request_context("/api/synthesize", method="POST", **kwargs):
            assert rate_limit_key().startswith(("user:", "addr:")), name
    assert limiter._storage_dead is False  # the store was never taken for dead (its counters kept)
    assert client.post("/api/synthesize", json={"text": "hi", "user_id": alice}).status_code == 429
    assert client.post("/api/synthesize", json={"text": "hi", "user_id": alice.upper()}).status_code == 429


# -- logs ------------------------------------------------------------------------------------------------

FORGERIES = [
    "%0A2026-11-25 09:00:00,000 INFO echo.requests: GET /admin 200 1.0ms",
    "%0D%0AFORGED",
    "%1B%5B2J",
    "%E2%80%A8FORGED",
    "%C2%85FORGED",
]


@pytest.mark.parametrize("forgery", FORGERIES)
def test_client_values_cannot_forge_or_split_a_log_line(make_app, forgery):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        client = make_app(LOG_LEVEL="INFO").test_client()  # its filter goes on every root handler
        client.get(f"/api/users/local%7Cann{forgery}")
        client.get(f"/api/nothing/{forgery}")
    finally:
        root.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert lines and all(line.startswith(("INFO ", "WARNING ", "ERROR ", "DEBUG ")) for line in lines), lines
    assert not any(char in stream.getvalue() for char in "\r\x1b\x85\u2028")


def test_tracebacks_stay_inside_their_record():
    try:
        raise ValueError("client said:\n2026-11-25 INFO echo: forged\r\x1b[2J")
    except ValueError:
        record = logging.LogRecord("echo", logging.ERROR, __file__, 1, "failed on %s", ("x\ny",), sys.exc_info())
    assert SafeLogRecords([]).filter(record)
    text = logging.Formatter("%(levelname)s %(message)s").format(record)
    first, *rest = text.split("\n")
    assert first == "ERROR failed on x\\ny"
    assert rest and all(line.startswith("  ") for line in rest)
    assert "\r" not in text and "\x1b" not in text


# -- local mode: records belong to someone -----------------------------------------------------------


@pytest.fixture
def owned_records(client, fish, user_id, wav_bytes):
    fish.post(f"{FISH_URL}/model", json=fish_model(), status=201)
    assert upload(client, wav_bytes, user_id=user_id).status_code == 201
    echo = client.post("/api/echo", json={"user_id": user_id, "name": "Gran", "voice_model_id": FISH_MODEL_ID})
    echo_id = echo.json["echo"]["_id"]
    client.post(f"/api/conversation/{echo_id}", json={"user_id": user_id, "role": "user", "content": "Hi Gran"})
    return echo_id


def test_local_mode_requests_that_name_no_user_are_refused(client, fish, owned_records, wav_bytes, user_id):
    echo = owned_records
    requests = [
        ("get", f"/api/echo/{echo}", None),
        ("patch", f"/api/echo/{echo}", {"name": "Mallory's now"}),
        ("delete", f"/api/echo/{echo}", None),
        ("get", f"/api/echo/{echo}/voice-model", None),
        ("get", f"/api/conversation/{echo}", None),
        ("post", f"/api/conversation/{echo}", {"role": "user", "content": "x"}),
        ("get", f"/api/voice-models/{FISH_MODEL_ID}", None),
        ("delete", f"/api/voice-models/{FISH_MODEL_ID}", None),
        ("get", "/api/voice-models", None),
        ("get", "/api/echos", None),
        ("post", "/api/echo", {"name": "x"}),
        ("post", "/api/synthesize", {"text": "hi", "echo_id": echo}),
        ("post", "/api/synthesize", {"text": "hi", "reference_id": FISH_MODEL_ID}),
        ("delete", "/api/users/local|tester", None),
    ]
    calls = len(fish.calls)
    for method, path, body in requests:
        response = getattr(client, method)(path, json=body) if body is not None else getattr(client, method)(path)
        assert_error_shape(response)
        assert "user_id" in response.json["message"], (method, path)
        assert "Gran" not in response.get_data(as_text=True)
    response = upload(client, wav_bytes)
    assert_error_shape(response)
    assert len(fish.calls) == calls  # nothing reached the provider
    # and everything is still there for its owner
    assert client.get(f"/api/echo/{echo}?user_id={user_id}").json["echo"]["name"] == "Gran"
    assert client.get(f"/api/conversation/{echo}?user_id={user_id}").json["count"] == 1


# -- a deleted voice is never replaced silently ---------------------------------------------------------


def test_an_echo_whose_voice_was_deleted_says_so_and_never_speaks_in_another_voice(
    client, fish, owned_records, user_id, wav_bytes
):
    echo = owned_records
    speak = {"text": "Hello, love.", "echo_id": echo, "user_id": user_id}
    fish.post(f"{FISH_URL}/v1/tts", body=b"ID3" + b"\0" * 300, content_type="audio/mpeg")
    first = client.post("/api/synthesize", json=speak)
    assert first.status_code == 200 and first.json["reference_id"] == FISH_MODEL_ID
    fish.delete(f"{FISH_URL}/model/{FISH_MODEL_ID}", status=200)
    assert client.delete(f"/api/voice-models/{FISH_MODEL_ID}?user_id={user_id}").status_code == 200

    shown = client.get(f"/api/echo/{echo}?user_id={user_id}").json["echo"]
    assert shown["voice_status"] == "deleted" and shown["voice_model_id"] is None and shown["voice_deleted_at"]
    listed = client.get(f"/api/echos?user_id={user_id}").json["echos"][0]
    assert listed["voice_status"] == "deleted"
    calls = len(fish.calls)
    for fmt in ("mp3", "wav", "opus", "pcm"):
        refused = client.post("/api/synthesize", json={**speak, "format": fmt})
        assert refused.status_code == 409 and refused.json["error"] == "voice_deleted"
        assert refused.json["message"] == "This echo's voice was deleted; choose another voice for it."
        assert refused.json["echo_id"] == echo
    streamed = client.post("/api/synthesize", json={**speak, "stream": True}, headers={"Accept": "audio/mpeg"})
    assert streamed.status_code == 409 and streamed.mimetype == "application/json"
    linked = client.get(f"/api/echo/{echo}/voice-model?user_id={user_id}")
    assert linked.status_code == 404 and linked.json["reason"] == "voice_deleted"
    assert len(fish.calls) == calls  # the stock voice was never asked for

    # PATCH gives it another voice, and it speaks again, in that voice
    other = "fedcba9876543210fedcba9876543210"
    fish.post(f"{FISH_URL}/model", json=fish_model(other), status=201)
    assert upload(client, wav_bytes, user_id=user_id).status_code == 201
    patched = client.patch(f"/api/echo/{echo}?user_id={user_id}", json={"voice_model_id": other})
    assert patched.json["echo"]["voice_status"] == "ready" and "voice_deleted_at" not in patched.json["echo"]
    spoken = client.post("/api/synthesize", json=speak)
    assert spoken.status_code == 200 and spoken.json["reference_id"] == other


def test_an_echo_never_given_a_voice_is_refused_too(client, fish, user_id):
    echo = client.post("/api/echo", json={"user_id": user_id, "name": "Quiet"}).json["echo"]
    assert echo["voice_status"] == "none"
    refused = client.post("/api/synthesize", json={"text": "hi", "echo_id": echo["_id"], "user_id": user_id})
    assert refused.status_code == 409 and refused.json["error"] == "no_voice"
    both = {"text": "hi", "echo_id": echo["_id"], "reference_id": FISH_MODEL_ID, "user_id": user_id}
    assert client.post("/api/synthesize", json=both).status_code == 400
    other = client.post("/api/users/local|someone").json["user"]
    theirs = client.post("/api/synthesize", json={"text": "hi", "echo_id": echo["_id"], "user_id": other})
    assert theirs.status_code == 404
    assert len(fish.calls) == 0


def test_object_ids_from_client_input():
    """An id parsed from client input is an ObjectId; anything else is a 400, never a 500."""
    from bson import ObjectId

    from backend.inputs import InvalidInput, object_id

    oid = ObjectId()
    assert object_id(str(oid), "x") == oid and object_id(oid, "x") is oid
    for bad in ("", "xyz", "g" * 24, None, 12, str(oid) + "\n", " " + str(oid)[1:]):
        with pytest.raises(InvalidInput):
            object_id(bad, "x")
