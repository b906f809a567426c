"""The names stored audio goes by: random tokens chosen here, never a client's file name.

An output name (``<token>.<format>``) is public: it appears in audio links. A reference key
(``<token>.<container>``) names a kept recording and is never served.
"""

from __future__ import annotations

import re
import secrets
from typing import TypeGuard

from backend.formats import EXTENSIONS_PATTERN, FORMATS

_OUTPUT_NAME = re.compile(rf"[A-Za-z0-9_-]{{22,64}}\.({EXTENSIONS_PATTERN})")
_REFERENCE_KEY = re.compile(r"[A-Za-z0-9_-]{22,64}\.(wav|mp3|m4a|aac|ogg|webm|flac)")


def is_output_name(name: object) -> TypeGuard[str]:
    return isinstance(name, str) and bool(_OUTPUT_NAME.fullmatch(name))


def is_reference_key(key: object) -> TypeGuard[str]:
    return isinstance(key, str) and bool(_REFERENCE_KEY.fullmatch(key))


def new_output_name(fmt: str) -> str:
    return f"{secrets.token_urlsafe(24)}.{FORMATS[fmt].extension}"


def new_reference_key(extension: str) -> str:
    return f"{secrets.token_urlsafe(18)}.{extension}"
