"""Health of the server and its dependencies."""

from __future__ import annotations

from flask import Blueprint

from backend.routes.common import services

bp = Blueprint("system", __name__)


@bp.get("/health")
def health():
    svc = services()
    database = svc.db.ping()
    voice = svc.voices.status()
    healthy = database["status"] == "ok" and voice.get("status") == "ok"
    return {
        "status": "healthy" if healthy else "degraded",
        "components": {"database": database, "voice_provider": voice},
    }
