"""Writing to an echo on the web page, and what it remembers: headless Chromium against the real server,
whose language model is tests/fake_llm.py (a real OpenAI-compatible server on loopback) and whose voice
engine is the local one. Every test is a new local user (a fresh browser context)."""

from __future__ import annotations

import json
import re
import threading
import time

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import run_server
from tests.e2e.test_web_page import (
    AUDIO_DURATION,
    NO_HORIZONTAL_OVERFLOW,
    add_message,
    open_page,
    sign_in,
    user_id_of,
    with_csp,
)
from tests.fake_llm import FakeLLM, Script
from tests.helpers import E2E_ARTIFACTS as ARTIFACTS
from tests.helpers import REPO, audio_file

pytestmark = pytest.mark.e2e

SCREENSHOTS = REPO / "docs" / "screenshots"

# The label on a reply written by the fake language model (an OpenAI-compatible endpoint, model "fake-model").
WRITTEN_BY_FAKE = "AI echo · written by fake-model"

STORY = (
    "Oh, my dear, it is lovely to hear from you. The roses are climbing all over the back fence again this "
    "year, and the blue door needs another coat of paint. Come round on Sunday and we will have tea."
)


@pytest.fixture(scope="module")
def fake_llm():
    fake = FakeLLM()
    yield fake
    fake.close()


@pytest.fixture(scope="module")
def reply_server(tmp_path_factory, fake_llm):
    """The real server with the fake language model; a generous reply limit (a 429 is faked in the browser)."""
    yield from run_server(
        tmp_path_factory,
        "server-replies.log",
        LLM_BASE_URL=fake_llm.url,
        LLM_MODEL=fake_llm.model,
        REPLY_RATE_LIMIT="1000 per minute",
    )


@pytest.fixture(autouse=True)
def fresh_script(fake_llm):
    fake_llm.script = Script()
    fake_llm.disconnected.clear()
    yield


def make_echo(page: Page, base: str, name: str, voice: bool = True) -> str:
    """An echo (on a voice cloned through the API when `voice`), opened on the page; its id."""
    user_id = user_id_of(page)
    body = {"user_id": user_id, "name": name, "persona_prompt": "Warm, calls everyone 'my dear'."}
    if voice:
        cloned = page.request.post(
            f"{base}/api/upload-reference",
            multipart={
                "audio": {"name": "voice.wav", "mimeType": "audio/wav", "buffer": audio_file("wav", seconds=4)},
                "name": f"{name}'s voice",
                "user_id": user_id,
                "consent": "true",
            },
            timeout=60000,
        )
        assert cloned.status == 201, cloned.text()
        body["voice_model_id"] = cloned.json()["model_id"]
    created = page.request.post(f"{base}/api/echo", data=body)
    assert created.ok, created.text()
    echo_id = created.json()["echo"]["_id"]
    open_page(page, base, f"/#echo={echo_id}")
    expect(page.locator("#conversation-title")).to_have_text(f"Conversation with {name}")
    return echo_id


def stored_messages(page: Page, base: str, echo_id: str) -> list[dict]:
    answer = page.request.get(f"{base}/api/conversation/{echo_id}?user_id={user_id_of(page)}")
    assert answer.ok, answer.text()
    return answer.json()["messages"]


def reload(page: Page) -> None:
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=15000)


def is_reply(request) -> bool:
    return request.url.split("?", 1)[0].endswith("/reply") and request.method == "POST"


def test_write_to_an_echo_see_the_reply_as_it_is_written_and_hear_it(
    page: Page, reply_server: str, fake_llm: FakeLLM
) -> None:
    with_csp(page, reply_server)
    open_page(page, reply_server)
    echo_id = make_echo(page, reply_server, "Grandma Rose")
    fake_llm.script = Script(text=STORY, tokens_per_second=20)

    # The box names the echo, and says in plain words who writes the replies.
    box = page.get_by_label("Write to Grandma Rose")
    expect(page.locator("#reply-note")).to_have_text(
        "Replies are written by an AI language model (fake-model), not by Grandma Rose, and can be wrong."
    )
    expect(page.locator("#reply-live")).to_have_attribute("aria-live", "polite")

    # With the keyboard: type, Ctrl+Enter sends.
    box.focus()
    page.keyboard.type("Hi Grandma, how is the garden?")
    with page.expect_request(is_reply) as sent:
        page.keyboard.press("Control+Enter")
    body = json.loads(sent.value.post_data or "{}")
    assert body["content"] == "Hi Grandma, how is the garden?" and body["speak"] is True and body["format"] == "mp3"
    assert sent.value.headers["accept"] == "text/event-stream"

    # The person's message shows at once; while the reply is written the box is busy and Stop is offered.
    messages = page.locator("#conversation-list li")
    expect(messages.first).to_contain_text("Hi Grandma, how is the garden?")
    expect(page.locator("#reply-form")).to_have_attribute("aria-busy", "true")
    expect(box).to_be_disabled()
    expect(page.get_by_role("button", name="Send")).to_be_disabled()
    expect(page.get_by_role("button", name="Stop the reply")).to_be_focused()

    # The reply appears piece by piece, marked as written by an AI echo (which model is said once it is done).
    live = page.locator("#reply-live .message")
    expect(live.locator(".ai-label")).to_have_text("AI echo")
    expect(live.locator(".message-text")).to_contain_text("my dear", timeout=10000)
    partial = live.locator(".message-text").inner_text()
    assert partial and "Sunday" not in partial, partial

    # Done: the reply joins the conversation; its voice plays from the audio element.
    expect(messages).to_have_count(2, timeout=20000)
    reply = messages.nth(1)
    expect(reply).to_contain_text("Come round on Sunday and we will have tea.")
    expect(reply.locator(".ai-label")).to_have_text(WRITTEN_BY_FAKE)  # now it says which model wrote it
    expect(page.locator("#reply-live")).to_be_empty()
    expect(page.locator("#reply-form")).to_have_attribute("aria-busy", "false")
    expect(box).to_be_enabled()
    expect(box).to_be_focused()
    expect(page.get_by_role("button", name="Stop the reply")).to_be_hidden()
    audio = page.locator("#conversation-audio")
    expect(audio).to_be_visible()
    expect(audio).to_have_attribute("src", re.compile(r"^/api/audio/[^/?]+\.mp3\?"))
    loaded = audio.evaluate(AUDIO_DURATION)
    assert loaded["error"] is None and loaded["duration"] > 0, loaded

    # The model was asked with the person's message; both messages are kept and shown after a reload.
    sent_to_model = fake_llm.requests[-1]["messages"]
    assert sent_to_model[-1] == {"role": "user", "content": "Hi Grandma, how is the garden?"}, sent_to_model
    reload(page)
    expect(messages).to_have_count(2)
    expect(messages.nth(1).locator(".ai-label")).to_have_text(WRITTEN_BY_FAKE)
    assert [m["role"] for m in stored_messages(page, reply_server, echo_id)] == ["user", "assistant"]

    assert page.evaluate("window.__cspViolations") == []
    assert page.console_errors == []


def test_stop_keeps_the_message_and_try_again_answers(page: Page, reply_server: str, fake_llm: FakeLLM) -> None:
    open_page(page, reply_server)
    echo_id = make_echo(page, reply_server, "Grandpa Joe")
    held = threading.Event()
    # Held after its first sentence: replies are shown a whole sentence at a time.
    fake_llm.script = Script(text=STORY, tokens_per_second=20, hold=held, hold_at=15)

    page.get_by_label("Write to Grandpa Joe").fill("Tell me about the boat.")
    page.get_by_role("button", name="Send").click()
    live = page.locator("#reply-live .message-text")
    expect(live).to_have_text(re.compile(r"^Oh, my dear, it is lovely"), timeout=10000)  # then it waits
    page.get_by_role("button", name="Stop the reply").click()
    held.set()  # the model goes on; the server finds the page gone and drops the reply

    message = page.locator("#reply-message")
    expect(message).to_contain_text("Stopped. Your message is kept")
    expect(page.get_by_role("button", name="Try again")).to_be_focused()
    expect(page.locator("#reply-live")).to_be_empty()
    expect(page.locator("#reply-form")).to_have_attribute("aria-busy", "false")
    expect(page.locator("#conversation-audio")).to_be_hidden()
    messages = page.locator("#conversation-list li")
    expect(messages).to_have_count(1)
    expect(messages.first).to_contain_text("Tell me about the boat.")
    expect(messages.first).not_to_contain_text("not sent")

    # The reply cut short was not kept: after a reload only the person's message is there.
    assert fake_llm.disconnected.wait(10), "the server did not stop the model"
    time.sleep(0.3)
    reload(page)
    expect(messages).to_have_count(1)
    assert [m["role"] for m in stored_messages(page, reply_server, echo_id)] == ["user"]
    expect(page.get_by_role("button", name="Try again")).to_be_hidden()  # a new page offers the box instead

    # Stop again, then Try again asks without content and is answered.
    fake_llm.script = [Script(text=STORY, tokens_per_second=5), Script(text="There you are, lad. The boat is fine.")]
    page.get_by_label("Write to Grandpa Joe").fill("Are you there?")
    page.get_by_role("button", name="Send").click()
    expect(live).not_to_be_empty(timeout=10000)
    page.get_by_role("button", name="Stop the reply").click()
    with page.expect_request(is_reply) as again:
        page.get_by_role("button", name="Try again").click()
    assert "content" not in json.loads(again.value.post_data or "{}")
    expect(messages).to_have_count(3, timeout=15000)
    expect(messages.nth(2)).to_contain_text("There you are, lad. The boat is fine.")
    expect(page.get_by_role("button", name="Try again")).to_be_hidden()
    expect(message).to_be_empty()
    reload(page)
    expect(messages).to_have_count(3)
    roles = [m["role"] for m in stored_messages(page, reply_server, echo_id)]
    assert roles == ["user", "user", "assistant"], roles
    assert page.console_errors == []


def test_errors_are_said_next_to_the_box_and_try_again_works(page: Page, reply_server: str, fake_llm: FakeLLM) -> None:
    with_csp(page, reply_server)
    open_page(page, reply_server)
    echo_id = make_echo(page, reply_server, "Aunt May", voice=False)
    box = page.get_by_label("Write to Aunt May")
    message = page.locator("#reply-message")
    retry = page.get_by_role("button", name="Try again")
    messages = page.locator("#conversation-list li")

    # Too many replies (faked here): the wait is said, and the message, not kept, stays as "not sent".
    limited = {"success": False, "error": "too_many_requests", "message": "Too many requests: 10 per 1 minute."}
    page.route(
        "**/reply",
        lambda route: route.fulfill(status=429, json=limited, headers={"Retry-After": "12"}),
        times=1,
    )
    box.fill("Hello May, it's me.")
    page.get_by_role("button", name="Send").click()
    expect(message).to_have_text("Too many requests: 10 per 1 minute. Try again in 12 seconds.")
    expect(message).to_have_attribute("role", "alert")
    expect(message).to_be_focused()
    expect(messages).to_have_count(1)
    expect(messages.first).to_contain_text("not sent")
    assert stored_messages(page, reply_server, echo_id) == []

    # A limit whose message already says when (as Echo's own do) is shown as it is, with nothing added.
    worded = {
        "success": False,
        "error": "rate_limited",
        "message": "You can ask for more replies in 2 minutes.",
        "retry_after": 95,
    }
    page.route(
        "**/reply",
        lambda route: route.fulfill(status=429, json=worded, headers={"Retry-After": "95"}),
        times=1,
    )
    retry.click()
    expect(message).to_have_text("You can ask for more replies in 2 minutes.")
    expect(message).to_be_focused()
    expect(messages).to_have_count(1)

    # The model fails (500): its words come through; the message is kept this time.
    fake_llm.script = Script(status=500, error_message="The model is out of memory.")
    with page.expect_request(is_reply) as sent:
        retry.click()
    assert json.loads(sent.value.post_data or "{}")["content"] == "Hello May, it's me."  # it was never kept
    expect(message).to_have_text("The language model answered 500: The model is out of memory.", timeout=15000)
    expect(message).to_be_focused()
    expect(messages).to_have_count(1)
    expect(messages.first).not_to_contain_text("not sent")
    expect(box).to_be_enabled()
    expect(retry).to_be_visible()

    # The model is fixed: Try again answers the kept message (no content sent again), in writing only.
    fake_llm.script = Script(text="Hello, pet. I was hoping you'd write.")
    with page.expect_request(is_reply) as sent:
        retry.click()
    body = json.loads(sent.value.post_data or "{}")
    assert "content" not in body and body["speak"] is False, body
    expect(messages).to_have_count(2, timeout=15000)
    expect(messages.nth(1)).to_contain_text("Hello, pet. I was hoping you'd write.")
    expect(message).to_be_empty()
    expect(retry).to_be_hidden()
    expect(page.locator("#conversation-audio")).to_be_hidden()  # no voice: written, not spoken
    reload(page)
    expect(messages).to_have_count(2)
    assert page.evaluate("window.__cspViolations") == []
    assert page.console_errors == []


def test_each_reply_says_which_model_wrote_it(page: Page, reply_server: str, fake_llm: FakeLLM) -> None:
    """The label on the echo's messages: the model that wrote a reply (the operator's endpoint here), Echo's own
    honest answer to "are you really her?", and just "AI echo" on a message added by hand; kept after a reload."""
    with_csp(page, reply_server)
    open_page(page, reply_server)
    echo_id = make_echo(page, reply_server, "Grandma Rose", voice=False)
    messages = page.locator("#conversation-list li")
    box = page.get_by_label("Write to Grandma Rose")

    fake_llm.script = Script(text="The roses are lovely this year, pet.")
    box.fill("How is the garden?")
    page.get_by_role("button", name="Send").click()
    expect(messages).to_have_count(2, timeout=15000)
    written = messages.nth(1).locator(".ai-label")
    expect(written).to_have_text(WRITTEN_BY_FAKE)
    expect(written).to_have_attribute("data-provider", "openai")

    # Asked sincerely whether it is really her, the echo gives Echo's fixed, honest answer, labelled so.
    box.fill("Are you really Grandma Rose?")
    page.get_by_role("button", name="Send").click()
    expect(messages).to_have_count(4, timeout=15000)
    honest = messages.nth(3).locator(".ai-label")
    expect(honest).to_have_text("AI echo · Echo's honest answer")
    expect(honest).to_have_attribute("data-provider", "echo")

    # Words added by hand as the echo's were written by no model: just "AI echo".
    add_message(page, "Oh, I knew you would!", "assistant")
    expect(messages).to_have_count(5)
    expect(messages.nth(4).locator(".ai-label")).to_have_text("AI echo")
    expect(messages.nth(4).locator(".ai-label")).not_to_have_attribute("data-provider", re.compile(".*"))

    # The server keeps who wrote each reply; the page shows it again after a reload, to screen readers too.
    stored = stored_messages(page, reply_server, echo_id)
    assert [m.get("model") for m in stored] == [
        None,
        {"provider": "openai", "name": "fake-model"},
        None,
        {"provider": "echo", "name": "honest answer"},
        None,
    ], stored
    reload(page)
    expect(messages).to_have_count(5)
    labels = page.locator("#conversation-list .ai-label")
    expect(labels).to_have_text([WRITTEN_BY_FAKE, "AI echo · Echo's honest answer", "AI echo"])
    # In the accessibility tree, as screen readers read it (not hidden from them, not only a visual badge).
    assert WRITTEN_BY_FAKE in messages.nth(1).aria_snapshot(), messages.nth(1).aria_snapshot()
    assert "AI echo · Echo's honest answer" in messages.nth(3).aria_snapshot(), messages.nth(3).aria_snapshot()
    assert page.evaluate("window.__cspViolations") == []
    assert page.console_errors == []


@pytest.mark.parametrize(
    ("model", "label"),
    [
        (
            {"provider": "local", "name": "SmolLM2-135M-Instruct"},
            "AI echo · written by SmolLM2-135M-Instruct (small offline model)",
        ),
        ({"provider": "openai", "name": "llama3.2"}, "AI echo · written by llama3.2"),
        ({"provider": "echo", "name": "honest answer"}, "AI echo · Echo's honest answer"),
        (None, "AI echo"),
    ],
    ids=["local", "openai", "echo", "none"],
)
def test_the_label_words_each_kind_of_model(page: Page, reply_server: str, model: dict | None, label: str) -> None:
    """How the page words each `model` a stored reply can carry (the bundled offline model cannot run here, so
    the conversation's listing is given the model in the browser, on a message the server really keeps)."""
    open_page(page, reply_server)
    echo_id = make_echo(page, reply_server, "Grandma Rose", voice=False)
    added = page.request.post(
        f"{reply_server}/api/conversation/{echo_id}",
        data={"user_id": user_id_of(page), "role": "assistant", "content": "Hello, pet."},
    )
    assert added.ok, added.text()

    def with_model(route) -> None:
        response = route.fetch()
        body = response.json()
        for message in body["messages"]:
            message.pop("model", None)
            if model is not None:
                message["model"] = model
        route.fulfill(response=response, json=body)

    page.route(re.compile(rf"/api/conversation/{echo_id}(\?.*)?$"), with_model)
    open_page(page, reply_server, f"/#echo={echo_id}")
    message = page.locator("#conversation-list li")
    expect(message).to_have_count(1)
    expect(message.locator(".ai-label")).to_have_text(label)
    expect(message.locator(".message-head")).to_contain_text(f"Grandma Rose {label}")
    assert page.console_errors == []


def test_memories_add_edit_delete_survive_a_reload(page: Page, reply_server: str, fake_llm: FakeLLM) -> None:
    """At phone width, in dark mode, with confirmations; the memories reach the language model."""
    page.emulate_media(color_scheme="dark")
    page.set_viewport_size({"width": 360, "height": 740})
    open_page(page, reply_server)
    echo_id = make_echo(page, reply_server, "Grandma Rose", voice=False)
    section = page.locator("#memories-section")
    expect(section.get_by_role("heading")).to_have_text("What Grandma Rose remembers")
    expect(page.locator("#memories-empty")).to_be_visible()
    items = page.locator("#memories-list li")
    text = section.get_by_label("Add a memory")
    message = page.locator("#memories-message")

    # Empty: said next to the form, focus on the box.
    section.get_by_role("button", name="Add memory").click()
    expect(message).to_have_text("Write the memory first.")
    expect(text).to_be_focused()

    # Add two: a character count follows the typing; the newest is listed first.
    text.fill("She grew prize roses by the blue door.")
    expect(page.locator("#memory-count")).to_have_text("38 / 1000 characters")
    assert text.get_attribute("maxlength") == "1000"
    section.get_by_role("button", name="Add memory").click()
    expect(items).to_have_count(1)
    expect(message).to_have_text("Grandma Rose will remember that.")
    expect(text).to_have_value("")
    expect(page.locator("#memory-count")).to_have_text("0 / 1000 characters")
    text.fill("She called everyone 'pet' and hummed while baking.")
    text.press("Control+Enter")
    expect(items).to_have_count(2)
    expect(items.nth(0)).to_contain_text("hummed while baking")
    expect(items.nth(1)).to_contain_text("prize roses")

    # Edit in place: Escape cancels, Save keeps the change.
    items.nth(1).get_by_role("button", name=re.compile("^Edit memory: She grew prize roses")).click()
    editor = items.nth(1).get_by_label("Change this memory")
    expect(editor).to_be_focused()
    editor.press("Escape")
    expect(items.nth(1).get_by_role("button", name=re.compile("^Edit memory"))).to_be_focused()
    items.nth(1).get_by_role("button", name=re.compile("^Edit memory")).click()
    editor.fill("")
    items.nth(1).get_by_role("button", name="Save").click()
    expect(items.nth(1).locator(".form-message")).to_have_text("Write the memory, or delete it.")
    editor.fill("She grew red roses by the blue door, and won a prize for them in 1987.")
    items.nth(1).get_by_role("button", name="Save").click()
    expect(items.nth(1)).to_contain_text("won a prize for them in 1987")
    expect(items.nth(1)).to_contain_text("changed")
    expect(items.nth(1).get_by_role("button", name=re.compile("^Edit memory"))).to_be_focused()

    # Nothing sticks out at phone width; every control has a label.
    layout = page.evaluate(NO_HORIZONTAL_OVERFLOW)
    assert layout["scrollWidth"] <= layout["width"] and layout["wide"] == [], layout
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll("input, select, textarea")]
             .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute("aria-label"))
             .map((el) => el.id || el.name)"""
    )
    assert unlabelled == [], unlabelled

    # They survive a reload, newest first, and the echo draws on them when it replies.
    reload(page)
    expect(items).to_have_count(2)
    expect(items.nth(0)).to_contain_text("hummed while baking")
    expect(items.nth(1)).to_contain_text("won a prize for them in 1987")
    fake_llm.script = Script(text="Oh, my red roses! Red as anything, pet.")
    page.get_by_label("Write to Grandma Rose").fill("Do you remember your roses?")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#conversation-list li")).to_have_count(2, timeout=15000)
    prompt = json.dumps(fake_llm.requests[-1]["messages"])
    assert "won a prize for them in 1987" in prompt, prompt

    # Delete: dismissing the confirmation keeps it; accepting deletes it, for good.
    questions: list[str] = []

    def answer(dialog, accept: bool) -> None:
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    delete = items.nth(0).get_by_role("button", name=re.compile("^Delete memory: She called everyone"))
    page.once("dialog", lambda d: answer(d, False))
    delete.click()
    expect(items).to_have_count(2)
    page.once("dialog", lambda d: answer(d, True))
    delete.click()
    expect(items).to_have_count(1)
    expect(message).to_have_text("Memory deleted.")
    assert len(questions) == 2 and "Grandma Rose will no longer draw on it" in questions[0], questions
    reload(page)
    expect(items).to_have_count(1)
    expect(items.first).to_contain_text("won a prize for them in 1987")
    listed = page.request.get(f"{reply_server}/api/echo/{echo_id}/memories?user_id={user_id_of(page)}")
    assert [m["text"] for m in listed.json()["memories"]] == [
        "She grew red roses by the blue door, and won a prize for them in 1987."
    ]
    assert page.console_errors == []


def test_screenshots_of_a_conversation_for_the_readme(page: Page, reply_server: str, fake_llm: FakeLLM) -> None:
    """The README's pictures of the page, made the same way each time: a conversation with a reply, at desktop
    size (docs/screenshots/web-conversation.png) and on a phone (docs/screenshots/web-phone.png)."""
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, "Anna")
    open_page(page, reply_server)
    echo_id = make_echo(page, reply_server, "Grandma Rose")
    user_id = user_id_of(page)
    for text in ["She grew prize roses by the blue door.", "She called everyone 'pet'."]:
        added = page.request.post(
            f"{reply_server}/api/echo/{echo_id}/memories", data={"user_id": user_id, "text": text}
        )
        assert added.ok, added.text()
    make_echo(page, reply_server, "Grandpa Joe", voice=False)
    open_page(page, reply_server, f"/#echo={echo_id}")
    fake_llm.script = Script(text=STORY)
    page.get_by_label("Write to Grandma Rose").fill("Hi Grandma, how is the garden?")
    page.get_by_role("button", name="Send").click()
    messages = page.locator("#conversation-list li")
    expect(messages).to_have_count(2, timeout=20000)
    expect(messages.nth(1)).to_contain_text("Come round on Sunday")
    expect(page.locator("#memories-list li")).to_have_count(2)
    page.locator("#conversation-audio").evaluate("(audio) => audio.pause()")
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.evaluate("window.scrollTo(0, 0)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "web-conversation.png"))
    page.screenshot(path=str(ARTIFACTS / "web-conversation-reply-desktop.png"), full_page=True)

    page.set_viewport_size({"width": 390, "height": 844})
    open_page(page, reply_server, "/#echos")
    page.get_by_role("link", name="Open conversation with Grandma Rose").click()
    expect(page.locator("#conversation-title")).to_be_focused()
    expect(messages).to_have_count(2)
    expect(page.locator("#echos-section")).to_be_hidden()
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.screenshot(path=str(SCREENSHOTS / "web-phone.png"))
    page.screenshot(path=str(ARTIFACTS / "web-conversation-reply-phone.png"))
    for picture in ["web-conversation.png", "web-phone.png"]:
        assert (SCREENSHOTS / picture).stat().st_size > 10000, picture
    assert page.console_errors == []
