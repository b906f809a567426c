"""An echo's memories: short texts the family adds (a story, a fact, a saying, how the person spoke), and the
choice of those that matter to a new message, for the language model's prompt.

Memories are found by meaning and by shared words together (hybrid ranking, :meth:`MemoryService.search`):

- **meaning**: each memory's vector (multilingual-e5-small, ``providers/embeddings.py``) is computed once, when
  the memory is saved or edited (and, for memories saved before, by :meth:`MemoryService.backfill` at start-up),
  and stored with it; a message is embedded once, and the cosine with each memory is a dot product, so
  ranking 200 memories takes a few milliseconds. "What was your four-legged companion called?" finds "Their
  dog was a beagle named Rusty", which shares no word with it.
- **shared words**: BM25 (``bm25s``) over the echo's memories, built at each call (at most ``MAX_MEMORIES``
  short texts: about a millisecond, nothing cached that could go stale). Words are lowercased, English
  stopwords dropped and plurals folded (``roses`` → ``rose``) by the S-stemmer below. It catches names and
  rare words that meaning alone can blur.

The two are combined as the cosine plus a small share of the BM25 score (``WORDS_WEIGHT``: meaning leads, shared
words break near-ties). Whether the best memory *answers* the message (so that the echo says it, or says it does
not remember) is judged on the cosine alone (``ANSWERS``, ``FORGOTTEN``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from bson import ObjectId

from backend.errors import BadRequest, EchoError, NotFound
from backend.providers.embeddings import from_bytes, to_bytes

if TYPE_CHECKING:
    from backend.database import DatabaseManager
    from backend.providers.embeddings import TextEmbedder

log = logging.getLogger(__name__)

MAX_MEMORY_CHARS = 1000  # after stripping
MAX_MEMORIES = 200  # per echo
DEFAULT_RELEVANT = 5  # memories put into a reply's prompt
# Shared words add at most this to a memory's cosine. Measured on bench/data/reply_quality.json (24 questions
# asked in other words than their memories): the right memory in the first 5 for 22 by meaning alone, and for 1
# by BM25 alone; reciprocal-rank fusion of the two dropped it to 16 (BM25's ranks are noise on paraphrases), so
# words only break near-ties in meaning.
WORDS_WEIGHT = 0.01
# The cosine (e5, query to passage) from which the best memory is taken to answer the message; e5's cosines are
# compressed (unrelated English sentences score about 0.7), so this sits between the answering memories and
# the unanswered questions of bench/data/reply_quality.json (see bench/bench_reply_quality.py).
ANSWERS = 0.82
FORGOTTEN = 0.80  # below it, nothing answers: the echo says it does not remember

# NLTK's English stopwords (179: pronouns, auxiliaries, "what", "do"...), bm25s' "en_plus"; its shorter "en" list
# (Lucene's 33) keeps "you", "her", "she", which would tie every memory about a person to every question.
STOPWORDS = "en_plus"


def s_stem(word: str) -> str:
    """Harman's S-stemmer (with Porter's ``sses`` → ``ss``): English plurals to their singular, nothing else
    (``stories`` → ``story``, ``roses`` → ``rose``, ``glasses`` → ``glass``); conservative, so that unrelated
    words are not merged (and ``grew`` is not ``grow``)."""
    if len(word) > 3 and word.endswith("ies") and not word.endswith(("eies", "aies")):
        return word[:-3] + "y"
    if word.endswith("sses"):
        return word[:-2]
    if len(word) > 3 and word.endswith("es") and not word.endswith(("aes", "ees", "oes")):
        return word[:-1]
    if len(word) > 2 and word.endswith("s") and not word.endswith(("us", "ss")):
        return word[:-1]
    return word


def memory_text(value: Any) -> str:
    """A memory's text, stripped: 1 to ``MAX_MEMORY_CHARS`` characters (400 ``memory_empty`` or
    ``memory_too_long`` otherwise)."""
    if value is not None and not isinstance(value, str):
        raise BadRequest("'text' must be a string.", reason="memory_not_text")
    text = (value or "").strip()
    if not text:
        raise BadRequest("'text' is required: a memory holds some words.", reason="memory_empty")
    if len(text) > MAX_MEMORY_CHARS:
        raise BadRequest(
            f"A memory is at most {MAX_MEMORY_CHARS} characters ({len(text)} sent); split it into several.",
            reason="memory_too_long",
        )
    return text


@dataclass(frozen=True)
class Found:
    """A memory chosen for a message, with why: its cosine with the message (None without vectors), its BM25
    score, and its fused score."""

    memory: dict
    cosine: float | None
    bm25: float
    score: float

    @property
    def text(self) -> str:
        return self.memory["text"]


class MemoryService:
    """The memories of echos.

    The methods that change memories take the echo as the caller may see it (the route checks that it is
    theirs, with the same rule as every echo route); a memory of another echo answers 404, as an unknown one.
    """

    def __init__(self, db: DatabaseManager, embedder: TextEmbedder | None = None):
        self.db = db
        self.embedder = embedder

    def _vector(self, text: str) -> tuple[str, bytes] | None:
        """The vector a memory is stored with; None without an embedder, or when it fails (the memory is kept
        all the same, found by its words until the start-up pass gives it a vector)."""
        if self.embedder is None:
            return None
        try:
            return self.embedder.name, to_bytes(self.embedder.passages([text])[0])
        except EchoError as exc:
            log.warning("a memory is saved without its vector: %s", exc.message)
            return None

    def list(self, echo: dict, *, limit: int = 50, offset: int = 0) -> tuple[list[dict], int]:
        """A page of the echo's memories, newest first, and how many it has."""
        return self.db.list_memories(echo["_id"], limit=limit, offset=offset)

    def add(self, echo: dict, user_id: ObjectId | None, text: Any) -> dict:
        """Store a memory of ``echo`` added by ``user_id``; 400 ``too_many_memories`` at ``MAX_MEMORIES``."""
        text = memory_text(text)
        memory = self.db.add_memory(echo["_id"], user_id, text, at_most=MAX_MEMORIES, vector=self._vector(text))
        if memory is None:
            raise BadRequest(
                f"This echo already has {MAX_MEMORIES} memories, the most it can keep; delete or merge some first.",
                reason="too_many_memories",
            )
        return memory

    def get(self, echo: dict, memory_id: ObjectId) -> dict:
        """One memory of ``echo``; 404 when there is none, or it belongs to another echo."""
        memory = self.db.get_memory(memory_id)
        if memory is None or memory.get("echo_id") != echo["_id"]:
            raise NotFound("No memory with this id.")
        return memory

    def update(self, echo: dict, memory_id: ObjectId, text: Any) -> dict:
        """Change the text of a memory of ``echo`` (404 first, then the same limits as ``add``)."""
        self.get(echo, memory_id)
        text = memory_text(text)
        memory = self.db.update_memory(memory_id, text, vector=self._vector(text))
        if memory is None:  # deleted in between
            raise NotFound("No memory with this id.")
        return memory

    def delete(self, echo: dict, memory_id: ObjectId) -> None:
        """Delete a memory of ``echo``; 404 when there is none, or it belongs to another echo."""
        self.get(echo, memory_id)
        if not self.db.delete_memory(memory_id):
            raise NotFound("No memory with this id.")

    def relevant(self, echo_id: ObjectId, query: str, k: int = DEFAULT_RELEVANT) -> list[dict]:
        """The echo's memories that matter most to ``query``: at most ``k``, best first (see :meth:`search`)."""
        return [found.memory for found in self.search(echo_id, query, k)]

    def search(self, echo_id: ObjectId, query: str, k: int = DEFAULT_RELEVANT) -> list[Found]:
        """The echo's memories that matter most to ``query``, at most ``k``, best first, by meaning and shared
        words fused. Without an embedder only memories sharing a word with the query (stopwords aside) are
        returned, so none may be; with one, every memory has a place. Equal scores go newest first. An empty
        query, ``k`` < 1 or an echo without memories gives []."""
        if k < 1 or not query or not query.strip():
            return []
        memories = self.db.all_memories(echo_id, limit=MAX_MEMORIES)  # newest first
        if not memories:
            return []
        bm25 = bm25_scores([memory["text"] for memory in memories], query)
        cosines = self._cosines(memories, query)
        top = max(bm25) or 1.0
        if cosines is None:
            fused = [score / top for score in bm25]
        else:
            fused = [float(cosines[i]) + WORDS_WEIGHT * bm25[i] / top for i in range(len(memories))]
        # sorted() is stable: among equal scores the newer memory (earlier in the list) stays first.
        order = sorted((i for i in range(len(memories)) if cosines is not None or bm25[i] > 0), key=lambda i: -fused[i])
        return [
            Found(
                memory={key: value for key, value in memories[i].items() if key not in ("vector", "vector_model")},
                cosine=None if cosines is None else float(cosines[i]),
                bm25=float(bm25[i]),
                score=fused[i],
            )
            for i in order[:k]
        ]

    def _cosines(self, memories: list[dict], query: str) -> np.ndarray | None:
        """Each memory's cosine with the query; a memory without a vector from this model gets one now, kept
        (once: it is never computed again per message). None without an embedder, or when it fails."""
        if self.embedder is None:
            return None
        try:
            asked = self.embedder.queries([query])[0]
            vectors = []
            for memory in memories:
                vector = from_bytes(memory.get("vector")) if memory.get("vector_model") == self.embedder.name else None
                if vector is None or vector.shape != asked.shape:
                    vector = self.embedder.passages([memory["text"]])[0]
                    self.db.set_memory_vector(memory["_id"], memory["text"], (self.embedder.name, to_bytes(vector)))
                vectors.append(vector)
        except EchoError as exc:
            log.warning("memories are found by their words only: %s", exc.message)
            return None
        return np.vstack(vectors) @ asked

    def backfill(self, *, batch: int = 64) -> int:
        """Give every memory saved without a vector from the current model its vector (at start-up); how many
        were given one."""
        if self.embedder is None:
            return 0
        done = 0
        while True:
            missing = self.db.memories_without_vector(self.embedder.name, limit=batch)
            if not missing:
                return done
            vectors = self.embedder.passages([memory["text"] for memory in missing])
            kept = 0
            for memory, vector in zip(missing, vectors, strict=True):
                if self.db.set_memory_vector(memory["_id"], memory["text"], (self.embedder.name, to_bytes(vector))):
                    kept += 1
            done += kept
            if kept == 0:  # every one was edited meanwhile (and given its vector then): nothing more to do here
                return done


def bm25_scores(texts: list[str], query: str) -> list[float]:
    """BM25 score of each text for ``query`` (0 for texts sharing no word with it)."""
    import bm25s  # numpy and scipy: loaded at the first reply that needs memories, not at start-up

    def words(items: list[str]) -> list[list[str]]:
        return bm25s.tokenize(items, stopwords=STOPWORDS, stemmer=_stem_all, return_ids=False, show_progress=False)

    corpus = words(texts)
    vocab = {word: i for i, word in enumerate(sorted({word for doc in corpus for word in doc}))}
    asked = sorted({vocab[word] for word in words([query])[0] if word in vocab})
    if not asked:
        return [0.0] * len(texts)
    retriever = bm25s.BM25()  # Lucene's BM25 (k1 1.5, b 0.75): a word found always adds to the score
    ids = [[vocab[word] for word in doc] for doc in corpus]
    retriever.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)
    return [float(score) for score in retriever.get_scores(asked)]


def _stem_all(words: list[str]) -> list[str]:
    return [s_stem(word) for word in words]
