"""Personal API keys: what speech clients that cannot sign in (Home Assistant, Open WebUI, scripts) send as
``Authorization: Bearer echo_...`` on the OpenAI-compatible speech API (/v1).

A key is ``echo_`` and 256 random bits (``secrets.token_urlsafe(32)``). Its secret is shown once, when it is
made; only its SHA-256 is stored, with a prefix of the secret that people recognise it by in lists. A slow
password hash (bcrypt, scrypt, Argon2) is there to make guessing a low-entropy password expensive; a secret
of 256 random bits cannot be guessed, so one SHA-256 is as safe and lets a key be found by an indexed lookup
of its hash (unique index), without comparing secrets one by one. Every request looks its key up: nothing is
cached, so a revoked key is refused at once on every instance.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import TYPE_CHECKING, Any

from bson import ObjectId

from backend.database import utcnow
from backend.errors import BadRequest, NotFound

if TYPE_CHECKING:
    from backend.database import DatabaseManager

KEY_MARK = "echo_"  # every key starts with it: a bearer token that does is a key, never an OIDC token
KEY_SHAPE = re.compile(r"echo_[A-Za-z0-9_-]{43}")  # token_urlsafe(32): 43 characters
PREFIX_LENGTH = 12
MAX_KEYS = 20  # per user
MAX_NAME_CHARS = 100
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often per key
PUBLIC_FIELDS = ("_id", "name", "prefix", "created_at", "last_used_at")


def is_key(token: str) -> bool:
    """Whether a bearer token is meant as an API key (it may still be malformed or unknown)."""
    return token.startswith(KEY_MARK)


def digest(secret: str) -> str:
    """The stored form of a secret: SHA-256, hex (see the module's docstring for why not a slow hash)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def key_name(value: Any) -> str:
    """A key's name, stripped: 1 to ``MAX_NAME_CHARS`` characters (400 with a reason otherwise)."""
    if value is not None and not isinstance(value, str):
        raise BadRequest("'name' must be a string.", reason="api_key_name_not_text")
    name = (value or "").strip()
    if not name:
        raise BadRequest(
            "'name' is required: say where the key is used, such as \"Kitchen speaker\".", reason="api_key_name_empty"
        )
    if len(name) > MAX_NAME_CHARS:
        raise BadRequest(
            f"A key's name is at most {MAX_NAME_CHARS} characters ({len(name)} sent).", reason="api_key_name_too_long"
        )
    return name


def public_key(record: dict) -> dict:
    """A key as its owner sees it: name, prefix and times; never the hash (nor, ever, the secret)."""
    return {field: record.get(field) for field in PUBLIC_FIELDS}


@dataclass(frozen=True)
class KeyOwner:
    """Who a valid key belongs to."""

    key_id: ObjectId
    user_id: ObjectId
    auth0_id: str


class ApiKeys:
    """Creating, listing, revoking and checking personal API keys."""

    def __init__(self, db: DatabaseManager):
        self.db = db

    def create(self, user_id: ObjectId, name: Any) -> tuple[str, dict]:
        """A new key for ``user_id``: (the secret, to show once; the record as its owner sees it).

        400 ``too_many_keys`` when the user already has ``MAX_KEYS``.
        """
        name = key_name(name)
        secret = KEY_MARK + secrets.token_urlsafe(32)
        record = self.db.add_api_key(
            {"user_id": user_id, "name": name, "prefix": secret[:PREFIX_LENGTH], "hash": digest(secret)},
            at_most=MAX_KEYS,
        )
        if record is None:
            raise BadRequest(
                f"You already have {MAX_KEYS} API keys, the most you can keep; revoke one you no longer use.",
                reason="too_many_keys",
            )
        return secret, public_key(record)

    def list(self, user_id: ObjectId, *, limit: int = 50, offset: int = 0) -> tuple[list[dict], int]:
        """A page of the user's keys, newest first, and how many they have."""
        records, total = self.db.list_api_keys(user_id, limit=limit, offset=offset)
        return [public_key(record) for record in records], total

    def revoke(self, user_id: ObjectId, key_id: ObjectId) -> None:
        """Revoke one of the user's keys; 404 when there is none, or it is someone else's."""
        record = self.db.get_api_key(key_id)
        if record is None or record.get("user_id") != user_id or not self.db.delete_api_key(key_id):
            raise NotFound("No API key with this id.")

    def verify(self, secret: str) -> KeyOwner | None:
        """The owner of a valid key, or None for a malformed, unknown or revoked one (or a deleted owner).

        One indexed lookup of the secret's hash (and of its owner) per call; ``last_used_at`` is written at most
        once a minute per key.
        """
        if not KEY_SHAPE.fullmatch(secret):
            return None
        record = self.db.api_key_by_hash(digest(secret))
        if record is None:
            return None
        user = self.db.get_user(record["user_id"])
        if user is None:
            return None
        now = utcnow()
        stale = now - TOUCH_EVERY
        last = record.get("last_used_at")
        if last is None or (last if last.tzinfo else last.replace(tzinfo=UTC)) < stale:
            self.db.touch_api_key(record["_id"], now, unless_since=stale)
        return KeyOwner(key_id=record["_id"], user_id=user["_id"], auth0_id=user["auth0_user_id"])
