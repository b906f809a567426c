"""The services container as a unit: ``build_services`` wires the settings' storage, link secret and providers
(which one is active), ``start`` runs the upkeep pass and the sweep before serving, ``close`` lets the database
go, and ``services()`` is the container of the app handling the request."""

from __future__ import annotations

import time
from pathlib import Path

import mongomock
import pytest

from backend.api_server import create_app
from backend.config import ConfigError, load_settings
from backend.errors import LinkRejected
from backend.links import AudioLinks
from backend.providers.local import LocalProvider
from backend.services import Services, build_services, services
from backend.services.health import HealthMonitor
from backend.storage.cache import FileCache, GridCache
from backend.storage.files import FileStore
from backend.storage.gridfs import GridStore
from tests.helpers import FISH_KEY, GridMongoClient, backdate, local_app, names_in


class StubProvider:
    def __init__(self, name: str):
        self.name = self.description = name

    def status(self):
        return {"status": "ok", "provider": self.name}


@pytest.fixture
def built():
    """build_services for a config over the data dir (mongomock unless given a client); closed after the test."""
    made: list[Services] = []

    def build(data_dir: Path, *, db_client=None, providers=None, **config) -> Services:
        settings = load_settings({"DATA_DIR": str(data_dir), **config}, env={})
        client = mongomock.MongoClient(tz_aware=True) if db_client is None else db_client
        made.append(build_services(settings, db_client=client, providers=providers))
        return made[-1]

    yield build
    for svc in made:
        svc.close()


def signed_alike(one: AudioLinks, other: AudioLinks) -> bool:
    """Whether a link ``one`` signs passes ``other``'s check."""
    name = "a" * 32 + ".mp3"
    try:
        other.check(name, one.url(name).split("sig=")[1])
    except LinkRejected:
        return False
    return True


# -- wiring ---------------------------------------------------------------------------------------


def test_the_services_share_one_store_cache_and_database(built, tmp_path):
    svc = built(tmp_path / "data", AUDIO_STORE="files", FISH_AUDIO_TIMEOUT="20", AUDIO_URL_TTL="120")
    assert isinstance(svc.store, FileStore) and svc.store is svc.storage.store
    assert isinstance(svc.storage.cache, FileCache)
    assert svc.voices.store is svc.store and svc.voices.cache is svc.storage.cache
    assert svc.speech.store is svc.store and svc.speech.cache is svc.storage.cache and svc.speech.db is svc.db
    assert svc.speech.voices is svc.voices and svc.speech.stall_timeout == 30.0  # the provider's timeout + 10 s
    assert svc.upkeep.svc is svc
    assert svc.db.backend == "injected" and svc.links.ttl == 120


def test_the_health_monitor_is_made_on_first_use_and_kept(built, tmp_path):
    svc = built(tmp_path / "data")
    assert "health" not in vars(svc)
    monitor = svc.health
    assert isinstance(monitor, HealthMonitor) and svc.health is monitor
    assert [check.name for check in monitor.checks] == ["database", "voice_provider", "language_model"]


# -- the link secret ------------------------------------------------------------------------------


def test_with_files_the_link_secret_is_kept_in_the_data_dir(built, tmp_path):
    first = built(tmp_path / "data").links
    assert "secret_key" in names_in(tmp_path / "data")
    assert signed_alike(first, built(tmp_path / "data").links)  # a restart keeps the links it gave out
    assert not signed_alike(first, built(tmp_path / "other").links)  # another machine's key is another key


def test_a_configured_secret_key_is_the_one_links_are_signed_with(built, tmp_path):
    links = built(tmp_path / "data", SECRET_KEY="configured-secret-for-tests").links
    assert "secret_key" not in names_in(tmp_path / "data")
    configured = AudioLinks("configured-secret-for-tests", 3600)
    assert signed_alike(links, configured) and signed_alike(configured, links)


def test_with_gridfs_every_instance_signs_with_the_secret_in_the_database(built, tmp_path):
    database = GridMongoClient(tz_aware=True)
    a = built(tmp_path / "a", db_client=database, AUDIO_STORE="gridfs")
    b = built(tmp_path / "b", db_client=database, AUDIO_STORE="gridfs")
    assert isinstance(a.store, GridStore) and isinstance(a.storage.cache, GridCache)
    secrets = database[a.settings.mongodb_db].secrets
    assert secrets.count_documents({}) == 0  # fetched when the first link is signed, not before
    assert signed_alike(a.links, b.links) and signed_alike(b.links, a.links)
    assert [doc["_id"] for doc in secrets.find()] == ["audio_links"]
    assert "secret_key" not in names_in(tmp_path / "a") + names_in(tmp_path / "b")


def test_gridfs_without_a_database_is_refused(tmp_path):
    settings = load_settings({"DATA_DIR": str(tmp_path), "AUDIO_STORE": "gridfs"}, env={})
    with pytest.raises(ConfigError, match="MONGODB_URI"):
        build_services(settings)
    assert names_in(tmp_path) == []  # refused before anything was made


def test_gridfs_needs_mongodb(tmp_path):
    with pytest.raises(ConfigError, match="MONGODB_URI"):
        create_app({"DATA_DIR": str(tmp_path), "AUDIO_STORE": "gridfs"}, environ={})


# -- providers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "given", "active"),
    [
        ({"VOICE_PROVIDER": "local"}, ["fish", "local"], "local"),
        ({"FISH_AUDIO_API_KEY": FISH_KEY}, ["fish", "local"], "fish"),
        ({"FISH_AUDIO_API_KEY": FISH_KEY}, ["local"], "local"),  # the configured one is not given: the first given
        ({"VOICE_PROVIDER": "fish"}, ["local", "fish"], "local"),  # fish without a key resolves to none
        ({}, [], "none"),
    ],
)
def test_given_providers_are_offered_and_the_configured_one_is_active_if_given(built, tmp_path, config, given, active):
    providers = {name: StubProvider(name) for name in given}
    svc = built(tmp_path / "data", providers=providers, **config)
    assert svc.voices.providers == providers and svc.voices.active_name == active


def test_without_given_providers_the_configured_ones_are_built_on_the_storage(built, tmp_path):
    svc = built(tmp_path / "data", FISH_AUDIO_API_KEY=FISH_KEY, VOICE_PROVIDER="local")
    assert sorted(svc.voices.providers) == ["fish", "local"] and svc.voices.active_name == "local"
    local = svc.voices.providers["local"]
    assert isinstance(local, LocalProvider) and local.profiles is svc.storage.profiles
    shared = built(tmp_path / "shared", db_client=GridMongoClient(tz_aware=True), AUDIO_STORE="gridfs")
    assert shared.voices.providers["local"].profiles is shared.storage.profiles  # profiles in the database too


# -- start and close ------------------------------------------------------------------------------


def test_start_purges_old_audio_and_sweeps_unreferenced_recordings(built, tmp_path):
    svc = built(tmp_path / "data", AUDIO_RETENTION_HOURS="1", providers={})
    store = svc.store
    audio_dir, references_dir = store.outputs_dir, store.references_dir

    def output(age: float) -> str:
        out = store.new_output("mp3")
        out.write(b"ID3" + bytes(100))
        name = out.commit().name
        backdate(audio_dir / name, age)
        return name

    def recording(age: float) -> str:
        source = tmp_path / "upload.wav"
        source.write_bytes(b"RIFF" + bytes(100))
        key = store.keep_reference(source, "wav")
        backdate(references_dir / key, age)
        return key

    old_output, new_output = output(2 * 3600), output(60)
    old_orphan, young_orphan = recording(2 * 3600), recording(60)  # no voice record points at either
    svc.start()
    assert names_in(audio_dir) == [new_output]  # past its retention: gone
    assert names_in(references_dir) == [young_orphan]  # maybe a clone about to save its record: kept
    assert old_orphan not in names_in(references_dir) and old_output not in names_in(audio_dir)
    output(2 * 3600)
    assert svc.upkeep.purge_old_audio() == 0  # start was this hour's pass
    assert svc.upkeep.purge_old_audio(force=True) == 1


def test_close_lets_the_database_client_go(tmp_path):
    closed: list[bool] = []

    class Client(mongomock.MongoClient):
        def close(self):
            closed.append(True)
            super().close()

    settings = load_settings({"DATA_DIR": str(tmp_path)}, env={})
    svc = build_services(settings, db_client=Client(tz_aware=True), providers={})
    assert closed == []
    svc.close()
    assert closed == [True]


# -- the accessor ---------------------------------------------------------------------------------


def test_services_are_those_of_the_app_handling_the_request(tmp_path):
    first, second = local_app(tmp_path / "one"), local_app(tmp_path / "two")
    with first.app_context():
        assert services() is first.extensions["echo"]
        with second.test_request_context("/health"):
            assert services() is second.extensions["echo"] and services() is not first.extensions["echo"]
        assert services() is first.extensions["echo"]
    with pytest.raises(RuntimeError, match="application context"):
        services()
    for app in (first, second):
        app.extensions["echo"].close()


# -- memories' vectors for memories saved before their model -----------------------------------------


def _plain_memories(db, n: int = 3) -> dict:
    user = db.get_or_create_user("local|vectors", None)[0]["_id"]
    echo = db.create_echo(user_id=user, name="Joe", persona_prompt="", voice_model_id=None)
    for i in range(n):
        db.add_memory(echo["_id"], user, f"He caught {i + 2} pike at the lake.")
    return echo


def test_on_the_embedded_store_older_memories_get_their_vectors_at_start(tmp_path):
    settings = load_settings({"DATA_DIR": str(tmp_path), "EMBEDDINGS": "local"}, env={})
    svc = build_services(settings, providers={})
    echo = _plain_memories(svc.db)
    svc.start()
    deadline = time.monotonic() + 30
    while any("vector" not in m for m in svc.db.all_memories(echo["_id"])):
        assert time.monotonic() < deadline, "the start-up pass gave no vectors"
        time.sleep(0.05)
    svc.close()


def test_on_mongodb_the_hourly_pass_gives_them(tmp_path):
    settings = load_settings({"DATA_DIR": str(tmp_path), "EMBEDDINGS": "local"}, env={})
    svc = build_services(settings, db_client=mongomock.MongoClient(tz_aware=True), providers={})
    echo = _plain_memories(svc.db)
    svc.start()  # a shared store: nothing in the background at start
    assert all("vector" not in m for m in svc.db.all_memories(echo["_id"]))
    assert svc.upkeep.give_memories_vectors() == 3
    assert all(m["vector_model"] == svc.embedder.name for m in svc.db.all_memories(echo["_id"]))
    assert svc.upkeep.give_memories_vectors() == 0
    svc.close()
