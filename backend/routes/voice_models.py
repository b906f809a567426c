"""Voice model management: list, read and delete a user's cloned voices."""

from __future__ import annotations

from flask import Blueprint

from backend import inputs
from backend.errors import NotFound, VoiceDeleted
from backend.routes.common import (
    caller_id,
    owned,
    page_args,
    paged,
    public_voice_model,
    require_user,
    services,
)
from backend.services.deletion import delete_voice

bp = Blueprint("voice_models", __name__)


@bp.get("/api/voice-models")
def list_voice_models():
    user_id = caller_id(required=True)
    limit, offset = page_args()
    require_user(user_id)
    models, total = services().db.list_voice_models(user_id, limit=limit, offset=offset)
    return paged("voice_models", [public_voice_model(m) for m in models], total, limit, offset)


@bp.get("/api/voice-models/<model_id>")
def get_voice_model(model_id: str):
    model_id = inputs.voice_id(model_id, "model_id")
    record = owned(services().db.get_voice_model(model_id), caller_id(required=True), "voice model")
    return {"success": True, "voice_model": public_voice_model(record)}


@bp.delete("/api/voice-models/<model_id>")
def delete_voice_model(model_id: str):
    """Delete everywhere; a retry after a failure part-way finishes the job."""
    model_id = inputs.voice_id(model_id, "model_id")
    record = owned(services().db.get_voice_model(model_id), caller_id(required=True), "voice model")
    delete_voice(services(), record)
    return {"success": True, "message": f"Voice model '{record.get('name')}' ({model_id}) was deleted."}


@bp.get("/api/echo/<echo_id>/voice-model")
def echo_voice_model(echo_id: str):
    svc = services()
    echo = owned(svc.db.get_echo(inputs.object_id(echo_id, "echo_id")), caller_id(required=True), "echo")
    model_id = echo.get("voice_model_id")
    record = svc.db.get_voice_model(model_id) if model_id else None
    if record is None:
        if echo.get("voice_deleted_at"):
            raise NotFound(VoiceDeleted.default_message, reason="voice_deleted")
        raise NotFound("This echo has no voice model.")
    return {"success": True, "voice_model": public_voice_model(record)}
