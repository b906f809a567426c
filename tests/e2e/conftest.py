"""Browser end-to-end fixtures: a real Echo server on loopback and headless Debian Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import E2E_ARTIFACTS as ARTIFACTS
from tests.helpers import REPO, audio_file, free_port, wait_for

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> Iterator[str]:
    """Base URL of a real Echo server: local voice engine, embedded store, CORS for any loopback port."""
    yield from run_server(tmp_path_factory)


def run_server(tmp_path_factory, log_name: str = "server.log", **settings: str) -> Iterator[str]:
    """Start the server as ``live_server`` does, with extra ``settings`` in its environment; yield its URL."""
    data_dir = tmp_path_factory.mktemp("e2e-data")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FISH_AUDIO", "MONGO", "AUTH0"))}
    env.update(
        VOICE_PROVIDER="local",
        DATA_DIR=str(data_dir),
        API_HOST="127.0.0.1",
        API_PORT=str(port),
        CORS_ORIGINS=r"http://127\.0\.0\.1:\d+,http://localhost:\d+",
        PYTHONUNBUFFERED="1",
        **settings,
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = (ARTIFACTS / log_name).open("w")
    process = subprocess.Popen(
        [sys.executable, "backend/api_server.py"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/health", process=process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail(f"Chromium is not installed at {CHROMIUM}; scripts/test.sh installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture(scope="session")
def microphone_browser(browser, tmp_path_factory):
    """A second Chromium whose microphone is the fake device playing generated speech-like audio."""
    speech = tmp_path_factory.mktemp("microphone") / "speech.wav"
    speech.write_bytes(audio_file("wav", seconds=12, rate=48000))
    instance = browser.browser_type.launch(
        executable_path=CHROMIUM,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-audio-capture={speech}",
        ],
        headless=True,
    )
    yield instance
    instance.close()


def fresh_page(browser):
    """A page in a new browser context (nothing stored: a first visit), its script errors kept in
    ``page.console_errors``; close it with ``page.context.close()``."""
    page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.console_errors = errors
    return page


@pytest.fixture
def page(browser, request):
    """A fresh browser context and page; a screenshot of the end state lands in artifacts/e2e/."""
    page = fresh_page(browser)
    yield page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    try:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    finally:
        page.context.close()
