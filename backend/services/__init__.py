"""Echo's use cases, and the container the factory builds. Routes parse requests and shape answers; what they
do is done here, over the data layer (``backend.database``), the storage package and the providers.

- ``voices``   the voice service (the seed's VoiceServiceWrapper): which provider owns a voice, cloning checks
- ``cloning``  cloning a voice for a user: consent, the record, an outage journal, undo on failure
- ``speech``   speaking: cache, stored file, following it while it grows, who owns it
- ``deletion`` deleting a voice everywhere, and an account with everything of it
- ``upkeep``   the hourly pass and the start-up sweep of what a killed process left
- ``health``   the last known state of each dependency, refreshed in the background
- ``memories`` an echo's memories, and those most relevant to a new message (by meaning and by words)
- ``honesty``  an echo never pretends to be the real person, or a human
- ``grounding`` a memory said in the echo's own first person
- ``prompt``   what the language model is sent
- ``writing``  the reply's words: whole sentences, few enough, checked, and a small model guided
- ``replies``  an echo's reply: the prompt, the model's words streamed, spoken sentence by sentence
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from flask import current_app

from backend.config import ConfigError, Settings
from backend.database import DatabaseManager
from backend.links import AudioLinks, load_secret
from backend.providers import VoiceProvider, build_providers
from backend.providers.embeddings import TextEmbedder, build_embedder
from backend.providers.llm import ChatModel, build_chat_model
from backend.services.health import HealthMonitor, build_monitor
from backend.services.honesty import Honesty
from backend.services.memories import MemoryService
from backend.services.speech import Speech
from backend.services.upkeep import Upkeep
from backend.services.voices import VoiceService
from backend.storage import AudioStore, Storage, open_storage

if TYPE_CHECKING:
    from backend.services.replies import ReplyService

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    db: DatabaseManager
    storage: Storage
    voices: VoiceService
    speech: Speech
    links: AudioLinks
    chat_model: ChatModel | None = None  # None: replies are off (LLM_PROVIDER=none)
    embedder: TextEmbedder | None = None  # None: memories found by their words only (EMBEDDINGS=none)
    upkeep: Upkeep = field(init=False)

    def __post_init__(self) -> None:
        self.upkeep = Upkeep(self)

    @property
    def store(self) -> AudioStore:
        return self.storage.store

    @cached_property
    def health(self) -> HealthMonitor:
        """The last known state of each dependency (made on first use)."""
        return build_monitor(self)

    @cached_property
    def memories(self) -> MemoryService:
        """Echos' memories, and the choice of those relevant to a message."""
        return MemoryService(self.db, self.embedder)

    @cached_property
    def replies(self) -> ReplyService:
        """Echos' replies, with the memories most relevant to each message."""
        from backend.services.replies import ReplyService

        return ReplyService(
            db=self.db,
            model=self.chat_model,
            speech=self.speech,
            voices=self.voices,
            search=self.memories.search,
            link=self.links.url,
            max_tokens=self.settings.llm_max_tokens,
            honesty=Honesty(self.embedder),
            sentences=self.settings.reply_sentences,
            words=self.settings.reply_words,
        )

    def start(self) -> None:
        """Before serving: the upkeep pass (it also saves voice records journaled during an outage), then the
        sweep of what a killed process left."""
        self.upkeep.purge_old_audio(force=True)
        self.upkeep.sweep_leftovers()
        if self.embedder is not None and not self.db.shared:
            # The embedded store answers at once: memories saved before their model get their vectors now, in
            # the background. On MongoDB the hourly pass does it, so that a server that is down at start does
            # not hold up the first checks of /health; meanwhile an echo's memories get theirs when it first
            # replies (MemoryService.search).
            threading.Thread(target=self.upkeep.give_memories_vectors, name="memory-vectors", daemon=True).start()

    def close(self) -> None:
        """At shutdown: the language model, the database client (and the embedded store's process lock)."""
        if self.chat_model is not None:
            self.chat_model.close()
        self.db.close()


def build_services(
    settings: Settings, *, db_client: Any = None, providers: dict[str, VoiceProvider] | None = None
) -> Services:
    """The services for these settings; ``db_client`` and ``providers`` replace the configured ones (tests)."""
    gridfs = settings.resolved_audio_store == "gridfs"
    if gridfs and not (settings.mongodb_uri or db_client is not None):
        raise ConfigError("AUDIO_STORE=gridfs keeps audio in MongoDB: set MONGODB_URI too.")
    db = DatabaseManager(
        uri=settings.mongodb_uri,
        db_name=settings.mongodb_db,
        data_dir=settings.data_dir,
        timeout_ms=settings.mongodb_timeout_ms,
        client=db_client,
    )
    storage = open_storage(settings, db)
    if gridfs:
        # Every instance must sign and check audio links alike: SECRET_KEY, or one kept in the database.
        secret: Any = settings.secret_key or (lambda: db.shared_secret("audio_links"))
    else:
        secret = load_secret(settings.secret_key, settings.data_dir)
    if providers is None:
        providers = build_providers(settings, storage.profiles)
        active = settings.resolved_provider
    else:
        active = (
            settings.resolved_provider if settings.resolved_provider in providers else next(iter(providers), "none")
        )
    voices = VoiceService(settings, storage.store, providers, active, cache=storage.cache)
    # Following audio gives up after the slowest configured engine's silence.
    stall = max(settings.fish_audio_timeout, settings.fish_speech_timeout if settings.fish_speech_url else 0) + 10
    speech = Speech(voices, storage.store, storage.cache, db, stall_timeout=stall)
    return Services(
        settings=settings,
        db=db,
        storage=storage,
        voices=voices,
        speech=speech,
        links=AudioLinks(secret, settings.audio_url_ttl),
        chat_model=build_chat_model(settings),
        embedder=build_embedder(settings),
    )


def services() -> Services:
    """The services of the app handling this request."""
    return current_app.extensions["echo"]
