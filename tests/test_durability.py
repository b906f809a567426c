"""Killing the server with SIGKILL in the middle of writes leaves consistent data behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import requests
from bson import ObjectId

from backend.database import DatabaseManager
from tests.fake_fish import FakeFish, Reply, mp3_like
from tests.helpers import (
    FISH_MODEL_ID,
    FISH_URL,
    backdate,
    closed_port,
    cue,
    fish_model,
    free_port,
    kill,
    names_in,
    scratch_writer,
    started_on_cue,
    upload,
    wait_for,
)

REPO = Path(__file__).resolve().parent.parent

WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[2])
    from bson import ObjectId
    from backend.database import DatabaseManager

    db = DatabaseManager(data_dir=sys.argv[1])
    echo = ObjectId("0" * 24)
    i = 0
    while True:
        db.add_message(echo, "user", "x" * 300 + str(i))
        if i == 0:
            print("writing", flush=True)
        if i % 5 == 0:
            db.get_or_create_user(f"user-{i}", None)
            db.save_voice_model({"model_id": f"m{i}", "user_id": None, "name": str(i)})
        i += 1
    """
)


def test_embedded_store_survives_sigkill_during_writes(tmp_path):
    for delay in (0.1, 0.5, 1.0):
        data = tmp_path / f"run-{delay}"
        process = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(data), str(REPO)], stdout=subprocess.PIPE, text=True
        )
        assert process.stdout.readline().strip() == "writing"  # past start-up, in the middle of writes
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        process.stdout.close()
        db = DatabaseManager(data_dir=data)  # opens: the lock died with the process
        messages = db.list_messages(ObjectId("0" * 24), limit=1_000_000)
        assert messages, "the writer wrote nothing before it was killed"
        assert all(m["content"].startswith("x" * 300) for m in messages)
        numbers = sorted(int(m["content"][300:]) for m in messages)
        assert numbers == list(range(len(numbers)))  # a prefix of the writes, no holes, no torn records
        users = db._db.users.count_documents({})
        assert users in (len(numbers) // 5, len(numbers) // 5 + 1)
        db.add_message(ObjectId("0" * 24), "user", "after the crash")  # and it takes writes again
        db.close()


def test_audio_being_written_when_the_server_is_killed_never_appears(tmp_path):
    fake = FakeFish()
    fake.plan["POST /v1/tts"] = Reply(body=mp3_like(80000), content_type="audio/mpeg", chunks=20, chunk_delay=0.1)
    port = free_port()
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FISH_AUDIO", "MONGO", "AUTH0"))}
    env.update(
        DATA_DIR=str(data),
        API_PORT=str(port),
        FISH_AUDIO_API_KEY="fake-key-for-tests-000",
        FISH_AUDIO_API_URL=fake.url,
        LOG_LEVEL="WARNING",
    )
    command = [sys.executable, "backend/api_server.py"]
    server = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(f"http://127.0.0.1:{port}/health", process=server)
        started = threading.Event()

        def synthesize():
            started.set()
            try:
                requests.post(f"http://127.0.0.1:{port}/api/synthesize", json={"text": "Long"}, timeout=10)
            except requests.RequestException:
                pass

        caller = threading.Thread(target=synthesize)
        caller.start()
        started.wait()
        deadline = time.monotonic() + 5
        while not list((data / "tmp").glob("*.part")) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert list((data / "tmp").glob("*.part")), "the audio was not being written"
        server.send_signal(signal.SIGKILL)
        server.wait()
        caller.join()
        assert list((data / "audio").iterdir()) == []  # nothing half-written under a public name
        server = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(f"http://127.0.0.1:{port}/health", process=server)
        assert (
            requests.get(f"http://127.0.0.1:{port}/health", timeout=5).json()["components"]["database"]["status"]
            == "ok"
        )
    finally:
        server.kill()
        server.wait()
        fake.close()


# -- the very first writes into a fresh embedded store ----------------------------------------------

FIRST_WRITES = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[2])
    from bson import ObjectId
    from backend.database import DatabaseManager

    print("ready", flush=True)
    sys.stdin.readline()
    db = DatabaseManager(data_dir=sys.argv[1])  # makes the store file
    for name in sys.argv[3].split(","):  # the first write into each collection makes it
        db._db[name].insert_one({"_id": ObjectId(), "first": True})
    print("done", flush=True)
    """
)


# Every collection DatabaseManager writes on the embedded store, and one it never wrote before.
COLLECTIONS = ("users", "voice_models", "echos", "messages", "audio_files", "local_voice_profiles", "secrets", "new")


def test_a_kill_during_the_first_writes_into_a_fresh_store_never_breaks_it(tmp_path):
    """SIGKILL at many moments while a fresh store is set up and first written: every collection works after.

    (montydb, the embedded engine before this one, created a collection's file before its table, and a kill
    between the two left "no such table" errors on that collection for ever: about half of such kills did.)
    """
    runs = 24
    children = []
    for index in range(runs):  # started together (imports take most of a second), then killed one by one
        data = tmp_path / f"fresh-{index}"
        children.append((data, started_on_cue(FIRST_WRITES, str(data), str(REPO), ",".join(COLLECTIONS))))
    finished = 0
    for index, (data, child) in enumerate(children):
        cue(child)
        time.sleep(index * 0.003)  # 0 to 70 ms into set-up and first writes: a different moment each time
        child.send_signal(signal.SIGKILL)
        child.wait()
        finished += child.stdout.read().strip() == "done"
        child.stdout.close()
        child.stdin.close()
        db = DatabaseManager(data_dir=data)  # opens: the lock died with the process
        for name in COLLECTIONS:
            marker = ObjectId()
            db._db[name].insert_one({"_id": marker, "after": True})
            assert db._db[name].find_one({"_id": marker})["after"] is True, name
            assert db._db[name].count_documents({}) in (1, 2), name
        db.close()
    assert finished < runs, "every writer finished before its kill: the window was never hit"


# -- what a killed process leaves behind is swept at the next start ---------------------------------


def embedded_app(data: Path, **overrides):
    from backend.api_server import create_app

    config = {
        "DATA_DIR": str(data),
        "VOICE_PROVIDER": "fish",
        "FISH_AUDIO_API_KEY": "fake-key-for-tests-000",
        "FISH_AUDIO_API_URL": "http://127.0.0.1:9",
        "LOG_LEVEL": "INFO",
    }
    config.update(overrides)
    return create_app(config, environ={})


LOCAL_REFERENCED, LOCAL_JOURNALED, LOCAL_ORPHAN = (f"local-{c * 24}" for c in "abc")


def test_the_start_up_sweep_removes_exactly_what_killed_processes_left(tmp_path, caplog):
    from backend.storage.journal import JOURNAL_NAME, UnsavedVoiceModels
    from backend.storage.names import new_reference_key

    data = tmp_path / "data"
    keys = {what: new_reference_key("wav") for what in ("reference", "consent", "journaled", "orphan")}
    db = DatabaseManager(data_dir=data)
    user, _ = db.get_or_create_user("local|sweep", None)
    db.save_voice_model(
        {
            "model_id": LOCAL_REFERENCED,
            "user_id": user["_id"],
            "provider": "local",
            "name": "Kept",
            "reference_audio": keys["reference"],
            "consent": {"attested": True, "recording": keys["consent"]},
        }
    )
    db.close()
    (data / "references").mkdir(parents=True)
    (data / "voices").mkdir()
    for key in keys.values():
        (data / "references" / key).write_bytes(b"RIFF recording")
    for model_id in (LOCAL_REFERENCED, LOCAL_JOURNALED, LOCAL_ORPHAN):
        (data / "voices" / f"{model_id}.json").write_text("{}")
    (data / "voices" / ".tmp-k1ll3d.json").write_text('{"half')
    # Cloned while the database was away: no record yet, but live.
    UnsavedVoiceModels(data).add(
        {
            "model_id": LOCAL_JOURNALED,
            "user_id": user["_id"],
            "provider": "local",
            "name": "Waiting",
            "reference_audio": keys["journaled"],
        }
    )
    # Killed part-way: an upload being checked and audio being written; and one writer still alive.
    dead_upload, upload_name = scratch_writer(data, "upload")
    dead_output, output_name = scratch_writer(data, "output")
    live_output, live_name = scratch_writer(data, "output")
    kill(dead_upload)
    kill(dead_output)
    for path in (data / "tmp").iterdir():
        backdate(path, 120)  # old enough by age alone: only the locks tell the live one apart
    assert sorted(names_in(data / "tmp")) == sorted([upload_name, f"{output_name}.part", f"{live_name}.part"])
    try:
        caplog.set_level("INFO")
        app = embedded_app(data)
        assert names_in(data / "tmp") == [f"{live_name}.part"]
        assert names_in(data / "references") == sorted([keys["reference"], keys["consent"], keys["journaled"]])
        assert names_in(data / "voices") == sorted([f"{LOCAL_REFERENCED}.json", f"{LOCAL_JOURNALED}.json"])
        assert "removed 1 recordings and 1 local voice profiles" in caplog.text
        # The journaled voice was saved at start: it is in its user's list now.
        listed = app.test_client().get(f"/api/voice-models?user_id={user['_id']}").json["voice_models"]
        assert sorted(m["model_id"] for m in listed) == [LOCAL_REFERENCED, LOCAL_JOURNALED]
        assert not (data / JOURNAL_NAME).exists()
        app.extensions["echo"].db.close()
    finally:
        kill(live_output)


def test_a_journaled_voice_is_live_and_young_files_wait_for_the_grace_period(tmp_path):
    """With a shared database, another process may be between keeping a recording and saving its record."""
    import mongomock

    from backend.services.upkeep import GRACE_SHARED_FILES, sweep_unreferenced
    from backend.storage.files import FileStore
    from backend.storage.journal import UnsavedVoiceModels
    from backend.storage.names import new_reference_key
    from backend.storage.profiles import FileProfiles

    db = DatabaseManager(client=mongomock.MongoClient(tz_aware=True))
    store = FileStore(tmp_path)
    profiles = FileProfiles(tmp_path / "voices")
    journal = UnsavedVoiceModels(tmp_path)
    journaled, old_orphan, young_orphan = (new_reference_key("mp3") for _ in range(3))
    for key in (journaled, old_orphan, young_orphan):
        (store.references_dir / key).write_bytes(b"ID3")
    for model_id in (LOCAL_JOURNALED, LOCAL_ORPHAN):
        profiles.save(model_id, "{}")
        backdate(profiles._path(model_id), 2 * 3600)
    for key in (journaled, old_orphan):
        backdate(store.references_dir / key, 2 * 3600)
    journal.add({"model_id": LOCAL_JOURNALED, "user_id": ObjectId(), "reference_audio": journaled})
    counts = sweep_unreferenced(db=db, store=store, profiles=profiles, journal=journal, grace=GRACE_SHARED_FILES)
    assert counts == {"recordings": 1, "voice_profiles": 1, "profile_temporaries": 0}
    assert names_in(store.references_dir) == sorted([journaled, young_orphan])
    assert [model_id for model_id, _ in profiles.stored()] == [LOCAL_JOURNALED]


def test_with_the_database_unreachable_at_start_nothing_record_based_is_swept(tmp_path, caplog):
    from backend.storage.names import new_reference_key

    data = tmp_path / "data"
    orphan = new_reference_key("wav")
    (data / "references").mkdir(parents=True)
    (data / "voices").mkdir()
    (data / "references" / orphan).write_bytes(b"RIFF")
    (data / "voices" / f"{LOCAL_ORPHAN}.json").write_text("{}")
    for path in (data / "references" / orphan, data / "voices" / f"{LOCAL_ORPHAN}.json"):
        backdate(path, 30 * 86400)
    dead, name = scratch_writer(data, "upload")
    kill(dead)
    backdate(data / "tmp" / name, 120)
    caplog.set_level("INFO")
    app = embedded_app(
        data,
        MONGODB_URI=f"mongodb://127.0.0.1:{closed_port()}/?directConnection=true",
        MONGODB_TIMEOUT_MS=200,
        AUDIO_STORE="files",
        RATELIMIT_STORAGE_URI="memory://",
    )
    assert names_in(data / "references") == [orphan]  # the records could not be read: kept
    assert names_in(data / "voices") == [f"{LOCAL_ORPHAN}.json"]
    assert names_in(data / "tmp") == []  # a dead writer's temporary needs no record to tell
    assert "database unreachable at start" in caplog.text and "not swept" in caplog.text
    app.extensions["echo"].db.close()


# -- the outage journal ---------------------------------------------------------------------------


def _database_down(monkeypatch):
    """Every database call answers DatabaseUnavailable, as during a MongoDB outage; returns the undo."""
    from contextlib import contextmanager

    from backend.errors import DatabaseUnavailable

    real = DatabaseManager.__dict__["_op"]

    @contextmanager
    def down(self):
        raise DatabaseUnavailable()
        yield  # pragma: no cover

    monkeypatch.setattr(DatabaseManager, "_op", down)
    return lambda: monkeypatch.setattr(DatabaseManager, "_op", real)


def test_a_voice_cloned_during_an_outage_is_in_its_list_once_the_database_is_back(
    make_app, fish, wav_bytes, monkeypatch, data_dir
):
    from backend.storage.journal import JOURNAL_NAME

    app = make_app()
    client = app.test_client()
    user = client.post("/api/users/local|outage", json={}).json["user"]
    echo = client.post("/api/echo", json={"user_id": user, "name": "Gran", "persona_prompt": "warm"}).json["echo"]
    fish.post(f"{FISH_URL}/model", json=fish_model(), status=201)
    restore = _database_down(monkeypatch)
    created = upload(client, wav_bytes, name="Gran", user_id=user, echo_id=echo["_id"], consent_audio=None)
    assert created.status_code == 201 and created.json["database_record"] is None
    warning = next(w for w in created.json["warnings"] if "database is unavailable" in w)
    assert "appears in your list once the database is back" in warning and FISH_MODEL_ID in warning
    assert (data_dir / JOURNAL_NAME).exists()
    assert client.get(f"/api/voice-models?user_id={user}").status_code == 503
    restore()
    app.extensions["echo"].upkeep.purge_old_audio(force=True)  # the hourly upkeep
    listed = client.get(f"/api/voice-models?user_id={user}").json["voice_models"]
    assert [(m["model_id"], m["name"], m["consent"]["attested"]) for m in listed] == [(FISH_MODEL_ID, "Gran", True)]
    assert client.get(f"/api/echo/{echo['_id']}?user_id={user}").json["echo"]["voice_model_id"] == FISH_MODEL_ID
    assert not (data_dir / JOURNAL_NAME).exists()
    assert len(names_in(data_dir / "references")) == 1  # its recording stays, now pointed at by the record


def test_journaled_voices_are_saved_at_start_unless_their_account_went_meanwhile(
    make_app, fish, wav_bytes, monkeypatch, data_dir
):
    app = make_app()
    client = app.test_client()
    staying = client.post("/api/users/local|staying", json={}).json["user"]
    leaving = client.post("/api/users/local|leaving", json={}).json["user"]
    other_id = "fedcba9876543210fedcba9876543210"
    fish.post(f"{FISH_URL}/model", json=fish_model(), status=201)
    fish.post(f"{FISH_URL}/model", json=fish_model(other_id), status=201)
    fish.delete(f"{FISH_URL}/model/{other_id}", status=200)
    restore = _database_down(monkeypatch)
    assert upload(client, wav_bytes, user_id=staying).status_code == 201
    assert upload(client, wav_bytes, user_id=leaving).status_code == 201
    restore()
    assert client.delete(f"/api/users/local%7Cleaving?user_id={leaving}").status_code == 200
    app.extensions["echo"].db.close()
    restarted = make_app().test_client()  # the start saves what waited
    assert [m["model_id"] for m in restarted.get(f"/api/voice-models?user_id={staying}").json["voice_models"]] == [
        FISH_MODEL_ID
    ]
    # The deleted account's voice is not resurrected: deleted at the provider, with its recording.
    assert [c.request.method for c in fish.calls if other_id in c.request.url] == ["DELETE"]
    assert len(names_in(data_dir / "references")) == 1


# -- progressive links whose writer died ----------------------------------------------------------


def test_a_progressive_link_whose_writer_was_killed_ends_within_seconds(tmp_path):
    """The server follows a partial file written by another process; SIGKILL that process: the answer is cut
    short within seconds (not after the 70 s stall timeout), and the server goes on serving."""
    from backend.links import AudioLinks, load_secret

    data = tmp_path / "data"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FISH_AUDIO", "MONGO", "AUTH0"))}
    env.update(DATA_DIR=str(data), API_PORT=str(port), VOICE_PROVIDER="local", LOG_LEVEL="WARNING")
    server = subprocess.Popen(
        [sys.executable, "backend/api_server.py"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    writer = None
    try:
        wait_for(f"http://127.0.0.1:{port}/health", process=server)
        writer, name = scratch_writer(data, "output")
        url = AudioLinks(load_secret("", data), 3600).url(name)
        response = requests.get(f"http://127.0.0.1:{port}{url}", stream=True, timeout=30)
        assert response.status_code == 200
        pieces = response.iter_content(chunk_size=None)
        assert next(pieces).startswith(b"ID3")
        kill(writer)
        started = time.monotonic()
        with pytest.raises(requests.RequestException):
            for _ in pieces:
                pass
        assert time.monotonic() - started < 5
        response.close()
        assert requests.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
    finally:
        if writer is not None and writer.poll() is None:
            kill(writer)
        server.kill()
        server.wait()
