"""Echo's Flask API server: the application factory and the entry point."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

if __package__ in (None, ""):  # run as `python backend/api_server.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bson import ObjectId
from flask import Flask, g, request
from flask.json.provider import DefaultJSONProvider
from flask_cors import CORS
from werkzeug.exceptions import RequestEntityTooLarge

from backend import inputs
from backend.auth import init_auth
from backend.config import Settings, load_settings
from backend.errors import PayloadTooLarge, register_error_handlers
from backend.extensions import init_rate_limits
from backend.logs import configure_logging
from backend.routes import (
    api_keys,
    echos,
    history,
    memories,
    openai_speech,
    pages,
    replies,
    system,
    users,
    voice,
    voice_models,
)
from backend.services import build_services

log = logging.getLogger("echo")


class EchoJSONProvider(DefaultJSONProvider):
    """JSON that knows MongoDB's types: ids as strings, times as ISO 8601 UTC."""

    sort_keys = False

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Request bodies are read by Echo's input rules (``backend.inputs``); breaking one is a 400, even
        for ``get_json(silent=True)``."""
        return inputs.loads(s)

    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, ObjectId):
            return str(o)
        if isinstance(o, datetime):
            if o.tzinfo is None:
                o = o.replace(tzinfo=UTC)
            return o.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return DefaultJSONProvider.default(o)


def create_app(
    config: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    db_client: Any = None,
    providers: dict[str, Any] | None = None,
) -> Flask:
    """Build the app.

    ``config`` overrides settings by their environment names, over ``environ`` (default: the process's
    environment and .env; pass ``{}`` to read neither). ``db_client`` (a pymongo-compatible client) and
    ``providers`` (name → voice provider) replace the configured ones; tests use them.
    """
    settings = load_settings(config, env=environ)

    app = Flask(__name__, template_folder="templates", static_folder="static")
    app.json = EchoJSONProvider(app)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_mb * 1024 * 1024
    app.config["ECHO_SETTINGS"] = settings

    configure_logging(settings)
    register_services(app, settings, db_client, providers)
    register_blueprints(app)
    register_extensions(app, settings)
    register_error_handlers(app)
    register_request_guards(app, settings)
    register_request_log(app)
    return app


def register_services(app: Flask, settings: Settings, db_client: Any, providers: dict | None) -> None:
    services = build_services(settings, db_client=db_client, providers=providers)
    app.extensions["echo"] = services
    services.start()
    voices = services.voices
    log.info(
        "voice provider: %s (available: %s); database: %s; audio: %s",
        voices.active_name if voices.active_name in voices.providers else "none",
        ", ".join(sorted(voices.providers)) or "none",
        services.db.backend,
        services.store.kind,
    )


def register_extensions(app: Flask, settings: Settings) -> None:
    """CORS for configured origins, sign-in, and the rate limits the views declare."""
    if settings.cors_origins:
        CORS(
            app,
            resources={
                r"/api/*": {"origins": list(settings.cors_origins)},
                r"/v1/*": {"origins": list(settings.cors_origins)},
                r"/health": {"origins": "*"},
            },
            expose_headers=[
                "Retry-After",
                "Content-Range",
                "Accept-Ranges",
                "X-Audio-Url",
                "X-Audio-Format",
                "X-Sample-Rate",
            ],
        )
    init_auth(app, settings)
    init_rate_limits(app, settings)


def register_blueprints(app: Flask) -> None:
    for module in (
        pages,
        system,
        users,
        voice,
        voice_models,
        echos,
        memories,
        replies,
        history,
        api_keys,
        openai_speech,
    ):
        app.register_blueprint(module.bp)


PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def page_csp(settings: Settings) -> str:
    """The page's policy; with sign-in, the page also talks to the provider (discovery, tokens, renewal with a
    refresh token: no frames)."""
    if not settings.auth_enabled:
        return PAGE_CSP
    issuer = urlsplit(settings.auth0_issuer or f"https://{settings.auth0_domain}/")
    origin = f"{issuer.scheme}://{issuer.netloc}"
    return PAGE_CSP.replace("connect-src 'self'", f"connect-src 'self' {origin}")


API_CSP = "default-src 'none'; frame-ancestors 'none'"


def register_request_guards(app: Flask, settings: Settings) -> None:
    """Body limits whatever the framing, the input rules on everything a client sends, security headers."""
    max_json = settings.max_json_kb * 1024
    csp_page = page_csp(settings)
    too_large = f"JSON and form bodies are limited to {settings.max_json_kb} KB."

    @app.before_request
    def check_input() -> None:
        # Small bodies: the limit holds for declared lengths and for chunked bodies alike. Reading stops one
        # byte past the limit (werkzeug stops there without an error), and that byte tells a body too large.
        # Uploads (multipart) keep MAX_CONTENT_LENGTH.
        small = request.is_json or request.mimetype == "application/x-www-form-urlencoded"
        try:
            if small:
                request.max_content_length = max_json + 1
                if len(request.get_data(cache=True)) > max_json:
                    raise PayloadTooLarge(too_large)
            inputs.check_texts((request.view_args or {}).items(), "path segment")
            inputs.check_texts(request.args.items(multi=True), "query argument")
            if request.is_json:
                if request.get_data(cache=True).strip():
                    request.get_json()  # parsed by the input rules, and kept for the route
            elif request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
                inputs.check_texts(request.form.items(multi=True), "form field")
        except RequestEntityTooLarge as exc:
            if small:
                raise PayloadTooLarge(too_large) from exc
            raise

    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("X-Frame-Options", "DENY")
        is_page = response.mimetype == "text/html"
        headers.setdefault("Content-Security-Policy", csp_page if is_page else API_CSP)
        return response


def register_request_log(app: Flask) -> None:
    """One line per request: method, path, status, duration (no query strings, bodies or headers)."""
    request_log = logging.getLogger("echo.requests")
    request_log.setLevel(logging.INFO)

    @app.before_request
    def start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def log_request(response):
        started = g.get("started")
        duration = (time.perf_counter() - started) * 1000 if started else 0.0
        request_log.info("%s %s %s %.1fms", request.method, request.path, response.status_code, duration)
        return response


def warm_up(app: Flask) -> None:
    """Load the local engine's model in the background, so the first request does not wait for it."""
    local = app.extensions["echo"].voices.providers.get("local")
    warm = getattr(local, "warm_up", None)
    if warm is not None:
        threading.Thread(target=warm, name="warm-up", daemon=True).start()


def main() -> None:
    app = create_app()
    warm_up(app)
    settings: Settings = app.config["ECHO_SETTINGS"]
    log.info("Echo listening on http://%s:%d", settings.api_host, settings.api_port)
    try:
        app.run(host=settings.api_host, port=settings.api_port, threaded=True)
    finally:
        app.extensions["echo"].close()


if __name__ == "__main__":
    main()
