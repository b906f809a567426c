"""The exported Expo web app, served on loopback beside a real Echo server, driven in Chromium.

dist/ is the output of `expo export --platform web` (scripts/test-app.sh makes it; this test
exports it itself when it is missing). The site is served by a small static server that
answers /echo-config.json with the live server's URL (the app's runtime configuration, see
lib/runtimeConfig.web.ts) and falls back to index.html for app routes such as /echo/<id>.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import struct
import subprocess
import threading
import uuid
import wave
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DIST = REPO / "dist"
TIMEOUT_MS = 30_000


def export_web_app() -> None:
    """Builds dist/ when it is missing (scripts/test-app.sh normally has)."""
    if (DIST / "index.html").exists():
        return
    if not (REPO / "node_modules").is_dir() or not shutil.which("npx"):
        pytest.fail("dist/ is missing: run scripts/test-app.sh (npm ci and the web export) first")
    env = dict(os.environ, CI="1", EXPO_OFFLINE="1", EXPO_NO_TELEMETRY="1", NODE_ENV="production")
    subprocess.run(
        ["npx", "expo", "export", "--platform", "web", "--output-dir", "dist"],
        cwd=REPO,
        env=env,
        check=True,
        timeout=600,
        stdout=subprocess.DEVNULL,
    )


class SiteHandler(SimpleHTTPRequestHandler):
    """Static files from dist/, the runtime config, and index.html for client-side routes."""

    api_url = ""

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def do_GET(self):  # noqa: N802 - http.server's naming
        path = self.path.split("?", 1)[0]
        if path == "/echo-config.json":
            body = json.dumps({"apiUrl": self.api_url}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        target = Path(self.translate_path(path))
        if not target.exists() and "." not in Path(path).name:
            self.path = "/index.html"  # an app route: let the router in the page handle it
        super().do_GET()


@pytest.fixture(scope="module")
def site(live_server: str) -> Iterator[str]:
    export_web_app()
    handler = type("Handler", (SiteHandler,), {"api_url": live_server})
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(DIST)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def write_voice_wav(path: Path, seconds: float = 5.0, rate: int = 16000) -> Path:
    """A voice-like buzz (a few harmonics, syllable-like loudness, a little noise), 16-bit mono."""
    rng = random.Random(7)
    frames = bytearray()
    phase = 0.0
    for i in range(int(seconds * rate)):
        t = i / rate
        phase += 2 * math.pi * 140.0 * (1 + 0.05 * math.sin(2 * math.pi * 0.7 * t)) / rate
        tone = sum(math.sin(k * phase) / k for k in range(1, 6))
        envelope = 0.5 + 0.5 * math.sin(2 * math.pi * 3.0 * t) ** 2
        sample = 0.2 * tone * envelope + 0.01 * rng.uniform(-1, 1)
        frames += struct.pack("<h", max(-32767, min(32767, int(sample * 32767))))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    return path


def test_sign_in_create_echo_talk_and_listen(page, site: str, live_server: str, tmp_path: Path) -> None:
    page.set_default_timeout(TIMEOUT_MS)
    user = f"e2e-{uuid.uuid4().hex[:8]}"
    echo_name = "Grandma Rose"
    voice = write_voice_wav(tmp_path / "rose.wav")

    # Sign in (local mode): the runtime config pointed the app at the live server.
    page.goto(f"{site}/")
    page.get_by_test_id("sign-in-screen").wait_for()
    assert page.get_by_text(f"Server: {live_server}").is_visible()
    page.get_by_test_id("local-name-input").fill(user)
    page.get_by_test_id("local-sign-in-button").click()
    page.get_by_text("No echos yet").wait_for()

    # Create an echo with an uploaded voice.
    page.get_by_test_id("new-echo-button").first.click()
    page.get_by_test_id("echo-name-input").fill(echo_name)
    page.get_by_test_id("echo-persona-input").fill("Warm and funny; talks about her roses.")
    with page.expect_file_chooser() as chooser:
        page.get_by_test_id("pick-file-button").click()
    chooser.value.set_files(str(voice))
    page.get_by_text("rose.wav").wait_for()
    page.get_by_test_id("consent-checkbox").click()
    with page.expect_response(lambda r: r.url.endswith("/api/upload-reference")) as uploaded:
        page.get_by_test_id("create-echo-submit").click()
    assert uploaded.value.status == 201, uploaded.value.text()
    model_id = uploaded.value.json()["model_id"]

    # Back on the list, the new echo is there; open its conversation.
    row = page.locator("[data-testid^='echo-row-']").filter(has_text=echo_name)
    row.wait_for()
    row.click()
    page.get_by_text(f"Say hello to {echo_name}").wait_for()
    echo_url = page.url
    assert "/echo/" in echo_url

    # Send a message.
    text = "How are the roses this spring?"
    page.get_by_test_id("message-input").fill(text)
    with page.expect_response(lambda r: "/api/conversation/" in r.url and r.request.method == "POST") as sent:
        page.get_by_test_id("send-button").click()
    assert sent.value.status == 201, sent.value.text()
    message_id = sent.value.json()["message"]["_id"]
    page.get_by_text(text).wait_for()

    # After a reload the session and the stored message are still there.
    page.reload()
    page.get_by_text(text).wait_for()
    assert page.url == echo_url

    # Speak it in the echo's voice: synthesize, then the audio is fetched and played.
    speak = page.get_by_test_id(f"speak-{message_id}")
    with page.expect_response(lambda r: r.url.endswith("/api/synthesize")) as synthesized:
        with page.expect_response(lambda r: "/api/audio/" in r.url) as audio:
            speak.click()
    body = synthesized.value.json()
    assert synthesized.value.status == 200, body
    assert body["success"] is True and body["reference_id"] == model_id
    assert audio.value.status in (200, 206)
    assert audio.value.headers.get("content-type", "").startswith("audio/")

    # The voice is listed under Voices (a deep link, then the tab bar back to the echos).
    page.goto(f"{site}/voices")
    page.get_by_test_id(f"voice-row-{model_id}").wait_for()
    page.get_by_test_id("tab-echos").click()
    page.locator("[data-testid^='echo-row-']").filter(has_text=echo_name).wait_for()

    # Delete the voice, confirming the browser's dialog.
    page.get_by_test_id("tab-voices").click()
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_response(lambda r: "/api/voice-models/" in r.url and r.request.method == "DELETE") as deleted:
        page.get_by_test_id(f"delete-voice-{model_id}").click()
    assert deleted.value.status == 200, deleted.value.text()
    page.get_by_text("No voices yet").wait_for()

    assert page.console_errors == []


def test_record_a_voice_in_the_browser(microphone_browser, site: str, tmp_path: Path) -> None:
    """Records from Chromium's fake microphone (generated speech-like audio), uploads the WebM, creates the echo."""
    context = microphone_browser.new_context(viewport={"width": 420, "height": 860}, permissions=["microphone"])
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(f"{site}/")
        page.get_by_test_id("local-name-input").fill(f"rec-{uuid.uuid4().hex[:8]}")
        page.get_by_test_id("local-sign-in-button").click()
        page.get_by_test_id("new-echo-button").first.click()
        page.get_by_test_id("echo-name-input").fill("Recorded")
        page.get_by_test_id("echo-persona-input").fill("Recorded in the browser.")
        page.get_by_test_id("record-button").click()
        page.get_by_text("● Recording 4 s").wait_for()
        page.get_by_test_id("stop-recording-button").click()
        page.get_by_text("New recording").wait_for()
        page.get_by_test_id("consent-checkbox").click()
        with page.expect_response(lambda r: r.url.endswith("/api/upload-reference")) as uploaded:
            page.get_by_test_id("create-echo-submit").click()
        assert uploaded.value.status == 201, uploaded.value.text()
        assert uploaded.value.json()["duration_seconds"] >= 3
        page.locator("[data-testid^='echo-row-']").filter(has_text="Recorded").wait_for()
    finally:
        context.close()
