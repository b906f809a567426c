"""The local engine's text: sentences, and long sentences split at clause marks (or spaces), so speech starts early."""

from __future__ import annotations

import pytest

from backend.providers.local.text import split_text


def test_split_text_sentences_and_long_clauses():
    assert split_text("One. Two?  Three!\nFour") == ["One.", "Two?", "Three!", "Four"]
    long = ", ".join(["a clause of several words"] * 20) + "."
    pieces = split_text(long, max_chars=80)
    assert len(pieces) > 1 and all(len(p) <= 80 for p in pieces)
    assert " ".join(pieces) == long
    assert split_text("   ") == []


@pytest.mark.parametrize(
    ("text", "pieces"),
    [
        ("Dr. Smith came. He left.", ["Dr. Smith came.", "He left."]),
        ("Mr. and Mrs. Jones arrived.", ["Mr. and Mrs. Jones arrived."]),
        ("Bring fruit, e.g. apples. And bread.", ["Bring fruit, e.g. apples.", "And bread."]),
        ("Wait... what?! OK", ["Wait...", "what?!", "OK"]),
        ('She said "yes." Then left.', ['She said "yes."', "Then left."]),
        ("Hello there\n\n  New paragraph", ["Hello there", "New paragraph"]),
        ("", []),
    ],
    ids=["title", "two-titles", "e.g.", "punctuation-runs", "closing-quote", "paragraphs", "empty"],
)
def test_sentences_end_at_their_marks_but_not_after_an_abbreviation(text, pieces):
    assert split_text(text) == pieces


@pytest.mark.parametrize(
    ("max_chars", "pieces"),
    [
        (15, ["xxxxxxxxxx", "yyyyyyyyyy", "zzzzzzzzzz"]),
        (21, ["xxxxxxxxxx yyyyyyyyyy", "zzzzzzzzzz"]),
        (32, ["xxxxxxxxxx yyyyyyyyyy zzzzzzzzzz"]),
    ],
)
def test_a_long_sentence_without_clause_marks_is_split_at_spaces(max_chars, pieces):
    assert split_text("xxxxxxxxxx yyyyyyyyyy zzzzzzzzzz", max_chars=max_chars) == pieces


def test_clause_marks_are_preferred_to_spaces_and_kept_with_their_clause():
    assert split_text("first part; second part: third part, fourth", max_chars=25) == [
        "first part; second part:",
        "third part, fourth",
    ]
