"""Users, keyed by their sign-in id (auth0_user_id)."""

from __future__ import annotations

import re

from flask import Blueprint, current_app, g, request

from backend import inputs
from backend.auth import forget_subject
from backend.errors import BadRequest, Forbidden, NotFound
from backend.routes.common import caller_id, services, text_field
from backend.services.deletion import delete_account

bp = Blueprint("users", __name__)

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _auth0_id(value: str) -> str:
    """The path's sign-in id (exact shape); signed in, it must be the caller's own (403 otherwise)."""
    value = inputs.sign_in_id(value)
    caller = g.get("caller")
    if caller is not None and caller.auth0_id != value:
        raise Forbidden("You may only act on your own account.")
    return value


def _is_caller(user: dict) -> bool:
    """Whether the request comes from this user: signed in as them, or (local mode) naming them."""
    try:
        return caller_id() == user["_id"]
    except (BadRequest, Forbidden):
        return False


def _visible(user: dict) -> dict:
    """A user record as the caller may see it: the email only for the user themself."""
    if _is_caller(user):
        return user
    return {k: v for k, v in user.items() if k != "email"}


@bp.get("/api/users/<auth0_id>")
def get_user(auth0_id: str):
    user = services().db.get_user_by_auth0(_auth0_id(auth0_id))
    if user is None:
        raise NotFound("No user with this id.")
    return {"success": True, "user": _visible(user)}


@bp.post("/api/users/<auth0_id>")
def create_user(auth0_id: str):
    auth0_id = _auth0_id(auth0_id)
    data = request.get_json(silent=True) if request.get_data(cache=True).strip() else {}
    if not isinstance(data, dict):
        raise BadRequest('The body must be a JSON object such as {"email": "..."}.')
    email = text_field(data, "email", max_length=254)
    if email is not None and not _EMAIL.fullmatch(email):
        raise BadRequest("'email' is not an email address.")
    db = services().db
    existing = db.get_user_by_auth0(auth0_id)
    if existing is not None and email and email != existing.get("email") and not _is_caller(existing):
        # In local mode anyone can name an account; only its owner (naming its user_id) may change its email.
        raise Forbidden("Only this user may change its email: send the user's own user_id.")
    user, created = db.get_or_create_user(auth0_id, email)
    shown = user if created else _visible(user)
    return {
        "success": True,
        "user": str(user["_id"]),
        "user_record": shown,
        "created": created,
    }, 201 if created else 200


@bp.delete("/api/users/<auth0_id>")
def delete_user(auth0_id: str):
    """Delete an account and everything of it: voices (at the provider too), recordings, audio, echos, messages,
    memories."""
    svc = services()
    auth0_id = _auth0_id(auth0_id)
    user = svc.db.get_user_by_auth0(auth0_id)
    if user is None:
        raise NotFound("No user with this id.")
    if caller_id(required=True) != user["_id"]:
        raise Forbidden("You may only delete your own account.")
    counts = delete_account(svc, user["_id"])
    forget_subject(current_app, auth0_id)
    return {"success": True, "message": "The account and everything stored for it were deleted.", "deleted": counts}
