"""Echos (personas on a cloned voice) and their conversations."""

from __future__ import annotations

from flask import Blueprint

from backend import inputs
from backend.errors import BadRequest, Conflict
from backend.routes.common import (
    caller_id,
    int_arg,
    json_body,
    owned,
    page_args,
    paged,
    public_echo,
    require_user,
    services,
    text_field,
    voice_field,
)

bp = Blueprint("echos", __name__)

ROLES = ("user", "assistant")
MAX_PROMPT = 4000
MAX_MESSAGE = 10000
MAX_TALKER = 80  # the name of the person who talks with the echo, and their relation to it


def _talker(data: dict) -> dict[str, str]:
    """Who talks with the echo (``talking_with``: their name; ``relation``: what they are to the echo, e.g.
    "granddaughter"), as far as ``data`` says; an empty string clears one."""
    return {
        field: text_field(data, field, max_length=MAX_TALKER, allow_empty=True) or ""
        for field in ("talking_with", "relation")
        if field in data
    }


def _voice_for_echo(model_id: str, user_id, echo_id=None) -> str:
    """Check that a voice model may back this echo: the caller's, and not another echo's."""
    record = owned(services().db.get_voice_model(model_id), user_id, "voice model")
    linked = record.get("echo_id")
    if linked is not None and linked != echo_id and services().db.get_echo(linked) is not None:
        raise Conflict("This voice model already belongs to another echo; clone the voice again or unlink it first.")
    return model_id


def _echo(echo_id: str) -> dict:
    echo_id = inputs.object_id(echo_id, "echo_id")
    return owned(services().db.get_echo(echo_id), caller_id(required=True), "echo")


@bp.post("/api/echo")
def create_echo():
    data = json_body()
    user_id = caller_id(required=True)
    name = text_field(data, "name", required=True, max_length=100)
    prompt = text_field(data, "persona_prompt", max_length=MAX_PROMPT, allow_empty=True) or ""
    model_id = voice_field(data, "voice_model_id")
    talker = _talker(data)
    require_user(user_id)
    if model_id:
        _voice_for_echo(model_id, user_id)
    echo = services().db.create_echo(
        user_id=user_id, name=name, persona_prompt=prompt, voice_model_id=model_id, **talker
    )
    return {"success": True, "echo": public_echo(echo)}, 201


@bp.get("/api/echos")
def list_echos():
    user_id = caller_id(required=True)
    limit, offset = page_args()
    require_user(user_id)
    echos, total = services().db.list_echos(user_id, limit=limit, offset=offset)
    return paged("echos", [public_echo(echo) for echo in echos], total, limit, offset)


@bp.get("/api/echo/<echo_id>")
def get_echo(echo_id: str):
    return {"success": True, "echo": public_echo(_echo(echo_id))}


@bp.patch("/api/echo/<echo_id>")
def update_echo(echo_id: str):
    echo = _echo(echo_id)
    data = json_body()
    changes = {}
    if "name" in data:
        changes["name"] = text_field(data, "name", required=True, max_length=100)
    if "persona_prompt" in data:
        changes["persona_prompt"] = text_field(data, "persona_prompt", max_length=MAX_PROMPT, allow_empty=True) or ""
    changes.update(_talker(data))
    if "voice_model_id" in data:  # the way to give an echo another voice (or none, with null)
        model_id = voice_field(data, "voice_model_id")
        changes["voice_model_id"] = _voice_for_echo(model_id, echo.get("user_id"), echo["_id"]) if model_id else None
    if not changes:
        raise BadRequest("Nothing to change: send name, persona_prompt, talking_with, relation or voice_model_id.")
    return {"success": True, "echo": public_echo(services().db.update_echo(echo["_id"], changes))}


@bp.delete("/api/echo/<echo_id>")
def delete_echo(echo_id: str):
    echo = _echo(echo_id)
    svc = services()
    # Its history entries go with it, and the audio made for each (not a shared cache entry), as one entry's does.
    outputs = [name for name in svc.db.spoken_audio(echo_id=echo["_id"]) if svc.store.output(name) is not None]
    svc.db.delete_echo(echo["_id"])
    for name in outputs:
        svc.store.delete_output(name)
    svc.db.forget_audio(outputs)
    return {"success": True, "message": f"Echo '{echo.get('name')}' and its conversation were deleted."}


@bp.get("/api/conversation/<echo_id>")
def get_conversation(echo_id: str):
    echo = _echo(echo_id)
    limit = int_arg("limit", 100, minimum=1, maximum=500)
    messages = services().db.list_messages(echo["_id"], limit=limit)
    return {"success": True, "echo_id": echo["_id"], "messages": messages, "count": len(messages)}


@bp.post("/api/conversation/<echo_id>")
def add_message(echo_id: str):
    echo = _echo(echo_id)
    data = json_body()
    role = text_field(data, "role", required=True, max_length=20)
    if role not in ROLES:
        raise BadRequest("'role' must be 'user' or 'assistant'.")
    content = text_field(data, "content", required=True, max_length=MAX_MESSAGE)
    message = services().db.add_message(echo["_id"], role, content, user_id=echo.get("user_id"))
    return {"success": True, "message": message}, 201
