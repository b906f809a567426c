"""A reply's text on its way to the voice: cut into sentences as it streams in, and cleaned for speaking.

A language model writes a reply a few characters at a time. :class:`SentenceCutter` hands on each sentence as
soon as it is complete (the very first at its first clause), so the voice can start on it while the rest is
still being written.
:func:`speakable` removes what must not be read aloud: markup, asterisks and the actions they mark, stage
directions in brackets, emoji and links.
"""

from __future__ import annotations

import re
import unicodedata

# A sentence ends at . ! ? or … (with any closing quotes or brackets after it) followed by white space,
# or at a line break.
_END = re.compile(r"""[.!?\u2026]+["'\u201d\u2019)\]]*\s+|\n+""")
# Words whose full stop does not end a sentence.
_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "mt", "jr", "sr", "prof", "vs", "etc", "e.g", "i.e", "no"}
MAX_SENTENCE_CHARS = 300  # a sentence longer than this is cut at a comma or a space, so speech never waits long
# The first piece is handed on at its first clause (a comma, semicolon, colon or dash after at least this many
# characters), so the voice starts after a few words rather than after a whole sentence.
FIRST_CLAUSE_CHARS = 12
_CLAUSE_END = re.compile(r"[,;:\u2014\u2013]\s+")


class SentenceCutter:
    """Feed text as it comes; get back the sentences it completed."""

    def __init__(self, max_chars: int = MAX_SENTENCE_CHARS, first_clause: bool = True):
        self.max_chars = max_chars
        self._buffer = ""
        self._first = first_clause  # cut the very first piece at a clause: the voice starts sooner

    def feed(self, text: str) -> list[str]:
        self._buffer += text
        sentences = []
        start = 0
        if self._first:
            clause = _CLAUSE_END.search(self._buffer, FIRST_CLAUSE_CHARS - 1)
            sentence = _END.search(self._buffer)
            if clause and (sentence is None or clause.start() < sentence.start()):
                sentences.append(self._buffer[: clause.end()].strip())
                start = clause.end()
                self._first = False
        for match in _END.finditer(self._buffer, start):
            candidate = self._buffer[start : match.end()]
            if self._is_abbreviation(candidate):
                continue
            sentences.append(candidate.strip())
            start = match.end()
            self._first = False
        self._buffer = self._buffer[start:]
        while len(self._buffer) > self.max_chars:
            cut = self._long_cut(self._buffer)
            sentences.append(self._buffer[:cut].strip())
            self._buffer = self._buffer[cut:]
        return [sentence for sentence in sentences if sentence]

    def flush(self) -> list[str]:
        """What is left when the text has ended."""
        rest, self._buffer = self._buffer.strip(), ""
        return [rest] if rest else []

    @staticmethod
    def _is_abbreviation(candidate: str) -> bool:
        stripped = candidate.rstrip()
        if not stripped.endswith("."):
            return False
        words = stripped[:-1].split()
        return bool(words) and words[-1].lower().strip("(\"'") in _ABBREVIATIONS

    def _long_cut(self, text: str) -> int:
        window = text[: self.max_chars]
        for mark in (", ", "; ", ": ", " "):
            at = window.rfind(mark)
            if at > self.max_chars // 3:
                return at + len(mark)
        return self.max_chars


_ACTION = re.compile(r"\*[^*\n]{0,200}\*")  # *smiles warmly*
_BRACKETED = re.compile(r"\[[^\]\n]{0,200}\]|\((?:[^()\n]{0,200})\)")  # [laughs], (softly)
_LINK = re.compile(r"https?://\S+|www\.\S+")
_MARKUP = re.compile(r"[*_`#>~|]+")
_LIST_MARK = re.compile(r"^\s*(?:[-•]|\d+[.)])\s+", re.MULTILINE)


def _is_emoji(char: str) -> bool:
    if char in "\u200d\ufe0e\ufe0f\u20e3":  # joiners and presentation selectors of emoji sequences
        return True
    if unicodedata.category(char) == "So":
        return True
    code = ord(char)
    return 0x1F000 <= code <= 0x1FAFF or 0x1F1E6 <= code <= 0x1F1FF or 0xE0020 <= code <= 0xE007F


def speakable(sentence: str) -> str:
    """The words of a sentence to be read aloud; empty when nothing in it is for speaking."""
    text = _ACTION.sub(" ", sentence)
    text = _BRACKETED.sub(" ", text)
    text = _LINK.sub(" ", text)
    text = _LIST_MARK.sub("", text)
    text = _MARKUP.sub(" ", text)
    text = "".join(" " if _is_emoji(char) else char for char in text)
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([,.;:!?\u2026])", r"\1", text)
    return text if any(char.isalnum() for char in text) else ""
