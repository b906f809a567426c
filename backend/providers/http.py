"""What Echo's HTTP voice upstreams (Fish.Audio, a fish-speech server) share: a requests session with timeouts, a
bounded number of calls in flight, the API key kept out of messages, and bounded retries with backoff.

Each client subclasses HttpUpstream and says, in its own words, what went wrong: the ``*_message`` attributes,
``_status_error`` for answers of 400 and over, and which failures are safe to ask again about.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import requests
from requests.adapters import HTTPAdapter

from backend.errors import ProviderBusy, ProviderError, ProviderTimeout, ProviderUnavailable

MAX_RETRY_AFTER = 30.0  # seconds: a longer Retry-After is waited out only this long
MAX_BACKOFF = 8.0  # seconds, before jitter


class HttpUpstream:
    """An HTTP API behind a requests session, called at most ``max_concurrency`` at a time.

    Answers of 429 (honouring Retry-After) and 5xx, and failures to connect, are retried up to ``max_retries``
    times with exponential backoff; whether a read timeout or a connection lost before the answer is retried is
    each call's choice. Errors come out as typed ProviderErrors whose messages never contain the API key.
    """

    log: ClassVar[logging.Logger]
    log_name: ClassVar[str]  # the upstream as logs name it
    queue_full_message: ClassVar[str]  # no slot came free within queue_timeout
    connect_timeout_message: ClassVar[str]
    read_timeout_message: ClassVar[str | None]  # None: ProviderTimeout's own
    unreachable_message: ClassVar[str]
    stalled_message: ClassVar[str]  # the audio stopped coming part-way through
    dropped_message: ClassVar[str]  # the connection broke part-way through the audio

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        timeout: float,
        connect_timeout: float,
        max_retries: int,
        backoff_base: float,
        max_concurrency: int,
        queue_timeout: float,
        pool_connections: int,
        pool_size: int,
    ):
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key or ""
        self.timeout = (connect_timeout, timeout)
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self.queue_timeout = queue_timeout
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=pool_connections, pool_maxsize=pool_size, max_retries=0)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._session.headers["User-Agent"] = "echo-backend/1.0"
        if api_key:
            self._session.headers["Authorization"] = f"Bearer {api_key}"

    # -- what each upstream says for itself ----------------------------------------------------------

    def _status_error(self, response: requests.Response) -> ProviderError:
        """The error for an answer of 400 or over."""
        raise NotImplementedError

    def _pause(self, seconds: float) -> None:
        """Wait between attempts (clients route it through a module-level ``_sleep`` that tests replace)."""
        time.sleep(seconds)

    def _where(self, path: str) -> str:
        """The call as a failure's log line names it."""
        return path

    # -- transport ------------------------------------------------------------------------------------

    @contextmanager
    def _slot(self) -> Iterator[None]:
        if not self._slots.acquire(timeout=self.queue_timeout):
            raise ProviderBusy(self.queue_full_message)
        try:
            yield
        finally:
            self._slots.release()

    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    def _delay(self, attempt: int, response: requests.Response | None) -> float:
        if response is not None:
            retry_after = response.headers.get("Retry-After")
            if retry_after:
                try:
                    return min(max(float(retry_after), 0.0), MAX_RETRY_AFTER)
                except ValueError:
                    pass
        return min(self.backoff_base * (2**attempt), MAX_BACKOFF) * (0.75 + random.random() / 2)

    def _request(
        self,
        method: str,
        path: str,
        *,
        retry_read_timeout: bool,
        retry_unreachable: bool = True,
        stream: bool = False,
        timeout: tuple[float, float] | None = None,
        max_retries: int | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """``method path``, retried as the class says; an answer under 400 comes back, anything else raises.

        A connect timeout, 429 and 5xx are always retried (nothing reached the server, or it asked to be asked
        again); a read timeout only with ``retry_read_timeout``, a connection lost before the answer only with
        ``retry_unreachable``. Uploaded files are rewound before each new attempt.
        """
        url = f"{self.base_url}{path}"
        retries = self.max_retries if max_retries is None else max_retries
        attempt = 0
        while True:
            response = None
            try:
                response = self._session.request(method, url, timeout=timeout or self.timeout, stream=stream, **kwargs)
            except requests.exceptions.ConnectTimeout as exc:
                error: ProviderError = ProviderTimeout(self.connect_timeout_message)
                cause: Exception | None = exc
                retry = True
            except requests.exceptions.ReadTimeout as exc:
                error, cause, retry = ProviderTimeout(self.read_timeout_message), exc, retry_read_timeout
            except requests.exceptions.ConnectionError as exc:
                error, cause, retry = ProviderUnavailable(self.unreachable_message), exc, retry_unreachable
            else:
                if response.status_code < 400:
                    return response
                error, cause = self._status_error(response), None
                retry = response.status_code == 429 or response.status_code >= 500
                response.close()
            if not retry or attempt >= retries:
                self.log.warning("%s %s %s failed: %s", self.log_name, method, self._where(path), error.code)
                raise error from cause
            delay = self._delay(attempt, response)
            self.log.info(
                "%s %s %s: %s, retry %d in %.1fs", self.log_name, method, path, error.code, attempt + 1, delay
            )
            self._pause(delay)
            attempt += 1
            for value in kwargs.get("files") or []:
                fh = value[1][1]
                if hasattr(fh, "seek"):
                    fh.seek(0)

    def _stream(self, response: requests.Response, chunk_size: int) -> Iterator[bytes]:
        """The body of a streamed answer, closed at the end; a break part-way through raises ProviderError so
        that the caller can discard what it had."""
        try:
            yield from response.iter_content(chunk_size=chunk_size)
        except requests.exceptions.RequestException as exc:
            if "timed out" in str(exc).lower():
                raise ProviderTimeout(self.stalled_message) from exc
            raise ProviderError(self.dropped_message) from exc
        finally:
            response.close()
