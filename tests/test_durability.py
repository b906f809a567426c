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

import requests
from bson import ObjectId

from backend.database import DatabaseManager
from tests.e2e.conftest import free_port, wait_for
from tests.fake_fish import FakeFish, Reply, mp3_like

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
