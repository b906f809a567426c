"""Text for the local engine: sentences, and long sentences split at clause marks, so speech starts early."""

from __future__ import annotations

import logging
import re

log = logging.getLogger(__name__)

_MAX_CHUNK_CHARS = 220


# --------------------------------------------------------------------------- text


_SENTENCE = re.compile(r"\S.*?(?:[.!?…]+[\"'”’)\]]*(?=\s|$)|$)", re.DOTALL)
_ABBREVIATION = re.compile(r"(?:^|\s)(?:Mr|Mrs|Ms|Dr|Prof|St|Mt|Jr|Sr|vs|etc|e\.g|i\.e|No)\.$", re.IGNORECASE)


def split_text(text: str, max_chars: int = _MAX_CHUNK_CHARS) -> list[str]:
    """Split text into sentences, and sentences longer than ``max_chars`` at clause marks (or spaces)."""
    pieces: list[str] = []
    for paragraph in re.split(r"\s*\n\s*", text.strip()):
        sentences: list[str] = []
        for match in _SENTENCE.finditer(paragraph):
            sentence = match.group(0).strip()
            if sentences and _ABBREVIATION.search(sentences[-1]):
                sentences[-1] = f"{sentences[-1]} {sentence}"  # "Dr. Smith" is one sentence
            elif sentence:
                sentences.append(sentence)
        for sentence in sentences:
            pieces.extend(_split_long(sentence, max_chars))
    return pieces


def _split_long(sentence: str, max_chars: int) -> list[str]:
    if len(sentence) <= max_chars:
        return [sentence]
    parts = re.split(r"(?<=[,;:—–])\s+", sentence)
    if len(parts) == 1:
        parts = sentence.split(" ")
    out: list[str] = []
    current = ""
    for part in parts:
        candidate = f"{current} {part}".strip()
        if current and len(candidate) > max_chars:
            out.append(current)
            current = part
        else:
            current = candidate
    if current:
        out.append(current)
    return out
