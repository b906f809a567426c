"""The local engine: the render pool (bounded concurrency, a bounded queue, busy when full), memory handed back
when idle, on a gated fake renderer and on the real piper engine."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from backend.providers.local import EngineBusy, LocalEngine, RenderPool
from tests.helpers import collect_stream

DEADLINE = 30.0  # generous: only a broken pool ever waits this long


def _wait_until(predicate, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.002)


class GatedEngine(LocalEngine):
    """An engine whose sentences are rendered by a fake that waits for the test's go-ahead and counts overlap."""

    sample_rate = 22050  # no model is loaded

    def __init__(self, **pool):
        super().__init__(**pool)
        self.gate = threading.Event()
        self.lock = threading.Lock()
        self.active = 0
        self.most_active = 0
        self.rendered: list[str] = []
        self.fail_on: str | None = None

    def _render_piece(self, piece, profile, rate):
        with self.lock:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        try:
            if not self.gate.wait(DEADLINE):
                raise AssertionError("the test never opened the gate")
            if piece == self.fail_on:
                raise RuntimeError("render failed")
            with self.lock:
                self.rendered.append(piece)
            return [np.full(100, 0.1, dtype=np.float32)]
        finally:
            with self.lock:
                self.active -= 1


def _drain(engine: LocalEngine, text: str, results: list, errors: list) -> None:
    try:
        results.append(len(list(engine.render(text, None))))
    except BaseException as exc:  # reported by the test
        errors.append(exc)


def test_pool_never_runs_more_renders_than_workers():
    engine = GatedEngine(workers=2, queue=10, queue_timeout=DEADLINE)
    results: list[int] = []
    errors: list[BaseException] = []
    threads = [
        threading.Thread(target=_drain, args=(engine, f"Request {i} first. Request {i} second.", results, errors))
        for i in range(6)
    ]
    for thread in threads:
        thread.start()
    _wait_until(lambda: engine.active == 2 and engine.pool.waiting == 4, "two render and four wait")
    assert engine.pool.running == 2
    engine.gate.set()
    for thread in threads:
        thread.join(DEADLINE)
    assert not errors and results == [2] * 6
    assert engine.most_active == 2  # never more than the pool's workers at once
    assert engine.pool.running == 0 and engine.pool.waiting == 0


def test_full_queue_is_busy_and_a_queued_request_proceeds_when_a_slot_frees():
    engine = GatedEngine(workers=1, queue=1, queue_timeout=DEADLINE)
    first: list[int] = []
    queued: list[int] = []
    errors: list[BaseException] = []
    a = threading.Thread(target=_drain, args=(engine, "First request.", first, errors))
    a.start()
    _wait_until(lambda: engine.active == 1, "the first request renders")
    b = threading.Thread(target=_drain, args=(engine, "Queued request.", queued, errors))
    b.start()
    _wait_until(lambda: engine.pool.waiting == 1, "the second request waits")
    with pytest.raises(EngineBusy) as busy:  # the queue (1) is full: turned away at once, before any audio
        next(engine.render("One too many.", None))
    assert busy.value.status == 503 and busy.value.code == "voice_engine_busy"
    assert busy.value.headers["Retry-After"].isdigit()
    engine.gate.set()  # the first request finishes; its slot goes to the queued one
    a.join(DEADLINE)
    b.join(DEADLINE)
    assert not errors and first == [1] and queued == [1]
    assert engine.rendered == ["First request.", "Queued request."]
    assert engine.pool.running == 0 and engine.pool.waiting == 0


def test_wait_for_a_slot_times_out_with_busy_and_leaves_no_ticket():
    pool = RenderPool(workers=1, queue=5, timeout=0.01)
    with pool.slot():
        with pytest.raises(EngineBusy):
            with pool.slot():
                raise AssertionError("a second slot was handed out")
        assert pool.waiting == 0 and pool.running == 1
    assert pool.running == 0
    with pool.slot():  # and the pool still works
        assert pool.running == 1


def test_slot_is_released_when_a_stream_is_closed_early_or_fails():
    engine = GatedEngine(workers=1, queue=0, queue_timeout=DEADLINE)
    engine.gate.set()
    stream = engine.render("One. Two. Three.", None)
    next(stream)
    assert engine.pool.running == 0  # no slot is held while a sentence is handed on (slow or gone readers)
    stream.close()  # the client went away
    assert engine.pool.running == 0 and engine.pool.waiting == 0

    engine.fail_on = "Two."
    with pytest.raises(RuntimeError, match="render failed"):
        list(engine.render("One. Two. Three.", None))
    assert engine.pool.running == 0 and engine.pool.waiting == 0
    assert len(list(engine.render("Still works.", None))) == 1


def test_a_stream_already_speaking_waits_for_its_next_sentence_instead_of_failing():
    engine = GatedEngine(workers=1, queue=0, queue_timeout=DEADLINE)
    engine.gate.set()
    stream = engine.render("One. Two.", None)
    next(stream)
    results: list[int] = []
    errors: list[BaseException] = []
    with engine.pool.slot():  # someone else renders now, and the queue holds no one
        rest = threading.Thread(target=lambda: results.append(len(list(stream))))
        rest.start()
        _wait_until(lambda: engine.pool.waiting == 1, "the second sentence waits for the slot")
        with pytest.raises(EngineBusy):  # a new request is turned away ...
            next(engine.render("New.", None))
    rest.join(DEADLINE)  # ... but the stream that had started goes on
    assert results == [1] and not errors


def test_idle_pool_hands_memory_back_once_work_stops():
    calls: list[int] = []
    idle = threading.Event()

    def hook():
        calls.append(1)
        idle.set()

    pool = RenderPool(workers=1, queue=0, timeout=DEADLINE, on_idle=hook, idle_delay=0.0)
    with pool.slot():
        assert not idle.is_set()  # never while work is going on
    assert idle.wait(DEADLINE)
    _wait_until(lambda: pool._housekeeper is None, "the housekeeping thread ends (the engine can be collected)")
    idle.clear()
    with pool.slot():  # the next burst of work is followed by housekeeping again
        pass
    assert idle.wait(DEADLINE) and len(calls) == 2


def test_release_memory_on_the_real_engine(provider):
    provider.engine.release_memory()  # a tiny run with arena shrinkage, then malloc_trim
    data, _ = collect_stream(provider.synthesize(text="Still speaking.", reference_id=None, fmt="pcm"))
    assert len(data) > 22050
