"""The one formats table: what clients may ask for, checked once at the edge, and what stored names say."""

from __future__ import annotations

import pytest

from backend.errors import BadRequest
from backend.formats import FORMATS, format_of_name, output_format


@pytest.mark.parametrize(
    "asked, expected", [(None, "mp3"), ("", "mp3"), ("WAV", "wav"), (" opus ", "opus"), ("pcm", "pcm")]
)
def test_a_format_is_chosen_from_the_table(asked, expected):
    assert output_format(asked).name == expected


@pytest.mark.parametrize("asked", ["flac", "mp4", 3, ["mp3"], {"name": "mp3"}, "mp3\n"[:3] + "x"])
def test_anything_else_is_a_400_naming_the_choices(asked):
    with pytest.raises(BadRequest) as raised:
        output_format(asked)
    assert all(name in raised.value.message for name in FORMATS)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_stored_names_say_their_format(fmt):
    assert format_of_name(f"token.{FORMATS[fmt].extension}") is FORMATS[fmt]
