"""Shared fixtures: an app wired to mongomock and a mocked Fish.Audio, audio files, helpers."""

from __future__ import annotations

import os
import secrets
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from types import SimpleNamespace

import mongomock
import mongomock.gridfs
import pytest
import responses
from urllib3 import encode_multipart_formdata

from backend import fish_audio
from backend.api_server import create_app
from backend.database import DatabaseManager
from tests.audiogen import audio_file

FISH_URL = "https://fish.test"
FISH_KEY = "test-key-not-a-secret-0123456789"
FISH_MODEL_ID = "0123456789abcdef0123456789abcdef"


# pymongo's gridfs on mongomock collections (the shared audio store's tests).
mongomock.gridfs.enable_gridfs_integration()


class GridMongoClient(mongomock.MongoClient):
    """mongomock plus the client option pymongo's gridfs reads (its client-side operation timeout)."""

    options = SimpleNamespace(timeout=None)


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
def slept(monkeypatch) -> list[float]:
    """Backoff delays the Fish.Audio client asked for, without waiting for them."""
    delays: list[float] = []
    monkeypatch.setattr(fish_audio, "_sleep", delays.append)
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


def fish_model(model_id: str = FISH_MODEL_ID, **extra) -> dict:
    body = {
        "_id": model_id,
        "type": "tts",
        "title": "Grandma",
        "state": "trained",
        "train_mode": "fast",
        "visibility": "private",
        "created_at": "2026-11-24T10:00:00Z",
    }
    body.update(extra)
    return body


def multipart_fields(request) -> list[tuple[str, str | bytes, str | None]]:
    """(name, value, filename) of every part of a multipart request, in order."""
    head = f"Content-Type: {request.headers['Content-Type']}\r\n\r\n".encode()
    body = request.body if isinstance(request.body, bytes) else request.body.read()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    parts = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        payload = part.get_payload(decode=True)
        parts.append((name, payload if filename else payload.decode(), filename))
    return parts


def upload(client, data: bytes, *, filename: str = "voice.wav", headers: dict | None = None, **fields):
    """POST a multipart upload (encoded here: Werkzeug's test encoder leaks a temp file for large bodies)."""
    fields.setdefault("consent", "true")
    form = {"audio": (filename, data, "application/octet-stream")}
    form.update({k: v for k, v in fields.items() if v is not None})
    body, content_type = encode_multipart_formdata(form)
    return client.post("/api/upload-reference", data=body, content_type=content_type, headers=headers)


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []


def fetch(client, url: str, **kwargs):
    """GET a (file) response, read it and close it; returns (response, body)."""
    response = client.get(url, **kwargs)
    try:
        return response, response.get_data()
    finally:
        response.close()
