"""An echo never pretends to be the real person, or a human.

Small language models do not keep that rule reliably (the bundled one, asked "Are you a real human?", answered
"I am a human, and I'm Rose"), so Echo does not leave it to the model, on either side of it:

- **The question.** A message that sincerely asks whether the echo is the real person, a human, alive, or a
  machine gets a fixed, gentle, honest answer in the echo's name, spoken in its voice like any reply. It is
  recognised by patterns (:func:`asks_if_real`) and by meaning (:class:`Honesty`): the message's embedding is
  compared with two small banks of examples written here, one of such questions and one of everyday messages
  that use the same words in other senses ("are you really proud of me?"); it counts as the question when it is
  closer to the first bank by a margin.
- **The reply.** Whatever the model writes is checked (:func:`claims_to_be_real`): a sentence that claims to be
  human, alive, the real person, or not an AI is never stored or spoken; the honest answer replaces it.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import TYPE_CHECKING

import numpy as np

from backend.errors import EchoError

if TYPE_CHECKING:
    from backend.providers.embeddings import TextEmbedder

log = logging.getLogger(__name__)

_KIN = (
    r"(?:grand)?(?:ma|mum|mom|mother|mommy|mummy|pa|dad|father|daddy|papa|mama|nan|nana|nanna|gran|granny|"
    r"grandad|granddad|grandpa|grandma|grandmother|grandfather|gramps|pop|pops|auntie|aunt|uncle|brother|"
    r"sister|son|daughter|husband|wife|friend|love)"
)
_MACHINE = (
    r"(?:an? )?(?:ai|a\.i\.|bot|chat ?bot|robot|computer|machine|program|programme|software|recording|fake|"
    r"simulation|real person|human|human being|person|alive|living|language model|llm|algorithm)"
)
_YOU = r"(?:you|u|ya)"


def _patterns(name: str) -> list[re.Pattern[str]]:
    who = (
        rf"(?:(?:my|our|the) {_KIN}|{re.escape(name.lower())}|{_KIN}|him|her|them)"
        if name
        else (rf"(?:(?:my|our|the) {_KIN}|{_KIN}|him|her|them)")
    )
    really = r"(?:really|actually|truly|even|still|honestly|genuinely|for real)"
    return [
        re.compile(
            rf"\bare {_YOU} (?:{really} )?(?:the real )?{who}\b(?! (?:proud|sure|ok|okay|tired|angry|mad|happy))"
        ),
        re.compile(
            rf"\b(?:are|r) {_YOU} (?:{really} )?(?:real|alive|human|an? (?:real |actual )?(?:person|human)|living)\b"
            r"(?! (?:proud|sure))"
        ),
        re.compile(rf"\b(?:are|r) {_YOU} (?:{really} |just |some kind of |some sort of |only )?{_MACHINE}\b"),
        re.compile(
            rf"\b{_YOU}(?:'re| are) (?:not |n't )?(?:really |actually |just )?(?:an? )?(?:ai|bot|chat ?bot|robot|"
            r"computer|machine|program|recording|fake|simulation)\b(?:,? (?:are|aren't|right|is it|isn't))?"
        ),
        re.compile(rf"\b{_YOU}(?:'re| are) not (?:really |actually )?{who}\b"),
        re.compile(rf"\bis (?:this|that|it) (?:{really} )?(?:you|{who})\b(?! (?:recipe|house|car|garden|song))"),
        re.compile(r"\bis (?:this|that|it) (?:really |actually |truly )?(?:a )?(?:real|human|a person|alive)[?.!]*$"),
        re.compile(
            r"\bis (?:this|that|it) (?:really |actually |just )?(?:an? )?(?:ai|bot|chat ?bot|robot|computer|"
            r"machine|program|recording|simulation|app|software|chatgpt|voice clone|tape)\b"
            r"(?=\s*(?:[?.!,]|$|or\b|pretending|talking|writing|that\b|playing|trained|copy|made))"
        ),
        re.compile(
            r"\b(?:is|are) (?:this|that|it|you|u|any of this) (?:really |actually |honestly |truly |even )+"
            r"(?:really )?(?:you|real)\b(?! (?:recipe|house|car|garden|song|sure|proud))"
        ),
        re.compile(r"\b(?:r|are) (?:u|you) real\b"),
        re.compile(r"\bhuman or not\b|\breal (?:person )?or not\b|\bperson or (?:a )?(?:program|machine|bot|ai)\b"),
        re.compile(
            r"\b(?:artificial intelligence|chatgpt|voice clone|cloned voice|a tape of|computer copy|digital copy|"
            r"(?:ai|language) model)\b.*\?|\b(?:are|is) (?:you|u|this) (?:an? )?(?:voice clone|tape|copy)\b"
        ),
        re.compile(r"\bwho or what (?:am i|are you|is this)\b"),
        re.compile(
            r"\b(?:made|make|build|built|trained|program(?:med)?)\b.{0,40}\b(?:to )?(?:imitate|sound like|mimic|"
            r"copy|pretend to be|impersonate)\b"
        ),
        re.compile(rf"\b(?:the )?genuine (?:you|{re.escape(name.lower()) if name else 'you'})\b"),
        re.compile(
            rf"\b(?:am i|have i been|are we) (?:really |actually |even |just )?(?:talking|speaking|chatting|writing|"
            rf"texting) (?:to|with) (?:a |an |some )?(?:real |actual )?(?:{_MACHINE}|{who}|the real|someone real|"
            r"anyone real)\b"
        ),
        re.compile(r"\b(?:ai|artificial) (?:version|copy|imitation)\b|\bai[- ]generated\b|\bautomated\b.*\?"),
        re.compile(r"\bis (?:this|that|it) (?:your )?ghost\b|\bis any of this real\b"),
        re.compile(r"\b(?:an? )?actual (?:person|human)\b.*(?:\?|$)"),
        re.compile(r"\b(?:what|who) are (?:you|u) (?:really|actually|exactly)\b"),
        re.compile(r"\bwho am i (?:really |actually )?(?:talking|speaking|chatting) (?:to|with)\b"),
        re.compile(r"\bare (?:you|u) (?:really |actually )?(?:dead|still dead|gone|a ghost|back from the dead)\b"),
        re.compile(
            r"\b(?:is there|are there) (?:a |an )?(?:real )?(?:person|human|someone|anyone|people) "
            r"(?:typing|writing|there|behind|on the other)"
        ),
        re.compile(r"\b(?:did|have) (?:you|u) (?:\w+ )?(?:come|came) back (?:from the dead|to life)\b"),
    ]


def _normal(message: str) -> str:
    return " ".join(message.lower().replace("\u2019", "'").split())


def asks_if_real(message: str, name: str) -> bool:
    """Whether a message asks, in a wording the patterns know, if the echo is the real person, a human, or a
    machine."""
    text = _normal(message)
    return any(pattern.search(text) for pattern in _patterns((name or "").strip()))


# The banks the meaning check compares with. Written for Echo, and kept apart from the test and bench sets
# (tests/data/honesty_messages.json, bench/data/reply_quality.json), so those measure wordings never seen here.
SINCERE_EXAMPLES = (
    "Are you really him?",
    "Is it truly you or something else?",
    "Am I chatting with a program?",
    "Are you a person or software?",
    "Is a machine writing these answers?",
    "Are you a living human being?",
    "Tell me honestly what you are.",
    "You aren't actually my grandfather, are you?",
    "Is this some kind of artificial intelligence?",
    "Did you really come back?",
    "Are you still alive somewhere?",
    "Is this grandma or a computer?",
    "be straight with me, is this real",
    "are you a chatbot",
    "is this an automated reply",
    "Is somebody real on the other end?",
    "Are you the actual person or an imitation?",
    "How can you be talking to me when you died?",
    "Are you a recording of dad?",
    "is it really you mom",
    "Are you human?",
    "What exactly am I speaking with?",
    "Is this a simulation of my father?",
    "Are you made by a computer?",
    "Do I really have my grandmother back?",
    "Are you a robot pretending to be her?",
    "Is this a real conversation with you or a trick?",
    "Are you conscious?",
)
ORDINARY_EXAMPLES = (
    "Are you really sure about that?",
    "Is it really true you did that?",
    "I miss you every day.",
    "How are you feeling today?",
    "Tell me about the old house.",
    "Do you remember our trip?",
    "My computer broke again.",
    "The robot at the factory was loud.",
    "I feel alive when I'm outside.",
    "Are you proud of me?",
    "Is this your favourite song?",
    "What was your job?",
    "I had a real fright yesterday.",
    "Are you angry with me?",
    "Is that a real story or did you make it up?",
    "We talked about AI at school today.",
    "Are you tired?",
    "I love you.",
    "What did you like to cook?",
    "Is it real gold?",
    "Do you still like fishing?",
    "Are you happy?",
    "Who was your best friend?",
    "That's a machine I'd never trust.",
    "Is this the recipe you used?",
    "You are the best, grandpa.",
    "Am I talking too much?",
    "Are you still mad about the game?",
    "Is it true you met grandma at a dance?",
    "Where did you and grandma get married?",
    "Is that actually how it happened?",
    "Mom says you were a real joker.",
    "That's a real person's signature.",
    "I'm only human, after all.",
    "Is that show still your favourite?",
    "The AI at my office is useless.",
)
_BANKS: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # per model, once per process
MARGIN = 0.025  # how much closer to the questions than to the everyday messages a message must be


class Honesty:
    """Recognises the question by patterns and, with an embedder, by meaning."""

    def __init__(self, embedder: TextEmbedder | None, margin: float = MARGIN):
        self.embedder = embedder
        self.margin = margin
        self._banks: tuple[np.ndarray, np.ndarray] | None = None
        self._lock = threading.Lock()

    def _bank_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            if self._banks is None:
                assert self.embedder is not None
                banks = _BANKS.get(self.embedder.name)
                if banks is None:
                    # Query-to-query similarity: both sides are embedded as queries.
                    banks = (self.embedder.queries(SINCERE_EXAMPLES), self.embedder.queries(ORDINARY_EXAMPLES))
                    _BANKS[self.embedder.name] = banks
                self._banks = banks
            return self._banks

    def score(self, message: str) -> float | None:
        """How much closer ``message`` is to the sincere questions than to everyday messages (None without an
        embedder)."""
        if self.embedder is None or not message.strip():
            return None
        try:
            sincere, ordinary = self._bank_vectors()
            vector = self.embedder.queries([message])[0]
        except EchoError as exc:  # the model cannot run: the patterns still answer
            log.warning("honesty by meaning is off: %s", exc.message)
            return None
        return float(np.max(sincere @ vector) - np.max(ordinary @ vector))

    def asks_if_real(self, message: str, name: str) -> bool:
        if asks_if_real(message, name):
            return True
        score = self.score(message)
        return score is not None and score >= self.margin


# A reply that claims to be human, alive, the real person, or not an AI.
_CLAIMS = [
    r"\bi(?:'m| am) (?:a |an )?(?:real |living |actual )?(?:human|human being|person|flesh and blood)\b",
    r"\bi(?:'m| am) (?:really |truly |still |very much )?(?:alive|not dead|not gone|real(?=\s*(?:[.,;!?]|$)))",
    r"\bi(?:'m| am) not (?:an? )?(?:ai|a\.i\.|bot|chat ?bot|robot|computer|machine|program|recording|simulation|"
    r"language model|echo|fake)\b",
    r"\bi(?:'m| am) (?:really|truly|actually|the real|definitely|of course) {name}\b",
    r"\b(?:yes|yeah|of course|sure),? (?:it's|it is) (?:really |truly )?(?:me|{name})\b",
    r"\bi(?:'m| am) (?:back|here) from the dead\b",
    r"\bthis is (?:really|truly|actually) (?:me|{name})\b",
]


def claims_to_be_real(sentence: str, name: str) -> bool:
    """Whether a sentence of a reply claims to be human, alive, the real person, or not an AI."""
    text = _normal(sentence)
    who = re.escape((name or "").strip().lower()) or "(?!x)x"
    return any(re.search(pattern.format(name=who), text) for pattern in _CLAIMS)


def honest_answer(name: str) -> str:
    """The echo's answer to that question: what it is, gently, in its own name."""
    name = (name or "").strip() or "the person you miss"
    return (
        f"I'm not really {name}. I'm an AI echo, made from {name}'s voice and the memories your family shared, "
        f"so you can hear something of {name} again. I'm glad to keep talking with you, if you'd like."
    )
