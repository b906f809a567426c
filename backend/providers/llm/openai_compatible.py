"""Replies from any OpenAI-compatible chat endpoint, through the official ``openai`` SDK, streamed.

``LLM_BASE_URL`` (e.g. ``http://localhost:11434/v1`` for Ollama), ``LLM_MODEL``, ``LLM_API_KEY`` (any text for
servers that ask none), ``LLM_TIMEOUT`` (seconds for the connection and for each wait on the stream).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx2
import openai

from backend.errors import (
    LanguageModelBusy,
    LanguageModelError,
    LanguageModelTimeout,
    LanguageModelUnavailable,
)
from backend.providers.llm import CUT_SHORT, CutShort

log = logging.getLogger(__name__)


REASON_MAX_CHARS = 300
MALFORMED = "The language model sent a malformed answer (text was expected)."
NO_KEY = "no-key"  # servers such as Ollama ask no key, but the SDK needs some text


def _choices(chunk: Any) -> list[Any]:
    """A streamed chunk's choices; anything but a list of them is a malformed answer."""
    choices = getattr(chunk, "choices", None)
    if choices is None:
        return []
    if not isinstance(choices, list):
        raise LanguageModelError(MALFORMED)
    for choice in choices:
        if not hasattr(choice, "delta") or not hasattr(choice, "finish_reason"):
            raise LanguageModelError(MALFORMED)
    return choices


class OpenAICompatibleModel:
    name = "openai"
    guided = False  # a larger model writes its own reply; Echo still checks and shapes it

    def __init__(self, *, base_url: str, api_key: str, model: str, timeout: float, max_retries: int = 1):
        self.base_url = base_url
        self.model = model
        self._api_key = api_key
        self.description = (
            f"{model} at {base_url}, an OpenAI-compatible endpoint chosen by the server's operator. "
            "Replies are written by this language model, not by the person."
        )
        self._client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key or NO_KEY,
            timeout=openai.Timeout(timeout, connect=min(timeout, 10.0)),
            max_retries=max_retries,  # the SDK retries connection errors, 408, 409, 429 and 5xx with backoff
        )

    def stream(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int,
        prefix: str = "",
        temperature: float = 0.7,
        seed: int | None = None,
    ) -> Iterator[str | CutShort]:
        """``prefix`` is not sent: chat endpoints have no common way to go on from a reply's start."""
        try:
            response = self._client.chat.completions.create(
                model=self.model, messages=messages, stream=True, max_tokens=max_tokens, temperature=temperature
            )
        except Exception as exc:  # noqa: BLE001 - mapped to Echo's errors; anything else is a fault of ours
            raise self._translate(exc) from exc
        return self._pieces(response)

    def _pieces(self, response: Any) -> Iterator[str | CutShort]:
        finished = None
        try:
            with response:
                for chunk in response:
                    for choice in _choices(chunk):
                        delta = getattr(choice, "delta", None)
                        text = getattr(delta, "content", None) if delta is not None else None
                        if text is not None and not isinstance(text, str):
                            raise LanguageModelError(MALFORMED)
                        if text:
                            yield text
                        if choice.finish_reason:
                            finished = choice.finish_reason
        except Exception as exc:  # noqa: BLE001
            raise self._translate(exc) from exc
        if not finished:
            raise LanguageModelError("The language model's answer stopped before the reply was complete.")
        if finished == "length":
            yield CUT_SHORT

    def _translate(self, exc: BaseException) -> LanguageModelError:
        """The SDK's (and httpx's) errors as Echo's, with the upstream's reason and never the key."""
        if isinstance(exc, LanguageModelError):
            return exc
        status = getattr(exc, "status_code", None)
        request_id = getattr(exc, "request_id", None)
        reason = self._reason(exc)
        if isinstance(exc, (openai.APITimeoutError, httpx2.TimeoutException)):
            return LanguageModelTimeout(upstream_status=status, request_id=request_id)
        if isinstance(exc, openai.APIConnectionError | httpx2.ConnectError):
            log.warning("language model at %s cannot be reached: %s", self.base_url, type(exc).__name__)
            return LanguageModelUnavailable(upstream_status=status, request_id=request_id)
        if isinstance(exc, openai.RateLimitError):
            return LanguageModelBusy(
                "The language model is rate limiting Echo; try again shortly.",
                upstream_status=status,
                request_id=request_id,
            )
        if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
            message = "The language model refused Echo's key: the server's LLM_API_KEY must be fixed."
        elif isinstance(exc, openai.NotFoundError):
            message = f"The language model endpoint does not know the model {self.model!r} (LLM_MODEL): {reason}"
        elif isinstance(exc, openai.APIStatusError):
            message = f"The language model answered {status}: {reason}"
        elif isinstance(exc, (httpx2.HTTPError, openai.APIError)):
            message = "The language model's answer stopped before the reply was complete."
        else:
            log.exception("unexpected error from the language model client")
            message = "The language model failed to write a reply."
        return LanguageModelError(message, upstream_status=status, request_id=request_id)

    def _reason(self, exc: BaseException) -> str:
        body = getattr(exc, "body", None)
        reason = ""
        if isinstance(body, dict):
            error = body.get("error", body)
            reason = str(error.get("message", "") if isinstance(error, dict) else error)
        reason = reason or str(getattr(exc, "message", "") or "")
        if self._api_key:
            reason = reason.replace(self._api_key, "[key]")
        reason = " ".join(reason.split())
        return reason[:REASON_MAX_CHARS] or "no reason given"

    def status(self) -> dict[str, Any]:
        """Whether the endpoint answers (its list of models), and whether it serves LLM_MODEL."""
        info: dict[str, Any] = {"provider": self.name, "model": self.model, "description": self.description}
        try:
            served = [entry.id for entry in self._client.with_options(max_retries=0).models.list()]
        except Exception as exc:  # noqa: BLE001 - reported, never raised: this feeds /health
            error = self._translate(exc)
            return {**info, "status": "unavailable", "error": error.code, "detail": error.message}
        if served and self.model not in served:
            detail = f"The endpoint answers but does not list the model {self.model!r} (LLM_MODEL)."
            return {**info, "status": "degraded", "detail": detail}
        return {**info, "status": "ok"}

    def close(self) -> None:
        self._client.close()
