"""The health monitor as a unit: a report answers within its wait whatever a check does, never runs two checks of
one dependency at once, reports a check past its timeout (or one that raised) as unavailable, and otherwise
answers from the last known state. Hanging checks wait on Events; time past a timeout is a fake clock."""

from __future__ import annotations

import logging
import threading
import time
from types import SimpleNamespace

import pytest

from backend.services import health as health_module
from backend.services.health import Check, HealthMonitor, build_monitor
from tests.helpers import join_all

DEADLINE = 10.0  # seconds; only a broken feature makes a test wait this long
SHORT_WAIT = 0.05  # a report's own wait, where a check is meant to miss it
LONG_WAIT = DEADLINE  # a report's own wait, where every check is meant to make it


class Clock:
    """``time.monotonic`` as the health module reads it: real time, plus whatever the test adds."""

    def __init__(self):
        self.offset = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.offset


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(health_module, "time", clock)
    return clock


class Dependency:
    """A check's target: answers ``answer`` (or raises ``error``); while ``hold`` is set it hangs until released."""

    def __init__(self, answer: dict):
        self.answer = answer
        self.error: Exception | None = None
        self.hold = False
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls = 0
        self.running = 0
        self.most_at_once = 0
        self._lock = threading.Lock()

    def __call__(self) -> dict:
        with self._lock:
            self.calls += 1
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            self.entered.set()
            if self.hold:
                assert self.release.wait(DEADLINE), "never released"
            if self.error is not None:
                raise self.error
            return dict(self.answer)
        finally:
            with self._lock:
                self.running -= 1


def health_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("health-")]


@pytest.fixture
def dependencies():
    made: list[Dependency] = []

    def make(answer: dict) -> Dependency:
        made.append(Dependency(answer))
        return made[-1]

    yield make
    for dependency in made:  # let any held check finish
        dependency.release.set()
    join_all(health_threads(), timeout=DEADLINE)


def monitor_of(dependency: Dependency, *, wait: float, timeout: float = 5.0) -> HealthMonitor:
    check = Check(
        "thing",
        run=dependency,
        checking=lambda: {"status": "checking"},
        failed=lambda reason, timed_out: {"status": "unavailable", "reason": reason, "timed_out": timed_out},
    )
    return HealthMonitor([check], wait=wait, timeout=timeout)


def test_a_report_answers_within_its_wait_while_a_check_hangs(dependencies):
    thing = dependencies({"status": "ok"})
    thing.hold = True
    monitor = monitor_of(thing, wait=SHORT_WAIT)
    assert monitor.report() == {"thing": {"status": "checking"}}  # returned with the check still held
    assert thing.entered.wait(DEADLINE) and not thing.release.is_set()
    assert monitor.checks[0].done == 0


def test_a_check_that_answers_in_time_is_reported_as_it_is_now(dependencies):
    thing = dependencies({"status": "ok", "n": 1})
    monitor = monitor_of(thing, wait=LONG_WAIT)
    assert monitor.report() == {"thing": {"status": "ok", "n": 1}}
    thing.answer = {"status": "degraded", "n": 2}
    assert monitor.report() == {"thing": {"status": "degraded", "n": 2}}
    assert thing.calls == 2


def test_never_two_checks_of_one_dependency_at_once(dependencies):
    thing = dependencies({"status": "ok"})
    thing.hold = True
    monitor = monitor_of(thing, wait=SHORT_WAIT)
    for _ in range(4):
        assert monitor.report() == {"thing": {"status": "checking"}}
    assert thing.entered.wait(DEADLINE)
    assert thing.calls == 1 and monitor.checks[0].runs == 1
    thing.release.set()
    monitor.wait = LONG_WAIT
    assert monitor.report() == {"thing": {"status": "ok"}}
    assert thing.most_at_once == 1 and thing.calls == monitor.checks[0].runs <= 2


def test_concurrent_reports_wait_for_the_check_in_flight_and_never_add_one(dependencies):
    thing = dependencies({"status": "ok"})
    thing.hold = True
    monitor = monitor_of(thing, wait=LONG_WAIT)
    results: list[dict] = []
    reporters = [threading.Thread(target=lambda: results.append(monitor.report())) for _ in range(8)]
    for reporter in reporters:
        reporter.start()
    assert thing.entered.wait(DEADLINE)
    thing.release.set()
    join_all(reporters, timeout=DEADLINE)
    assert results == [{"thing": {"status": "ok"}}] * 8
    assert thing.most_at_once == 1


def test_a_check_past_its_timeout_reports_unavailable_and_is_not_started_again(dependencies, clock):
    thing = dependencies({"status": "ok"})
    thing.hold = True
    monitor = monitor_of(thing, wait=SHORT_WAIT, timeout=5.0)
    assert monitor.report() == {"thing": {"status": "checking"}}
    clock.offset += 5.0
    monitor.wait = LONG_WAIT  # a check past its timeout is not waited for, however long the wait
    expected = {"status": "unavailable", "reason": "did not answer within 5 s", "timed_out": True}
    assert monitor.report() == {"thing": expected}
    assert monitor.report() == {"thing": expected}
    assert thing.calls == 1  # still in flight: no second check beside it
    thing.release.set()
    join_all(health_threads(), timeout=DEADLINE)
    assert monitor.report() == {"thing": {"status": "ok"}}  # it answered in the end: a fresh check now
    assert thing.calls == 2


def test_a_raising_check_reports_unavailable_without_its_details(dependencies, caplog):
    thing = dependencies({"status": "ok"})
    thing.error = ConnectionError("mongodb://admin:hunter2@db")
    monitor = monitor_of(thing, wait=LONG_WAIT)
    with caplog.at_level(logging.WARNING, logger="backend.services.health"):
        state = monitor.report()
    assert state == {
        "thing": {"status": "unavailable", "reason": "could not be checked (ConnectionError)", "timed_out": False}
    }
    assert "health check of the thing failed: ConnectionError" in caplog.text
    assert "hunter2" not in caplog.text


def test_the_last_known_state_stands_while_a_new_check_hangs(dependencies):
    thing = dependencies({"status": "ok", "n": 1})
    monitor = monitor_of(thing, wait=LONG_WAIT)
    assert monitor.report() == {"thing": {"status": "ok", "n": 1}}
    thing.hold, thing.answer = True, {"status": "ok", "n": 2}
    thing.entered.clear()
    monitor.wait = SHORT_WAIT
    assert monitor.report() == {"thing": {"status": "ok", "n": 1}}
    assert thing.entered.wait(DEADLINE)
    thing.error = ConnectionError()
    thing.release.set()
    join_all(health_threads(), timeout=DEADLINE)
    failed = monitor.checks[0].state
    assert failed["status"] == "unavailable"
    thing.error, thing.release = None, threading.Event()
    assert monitor.report() == {"thing": failed}  # the last known state, now a failure


def test_a_check_that_cannot_start_is_tried_again_next_time(dependencies, monkeypatch, caplog):
    thing = dependencies({"status": "ok"})
    monitor = monitor_of(thing, wait=LONG_WAIT)

    class NoThread:
        def __init__(self, *args, **kwargs):
            pass

        def start(self):
            raise RuntimeError("can't start new thread")

    monkeypatch.setattr(health_module, "threading", SimpleNamespace(Thread=NoThread))
    with caplog.at_level(logging.WARNING, logger="backend.services.health"):
        assert monitor.report() == {"thing": {"status": "checking"}}
    assert "health check of the thing could not start" in caplog.text
    assert monitor.checks[0].runs == 0 and thing.calls == 0
    monkeypatch.setattr(health_module, "threading", threading)
    assert monitor.report() == {"thing": {"status": "ok"}}


# -- the app's three dependencies ------------------------------------------------------------------


def fake_services(ping, status, model=None, *, configured: bool = True):
    model = model or (lambda: {"status": "ok", "provider": "openai"})
    return SimpleNamespace(
        db=SimpleNamespace(backend="mongodb", ping=ping),
        voices=SimpleNamespace(active_name="fish", providers={"fish": object()} if configured else {}, status=status),
        replies=SimpleNamespace(model=SimpleNamespace(name="openai"), status=model),
    )


def test_the_app_monitor_reports_the_database_the_voice_provider_and_the_language_model(dependencies):
    ping = dependencies({"status": "ok", "backend": "mongodb"})
    status = dependencies({"status": "ok", "provider": "fish"})
    model = dependencies({"status": "ok", "provider": "openai", "model": "llama3.2"})
    monitor = build_monitor(fake_services(ping, status, model))
    assert (monitor.wait, monitor.timeout) == (health_module.ANSWER_WAIT_SECONDS, health_module.CHECK_TIMEOUT_SECONDS)
    monitor.wait = LONG_WAIT
    assert monitor.report() == {
        "database": dict(ping.answer),
        "voice_provider": dict(status.answer),
        "language_model": dict(model.answer),
    }


def test_the_app_monitor_says_what_each_failure_is(dependencies, clock):
    ping = dependencies({"status": "ok"})
    status = dependencies({"status": "ok"})
    model = dependencies({"status": "ok"})
    ping.hold, status.hold, model.hold = True, True, True
    monitor = build_monitor(fake_services(ping, status, model, configured=False))
    monitor.wait = SHORT_WAIT
    waiting = "The first check has not finished yet."
    assert monitor.report() == {
        "database": {"status": "checking", "backend": "mongodb", "detail": waiting},
        "voice_provider": {"status": "checking", "provider": None, "detail": waiting},
        "language_model": {"status": "checking", "provider": "openai", "detail": waiting},
    }
    clock.offset += health_module.CHECK_TIMEOUT_SECONDS
    assert monitor.report() == {
        "database": {
            "status": "unavailable",
            "backend": "mongodb",
            "detail": "The database did not answer within 5 s.",
        },
        "voice_provider": {
            "status": "unavailable",
            "provider": None,
            "error": "voice_provider_timeout",
            "detail": "The voice provider did not answer within 5 s.",
        },
        "language_model": {
            "status": "unavailable",
            "provider": "openai",
            "detail": "The language model did not answer within 5 s.",
        },
    }
    status.error = TimeoutError()
    status.release.set()
    ping.release.set()
    model.release.set()
    join_all(health_threads(), timeout=DEADLINE)
    clock.offset = 0.0
    status.hold = False
    monitor.wait = LONG_WAIT
    assert monitor.report()["voice_provider"] == {
        "status": "unavailable",
        "provider": None,
        "error": "voice_provider_unavailable",
        "detail": "The voice provider could not be checked (TimeoutError).",
    }
