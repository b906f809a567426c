"""Typed errors raised where problems arise, mapped to JSON HTTP responses in one place."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, has_request_context, jsonify, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class EchoError(Exception):
    """Base class: every error a client may see carries an HTTP status and a stable code."""

    status = 500
    code = "internal_error"
    default_message = "Internal server error."

    def __init__(self, message: str | None = None, *, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.headers = headers or {}
        self.extra = extra


class BadRequest(EchoError):
    status = 400
    code = "bad_request"
    default_message = "The request is malformed."


class Forbidden(EchoError):
    status = 403
    code = "forbidden"
    default_message = "You may not act on behalf of another user."


class NotFound(EchoError):
    status = 404
    code = "not_found"
    default_message = "Not found."


class Conflict(EchoError):
    status = 409
    code = "conflict"
    default_message = "The request conflicts with the current state."


class VoiceDeleted(Conflict):
    """An echo whose voice was deleted is never spoken in another voice."""

    code = "voice_deleted"
    default_message = "This echo's voice was deleted; choose another voice for it."


class NoVoice(Conflict):
    code = "no_voice"
    default_message = "This echo has no voice yet; choose one for it."


class PayloadTooLarge(EchoError):
    status = 413
    code = "payload_too_large"
    default_message = "The upload is too large."


class UnsupportedMediaType(EchoError):
    status = 415
    code = "unsupported_media_type"
    default_message = "The file is not audio in a supported format (wav, mp3, m4a/aac, ogg/opus, webm, flac)."


class UnprocessableAudio(EchoError):
    status = 422
    code = "unprocessable_audio"
    default_message = "The audio cannot be used."


class ServiceUnavailable(EchoError):
    status = 503
    code = "service_unavailable"
    default_message = "A service this request needs is unavailable."


class DatabaseUnavailable(ServiceUnavailable):
    code = "database_unavailable"
    default_message = "The database is unavailable; try again shortly."


class ProviderNotConfigured(ServiceUnavailable):
    code = "voice_provider_not_configured"
    default_message = (
        "No voice provider is configured. Set FISH_AUDIO_API_KEY for Fish.Audio, "
        "or VOICE_PROVIDER=local for the offline engine."
    )


class Unauthorized(EchoError):
    status = 401
    code = "unauthorized"
    default_message = "Sign in first: send 'Authorization: Bearer <access token>'."

    def __init__(self, message: str | None = None, *, error: str = "invalid_token"):
        super().__init__(message, headers={"WWW-Authenticate": f'Bearer error="{error}"'})


class LinkRejected(EchoError):
    status = 403
    code = "audio_link_invalid"
    default_message = "This audio link is invalid or has expired; synthesize the text again."


class ProviderError(EchoError):
    """A provider (voice or, later, language model) failed; ``status`` is what Echo's client sees (502/503/504).

    Providers raise only these, never HTTP errors of their own. ``upstream_status`` and ``request_id`` say
    what the provider answered (for logs and support), when it answered at all.
    """

    status = 502
    code = "voice_provider_error"
    default_message = "The voice provider failed to handle the request."

    def __init__(
        self,
        message: str | None = None,
        *,
        upstream_status: int | None = None,
        request_id: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ):
        super().__init__(message, headers=headers, **extra)
        self.upstream_status = upstream_status
        self.request_id = request_id


class ProviderVoiceNotFound(ProviderError):
    """The provider does not know the voice (deleted there, or never made)."""

    status = 404
    code = "not_found"
    default_message = "The voice provider does not know this voice model."


class ProviderRejected(ProviderError):
    """The provider refused what it was asked (a bad format or input), not a failure on its side."""

    status = 400
    code = "voice_provider_rejected"
    default_message = "The voice provider cannot do what was asked."


class ProviderAuthError(ProviderError):
    code = "voice_provider_auth_failed"
    default_message = "The voice provider rejected Echo's API key; the server's FISH_AUDIO_API_KEY must be fixed."


class ProviderCreditError(ProviderError):
    code = "voice_provider_insufficient_credit"
    default_message = "The voice provider account has no API credit left; top it up to continue."


class ProviderBusy(ProviderError):
    status = 503
    code = "voice_provider_busy"
    default_message = "The voice provider is busy; try again shortly."


class ProviderUnavailable(ProviderError):
    status = 503
    code = "voice_provider_unavailable"
    default_message = "The voice provider cannot be reached."


class ProviderTimeout(ProviderError):
    status = 504
    code = "voice_provider_timeout"
    default_message = "The voice provider did not answer in time."


# -- the language model that writes an echo's replies ---------------------------------------------------


class LanguageModelError(ProviderError):
    """The language model failed or answered with an error (its reason, when it gave one, is in the message)."""

    status = 502
    code = "language_model_error"
    default_message = "The language model failed to write a reply."


class LanguageModelUnavailable(LanguageModelError):
    status = 503
    code = "language_model_unavailable"
    default_message = "The language model cannot be reached; try again shortly."


class LanguageModelBusy(LanguageModelError):
    status = 503
    code = "language_model_busy"
    default_message = "The language model is busy with other replies; try again shortly."


class LanguageModelTimeout(LanguageModelError):
    status = 504
    code = "language_model_timeout"
    default_message = "The language model did not answer in time."


class EmbeddingsUnavailable(ServiceUnavailable):
    """The text-embedding model cannot run (not installed, or failed to load)."""

    code = "embeddings_unavailable"
    default_message = "The text-embedding model is not available."


class RepliesOff(Conflict):
    """Replies are switched off on this server (LLM_PROVIDER=none)."""

    code = "replies_off"
    default_message = (
        "Echos do not reply on this server: it has no language model. Set LLM_PROVIDER=auto (the bundled "
        "offline model) or LLM_BASE_URL and LLM_MODEL (any OpenAI-compatible endpoint) and restart it."
    )


# OpenAI's error types by status, so OpenAI's SDKs raise the matching exception (AuthenticationError, ...).
_OPENAI_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    429: "rate_limit_error",
}


def openai_error(status: int, code: str, message: str, param: str | None = None) -> dict[str, Any]:
    """``{"error": {"message", "type", "param", "code"}}``, as OpenAI's API and its SDKs expect."""
    kind = _OPENAI_TYPES.get(status) or ("server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any):
    """The one JSON error shape every route answers with; the OpenAI-compatible API (/v1) answers in OpenAI's."""
    if has_request_context() and (request.path == "/v1" or request.path.startswith("/v1/")):
        body = openai_error(status, code, message, extra.get("param"))
    else:
        body = {"success": False, "error": code, "message": message}
        body.update(extra)
    response = jsonify(body)
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def register_error_handlers(app: Flask) -> None:
    """Map typed errors, Werkzeug's HTTP errors and anything unexpected to JSON."""

    @app.errorhandler(EchoError)
    def handle_echo_error(exc: EchoError):
        if exc.status >= 500:
            upstream = getattr(exc, "upstream_status", None)
            request_id = getattr(exc, "request_id", None)
            if upstream or request_id:
                log.warning("%s: %s (upstream HTTP %s, request %s)", exc.code, exc.message, upstream, request_id)
            else:
                log.warning("%s: %s", exc.code, exc.message)
        return error_response(exc.status, exc.code, exc.message, exc.headers, **exc.extra)

    @app.errorhandler(HTTPException)
    def handle_http_exception(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        message = exc.description or exc.name
        if exc.code == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH")
            code = "payload_too_large"
            if limit:
                message = f"The upload is larger than the {limit // (1024 * 1024)} MB limit."
        headers = {}
        if exc.code == 405 and exc.valid_methods:
            headers["Allow"] = ", ".join(exc.valid_methods)
        return error_response(exc.code or 500, code, message, headers)

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        log.exception("Unhandled error")
        return error_response(500, "internal_error", "Internal server error.")
