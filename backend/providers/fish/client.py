"""The Fish.Audio HTTP client (on requests): timeouts, bounded retries, a concurrency cap, typed provider errors."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import requests

from backend.errors import (
    ProviderAuthError,
    ProviderBusy,
    ProviderCreditError,
    ProviderError,
    ProviderUnavailable,
    ProviderVoiceNotFound,
)
from backend.providers.http import HttpUpstream

log = logging.getLogger(__name__)

_sleep = time.sleep  # tests replace it to record backoff without waiting


class FishAudioClient(HttpUpstream):
    """A small client for the parts of Fish.Audio's API that Echo uses.

    Every call has connect and read timeouts. 429 (honouring Retry-After) and 5xx answers, and
    failures to connect, are retried up to ``max_retries`` times with exponential backoff; a read
    timeout is retried only for calls without side effects. Errors come out as typed ProviderErrors
    whose messages never contain the API key.
    """

    log = log
    log_name = "fish.audio"
    queue_full_message = "Echo is at its Fish.Audio concurrency limit and the queue did not move; try again."
    connect_timeout_message = "Fish.Audio did not accept the connection in time."
    read_timeout_message = None
    unreachable_message = "Fish.Audio cannot be reached."
    stalled_message = "Fish.Audio stopped sending audio part-way through."
    dropped_message = "Fish.Audio dropped the connection in the middle of the audio."

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = "https://api.fish.audio",
        tts_model: str = "s2-pro",
        timeout: float = 60.0,
        connect_timeout: float = 5.0,
        max_retries: int = 2,
        pool_size: int = 32,
        backoff_base: float = 0.5,
        max_concurrency: int = 5,
        queue_timeout: float = 60.0,
    ):
        if not api_key:
            raise ValueError("Fish.Audio needs an API key")
        # Fish.Audio answers 429 beyond the account's concurrency; calls over the cap wait for a slot instead.
        super().__init__(
            base_url=base_url,
            api_key=api_key,
            timeout=timeout,
            connect_timeout=connect_timeout,
            max_retries=max_retries,
            backoff_base=backoff_base,
            max_concurrency=max_concurrency,
            queue_timeout=queue_timeout,
            pool_connections=4,
            pool_size=pool_size,
        )
        self.tts_model = tts_model

    # -- transport --------------------------------------------------------------------------------

    def _pause(self, seconds: float) -> None:
        _sleep(seconds)

    def _call(self, method: str, path: str, *, idempotent: bool, **kwargs: Any) -> requests.Response:
        """A request; one with side effects is not sent again after a read timeout or a lost connection."""
        return self._request(method, path, retry_read_timeout=idempotent, retry_unreachable=idempotent, **kwargs)

    def _status_error(self, response: requests.Response) -> ProviderError:
        status = response.status_code
        detail = self._scrub(_error_detail(response))
        upstream = {
            "upstream_status": status,
            "request_id": response.headers.get("x-request-id") or response.headers.get("cf-ray"),
        }
        if status == 401:
            return ProviderAuthError(**upstream)
        if status == 402 or response.headers.get("x-fish-error-code") == "insufficient_balance":
            return ProviderCreditError(**upstream)
        if status == 429:
            headers = {"Retry-After": response.headers["Retry-After"]} if "Retry-After" in response.headers else None
            return ProviderBusy(
                "Fish.Audio is at its concurrency limit; try again shortly.", headers=headers, **upstream
            )
        if status == 404 or (status == 400 and "reference not found" in detail.lower()):
            return ProviderVoiceNotFound("The voice model is not known to Fish.Audio.", **upstream)
        if status == 403:
            return ProviderError("Fish.Audio refused access to this voice model.", **upstream)
        if status in (400, 413, 422):
            return ProviderError(f"Fish.Audio rejected the request: {detail}" if detail else None, **upstream)
        if status == 503:
            return ProviderUnavailable("Fish.Audio is overloaded or down; try again shortly.", **upstream)
        return ProviderError(f"Fish.Audio failed (HTTP {status}).", **upstream)

    # -- API --------------------------------------------------------------------------------------

    def create_model(
        self,
        *,
        title: str,
        voices: list[tuple[str, Any, str]],
        texts: list[str] | None = None,
        description: str | None = None,
        enhance_audio_quality: bool | None = None,
    ) -> dict[str, Any]:
        """POST /model: a private, fast-trained TTS model from ``voices`` ((filename, file, mime) each)."""
        data: list[tuple[str, str]] = [
            ("type", "tts"),
            ("title", title),
            ("train_mode", "fast"),
            ("visibility", "private"),
        ]
        for text in texts or []:
            data.append(("texts", text))
        if description:
            data.append(("description", description))
        if enhance_audio_quality is not None:
            data.append(("enhance_audio_quality", "true" if enhance_audio_quality else "false"))
        files = [("voices", voice) for voice in voices]
        with self._slot():
            return _json(self._call("POST", "/model", idempotent=False, data=data, files=files))

    def get_model(self, model_id: str) -> dict[str, Any]:
        with self._slot():
            return _json(self._call("GET", f"/model/{model_id}", idempotent=True))

    def delete_model(self, model_id: str) -> None:
        with self._slot():
            self._call("DELETE", f"/model/{model_id}", idempotent=True).close()

    def api_credit(self) -> dict[str, Any]:
        with self._slot():
            return _json(self._call("GET", "/wallet/self/api-credit", idempotent=True))

    def tts(
        self, *, text: str, reference_id: str | None, fmt: str, chunk_size: int = 16384, **options: Any
    ) -> Iterator[bytes]:
        """POST /v1/tts, streamed: yields audio bytes as Fish.Audio sends them.

        Retries happen only before the first byte; a connection lost in the middle of the audio
        raises ProviderError so that the caller can discard what it had.
        """
        body: dict[str, Any] = {"text": text, "format": fmt}
        if reference_id:
            body["reference_id"] = reference_id
        body.update(options)
        with self._slot():  # held until the whole audio has arrived
            response = self._call(
                "POST", "/v1/tts", idempotent=True, stream=True, json=body, headers={"model": self.tts_model}
            )
            yield from self._stream(response, chunk_size)


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError as exc:
        raise ProviderError("Fish.Audio answered with something that is not JSON.") from exc
    finally:
        response.close()
    if not isinstance(payload, dict):
        raise ProviderError("Fish.Audio answered with an unexpected document.")
    return payload


def _error_detail(response: requests.Response) -> str:
    try:
        payload = response.json()
    except ValueError:
        return response.text[:200].strip()
    if isinstance(payload, dict):
        return str(payload.get("message") or payload.get("detail") or "")[:200]
    if isinstance(payload, list):  # 422: [{loc, msg, type}]
        return "; ".join(str(item.get("msg", "")) for item in payload if isinstance(item, dict))[:200]
    return ""
