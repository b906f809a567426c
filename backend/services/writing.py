"""The words of a reply, made worth hearing: whole sentences, cleaned for speaking, few enough, and checked.

Whatever model writes, :func:`checked` turns its stream into whole sentences and stops it at the reply's length
(``REPLY_SENTENCES`` sentences, ``max_words`` words, ``MAX_REPLY_CHARS`` characters); a sentence cut off by the
token budget is dropped, control characters and what cannot be spoken (markup, emoji, stage directions) are
removed, so what is stored is exactly what is spoken. A sentence that claims to be human, alive or the real person
is never kept: the honest answer replaces it.

A small model (the bundled one) is guided further (:func:`guided`): its reply may start from a sentence Echo
wrote (the memory that answers, in the first person, or "I don't remember"), and each sentence it writes is
checked by cheap rules (:func:`flaw`): no letter form, no assistant talk, no relation or name the echo does not
know, no number the memories do not hold, no repetition of earlier replies. A flawed sentence is dropped and the
model asked again from the last good one, a few times at most.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from backend.errors import LanguageModelError
from backend.providers.llm import CutShort
from backend.sentences import SentenceCutter, speakable
from backend.services.honesty import claims_to_be_real, honest_answer

MAX_REPLY_CHARS = 2000  # a reply longer than this is cut at a sentence
MAX_SENTENCE_WORDS = 40  # a longer sentence from a guided model is a ramble
TRIES = 3  # times a guided model is asked again after a flawed sentence
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_WHOLE = re.compile(r"[.!?\u2026][\"'\u201d\u2019)\]]*$")

KIN = {
    "grandma", "grandpa", "grandmother", "grandfather", "granddaughter", "grandson", "grandchild", "grandchildren",
    "grandkid", "grandkids", "granny", "gran", "nana", "nan", "papa", "mama", "mother", "mom", "mum", "mommy",
    "father", "dad", "daddy", "son", "daughter", "husband", "wife", "sister", "brother", "aunt", "auntie", "uncle",
    "niece", "nephew", "cousin", "grandad", "granddad", "gramps", "sons", "daughters", "husbands", "wives",
    "sisters", "brothers", "boyfriend", "girlfriend", "fiance", "fiancee",
}  # fmt: skip
_COMMON_CAPITALS = {
    "i", "i'm", "i've", "i'd", "i'll", "god", "lord", "christmas", "easter", "sunday", "monday", "tuesday",
    "wednesday", "thursday", "friday", "saturday", "january", "february", "march", "april", "may", "june", "july",
    "august", "september", "october", "november", "december", "mr", "mrs", "ms", "dr", "english", "american",
    "heaven", "ok", "okay", "oh", "thanksgiving", "mass", "church",
}  # fmt: skip
_LETTER = re.compile(
    r"^(?:dear|hi|hello|hey|greetings)\b[^.!?]{0,40},|\b(?:sorry for your loss|sincerely|best wishes|yours truly|"
    r"best regards|kind regards|with love,|warm regards)\b",
    re.IGNORECASE,
)
_ASSISTANT = re.compile(
    r"\b(?:as an ai|language model|assistant|how can i (?:help|assist)|i(?:'m| am) here to help|i cannot|"
    r"i can't (?:help|assist)|feel free to|let me know if)\b",
    re.IGNORECASE,
)


@dataclass
class Style:
    """What a reply must keep to: who speaks, to whom, what they know, and how long it may be."""

    name: str
    listener: str = ""
    relation: str = ""
    max_sentences: int = 3
    max_words: int = 60
    known: set[str] = field(default_factory=set)  # lowercased words the echo may use as names and numbers
    kin: set[str] = field(default_factory=set)  # relations the echo may speak of
    earlier: list[str] = field(default_factory=list)  # sentences of its earlier replies

    def honest(self) -> list[str]:
        return sentences_of(honest_answer(self.name))


def clean(text: str) -> str:
    """Model output without control or direction-changing characters (white space kept as spaces)."""
    return _CONTROL.sub("", text.replace("\t", " ").replace("\r", " "))


def sentences_of(text: str) -> list[str]:
    cutter = SentenceCutter(first_clause=False)
    found = cutter.feed(text) + cutter.flush()
    return [s for s in (speakable(clean(sentence)) for sentence in found) if s]


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def known_words(*texts: str) -> set[str]:
    """The words of texts the echo knows (its persona, memories, the conversation), for :func:`flaw`."""
    found: set[str] = set()
    for text in texts:
        for word in _words(text):
            found.add(word)
            found.add(word.removesuffix("'s"))
    return found


def _normal(sentence: str) -> str:
    return " ".join(_words(sentence))


def _similar(a: str, b: str) -> bool:
    """Whether two sentences say nearly the same words (trigram overlap)."""
    wa, wb = _words(a), _words(b)
    ga = {tuple(wa[i : i + 3]) for i in range(max(len(wa) - 2, 1))}
    gb = {tuple(wb[i : i + 3]) for i in range(max(len(wb) - 2, 1))}
    if not ga or not gb:
        return False
    return len(ga & gb) / min(len(ga), len(gb)) >= 0.6


def flaw(sentence: str, style: Style, so_far: Iterable[str] = ()) -> str | None:
    """Why a guided model's sentence is not kept (None: it is kept). Cheap rules, each measured in
    bench/bench_reply_quality.py."""
    words = _words(sentence)
    if not words:
        return "empty"
    if len(words) > MAX_SENTENCE_WORDS:
        return "too_long"
    if _LETTER.search(sentence):
        return "letter"
    if _ASSISTANT.search(sentence):
        return "assistant"
    for word in words:
        if word in KIN and word not in style.kin:
            return "relation"
    for number in re.findall(r"\d+", sentence):
        if number not in style.known:
            return "number"
    tokens = re.findall(r"[A-Za-z][A-Za-z']*", sentence)
    for token in tokens[1:]:
        low = token.lower().removesuffix("'s")
        if token[0].isupper() and low not in style.known and low not in _COMMON_CAPITALS:
            return "name"
    for earlier in [*style.earlier, *so_far]:
        if _normal(sentence) == _normal(earlier) or _similar(sentence, earlier):
            return "repeated"
    return None


class _Length:
    """Counts what a reply has said, to stop at its length."""

    def __init__(self, style: Style):
        self.style = style
        self.sentences = 0
        self.words = 0
        self.chars = 0

    def fits(self, sentence: str) -> bool:
        words = len(_words(sentence))
        if self.sentences and (
            self.words + words > self.style.max_words or self.chars + len(sentence) > MAX_REPLY_CHARS
        ):
            return False
        return len(sentence) <= MAX_REPLY_CHARS

    def add(self, sentence: str) -> None:
        self.sentences += 1
        self.words += len(_words(sentence))
        self.chars += len(sentence) + 1

    @property
    def full(self) -> bool:
        return self.sentences >= self.style.max_sentences or self.words >= self.style.max_words


def _model_sentences(pieces: Iterator[str | CutShort]) -> Iterator[str]:
    """Whole sentences as the model completes them, cleaned; a last one cut off by the budget is dropped."""
    cutter = SentenceCutter(first_clause=False)
    cut_short = False
    for piece in pieces:
        if isinstance(piece, CutShort):
            cut_short = True
            continue
        if not isinstance(piece, str):
            raise LanguageModelError("The language model sent a malformed answer (text was expected).")
        for sentence in cutter.feed(clean(piece)):
            words = speakable(sentence)
            if words:
                yield _ended(words)
    for rest in cutter.flush():
        rest = speakable(clean(rest))
        # The model's last words without an end mark: a sentence if the model ended there itself and they are
        # enough words to be one; never when the budget cut them off.
        if rest and (_WHOLE.search(rest) or (not cut_short and len(_words(rest)) >= 4)):
            yield _ended(rest)


def _ended(sentence: str) -> str:
    return sentence if _WHOLE.search(sentence) else sentence + "."


@contextmanager
def _reading(stream: Iterator[str | CutShort]) -> Iterator[Iterator[str]]:
    """The model's whole sentences; leaving the block closes the model's stream (it stops writing)."""
    source = _model_sentences(stream)
    try:
        yield source
    finally:
        source.close()
        close = getattr(stream, "close", None)
        if close is not None:
            close()


def checked(pieces: Iterator[str | CutShort], style: Style) -> Iterator[str]:
    """A model's reply as whole, speakable sentences, stopped at the reply's length; a sentence claiming to be
    human or the real person is replaced by the honest answer, which ends the reply. Closing this iterator, or
    reaching the length, closes the model's stream (it stops writing)."""
    length = _Length(style)
    with _reading(pieces) as source:
        for sentence in source:
            if claims_to_be_real(sentence, style.name):
                yield from style.honest()
                return
            if not length.fits(sentence):
                return
            length.add(sentence)
            yield sentence
            if length.full:
                return


Ask = Callable[[str, int], Iterator[str | CutShort]]


def guided(ask: Ask, style: Style, start: Iterable[str] = ()) -> Iterator[str]:
    """A small model's reply: ``start`` (sentences Echo wrote: the memory that answers), then the model's
    sentences, each checked by :func:`flaw`. ``ask(prefix, attempt)`` streams the model's words going on from
    ``prefix`` (what the reply has said so far). A flawed sentence ends that attempt; the model is asked again
    from the last good sentence, at most ``TRIES`` times. With nothing said at all, a short fallback line."""
    length = _Length(style)
    said: list[str] = []
    for sentence in start:
        length.add(sentence)
        said.append(sentence)
        yield sentence
    attempt = 0
    while not length.full and attempt < TRIES:
        attempt += 1
        flawed = False
        with _reading(ask(" ".join(said) + (" " if said else ""), attempt)) as source:
            for sentence in source:
                if claims_to_be_real(sentence, style.name):
                    yield from style.honest()
                    return
                if not length.fits(sentence):
                    break  # the reply is as long as it may be
                if flaw(sentence, style, said) is not None:
                    flawed = True
                    break
                length.add(sentence)
                said.append(sentence)
                yield sentence
                if length.full:
                    break
        if not flawed:
            break  # the model ended its reply, or the reply is full
        if said and attempt >= 2:
            break  # one good sentence or more: a second failed attempt ends the reply there
    if not said:
        yield fallback(style)


def fallback(style: Style) -> str:
    """What the echo says when the model wrote nothing worth keeping."""
    listener = f", {style.listener}" if style.listener else ""
    return f"I'm so glad you're here with me{listener}."
