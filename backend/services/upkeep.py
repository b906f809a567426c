"""Upkeep: the hourly pass (retention, provider deletions to retry, voice records kept during an outage,
temporaries of dead writers) and, after a crash, what a killed process left behind, swept at start.

``sweep_unreferenced`` removes recordings and local voice profiles that no record (and no record waiting in
the outage journal, ``backend.storage.journal``) points at, once old enough that no live process can still be
about to save their record. Nothing is removed when the records cannot be read.

Temporary files under ``DATA_DIR/tmp`` are swept by ``backend.storage.scratch.Scratch.remove_stale_temporaries``
(by their writers' locks), at start and hourly.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING

from backend.database import DatabaseManager, utcnow
from backend.errors import Conflict, DatabaseUnavailable, EchoError, NotFound, ProviderError
from backend.services.deletion import voice_recordings
from backend.storage import AudioStore, ProfileStore
from backend.storage.journal import JOURNAL_NAME, JournalUnreadable, UnsavedVoiceModels

if TYPE_CHECKING:
    from backend.services import Services

log = logging.getLogger(__name__)

_LOCAL_MODEL_ID = re.compile(r"^(local|fishspeech)-[0-9a-f]{24}$")  # voices whose profile Echo keeps

# How old an unreferenced recording or profile must be before the start-up sweep removes it: long enough
# that no live process can still be between keeping it and saving its record.
GRACE_EMBEDDED = timedelta(0)  # one process per store, and the sweep runs before it serves
GRACE_SHARED_FILES = timedelta(hours=1)  # processes on this machine share DATA_DIR (and its journal)
# With GridFS the recordings are shared by every machine, but a journal is on one machine only: a voice
# journaled on another machine during an outage is saved at its next hourly pass after the outage.
GRACE_SHARED_DATABASE = timedelta(hours=24)


def sweep_unreferenced(
    *, db: DatabaseManager, store: AudioStore, profiles: ProfileStore, journal: UnsavedVoiceModels, grace: timedelta
) -> dict[str, int] | None:
    """Remove recordings and local voice profiles that no record points at and that are older than ``grace``.

    Kept: whatever a voice model record (``reference_audio``, ``consent.recording``, ``model_id``) or a
    journaled record points at. When the records cannot be read, nothing is removed (None).
    """
    counts = {"recordings": 0, "voice_profiles": 0}
    # Not record-based: a profile is written whole under a temporary name, then renamed.
    counts["profile_temporaries"] = profiles.remove_temporaries(grace.total_seconds())
    try:
        # The journal first: a record that moves from it into the database meanwhile is seen in one of them.
        waiting = journal.records()
        recordings, model_ids = db.voice_model_references()
        stored_recordings = store.stored_references()
        stored_profiles = profiles.stored()
    except (DatabaseUnavailable, JournalUnreadable) as exc:
        why = "database unreachable" if isinstance(exc, DatabaseUnavailable) else f"{JOURNAL_NAME} unreadable"
        log.warning(
            "%s at start: recordings and voice profiles that no record points at are not swept (nothing is "
            "removed on missing information); the next start sweeps them",
            why,
        )
        return None
    for record in waiting:
        model_ids.add(record["model_id"])
        consent = record.get("consent") if isinstance(record.get("consent"), dict) else {}
        recordings.update(k for k in (record.get("reference_audio"), consent.get("recording")) if k)
    cutoff = utcnow() - grace
    try:
        for key, kept_at in stored_recordings:
            if key not in recordings and kept_at <= cutoff:
                store.delete_reference(key)
                counts["recordings"] += 1
        for model_id, saved_at in stored_profiles:
            if _LOCAL_MODEL_ID.match(model_id) and model_id not in model_ids and saved_at <= cutoff:
                profiles.delete(model_id)
                counts["voice_profiles"] += 1
    except DatabaseUnavailable:
        log.warning("database lost during the start-up sweep; the rest waits for the next start")
    log.info(
        "start-up sweep: removed %d recordings and %d local voice profiles that no record points at, "
        "and %d half-written profiles (grace %s)",
        counts["recordings"],
        counts["voice_profiles"],
        counts["profile_temporaries"],
        grace,
    )
    return counts


def sweep_grace(db: DatabaseManager, store: AudioStore) -> timedelta:
    """How old an unreferenced recording must be before it goes, for this store (see the GRACE_ constants)."""
    if db.backend == "embedded":
        return GRACE_EMBEDDED
    return GRACE_SHARED_DATABASE if store.kind == "gridfs" else GRACE_SHARED_FILES


PURGE_EVERY_SECONDS = 3600


class Upkeep:
    """The hourly pass and the start-up sweep of one app."""

    def __init__(self, svc: Services):
        self.svc = svc
        self._last_purge = 0.0
        self._lock = threading.Lock()
        self._running = False

    def run_if_due(self) -> None:
        """Start the hourly pass beside the request that noticed it is due (never inside it)."""
        with self._lock:
            if self._running or time.monotonic() - self._last_purge < PURGE_EVERY_SECONDS:
                return
            self._running = True
        try:
            threading.Thread(target=self._run_once, name="echo-upkeep", daemon=True).start()
        except RuntimeError:  # no thread to be had now: the request goes on, a later one tries again
            log.warning("the hourly upkeep could not start; it is tried again on a later request")
            with self._lock:
                self._running = False

    def _run_once(self) -> None:
        try:
            self.purge_old_audio(force=True)
            self.give_memories_vectors()
        except Exception:  # an upkeep pass never takes anything down; the next one tries again
            log.exception("hourly upkeep failed")
        finally:
            with self._lock:
                self._running = False

    def purge_old_audio(self, *, force: bool = False) -> int:
        """Hourly upkeep (and at start): retry failed provider deletions, save voice records kept while the
        database was away, remove temporaries of dead writers, drop audio past its retention."""
        svc = self.svc
        with self._lock:
            now = time.monotonic()
            if not force and now - self._last_purge < PURGE_EVERY_SECONDS:
                return 0
            self._last_purge = now
        svc.voices.retry_pending_deletions()
        self.save_unsaved_voice_models()
        svc.store.remove_stale_temporaries()
        try:
            gone = svc.store.purge_outputs(svc.settings.audio_retention_hours * 3600)
        except DatabaseUnavailable:
            log.info("audio in the database is purged at the next hourly pass")
            return 0
        if gone:
            try:
                svc.db.forget_audio(gone)
            except DatabaseUnavailable:
                log.info("purged %d audio files; their records go with the next purge", len(gone))
        return len(gone)

    def give_memories_vectors(self) -> int:
        """Memories saved before their embedding model was there get their vectors, once; how many did."""
        if self.svc.embedder is None:
            return 0
        try:
            done = self.svc.memories.backfill()
        except EchoError as exc:  # the store or the model is down: a later pass tries again
            log.warning("memories could not all be given their vectors: %s", exc.message)
            return 0
        if done:
            log.info("%d memories were given their vectors", done)
        return done

    def journal(self) -> UnsavedVoiceModels:
        """The outage journal: voice records that wait for the database (DATA_DIR/unsaved_voice_models.json)."""
        return UnsavedVoiceModels(self.svc.settings.data_dir)

    def save_unsaved_voice_models(self) -> tuple[int, int]:
        """Save the journaled voice records now that the database may answer; (saved, still waiting)."""
        return self.journal().save_all(self.svc.db, self._discard_unsaved_voice)

    def _discard_unsaved_voice(self, record: dict) -> bool:
        """Delete a journaled voice whose user is gone: at its provider, with its recordings."""
        try:
            self.svc.voices.delete(
                record["model_id"],
                provider_name=record.get("provider"),
                recordings=voice_recordings(record),
                outputs=[],
            )
        except NotFound:  # an id no provider makes: there is nothing anywhere to delete
            return True
        except (ProviderError, Conflict) as exc:
            log.warning("could not delete voice %s yet (%s); retried at the next pass", record["model_id"], exc)
            return False
        return True

    def sweep_leftovers(self) -> dict[str, int] | None:
        """At start: remove recordings and local voice profiles no record points at."""
        svc = self.svc
        return sweep_unreferenced(
            db=svc.db,
            store=svc.store,
            # the local engine's own profile store (tests may give it another than the configured one)
            profiles=getattr(svc.voices.providers.get("local"), "profiles", None) or svc.storage.profiles,
            journal=self.journal(),
            grace=sweep_grace(svc.db, svc.store),
        )
