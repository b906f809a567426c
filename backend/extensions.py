"""What views declare about themselves, applied by the factory: their rate limit, and whether sign-in applies.

A view says ``@rate_limited("upload_rate_limit", "clone another voice")`` (the setting holding its limit,
and what the caller may do again once the wait is over) or ``@public`` (it carries its own proof, such as a
signed audio link); the factory binds the app's limiter and sign-in to what the views declare, so no
endpoint names are written down twice.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, g, request
from flask_limiter import Limiter, RateLimitExceeded

from backend import inputs
from backend.config import Settings
from backend.errors import error_response

log = logging.getLogger(__name__)

View = TypeVar("View", bound=Callable[..., Any])


def rate_limited(setting: str, action: str) -> Callable[[View], View]:
    """Mark a view as limited per caller by the limit in ``Settings.<setting>`` (e.g. "20 per hour").

    ``action`` is what the caller may do again once the wait is over, in words that finish "You can ...":
    a 429 says "You can clone another voice in 47 minutes."
    """

    def mark(view: View) -> View:
        view.echo_rate_limit = setting  # type: ignore[attr-defined]
        view.echo_rate_action = action  # type: ignore[attr-defined]
        return view

    return mark


def public(view: View) -> View:
    """Mark a view that needs no sign-in (it checks its own proof)."""
    view.echo_public = True  # type: ignore[attr-defined]
    return view


def is_public(app: Flask, endpoint: str | None) -> bool:
    view = app.view_functions.get(endpoint or "")
    return bool(getattr(view, "echo_public", False))


def init_rate_limits(app: Flask, settings: Settings) -> Limiter:
    """This app's limiter, applied to every view that declared a limit."""
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
        key_func=rate_limit_key,
        app=app,
        storage_uri=storage_uri,
        storage_options=storage_options,
        # While the shared store is unreachable, each process counts in memory instead of failing requests.
        in_memory_fallback_enabled=True,
        swallow_errors=True,
        # Flask-Limiter's own headers would put its window's Retry-After on every answer, over the one an
        # error carries (a busy engine's 5 s); Retry-After is set on the 429 itself instead (below).
        headers_enabled=False,
        default_limits=[],
    )

    @app.errorhandler(RateLimitExceeded)
    def rate_limited_answer(exc: RateLimitExceeded):
        current = limiter.current_limit
        # The window's own end, rounded up: after the wait said the request is allowed (reset_at is already a
        # whole second, and int() of it less now could fall up to a second short).
        wait = max(1, math.ceil(current.window[0] - time.time())) if current is not None else 60
        view = app.view_functions.get(request.endpoint or "")
        action = getattr(view, "echo_rate_action", None) or "try again"
        return error_response(
            429,
            "too_many_requests",
            f"You can {action} in {wait_in_words(wait)}. (The limit is {exc.description}.)",
            {"Retry-After": str(wait)},
            retry_after=wait,
        )

    for endpoint, view in list(app.view_functions.items()):
        setting = getattr(view, "echo_rate_limit", None)
        if setting is not None:
            app.view_functions[endpoint] = limiter.limit(getattr(settings, setting))(view)
    app.extensions["echo_limiter"] = limiter
    return limiter


def wait_in_words(seconds: int) -> str:
    """A wait as a person says it: "30 seconds", "1 minute", "47 minutes", "2 hours and 5 minutes".

    Rounded up, never down: after the time said, the request is allowed.
    """
    if seconds < 60:
        return _plural(seconds, "second")
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return _plural(minutes, "minute")
    hours, minutes = divmod(minutes, 60)
    if minutes == 0:
        return _plural(hours, "hour")
    return f"{_plural(hours, 'hour')} and {_plural(minutes, 'minute')}"


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}{'' if count == 1 else 's'}"


def rate_limit_key() -> str:
    """Limits count per API key (on /v1), else per signed-in user, else per named user_id, else per client
    address.

    It never raises: Flask-Limiter takes an exception here for an unreachable store and would switch every
    counter to a fresh in-memory store. Bodies have been checked by the input rules before any view runs,
    so reading them here costs nothing; anything unexpected counts against the client's address.
    """
    try:
        caller = g.get("caller")
        if caller is not None:
            key_id = getattr(caller, "key_id", None)
            return f"key:{key_id}" if key_id is not None else f"user:{caller.user_id}"
        named = inputs.named_user_id(request)
        if isinstance(named, str) and inputs.OBJECT_ID.fullmatch(named):
            return f"user:{named.lower()}"
    except Exception:  # noqa: BLE001 - see above
        log.debug("rate-limit key fell back to the client address", exc_info=True)
    return f"addr:{request.remote_addr}"
