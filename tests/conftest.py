"""Shared fixtures: an app wired to mongomock and a mocked Fish.Audio, audio files (helpers: tests/helpers.py)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import mongomock
import mongomock.gridfs
import pytest
import responses

from backend.api_server import create_app
from backend.database import DatabaseManager
from backend.providers.fish import client as fish_client
from tests.fake_fish import FakeFish
from tests.helpers import FISH_KEY, FISH_URL, GridMongoClient, audio_file

# pymongo's gridfs on mongomock collections (the shared audio store's tests).
mongomock.gridfs.enable_gridfs_integration()


class SharedDatabase:
    """One database shared by several instances (GridFS tests): ``config`` for the apps, ``db`` to look inside."""

    def __init__(self, kind: str):
        if kind == "mongomock":
            self.client = GridMongoClient(tz_aware=True)
            self.name = "echo_db"
            self.db_client = self.client
            self.config = {}
        else:
            from pymongo import MongoClient

            uri = os.environ.get("MONGODB_URI")
            if not uri:
                pytest.skip("MONGODB_URI is not set")
            self.client = MongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=3000)
            self.name = f"echo_test_{secrets.token_hex(4)}"
            self.db_client = None
            self.config = {"MONGODB_URI": uri, "MONGODB_DB": self.name}
        self.db = self.client[self.name]
        self.managers: list[DatabaseManager] = []

    def manager(self) -> DatabaseManager:
        if self.db_client is not None:
            manager = DatabaseManager(client=self.client)
        else:
            manager = DatabaseManager(uri=self.config["MONGODB_URI"], db_name=self.name)
        self.managers.append(manager)
        return manager

    def close(self) -> None:
        for manager in self.managers:
            manager.close()
        if "MONGODB_URI" in self.config:
            self.client.drop_database(self.name)
            self.client.close()


@pytest.fixture(params=["mongomock", pytest.param("mongodb", marks=pytest.mark.mongodb)])
def shared(request):
    """The shared database: mongomock with GridFS always, a real MongoDB too when MONGODB_URI is set."""
    database = SharedDatabase(request.param)
    yield database
    database.close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def mongo_client():
    return mongomock.MongoClient(tz_aware=True)


@pytest.fixture
def fish():
    """Fish.Audio mocked at the transport; every call the code makes must be registered."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def fake():
    """A fake Fish.Audio on a loopback socket (tests/fake_fish.py): latency, chunked audio, faults."""
    server = FakeFish()
    yield server
    server.close()


@pytest.fixture
def slept(monkeypatch) -> list[float]:
    """Backoff delays the Fish.Audio client asked for, without waiting for them."""
    delays: list[float] = []
    monkeypatch.setattr(fish_client, "_sleep", delays.append)
    return delays


@pytest.fixture
def make_app(data_dir, mongo_client, fish, slept):
    def factory(*, db_client=mongo_client, providers=None, **overrides):
        config = {
            "DATA_DIR": str(data_dir),
            "VOICE_PROVIDER": "fish",
            "FISH_AUDIO_API_KEY": FISH_KEY,
            "FISH_AUDIO_API_URL": FISH_URL,
            "FISH_AUDIO_MAX_RETRIES": 2,
            "LOG_LEVEL": "WARNING",
        }
        config.update(overrides)
        return create_app(config, environ={}, db_client=db_client, providers=providers)

    return factory


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def user_id(client) -> str:
    response = client.post("/api/users/local|tester", json={"email": "tester@example.com"})
    assert response.status_code == 201
    return response.json["user"]


@pytest.fixture
def wav_bytes() -> bytes:
    return audio_file("wav", seconds=6.0)
