"""The page built around talking with an echo (issue 15), in headless Chromium against the real server, at
desktop (1280x800) and phone (390x844) sizes: the first visit's three steps, landing on the echos, the
conversation first (filling a phone's screen), an echo whose voice was deleted, and plain words throughout.
Screenshots of each main screen land in artifacts/e2e/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_web_page import (
    NO_HORIZONTAL_OVERFLOW,
    add_message,
    clone_in_voices,
    go_to,
    is_synthesize,
    make_echo_on_page,
    open_page,
    user_id_of,
    with_csp,
)
from tests.helpers import E2E_ARTIFACTS as ARTIFACTS
from tests.helpers import audio_file

pytestmark = pytest.mark.e2e

SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}

# What a bereaved person should not have to read: engine internals, storage, providers, ids, sign-in subjects.
JARGON = re.compile(
    r"formant|embedded store|mongodb|fish\.audio|provider|persona|local\||\blocal-[0-9a-f]{6,}|\b[0-9a-f]{24}\b|"
    r"piper|psola",
    re.IGNORECASE,
)


@pytest.fixture(params=list(SIZES))
def size(request, page: Page) -> str:
    page.set_viewport_size(SIZES[request.param])
    return request.param


def shot(page: Page, name: str, size: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"web-{name}-{size}.png"), full_page=size == "desktop")


def readable_text(page: Page) -> str:
    """What a person reads on the screen now (closed <details> and hidden views are not rendered)."""
    return page.evaluate(
        "() => document.querySelector('header').innerText + '\\n' + document.querySelector('main').innerText"
    )


def assert_plain_words(page: Page, where: str) -> None:
    text = readable_text(page)
    found = sorted({m.group(0) for m in JARGON.finditer(text)})
    assert found == [], (where, found, text)


def test_first_visit_walks_through_a_recording_a_voice_and_an_echo(page: Page, live_server: str, size: str) -> None:
    with_csp(page, live_server)
    open_page(page, live_server)

    # A first visit (no voices, no echos) lands on the three steps; the first is current.
    welcome = page.locator("#view-welcome")
    expect(welcome).to_be_visible()
    expect(page.locator("#view-echos")).to_be_hidden()
    expect(page.get_by_role("heading", name="Welcome to Echo")).to_be_visible()
    steps = page.locator("#welcome-steps li")
    expect(steps).to_have_count(3)
    expect(steps.nth(0)).to_have_attribute("aria-current", "step")
    expect(page.locator("#welcome-step-title")).to_have_text("Step 1 of 3: a recording")
    expect(page.locator("#nav-welcome")).to_have_attribute("aria-current", "page")
    assert_plain_words(page, "welcome")
    shot(page, "walkthrough", size)

    # Step 2 once there is a recording; the clone form is right there.
    page.locator("#welcome-slot #clone-file").set_input_files(
        files=[{"name": "rose.wav", "mimeType": "audio/wav", "buffer": audio_file("wav", seconds=5)}]
    )
    expect(page.locator("#welcome-step-title")).to_have_text("Step 2 of 3: a voice")
    expect(steps.nth(1)).to_have_attribute("aria-current", "step")
    expect(steps.nth(0)).to_have_class(re.compile(r"\bdone\b"))
    welcome.get_by_label("Voice name").fill("Grandma Rose")
    welcome.get_by_label(re.compile("speaker agreed")).check()
    welcome.get_by_role("button", name="Clone voice").click()

    # Step 3: the voice is ready; the echo form takes its place, with the voice chosen and its name offered.
    title = page.locator("#welcome-step-title")
    expect(title).to_have_text("Step 3 of 3: an echo", timeout=30000)
    expect(title).to_be_focused()
    expect(page.locator("#welcome-step-hint")).to_contain_text("The voice “Grandma Rose” is ready.")
    expect(page.locator("#welcome-slot #echo-form")).to_be_visible()
    expect(page.locator("#welcome-slot #clone-form")).to_have_count(0)
    voice_id = page.locator("#voices-list li").first.get_attribute("data-model-id")
    expect(welcome.locator("#echo-voice")).to_have_value(voice_id)
    expect(welcome.locator("#echo-name")).to_have_value("Grandma Rose")
    welcome.locator("#echo-prompt").fill("Loves her roses. Calls everyone 'pet'.")
    welcome.get_by_role("button", name="Make the echo").click()

    # The conversation opens, the box to write to her focused, in view.
    expect(page.locator("#conversation-title")).to_have_text("Conversation with Grandma Rose")
    expect(page.locator("#view-welcome")).to_be_hidden()
    box = page.get_by_label("Write to Grandma Rose")
    expect(box).to_be_focused()
    expect(box).to_be_in_viewport()
    # The forms went home: the Voices view has its clone form again.
    expect(page.locator("#clone-form-home #clone-form")).to_have_count(1)
    expect(page.locator("#echo-form-home #echo-form")).to_have_count(1)

    # From now on the page lands on the echos, not on the steps.
    open_page(page, live_server, "/")
    expect(page.locator("#view-echos")).to_be_visible()
    expect(page.locator("#view-welcome")).to_be_hidden()
    expect(page.locator("#echos-list li")).to_have_count(1)
    expect(page.locator("#new-echo")).not_to_have_attribute("open", "")  # one click away, not in the way
    assert_plain_words(page, "landing")
    shot(page, "landing", size)
    assert page.evaluate("window.__cspViolations") == []
    assert page.console_errors == []


def test_conversation_comes_first_and_fills_a_phone(page: Page, live_server: str, size: str) -> None:
    open_page(page, live_server, "/#voices")
    voice = clone_in_voices(page, "Grandpa Joe's voice")
    for name in ["Aunt May", "Grandpa Joe"]:
        made = page.request.post(
            f"{live_server}/api/echo",
            data={
                "user_id": user_id_of(page),
                "name": name,
                "voice_model_id": voice if name == "Grandpa Joe" else None,
            },
        )
        assert made.ok, made.text()
    joe = made.json()["echo"]["_id"]
    for n in range(12):
        page.request.post(
            f"{live_server}/api/conversation/{joe}",
            data={"user_id": user_id_of(page), "role": "user" if n % 2 else "assistant", "content": f"Message {n}."},
        )

    open_page(page, live_server, "/")
    expect(page.locator("#echos-list li")).to_have_count(2)
    expect(page.locator("#conversation-section")).to_be_hidden()
    page.get_by_role("link", name="Open conversation with Grandpa Joe").click()

    conversation = page.locator("#conversation-section")
    title = page.locator("#conversation-title")
    expect(title).to_have_text("Conversation with Grandpa Joe")
    expect(title).to_be_focused()
    expect(page.locator("#nav-echos")).to_have_attribute("aria-current", "page")
    # Conversation first: its messages and the box to write come before memories and the settings.
    order = page.evaluate(
        """() => ["conversation-list", "reply-form", "memories-section", "echo-edit"]
             .map((id) => document.getElementById(id).getBoundingClientRect().top)"""
    )
    assert order[0] < order[1] < min(order[2:]), order
    expect(page.locator("#conversation-list li")).to_have_count(12)
    box = conversation.bounding_box()
    viewport = SIZES[size]
    if size == "phone":
        # It fills the screen, scrolled to it; the list of echos is one link away.
        assert box["height"] >= viewport["height"] - 1, box
        assert (
            abs(page.evaluate("() => document.getElementById('conversation-section').getBoundingClientRect().top")) < 2
        )
        expect(page.locator("#echos-section")).to_be_hidden()
        expect(page.get_by_role("link", name="All echos")).to_be_visible()
        shot(page, "conversation", size)
        page.get_by_role("link", name="All echos").click()
        expect(page.locator("#echos-title")).to_be_focused()
        expect(conversation).to_be_hidden()
        expect(page.locator("#echos-list li")).to_have_count(2)
    else:
        # Beside the list of echos, which marks the open one.
        expect(page.locator("#echos-section")).to_be_visible()
        assert box["x"] > page.locator("#echos-section").bounding_box()["x"], box
        expect(page.locator("#echo-" + joe + "-open")).to_have_attribute("aria-current", "page")
        shot(page, "conversation", size)
    layout = page.evaluate(NO_HORIZONTAL_OVERFLOW)
    assert layout["scrollWidth"] <= layout["width"] and layout["wide"] == [], layout
    assert page.console_errors == []


def test_an_echo_whose_voice_was_deleted_says_so_and_takes_another(page: Page, live_server: str, size: str) -> None:
    """Clone a voice, make an echo with it, delete the voice on the page: the echo says so in plain words, never
    speaks in the stock voice, and another voice is chosen for it."""
    with_csp(page, live_server)
    open_page(page, live_server, "/#voices")
    first = clone_in_voices(page, "Rose's voice")
    second = clone_in_voices(page, "Rose, second try", audio_file("wav", seconds=4, seed=3))
    echo_id = make_echo_on_page(page, "Grandma Rose", first)
    add_message(page, "Hello, pet.", "assistant")
    expect(page.locator("#conversation-list li")).to_have_count(1)

    go_to(page, "Voices")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete voice Rose's voice").click()
    expect(page.locator("#voices-message")).to_contain_text("“Grandma Rose” needs another voice now")
    expect(page.locator("#voices-list li")).to_have_count(1)

    # The list says it in plain words; the conversation says so at the top and offers the voices left.
    go_to(page, "Your echos")
    item = page.locator(f"#echos-list li[data-echo-id='{echo_id}']")
    expect(item).to_contain_text("Its voice was deleted: choose another.")
    expect(item).to_have_attribute("data-voice-status", "deleted")
    item.get_by_role("link", name="Open conversation with Grandma Rose").click()
    notice = page.locator("#conversation-voice")
    expect(notice).to_be_visible()
    expect(notice.locator(".voice-notice-text")).to_have_text(
        "This echo's voice was deleted; choose another voice for it."
    )
    expect(page.locator("#conversation-persona")).not_to_contain_text("Voice:")
    # The settings say so too, with no voice chosen for it.
    page.locator("#echo-edit summary").click()
    expect(page.locator("#edit-voice")).to_have_value("")
    expect(page.locator("#edit-voice option").first).to_have_text("Its voice was deleted: choose another")
    assert_plain_words(page, "deleted voice")
    shot(page, "deleted-voice", size)

    # Hear never asks for speech (so never in the stock voice): the choice takes the focus.
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if is_synthesize(r) else None)
    page.locator("#conversation-list li").first.get_by_role("button", name=re.compile("^Hear")).click()
    choice = notice.get_by_label("Another voice for Grandma Rose")
    expect(choice).to_be_focused()
    assert asked == []

    choice.select_option(second)
    notice.get_by_role("button", name="Use this voice").click()
    expect(notice).to_be_hidden()
    expect(page.locator("#conversation-message")).to_have_text(
        "Grandma Rose now speaks in the voice “Rose, second try”."
    )
    expect(page.locator("#edit-voice")).to_have_value(second)
    expect(item).to_contain_text("Voice: Rose, second try")
    with page.expect_response(is_synthesize) as answer:
        page.locator("#conversation-list li").first.get_by_role("button", name=re.compile("^Hear")).click()
    assert answer.value.status == 200 and answer.value.json()["reference_id"] == second, answer.value.text()
    assert page.evaluate("window.__cspViolations") == []
    assert page.console_errors == []


def test_plain_words_in_every_view_and_details_one_click_away(page: Page, live_server: str) -> None:
    open_page(page, live_server, "/#voices")
    voice = clone_in_voices(page, "Dad")
    echo_id = make_echo_on_page(page, "Dad", voice, "Quiet, dry humour.")
    spoken = page.request.post(
        f"{live_server}/api/synthesize",
        data={"user_id": user_id_of(page), "text": "Hello son.", "format": "pcm", "echo_id": echo_id},
    )
    assert spoken.ok, spoken.text()
    for view in ["Your echos", "Voices", "What was spoken", "How it works"]:
        go_to(page, view)
        assert_plain_words(page, view)
    open_page(page, live_server, f"/#echo={echo_id}")
    assert_plain_words(page, "conversation")
    # The footer names the person, never the sign-in subject.
    footer = page.locator("footer").inner_text()
    assert "local|" not in footer, footer
    # Technical details are there, one click away.
    go_to(page, "Voices")
    details = page.locator("#voices-list li").first.locator("details.technical")
    details.locator("summary").click()
    expect(details).to_contain_text(voice)
    assert page.console_errors == []
