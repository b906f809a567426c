"""What every route needs: request parsing and validation, the caller's identity, what a caller may see."""

from __future__ import annotations

import logging
from typing import Any

from bson import ObjectId
from flask import Response, g, request, send_file
from werkzeug.wsgi import wrap_file

from backend import inputs
from backend.errors import BadRequest, Forbidden, NotFound
from backend.services import services

log = logging.getLogger(__name__)

MAX_PAGE = 200


def json_body() -> dict[str, Any]:
    """The request's JSON object; anything else is a 400."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object (Content-Type: application/json).")
    return data


def text_field(
    data: Any, name: str, *, required: bool = False, max_length: int = 200, allow_empty: bool = False
) -> str | None:
    """A string field, stripped; missing/blank is None unless required."""
    value = data.get(name) if hasattr(data, "get") else None
    if value is None or (isinstance(value, str) and not value.strip() and not allow_empty):
        if required:
            raise BadRequest(f"'{name}' is required.")
        return None
    if not isinstance(value, str):
        raise BadRequest(f"'{name}' must be a string.")
    value = value.strip()
    if len(value) > max_length:
        raise BadRequest(f"'{name}' is longer than {max_length} characters.")
    return value


def id_field(data: Any, name: str, *, required: bool = False) -> ObjectId | None:
    """A database id field (24 hexadecimal characters, exactly); missing or empty is None unless required."""
    raw = data.get(name) if hasattr(data, "get") else None
    if raw in (None, ""):
        if required:
            raise BadRequest(f"'{name}' is required.")
        return None
    return inputs.object_id(raw, name)


def voice_field(data: Any, name: str) -> str | None:
    """A voice model id field (exact shape); missing or empty is None."""
    raw = data.get(name) if hasattr(data, "get") else None
    if raw in (None, ""):
        return None
    return inputs.voice_id(raw, name)


def int_arg(name: str, default: int, *, minimum: int = 0, maximum: int = MAX_PAGE) -> int:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise BadRequest(f"'{name}' must be a whole number.") from exc
    if not minimum <= value <= maximum:
        raise BadRequest(f"'{name}' must be between {minimum} and {maximum}.")
    return value


def page_args(default_limit: int = 50) -> tuple[int, int]:
    return int_arg("limit", default_limit, minimum=1), int_arg("offset", 0, maximum=10**9)


def paged(key: str, items: list, total: int, limit: int, offset: int) -> dict[str, Any]:
    """A page of a list as every list route answers it."""
    return {"success": True, key: items, "count": len(items), "total": total, "limit": limit, "offset": offset}


def signed_in() -> bool:
    return g.get("caller") is not None


def caller_id(*, required: bool = False) -> ObjectId | None:
    """The calling user's id; the one place that decides who is calling.

    With sign-in configured it is the verified token's user, and a request naming another user_id is
    refused with 403. In local mode (no sign-in) the client names its user with ``user_id``, as the
    seed did.
    """
    named = inputs.named_user_id(request)
    caller = g.get("caller")
    if caller is not None:
        if named is not None and str(named).lower() != str(caller.user_id):
            raise Forbidden()
        return caller.user_id
    if named is None:
        if required:
            raise BadRequest(NAME_YOUR_USER, reason="user_required")
        return None
    return inputs.object_id(named, "user_id")


NAME_YOUR_USER = (
    "'user_id' is required: without sign-in, every request that touches a user's voices, echos or "
    "conversations names that user."
)


def require_user(user_id: ObjectId) -> dict:
    user = services().db.get_user(user_id)
    if user is None:
        raise NotFound("No user with this id; create one with POST /api/users/<auth0_id>.")
    return user


def owned(doc: dict | None, caller: ObjectId | None, what: str) -> dict:
    """``doc`` if it exists and the caller may see it; otherwise a 404 that reveals nothing.

    The caller must be known (signed in, or named with ``user_id`` in local mode): a request that names no
    user gets 400, never someone's record. Only the owner may see a record; in local mode, records made
    before users were named (no owner) are visible to every named user.
    """
    if caller is None:
        raise BadRequest(NAME_YOUR_USER, reason="user_required")
    if doc is None:
        raise NotFound(f"No {what} with this id.")
    owner = doc.get("user_id")
    allowed = owner == caller or (owner is None and not signed_in())
    if not allowed:
        raise NotFound(f"No {what} with this id.")
    return doc


def public_echo(echo: dict) -> dict:
    """An echo as clients see it, with the state of its voice: ready, deleted (say so, never speak in
    another voice) or none (never given one)."""
    out = {k: v for k, v in echo.items() if k != "voice_deleted_at"}
    out.setdefault("talking_with", "")  # echos made before who-is-talking was asked
    out.setdefault("relation", "")
    if echo.get("voice_model_id"):
        out["voice_status"] = "ready"
    elif echo.get("voice_deleted_at"):
        out["voice_status"] = "deleted"
        out["voice_deleted_at"] = echo["voice_deleted_at"]
    else:
        out["voice_status"] = "none"
    return out


def public_voice_model(record: dict | None) -> dict | None:
    """A voice model as clients see it: no storage keys."""
    if record is None:
        return None
    out = {k: v for k, v in record.items() if k != "reference_audio"}
    out.setdefault("reference_id", record.get("model_id"))
    consent = record.get("consent")
    if isinstance(consent, dict):
        out["consent"] = {k: v for k, v in consent.items() if k != "recording"}
        out["consent"]["has_recording"] = bool(consent.get("recording"))
    return out


def send_stored(stored, mimetype: str) -> Response:
    """A stored recording or audio file, with Range and conditional requests, cacheable by the browser only
    (it is someone's voice: shared caches may not keep it)."""
    if stored.path is not None:
        response = send_file(stored.path, mimetype=mimetype, conditional=True, max_age=3600, etag=True)
    else:  # not on this machine (GridFS)
        try:
            reader = stored.open()
        except FileNotFoundError:
            raise NotFound("No audio with this name.") from None
        response = Response(wrap_file(request.environ, reader), mimetype=mimetype, direct_passthrough=True)
        response.content_length = stored.size
        response.last_modified = stored.modified
        response.set_etag(f"{stored.name}-{stored.size}")
        response.cache_control.max_age = 3600
        response = response.make_conditional(request.environ, accept_ranges=True, complete_length=stored.size)
    response.cache_control.public = None
    response.cache_control.private = True
    response.headers["Accept-Ranges"] = "bytes"
    # An <audio> element asks without an Origin, a page's fetch with one: the browser must not answer the
    # second (which needs the CORS headers) with its copy of the first.
    response.vary.add("Origin")
    return response
