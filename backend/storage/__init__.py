"""Where Echo keeps audio and voice data: one face, two houses.

Callers hold the protocols below, never the classes: ``open_storage`` picks them for the settings.

- ``AUDIO_STORE=files``: recordings and speech under DATA_DIR (``backend.storage.files``), the cache in
  DATA_DIR/cache, local voice profiles in DATA_DIR/voices (``backend.storage.profiles``).
- ``AUDIO_STORE=gridfs``: the same in MongoDB (``backend.storage.gridfs``), shared by every instance.

Either way DATA_DIR/tmp is this machine's scratch folder (``backend.storage.scratch``), and audio still
being written can be followed (``backend.storage.follow``). The package also keeps the small files that wait
for an outside service: provider voices still to delete (``pending``) and voice records still to save
(``journal``). With ``backend.database`` it is the data layer: the only code that touches collections.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

if TYPE_CHECKING:
    from backend.config import Settings
    from backend.database import DatabaseManager


class StoredAudio(Protocol):
    """A complete stored audio file, wherever it lives."""

    @property
    def name(self) -> str: ...

    @property
    def size(self) -> int: ...

    @property
    def modified(self) -> datetime: ...

    @property
    def path(self) -> Path | None:
        """Set when it is a file on this machine (then it is sent as a file)."""

    def open(self) -> BinaryIO:
        """A seekable reader; FileNotFoundError when the audio went in the meantime."""


class Output(Protocol):
    """Generated audio being written: nothing appears under ``name`` until ``commit``."""

    @property
    def name(self) -> str: ...

    @property
    def size(self) -> int:
        """Bytes written so far."""

    def write(self, chunk: bytes) -> None: ...

    def commit(self, finish: Callable[[Path], None] | None = None) -> StoredAudio:
        """Store what was written under ``name`` (``finish`` fixes the file up first, e.g. a WAV header)."""

    def discard(self) -> None:
        """Drop what was written unless committed; safe to call more than once."""


class AudioStore(Protocol):
    """Uploads being checked, kept recordings (by key) and generated speech (by public name)."""

    @property
    def kind(self) -> str:
        """Either "files" or "gridfs"."""

    def upload(self, stream: BinaryIO) -> AbstractContextManager[Path]:
        """An incoming upload copied to a scratch file, removed on exit."""

    def keep_reference(self, source: Path, extension: str) -> str:
        """Keep a recording under a new random key; returns the key."""

    def delete_reference(self, key: str | None) -> None: ...

    def reference(self, key: str | None) -> StoredAudio | None:
        """A kept recording, to play back to its owner; None when there is none (or the key is not ours)."""

    def stored_references(self) -> list[tuple[str, datetime]]:
        """Every kept recording's key with the time it was kept (for the start-up sweep)."""

    def new_output(self, fmt: str) -> Output: ...

    def follow_output(self, name: str, *, stall_timeout: float = 60.0, poll: float = 0.05) -> Iterator[bytes] | None:
        """Audio still being written, from its first byte to its last; None when ``name`` is not being written."""

    def output(self, name: str) -> StoredAudio | None:
        """The stored audio for a public output name, or None (also for names that are not ours)."""

    def delete_output(self, name: str | None) -> None: ...

    def purge_outputs(self, older_than: float) -> list[str]:
        """Delete generated audio older than ``older_than`` seconds; returns the names that went."""

    def remove_stale_temporaries(self) -> int:
        """Remove scratch files whose writer is gone; returns how many went."""


class AudioCache(Protocol):
    """Synthesized audio by request, so identical requests are answered without the provider.

    A namespace is a voice (or a user's default voice): dropping it drops its entries.
    """

    def key(self, **parts: object) -> str:
        """A stable digest of everything that shapes the audio."""

    def lookup(self, namespace: str, key: str, fmt: str) -> StoredAudio | None: ...

    def add(self, source: StoredAudio, namespace: str, key: str, fmt: str) -> None: ...

    def entry(self, name: str) -> StoredAudio | None:
        """The entry with this public name, if there is one."""

    def drop(self, namespace: str) -> int:
        """Remove every entry of a namespace; returns how many went."""


class ProfileStore(Protocol):
    """Where the local engine keeps its voice profiles (JSON text by model id)."""

    def load(self, model_id: str) -> str | None: ...

    def save(self, model_id: str, text: str) -> None: ...

    def delete(self, model_id: str) -> None: ...

    def stored(self) -> list[tuple[str, datetime]]:
        """Every profile's model id with the time it was saved (for the start-up sweep)."""

    def remove_temporaries(self, older_than: float) -> int:
        """Remove half-written profiles left by a killed process; returns how many went."""


@dataclass(frozen=True)
class Storage:
    store: AudioStore
    cache: AudioCache
    profiles: ProfileStore


def open_storage(settings: Settings, db: DatabaseManager) -> Storage:
    """The store, cache and profile store for ``AUDIO_STORE`` (files, or GridFS in ``db``'s MongoDB)."""
    cache_bytes = settings.cache_max_mb * 1024 * 1024
    if settings.resolved_audio_store == "gridfs":
        from backend.storage.cache import GridCache
        from backend.storage.gridfs import GridStore
        from backend.storage.profiles import DatabaseProfiles

        return Storage(GridStore(settings.data_dir, db), GridCache(db, cache_bytes), DatabaseProfiles(db))
    from backend.storage.cache import FileCache
    from backend.storage.files import FileStore
    from backend.storage.profiles import FileProfiles

    return Storage(
        FileStore(settings.data_dir),
        FileCache(settings.data_dir / "cache", cache_bytes),
        FileProfiles(settings.data_dir / "voices"),
    )
