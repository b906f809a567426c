"""Echo's log lines: one line per record, of Echo's own making, with no secret in it.

Client-supplied values (request paths, ids, header text) reach log messages; their control characters are
written as escapes (\\n, \\x1b, \\u2028), so no client can start or forge a line. A traceback keeps its lines,
each indented under its record, so only a record's first line starts at the left edge.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from backend.config import Settings

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape_for_log(text: str) -> str:
    """Control characters as visible escapes: the text stays on one line."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


class SafeLogRecords(logging.Filter):
    """Escapes control characters in a record (message and traceback) and replaces ``secrets`` by ***."""

    def __init__(self, secrets: Iterable[str] = ()):
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 8]

    def _clean(self, text: str) -> str:
        text = escape_for_log(text)
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
        record.msg, record.args = self._clean(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = "\n".join("  " + self._clean(line) for line in record.exc_text.splitlines())
        record._echo_safe = True
        return True


def configure_logging(settings: Settings) -> None:
    """The root handlers carry the filter (with this app's secrets); Echo's loggers log at LOG_LEVEL."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    safe = SafeLogRecords([settings.fish_audio_api_key, settings.secret_key])
    for handler in root.handlers:
        for old in [f for f in handler.filters if isinstance(f, SafeLogRecords)]:
            handler.removeFilter(old)
        handler.addFilter(safe)
    logging.getLogger("echo").setLevel(settings.log_level)
    logging.getLogger("backend").setLevel(settings.log_level)
    # Our request log replaces the development server's access log (which would print query strings).
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def install_gunicorn_log_escaping() -> None:
    """The same escaping for everything gunicorn logs itself (idempotent)."""
    for name in ("gunicorn.error", "gunicorn.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, SafeLogRecords) for f in logger.filters):
            logger.addFilter(SafeLogRecords())
