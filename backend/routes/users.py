"""Users, keyed by their sign-in id (auth0_user_id)."""

from __future__ import annotations

import re

from flask import Blueprint, request

from backend.errors import BadRequest, NotFound
from backend.routes.common import services, text_field

bp = Blueprint("users", __name__)

_AUTH0_ID = re.compile(r"^[\w|@.:+-]{1,200}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _auth0_id(value: str) -> str:
    if not _AUTH0_ID.match(value):
        raise BadRequest("The user id may hold letters, digits and _ | @ . : + - only (at most 200).")
    return value


@bp.get("/api/users/<auth0_id>")
def get_user(auth0_id: str):
    user = services().db.get_user_by_auth0(_auth0_id(auth0_id))
    if user is None:
        raise NotFound("No user with this id.")
    return {"success": True, "user": user}


@bp.post("/api/users/<auth0_id>")
def create_user(auth0_id: str):
    auth0_id = _auth0_id(auth0_id)
    data = request.get_json(silent=True) if request.content_length else {}
    if not isinstance(data, dict):
        raise BadRequest('The body must be a JSON object such as {"email": "..."}.')
    email = text_field(data, "email", max_length=254)
    if email is not None and not _EMAIL.match(email):
        raise BadRequest("'email' is not an email address.")
    user, created = services().db.get_or_create_user(auth0_id, email)
    return {"success": True, "user": str(user["_id"]), "user_record": user, "created": created}, 201 if created else 200
