"""A memory said in the echo's own first person, and the person it talks with as "you"."""

from __future__ import annotations

import pytest

from backend.services.grounding import asks_about_the_past, grounded_sentence, pronouns


@pytest.mark.parametrize(
    "memory, said",
    [
        ("He married Ruth in 1962.", "I married Ruth in 1962."),
        ("Joe's boat was called the Mary Ellen.", "My boat was called the Mary Ellen."),
        ("He hates cilantro.", "I hate cilantro."),
        ("Joe always says the lake is cold.", "I always say the lake is cold."),
        ("Joe and Dot had three children.", "Dot and I had three children."),
        ("He taught Anna to fish when she was seven.", "I taught you to fish when you were seven."),
        ("Anna's first word was grandpa, and he cried.", "Your first word was grandpa, and I cried."),
        ("After the war he worked at the Ford plant.", "After the war I worked at the Ford plant."),
        ("Dot made him quit smoking in 1978.", "Dot made me quit smoking in 1978."),
        ("Grandpa Joe kept candy in his pocket.", "I kept candy in my pocket."),
        ("His favourite song was Moon River, and he hummed it.", "My favourite song was Moon River, and I hummed it."),
        ("The blue bike was his.", "The blue bike was mine."),
    ],
)
def test_a_memory_about_him_is_said_as_his_own(memory, said):
    assert grounded_sentence(memory, "", name="Joe", pronoun="he", listener="Anna") == said


@pytest.mark.parametrize(
    "memory, said",
    [
        ("She grew prize roses.", "I grew prize roses."),
        ("Rose gave her sister the recipe.", "I gave my sister the recipe."),
        ("Her husband built the shed for her.", "My husband built the shed for me."),
    ],
)
def test_a_memory_about_her_is_said_as_her_own(memory, said):
    assert grounded_sentence(memory, "", name="Rose", pronoun="she") == said


def test_a_memory_that_does_not_speak_of_the_person_is_not_put_in_their_mouth():
    assert grounded_sentence("Michael became a teacher in Fargo.", "", name="Walter", pronoun="he") is None


def test_the_sentence_of_a_long_memory_that_answers_is_chosen():
    memory = "He loved the lake. His boat was called the Mary Ellen. He sold it in 1990."
    said = grounded_sentence(memory, "What was your boat called?", name="Joe", pronoun="he")
    assert said == "My boat was called the Mary Ellen."


def test_the_pronoun_is_the_one_the_family_uses():
    assert pronouns(["He loved boats.", "His dog was Rusty."]) == "he"
    assert pronouns(["She grew roses.", "Her garden was big."]) == "she"
    assert pronouns(["Loved boats."]) == "they"


@pytest.mark.parametrize(
    "message, past",
    [("What was your dog called?", True), ("Do you remember the lake?", True), ("Where did you work?", True),
     ("Tell me about your wedding", True), ("How are you?", False), ("I miss you", False),
     ("Are you tired?", False)],
)  # fmt: skip
def test_questions_about_the_echos_life_are_told_apart(message, past):
    assert asks_about_the_past(message) is past
