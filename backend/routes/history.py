"""The history of what a person had spoken: newest first, to play again, download or forget."""

from __future__ import annotations

from flask import Blueprint

from backend import inputs
from backend.formats import PCM_SAMPLE_RATE
from backend.routes.common import caller_id, owned, page_args, paged, require_user, services

bp = Blueprint("history", __name__)


def _public(entry: dict, voice_names: dict[str, str | None]) -> dict:
    """An entry as its owner sees it, with a fresh link to its audio while Echo still keeps it."""
    svc = services()
    name = entry.get("audio")
    kept = name is not None and svc.speech.stored_audio(name) is not None
    fmt = entry.get("format")
    return {
        "_id": entry["_id"],
        "text": entry.get("text", ""),
        "voice_model_id": entry.get("model_id"),
        "voice_name": voice_names.get(entry.get("model_id")),
        "echo_id": entry.get("echo_id"),
        "format": fmt,
        "created_at": entry.get("created_at"),
        "size_bytes": entry.get("size_bytes"),
        "duration_seconds": entry.get("duration_seconds"),
        "sample_rate": PCM_SAMPLE_RATE if fmt == "pcm" else None,
        "audio_url": svc.links.url(name) if kept else None,
    }


@bp.get("/api/speech-history")
def list_history():
    svc = services()
    user_id = caller_id(required=True)
    limit, offset = page_args(default_limit=20)
    require_user(user_id)
    entries, total = svc.db.list_spoken(user_id, limit=limit, offset=offset)
    voice_names: dict[str, str | None] = {}
    for model_id in {e.get("model_id") for e in entries if e.get("model_id")}:
        record = svc.db.get_voice_model(model_id)
        voice_names[model_id] = record.get("name") if record else None
    return paged("items", [_public(e, voice_names) for e in entries], total, limit, offset)


@bp.delete("/api/speech-history/<entry_id>")
def delete_history_entry(entry_id: str):
    """Forget one entry, and its audio when it was made for this request alone (not a shared cache entry)."""
    svc = services()
    entry = owned(svc.db.get_spoken(inputs.object_id(entry_id, "entry_id")), caller_id(required=True), "history entry")
    svc.db.delete_spoken(entry["_id"])
    if entry.get("audio") and svc.store.output(entry["audio"]) is not None:
        svc.store.delete_output(entry["audio"])
        svc.db.forget_audio([entry["audio"]])
    return {"success": True, "deleted": True}


@bp.delete("/api/speech-history")
def clear_history():
    svc = services()
    user_id = caller_id(required=True)
    require_user(user_id)
    entries, _ = svc.db.list_spoken(user_id, limit=None)
    outputs = [e["audio"] for e in entries if e.get("audio") and svc.store.output(e["audio"]) is not None]
    deleted = svc.db.clear_spoken(user_id, [e["_id"] for e in entries])  # not one completed meanwhile
    for name in outputs:
        svc.store.delete_output(name)
    svc.db.forget_audio(outputs)
    return {"success": True, "deleted": deleted}
