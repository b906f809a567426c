"""An echo's memories: short texts the family adds (a story, a fact, a saying, how the person spoke), and the
choice of those that matter to a new message, for the language model's prompt.

Memories are chosen by BM25 (``bm25s``) over the echo's memories, built at each call: an echo holds at most
``MAX_MEMORIES`` short texts, so indexing them takes about a millisecond and nothing is cached that could go
stale. Words (two letters or more) are lowercased, English stopwords dropped and plurals folded (``roses`` →
``rose``) by the S-stemmer below, so "do you remember your roses?" finds "her rose garden".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bson import ObjectId

from backend.errors import BadRequest, NotFound

if TYPE_CHECKING:
    from backend.database import DatabaseManager

MAX_MEMORY_CHARS = 1000  # after stripping
MAX_MEMORIES = 200  # per echo
DEFAULT_RELEVANT = 5  # memories put into a reply's prompt

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


class MemoryService:
    """The memories of echos.

    The methods that change memories take the echo as the caller may see it (the route checks that it is
    theirs, with the same rule as every echo route); a memory of another echo answers 404, as an unknown one.
    """

    def __init__(self, db: DatabaseManager):
        self.db = db

    def list(self, echo: dict, *, limit: int = 50, offset: int = 0) -> tuple[list[dict], int]:
        """A page of the echo's memories, newest first, and how many it has."""
        return self.db.list_memories(echo["_id"], limit=limit, offset=offset)

    def add(self, echo: dict, user_id: ObjectId | None, text: Any) -> dict:
        """Store a memory of ``echo`` added by ``user_id``; 400 ``too_many_memories`` at ``MAX_MEMORIES``."""
        text = memory_text(text)
        memory = self.db.add_memory(echo["_id"], user_id, text, at_most=MAX_MEMORIES)
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
        memory = self.db.update_memory(memory_id, memory_text(text))
        if memory is None:  # deleted in between
            raise NotFound("No memory with this id.")
        return memory

    def delete(self, echo: dict, memory_id: ObjectId) -> None:
        """Delete a memory of ``echo``; 404 when there is none, or it belongs to another echo."""
        self.get(echo, memory_id)
        if not self.db.delete_memory(memory_id):
            raise NotFound("No memory with this id.")

    def relevant(self, echo_id: ObjectId, query: str, k: int = DEFAULT_RELEVANT) -> list[dict]:
        """The echo's memories that matter most to ``query``: at most ``k``, best first, by BM25.

        Only memories sharing a word with the query (stopwords aside) are returned, so none may be; equal
        scores go newest first. An empty query, ``k`` < 1 or an echo without memories gives [].
        """
        if k < 1 or not query or not query.strip():
            return []
        memories = self.db.all_memories(echo_id, limit=MAX_MEMORIES)  # newest first
        if not memories:
            return []
        scores = bm25_scores([memory["text"] for memory in memories], query)
        # sorted() is stable: among equal scores the newer memory (earlier in the list) stays first.
        order = sorted(range(len(memories)), key=lambda i: -scores[i])
        return [memories[i] for i in order[:k] if scores[i] > 0]


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
