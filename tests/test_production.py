"""The production server command (gunicorn) and the one-process rule of the embedded store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend.config import ConfigError
from backend.database import DatabaseManager
from tests.helpers import free_port, wait_for

REPO = Path(__file__).resolve().parent.parent


def gunicorn_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FISH_AUDIO", "MONGO", "AUTH0"))}
    env.update(DATA_DIR=str(data_dir), API_HOST="127.0.0.1", API_PORT=str(free_port()), **extra)
    return env


def test_embedded_store_refuses_a_second_process_lock(tmp_path):
    first = DatabaseManager(data_dir=tmp_path)
    with pytest.raises(ConfigError, match="in use by another process"):
        DatabaseManager(data_dir=tmp_path)
    first.close()
    DatabaseManager(data_dir=tmp_path).close()  # free again once the first one is gone


def test_gunicorn_serves_the_app(tmp_path):
    env = gunicorn_env(tmp_path, VOICE_PROVIDER="local")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(f"http://127.0.0.1:{env['API_PORT']}/health", timeout=60, process=process)
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_gunicorn_refuses_several_workers_on_the_embedded_store(tmp_path):
    env = gunicorn_env(tmp_path, WEB_CONCURRENCY="2")
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "needs MONGODB_URI" in result.stderr + result.stdout
