"""Health: the last known state of each dependency (database, voice provider, language model), refreshed in the
background so that /health answers within a second whatever they do."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backend.services import Services

log = logging.getLogger(__name__)

# /health waits at most this long for checks to finish, then answers from the last known state.
ANSWER_WAIT_SECONDS = 0.7
# A check still running after this long reports its dependency unavailable (it may go on, in the background).
CHECK_TIMEOUT_SECONDS = 5.0


class Check:
    """One dependency: how to check it, and what the last check found."""

    def __init__(
        self,
        name: str,
        run: Callable[[], dict[str, Any]],
        checking: Callable[[], dict[str, Any]],
        failed: Callable[[str, bool], dict[str, Any]],
    ):
        self.name = name
        self.run = run  # the real check; it may block for as long as the dependency makes it wait
        self.checking = checking  # the state while nothing is known yet
        self.failed = failed  # the state when a check raised or ran out of time: (plain reason, timed out)
        self.state: dict[str, Any] | None = None  # the latest known state
        self.started: float | None = None  # when the check in flight started; None when none is
        self.runs = 0  # checks started
        self.done = 0  # checks finished


class HealthMonitor:
    """The last known state of each dependency, refreshed in the background.

    Every report starts a check of each dependency that has none in flight (never two of the same at once),
    each in its own daemon thread, and waits up to ``wait`` seconds for them: a dependency that answers in time
    is reported as it is now, one that does not is reported as last known ("checking" before anything is
    known), and one whose check has run longer than ``timeout`` as unavailable. So a report never takes much
    longer than ``wait``, however long a dead database or a hanging provider makes its check wait.
    """

    def __init__(self, checks: list[Check], *, wait: float, timeout: float):
        self.checks = checks
        self.wait = wait
        self.timeout = timeout
        self._changed = threading.Condition()

    def report(self) -> dict[str, dict[str, Any]]:
        deadline = time.monotonic() + self.wait
        with self._changed:
            awaited = {}
            for check in self.checks:
                if check.started is None:
                    self._start(check)
                if check.started is not None and time.monotonic() - check.started < self.timeout:
                    awaited[check.name] = check.runs  # wait for the run in flight, however it started
            while any(check.done < awaited.get(check.name, 0) for check in self.checks):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            now = time.monotonic()
            states = {}
            for check in self.checks:
                if check.started is not None and now - check.started >= self.timeout:
                    check.state = check.failed(f"did not answer within {self.timeout:g} s", True)
                states[check.name] = check.state if check.state is not None else check.checking()
            return states

    def _start(self, check: Check) -> None:
        thread = threading.Thread(target=self._run, args=(check,), name=f"health-{check.name}", daemon=True)
        try:
            thread.start()
        except RuntimeError:  # no thread to be had: report the last known state, try again next time
            log.warning("health check of the %s could not start", check.name)
            return
        check.started = time.monotonic()
        check.runs += 1

    def _run(self, check: Check) -> None:
        try:
            state = check.run()
        except Exception as exc:  # noqa: BLE001 - a check reports, it never raises
            log.warning("health check of the %s failed: %s", check.name, type(exc).__name__)
            state = check.failed(f"could not be checked ({type(exc).__name__})", False)
        with self._changed:
            check.state = state
            check.started = None
            check.done += 1
            self._changed.notify_all()


def voice_report(svc: Services) -> dict[str, Any]:
    """The active voice provider's state, and every engine this server speaks with (``engines``): each voice
    record names the engine it was cloned with ("fish", "fish-speech", "local"), and its voices speak while that
    engine is listed here, whichever one makes new voices."""
    state = svc.voices.status()
    names = state.get("available_providers")
    if names is not None:
        providers = svc.voices.providers
        state["engines"] = {
            name: {
                "description": getattr(providers[name], "description", ""),
                "makes_new_voices": name == svc.voices.active_name,
            }
            for name in names
            if name in providers
        }
    return state


def build_monitor(svc: Services) -> HealthMonitor:
    def database_state(status: str, detail: str) -> dict[str, Any]:
        return {"status": status, "backend": svc.db.backend, "detail": detail}

    def voice_state(status: str, detail: str, **extra: Any) -> dict[str, Any]:
        voices = svc.voices
        provider = voices.active_name if voices.active_name in voices.providers else None
        return {"status": status, "provider": provider, **extra, "detail": detail}

    waiting = "The first check has not finished yet."
    database = Check(
        "database",
        run=lambda: svc.db.ping(),  # looked up on every run, so a replaced ping is the one called
        checking=lambda: database_state("checking", waiting),
        failed=lambda reason, timed_out: database_state("unavailable", f"The database {reason}."),
    )
    voice = Check(
        "voice_provider",
        run=lambda: voice_report(svc),
        checking=lambda: voice_state("checking", waiting),
        failed=lambda reason, timed_out: voice_state(
            "unavailable",
            f"The voice provider {reason}.",
            error="voice_provider_timeout" if timed_out else "voice_provider_unavailable",
        ),
    )

    def model_state(status: str, detail: str) -> dict[str, Any]:
        model = svc.replies.model
        return {"status": status, "provider": model.name if model is not None else "none", "detail": detail}

    model = Check(
        "language_model",
        run=lambda: svc.replies.status(),
        checking=lambda: model_state("checking", waiting),
        failed=lambda reason, timed_out: model_state("unavailable", f"The language model {reason}."),
    )
    return HealthMonitor([database, voice, model], wait=ANSWER_WAIT_SECONDS, timeout=CHECK_TIMEOUT_SECONDS)
