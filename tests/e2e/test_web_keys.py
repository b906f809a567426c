"""Connect other apps on the page (issue 16), in headless Chromium against the real server, at desktop and phone
sizes: the speech address and the voices' ids with Copy buttons; a personal API key made (shown once, with a
Copy button and the warning in plain words; gone after a reload; listed by name, first characters, when made
and when last used), used from Python on /v1 (refused on /api), and revoked after a confirmation (then 401)."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.e2e.test_web_focus import tab_through, weak_rings
from tests.e2e.test_web_layout import SIZES, assert_plain_words, shot
from tests.e2e.test_web_page import NO_HORIZONTAL_OVERFLOW, clone_in_voices, go_to, open_page, user_id_of, with_csp

pytestmark = pytest.mark.e2e

WARNING = "Copy this key now: Echo will not show it again. Anyone with it can speak in your voices."
KEY_SHAPE = re.compile(r"echo_[A-Za-z0-9_-]{43}")


@pytest.fixture(params=list(SIZES))
def size(request, page: Page) -> str:
    page.set_viewport_size(SIZES[request.param])
    return request.param


def allow_clipboard(page: Page, base_url: str) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)


def clipboard(page: Page) -> str:
    return page.evaluate("navigator.clipboard.readText()")


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def test_make_use_and_revoke_a_key(page: Page, live_server: str, size: str) -> None:
    with_csp(page, live_server)
    allow_clipboard(page, live_server)
    open_page(page, live_server, "/#voices")
    voice = clone_in_voices(page, "Grandma Rose")
    made = page.request.post(
        f"{live_server}/api/echo", data={"user_id": user_id_of(page), "name": "Gran", "voice_model_id": voice}
    )
    assert made.ok, made.text()
    echo_id = made.json()["echo"]["_id"]
    open_page(page, live_server, "/#voices")

    # From the navigation: the view says what it is for, and shows the address to enter in the other app.
    go_to(page, "Connect apps")
    expect(page.locator("#nav-connect")).to_have_attribute("aria-current", "page")
    title = page.get_by_role("heading", name="Connect other apps", level=1)
    expect(title).to_be_focused()
    view = page.locator("#view-connect")
    expect(view).to_contain_text("home assistant")
    expect(view).to_contain_text("OpenAI")
    expect(page.locator("#connect-base-url")).to_have_text(f"{live_server}/v1")
    # Reached as 127.0.0.1: the page says a speaker elsewhere needs the computer's address on the network.
    expect(page.locator("#connect-this-computer")).to_be_visible()
    page.get_by_role("button", name="Copy the speech address").click()
    expect(page.locator("#connect-copy-message")).to_have_text("The address is copied. Paste it into the other app.")
    assert clipboard(page) == f"{live_server}/v1"

    # Each voice's id, and each echo's, with a Copy button: the one place ids are shown in the open.
    voice_row = page.locator("#connect-voice-list li", has_text="Grandma Rose")
    expect(voice_row).to_contain_text(voice)
    voice_row.get_by_role("button", name="Copy the id of the voice “Grandma Rose”").click()
    expect(voice_row.locator(".form-message")).to_contain_text("is copied")
    assert clipboard(page) == voice
    echo_row = page.locator("#connect-echo-list li", has_text="Gran")
    expect(echo_row).to_contain_text(echo_id)
    expect(echo_row).to_contain_text("Speaks in the voice “Grandma Rose”")

    # No keys yet; a key needs a name.
    expect(page.locator("#keys-empty")).to_be_visible()
    page.get_by_role("button", name="Make a key").click()
    expect(page.locator("#key-message")).to_contain_text("Give the key a name")
    expect(page.get_by_label("Name of the new key")).to_be_focused()

    # Made: shown once, with the warning in plain words and a Copy button; the new key's box has the focus.
    page.get_by_label("Name of the new key").fill("Kitchen speaker")
    with page.expect_response(lambda r: r.url.endswith("/api/api-keys") and r.request.method == "POST") as answer:
        page.get_by_role("button", name="Make a key").click()
    assert answer.value.status == 201, answer.value.text()
    shown = page.locator("#key-new")
    expect(shown).to_be_visible()
    expect(page.locator("#key-new-title")).to_be_focused()
    expect(page.locator("#key-new-title")).to_have_text("Your new key “Kitchen speaker”")
    expect(shown).to_contain_text(WARNING)
    secret = page.locator("#key-new-secret").input_value()
    assert KEY_SHAPE.fullmatch(secret), secret
    assert answer.value.json()["key"] == secret
    shown.get_by_role("button", name="Copy", exact=True).click()
    expect(page.locator("#key-new-message")).to_have_text("The key is copied. Paste it into the other app.")
    assert clipboard(page) == secret
    expect(page.get_by_label("Name of the new key")).to_have_value("")

    # Listed by name and first characters (never the whole key), with when it was made and used.
    item = page.locator("#keys-list li")
    expect(item).to_have_count(1)
    expect(item.locator(".item-title")).to_have_text("Kitchen speaker")
    expect(item.locator(".key-prefix")).to_have_text(f"{secret[:12]}…")
    expect(item.locator(".key-when")).to_have_text("Made just now · Not used yet")
    assert secret not in page.locator("#keys-list").inner_text()
    layout = page.evaluate(NO_HORIZONTAL_OVERFLOW)
    assert layout["scrollWidth"] <= layout["width"] and layout["wide"] == [], layout
    shot(page, "connect-new-key", size)

    # Used from another program: the OpenAI-style speech API answers with audio in this person's voice.
    models = requests.get(f"{live_server}/v1/models", headers=bearer(secret), timeout=30)
    assert models.status_code == 200, models.text
    assert "echo-tts" in [m["id"] for m in models.json()["data"]]
    listed = requests.get(f"{live_server}/v1/audio/voices", headers=bearer(secret), timeout=30)
    assert listed.status_code == 200, listed.text
    assert voice in listed.text and echo_id in listed.text
    for chosen in (voice, echo_id):
        spoken = requests.post(
            f"{live_server}/v1/audio/speech",
            headers=bearer(secret),
            json={"model": "echo-tts", "input": "Good morning, pet.", "voice": chosen, "response_format": "wav"},
            timeout=90,
        )
        assert spoken.status_code == 200, spoken.text
        assert spoken.content[:4] == b"RIFF" and len(spoken.content) > 1000
    # A key is for speech only: it is refused on /api.
    refused = requests.get(f"{live_server}/api/api-keys", headers=bearer(secret), timeout=30)
    assert refused.status_code == 401, refused.text
    # Without a key /v1 answers 401.
    assert requests.get(f"{live_server}/v1/models", timeout=30).status_code == 401

    # Shown once: after a reload the key is nowhere on the page; the list says it was used.
    open_page(page, live_server, "/#connect")
    expect(page.locator("#key-new")).to_be_hidden()
    expect(page.locator("#key-new-secret")).to_have_value("")
    assert secret not in page.content()
    assert page.evaluate("JSON.stringify(localStorage) + JSON.stringify(sessionStorage)").find(secret) == -1
    expect(item).to_have_count(1)
    expect(item.locator(".item-title")).to_have_text("Kitchen speaker")
    expect(item.locator(".key-prefix")).to_have_text(f"{secret[:12]}…")
    expect(item.locator(".key-when")).to_have_text("Made just now · Last used just now")

    # Revoking asks first, and says it stops working at once; saying no keeps it.
    questions: list[str] = []

    def answer_with(accept: bool):
        def handle(dialog):
            questions.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()

        return handle

    revoke = item.get_by_role("button", name="Revoke the key “Kitchen speaker”")
    page.once("dialog", answer_with(False))
    revoke.click()
    expect(item).to_have_count(1)
    assert requests.get(f"{live_server}/v1/models", headers=bearer(secret), timeout=30).status_code == 200
    page.once("dialog", answer_with(True))
    with page.expect_response(lambda r: "/api/api-keys/" in r.url and r.request.method == "DELETE") as deleted:
        revoke.click()
    assert deleted.value.status == 200, deleted.value.text()
    assert len(questions) == 2 and "stops working at once" in questions[0], questions
    expect(page.locator("#keys-message")).to_have_text("Revoked “Kitchen speaker”. It no longer works.")
    expect(item).to_have_count(0)
    expect(page.locator("#keys-empty")).to_be_visible()
    expect(page.get_by_label("Name of the new key")).to_be_focused()

    # At once: the revoked key answers 401.
    gone = requests.post(
        f"{live_server}/v1/audio/speech",
        headers=bearer(secret),
        json={"model": "echo-tts", "input": "Hello.", "voice": voice},
        timeout=30,
    )
    assert gone.status_code == 401, gone.text
    assert requests.get(f"{live_server}/v1/models", headers=bearer(secret), timeout=30).status_code == 401
    shot(page, "connect", size)
    assert page.evaluate("window.__cspViolations") == []
    assert page.console_errors == []


def test_a_new_key_is_hidden_when_the_person_leaves_or_is_done(page: Page, live_server: str) -> None:
    open_page(page, live_server, "/#connect")
    page.get_by_label("Name of the new key").fill("Chat app")
    page.get_by_role("button", name="Make a key").click()
    expect(page.locator("#key-new")).to_be_visible()
    secret = page.locator("#key-new-secret").input_value()
    assert KEY_SHAPE.fullmatch(secret), secret

    # Leaving the view hides it; coming back does not show it again.
    go_to(page, "Voices")
    go_to(page, "Connect apps")
    expect(page.locator("#key-new")).to_be_hidden()
    assert secret not in page.content()
    expect(page.locator("#keys-list li")).to_have_count(1)

    # "Done" hides it too.
    page.get_by_label("Name of the new key").fill("Speaker upstairs")
    page.get_by_role("button", name="Make a key").click()
    expect(page.locator("#key-new")).to_be_visible()
    expect(page.locator("#keys-list li")).to_have_count(2)
    expect(page.locator("#keys-list li").first.locator(".item-title")).to_have_text("Speaker upstairs")
    page.get_by_role("button", name="Done: hide the key").click()
    expect(page.locator("#key-new")).to_be_hidden()
    expect(page.locator("#keys-title")).to_be_focused()

    # The first visit's walk-through points here, in plain words (the view itself shows ids, on purpose).
    go_to(page, "How it works")
    assert_plain_words(page, "How it works")
    page.locator("#view-welcome").get_by_role("link", name="Connect other apps").click()
    expect(page.locator("#connect-title")).to_be_focused()
    assert page.console_errors == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_control_on_connect_shows_a_focus_ring(page: Page, live_server: str, scheme: str) -> None:
    page.emulate_media(color_scheme=scheme)
    open_page(page, live_server, "/#voices")
    clone_in_voices(page, "Dad")
    made = page.request.post(f"{live_server}/api/api-keys", data={"user_id": user_id_of(page), "name": "Radio"})
    assert made.status == 201, made.text()
    open_page(page, live_server, "/#connect")
    expect(page.locator("#keys-list li")).to_have_count(1)
    expect(page.locator("#connect-voice-list li")).to_have_count(1)
    page.get_by_label("Name of the new key").fill("Kitchen")
    page.get_by_role("button", name="Make a key").click()
    expect(page.locator("#key-new")).to_be_visible()  # its key box and buttons are reached too
    page.locator("#health-details summary").click()
    page.evaluate("document.activeElement && document.activeElement.blur()")
    seen = tab_through(page)
    reached = {r["element"] for r in seen}
    assert {"input#key-name", "input#key-new-secret", "button#key-new-copy", "button#key-new-done"} <= reached, seen
    assert any(r["element"].startswith("button#connect-voice-") for r in seen), seen
    weak = weak_rings(seen)
    assert weak == [], weak
