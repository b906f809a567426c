"""Voice model management: list, read, rename and delete a user's cloned voices, and play their recordings."""

from __future__ import annotations

from flask import Blueprint, request

from backend import inputs
from backend.errors import BadRequest, NotFound, VoiceDeleted
from backend.extensions import public
from backend.routes.common import (
    caller_id,
    json_body,
    owned,
    page_args,
    paged,
    public_voice_model,
    require_user,
    send_stored,
    services,
    text_field,
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


@bp.patch("/api/voice-models/<model_id>")
def rename_voice_model(model_id: str):
    """A voice's name is the one thing a person may change: its recording and clone stay as they were."""
    model_id = inputs.voice_id(model_id, "model_id")
    owned(services().db.get_voice_model(model_id), caller_id(required=True), "voice model")
    data = json_body()
    if set(data) - {"name", "user_id"}:
        raise BadRequest("Only 'name' can be changed; clone the voice again for another recording.")
    name = text_field(data, "name", required=True, max_length=100)
    record = services().db.rename_voice_model(model_id, name)
    if record is None:  # deleted in the meantime
        raise NotFound("No voice model with this id.")
    return {"success": True, "voice_model": public_voice_model(record)}


# Kept recordings by the container they were uploaded in (see backend.storage.names).
RECORDING_TYPES = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
    "aac": "audio/aac",
    "ogg": "audio/ogg",
    "webm": "audio/webm",
    "flac": "audio/flac",
}


def _recording(record: dict):
    stored = services().store.reference(record.get("reference_audio"))
    if stored is None:
        raise NotFound("Echo did not keep the recording of this voice.", reason="no_recording")
    return stored


@bp.get("/api/voice-models/<model_id>/recording")
def voice_recording(model_id: str):
    """A short-lived link to the recording the voice was cloned from, for its owner's ears (an <audio> element
    cannot send a token, so the link carries its own signature)."""
    svc = services()
    model_id = inputs.voice_id(model_id, "model_id")
    record = owned(svc.db.get_voice_model(model_id), caller_id(required=True), "voice model")
    stored = _recording(record)
    extension = stored.name.rsplit(".", 1)[-1]
    return {
        "success": True,
        "recording_url": svc.links.recording_url(model_id),
        "media_type": RECORDING_TYPES.get(extension, "application/octet-stream"),
        "size_bytes": stored.size,
        "expires_in": svc.links.ttl,
    }


@bp.get("/api/recording/<model_id>")
@public
def play_recording(model_id: str):
    svc = services()
    model_id = inputs.voice_id(model_id, "model_id")
    svc.links.check_recording(model_id, request.args.get("sig"))
    record = svc.db.get_voice_model(model_id)
    if record is None:
        raise NotFound("This voice was deleted, and its recording with it.")
    stored = _recording(record)
    extension = stored.name.rsplit(".", 1)[-1]
    return send_stored(stored, RECORDING_TYPES.get(extension, "application/octet-stream"))


@bp.delete("/api/voice-models/<model_id>")
def delete_voice_model(model_id: str):
    """Delete everywhere; a retry after a failure part-way finishes the job."""
    model_id = inputs.voice_id(model_id, "model_id")
    record = owned(services().db.get_voice_model(model_id), caller_id(required=True), "voice model")
    delete_voice(services(), record)
    return {
        "success": True,
        "message": f"The voice '{record.get('name')}' was deleted, with its recording and everything spoken in it.",
    }


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
