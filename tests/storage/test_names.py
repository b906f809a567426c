"""Stored audio goes by random names of a fixed shape: anything else is not ours."""

from __future__ import annotations

import pytest

from backend.formats import FORMATS
from backend.storage.names import (
    is_output_name,
    is_reference_key,
    new_output_name,
    new_reference_key,
)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_new_output_names_are_random_and_recognised(fmt):
    names = {new_output_name(fmt) for _ in range(50)}
    assert len(names) == 50 and all(is_output_name(n) and n.endswith(f".{fmt}") for n in names)


@pytest.mark.parametrize("extension", ["wav", "mp3", "m4a", "aac", "ogg", "webm", "flac"])
def test_new_reference_keys_are_random_and_recognised(extension):
    key = new_reference_key(extension)
    assert is_reference_key(key) and key != new_reference_key(extension)
    assert not is_output_name(key) or extension in FORMATS


@pytest.mark.parametrize(
    "name",
    ["../" + "a" * 30 + ".mp3", "a" * 30 + ".exe", "short.mp3", "a" * 30 + ".mp3/x", "a" * 65 + ".mp3", "", None, 7],
)
def test_anything_else_is_neither(name):
    assert not is_output_name(name) and not is_reference_key(name)
