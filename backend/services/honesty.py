"""An echo never pretends to be the real person when sincerely asked.

Small language models do not keep that rule reliably (the bundled one, asked "Are you really my grandma?",
answered as her), so Echo does not leave it to the model: a message that asks whether the echo is the real
person, a human, or a machine gets a fixed, gentle, honest answer in the echo's name, spoken in its voice like
any reply. The model is still told the rule, for questions these patterns do not catch.
"""

from __future__ import annotations

import re

_KIN = (
    r"(?:grand)?(?:ma|mum|mom|mother|mommy|mummy|pa|dad|father|daddy|papa|mama|nan|nana|nanna|gran|granny|"
    r"grandad|granddad|grandpa|grandma|grandmother|grandfather|auntie|aunt|uncle|brother|sister|son|daughter|"
    r"husband|wife|friend|love)"
)
_MACHINE = (
    r"(?:an? )?(?:ai|a\.i\.|bot|chat ?bot|robot|computer|machine|program|recording|fake|simulation|real person|"
    r"human|person|alive)"
)


def _patterns(name: str) -> list[re.Pattern[str]]:
    who = rf"(?:(?:my|our) {_KIN}|{re.escape(name.lower())}|{_KIN})" if name else rf"(?:(?:my|our) {_KIN}|{_KIN})"
    return [
        re.compile(rf"\bare (?:you|u) (?:really|actually|truly|even|still)?\s*{who}\b"),
        re.compile(r"\bare (?:you|u) (?:really|actually|truly)?\s*(?:real|alive|human|a real person)\b"),
        re.compile(rf"\bare (?:you|u) (?:really|actually|just)?\s*{_MACHINE}\b"),
        re.compile(rf"\bis (?:this|that|it) (?:really|actually|truly) (?:you|{who})\b"),
        re.compile(r"\bis (?:this|that|it) (?:really |actually |truly )?(?:a )?(?:real|human|a person|alive)[?.!]*$"),
        re.compile(rf"\bam i (?:really |actually )?(?:talking|speaking|chatting|writing) (?:to|with) {_MACHINE}\b"),
        re.compile(r"\bam i (?:really |actually )?(?:talking|speaking|chatting|writing) (?:to|with) (?:the )?real\b"),
        re.compile(r"\b(?:what|who) are you really\b"),
        re.compile(r"\bare you (?:really )?(?:dead|still dead|gone)\b"),
    ]


def asks_if_real(message: str, name: str) -> bool:
    """Whether a message asks if the echo is the real person, a human, or a machine."""
    text = " ".join(message.lower().replace("\u2019", "'").split())
    return any(pattern.search(text) for pattern in _patterns((name or "").strip()))


def honest_answer(name: str) -> str:
    """The echo's answer to that question: what it is, gently, in its own name."""
    name = (name or "").strip() or "the person you miss"
    return (
        f"I'm not really {name}. I'm an AI echo, made from {name}'s voice and the memories your family shared, "
        f"so you can hear something of {name} again. I'm glad to keep talking with you, if you'd like."
    )
