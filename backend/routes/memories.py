"""An echo's memories: short texts the family adds, chosen from when the echo replies."""

from __future__ import annotations

from bson import ObjectId
from flask import Blueprint

from backend import inputs
from backend.routes.common import caller_id, json_body, owned, page_args, paged, services

bp = Blueprint("memories", __name__)


def _echo(echo_id: str) -> tuple[dict, ObjectId]:
    """The echo named in the path if the caller may see it (404 otherwise), and the caller's id."""
    echo_id = inputs.object_id(echo_id, "echo_id")
    caller = caller_id(required=True)
    return owned(services().db.get_echo(echo_id), caller, "echo"), caller


@bp.get("/api/echo/<echo_id>/memories")
def list_memories(echo_id: str):
    echo, _ = _echo(echo_id)
    limit, offset = page_args()
    memories, total = services().memories.list(echo, limit=limit, offset=offset)
    return paged("memories", memories, total, limit, offset)


@bp.post("/api/echo/<echo_id>/memories")
def add_memory(echo_id: str):
    echo, caller = _echo(echo_id)
    memory = services().memories.add(echo, caller, json_body().get("text"))
    return {"success": True, "memory": memory}, 201


@bp.patch("/api/echo/<echo_id>/memories/<memory_id>")
def update_memory(echo_id: str, memory_id: str):
    memory_id = inputs.object_id(memory_id, "memory_id")
    echo, _ = _echo(echo_id)
    memory = services().memories.update(echo, memory_id, json_body().get("text"))
    return {"success": True, "memory": memory}


@bp.delete("/api/echo/<echo_id>/memories/<memory_id>")
def delete_memory(echo_id: str, memory_id: str):
    memory_id = inputs.object_id(memory_id, "memory_id")
    echo, _ = _echo(echo_id)
    services().memories.delete(echo, memory_id)
    return {"success": True, "deleted": True}
