"""What the language model is sent for an echo's reply: who it is, who it talks with, what the family told it,
the recent talk.

For a model at an endpoint (:func:`build`) the system message holds the persona prompt, who the echo talks with,
the rules every echo keeps (stay in character, answer briefly and warmly, keep to the memories, say honestly
that it is an AI echo when sincerely asked, write only words to be spoken) and the memories chosen for this
message, most relevant first, as many as fit ``MEMORY_TOKENS``. Then come the most recent turns of the
conversation, as many as fit the history budget, oldest first, ending with the person's new message.

For the small bundled model (:func:`build_guided`) the prompt is laid out for speed and for a model that size:
a short system message that does not change from turn to turn, the recent turns, and the memories only in the
last turn, in the echo's own first person, next to the message they answer. llama.cpp then reuses everything
it computed for the turns before, so a reply's first words do not wait longer as the conversation grows;
the history it reads is bounded in tokens and moves on in steps (:class:`Window`), so that its start, and
with it what llama.cpp kept, stays the same for several turns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

HISTORY_TOKENS = 900  # the recent conversation, at most, for a model at an endpoint
GUIDED_HISTORY_TOKENS = 480  # for the bundled model (it reads 2,048 tokens in all, and each costs time)
MEMORY_TOKENS = 1000  # memories in an endpoint model's prompt, at most (most relevant first)
GUIDED_MEMORIES = 5  # memories in the bundled model's prompt (the right one is in the first 5 for 22 of 24
# questions of the bench, in the first 3 for 19); the one that answers is said first, in the echo's voice
MESSAGE_TOKENS = 300  # one earlier message, at most: a long one is shortened, not dropped
CHARS_PER_TOKEN = 4  # a rough rule for English; it only has to keep the prompt inside the model's context

RULES = """\
You are {name}. You are talking with your family, who miss you. Stay in character as {name} at all times.
Answer briefly, in one to three short sentences, warmly and in {name}'s own way of speaking.
Keep to what you know from your memories below and from this conversation. Never invent facts that \
contradict your memories; when you do not know something, say so kindly, as {name} would.
If someone sincerely asks whether you are really {name}, or a real person, tell them honestly and gently that \
you are an AI echo made from {name}'s voice and the memories the family shared, not {name} themselves.
Your words are spoken aloud: write only plain sentences, with no emoji, no asterisks, no stage directions and \
no lists."""


def talker(echo: dict[str, Any]) -> str:
    """Who the echo talks with, as a sentence for the prompt ("" when the family did not say)."""
    name = (echo.get("name") or "").strip() or "your loved one"
    listener = (echo.get("talking_with") or "").strip()
    relation = (echo.get("relation") or "").strip()
    if listener and relation:
        return (
            f"You are talking with {listener}, your {relation}. Call them {listener}, or by what {name} called "
            f"a {relation}; never by another name or relation."
        )
    if listener:
        return f"You are talking with {listener}. Call them {listener}, never by another name."
    if relation:
        return f"You are talking with your {relation}."
    return ""


def tokens(text: str) -> int:
    """An estimate of the tokens a text takes (a few for the message's own framing)."""
    return len(text) // CHARS_PER_TOKEN + 4


def system_message(echo: dict[str, Any], memories: Sequence[str]) -> str:
    name = (echo.get("name") or "your loved one").strip()
    parts = [RULES.format(name=name)]
    who = talker(echo)
    if who:
        parts.append(who)
    persona = (echo.get("persona_prompt") or "").strip()
    if persona:
        parts.append(f"About {name}, in the family's words:\n{persona}")
    chosen, used = [], 0
    for memory in memories:  # most relevant first, as many as fit
        cost = tokens(memory)
        if chosen and used + cost > MEMORY_TOKENS:
            break
        chosen.append(memory.strip())
        used += cost
    if chosen:
        listed = "\n".join(f"- {memory}" for memory in chosen)
        parts.append(f"Memories the family shared that may help with this message, most relevant first:\n{listed}")
    return "\n\n".join(parts)


def _shortened(text: str) -> str:
    limit = MESSAGE_TOKENS * CHARS_PER_TOKEN
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def recent_turns(history: Sequence[dict[str, Any]], budget: int = HISTORY_TOKENS) -> list[dict[str, str]]:
    """The newest messages that fit ``budget`` tokens, oldest first, as chat turns.

    ``history`` is the conversation oldest first and ends with the message being replied to, which is
    always kept (shortened if it must be). Turns of the same role in a row are kept as they are.
    """
    turns: list[dict[str, str]] = []
    used = 0
    for message in reversed(history):
        turn = _turn(message)
        cost = tokens(turn["content"])
        if turns and used + cost > budget:
            break
        turns.append(turn)
        used += cost
    turns.reverse()
    return _from_the_person(turns)


def _turn(message: dict[str, Any]) -> dict[str, str]:
    role = "assistant" if message.get("role") == "assistant" else "user"
    return {"role": role, "content": _shortened(str(message.get("content", "")))}


def _from_the_person(turns: list[dict[str, str]]) -> list[dict[str, str]]:
    """The turns from the first the person wrote (a chat starts with the person speaking)."""
    while turns and turns[0]["role"] == "assistant" and len(turns) > 1:
        turns.pop(0)
    return turns


def build(echo: dict[str, Any], memories: Sequence[str], history: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """The chat messages for the model: the system message, then the recent turns."""
    return [{"role": "system", "content": system_message(echo, memories)}, *recent_turns(history)]


GUIDED_RULES = """\
You are {name}. {who}
Reply as {name}, in the first person, with one or two short, warm sentences in plain spoken words."""
PERSONA_CHARS = 600  # of the persona, for the bundled model


class Window:
    """Where the history the bundled model reads starts, per conversation: it stays put while the turns since
    fit ``budget`` tokens, then moves on to leave about half of it, so the prompt's start (and what llama.cpp
    kept of it) changes once every several turns rather than at each."""

    def __init__(self, budget: int = GUIDED_HISTORY_TOKENS, size: int = 1000):
        self.budget = budget
        self.size = size
        self._starts: dict[Any, Any] = {}

    def turns(self, key: Any, history: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
        """The turns to send, oldest first; ``history`` ends with the message being replied to."""
        ids = [message.get("_id") for message in history]
        start = self._starts.get(key)
        if start in ids:
            kept = [_turn(message) for message in history[ids.index(start) :]]
            if sum(tokens(turn["content"]) for turn in kept) <= self.budget:
                return _from_the_person(kept)
        turns = recent_turns(history, self.budget // 2)
        first = len(history) - len(turns)
        if turns and 0 <= first < len(history):
            self._starts.pop(key, None)
            self._starts[key] = history[first].get("_id")
            while len(self._starts) > self.size:
                self._starts.pop(next(iter(self._starts)))
        return turns


def guided_system(echo: dict[str, Any]) -> str:
    name = (echo.get("name") or "your loved one").strip()
    parts = [GUIDED_RULES.format(name=name, who=talker(echo)).replace(" \n", "\n")]
    persona = " ".join((echo.get("persona_prompt") or "").split())
    if persona:
        parts.append(persona[:PERSONA_CHARS].rsplit(" ", 1)[0] if len(persona) > PERSONA_CHARS else persona)
    return "\n".join(parts)


def build_guided(echo: dict[str, Any], remembered: Sequence[str], turns: list[dict[str, str]]) -> list[dict[str, str]]:
    """The bundled model's messages: the unchanging system message, the recent ``turns`` (from
    :class:`Window`), and the memories (in the echo's first person) put into the last turn only."""
    messages = [{"role": "system", "content": guided_system(echo)}, *turns]
    if remembered and messages[-1]["role"] == "user":
        listed = " ".join(memory.strip() for memory in remembered)
        messages[-1] = {"role": "user", "content": f"(You remember: {listed})\n{messages[-1]['content']}"}
    return messages
