"""Cutting a streamed reply into sentences, and cleaning each for the voice."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.sentences import MAX_SENTENCE_CHARS, SentenceCutter, speakable


def cut(pieces: list[str]) -> list[str]:
    cutter = SentenceCutter()
    sentences = [s for piece in pieces for s in cutter.feed(piece)]
    return sentences + cutter.flush()


@pytest.mark.parametrize(
    "text, sentences",
    [
        ("Hello, love. How are you?", ["Hello, love.", "How are you?"]),
        ("Wonderful! Truly!! Really?!", ["Wonderful!", "Truly!!", "Really?!"]),
        ('She said "come in." Then we ate.', ['She said "come in."', "Then we ate."]),
        (
            "I saw Mr. Smith and Dr. Jones at St. Mary's. Lovely.",
            ["I saw Mr. Smith and Dr. Jones at St. Mary's.", "Lovely."],
        ),
        ("Well\u2026 I suppose so.", ["Well\u2026", "I suppose so."]),
        ("First line\nSecond line", ["First line", "Second line"]),
        ("It cost 3.50 that day. Yes.", ["It cost 3.50 that day.", "Yes."]),
        ("No ending at all", ["No ending at all"]),
        ("", []),
    ],
)
def test_sentences_are_cut_where_they_end(text, sentences):
    assert cut([text]) == sentences


@settings(max_examples=200, deadline=None)
@given(
    words=st.lists(st.sampled_from(["Hello", "love", "Mr.", "garden", "3.5", "roses", "\u2026", "well,"]), max_size=60),
    ends=st.lists(st.sampled_from([".", "!", "?", "", "", "\n"]), max_size=60),
    splits=st.lists(st.integers(1, 9), min_size=1, max_size=40),
)
def test_however_the_stream_is_split_the_words_come_out_whole_and_in_order(words, ends, splits):
    text = " ".join(w + (ends[i] if i < len(ends) else "") for i, w in enumerate(words))
    pieces, at = [], 0
    for size in splits * (len(text) // max(1, sum(splits)) + 1):
        if at >= len(text):
            break
        pieces.append(text[at : at + size])
        at += size
    sentences = cut(pieces)
    assert re.sub(r"\s+", "", "".join(sentences)) == re.sub(r"\s+", "", text)
    assert sentences == cut([text])  # the same sentences as when the text came at once
    assert all(s and len(s) <= MAX_SENTENCE_CHARS for s in sentences)


@pytest.mark.parametrize(
    "text, first",
    [
        ("Hello there, love, it is so good to hear you. Yes.", "Hello there,"),
        ("Oh my dear boy; how you have grown.", "Oh my dear boy;"),
        ("Hi, love. How are you?", "Hi, love."),  # a clause under 12 characters waits for the sentence
        ("Well, my dear friend \u2014 that is a story.", "Well, my dear friend \u2014"),
    ],
)
def test_the_first_piece_ends_at_its_first_clause_so_the_voice_starts_sooner(text, first):
    sentences = cut([text])
    assert sentences[0] == first
    assert re.sub(r"\s+", "", "".join(sentences)) == re.sub(r"\s+", "", text)


def test_a_very_long_sentence_is_cut_at_a_comma_so_speech_never_waits_long():
    long = "and then we walked along the river, " * 20
    sentences = cut([long])
    assert len(sentences) > 1 and all(len(s) <= MAX_SENTENCE_CHARS for s in sentences)
    assert all(s.endswith(",") for s in sentences[:-1])


@pytest.mark.parametrize(
    "sentence, spoken",
    [
        ("*smiles warmly* Hello, love.", "Hello, love."),
        ("Hello [laughs] love (softly).", "Hello love."),
        ("**Oh** my _dear_ boy!", "Oh my dear boy!"),
        (
            "I love you \U0001f60a\u2764\ufe0f so much \U0001f468\u200d\U0001f469\u200d\U0001f467!",
            "I love you so much!",
        ),
        ("See https://example.com/roses for photos.", "See for photos."),
        ("- Bread\n- Milk", "Bread Milk"),
        ("# Title", "Title"),
        ("`code` here", "code here"),
        ("*waves*", ""),
        ("\U0001f339\U0001f339", ""),
        ("...", ""),
    ],
)
def test_what_is_not_for_speaking_is_removed(sentence, spoken):
    assert speakable(sentence) == spoken
