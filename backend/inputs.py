"""The rules every piece of client input meets, checked once, before any route sees it.

- **JSON bodies** are parsed strictly: nesting at most ``MAX_JSON_DEPTH`` levels, no NaN or Infinity, no number
  that overflows (floats must be finite, integers must fit in 64 bits, as MongoDB stores them).
- **Text** (every string in a JSON body, keys included, every form field, query argument and path segment) may
  not hold characters that cannot be stored or spoken: lone UTF-16 surrogates, NUL and the other control
  characters (C0 and C1, and DEL) except tab, line feed and carriage return. Such text is refused with 400,
  never cleaned silently, whatever the field.
- **Ids** have exact shapes (``object_id``, ``voice_id``, ``sign_in_id``): a trailing newline or any other
  character outside the shape is a 400, never stored.

Each rule raises ``InvalidInput`` (a 400 in the one error shape, with a ``reason``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from bson import ObjectId

from backend.errors import BadRequest

MAX_JSON_DEPTH = 20
_INT64 = (-(2**63), 2**63 - 1)

# Characters that cannot be stored (lone surrogates do not encode as UTF-8) or spoken (control characters).
FORBIDDEN_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")

OBJECT_ID = re.compile(r"[0-9a-fA-F]{24}")
_VOICE_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")
_SIGN_IN_ID = re.compile(r"[\w|@.:+-]{1,200}")


class InvalidInput(BadRequest):
    """Input that breaks one of the rules above."""

    def __init__(self, message: str, *, reason: str, **extra: Any):
        super().__init__(message, reason=reason, **extra)


# -- text -----------------------------------------------------------------------------------------


def escape(text: object) -> str:
    """Client text quoted in a message: control characters shown as escapes."""
    return FORBIDDEN_CHARACTERS.sub(lambda m: describe(m.group()), str(text))[:100]


def describe(char: str) -> str:
    return f"U+{ord(char):04X}"


def check_text(value: str, where: str) -> str:
    """``value`` when it holds no forbidden character; else a 400 naming the field and the character."""
    found = FORBIDDEN_CHARACTERS.search(value)
    if found is not None:
        raise InvalidInput(
            f"{where} holds a character that cannot be stored or spoken ({describe(found.group())}); "
            "remove control characters and broken Unicode.",
            reason="forbidden_character",
        )
    return value


def check_texts(pairs: Iterable[tuple[str, str]], kind: str) -> None:
    """Check (name, value) pairs such as form fields or query arguments; names are text too."""
    for name, value in pairs:
        if isinstance(name, str):
            check_text(name, f"A {kind} name")
        if isinstance(value, str):
            check_text(value, f"The {kind} '{escape(name)}'")


# -- JSON -----------------------------------------------------------------------------------------


def _refuse_constant(name: str) -> Any:
    raise InvalidInput(f"JSON numbers must be finite; {name} is not allowed.", reason="invalid_number")


def _parse_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise InvalidInput("A JSON number is too large.", reason="invalid_number")
    return value


def _parse_int(text: str) -> int:
    if len(text) > 20:  # more digits than any 64-bit integer has (and far below Python's 4300-digit limit)
        raise InvalidInput("A JSON integer is too large (at most 64 bits).", reason="invalid_number")
    value = int(text)
    if not _INT64[0] <= value <= _INT64[1]:
        raise InvalidInput("A JSON integer is too large (at most 64 bits).", reason="invalid_number")
    return value


def loads(data: str | bytes) -> Any:
    """Parse a request body by the rules above; ``InvalidInput`` for anything else."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidInput("The body is not UTF-8 text.", reason="malformed_json") from exc
    try:
        value = json.loads(data, parse_constant=_refuse_constant, parse_float=_parse_float, parse_int=_parse_int)
    except RecursionError as exc:
        raise _too_deep() from exc
    except InvalidInput:
        raise
    except ValueError as exc:
        raise InvalidInput(f"The body is not valid JSON ({_plain(exc)}).", reason="malformed_json") from exc
    _check_tree(value)
    return value


def _plain(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno}, column {exc.colno}"
    return "unreadable"


def _too_deep() -> InvalidInput:
    return InvalidInput(f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels.", reason="json_too_deep")


def _check_tree(root: Any) -> None:
    """Depth and text of every value, without recursion (the tree may be as deep as the parser allowed)."""
    stack: list[tuple[Any, int, str]] = [(root, 1, "the body")]
    while stack:
        value, depth, where = stack.pop()
        if isinstance(value, str):
            check_text(value, f"The text of {where}")
        elif isinstance(value, dict):
            if depth > MAX_JSON_DEPTH:
                raise _too_deep()
            for key, item in value.items():
                check_text(key, f"A field name in {where}")
                stack.append((item, depth + 1, f"'{escape(key)}'" if depth == 1 else where))
        elif isinstance(value, list):
            if depth > MAX_JSON_DEPTH:
                raise _too_deep()
            stack.extend((item, depth + 1, where) for item in value)


# -- ids ------------------------------------------------------------------------------------------


def object_id(value: Any, field: str) -> ObjectId:
    """A database id (24 hexadecimal characters, exactly) from client input."""
    if isinstance(value, ObjectId):
        return value
    if not isinstance(value, str) or not OBJECT_ID.fullmatch(value):
        raise InvalidInput(f"'{field}' must be a 24-character hexadecimal id.", reason="invalid_id")
    return ObjectId(value)


def voice_id(value: Any, field: str) -> str:
    """A voice model id (letters, digits, _ and -, at most 100), exactly."""
    if not isinstance(value, str) or not _VOICE_ID.fullmatch(value):
        raise InvalidInput(
            f"'{field}' must be a string holding a voice id (letters, digits, _ and - only, at most 100).",
            reason="invalid_id",
        )
    return value


def sign_in_id(value: Any, field: str = "auth0_id") -> str:
    """A sign-in id such as ``auth0|abc`` or ``local|ann``, exactly."""
    if not isinstance(value, str) or not _SIGN_IN_ID.fullmatch(value):
        raise InvalidInput(
            "The user id may hold letters, digits and _ | @ . : + - only (at most 200).", reason="invalid_id"
        )
    return value


# -- who a request names ----------------------------------------------------------------------------


def named_user_id(request: Any) -> Any:
    """The ``user_id`` a request names (query string, then JSON body, then form), as sent; None if none.

    Bodies have been parsed by the input rules before any view or limiter asks, so this never parses
    anything new.
    """
    raw = request.args.get("user_id")
    if raw in (None, "") and request.is_json:
        body = request.get_json(silent=True)
        if isinstance(body, dict):
            raw = body.get("user_id")
    if raw in (None, "") and request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        raw = request.form.get("user_id")
    return None if raw in (None, "") else raw
