"""A memory said in the echo's own voice: the family writes memories about the person ("He married Ruth in
1962", "Walter's dog was called Duke"); when one answers a question, the echo says it in the first person ("I
married Ruth in 1962", "My dog was called Duke"), and speaks of the person it talks with as "you" ("He taught
Anna to fish" → "I taught you to fish").

This is how the bundled model, a small one, is kept true to the memories: the reply starts with the memory,
rewritten, and the model goes on from there in character (``services/writing.py``). The rewrite is plain word
rules over the memory's most relevant sentence; it is conservative: a sentence it cannot place (no mention of
the person) is not used as an answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_KIN_TITLES = (
    "grandpa|grandma|granddad|grandad|grandfather|grandmother|gramps|nana|nan|nanna|granny|gran|papa|mama|pop|"
    "dad|daddy|mom|mum|mother|father|uncle|aunt|auntie|great-grandpa|great-grandma"
)
_ADVERBS = {
    "always", "never", "often", "usually", "still", "also", "really", "once", "even", "just", "sometimes", "rarely",
    "later", "then", "finally", "proudly", "only", "hardly", "barely", "apparently", "famously", "secretly",
}  # fmt: skip
_FIRST_PERSON = {"is": "am", "was": "was", "has": "have", "does": "do", "doesn't": "don't", "isn't": "am not",
                 "hasn't": "haven't", "wasn't": "wasn't", "'s": "'m"}  # fmt: skip
_SECOND_PERSON = {"is": "are", "was": "were", "has": "have", "does": "do", "doesn't": "don't", "isn't": "aren't",
                  "hasn't": "haven't", "wasn't": "weren't", "'s": "'re"}  # fmt: skip
_BEFORE_OBJECT = {
    "to", "with", "for", "at", "by", "from", "about", "of", "on", "let", "made", "make", "makes", "gave", "give",
    "told", "tell", "saw", "see", "love", "loved", "loves", "help", "helped", "ask", "asked", "called", "call",
    "like", "liked", "miss", "missed", "than", "taught", "teach", "sent", "send", "bought", "buy", "took", "take",
}  # fmt: skip
_NOT_VERBS = {"this", "his", "its", "us", "yes", "was", "has", "is", "as", "less", "plus", "thus", "always",
              "sometimes", "perhaps", "towards", "afterwards", "across", "unless", "besides"}  # fmt: skip
_QUESTION = re.compile(
    r"\b(?:remember|recall|what (?:was|were|did|kind|sort|type|year|song|food)|who (?:was|were|did)|when did|"
    r"where did|where (?:was|were)|how did|which|favou?rite|name of|called|used to|did you|were you|was your|"
    r"had you|have you ever|tell me about|what's the story|how old|how many|how long|why did|what did)\b"
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")


def asks_about_the_past(message: str) -> bool:
    """Whether a message asks the echo about its life, its past or what it knew (a memory could answer it)."""
    text = " ".join(message.lower().replace("\u2019", "'").split())
    return bool(_QUESTION.search(text)) and ("?" in text or text.startswith(("tell me", "remember", "what", "who")))


def pronouns(texts: Sequence[str]) -> str:
    """'he', 'she' or 'they': the pronoun the family uses for the person, by counting in their texts."""
    words = re.findall(r"[a-z']+", " ".join(texts).lower())
    he = sum(words.count(w) for w in ("he", "him", "his", "himself"))
    she = sum(words.count(w) for w in ("she", "her", "hers", "herself"))
    if he == she == 0:
        return "they"
    return "he" if he >= she else "she"


def _verb_for_i(word: str, table: dict[str, str]) -> str:
    low = word.lower()
    if low in table:
        return table[low]
    if low in _NOT_VERBS or len(low) < 3 or not low.endswith("s") or low.endswith(("ss", "us", "is")):
        return word
    if low.endswith("ies") and len(low) > 4:
        return word[:-3] + "y"
    if low.endswith(("ches", "shes", "xes", "zes", "sses", "oes")):
        return word[:-2]
    return word[:-1]


class FirstPerson:
    """Rewrites sentences about one person (``name``, with ``pronoun``) into their own first person, and the
    person they talk with (``listener``) into "you"."""

    def __init__(self, name: str, pronoun: str, listener: str = ""):
        first = (name or "").strip().split()[0] if (name or "").strip() else ""
        self.pronoun = pronoun
        names = [re.escape(first)] if first else []
        if len(first) > 4:
            names.append(re.escape(first[:4]))  # Walter → Walt, a common short form
        title = rf"(?:(?:{_KIN_TITLES})\s+)"
        if names:
            self._name = re.compile(rf"\b(?i:{title})?(?:{'|'.join(names)})\b")
        else:
            self._name = None
        listener_first = (listener or "").strip().split()[0] if (listener or "").strip() else ""
        self._listener = re.compile(rf"\b{re.escape(listener_first)}\b") if listener_first else None
        self._listener_pronoun = ""  # set by rewrite when the listener is mentioned

    def mentions(self, sentence: str) -> bool:
        """Whether the sentence speaks of the person (by name or, for 'he'/'she', by pronoun)."""
        if self._name is not None and self._name.search(sentence):
            return True
        words = {"he": r"\b(?:he|him|his)\b", "she": r"\b(?:she|her|hers)\b"}.get(self.pronoun)
        return bool(words and re.search(words, sentence, re.IGNORECASE))

    def rewrite(self, sentence: str) -> str:
        text = " ".join(sentence.split())
        if self._name is not None:
            # "Walt and Dot" / "Dot and Walter" as a subject → "Dot and I"; elsewhere "Dot and me".
            text = re.sub(rf"^{self._name.pattern}\s+and\s+([A-Z][\w']*)", r"\1 and I", text, flags=re.IGNORECASE)
            text = re.sub(rf"^([A-Z][\w']*)\s+and\s+{self._name.pattern}\b", r"\1 and I", text)
            text = self._name.sub("\u0000", text)  # a marker for the person, placed below
            text = re.sub(r"\u0000's\b", "my", text)
        text = self._pronouns(text)
        text = self._place_marker(text)
        if self._listener is not None:
            text = self._listener_to_you(text)
        text = re.sub(r"^I and ([A-Z][\w']*)", r"\1 and I", text)
        return _capitalise(text)

    def _pronouns(self, text: str) -> str:
        if self.pronoun == "he":
            text = re.sub(r"\bhimself\b", "myself", text, flags=re.IGNORECASE)
            text = re.sub(r"\bhis\b(?=\s*[.,;:!?]|\s*$)", "mine", text)
            text = re.sub(r"\bhis\b", "my", text)
            text = re.sub(r"\bHis\b", "My", text)
            text = re.sub(r"\bhim\b", "me", text)
            text = re.sub(r"\b[Hh]e\b", "\u0001", text)
        elif self.pronoun == "she":
            text = re.sub(r"\bherself\b", "myself", text, flags=re.IGNORECASE)
            text = re.sub(r"\bhers\b", "mine", text)
            # "her" before a noun-like word is "my"; before a preposition, punctuation or the end, "me".
            text = re.sub(r"\b[Hh]er\b(?=\s+(?:to|for|with|at|in|on|up|out|down|a|an|the|and|or|as|by|from|"
                          r"about|back|again|off|that|when|because|so)\b|\s*[.,;:!?]|\s*$)", "me", text)  # fmt: skip
            text = re.sub(r"\bher\b", "my", text)
            text = re.sub(r"\bHer\b", "My", text)
            text = re.sub(r"\b[Ss]he\b", "\u0001", text)
        return text

    def _place_marker(self, text: str) -> str:
        """The person's mentions: "I" as a subject (with the verb made to agree), "me" elsewhere."""
        out: list[str] = []
        tokens = re.split(r"([\u0000\u0001])", text)
        for i, token in enumerate(tokens):
            if token not in ("\u0000", "\u0001"):
                out.append(token)
                continue
            if token == "\u0001":  # "he"/"she": always a subject
                out.append("I")
                rest = tokens[i + 1] if i + 1 < len(tokens) else ""
                tokens[i + 1 : i + 2] = [_agree(rest, _FIRST_PERSON)]
                continue
            before = "".join(out).rstrip()
            previous = before.rsplit(None, 1)[-1].lower() if before else ""
            # The name is the subject unless a preposition or a verb comes just before it ("let Walter", "to him").
            subject = previous not in _BEFORE_OBJECT and not (previous.endswith("ed") and len(previous) > 3)
            if subject:
                out.append("I")
                rest = tokens[i + 1] if i + 1 < len(tokens) else ""
                tokens[i + 1 : i + 2] = [_agree(rest, _FIRST_PERSON)]
            else:
                out.append("me")
        return "".join(out)

    def _listener_to_you(self, text: str) -> str:
        assert self._listener is not None
        text = re.sub(rf"{self._listener.pattern}'s\b", "your", text)
        parts = self._listener.split(text)
        out = parts[0]
        for part in parts[1:]:
            before = out.rstrip()
            subject = not before or before.endswith((".", "!", "?", ";", ",", "and", "when", "because", "that"))
            out += "you" + (_agree(part, _SECOND_PERSON) if subject else part)
        if len(parts) > 1 and self.pronoun in ("he", "she"):
            # After the listener is named, the other pronoun is theirs ("when she was six" → "when you were six").
            other = "she" if self.pronoun == "he" else "he"
            head, _, tail = out.partition("you")
            obj, poss = ("her", "her") if other == "she" else ("him", "his")
            tail = re.sub(rf"\b{other}\b(\s+\w+)", lambda m: "you" + _agree(m.group(1), _SECOND_PERSON), tail)
            tail = re.sub(rf"\b{poss}\b(?=\s+[a-z])", "your", tail) if other == "he" else tail
            tail = re.sub(rf"\b{obj}\b", "you", tail)
            out = head + "you" + tail
        return out


def _agree(rest: str, table: dict[str, str]) -> str:
    """The verb after a new subject made to agree with it ("hates" → "hate"), skipping adverbs."""
    match = re.match(r"(\s*(?:(?:" + "|".join(_ADVERBS) + r")\s+)*)('s|[A-Za-z']+)", rest)
    if not match:
        return rest
    lead, word = match.group(1), match.group(2)
    if word == "'s":
        return table["'s"] + rest[match.end() :]
    return lead + _verb_for_i(word, table) + rest[match.end() :]


def _capitalise(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] if text else text


def best_sentence(memory: str, question_words: set[str]) -> str:
    """The sentence of a memory that shares most words with the question (the first on a tie)."""
    sentences = [s.strip() for s in _SENTENCE.split(memory.strip()) if s.strip()]
    if len(sentences) <= 1:
        return memory.strip()

    def shared(sentence: str) -> int:
        return len(set(re.findall(r"[a-z0-9']+", sentence.lower())) & question_words)

    return max(sentences, key=shared)


def grounded_sentence(memory: str, question: str, *, name: str, pronoun: str, listener: str = "") -> str | None:
    """The memory's answer to ``question`` in the person's first person, or None when the memory's sentence does
    not speak of the person (then it is not put in their mouth)."""
    words = set(re.findall(r"[a-z0-9']+", question.lower()))
    sentence = best_sentence(memory, words)
    voice = FirstPerson(name, pronoun, listener)
    if not voice.mentions(sentence):
        return None
    text = voice.rewrite(sentence)
    if not re.search(r"[.!?]['\"\u201d]?$", text):
        text += "."
    return text
