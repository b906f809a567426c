"""Echo's Flask API server: the application factory and the entry point."""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python backend/api_server.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bson import ObjectId
from flask import Flask, g, request
from flask.json.provider import DefaultJSONProvider
from flask_cors import CORS
from flask_limiter import Limiter
from werkzeug.exceptions import RequestEntityTooLarge

from backend import inputs
from backend.audio_cache import AudioCache
from backend.auth import init_auth
from backend.config import ConfigError, Settings, load_settings
from backend.database import DatabaseManager
from backend.errors import PayloadTooLarge, register_error_handlers
from backend.links import AudioLinks, load_secret
from backend.routes import echos, pages, system, users, voice, voice_models
from backend.routes.common import Services
from backend.storage import AudioStore
from backend.voice_service import VoiceServiceWrapper, build_providers

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


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. ``config`` overrides settings by their environment names (tests use it).

    Special keys: ``DB_CLIENT`` (a pymongo-compatible client to use instead of connecting),
    ``VOICE_PROVIDERS`` (a dict of providers replacing the configured ones) and
    ``IGNORE_ENVIRONMENT`` (read neither the environment nor .env).
    """
    config = dict(config or {})
    env = {} if config.pop("IGNORE_ENVIRONMENT", False) else None
    db_client = config.pop("DB_CLIENT", None)
    providers = config.pop("VOICE_PROVIDERS", None)
    settings = load_settings(config, env=env)

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


_LOG_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape_for_log(text: str) -> str:
    """Control characters as visible escapes (\\n, \\x1b...), so client text cannot start or forge a log line."""
    return _LOG_CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


class SafeLogRecords(logging.Filter):
    """Every log line stays one line of our own making, and secrets never reach it.

    Messages (with client-supplied values such as request paths) have their control characters escaped; a
    traceback keeps its lines, each indented, so only a record's first line starts at the left edge. A secret
    that reaches a record anyway is replaced by ***.
    """

    def __init__(self, secrets: list[str]):
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 8]

    def _clean(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_echo_safe", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed call is the handler's to report, not ours to raise
            return True
        record.msg, record.args = self._clean(escape_for_log(message)), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            lines = record.exc_text.splitlines()
            record.exc_text = "\n".join("  " + self._clean(escape_for_log(line)) for line in lines)
        record._echo_safe = True
        return True


def configure_logging(settings: Settings) -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    redact = SafeLogRecords([settings.fish_audio_api_key, settings.secret_key])
    for handler in root.handlers:
        for old in [f for f in handler.filters if isinstance(f, SafeLogRecords)]:
            handler.removeFilter(old)
        handler.addFilter(redact)
    logging.getLogger("echo").setLevel(settings.log_level)
    logging.getLogger("backend").setLevel(settings.log_level)
    # Our request log replaces the development server's access log (which would print query strings).
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def register_services(app: Flask, settings: Settings, db_client: Any, providers: dict | None) -> None:
    gridfs = settings.resolved_audio_store == "gridfs"
    if gridfs and not (settings.mongodb_uri or db_client is not None):
        raise ConfigError("AUDIO_STORE=gridfs keeps audio in MongoDB: set MONGODB_URI too.")
    db = DatabaseManager(
        uri=settings.mongodb_uri,
        db_name=settings.mongodb_db,
        data_dir=settings.data_dir,
        timeout_ms=settings.mongodb_timeout_ms,
        client=db_client,
    )
    cache_bytes = settings.cache_max_mb * 1024 * 1024
    profiles = None
    if gridfs:
        from backend.gridfs_store import GridAudioCache, GridAudioStore
        from backend.voice_profiles import DatabaseProfiles

        store = GridAudioStore(settings.data_dir, db)
        cache = GridAudioCache(db, cache_bytes)
        profiles = DatabaseProfiles(db)
        # Every instance must sign and check audio links alike: SECRET_KEY, or one kept in the database.
        secret = settings.secret_key or (lambda: db.shared_secret("audio_links"))
    else:
        store = AudioStore(settings.data_dir)
        cache = AudioCache(settings.data_dir / "cache", cache_bytes)
        secret = load_secret(settings.secret_key, settings.data_dir)
    if providers is None:
        providers = build_providers(settings, profiles)
        active = settings.resolved_provider
    else:
        active = (
            settings.resolved_provider if settings.resolved_provider in providers else next(iter(providers), "none")
        )
    voices = VoiceServiceWrapper(settings, store, providers, active, cache=cache)
    links = AudioLinks(secret, settings.audio_url_ttl)
    services = Services(settings=settings, db=db, voices=voices, store=store, links=links)
    app.extensions["echo"] = services
    services.purge_old_audio(force=True)  # also saves voice records journaled during a database outage
    services.sweep_leftovers()  # what a killed process left: recordings and profiles no record points at
    log.info(
        "voice provider: %s (available: %s); database: %s; audio: %s",
        active if active in providers else "none",
        ", ".join(sorted(providers)) or "none",
        db.backend,
        store.kind,
    )


def register_extensions(app: Flask, settings: Settings) -> None:
    """CORS for configured origins, sign-in, and per-user rate limits on the expensive routes."""
    if settings.cors_origins:
        CORS(
            app,
            resources={r"/api/*": {"origins": list(settings.cors_origins)}, r"/health": {"origins": "*"}},
            expose_headers=["Retry-After", "Content-Range", "Accept-Ranges"],
        )
    init_auth(app, settings)
    storage_uri = settings.resolved_ratelimit_storage
    storage_options: dict[str, Any] = {}
    if storage_uri.startswith("mongodb"):
        # Counters beside Echo's own collections; they expire by themselves (TTL index).
        storage_options = {
            "database_name": settings.mongodb_db,
            "counter_collection_name": "rate_limit_counters",
            "window_collection_name": "rate_limit_windows",
            "serverSelectionTimeoutMS": settings.mongodb_timeout_ms,
            "connectTimeoutMS": settings.mongodb_timeout_ms,
        }
    limiter = Limiter(
        key_func=_rate_limit_key,
        app=app,
        storage_uri=storage_uri,
        storage_options=storage_options,
        # While the shared store is unreachable, each process counts in memory instead of failing requests.
        in_memory_fallback_enabled=True,
        swallow_errors=True,
        headers_enabled=True,
        default_limits=[],
    )
    for endpoint, limit in (
        ("voice.upload_reference", settings.upload_rate_limit),
        ("voice.synthesize", settings.synthesize_rate_limit),
    ):
        app.view_functions[endpoint] = limiter.limit(limit)(app.view_functions[endpoint])
    app.extensions["echo_limiter"] = limiter


def _rate_limit_key() -> str:
    """Limits count per signed-in user, else per named user_id, else per client address.

    It never raises: Flask-Limiter takes an exception here for an unreachable store and would switch every
    counter to a fresh in-memory store. Bodies have been checked by the input rules before any view runs,
    so reading them here costs nothing; anything unexpected counts against the client's address.
    """
    try:
        caller = g.get("caller")
        if caller is not None:
            return f"user:{caller.user_id}"
        named = request.args.get("user_id")
        if not named and request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
            named = request.form.get("user_id")
        if not named and request.is_json:
            body = request.get_json(silent=True)
            named = body.get("user_id") if isinstance(body, dict) else None
        if isinstance(named, str) and inputs.OBJECT_ID.fullmatch(named):
            return f"user:{named.lower()}"
    except Exception:  # noqa: BLE001 - see above
        log.debug("rate-limit key fell back to the client address", exc_info=True)
    return f"addr:{request.remote_addr}"


def register_blueprints(app: Flask) -> None:
    for module in (pages, system, users, voice, voice_models, echos):
        app.register_blueprint(module.bp)


PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"


def register_request_guards(app: Flask, settings: Settings) -> None:
    """Body limits whatever the framing, the input rules on everything a client sends, security headers."""
    max_json = settings.max_json_kb * 1024
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
        headers.setdefault("Content-Security-Policy", PAGE_CSP if is_page else API_CSP)
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
    app.run(host=settings.api_host, port=settings.api_port, threaded=True)


if __name__ == "__main__":
    main()
