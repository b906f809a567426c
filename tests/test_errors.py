"""The error tree as a unit: every typed error, werkzeug's HTTP errors and anything unexpected answer in the one JSON
shape through ``register_error_handlers`` on a tiny app; provider errors carry what the provider said into the log."""

from __future__ import annotations

import logging

import pytest
from flask import Flask, abort, request

from backend import errors
from backend.errors import EchoError, ProviderError, ProviderRejected, ProviderUnavailable, register_error_handlers

ERROR_CLASSES = sorted(
    (value for value in vars(errors).values() if isinstance(value, type) and issubclass(value, EchoError)),
    key=lambda cls: cls.__name__,
)

# The stable contract clients rely on (README "API"): status and code of each error.
CONTRACT = {
    "EchoError": (500, "internal_error"),
    "BadRequest": (400, "bad_request"),
    "Forbidden": (403, "forbidden"),
    "NotFound": (404, "not_found"),
    "Conflict": (409, "conflict"),
    "VoiceDeleted": (409, "voice_deleted"),
    "NoVoice": (409, "no_voice"),
    "PayloadTooLarge": (413, "payload_too_large"),
    "UnsupportedMediaType": (415, "unsupported_media_type"),
    "UnprocessableAudio": (422, "unprocessable_audio"),
    "ServiceUnavailable": (503, "service_unavailable"),
    "DatabaseUnavailable": (503, "database_unavailable"),
    "ProviderNotConfigured": (503, "voice_provider_not_configured"),
    "Unauthorized": (401, "unauthorized"),
    "LinkRejected": (403, "audio_link_invalid"),
    "ProviderError": (502, "voice_provider_error"),
    "ProviderVoiceNotFound": (404, "not_found"),
    "ProviderRejected": (400, "voice_provider_rejected"),
    "ProviderAuthError": (502, "voice_provider_auth_failed"),
    "ProviderCreditError": (502, "voice_provider_insufficient_credit"),
    "ProviderBusy": (503, "voice_provider_busy"),
    "ProviderUnavailable": (503, "voice_provider_unavailable"),
    "ProviderTimeout": (504, "voice_provider_timeout"),
    "LanguageModelError": (502, "language_model_error"),
    "LanguageModelUnavailable": (503, "language_model_unavailable"),
    "LanguageModelBusy": (503, "language_model_busy"),
    "LanguageModelTimeout": (504, "language_model_timeout"),
    "RepliesOff": (409, "replies_off"),
    "EmbeddingsUnavailable": (503, "embeddings_unavailable"),
}


@pytest.fixture
def app() -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 2 * 1024 * 1024
    raised: dict[str, Exception] = {}
    app.config["RAISE"] = raised

    @app.get("/raise")
    def raise_it():
        raise raised["error"]

    @app.post("/upload")
    def upload():
        return {"size": len(request.get_data())}

    @app.get("/abort/<int:status>")
    def abort_with(status: int):
        abort(status)

    register_error_handlers(app)
    return app


def answer_to(app: Flask, error: Exception):
    app.config["RAISE"]["error"] = error
    return app.test_client().get("/raise")


def test_the_contract_names_every_error_class():
    assert sorted(cls.__name__ for cls in ERROR_CLASSES) == sorted(CONTRACT)


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda cls: cls.__name__)
def test_every_error_answers_with_its_status_code_and_message(app, cls):
    response = answer_to(app, cls())
    assert (response.status_code, cls.code) == CONTRACT[cls.__name__] == (cls.status, cls.code)
    assert response.get_json() == {"success": False, "error": cls.code, "message": cls.default_message}
    assert response.mimetype == "application/json"
    assert cls.default_message and cls.default_message.endswith(".")


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda cls: cls.__name__)
def test_a_message_of_its_own_replaces_the_default(app, cls):
    response = answer_to(app, cls("Something specific happened."))
    assert response.get_json()["message"] == "Something specific happened."


def test_extra_fields_and_headers_go_into_the_answer(app):
    response = answer_to(app, errors.UnprocessableAudio("Too short.", reason="too_short"))
    assert response.get_json() == {
        "success": False,
        "error": "unprocessable_audio",
        "message": "Too short.",
        "reason": "too_short",
    }
    limited = answer_to(app, errors.ProviderBusy(headers={"Retry-After": "7"}))
    assert limited.headers["Retry-After"] == "7"


def test_an_unauthorized_answer_tells_how_to_sign_in(app):
    assert answer_to(app, errors.Unauthorized()).headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    expired = answer_to(app, errors.Unauthorized("Expired.", error="invalid_request"))
    assert expired.headers["WWW-Authenticate"] == 'Bearer error="invalid_request"'


# -- werkzeug's errors -----------------------------------------------------------------------------


def test_an_unknown_url_is_a_json_404(app):
    response = app.test_client().get("/nothing/here")
    assert response.status_code == 404
    body = response.get_json()
    assert (body["success"], body["error"]) == (False, "not_found") and body["message"]


def test_a_wrong_method_is_a_json_405_that_says_what_is_allowed(app):
    response = app.test_client().delete("/upload")
    assert response.status_code == 405
    assert response.get_json()["error"] == "method_not_allowed"
    assert set(response.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}


def test_a_body_over_the_limit_is_a_413_naming_the_limit(app):
    response = app.test_client().post("/upload", data=b"x" * (2 * 1024 * 1024 + 1))
    assert response.status_code == 413
    assert response.get_json() == {
        "success": False,
        "error": "payload_too_large",
        "message": "The upload is larger than the 2 MB limit.",
    }


def test_a_413_without_a_configured_limit_keeps_werkzeugs_words(app):
    app.config["MAX_CONTENT_LENGTH"] = None
    body = app.test_client().get("/abort/413").get_json()
    assert body["error"] == "payload_too_large" and "MB limit" not in body["message"] and body["message"]


@pytest.mark.parametrize(("status", "code"), [(400, "bad_request"), (403, "forbidden"), (429, "too_many_requests")])
def test_other_http_errors_keep_their_status_with_a_code_from_their_name(app, status, code):
    response = app.test_client().get(f"/abort/{status}")
    assert response.status_code == status
    assert response.get_json()["error"] == code


# -- the unexpected --------------------------------------------------------------------------------


def test_an_unexpected_exception_is_a_500_without_details(app, caplog):
    with caplog.at_level(logging.ERROR, logger="backend.errors"):
        response = answer_to(app, KeyError("mongodb://admin:hunter2@db"))
    assert response.status_code == 500
    assert response.get_json() == {"success": False, "error": "internal_error", "message": "Internal server error."}
    assert b"hunter2" not in response.data
    (record,) = [r for r in caplog.records if r.getMessage() == "Unhandled error"]
    assert record.exc_info and isinstance(record.exc_info[1], KeyError)  # the details go to the log only


# -- provider errors -------------------------------------------------------------------------------


def test_a_provider_error_carries_what_the_provider_answered():
    error = ProviderUnavailable("Fish.Audio is down.", upstream_status=503, request_id="req-42", retry_in=3)
    assert (error.upstream_status, error.request_id, error.extra) == (503, "req-42", {"retry_in": 3})
    assert isinstance(error, ProviderError) and str(error) == "Fish.Audio is down."
    plain = ProviderError()
    assert (plain.upstream_status, plain.request_id) == (None, None)


def test_a_5xx_provider_error_logs_the_upstream_status_and_request_id(app, caplog):
    with caplog.at_level(logging.WARNING, logger="backend.errors"):
        response = answer_to(app, ProviderUnavailable("Fish.Audio is down.", upstream_status=503, request_id="r-42"))
    assert response.get_json() == {
        "success": False,
        "error": "voice_provider_unavailable",
        "message": "Fish.Audio is down.",
    }  # what the provider said is for the log, not the client
    assert caplog.messages == ["voice_provider_unavailable: Fish.Audio is down. (upstream HTTP 503, request r-42)"]


def test_a_5xx_without_upstream_details_logs_a_plain_line(app, caplog):
    with caplog.at_level(logging.WARNING, logger="backend.errors"):
        answer_to(app, errors.DatabaseUnavailable())
    assert caplog.messages == ["database_unavailable: The database is unavailable; try again shortly."]


def test_a_4xx_is_not_logged(app, caplog):
    with caplog.at_level(logging.DEBUG, logger="backend.errors"):
        answer_to(app, ProviderRejected(upstream_status=400, request_id="r-1"))
        answer_to(app, errors.NotFound())
    assert caplog.messages == []
