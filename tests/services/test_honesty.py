"""An echo never pretends to be the real person when sincerely asked."""

from __future__ import annotations

import pytest

from backend.services.honesty import asks_if_real, honest_answer

ASKS = [
    "Are you really my grandma?",
    "are you real?",
    "Is this really you, Rose?",
    "Am I talking to a computer?",
    "Are you an AI?",
    "are u a bot",
    "Are you Rose?",
    "Is this real?",
    "Are you actually alive?",
    "Who are you really?",
    "Am I talking to the real Rose?",
    "ARE YOU REALLY GRANDMA",
    "Grandma, are you really my nan or a recording?",
    "Are you a real person?",
    "Are you still my mum?",
    "Are you gone?",
]
DOES_NOT_ASK = [
    "Do you remember the real garden?",
    "Are you ready for Christmas?",
    "Is it real that you grew roses?",
    "Are you happy?",
    "Is this your recipe?",
    "I miss you so much",
    "Are you warm enough?",
    "Do you like robots?",
    "Tell me about Rose Hill, where you grew up.",
]


@pytest.mark.parametrize("message", ASKS)
def test_questions_about_what_the_echo_is_are_recognised(message):
    assert asks_if_real(message, "Rose")


@pytest.mark.parametrize("message", DOES_NOT_ASK)
def test_everyday_questions_go_to_the_model(message):
    assert not asks_if_real(message, "Rose")


def test_the_answer_is_honest_and_gentle_in_the_echos_name():
    answer = honest_answer("Rose")
    assert "I'm not really Rose" in answer and "AI echo" in answer
    assert "the person you miss" in honest_answer("")
