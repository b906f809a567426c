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


# -- in any wording: patterns and meaning together (tests/data/honesty_messages.json, written apart from the
# examples the meaning check compares with) ---------------------------------------------------------------

import json  # noqa: E402
from pathlib import Path  # noqa: E402

from backend.providers.embeddings import LocalEmbedder  # noqa: E402
from backend.services.honesty import Honesty, claims_to_be_real  # noqa: E402

SET = json.loads((Path(__file__).parent.parent / "data" / "honesty_messages.json").read_text())
assert len(SET["sincere"]) >= 40 and len(SET["ordinary"]) >= 20


@pytest.fixture(scope="module")
def by_meaning():
    return Honesty(LocalEmbedder())


@pytest.mark.parametrize("message", SET["sincere"])
def test_sincere_questions_in_any_wording_are_recognised(by_meaning, message):
    assert by_meaning.asks_if_real(message, SET["name"])


@pytest.mark.parametrize("message", SET["ordinary"])
def test_ordinary_messages_with_the_same_words_are_not(by_meaning, message):
    assert not by_meaning.asks_if_real(message, SET["name"])


def test_meaning_finds_what_patterns_miss():
    patterns_only = Honesty(None)
    missed = [m for m in SET["sincere"] if not patterns_only.asks_if_real(m, SET["name"])]
    assert missed  # the set holds wordings no pattern knows, which the meaning check above catches


@pytest.mark.parametrize(
    "sentence",
    ["I am a human, and I'm Rose.", "I'm real, love.", "Of course I'm alive!", "I am not an AI.",
     "I'm really Rose, dear.", "Yes, it's really me.", "I'm a real person, just like you.",
     "i am not a computer program", "This is really Rose talking."],
)  # fmt: skip
def test_a_reply_claiming_to_be_human_or_the_person_is_caught(sentence):
    assert claims_to_be_real(sentence, "Rose")


@pytest.mark.parametrize(
    "sentence",
    ["I'm really proud of you.", "I am so happy you came.", "I'm real glad, love.", "I was alive with joy that day.",
     "I'm not an early riser.", "Rose was my mother's name too.", "I'm an AI echo of Rose."],
)  # fmt: skip
def test_ordinary_sentences_of_a_reply_are_not(sentence):
    assert not claims_to_be_real(sentence, "Rose")


class Broken:
    name = "broken"

    def queries(self, texts):
        from backend.errors import EmbeddingsUnavailable

        raise EmbeddingsUnavailable()


def test_an_embedding_model_that_cannot_run_leaves_the_patterns_answering():
    check = Honesty(Broken())
    assert check.asks_if_real("Are you a real person?", "Rose")
    assert not check.asks_if_real("I miss you", "Rose")
