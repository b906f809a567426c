"""The one loop that follows audio while it is written, driven by a scripted source and a fake clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import pytest

from backend.storage.follow import State, follow


class Clock:
    """Time that passes only when the follower sleeps (or a test says so)."""

    def __init__(self):
        self.now = 0.0
        self.slept = 0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept += 1
        self.now += seconds


class Scripted:
    """Audio written on a timeline: ``pieces`` appear at their times, the writer finishes (or gives up) at
    ``ends_at``, and ``alive(now)`` answers for its writer."""

    name = "scripted.mp3"

    def __init__(
        self,
        clock: Clock,
        pieces: Sequence[tuple[float, bytes]] = (),
        *,
        ends_at: float | None = None,
        ending: State = State.FINISHED,
        rest: bytes = b"",
        alive: Callable[[float], bool | None] = lambda now: True,
    ):
        self.clock = clock
        self.pieces = list(pieces)
        self.ends_at = ends_at
        self.ending = ending
        self.rest = rest
        self.alive = alive
        self.looks = 0  # calls of state()
        self.checks: list[float] = []  # when writer_alive() was asked
        self.looks_at_checks: list[int] = []
        self.closed = False

    def read_new(self) -> list[bytes]:
        due = [data for at, data in self.pieces if at <= self.clock.now]
        self.pieces = [(at, data) for at, data in self.pieces if at > self.clock.now]
        return due

    def state(self) -> State:
        self.looks += 1
        if self.ends_at is not None and self.clock.now >= self.ends_at:
            return self.ending
        return State.WRITING

    def read_rest(self) -> Iterator[bytes]:
        if self.rest:
            yield self.rest

    def writer_alive(self) -> bool | None:
        self.checks.append(self.clock.now)
        self.looks_at_checks.append(self.looks)
        return self.alive(self.clock.now)

    def close(self) -> None:
        self.closed = True


def run(source: Scripted, clock: Clock, **options) -> Iterator[bytes]:
    options.setdefault("stall_timeout", 60.0)
    options.setdefault("poll", 0.125)  # exact in binary: the fake clock's times compare exactly
    options.setdefault("check_after", 1.0)
    return follow(source, clock=clock, sleep=clock.sleep, **options)


def test_it_reads_the_audio_as_it_grows_then_the_rest_once_finished():
    clock = Clock()
    source = Scripted(clock, [(0, b"ID3"), (0.5, b"-one"), (2.0, b"-two")], ends_at=2.5, rest=b"-tail")
    assert list(run(source, clock)) == [b"ID3", b"-one", b"-two", b"-tail"]
    assert source.closed


def test_audio_abandoned_part_way_raises_after_what_was_written():
    clock = Clock()
    source = Scripted(clock, [(0, b"ID3")], ends_at=0.2, ending=State.ABANDONED)
    follower = run(source, clock)
    assert next(follower) == b"ID3"
    with pytest.raises(OSError, match="abandoned part-way"):
        next(follower)
    assert source.closed


def test_a_live_writer_that_stops_growing_ends_at_the_stall_timeout():
    clock = Clock()
    source = Scripted(clock, [(0, b"ID3")], alive=lambda now: True)
    follower = run(source, clock, stall_timeout=10.0)
    assert next(follower) == b"ID3"
    with pytest.raises(OSError, match="stopped growing"):
        next(follower)
    assert clock.now == 10.125  # the first look past the timeout
    assert source.checks == [float(second) for second in range(1, 11)]  # asked after each second of silence


def test_a_dead_writer_ends_the_follow_after_one_more_look():
    clock = Clock()
    source = Scripted(clock, [(0, b"ID3")], alive=lambda now: False)
    follower = run(source, clock)
    assert next(follower) == b"ID3"
    with pytest.raises(OSError, match="its writer stopped"):
        next(follower)
    assert source.checks == [1.0] and clock.now == 1.0  # after a second of silence, not the 60 s stall
    assert source.looks == source.looks_at_checks[0] + 1  # looked once more: it might have just finished


def test_a_writer_that_finished_just_before_its_lock_came_free_is_read_to_the_end():
    clock = Clock()
    # The lock is free at the check because the file was renamed into place at that very moment.
    source = Scripted(clock, [(0, b"ID3")], rest=b"-last", alive=lambda now: False)
    source.state = lambda: State.FINISHED if source.checks else State.WRITING
    assert b"".join(run(source, clock)) == b"ID3-last"
    assert source.checks == [1.0]


def test_a_writer_whose_heartbeat_stops_is_dead_after_dead_after_seconds():
    clock = Clock()
    beats = iter([True, None, None, True])  # two refreshes seen (at 0 and 0.375 s), then silence
    source = Scripted(clock, [(0, b"ID3")], alive=lambda now: next(beats, None))
    follower = run(source, clock, check_after=0.0, dead_after=5.0)
    assert next(follower) == b"ID3"
    with pytest.raises(OSError, match="its writer stopped"):
        next(follower)
    assert source.checks[3] == 0.375
    assert clock.now == 0.375 + 5.125  # the first look more than five seconds after the last refresh


def test_a_silent_writer_with_a_heartbeat_keeps_its_follower():
    clock = Clock()
    # Nothing new for 20 s, but the mark is refreshed every second: then the audio ends normally.
    source = Scripted(
        clock,
        [(0, b"ID3"), (20.0, b"-late")],
        ends_at=20.5,
        alive=lambda now: True if now == int(now) else None,
    )
    assert list(run(source, clock, check_after=0.0, dead_after=5.0)) == [b"ID3", b"-late"]


def test_new_audio_clears_a_suspicion():
    clock = Clock()

    def alive(now: float) -> None:
        if now > 1.0 and not delivered:  # the heartbeat looks stopped; the writer was only slow to refresh
            delivered.append(True)
            source.pieces.append((now, b"-more"))
        return None

    delivered: list[bool] = []
    source = Scripted(clock, [(0, b"ID3")], ends_at=1.5, alive=alive)
    assert list(run(source, clock, check_after=0.0, dead_after=1.0)) == [b"ID3", b"-more"]
    assert delivered


def test_without_any_way_to_tell_liveness_only_the_stall_timeout_ends_it():
    clock = Clock()
    source = Scripted(clock, [(0, b"ID3")], alive=lambda now: None)  # no file locks here
    follower = run(source, clock, stall_timeout=30.0)
    assert next(follower) == b"ID3"
    with pytest.raises(OSError, match="stopped growing"):
        next(follower)
    assert clock.now > 30.0


def test_steady_growth_never_asks_about_the_writer():
    clock = Clock()
    pieces = [(0.5 * i, bytes([i])) for i in range(40)]
    source = Scripted(clock, pieces, ends_at=20.0)
    assert len(list(run(source, clock))) == 40
    assert source.checks == []


def test_a_follower_that_stops_early_closes_its_source():
    clock = Clock()
    source = Scripted(clock, [(0, b"ID3"), (1, b"more")])
    follower = run(source, clock)
    assert next(follower) == b"ID3"
    follower.close()
    assert source.closed
