"""The HTTP client (on requests) for a self-hosted fish-speech API server: timeouts, bounded retries, a
concurrency cap, typed provider errors, as the Fish.Audio client has them.

The API it speaks is fish-speech's own (github.com/fishaudio/fish-speech, ``tools/api_server.py`` with the
routes in ``tools/server/views.py`` and the request schema in ``fish_speech/utils/schema.py``):

- ``GET /v1/health`` answers ``{"status": "ok"}``.
- ``POST /v1/tts`` takes a ``ServeTTSRequest`` as JSON (or msgpack): ``text``, ``format`` (wav, pcm, mp3, opus),
  ``streaming`` (wav only), ``references`` (``[{"audio", "text"}]``, the audio as base64 in JSON),
  ``reference_id``, ``use_memory_cache``, ``normalize``, ``chunk_length`` and sampling options. Streamed, the
  answer is the audio as the model makes it, sentence group by sentence group: 16-bit mono PCM at the model's
  decoder rate (44,100 Hz for the S1 and S2 codecs), served as ``audio/wav``. The server means to send a WAV
  header first but drops it (it yields the header as an array where only bytes pass), and its own
  ``tools/api_client.py`` plays the stream as raw 16-bit PCM at 44,100 Hz; both shapes are read here.
- Errors are ``{"statusCode", "message", "error"}`` with the status (400 for a text over the server's
  ``--max-text-length``, 401 for a wrong ``--api-key``, 415 for a body that is not JSON, msgpack or a form, 500
  when inference fails). A failure after the audio started cuts the connection.
- With ``--api-key`` every route wants ``Authorization: Bearer <key>``.

Echo sends JSON (no msgpack dependency; fish-speech decodes base64 reference audio in JSON itself).
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from backend.errors import (
    ProviderAuthError,
    ProviderBusy,
    ProviderError,
    ProviderUnavailable,
)
from backend.providers.http import HttpUpstream

log = logging.getLogger(__name__)

_sleep = time.sleep  # tests replace it to record backoff without waiting

# The rate of the raw PCM fish-speech streams when no WAV header says otherwise: its codecs' (modded_dac_vq.yaml,
# firefly-gan-vq) sample_rate, and what its own client plays the stream at.
DEFAULT_STREAM_SAMPLE_RATE = 44100

# Content types that are not audio whatever the body holds (an error page, a JSON or msgpack document).
_NOT_AUDIO = ("application/json", "application/msgpack", "application/problem", "text/")


@dataclass(frozen=True)
class ReferenceAudio:
    """One reference for in-context cloning: a recording (bytes of a file the server can read) and its words."""

    audio: bytes
    text: str = ""


def display_url(url: str) -> str:
    """``url`` without any user name or password in it (for messages, logs and /health)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


class FishSpeechClient(HttpUpstream):
    """A small client for the parts of a fish-speech API server that Echo uses (``/v1/health``, ``/v1/tts``).

    Every call has connect and read timeouts. 429 (honouring Retry-After) and 5xx answers, and failures to
    connect, are retried up to ``max_retries`` times with exponential backoff. A read timeout is retried only
    for the health check: a speech request that timed out is still being generated on the server, which does
    not cancel it, so asking again would only queue a second copy behind it on the same GPU. Errors come out as
    the same typed ProviderErrors as Fish.Audio's, and their messages never contain the API key.
    """

    log = log
    log_name = "fish-speech"
    queue_full_message = "Echo is at its limit of fish-speech requests and the queue did not move; try again."
    connect_timeout_message = "The fish-speech server did not accept the connection in time."
    read_timeout_message = "The fish-speech server did not answer in time."
    unreachable_message = "The fish-speech server cannot be reached."
    stalled_message = "The fish-speech server stopped sending audio part-way through."
    dropped_message = "The fish-speech server dropped the connection in the middle of the audio."
    # A connection refused, reset or closed before answering produced nothing, so every call asks again
    # (_request's retry_unreachable); only a read timeout is each call's choice.

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None = None,
        timeout: float = 120.0,
        connect_timeout: float = 5.0,
        max_retries: int = 2,
        pool_size: int = 16,
        backoff_base: float = 0.5,
        max_concurrency: int = 4,
        queue_timeout: float = 60.0,
        status_timeout: float = 3.0,
        stream_sample_rate: int = DEFAULT_STREAM_SAMPLE_RATE,
    ):
        if not base_url:
            raise ValueError("fish-speech needs the address of its API server")
        # One GPU renders one request at a time; more than a few waiting there only lengthen everyone's wait
        # for the first byte, so calls over the cap wait for a slot instead (and answer 503 when it does not move).
        super().__init__(
            base_url=base_url,
            api_key=api_key,
            timeout=timeout,
            connect_timeout=connect_timeout,
            max_retries=max_retries,
            backoff_base=backoff_base,
            max_concurrency=max_concurrency,
            queue_timeout=queue_timeout,
            pool_connections=2,
            pool_size=pool_size,
        )
        self.server = display_url(self.base_url)  # for logs; messages to clients never name the address
        # /health waits 5 s for a check: connecting and answering must fit in that.
        self.status_timeout = (min(connect_timeout, 2.0), status_timeout)
        self.stream_sample_rate = stream_sample_rate

    # -- transport --------------------------------------------------------------------------------

    def _pause(self, seconds: float) -> None:
        _sleep(seconds)

    def _where(self, path: str) -> str:
        return f"{self.server}{path}"

    def _status_error(self, response: requests.Response) -> ProviderError:
        status = response.status_code
        detail = self._scrub(_error_detail(response))
        upstream = {"upstream_status": status, "request_id": response.headers.get("x-request-id")}
        if status in (401, 403):
            return ProviderAuthError(
                "The fish-speech server refused Echo's key: set FISH_SPEECH_API_KEY to the --api-key the server "
                "was started with.",
                **upstream,
            )
        if status == 429:
            headers = {"Retry-After": response.headers["Retry-After"]} if "Retry-After" in response.headers else None
            return ProviderBusy("The fish-speech server is busy; try again shortly.", headers=headers, **upstream)
        if status in (404, 405):
            return ProviderError(
                f"The server at FISH_SPEECH_URL has no fish-speech API (HTTP {status}); it must be the address of "
                "fish-speech's tools/api_server.py.",
                **upstream,
            )
        if status in (400, 413, 415, 422):
            return ProviderError(
                f"The fish-speech server rejected the request: {detail}" if detail else None, **upstream
            )
        if status == 503:
            return ProviderUnavailable("The fish-speech server is overloaded or down; try again shortly.", **upstream)
        suffix = f": {detail}" if detail else ""
        return ProviderError(f"The fish-speech server failed (HTTP {status}){suffix}.", **upstream)

    # -- API --------------------------------------------------------------------------------------

    def health(self, *, patient: bool = False) -> dict[str, Any]:
        """GET /v1/health: whether the server is up and takes Echo's key (the key guards every route).

        Quick by default (short timeouts, no retries), for /health. ``patient`` waits as long as for speech and
        retries: fish-speech answers nothing, not even this, while it is generating a stretch of speech.
        """
        if patient:
            response = self._request("GET", "/v1/health", retry_read_timeout=True)
        else:
            response = self._request(
                "GET", "/v1/health", retry_read_timeout=False, timeout=self.status_timeout, max_retries=0
            )
        try:
            payload = response.json()
        except ValueError as exc:
            raise ProviderError(
                "The server at FISH_SPEECH_URL answered /v1/health with something that is not JSON; it must be the "
                "address of fish-speech's tools/api_server.py."
            ) from exc
        finally:
            response.close()
        if not isinstance(payload, dict) or payload.get("status") != "ok":
            raise ProviderUnavailable("The fish-speech server says it is not ready.")
        return payload

    def tts(
        self, *, text: str, references: list[ReferenceAudio], chunk_size: int = 8192, **options: Any
    ) -> Iterator[bytes]:
        """POST /v1/tts in streaming mode: yields the audio bytes as fish-speech sends them (raw 16-bit PCM at
        ``stream_sample_rate``, or a WAV header then PCM). Nothing is sent until the first byte is asked for.

        Retries happen only before the first byte; a connection lost in the middle of the audio raises
        ProviderError so that the caller can discard what it had. An answer that is not audio is an error.
        """
        body: dict[str, Any] = {
            "text": text,
            "format": "wav",  # the only format fish-speech streams
            "streaming": True,
            "references": [
                {"audio": base64.b64encode(ref.audio).decode("ascii"), "text": ref.text} for ref in references
            ],
            "use_memory_cache": "on",  # the server keeps each reference's encoding, by its hash
            "normalize": True,
        }
        body.update(options)
        with self._slot():  # held until the whole audio has arrived
            response = self._request("POST", "/v1/tts", retry_read_timeout=False, stream=True, json=body)
            content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if content_type.startswith(_NOT_AUDIO):
                try:
                    detail = self._scrub(_error_detail(response))
                finally:
                    response.close()
                raise ProviderError(
                    f"The fish-speech server answered with something that is not audio ({content_type})"
                    + (f": {detail}" if detail else "."),
                    upstream_status=response.status_code,
                )
            yield from self._stream(response, chunk_size)


def _error_detail(response: requests.Response) -> str:
    """What fish-speech said went wrong: ``message`` of its ``{"statusCode", "message", "error"}``."""
    try:
        payload = response.json()
    except ValueError:
        try:
            return response.text[:200].strip()
        except requests.exceptions.RequestException:
            return ""
    except requests.exceptions.RequestException:
        return ""
    if isinstance(payload, dict):
        return str(payload.get("message") or payload.get("detail") or payload.get("error") or "")[:200]
    if isinstance(payload, list):  # a validation error: [{loc, msg, type}]
        return "; ".join(str(item.get("msg", "")) for item in payload if isinstance(item, dict))[:200]
    return ""
