"""Echo's use cases, and the container the factory builds. Routes parse requests and shape answers; what they
do is done here, over the data layer (``backend.database``), the storage package and the providers.

- ``voices``   the voice service (the seed's VoiceServiceWrapper): which provider owns a voice, cloning checks
- ``cloning``  cloning a voice for a user: consent, the record, an outage journal, undo on failure
- ``speech``   speaking: cache, stored file, following it while it grows, who owns it
- ``deletion`` deleting a voice everywhere, and an account with everything of it
- ``upkeep``   the hourly pass and the start-up sweep of what a killed process left
- ``health``   the last known state of each dependency, refreshed in the background
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from flask import current_app

from backend.config import ConfigError, Settings
from backend.database import DatabaseManager
from backend.links import AudioLinks, load_secret
from backend.providers import VoiceProvider, build_providers
from backend.services.health import HealthMonitor, build_monitor
from backend.services.speech import Speech
from backend.services.upkeep import Upkeep
from backend.services.voices import VoiceService
from backend.storage import AudioStore, Storage, open_storage

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    db: DatabaseManager
    storage: Storage
    voices: VoiceService
    speech: Speech
    links: AudioLinks
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

    def start(self) -> None:
        """Before serving: the upkeep pass (it also saves voice records journaled during an outage), then the
        sweep of what a killed process left."""
        self.upkeep.purge_old_audio(force=True)
        self.upkeep.sweep_leftovers()

    def close(self) -> None:
        """At shutdown: the database client (and the embedded store's process lock)."""
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
    speech = Speech(voices, storage.store, storage.cache, db, stall_timeout=settings.fish_audio_timeout + 10)
    return Services(
        settings=settings,
        db=db,
        storage=storage,
        voices=voices,
        speech=speech,
        links=AudioLinks(secret, settings.audio_url_ttl),
    )


def services() -> Services:
    """The services of the app handling this request."""
    return current_app.extensions["echo"]
