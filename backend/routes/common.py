"""What every route needs: the app's services, request parsing and validation, the caller's identity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bson import ObjectId
from flask import current_app, request

from backend.config import Settings
from backend.database import DatabaseManager, parse_object_id
from backend.errors import BadRequest, NotFound
from backend.storage import AudioStore
from backend.voice_service import VoiceServiceWrapper

MAX_PAGE = 200


@dataclass
class Services:
    settings: Settings
    db: DatabaseManager
    voices: VoiceServiceWrapper
    store: AudioStore


def services() -> Services:
    return current_app.extensions["echo"]


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
    raw = data.get(name) if hasattr(data, "get") else None
    if raw in (None, ""):
        if required:
            raise BadRequest(f"'{name}' is required.")
        return None
    return parse_object_id(raw, name)


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


def caller_id(*, required: bool = False) -> ObjectId | None:
    """The calling user's id.

    Local mode (no sign-in configured): the seed's behaviour, the client names its user with
    ``user_id`` in the query string, JSON body or form. This is the one place that decides who is
    calling, so a sign-in step can replace it.
    """
    raw = request.args.get("user_id")
    if raw in (None, "") and request.mimetype == "application/json":
        body = request.get_json(silent=True)
        if isinstance(body, dict):
            raw = body.get("user_id")
    if raw in (None, "") and request.form:
        raw = request.form.get("user_id")
    if raw in (None, ""):
        if required:
            raise BadRequest("'user_id' is required.")
        return None
    return parse_object_id(raw, "user_id")


def require_user(user_id: ObjectId) -> dict:
    user = services().db.get_user(user_id)
    if user is None:
        raise NotFound("No user with this id; create one with POST /api/users/<auth0_id>.")
    return user


def owned(doc: dict | None, caller: ObjectId | None, what: str) -> dict:
    """``doc`` if it exists and the caller may see it; otherwise a 404 that reveals nothing."""
    if doc is None or (caller is not None and doc.get("user_id") not in (None, caller)):
        raise NotFound(f"No {what} with this id.")
    return doc


def public_voice_model(record: dict | None) -> dict | None:
    """A voice model as clients see it: no storage keys."""
    if record is None:
        return None
    out = {k: v for k, v in record.items() if k != "reference_audio"}
    out.setdefault("reference_id", record.get("model_id"))
    return out
