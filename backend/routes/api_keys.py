"""Personal API keys: a person makes, lists and revokes the keys their speech clients use on /v1.

These routes work like every /api route (signed in: the OIDC token; local mode: ``user_id``). A key cannot
manage keys: keys are refused on /api/* (``backend.auth``).
"""

from __future__ import annotations

from flask import Blueprint

from backend import inputs
from backend.routes.common import caller_id, json_body, page_args, paged, require_user, services
from backend.services.api_keys import ApiKeys

bp = Blueprint("api_keys", __name__)


def _keys() -> ApiKeys:
    return ApiKeys(services().db)


@bp.post("/api/api-keys")
def create_api_key():
    """A new key; its secret is in this answer and never again."""
    data = json_body()
    user_id = caller_id(required=True)
    require_user(user_id)  # a key needs an owner on record (local mode may name anyone)
    secret, record = _keys().create(user_id, data.get("name"))
    return {"success": True, "key": secret, "api_key": record}, 201


@bp.get("/api/api-keys")
def list_api_keys():
    user_id = caller_id(required=True)
    limit, offset = page_args()
    keys, total = _keys().list(user_id, limit=limit, offset=offset)
    return paged("api_keys", keys, total, limit, offset)


@bp.delete("/api/api-keys/<key_id>")
def revoke_api_key(key_id: str):
    """Revoke a key: from now on it answers 401, everywhere."""
    key_id = inputs.object_id(key_id, "key_id")
    _keys().revoke(caller_id(required=True), key_id)
    return {"success": True}
