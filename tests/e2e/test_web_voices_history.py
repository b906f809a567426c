"""Changing and listening on the page (issue 15), in headless Chromium against the real server, at desktop and
phone sizes: renaming a voice, changing an echo's name, description and voice, playing a voice's original
recording and a preview of the clone, the history of what was spoken (replay, download, delete), results said
where the person is looking, and rate limits in the server's words."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_web_layout import SIZES, shot
from tests.e2e.test_web_page import (
    AUDIO_DURATION,
    clone,
    clone_in_voices,
    go_to,
    is_synthesize,
    make_echo_on_page,
    open_page,
    user_id_of,
    with_csp,
)
from tests.helpers import audio_file

pytestmark = pytest.mark.e2e

PREVIEW = "Hello. This is how this voice sounds in Echo."


@pytest.fixture(params=list(SIZES))
def size(request, page: Page) -> str:
    page.set_viewport_size(SIZES[request.param])
    return request.param


def test_rename_a_voice_and_change_an_echo(page: Page, live_server: str, size: str) -> None:
    with_csp(page, live_server)
    open_page(page, live_server, "/#voices")
    first = clone_in_voices(page, "Mum")
    second = clone_in_voices(page, "Mum, kitchen recording", audio_file("wav", seconds=4, seed=5))
    item = page.locator(f"#voices-list li[data-model-id='{first}']")

    # Rename in place: Escape cancels, Save keeps it, and the result is said next to the voice, focused.
    item.get_by_role("button", name="Rename Mum").click()
    field = item.get_by_label("New name for “Mum”")
    expect(field).to_be_focused()
    field.press("Escape")
    expect(item.get_by_role("button", name="Rename Mum")).to_be_focused()
    item.get_by_role("button", name="Rename Mum").click()
    field.fill("")
    item.get_by_role("button", name="Save name").click()
    expect(item.locator(".form-message")).to_have_text("Give the voice a name.")
    expect(field).to_be_focused()
    with page.expect_response(lambda r: "/api/voice-models/" in r.url and r.request.method == "PATCH") as patched:
        field.fill("Mum, reading a story")
        field.press("Enter")
    assert patched.value.status == 200, patched.value.text()
    note = item.locator(".form-message.success")
    expect(note).to_have_text("Renamed to “Mum, reading a story”.")
    expect(note).to_be_focused()
    expect(note).to_be_in_viewport()
    expect(item.locator(".item-title")).to_have_text("Mum, reading a story")
    listed = page.request.get(f"{live_server}/api/voice-models/{first}?user_id={user_id_of(page)}").json()
    assert listed["voice_model"]["name"] == "Mum, reading a story", listed
    expect(page.locator(f"#speak-voice option[value='{first}']")).to_have_text("Mum, reading a story")

    # An echo on the first voice: change its name, description and voice from its conversation.
    echo_id = make_echo_on_page(page, "Mum", first, "Sings while cooking.")
    page.locator("#echo-edit summary").click()
    name = page.locator("#echo-edit").get_by_label("Name", exact=True)
    expect(name).to_have_value("Mum")
    expect(page.locator("#edit-prompt")).to_have_value("Sings while cooking.")
    expect(page.locator("#edit-voice")).to_have_value(first)
    # Only voices no other echo speaks in are offered (both are free here, the first being its own).
    assert page.locator("#edit-voice option").all_inner_texts() == ["Mum, kitchen recording", "Mum, reading a story"]
    name.fill("Mother")
    page.locator("#edit-prompt").fill("Sings while cooking; hums when she is thinking.")
    page.locator("#edit-voice").select_option(second)
    with page.expect_request(lambda r: f"/api/echo/{echo_id}" in r.url and r.method == "PATCH") as sent:
        page.get_by_role("button", name="Save changes").click()
    body = json.loads(sent.value.post_data or "{}")
    assert body["name"] == "Mother" and body["voice_model_id"] == second and "hums" in body["persona_prompt"], body
    message = page.locator("#edit-message.success")
    expect(message).to_have_text("Saved. Mother now speaks in the voice “Mum, kitchen recording”.")
    expect(message).to_be_focused()
    expect(message).to_be_in_viewport()
    expect(page.locator("#conversation-title")).to_have_text("Conversation with Mother")
    expect(page.get_by_label("Write to Mother")).to_be_visible()
    expect(page.locator("#conversation-persona")).to_contain_text("hums when she is thinking")
    expect(page.locator(f"#echos-list li[data-echo-id='{echo_id}']")).to_contain_text("Mother")
    stored = page.request.get(f"{live_server}/api/echo/{echo_id}?user_id={user_id_of(page)}").json()["echo"]
    assert (stored["name"], stored["voice_model_id"]) == ("Mother", second), stored
    # Saving with nothing changed says so instead of asking the server.
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#edit-message")).to_have_text("Nothing to save: nothing was changed.")

    # The first voice is free again; in the Voices view it no longer names the echo.
    go_to(page, "Voices")
    expect(page.locator(f"#voices-list li[data-model-id='{second}'] .item-meta")).to_contain_text(
        "the voice of “Mother”"
    )
    expect(item.locator(".item-meta")).not_to_contain_text("the voice of")
    shot(page, "voices", size)
    assert page.evaluate("window.__cspViolations") == []
    assert page.console_errors == []


def test_listen_to_the_recording_a_preview_and_what_was_spoken(page: Page, live_server: str, size: str) -> None:
    with_csp(page, live_server)
    open_page(page, live_server, "/#voices")
    voice = clone_in_voices(page, "Grandad", audio_file("wav", seconds=5))
    item = page.locator(f"#voices-list li[data-model-id='{voice}']")

    # The original recording, as it was uploaded.
    with page.expect_response(lambda r: r.url.split("?")[0].endswith(f"/api/voice-models/{voice}/recording")) as got:
        item.get_by_role("button", name="Play the recording of Grandad").click()
    assert got.value.status == 200, got.value.text()
    player = item.locator("audio")
    expect(player).to_be_visible()
    expect(player).to_have_attribute("aria-label", "The recording of Grandad")
    loaded = player.evaluate(AUDIO_DURATION)
    assert loaded["error"] is None and 4.5 < loaded["duration"] < 5.5, loaded

    # A short preview of the clone: a fixed text, in that voice.
    with page.expect_request(is_synthesize) as sent:
        item.get_by_role("button", name="Hear a preview of Grandad").click()
    body = json.loads(sent.value.post_data or "{}")
    assert body["text"] == PREVIEW and body["reference_id"] == voice, body
    expect(player).to_have_attribute("aria-label", "A preview of Grandad", timeout=30000)
    expect(player).to_have_attribute("src", re.compile(r"^/api/audio/[^/?]+\.mp3\?"))
    assert player.evaluate(AUDIO_DURATION)["duration"] > 0.5

    # Progressive speech shows its length once it is known.
    page.get_by_label("Words to speak").fill("Come and sit with me in the garden, and tell me all your news.")
    page.get_by_role("button", name="Speak", exact=True).click()
    expect(page.locator("#speak-message.success")).to_be_visible(timeout=30000)
    expect(page.locator("#speak-info")).to_contain_text(re.compile(r"MP3 · \d+ seconds?"), timeout=30000)

    # What was spoken, newest first: the words, the voice, when, how long.
    go_to(page, "What was spoken")
    expect(page.locator("#history-title")).to_be_focused()
    entries = page.locator("#history-list li")
    expect(entries).to_have_count(2, timeout=30000)
    expect(entries.nth(0)).to_contain_text("Come and sit with me in the garden")
    expect(entries.nth(1)).to_contain_text(PREVIEW)
    expect(entries.nth(0).locator(".item-meta")).to_contain_text("In the voice “Grandad”")
    expect(entries.nth(0).locator(".item-meta")).to_contain_text(re.compile(r"\d+ seconds?"))
    expect(entries.nth(0).locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-\d\d-\d\dT"))
    shot(page, "history", size)

    # Replay, in place.
    entries.nth(0).get_by_role("button", name=re.compile("^Play: Come and sit")).click()
    again = entries.nth(0).locator("audio")
    expect(again).to_be_visible()
    assert again.evaluate(AUDIO_DURATION)["duration"] > 1

    # Download: a real file, with a name.
    download = entries.nth(0).get_by_role("link", name=re.compile("^Download: Come and sit"))
    assert (download.get_attribute("download") or "").startswith("Grandad-")
    fetched = page.request.get(live_server + download.get_attribute("href"))
    assert fetched.ok and fetched.headers["content-type"].startswith("audio/mpeg") and len(fetched.body()) > 1000

    # Delete one (after a confirmation), then all.
    page.once("dialog", lambda dialog: dialog.accept())
    entries.nth(0).get_by_role("button", name=re.compile("^Delete: Come and sit")).click()
    expect(entries).to_have_count(1)
    expect(entries.nth(0)).to_contain_text(PREVIEW)
    expect(entries.nth(0).get_by_role("button", name=re.compile("^Play"))).to_be_focused()
    listed = page.request.get(f"{live_server}/api/speech-history?user_id={user_id_of(page)}").json()
    assert [i["text"] for i in listed["items"]] == [PREVIEW], listed
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete all").click()
    expect(page.locator("#history-message")).to_have_text("Deleted 1 item.")
    expect(page.locator("#history-message")).to_be_focused()
    expect(page.locator("#history-empty")).to_be_visible()
    expect(entries).to_have_count(0)
    assert page.evaluate("window.__cspViolations") == []
    assert page.console_errors == []


def test_raw_pcm_in_the_history_says_its_sample_rate(page: Page, live_server: str) -> None:
    open_page(page, live_server, "/#voices")
    page.get_by_label("Words to speak").fill("Raw samples, please.")
    page.get_by_label("Format").select_option("pcm")
    page.get_by_role("button", name="Speak", exact=True).click()
    expect(page.locator("#speak-info")).to_contain_text("Raw PCM (24,000 Hz, 16-bit, mono)", timeout=30000)
    go_to(page, "What was spoken")
    entry = page.locator("#history-list li").first
    expect(entry).to_contain_text("In Echo's standard voice")
    expect(entry).to_contain_text("Raw PCM (24,000 Hz, 16-bit, mono)")
    expect(entry.get_by_role("button", name=re.compile("^Play"))).to_have_count(0)  # download only
    expect(entry.get_by_role("link", name=re.compile("^Download"))).to_have_attribute("download", re.compile(r"\.pcm$"))


def test_rate_limits_are_said_in_the_servers_words(page: Page, live_server: str) -> None:
    """A 429 whose message says when is shown as it is, next to the form, focused, with nothing added."""
    open_page(page, live_server, "/#voices")
    limited = {
        "success": False,
        "error": "rate_limited",
        "message": "You can clone another voice in 47 minutes.",
        "retry_after": 2820,
    }
    page.route(
        "**/api/upload-reference",
        lambda route: route.fulfill(status=429, json=limited, headers={"Retry-After": "2820"}),
    )
    clone(page, "Too soon", audio_file("wav", seconds=4))
    message = page.locator("#clone-message.error")
    expect(message).to_have_text("You can clone another voice in 47 minutes.")
    expect(message).to_be_focused()
    expect(message).to_be_in_viewport()

    # A limit whose message does not say when gets the wait added, in seconds.
    page.route(
        "**/api/synthesize",
        lambda route: route.fulfill(
            status=429,
            json={"success": False, "error": "x", "message": "Too many requests."},
            headers={"Retry-After": "12"},
        ),
    )
    page.get_by_label("Words to speak").fill("Hello.")
    page.get_by_role("button", name="Speak", exact=True).click()
    expect(page.locator("#speak-message.error")).to_have_text("Too many requests. Try again in 12 seconds.")
    expect(page.locator("#speak-message")).to_be_focused()
    assert page.console_errors == []
