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
import requests

from tests.helpers import E2E_ARTIFACTS, wait_until

REPO = Path(__file__).resolve().parents[2]
DIST = REPO / "dist"
SCREENSHOTS = REPO / "docs" / "screenshots"
TIMEOUT_MS = 30_000
PHONE = {"width": 390, "height": 844}


def shot(page, name: str) -> None:
    """A screenshot of the screen as it is, among the test artifacts."""
    E2E_ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(E2E_ARTIFACTS / f"app-{name}.png"))


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

    # Sign in (local mode): the runtime config pointed the app at the live server (one tap away).
    page.goto(f"{site}/")
    page.get_by_test_id("sign-in-screen").wait_for()
    page.get_by_test_id("sign-in-details-toggle").click()
    assert page.get_by_test_id("sign-in-server").inner_text() == live_server
    page.get_by_test_id("local-name-input").fill(user)
    page.get_by_test_id("local-sign-in-button").click()

    # A first visit walks through the three steps, in plain words.
    page.get_by_test_id("first-visit").wait_for()
    for step in ("A recording", "A voice", "An echo"):
        assert page.get_by_text(step, exact=True).is_visible()
    shot(page, "first-visit")

    # Create an echo with an uploaded voice.
    page.get_by_test_id("first-visit-start").click()
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

    # Conversation first: the new echo's conversation opens.
    page.get_by_text(f"Say hello to {echo_name}").wait_for()
    echo_url = page.url
    assert "/echo/" in echo_url

    # Send a message: it shows at once and the echo replies (POST .../reply, streamed); with replies off on the
    # server (409 replies_off) the app keeps the message with POST /api/conversation/<id> instead.
    text = "How are the roses this spring?"
    page.get_by_test_id("message-input").fill(text)
    with page.expect_response(
        lambda r: "/api/conversation/" in r.url and r.request.method == "POST" and r.status != 409
    ) as sent:
        page.get_by_test_id("send-button").click()
    assert sent.value.status in (200, 201), sent.value.status
    page.get_by_text(text).wait_for()
    # The reply is written (and spoken) before going on; the message then has its stored id.
    page.get_by_test_id("reply-draft").wait_for(state="detached", timeout=180_000)
    bubble = page.locator(
        "[data-testid^='message-']:not([data-testid^='message-local-'])"
        ":not([data-testid='message-list']):not([data-testid='message-input'])"
    ).filter(has_text=text)
    bubble.first.wait_for()
    message_id = bubble.first.get_attribute("data-testid").removeprefix("message-")

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


DELETED_NOTICE = "This echo's voice was deleted; choose another voice for it."


def clone_voice(live_server: str, user_id: str, name: str, wav: Path) -> str:
    """Clones a voice through the API (as the app's create screen would) and returns its model_id."""
    with wav.open("rb") as audio:
        answer = requests.post(
            f"{live_server}/api/upload-reference",
            data={"name": name, "consent": "true", "user_id": user_id},
            files={"audio": (wav.name, audio, "audio/wav")},
            timeout=60,
        )
    assert answer.status_code == 201, answer.text
    return answer.json()["model_id"]


def test_deleted_voice_is_never_replaced_silently(page, site: str, live_server: str, tmp_path: Path) -> None:
    """Issue 11 in the app: the notice, no speech in any other voice, and a new voice from the picker."""
    page.set_default_timeout(TIMEOUT_MS)
    name = f"e2e-voice-{uuid.uuid4().hex[:8]}"
    wav = write_voice_wav(tmp_path / "joe.wav")

    # The user, a voice, an echo on it and a message, made through the API (local mode names the user).
    made = requests.post(f"{live_server}/api/users/local%7C{name}", json={}, timeout=10)
    assert made.status_code in (200, 201), made.text
    user_id = made.json()["user"]
    first = clone_voice(live_server, user_id, "First voice", wav)
    echo = requests.post(
        f"{live_server}/api/echo",
        json={"user_id": user_id, "name": "Grandpa Joe", "persona_prompt": "Loves boats.", "voice_model_id": first},
        timeout=10,
    )
    assert echo.status_code == 201, echo.text
    echo_id = echo.json()["echo"]["_id"]
    assert echo.json()["echo"]["voice_status"] == "ready"
    said = requests.post(
        f"{live_server}/api/conversation/{echo_id}",
        json={"user_id": user_id, "role": "assistant", "content": "Come and see the boat."},
        timeout=10,
    )
    assert said.status_code == 201, said.text
    message_id = said.json()["message"]["_id"]

    speech: list[str] = []
    page.on("request", lambda r: speech.append(r.url) if "/api/synthesize" in r.url or "/api/audio/" in r.url else None)
    order: list[str] = []  # every API request, in the order the app sent them
    page.on("request", lambda r: order.append(f"{r.method} {r.url}") if "/api/" in r.url else None)

    # Sign in as that user and open the echo: it has its voice, so no notice.
    page.goto(f"{site}/")
    page.get_by_test_id("local-name-input").fill(name)
    page.get_by_test_id("local-sign-in-button").click()
    page.get_by_test_id(f"echo-row-{echo_id}").click()
    speak = page.get_by_test_id(f"speak-{message_id}")
    speak.wait_for()
    assert page.get_by_test_id("voice-notice").count() == 0

    # The voice is deleted elsewhere; speaking asks as the echo and the 409 brings up the notice, no audio.
    gone = requests.delete(f"{live_server}/api/voice-models/{first}", params={"user_id": user_id}, timeout=30)
    assert gone.status_code == 200, gone.text
    with page.expect_response(lambda r: r.url.endswith("/api/synthesize")) as answer:
        speak.click()
    assert answer.value.status == 409
    assert answer.value.json()["error"] == "voice_deleted"
    sent = json.loads(answer.value.request.post_data or "{}")
    assert sent.get("echo_id") == echo_id and "reference_id" not in sent, sent
    page.get_by_test_id("voice-notice").wait_for()
    assert page.get_by_test_id("voice-notice-text").inner_text() == DELETED_NOTICE
    page.get_by_test_id("no-free-voice").wait_for()  # no voice is left to choose
    assert page.get_by_test_id("speak-error").count() == 0
    assert not [url for url in speech if "/api/audio/" in url], speech

    # The list says so too, from the server's voice_status.
    page.goto(f"{site}/")
    notice = page.get_by_test_id(f"echo-voice-notice-{echo_id}")
    notice.wait_for()
    assert notice.inner_text() == DELETED_NOTICE

    # Its editing says so too, with nothing chosen in its place.
    page.goto(f"{site}/echo/{echo_id}/edit")
    assert page.get_by_test_id("edit-voice-notice").inner_text() == DELETED_NOTICE
    page.get_by_test_id("edit-no-free-voice").wait_for()
    shot(page, "edit-deleted-voice")

    # A second voice: the conversation's picker offers it; choosing it (PATCH) clears the notice.
    second = clone_voice(live_server, user_id, "Second voice", wav)
    page.goto(f"{site}/echo/{echo_id}")
    page.get_by_test_id("voice-notice").wait_for()
    asked = len(order)
    speak.click()  # the app knows: it does not ask the server, and never speaks in another voice
    page.get_by_test_id(f"voice-choice-{second}").click()
    with page.expect_response(lambda r: f"/api/echo/{echo_id}" in r.url and r.request.method == "PATCH") as patched:
        page.get_by_test_id("use-voice-button").click()
    assert patched.value.status == 200, patched.value.text()
    # Requests go out in order: nothing was asked to speak between the tap on Speak and the PATCH.
    before_patch = order[asked : next(i for i, r in enumerate(order) if r.startswith("PATCH ") and i >= asked)]
    assert not [r for r in before_patch if "/api/synthesize" in r or "/api/audio/" in r], before_patch
    assert patched.value.json()["echo"]["voice_status"] == "ready"
    page.get_by_text("Grandpa Joe now speaks in the voice “Second voice”.").wait_for()
    assert page.get_by_test_id("voice-notice").count() == 0

    # Speaking works again, as the echo, in its new voice.
    with page.expect_response(lambda r: r.url.endswith("/api/synthesize")) as answer:
        with page.expect_response(lambda r: "/api/audio/" in r.url) as audio:
            speak.click()
    assert answer.value.status == 200, answer.value.text()
    assert answer.value.json()["reference_id"] == second
    assert audio.value.status in (200, 206)
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
        page.get_by_test_id("first-visit-start").click()
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
        page.get_by_text("Say hello to Recorded").wait_for()
    finally:
        context.close()


def make_user(live_server: str, name: str) -> str:
    """The user the app signs in as with ``name`` (local mode: "local|<slug>", as lib/session.tsx makes it)."""
    made = requests.post(f"{live_server}/api/users/local%7C{name.lower()}", json={}, timeout=10)
    assert made.status_code in (200, 201), made.text
    return made.json()["user"]


def history_total(live_server: str, user_id: str) -> int:
    answer = requests.get(f"{live_server}/api/speech-history", params={"user_id": user_id, "limit": 1}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["total"]


def test_conversation_first_editing_and_history_on_a_phone(
    browser, site: str, live_server: str, tmp_path: Path
) -> None:
    """Issue 15 in the app, at phone size: land on the echos, the conversation first, editing, voices, history."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        name = f"Rosa{uuid.uuid4().hex[:6]}"
        user_id = make_user(live_server, name)
        wav = write_voice_wav(tmp_path / "rose.wav")
        first = clone_voice(live_server, user_id, "Rose at the seaside", wav)
        spare = clone_voice(live_server, user_id, "Rose reading", wav)
        echo = requests.post(
            f"{live_server}/api/echo",
            json={
                "user_id": user_id,
                "name": "Grandma Rose",
                "persona_prompt": "Warm; loves roses.",
                "voice_model_id": first,
            },
            timeout=10,
        )
        assert echo.status_code == 201, echo.text
        echo_id = echo.json()["echo"]["_id"]
        for role, content in (
            ("user", "Hello Grandma, I miss you."),
            ("assistant", "Hello, love. Tell me about the garden."),
        ):
            said = requests.post(
                f"{live_server}/api/conversation/{echo_id}",
                json={"user_id": user_id, "role": role, "content": content},
                timeout=10,
            )
            assert said.status_code == 201, said.text
        reply_id = said.json()["message"]["_id"]

        # Sign in with the name: the person with echos lands on them; Settings shows the name, never "local|…".
        page.goto(f"{site}/")
        page.get_by_test_id("local-name-input").fill(name)
        page.get_by_test_id("local-sign-in-button").click()
        page.get_by_test_id(f"echo-row-{echo_id}").wait_for()
        assert page.get_by_test_id("first-visit").count() == 0
        shot(page, "echos")
        page.get_by_test_id("tab-settings").click()
        assert page.get_by_test_id("settings-identity").inner_text() == name
        assert "local|" not in page.locator("body").inner_text()
        page.get_by_test_id("tab-echos").click()

        # Opening the echo shows its conversation first, naming its voice; memories and editing one tap away.
        page.get_by_test_id(f"echo-row-{echo_id}").click()
        page.get_by_text("Hello, love. Tell me about the garden.").wait_for()
        assert (
            page.get_by_test_id("echo-voice-line").inner_text()
            == "Grandma Rose speaks in the voice “Rose at the seaside”."
        )
        page.get_by_test_id("edit-echo-button").wait_for()
        page.get_by_test_id("memories-button").wait_for()
        shot(page, "conversation")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "app-conversation.png"))

        # Speak the echo's message in its voice: it goes into the history once complete.
        with page.expect_response(lambda r: r.url.endswith("/api/synthesize")) as spoken:
            page.get_by_test_id(f"speak-{reply_id}").click()
        assert spoken.value.status == 200, spoken.value.text()

        # Edit its name, persona and voice (PATCH only what changed); the conversation shows the new name.
        page.get_by_test_id("edit-echo-button").click()
        name_input = page.get_by_test_id("edit-name-input")
        name_input.wait_for()
        page.wait_for_function(
            "() => document.querySelector('[data-testid=\"edit-name-input\"]').value === 'Grandma Rose'"
        )
        name_input.fill("Nana Rose")
        page.get_by_test_id("edit-persona-input").fill("Warm; loves roses and the sea.")
        page.get_by_test_id(f"voice-choice-{spare}").click()
        shot(page, "edit-echo")
        with page.expect_response(lambda r: f"/api/echo/{echo_id}" in r.url and r.request.method == "PATCH") as patched:
            page.get_by_test_id("edit-save").click()
        assert patched.value.status == 200, patched.value.text()
        assert json.loads(patched.value.request.post_data or "{}") == {
            "name": "Nana Rose",
            "persona_prompt": "Warm; loves roses and the sea.",
            "voice_model_id": spare,
            "user_id": user_id,
        }
        page.get_by_test_id("echo-voice-line").filter(
            has_text="Nana Rose speaks in the voice “Rose reading”."
        ).wait_for()

        # A direct link (or a reload) of any screen has a way back.
        page.goto(f"{site}/echo/{echo_id}/memories")
        page.get_by_text("What Nana Rose remembers").first.wait_for()
        page.get_by_test_id("header-home-button").click()
        page.wait_for_url(f"{site}/echo/{echo_id}")
        page.get_by_test_id("header-home-button").click()
        page.wait_for_url(f"{site}/")
        page.get_by_test_id(f"echo-row-{echo_id}").wait_for()

        # Voices: rename one, play its original recording and a preview of the clone.
        page.get_by_test_id("tab-voices").click()
        page.get_by_test_id(f"rename-voice-{first}").click()
        page.get_by_test_id(f"rename-input-{first}").fill("Rose by the sea")
        with page.expect_response(
            lambda r: f"/api/voice-models/{first}" in r.url and r.request.method == "PATCH"
        ) as renamed:
            page.get_by_test_id(f"rename-save-{first}").click()
        assert renamed.value.status == 200, renamed.value.text()
        page.get_by_test_id(f"voice-name-{first}").filter(has_text="Rose by the sea").wait_for()
        with page.expect_response(
            lambda r: r.url.endswith(f"/api/voice-models/{first}/recording?user_id={user_id}")
        ) as asked:
            with page.expect_response(lambda r: "/api/recording/" in r.url) as recording:
                page.get_by_test_id(f"play-recording-{first}").click()
        assert asked.value.status == 200, asked.value.text()
        assert recording.value.status in (200, 206)
        assert recording.value.headers.get("content-type", "").startswith("audio/")
        with page.expect_response(lambda r: r.url.endswith("/api/synthesize")) as preview:
            with page.expect_response(lambda r: "/api/audio/" in r.url) as audio:
                page.get_by_test_id(f"play-voice-{first}").click()
        sent = json.loads(preview.value.request.post_data or "{}")
        assert preview.value.status == 200 and sent["reference_id"] == first and "echo_id" not in sent, sent
        assert audio.value.status in (200, 206)
        shot(page, "voices")

        # A new echo can reuse a voice no echo speaks in (the first one is free again): no upload.
        uploads: list[str] = []
        page.on("request", lambda r: uploads.append(r.url) if "/api/upload-reference" in r.url else None)
        page.get_by_test_id(f"make-echo-{first}").click()
        page.get_by_test_id("echo-name-input").fill("Rose, young")
        page.get_by_test_id("echo-persona-input").fill("Rose at twenty.")
        assert page.get_by_test_id(f"existing-voice-{first}").get_attribute("aria-checked") == "true"
        with page.expect_response(lambda r: r.url.endswith("/api/echo") and r.request.method == "POST") as created:
            page.get_by_test_id("create-echo-submit").click()
        assert created.value.status == 201, created.value.text()
        assert created.value.json()["echo"]["voice_model_id"] == first
        page.get_by_text("Say hello to Rose, young").wait_for()
        assert uploads == []

        # History: what was spoken, newest first; replay, download, delete.
        wait_until(lambda: history_total(live_server, user_id) >= 2, "the speech is in the history", timeout=120)
        page.goto(f"{site}/history")
        items = page.locator("[data-testid^='history-item-']:not([data-testid^='history-item-error-'])")
        items.first.wait_for()
        listed = requests.get(f"{live_server}/api/speech-history", params={"user_id": user_id}, timeout=10).json()[
            "items"
        ]
        shown = [i.get_attribute("data-testid").removeprefix("history-item-") for i in items.all()]
        assert shown == [i["_id"] for i in listed][: len(shown)]
        assert [i["created_at"] for i in listed] == sorted((i["created_at"] for i in listed), reverse=True)
        newest = listed[0]
        assert {i["text"] for i in listed} >= {
            "Hello. This is how this voice sounds in Echo.",
            "Hello, love. Tell me about the garden.",
        }
        with page.expect_response(lambda r: "/api/audio/" in r.url) as replay:
            page.get_by_test_id(f"history-play-{newest['_id']}").click()
        assert replay.value.status in (200, 206)
        # Download: the file itself when the server lets the page fetch it (CORS on audio), else it opens in a tab.
        audio_url = f"{live_server}{newest['audio_url']}"
        cors = requests.get(audio_url, headers={"Origin": site}, timeout=30).headers.get("Access-Control-Allow-Origin")
        if cors in (site, "*"):
            with page.expect_download() as download:
                page.get_by_test_id(f"history-save-{newest['_id']}").click()
            assert download.value.suggested_filename.startswith("echo-")
            assert Path(download.value.path()).stat().st_size > 0
        else:
            with context.expect_page() as opened:
                page.get_by_test_id(f"history-save-{newest['_id']}").click()
            assert opened.value.url == audio_url
            opened.value.close()
            assert page.url == f"{site}/history"  # the app stays where it is
        shot(page, "history")
        page.once("dialog", lambda dialog: dialog.accept())
        with page.expect_response(
            lambda r: "/api/speech-history/" in r.url and r.request.method == "DELETE"
        ) as deleted:
            page.get_by_test_id(f"history-delete-{newest['_id']}").click()
        assert deleted.value.status == 200, deleted.value.text()
        page.get_by_test_id(f"history-item-{newest['_id']}").wait_for(state="detached")
        assert history_total(live_server, user_id) == len(listed) - 1
        assert errors == []
    finally:
        context.close()


def test_connect_other_apps_make_use_and_revoke_a_key(browser, site: str, live_server: str, tmp_path: Path) -> None:
    """Issue 16 in the app, at phone size: Settings leads to "Connect other apps", with the speech address and each
    voice's id; a key is made and shown once with the warning, works on /v1 from Python, and after a confirmation
    is revoked (401 at once)."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        name = f"Keys{uuid.uuid4().hex[:6]}"
        user_id = make_user(live_server, name)
        voice = clone_voice(live_server, user_id, "Grandad", write_voice_wav(tmp_path / "grandad.wav"))
        page.goto(f"{site}/")
        page.get_by_test_id("local-name-input").fill(name)
        page.get_by_test_id("local-sign-in-button").click()
        page.get_by_test_id("tab-settings").click()
        page.get_by_test_id("connect-apps-button").click()
        page.get_by_test_id("connect-screen").wait_for()
        assert page.get_by_test_id("connect-address").inner_text() == f"{live_server}/v1"
        page.get_by_test_id(f"voice-id-{voice}").wait_for()
        page.get_by_test_id("keys-empty").wait_for()

        page.get_by_test_id("key-name").fill("Kitchen speaker")
        with page.expect_response(lambda r: r.url.endswith("/api/api-keys") and r.request.method == "POST") as made:
            page.get_by_test_id("key-make").click()
        assert made.value.status == 201, made.value.text()
        answer = made.value.json()
        page.get_by_test_id("key-new").wait_for()
        assert page.get_by_test_id("key-new-warning").inner_text() == (
            "Copy this key now: Echo will not show it again. Anyone with it can speak in your voices."
        )
        secret = page.get_by_test_id("key-new-secret").inner_text().strip()
        assert secret == answer["key"] and secret.startswith("echo_"), secret
        page.get_by_test_id("key-new-copy").click()
        page.get_by_test_id("copied-key").wait_for()
        assert page.evaluate("navigator.clipboard.readText()") == secret
        shot(page, "connect")

        spoken = requests.post(
            f"{live_server}/v1/audio/speech",
            headers={"Authorization": f"Bearer {secret}"},
            json={"model": "tts-1", "input": "Hello there.", "voice": voice},
            timeout=90,
        )
        assert spoken.status_code == 200 and len(spoken.content) > 500, spoken.text

        # Shown once: a reload lists the key by name and first characters, and the key itself is gone.
        page.reload()
        key_id = answer["api_key"]["_id"]
        page.get_by_test_id(f"key-{key_id}").wait_for()
        assert page.get_by_test_id("key-new").count() == 0
        assert secret not in page.locator("body").inner_text()
        assert page.get_by_test_id(f"key-prefix-{key_id}").inner_text() == f"Starts with {secret[:12]}…"

        questions: list[str] = []
        page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
        page.get_by_test_id(f"key-revoke-{key_id}").click()
        page.get_by_text("Revoked “Kitchen speaker”. It no longer works.").wait_for()
        assert "stops working at once" in questions[0], questions
        gone = requests.get(f"{live_server}/v1/models", headers={"Authorization": f"Bearer {secret}"}, timeout=10)
        assert gone.status_code == 401, gone.text
        assert errors == []
    finally:
        context.close()
