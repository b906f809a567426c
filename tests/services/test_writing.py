"""The words of a reply: whole sentences, cleaned, few enough, checked; a small model guided and asked again."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.errors import LanguageModelError
from backend.providers.llm import CUT_SHORT
from backend.services import writing
from backend.services.writing import Style, checked, clean, flaw, guided

STYLE = Style(name="Walter", listener="Anna", relation="granddaughter", max_sentences=3, max_words=60,
              known=writing.known_words("Walter Anna granddaughter Dot married 1957 Duluth grandma"),
              kin={"granddaughter", "grandma"})  # fmt: skip


class Stream:
    """A model's stream that records whether it was closed (the model stops writing)."""

    def __init__(self, pieces):
        self.pieces = list(pieces)
        self.closed = False

    def __iter__(self):
        return self

    def __next__(self):
        if not self.pieces:
            raise StopIteration
        return self.pieces.pop(0)

    def close(self):
        self.closed = True


def words(text: str) -> list[str]:
    return [piece for piece in text.replace(" ", " \0").split("\0") if piece]


@pytest.mark.parametrize(
    "pieces, expected",
    [
        (
            words("I married Dot in 1957. We danced all night. And then"),
            ["I married Dot in 1957.", "We danced all night."],
        ),
        ([*words("I married Dot in 1957. We danced all"), CUT_SHORT], ["I married Dot in 1957."]),
        ([*words("It was a fine day!"), CUT_SHORT], ["It was a fine day!"]),
        (words("No full stop at the end"), ["No full stop at the end."]),  # the model ended it: whole, and said so
        (words("*smiles* Oh, Anna \U0001f60a. (softly) It is good."), ["Oh, Anna.", "It is good."]),
    ],
    ids=["unfinished", "cut-short", "cut-after-end", "ended-without-stop", "markup"],
)
def test_only_whole_speakable_sentences_are_kept(pieces, expected):
    assert list(checked(iter(pieces), STYLE)) == expected


def test_a_reply_stops_at_its_sentences_and_closes_the_model():
    stream = Stream(words("One. Two. Three. Four. Five."))
    assert list(checked(stream, STYLE)) == ["One.", "Two.", "Three."]
    assert stream.closed


def test_a_reply_stops_before_its_words_run_over():
    style = Style(name="Walter", max_sentences=10, max_words=12)
    text = "This first sentence has six words. This second one has six too. A third."
    assert list(checked(iter(words(text)), style)) == [
        "This first sentence has six words.",
        "This second one has six too.",
    ]


def test_a_very_long_reply_is_cut_at_a_sentence_under_the_cap():
    style = Style(name="Walter", max_sentences=1000, max_words=100000)
    sentence = "word " * 30 + "end."
    kept = list(checked(iter([sentence + " "] * 200), style))
    assert sum(len(s) + 1 for s in kept) <= writing.MAX_REPLY_CHARS and all(s.endswith("end.") for s in kept)


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_control_and_direction_characters_never_reach_the_reply(text):
    kept = " ".join(checked(iter([text, "."]), Style(name="Walter", max_sentences=100, max_words=1000)))
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F or c in "\u202e\u2066\u200b\ufeff" for c in kept)
    assert clean("a\x00b\u202ec\x1bd") == "abcd"


@pytest.mark.parametrize("bad", [5, None, ["a"], {"text": "x"}])
def test_a_piece_that_is_not_text_is_a_language_model_error(bad):
    with pytest.raises(LanguageModelError):
        list(checked(iter(["Hello. ", bad, "there."]), STYLE))


@pytest.mark.parametrize(
    "claim",
    [
        "Of course I'm real, Anna.",
        "I am a human, and I'm Walter.",
        "I'm not an AI, sweetheart.",
        "Yes, it's really me.",
    ],
)
def test_a_claim_to_be_human_is_replaced_by_the_honest_answer(claim):
    kept = list(checked(iter(words(f"Hello there. {claim} More words.")), STYLE))
    assert kept[0] == "Hello there." and "I'm not really Walter." in kept and "AI echo" in " ".join(kept)
    assert claim not in " ".join(kept)


@pytest.mark.parametrize(
    "sentence, reason",
    [
        ("Dear Anna, I am so sorry for your loss.", "letter"),
        ("I'm so sorry for your loss.", "letter"),
        ("As an AI language model, I cannot remember.", "assistant"),
        ("You were always my favourite grandson.", "relation"),
        ("I had two beautiful husbands.", "relation"),
        ("We married in 1962.", "number"),
        ("I went fishing with Rose on Sunday.", "name"),
        (
            "I married Dot in 1957 and we danced all night long, and we kept dancing and dancing and dancing "
            "until the sun came up over the lake and the band went home and the hall was empty and quiet and "
            "the stars were out.",
            "too_long",
        ),
        ("I married Dot in 1957 at the church.", "repeated"),
    ],
)
def test_flawed_sentences_are_named(sentence, reason):
    style = Style(**{**STYLE.__dict__, "earlier": ["I married Dot in 1957 at the church."]})
    assert flaw(sentence, style) == reason


@pytest.mark.parametrize(
    "sentence",
    ["I married Dot in 1957.", "Grandma and I loved Duluth, Anna.", "You were my favourite granddaughter.",
     "On Sunday we went to church."],
)  # fmt: skip
def test_good_sentences_pass(sentence):
    assert flaw(sentence, STYLE) is None


def test_a_guided_model_starts_from_echos_sentence_and_is_asked_again_after_a_flaw():
    asked = []
    answers = iter([
        Stream(words("Dear Anna, how are you?")),  # flawed: a letter
        Stream(words("We danced all night. I had two husbands.")),  # the second is flawed
        Stream(words("Grandma wore blue.")),
    ])  # fmt: skip

    def ask(prefix, attempt):
        asked.append((prefix, attempt))
        return next(answers)

    kept = list(guided(ask, STYLE, ["I married Dot in 1957."]))
    assert kept == ["I married Dot in 1957.", "We danced all night."]
    assert asked == [("I married Dot in 1957. ", 1), ("I married Dot in 1957. ", 2)]


def test_a_guided_model_that_writes_nothing_good_gets_a_short_kind_line():
    def ask(prefix, attempt):
        return Stream(words("Dear Anna, I am sorry for your loss."))

    assert list(guided(ask, STYLE)) == ["I'm so glad you're here with me, Anna."]
