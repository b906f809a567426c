"""What every audio store (files, GridFS) does alike: tests imported by each store's test module, which
provides the ``store`` fixture."""

from __future__ import annotations

import pytest


def test_a_follower_of_audio_given_up_part_way_raises(store):
    out = store.new_output("mp3")
    out.write(b"ID3")
    follower = store.follow_output(out.name, poll=0.01)
    assert next(follower) == b"ID3"
    out.discard()
    with pytest.raises(OSError, match="abandoned part-way"):
        next(follower)
