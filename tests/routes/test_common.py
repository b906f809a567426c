"""What every route uses (backend.routes.common), called directly: parsing and checking fields, query arguments
and pages, who is calling, what a caller may see, and records as clients see them."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from bson import ObjectId
from flask import g
from werkzeug.datastructures import MultiDict

from backend.errors import BadRequest, Forbidden, NotFound
from backend.routes.common import (
    NAME_YOUR_USER,
    caller_id,
    id_field,
    json_body,
    owned,
    page_args,
    paged,
    public_echo,
    public_voice_model,
    require_user,
    text_field,
    voice_field,
)
from tests.helpers import FISH_MODEL_ID

ALICE, BOB = ObjectId("a" * 24), ObjectId("b" * 24)


class Refused(str):
    """In a table: the call is refused with a 400 that says this."""


def check(call, expected) -> None:
    """``call()`` answers ``expected``, or is refused with its message when ``expected`` is Refused."""
    if isinstance(expected, Refused):
        with pytest.raises(BadRequest) as refused:
            call()
        assert refused.value.message == expected
    else:
        assert call() == expected


# -- fields of a body or a form -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "body"),
    [
        ({"json": {"text": "hi"}}, {"text": "hi"}),
        ({"json": {}}, {}),
        ({"json": ["text"]}, None),
        ({"json": "text"}, None),
        ({"data": "{not json", "content_type": "application/json"}, None),
        ({"data": "text=hi", "content_type": "application/x-www-form-urlencoded"}, None),
        ({}, None),
    ],
    ids=["object", "empty-object", "list", "string", "broken", "form", "no-body"],
)
def test_json_body_is_the_object_sent_and_nothing_else(app, kwargs, body):
    with app.test_request_context("/api/synthesize", method="POST", **kwargs):
        if body is None:
            with pytest.raises(BadRequest):
                json_body()
        else:
            assert json_body() == body


@pytest.mark.parametrize(
    ("data", "kwargs", "value"),
    [
        ({"name": "  Gran  "}, {}, "Gran"),
        ({}, {}, None),
        ({"name": None}, {}, None),
        ({"name": "   "}, {}, None),
        ({"name": "   "}, {"allow_empty": True}, ""),
        ({"name": "abcde"}, {"max_length": 5}, "abcde"),
        ({"name": "  abcde  "}, {"max_length": 5}, "abcde"),  # measured once stripped
        (MultiDict({"name": "from a form"}), {}, "from a form"),
        (["name"], {}, None),  # not a mapping: no field in it
        ({}, {"required": True}, Refused("'name' is required.")),
        ({"name": " "}, {"required": True}, Refused("'name' is required.")),
        (["name"], {"required": True}, Refused("'name' is required.")),
        ({"name": 5}, {}, Refused("'name' must be a string.")),
        ({"name": ["Gran"]}, {}, Refused("'name' must be a string.")),
        ({"name": "abcdef"}, {"max_length": 5}, Refused("'name' is longer than 5 characters.")),
        ({"name": "x" * 201}, {}, Refused("'name' is longer than 200 characters.")),
    ],
)
def test_text_field(data, kwargs, value):
    check(lambda: text_field(data, "name", **kwargs), value)


@pytest.mark.parametrize(
    ("data", "required", "value"),
    [
        ({"echo_id": "a" * 24}, False, ALICE),
        ({"echo_id": "A" * 24}, False, ObjectId("a" * 24)),
        ({"echo_id": ALICE}, False, ALICE),
        ({}, False, None),
        ({"echo_id": ""}, False, None),
        ({"echo_id": None}, False, None),
        ({}, True, Refused("'echo_id' is required.")),
        ({"echo_id": ""}, True, Refused("'echo_id' is required.")),
        ({"echo_id": "a" * 23}, False, Refused("'echo_id' must be a 24-character hexadecimal id.")),
        ({"echo_id": "g" * 24}, False, Refused("'echo_id' must be a 24-character hexadecimal id.")),
        ({"echo_id": 5}, False, Refused("'echo_id' must be a 24-character hexadecimal id.")),
    ],
)
def test_id_field(data, required, value):
    check(lambda: id_field(data, "echo_id", required=required), value)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (FISH_MODEL_ID, FISH_MODEL_ID),
        ("local-" + "0" * 24, "local-" + "0" * 24),
        ("", None),
        (None, None),
        ("local-../../etc/passwd", BadRequest),
        ("x" * 101, BadRequest),
        (["x"], BadRequest),
    ],
)
def test_voice_field(raw, value):
    if value is BadRequest:
        with pytest.raises(BadRequest, match="voice id"):
            voice_field({"voice_model_id": raw}, "voice_model_id")
    else:
        assert voice_field({"voice_model_id": raw}, "voice_model_id") == value


# -- pages ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "page"),
    [
        ("", (50, 0)),
        ("limit=&offset=", (50, 0)),
        ("limit=10&offset=5", (10, 5)),
        ("limit=1", (1, 0)),
        ("limit=200&offset=1000000000", (200, 10**9)),
        ("limit=0", Refused("'limit' must be between 1 and 200.")),
        ("limit=201", Refused("'limit' must be between 1 and 200.")),
        ("limit=ten", Refused("'limit' must be a whole number.")),
        ("limit=2.5", Refused("'limit' must be a whole number.")),
        ("offset=-1", Refused("'offset' must be between 0 and 1000000000.")),
        ("offset=1000000001", Refused("'offset' must be between 0 and 1000000000.")),
    ],
)
def test_page_args(app, query, page):
    with app.test_request_context(f"/api/echos?{query}"):
        check(page_args, page)


def test_page_args_default_limit_and_paged_answer(app):
    with app.test_request_context("/api/echos"):
        assert page_args(default_limit=20) == (20, 0)
    assert paged("echos", ["a", "b"], 7, 2, 4) == {
        "success": True,
        "echos": ["a", "b"],
        "count": 2,
        "total": 7,
        "limit": 2,
        "offset": 4,
    }


# -- who is calling, and what they may see --------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "caller"),
    [
        ({}, None),
        ({"query_string": {"user_id": "a" * 24}}, ALICE),
        ({"method": "POST", "json": {"user_id": "b" * 24}}, BOB),
        ({"method": "POST", "data": {"user_id": "a" * 24}}, ALICE),  # a form
        ({"query_string": {"user_id": "a" * 24}, "method": "POST", "json": {"user_id": "b" * 24}}, ALICE),
        ({"query_string": {"user_id": "alice"}}, Refused("'user_id' must be a 24-character hexadecimal id.")),
    ],
    ids=["nobody", "query", "json", "form", "query-first", "malformed"],
)
def test_without_sign_in_the_caller_is_the_user_the_request_names(app, kwargs, caller):
    with app.test_request_context("/api/echos", **kwargs):
        check(caller_id, caller)
        if caller is None:  # naming no one is fine, unless a user is needed
            with pytest.raises(BadRequest) as refused:
                caller_id(required=True)
            assert refused.value.message == NAME_YOUR_USER and refused.value.extra == {"reason": "user_required"}


@pytest.mark.parametrize(
    ("named", "caller"),
    [(None, ALICE), ("a" * 24, ALICE), ("A" * 24, ALICE), ("b" * 24, Forbidden), ("alice", Forbidden)],
)
def test_signed_in_the_caller_is_the_token_s_user_and_no_one_else(app, named, caller):
    query = {"user_id": named} if named else {}
    with app.test_request_context("/api/echos", query_string=query):
        g.caller = SimpleNamespace(user_id=ALICE, auth0_id="auth0|alice")
        if caller is Forbidden:
            with pytest.raises(Forbidden):
                caller_id(required=True)
        else:
            assert caller_id() == caller and caller_id(required=True) == caller


@pytest.mark.parametrize(
    ("owner", "caller", "signed_in", "allowed"),
    [
        (ALICE, ALICE, False, True),
        (ALICE, ALICE, True, True),
        (ALICE, BOB, False, False),
        (ALICE, BOB, True, False),
        (None, BOB, False, True),  # made before users were named: every named user sees it, in local mode
        (None, BOB, True, False),  # but never once sign-in is on
    ],
)
def test_only_the_owner_sees_a_record(app, owner, caller, signed_in, allowed):
    doc = {"_id": "x", "user_id": owner}
    with app.test_request_context("/"):
        if signed_in:
            g.caller = SimpleNamespace(user_id=caller, auth0_id="auth0|someone")
        if allowed:
            assert owned(doc, caller, "echo") is doc
        else:
            with pytest.raises(NotFound, match="^No echo with this id.$"):  # says no more than a missing one
                owned(doc, caller, "echo")


def test_owned_needs_a_caller_and_a_record(app):
    with app.test_request_context("/"):
        with pytest.raises(BadRequest) as refused:
            owned({"user_id": ALICE}, None, "echo")  # someone's record, to a request that names no one
        assert refused.value.message == NAME_YOUR_USER
        with pytest.raises(NotFound, match="^No voice model with this id.$"):
            owned(None, ALICE, "voice model")


def test_require_user_is_the_record_or_a_404(app, user_id):
    with app.app_context():
        assert require_user(ObjectId(user_id))["auth0_user_id"] == "local|tester"
        with pytest.raises(NotFound, match="POST /api/users"):
            require_user(BOB)


# -- records as clients see them ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("echo", "seen"),
    [
        ({"_id": 1, "voice_model_id": "v"}, {"_id": 1, "voice_model_id": "v", "voice_status": "ready"}),
        (
            {"_id": 1, "voice_model_id": None, "voice_deleted_at": "then"},
            {"_id": 1, "voice_model_id": None, "voice_status": "deleted", "voice_deleted_at": "then"},
        ),
        ({"_id": 1, "voice_model_id": None}, {"_id": 1, "voice_model_id": None, "voice_status": "none"}),
        (
            {"_id": 1, "voice_model_id": "v", "voice_deleted_at": "then"},
            {"_id": 1, "voice_model_id": "v", "voice_status": "ready"},
        ),
    ],
    ids=["ready", "deleted", "none", "given-again"],
)
def test_an_echo_says_the_state_of_its_voice(echo, seen):
    assert public_echo(echo) == {**seen, "talking_with": "", "relation": ""}  # echos made before who-is-talking


@pytest.mark.parametrize(
    ("record", "seen"),
    [
        (None, None),
        (
            {"model_id": "m", "name": "Gran", "reference_audio": "key.wav"},
            {"model_id": "m", "name": "Gran", "reference_id": "m"},
        ),
        ({"model_id": "m", "reference_id": "r"}, {"model_id": "m", "reference_id": "r"}),
        (
            {"model_id": "m", "consent": {"statement": "yes", "recording": "consent.wav"}},
            {"model_id": "m", "reference_id": "m", "consent": {"statement": "yes", "has_recording": True}},
        ),
        (
            {"model_id": "m", "consent": {"statement": "yes", "recording": None}},
            {"model_id": "m", "reference_id": "m", "consent": {"statement": "yes", "has_recording": False}},
        ),
    ],
    ids=["none", "storage-key", "reference-id", "consent-recording", "consent-without-recording"],
)
def test_a_voice_model_is_shown_without_storage_keys(record, seen):
    assert public_voice_model(record) == seen
