"""Log lines as a unit: control characters of every class become visible escapes (property-checked over arbitrary
text), secrets become ***, tracebacks stay indented under their record, and each app's filter replaces the last."""

from __future__ import annotations

import io
import logging
import sys
import unicodedata
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.config import load_settings
from backend.logs import SafeLogRecords, configure_logging, escape_for_log

FISH_KEY = "fish-key-0123456789abcdef"
SECRET_KEY = "secret-key-fedcba9876543210"


def is_control(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Zl", "Zp")


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("\n", "\\n"),
        ("\r", "\\r"),
        ("\t", "\\t"),
        ("\x00", "\\x00"),
        ("\x0b\x0c", "\\x0b\\x0c"),
        ("\x1b[2J", "\\x1b[2J"),
        ("\x1c\x1d\x1e\x1f", "\\x1c\\x1d\\x1e\\x1f"),  # separators str.splitlines breaks on
        ("\x7f", "\\x7f"),
        ("\x80", "\\x80"),
        ("\x85", "\\x85"),  # NEL
        ("\x9b31m", "\\x9b31m"),  # the one-byte CSI
        ("\x9f", "\\x9f"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
        ("GET /a\r\n2026-11-25 INFO forged", "GET /a\\r\\n2026-11-25 INFO forged"),
    ],
)
def test_every_class_of_control_character_is_written_as_an_escape(text, escaped):
    assert escape_for_log(text) == escaped


@pytest.mark.parametrize("text", ["plain", "", "ünïcödé ✓ 日本語", "tab-free\\n already escaped", "\u200b\u00a0"])
def test_text_without_control_characters_is_left_as_it_is(text):
    assert escape_for_log(text) == text


@given(st.text())
def test_escaped_text_is_one_line_without_control_characters(text):
    escaped = escape_for_log(text)
    assert len(escaped.splitlines()) <= 1
    assert not any(is_control(char) for char in escaped)
    if not any(is_control(char) for char in text):
        assert escaped == text


# -- the filter ------------------------------------------------------------------------------------


def record_of(msg: str, *args, exc_info=None) -> logging.LogRecord:
    return logging.LogRecord("echo.test", logging.ERROR, __file__, 1, msg, args, exc_info)


def formatted(record: logging.LogRecord) -> str:
    return logging.Formatter("%(levelname)s %(message)s").format(record)


def test_secrets_in_messages_and_their_arguments_are_redacted():
    record = record_of("calling with key %s and %s", FISH_KEY, f"Bearer {SECRET_KEY}!")
    assert SafeLogRecords([FISH_KEY, SECRET_KEY]).filter(record)
    assert formatted(record) == "ERROR calling with key *** and Bearer ***!"
    assert record.args == ()


def test_secrets_in_tracebacks_are_redacted_and_the_lines_indented():
    try:
        raise ValueError(f"upstream said: bad key {FISH_KEY}\nsecond line")
    except ValueError:
        record = record_of("request failed", exc_info=sys.exc_info())
    assert SafeLogRecords([FISH_KEY]).filter(record)
    text = formatted(record)
    first, *rest = text.split("\n")
    assert first == "ERROR request failed"
    assert rest[0] == "  Traceback (most recent call last):"
    assert rest[-2:] == ["  ValueError: upstream said: bad key ***", "  second line"]
    assert all(line.startswith("  ") for line in rest)
    assert FISH_KEY not in text


def test_a_traceback_already_formatted_is_cleaned_too():
    record = record_of("failed")
    record.exc_text = f"Traceback (most recent call last):\nKeyError: {SECRET_KEY}\x1b[31m"
    SafeLogRecords([SECRET_KEY]).filter(record)
    assert record.exc_text == "  Traceback (most recent call last):\n  KeyError: ***\\x1b[31m"


def test_short_or_empty_secrets_are_not_redacted():
    record = record_of("the word %s and %s stay", "short", "")
    SafeLogRecords(["short", "", None]).filter(record)
    assert formatted(record) == "ERROR the word short and  stay"


def test_a_record_is_cleaned_once_however_many_filters_see_it():
    record = record_of("a\nb %s", SECRET_KEY)
    first, second = SafeLogRecords([SECRET_KEY]), SafeLogRecords([SECRET_KEY])
    assert first.filter(record) and second.filter(record)
    assert formatted(record) == "ERROR a\\nb ***"  # not escaped twice (\\\\n)


def test_a_malformed_logging_call_is_passed_on_untouched():
    record = record_of("%s and %s", "only one")
    assert SafeLogRecords([]).filter(record)
    assert record.msg == "%s and %s" and record.args == ("only one",)


# -- configure_logging -----------------------------------------------------------------------------


@pytest.fixture
def root_handler() -> Iterator[logging.Handler]:
    """A handler on the root logger, as an app's deployment has; every logger and filter is restored after."""
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.stream_text = stream.getvalue  # type: ignore[attr-defined]
    filters = {h: list(h.filters) for h in root.handlers}
    levels = {name: logging.getLogger(name).level for name in ("echo", "backend", "werkzeug")}
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for h, kept in filters.items():
            h.filters[:] = kept
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def app_settings(tmp_path, **config):
    return load_settings({"DATA_DIR": str(tmp_path), **config}, env={})


def test_each_app_replaces_the_last_apps_filter_rather_than_stacking(root_handler, tmp_path):
    configure_logging(app_settings(tmp_path, FISH_AUDIO_API_KEY=FISH_KEY, LOG_LEVEL="INFO"))
    configure_logging(app_settings(tmp_path, SECRET_KEY=SECRET_KEY, LOG_LEVEL="INFO"))
    (safe,) = [f for f in root_handler.filters if isinstance(f, SafeLogRecords)]
    assert safe.secrets == [SECRET_KEY]
    for handler in logging.getLogger().handlers:
        assert len([f for f in handler.filters if isinstance(f, SafeLogRecords)]) == 1
    logging.getLogger("echo.test").info("key %s\nforged", SECRET_KEY)
    assert root_handler.stream_text() == "INFO echo.test: key ***\\nforged\n"


def test_echos_loggers_log_at_the_configured_level_and_werkzeug_stays_quiet(root_handler, tmp_path):
    configure_logging(app_settings(tmp_path, LOG_LEVEL="debug"))
    assert logging.getLogger("echo").level == logging.DEBUG
    assert logging.getLogger("backend").level == logging.DEBUG
    assert logging.getLogger("werkzeug").level == logging.WARNING
    configure_logging(app_settings(tmp_path, LOG_LEVEL="WARNING"))
    assert logging.getLogger("backend").level == logging.WARNING
