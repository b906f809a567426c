"""What the language model is sent for an echo's reply: who it is, what the family told it, the recent talk.

The system message holds the persona prompt, the rules every echo keeps (stay in character, answer briefly and
warmly, keep to the memories, say honestly that it is an AI echo when sincerely asked, write only words to be
spoken) and the memories chosen for this message. Then come the most recent turns of the conversation, as many
as fit the history budget, oldest first, ending with the person's new message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

HISTORY_TOKENS = 900  # the recent conversation, at most (the bundled model reads 2,048 tokens in all)
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


def tokens(text: str) -> int:
    """An estimate of the tokens a text takes (a few for the message's own framing)."""
    return len(text) // CHARS_PER_TOKEN + 4


def system_message(echo: dict[str, Any], memories: Sequence[str]) -> str:
    name = (echo.get("name") or "your loved one").strip()
    parts = [RULES.format(name=name)]
    persona = (echo.get("persona_prompt") or "").strip()
    if persona:
        parts.append(f"About {name}, in the family's words:\n{persona}")
    if memories:
        listed = "\n".join(f"- {memory.strip()}" for memory in memories)
        parts.append(f"Memories the family shared that may help with this message:\n{listed}")
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
        role = "assistant" if message.get("role") == "assistant" else "user"
        content = _shortened(str(message.get("content", "")))
        cost = tokens(content)
        if turns and used + cost > budget:
            break
        turns.append({"role": role, "content": content})
        used += cost
    turns.reverse()
    while turns and turns[0]["role"] == "assistant" and len(turns) > 1:  # start with the person speaking
        turns.pop(0)
    return turns


def build(echo: dict[str, Any], memories: Sequence[str], history: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """The chat messages for the model: the system message, then the recent turns."""
    return [{"role": "system", "content": system_message(echo, memories)}, *recent_turns(history)]
