"""``open_storage``: the settings pick the house (files or GridFS); callers get the same face either way."""

from __future__ import annotations

import pytest

from backend.config import load_settings
from backend.database import DatabaseManager
from backend.storage import open_storage
from backend.storage.cache import FileCache, GridCache
from backend.storage.files import FileStore
from backend.storage.gridfs import GridStore
from backend.storage.profiles import DatabaseProfiles, FileProfiles
from tests.helpers import GridMongoClient


@pytest.fixture
def db():
    manager = DatabaseManager(client=GridMongoClient(tz_aware=True))
    yield manager
    manager.close()


def test_files_keep_everything_under_data_dir(tmp_path, db):
    settings = load_settings({"DATA_DIR": str(tmp_path), "AUDIO_STORE": "files", "CACHE_MAX_MB": 3}, env={})
    storage = open_storage(settings, db)
    assert isinstance(storage.store, FileStore) and storage.store.kind == "files"
    assert isinstance(storage.cache, FileCache) and storage.cache.max_bytes == 3 * 1024 * 1024
    assert storage.cache.root == tmp_path / "cache"
    assert isinstance(storage.profiles, FileProfiles) and storage.profiles.directory == tmp_path / "voices"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audio", "cache", "references", "tmp"]


def test_gridfs_keeps_everything_in_the_database_but_scratch(tmp_path, db):
    settings = load_settings({"DATA_DIR": str(tmp_path), "AUDIO_STORE": "gridfs", "CACHE_MAX_MB": 0}, env={})
    storage = open_storage(settings, db)
    assert isinstance(storage.store, GridStore) and storage.store.kind == "gridfs"
    assert isinstance(storage.cache, GridCache) and storage.cache.max_bytes == 0
    assert isinstance(storage.profiles, DatabaseProfiles) and storage.profiles.db is db
    assert [p.name for p in tmp_path.iterdir()] == ["tmp"]
