"""Moving an embedded store kept by earlier versions of Echo (montydb on SQLite) into the current one.

Earlier versions kept their embedded store with montydb under ``DATA_DIR/db``: two configuration files
(``.monty.storage``, ``monty.storage.cfg``) and a folder per database holding a ``<collection>.collection``
SQLite file per collection. Echo now keeps one SQLite file, ``DATA_DIR/db/<database>.sqlite3``
(``backend.docstore``). On the first start after the upgrade, :func:`migrate_if_needed` copies every
document of every collection, ids, times and order unchanged, and then moves the old files aside into
``DATA_DIR/db/montydb-before-migration/`` (kept, never deleted: remove that folder once Echo works).

Safe to kill at any moment: the copy is written to a staging file, flushed to disk, and only then renamed
to the store's name, in one step. So there is never a half-made store under that name: either the old
files are current (no new store yet: the next start copies again, from the start) or the new store is
(and the next start finishes moving the old files aside).
"""

from __future__ import annotations

import configparser
import logging
import os
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from backend.config import ConfigError
from backend.docstore import DocStore

log = logging.getLogger(__name__)

LEGACY_STORAGE_NAME_FILE = ".monty.storage"
LEGACY_STORAGE_CONFIG_FILE = "monty.storage.cfg"
LEGACY_COLLECTION_SUFFIX = SUFFIX = ".collection"
LEGACY_KEPT_AS = "montydb-before-migration"
STAGING_PREFIX = ".new-"
BATCH = 2000


@dataclass
class Migration:
    """What a migration copied: documents per collection."""

    copied: dict[str, int] = field(default_factory=dict)
    kept_as: Path | None = None


def store_file(db_dir: Path, db_name: str) -> Path:
    """Where the embedded store of database ``db_name`` lives."""
    return db_dir / f"{db_name}.sqlite3"


def legacy_files(db_dir: Path, db_name: str) -> list[Path]:
    """The files of an earlier version's store (montydb) still in place in ``db_dir``."""
    found = [db_dir / name for name in (LEGACY_STORAGE_NAME_FILE, LEGACY_STORAGE_CONFIG_FILE)]
    found.append(db_dir / db_name)
    return [path for path in found if path.exists()]


def migrate_if_needed(db_dir: Path, db_name: str) -> Migration | None:
    """Bring an earlier version's store into the current one, or finish a migration a kill cut short.

    Returns what was copied, or None when there was nothing to do. Run with the store's process lock held.
    """
    for leftover in db_dir.glob(f"{STAGING_PREFIX}*"):  # a migration or start killed part-way
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
    legacy = legacy_files(db_dir, db_name)
    if not legacy:
        return None
    target = store_file(db_dir, db_name)
    if target.exists():  # copied and renamed into place before a kill: only the moving aside is left
        return Migration(kept_as=_keep_aside(db_dir, legacy))
    log.warning("embedded store: moving the data of an earlier version (montydb) into %s", target.name)
    staging = db_dir / f"{STAGING_PREFIX}{target.name}"
    copied = _copy_into(db_dir, db_name, staging)
    _fsync(staging)
    os.replace(staging, target)
    _fsync(db_dir)
    kept_as = _keep_aside(db_dir, legacy)
    total = sum(copied.values())
    log.warning(
        "embedded store: moved %d records (%s); the old files are kept in %s until you remove them",
        total,
        ", ".join(f"{name} {count}" for name, count in sorted(copied.items())),
        kept_as,
    )
    return Migration(copied=copied, kept_as=kept_as)


def _copy_into(db_dir: Path, db_name: str, staging: Path) -> dict[str, int]:
    """Every document of the old store into a new store file at ``staging``, in one transaction."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{staging}{suffix}").unlink(missing_ok=True)
    copied: dict[str, int] = {}
    new = DocStore(staging)
    try:
        old = _open_legacy(db_dir, db_name)
        try:
            old_folder = db_dir / db_name
            names = sorted(p.name[: -len(SUFFIX)] for p in old_folder.glob(f"*{SUFFIX}"))
            with new.transaction():
                for name in names:
                    copied[name] = _copy_collection(old[db_name][name], new[name])
        finally:
            old.close()
        new.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the one file before it is renamed
    finally:
        new.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{staging}{suffix}").unlink(missing_ok=True)
    return copied


def _copy_collection(source, target) -> int:
    """A collection's documents in their stored order (montydb's insertion order), in batches."""
    count = 0
    batch = []
    for doc in source.find({}):
        batch.append(doc)
        if len(batch) >= BATCH:
            target.insert_many(batch)
            count += len(batch)
            batch = []
    if batch:
        target.insert_many(batch)
        count += len(batch)
    return count


def _open_legacy(db_dir: Path, db_name: str):
    """montydb's client on the old store, after repairing what a killed earlier version could leave.

    Earlier versions wrote montydb's configuration files aside and renamed them, and made every collection
    at start; a store from before that could have a configuration file empty or a collection file without
    its table. The configuration is written again when it is not whole (Echo always used SQLite with BSON),
    and a collection file without its table (it never held data) is left out by montydb's reads.
    """
    from montydb import MontyClient, set_storage

    if not _legacy_config_is_whole(db_dir):
        staging = db_dir / f"{STAGING_PREFIX}config"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        set_storage(str(staging), storage="sqlite", use_bson=True)
        for name in (LEGACY_STORAGE_NAME_FILE, LEGACY_STORAGE_CONFIG_FILE):
            os.replace(staging / name, db_dir / name)
        shutil.rmtree(staging, ignore_errors=True)
    for file in (db_dir / db_name).glob(f"*{LEGACY_COLLECTION_SUFFIX}"):
        if not _has_documents_table(file):
            log.warning("embedded store: the old collection file %s was never finished; it held nothing", file.name)
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{file}{suffix}").unlink(missing_ok=True)
    return MontyClient(str(db_dir))


def _legacy_config_is_whole(db_dir: Path) -> bool:
    try:
        storage = (db_dir / LEGACY_STORAGE_NAME_FILE).read_text().strip()
    except (FileNotFoundError, UnicodeDecodeError):
        return False
    parser = configparser.ConfigParser()
    try:
        parser.read(db_dir / LEGACY_STORAGE_CONFIG_FILE)
    except configparser.Error:
        return False
    return storage == "sqlite" and parser.get("sqlite", "use_bson", fallback="") == "yes"


def _has_documents_table(file: Path) -> bool:
    connection = sqlite3.connect(file)
    try:
        query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'documents'"
        return connection.execute(query).fetchone() is not None
    except sqlite3.DatabaseError as exc:
        raise ConfigError(f"The old embedded store file {file} is damaged ({exc}); restore it from a backup.") from exc
    finally:
        connection.close()


def _keep_aside(db_dir: Path, legacy: list[Path]) -> Path:
    """Move the old store's files into one folder beside the new store (each move is one rename)."""
    kept = db_dir / LEGACY_KEPT_AS
    kept.mkdir(exist_ok=True)
    for path in legacy:
        _move(path, kept / path.name)
    _fsync(db_dir)
    return kept


def _move(source: Path, target: Path) -> None:
    if target.exists():  # an earlier, interrupted keep-aside: keep both
        target = target.with_name(f"{target.name}.{os.getpid()}")
    os.replace(source, target)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
