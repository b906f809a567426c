"""Following audio while it is written: one loop for both stores.

A follower reads what is new; when nothing is, it looks whether the audio is finished (then it reads the
rest and ends), abandoned part-way (it raises) or still being written. While the audio is silent it asks
whether the writer still lives, in one of two ways, both expressed by the source:

- a file lock (one machine): after ``check_after`` seconds of silence the source answers from the writer's
  lock, True or False (None where locks are not supported);
- a heartbeat (GridFS): the source answers True when the writer's progress mark was refreshed since it was
  last asked, None otherwise, and the writer counts as dead after ``dead_after`` seconds with neither new
  audio nor a refresh (by the follower's own clock, so clocks need not agree between machines).

A writer taken for dead is looked at once more before the follower gives up: it may have just finished.
Audio that stays silent for ``stall_timeout`` seconds ends the follow too, whatever its writer.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol


class State(enum.Enum):
    WRITING = "writing"
    FINISHED = "finished"  # complete and stored: ``read_rest`` has what was not read yet
    ABANDONED = "abandoned"  # the writer gave up: no audio will be stored under this name


class Growing(Protocol):
    """Audio being written, as one follower sees it."""

    @property
    def name(self) -> str: ...

    def read_new(self) -> Sequence[bytes]:
        """What was written since the last call, in order; empty when nothing was."""

    def state(self) -> State: ...

    def read_rest(self) -> Iterator[bytes]:
        """Once FINISHED: the stored audio beyond what ``read_new`` returned."""

    def writer_alive(self) -> bool | None:
        """True: the writer lives; False: it is gone; None: nothing new is known."""

    def close(self) -> None: ...


def follow(
    source: Growing,
    *,
    stall_timeout: float,
    poll: float,
    check_after: float,
    dead_after: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[bytes]:
    """The audio of ``source`` from its first byte to its last; raises OSError if it will not be completed."""
    last_growth = last_life = last_check = clock()
    suspect = False  # the writer looked dead: one more look before giving up
    try:
        while True:
            chunks = source.read_new()
            if chunks:
                yield from chunks
                last_growth, suspect = clock(), False
                continue
            state = source.state()
            if state is State.FINISHED:
                yield from source.read_rest()
                return
            if state is State.ABANDONED:
                raise OSError(f"the audio {source.name} was abandoned part-way")
            if suspect:
                raise OSError(f"the audio {source.name} was abandoned: its writer stopped")
            now = clock()
            if now - last_growth > stall_timeout:
                raise OSError(f"the audio {source.name} stopped growing")
            if now - max(last_growth, last_life, last_check) >= check_after:
                last_check = now
                alive = source.writer_alive()
                if alive:
                    last_life = now
                silent_for = now - max(last_growth, last_life)
                suspect = alive is False or (dead_after is not None and silent_for > dead_after)
                if suspect:
                    continue
            sleep(poll)
    finally:
        source.close()
