"""What the language model is sent for an echo's reply."""

from __future__ import annotations

from backend.services import prompt

ECHO = {"name": "Rose", "persona_prompt": "A retired teacher from Leeds who loves her garden."}


def turn(role: str, content: str) -> dict:
    return {"role": role, "content": content}


def test_the_system_message_holds_the_persona_the_rules_and_the_memories():
    system = prompt.system_message(ECHO, ["She grew prize roses.", "She called everyone 'love'."])
    assert "You are Rose." in system and "Stay in character as Rose" in system
    assert "A retired teacher from Leeds who loves her garden." in system
    assert "- She grew prize roses.\n- She called everyone 'love'." in system
    assert "AI echo" in system and "not Rose themselves" in system  # honest when sincerely asked
    assert "no emoji" in system  # the words are spoken
    assert "Memories" not in prompt.system_message(ECHO, [])  # none chosen: no empty heading


def test_an_echo_without_a_name_or_persona_still_gets_the_rules():
    system = prompt.system_message({"name": "", "persona_prompt": ""}, [])
    assert "your loved one" in system and "About" not in system


def test_recent_turns_keep_the_newest_within_the_budget_oldest_first():
    history = [turn("user" if n % 2 == 0 else "assistant", f"message {n} " + "x" * 200) for n in range(40)]
    history.append(turn("user", "the new message"))
    turns = prompt.recent_turns(history, budget=300)
    assert turns[-1] == turn("user", "the new message")
    assert sum(prompt.tokens(t["content"]) for t in turns) <= 300
    numbers = [int(t["content"].split()[1]) for t in turns[:-1]]
    assert numbers == sorted(numbers) and numbers[-1] == 39  # the newest ones, in order
    assert turns[0]["role"] == "user"  # it starts with the person speaking


def test_the_message_being_answered_is_always_kept_even_when_long():
    history = [turn("user", "y" * 50000)]
    turns = prompt.recent_turns(history, budget=10)
    assert len(turns) == 1 and turns[0]["content"].endswith("\u2026")
    assert prompt.tokens(turns[0]["content"]) <= prompt.MESSAGE_TOKENS + 5


def test_build_puts_the_system_message_first():
    messages = prompt.build(ECHO, ["She grew prize roses."], [turn("user", "Hi Grandma")])
    assert messages[0]["role"] == "system" and messages[1:] == [turn("user", "Hi Grandma")]
