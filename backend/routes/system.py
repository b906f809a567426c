"""Health of the server and its dependencies, and the OpenAPI document of the whole API."""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

import yaml
from flask import Blueprint

from backend.extensions import public
from backend.routes.common import services

log = logging.getLogger(__name__)

bp = Blueprint("system", __name__)

OPENAPI_PATH = Path(__file__).resolve().parent.parent / "openapi.yaml"


@cache
def openapi_document() -> dict:
    with OPENAPI_PATH.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@bp.get("/health")
def health():
    svc = services()
    states = svc.health.report()
    database, voice = states["database"], states["voice_provider"]
    healthy = database.get("status") == "ok" and voice.get("status") == "ok"
    settings = svc.settings
    return {
        "status": "healthy" if healthy else "degraded",
        # The language model is not part of "healthy": without it echos still speak and keep conversations.
        "components": {"database": database, "voice_provider": voice, "language_model": states["language_model"]},
        "limits": {
            "max_upload_mb": settings.max_upload_mb,
            "max_text_chars": settings.max_text_chars,
            "min_audio_seconds": settings.min_audio_seconds,
            "max_audio_seconds": settings.max_audio_seconds,
        },
    }


# What the web page asks for to sign in: the provider's address and the page's public client id (no secrets).
SIGN_IN_SCOPE = "openid profile email offline_access"


@bp.get("/api/client-config")
@public
def client_config():
    settings = services().settings
    sign_in = None
    if settings.auth_enabled:
        authority = settings.auth0_issuer or f"https://{settings.auth0_domain}/"
        sign_in = {
            "authority": authority,
            "client_id": settings.auth0_client_id or None,
            "audience": settings.auth0_audience,
            "scope": SIGN_IN_SCOPE,
        }
    return {"success": True, "sign_in": sign_in}


@bp.get("/openapi.json")
def openapi():
    return openapi_document()
