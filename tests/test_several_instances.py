"""Several app instances on one MongoDB (AUDIO_STORE=gridfs): every instance serves every user's audio.

Each "instance" is an app with a DATA_DIR of its own (a separate machine) and the same database. The
database is mongomock with its GridFS integration, and a real MongoDB too when MONGODB_URI is set; the
upstream is the real-socket fake Fish.Audio.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from backend.api_server import create_app
from backend.database import DatabaseManager, utcnow
from backend.providers.fish import client as fish_client
from tests.fake_fish import Reply, mp3_like
from tests.helpers import background_syntheses, fetch, files_under, join_all, reference_voice, upload


@pytest.fixture
def make_instance(fake, shared, tmp_path, monkeypatch):
    monkeypatch.setattr(fish_client, "_sleep", lambda seconds: None)
    made = []

    def factory(label: str = "a", **overrides):
        config = {
            "DATA_DIR": str(tmp_path / f"machine-{label}"),
            "AUDIO_STORE": "gridfs",
            "VOICE_PROVIDER": "fish",
            "FISH_AUDIO_API_KEY": "fake-key-for-tests-000",
            "FISH_AUDIO_API_URL": fake.url,
            "FISH_AUDIO_TIMEOUT": 2.0,
            "FISH_AUDIO_MAX_RETRIES": 0,
            "SYNTHESIZE_RATE_LIMIT": "10000 per minute",
            "LOG_LEVEL": "WARNING",
        }
        config.update(shared.config)
        config.update(overrides)
        app = create_app(config, environ={}, db_client=shared.db_client)
        made.append(app)
        return app.test_client()

    yield factory
    for app in made:
        app.extensions["echo"].db.close()


@pytest.fixture
def a(make_instance):
    return make_instance("a")


@pytest.fixture
def b(make_instance):
    return make_instance("b")


def gridfs_names(shared, bucket: str) -> list[str]:
    return sorted(doc["filename"] for doc in shared.db[f"{bucket}.files"].find())


def scratch_is_empty(client) -> bool:
    data_dir = client.application.extensions["echo"].settings.data_dir
    return files_under(data_dir / "tmp") == []


def nothing_on_disk_but_scratch(client) -> list:
    data_dir = client.application.extensions["echo"].settings.data_dir
    return [p for p in files_under(data_dir) if p.parent.name != "tmp"]


# -- the shared store -----------------------------------------------------------------------------


def test_audio_made_on_one_instance_is_served_by_another(a, b, shared, wav_bytes):
    user = a.post("/api/users/local|gran-family").json["user"]
    created = upload(a, wav_bytes, name="Gran", user_id=user)
    assert created.status_code == 201
    model_id = created.json["model_id"]
    assert len(gridfs_names(shared, "references")) == 1  # the recording is in MongoDB
    spoken = a.post("/api/synthesize", json={"text": "Hello from A.", "reference_id": model_id, "user_id": user})
    assert spoken.status_code == 200 and spoken.json["cached"] is False
    response, data = fetch(b, spoken.json["audio_url"])  # B signs alike and reads the same store
    assert response.status_code == 200 and data.startswith(b"ID3") and len(data) == spoken.json["size_bytes"]
    assert response.headers["Accept-Ranges"] == "bytes" and "private" in response.headers["Cache-Control"]
    assert nothing_on_disk_but_scratch(a) == [] and scratch_is_empty(a)
    # Ranges and revalidation work for audio that is not a local file.
    part, piece = fetch(b, spoken.json["audio_url"], headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and piece == data[10:20]
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    again, _ = fetch(b, spoken.json["audio_url"], headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    # B lists the voice and speaks with it: the records are shared too.
    listed = b.get(f"/api/voice-models?user_id={user}").json
    assert [m["model_id"] for m in listed["voice_models"]] == [model_id]


def test_the_link_secret_is_shared_through_the_database(a, b, shared):
    spoken = a.post("/api/synthesize", json={"text": "Signed once."}).json
    assert fetch(b, spoken["audio_url"])[0].status_code == 200
    assert shared.db.secrets.count_documents({}) == 1
    data_dir = a.application.extensions["echo"].settings.data_dir
    assert not (data_dir / "secret_key").exists()
    tampered = spoken["audio_url"][:-3] + ("aaa" if not spoken["audio_url"].endswith("aaa") else "bbb")
    assert b.get(tampered).status_code == 403


def test_the_cache_is_shared_and_goes_with_the_voice(a, b, fake, shared, wav_bytes):
    user = a.post("/api/users/local|cache-family").json["user"]
    model_id = upload(a, wav_bytes, name="Grandad", user_id=user).json["model_id"]
    request = {"text": "Same words everywhere.", "reference_id": model_id, "user_id": user}
    first = a.post("/api/synthesize", json=request).json
    second = b.post("/api/synthesize", json=request).json
    assert first["cached"] is False and second["cached"] is True
    assert len(fake.calls("POST", "/v1/tts")) == 1  # B did not ask the provider
    assert fetch(a, second["audio_url"])[1] == fetch(b, first["audio_url"])[1]
    assert len(gridfs_names(shared, "cache")) == 1
    assert b.delete(f"/api/voice-models/{model_id}?user_id={user}").status_code == 200
    assert gridfs_names(shared, "cache") == [] and gridfs_names(shared, "audio") == []
    assert gridfs_names(shared, "references") == []
    assert a.get(first["audio_url"]).status_code == 404 and a.get(second["audio_url"]).status_code == 404


def test_progressive_audio_can_be_followed_from_another_instance(a, b, fake, shared, monkeypatch):
    body = mp3_like(60000)
    fake.plan["POST /v1/tts"] = Reply(body=body, content_type="audio/mpeg", chunks=10, chunk_delay=0.1)
    writers = background_syntheses(a.application, monkeypatch)
    response = a.post("/api/synthesize", json={"text": "Slowly, on A.", "progressive": True})
    assert response.status_code == 200 and response.json["complete"] is False
    follower = b.get(response.json["audio_url"], buffered=False)
    assert follower.status_code == 200 and follower.mimetype == "audio/mpeg"
    pieces = list(follower.response)
    follower.close()
    assert b"".join(pieces) == body and len(pieces) > 1  # it arrived while it grew
    join_all(writers)  # A's writer has stored the file and cleared its progress
    db = shared.db
    assert db.audio_progress.count_documents({}) == 0 and db.audio_progress_pieces.count_documents({}) == 0
    assert fetch(b, response.json["audio_url"])[1] == body


def test_a_follower_that_arrives_late_gets_the_whole_file(a, b, fake):
    """Pieces are deleted once the file is stored: a follower part-way through reads the rest from GridFS."""
    store = a.application.extensions["echo"].store
    body = mp3_like(30000)
    fake.plan["POST /v1/tts"] = Reply(body=body, content_type="audio/mpeg", chunks=6, chunk_delay=0.05)
    response = a.post("/api/synthesize", json={"text": "Catch me.", "progressive": True}).json
    name = response["audio_url"].split("/")[-1].split("?")[0]
    follower = store.follow_output(name, poll=0.01)
    assert follower is not None
    first = next(follower)
    rest = b"".join(follower)
    assert first + rest == body


def test_a_progressive_failure_keeps_nothing_anywhere(a, b, fake, shared, monkeypatch):
    fake.plan["POST /v1/tts"] = Reply(
        body=mp3_like(60000), content_type="audio/mpeg", chunks=10, chunk_delay=0.05, drop_after_chunks=4
    )
    writers = background_syntheses(a.application, monkeypatch)
    response = a.post("/api/synthesize", json={"text": "Cut off.", "progressive": True})
    follower = b.get(response.json["audio_url"], buffered=False)
    with pytest.raises(OSError, match="part-way"):
        b"".join(follower.response)
    follower.close()
    join_all(writers)  # A's writer has given up and cleaned up after itself
    assert b.get(response.json["audio_url"]).status_code == 404
    db = shared.db
    assert gridfs_names(shared, "audio") == [] and db["audio.chunks"].count_documents({}) == 0
    assert db.audio_progress.count_documents({}) == 0 and db.audio_progress_pieces.count_documents({}) == 0
    assert scratch_is_empty(a)


def test_a_stream_cut_in_the_middle_stores_nothing(a, fake, shared):
    fake.plan["POST /v1/tts"] = Reply(body=mp3_like(40000), content_type="audio/mpeg", chunks=8, drop_after_chunks=3)
    response = a.post("/api/synthesize", json={"text": "Hi", "stream": True}, buffered=False)
    with pytest.raises(Exception, match="dropped"):
        list(response.response)
    response.close()
    assert gridfs_names(shared, "audio") == [] and shared.db.audio_progress_pieces.count_documents({}) == 0
    assert scratch_is_empty(a)


def test_retention_and_abandoned_audio_are_purged(a, shared):
    spoken = a.post("/api/synthesize", json={"text": "Old news."}).json
    db = shared.db
    db["audio.files"].update_many({}, {"$set": {"uploadDate": utcnow() - timedelta(days=30)}})
    # A writer killed part-way leaves a mark and pieces behind.
    db.audio_progress.insert_one(
        {"_id": "x" * 32 + ".mp3", "state": "writing", "updated_at": utcnow() - timedelta(hours=2)}
    )
    db.audio_progress_pieces.insert_one({"name": "x" * 32 + ".mp3", "seq": 0, "data": b"ID3"})
    services = a.application.extensions["echo"]
    assert services.upkeep.purge_old_audio(force=True) == 1
    assert gridfs_names(shared, "audio") == [] and db["audio.chunks"].count_documents({}) == 0
    assert db.audio_progress.count_documents({}) == 0 and db.audio_progress_pieces.count_documents({}) == 0
    assert a.get(spoken["audio_url"]).status_code == 404


def test_deleting_an_account_deletes_its_audio_in_the_shared_store(a, b, shared, wav_bytes):
    user = a.post("/api/users/local|leaving").json["user"]
    model_id = upload(a, wav_bytes, name="Gran", user_id=user).json["model_id"]
    a.post("/api/synthesize", json={"text": "One.", "reference_id": model_id, "user_id": user})
    a.post("/api/synthesize", json={"text": "Two.", "user_id": user})
    assert gridfs_names(shared, "audio") and gridfs_names(shared, "cache")
    assert b.delete(f"/api/users/local%7Cleaving?user_id={user}").status_code == 200
    for bucket in ("audio", "cache", "references"):
        assert gridfs_names(shared, bucket) == [], bucket


# -- outages --------------------------------------------------------------------------------------


def test_with_the_database_down_audio_routes_answer_503_and_recover(a, fake, shared, wav_bytes, monkeypatch):
    from pymongo.errors import ServerSelectionTimeoutError

    spoken = a.post("/api/synthesize", json={"text": "Before."}).json
    db = a.application.extensions["echo"].db
    real_op = db._op.__func__

    def down(self):
        raise ServerSelectionTimeoutError("no servers")

    monkeypatch.setattr(DatabaseManager, "_op", lambda self: _raising_context(down, self))
    calls = len(fake.requests)
    assert a.post("/api/synthesize", json={"text": "During."}).status_code == 503
    assert upload(a, wav_bytes, name="Gran", user_id="a" * 24).status_code == 503
    assert len(fake.requests) == calls  # nothing was made upstream that could not be kept
    assert a.get(spoken["audio_url"]).status_code == 503
    assert scratch_is_empty(a)
    monkeypatch.setattr(DatabaseManager, "_op", real_op)
    assert a.post("/api/synthesize", json={"text": "After."}).status_code == 200
    assert fetch(a, spoken["audio_url"])[0].status_code == 200


class _raising_context:
    """Stands in for DatabaseManager._op while the database is down: mapped to 503 like the real one."""

    def __init__(self, fail, manager):
        self.fail, self.manager = fail, manager

    def __enter__(self):
        from pymongo.errors import ConnectionFailure

        from backend.errors import DatabaseUnavailable

        try:
            self.fail(self.manager)
        except ConnectionFailure as exc:
            raise DatabaseUnavailable() from exc

    def __exit__(self, *exc):
        return False


def test_a_local_engine_voice_made_on_one_instance_speaks_on_another(make_instance, shared, tmp_path):

    from backend import audio

    a = make_instance("a", VOICE_PROVIDER="local")
    b = make_instance("b", VOICE_PROVIDER="local")
    user = a.post("/api/users/local|offline-family").json["user"]
    created = upload(a, reference_voice().read_bytes(), user_id=user, name="SLT")
    assert created.status_code == 201, created.json
    model_id = created.json["model_id"]
    assert shared.db.local_voice_profiles.count_documents({"_id": model_id}) == 1
    assert nothing_on_disk_but_scratch(a) == []  # no profile file on A's disk
    spoken = b.post(
        "/api/synthesize", json={"text": "Hello from the other machine.", "reference_id": model_id, "user_id": user}
    )
    assert spoken.status_code == 200, spoken.json
    path = tmp_path / "out.mp3"
    path.write_bytes(fetch(a, spoken.json["audio_url"])[1])
    assert audio.inspect(path, max_seconds=60).duration > 1.0
    assert b.delete(f"/api/voice-models/{model_id}?user_id={user}").status_code == 200
    assert shared.db.local_voice_profiles.count_documents({}) == 0


# -- crash recovery -------------------------------------------------------------------------------


def test_the_start_up_sweep_removes_unreferenced_recordings_and_profiles_in_the_database(
    make_instance, shared, wav_bytes
):
    from backend.services.upkeep import GRACE_SHARED_DATABASE
    from backend.storage.names import new_reference_key

    a = make_instance("a")
    user = a.post("/api/users/local|sweep-family").json["user"]
    kept = upload(a, wav_bytes, name="Gran", user_id=user)
    assert kept.status_code == 201
    old = utcnow() - GRACE_SHARED_DATABASE - timedelta(hours=1)
    references = a.application.extensions["echo"].store.references
    orphans = [new_reference_key("wav") for _ in range(2)]
    for key in orphans:  # recordings whose record was never saved (a killed instance)
        references.upload_from_stream_with_id(key, key, b"RIFF")
    shared.db["references.files"].update_many({}, {"$set": {"uploadDate": old}})  # the kept one is old too
    young = new_reference_key("wav")
    references.upload_from_stream_with_id(young, young, b"RIFF")  # maybe another instance's, about to be saved
    profiles = shared.db.local_voice_profiles
    profiles.insert_one({"_id": "local-" + "d" * 24, "profile": "{}", "updated_at": old})
    profiles.insert_one({"_id": "local-" + "e" * 24, "profile": "{}", "updated_at": utcnow()})
    make_instance("b")  # another instance starts: it sweeps
    remaining = gridfs_names(shared, "references")
    assert len(remaining) == 2 and young in remaining and not set(orphans) & set(remaining)
    assert [d["_id"] for d in profiles.find()] == ["local-" + "e" * 24]
    listed = a.get(f"/api/voice-models?user_id={user}").json["voice_models"]
    assert [m["model_id"] for m in listed] == [kept.json["model_id"]]
