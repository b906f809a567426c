"""POST /api/conversation/<echo_id>/reply: an echo answers in character, spoken in its voice as it is written.

The language model is tests/fake_llm.py on a loopback socket (real streaming, real faults); the voice is the
offline local engine, so the audio is real.
"""

from __future__ import annotations

import json
import logging
import threading

import pytest

from backend.audio import inspect
from tests.fake_llm import FakeLLM, Script
from tests.helpers import closed_port, fetch, local_app, reference_voice, upload, wait_until

PERSONA = "Rose is 84, a retired schoolteacher from Leeds who loves her garden and calls everyone 'love'."


@pytest.fixture
def llm():
    fake = FakeLLM()
    yield fake
    fake.close()


@pytest.fixture
def make(data_dir, llm):
    """An app with the fake model (unless overridden), a user, and that user's echo with a cloned voice."""
    made = []

    def build(voice: bool = True, **config):
        config.setdefault("LLM_BASE_URL", llm.url)
        config.setdefault("LLM_MODEL", llm.model)
        app = local_app(data_dir, **config)
        client = app.test_client()
        user = client.post("/api/users/local%7Crose-family").get_json()["user"]
        model_id = None
        if voice:
            created = upload(client, reference_voice().read_bytes(), name="Rose", user_id=user)
            assert created.status_code == 201, created.get_json()
            model_id = created.get_json()["model_id"]
        body = {"name": "Rose", "persona_prompt": PERSONA, "user_id": user}
        if model_id:
            body["voice_model_id"] = model_id
        echo = client.post("/api/echo", json=body).get_json()["echo"]
        made.append(app)
        return app, client, user, echo

    yield build
    for app in made:
        app.extensions["echo"].close()


def reply(client, echo, user, **body):
    return client.post(f"/api/conversation/{echo['_id']}/reply", json={"user_id": user, **body})


def conversation(client, echo, user) -> list[dict]:
    return client.get(f"/api/conversation/{echo['_id']}?user_id={user}").get_json()["messages"]


def sse(response) -> list[tuple[str, dict]]:
    events = []
    for block in response.get_data(as_text=True).split("\n\n"):
        if not block.strip():
            continue
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def public_audio(data_dir) -> list[str]:
    return sorted(p.name for p in (data_dir / "audio").glob("*")) if (data_dir / "audio").exists() else []


# -- a reply, whole -----------------------------------------------------------------------------------


def test_a_reply_is_stored_spoken_and_made_from_the_persona_and_recent_talk(make, llm, data_dir):
    app, client, user, echo = make()
    llm.script = Script(text="Hello, love. The roses are blooming again. Come and see them soon!")
    first = reply(client, echo, user, content="Hi Grandma, how is the garden?")
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert body["message"]["role"] == "user" and body["message"]["content"] == "Hi Grandma, how is the garden?"
    assert body["reply"]["role"] == "assistant"
    assert body["reply"]["content"] == "Hello, love. The roses are blooming again. Come and see them soon!"
    assert [m["content"] for m in conversation(client, echo, user)] == [
        "Hi Grandma, how is the garden?",
        body["reply"]["content"],
    ]
    sent = llm.requests[-1]
    assert sent["stream"] is True and sent["model"] == llm.model
    system = sent["messages"][0]
    assert system["role"] == "system"
    assert PERSONA in system["content"] and "Stay in character as Rose" in system["content"]
    assert "AI echo" in system["content"]  # honest when sincerely asked
    assert sent["messages"][1:] == [{"role": "user", "content": "Hi Grandma, how is the garden?"}]

    audio, data = fetch(client, body["audio_url"])  # follows the progressive file to its end
    assert audio.status_code == 200 and audio.mimetype == "audio/mpeg"
    path = data_dir / "check.mp3"
    path.write_bytes(data)
    assert inspect(path, max_seconds=60).duration > 2.0  # three sentences of speech, in one file

    llm.script = Script(text="Of course I remember.")
    second = reply(client, echo, user, content="Do you remember the blue door?")
    assert second.status_code == 201
    turns = llm.requests[-1]["messages"][1:]
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]  # the recent conversation, in order
    assert turns[-1]["content"] == "Do you remember the blue door?"


def test_the_model_is_sent_the_memories_most_relevant_first(make, llm):
    app, client, user, echo = make(voice=False)
    memories = [
        "She grew prize roses in the back garden and entered them in the village show.",
        "He served in the navy during the war and never talked about it.",
        "Her Sunday roast always had Yorkshire puddings the size of plates.",
    ]
    for text in memories:
        added = client.post(f"/api/echo/{echo['_id']}/memories", json={"user_id": user, "text": text})
        assert added.status_code == 201
    llm.script = Script(text="Oh, my roses were my pride, love.")
    assert reply(client, echo, user, content="Do you remember your roses in the garden?").status_code == 201
    system = llm.requests[-1]["messages"][0]["content"]
    # All three fit the prompt's budget: the one that matters to this message comes first.
    listed = system.split("most relevant first:\n", 1)[1].splitlines()
    assert listed[0] == f"- {memories[0]}" and len(listed) == 3


def test_replies_stream_as_server_sent_events_and_speech_starts_before_the_reply_ends(make, llm, data_dir):
    app, client, user, echo = make()
    release = threading.Event()
    text = "Hello there, love. I was just thinking of you. Have you eaten today?"
    llm.script = Script(
        text=text, hold=release, hold_at=6
    )  # the first sentence (and the space after it), then it waits
    seen: list[tuple[str, dict]] = []
    audio_bytes: list[int] = []

    def read() -> None:
        response = client.post(
            f"/api/conversation/{echo['_id']}/reply",
            json={"user_id": user, "content": "Hello Grandma"},
            headers={"Accept": "text/event-stream"},
            buffered=False,
        )
        assert response.status_code == 200 and response.mimetype == "text/event-stream"
        buffer = ""
        for chunk in response.response:
            buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
            while "\n\n" in buffer:
                block, buffer = buffer.split("\n\n", 1)
                lines = dict(line.split(": ", 1) for line in block.splitlines())
                seen.append((lines["event"], json.loads(lines["data"])))
                if lines["event"] == "audio":  # speech began while the model is still held
                    assert not release.is_set()
                    follow = client.get(seen[-1][1]["audio_url"], buffered=False)
                    first = next(iter(follow.response))
                    audio_bytes.append(len(first))
                    follow.close()
                    release.set()
        response.close()

    reader = threading.Thread(target=read)
    reader.start()
    reader.join(timeout=120)
    assert not reader.is_alive()
    kinds = [kind for kind, _ in seen]
    assert kinds[0] == "message" and kinds[-1] == "done"
    assert kinds.index("audio") < kinds.index("done")
    assert audio_bytes and audio_bytes[0] > 0  # the first sentence was audible before the rest was written
    assert "".join(payload["text"] for kind, payload in seen if kind == "delta") == text
    done = seen[-1][1]
    assert done["reply"]["content"] == text and done["audio_url"] == seen[kinds.index("audio")][1]["audio_url"]
    wait_until(lambda: len(public_audio(data_dir)) == 1, "the whole reply is stored, once")


def test_a_reply_without_content_answers_the_conversation_as_it_stands(make, llm):
    app, client, user, echo = make(voice=False)
    client.post(f"/api/conversation/{echo['_id']}", json={"role": "user", "content": "Are you there?", "user_id": user})
    llm.script = Script(text="I am here, love.")
    answer = reply(client, echo, user)
    assert answer.status_code == 201
    assert answer.get_json()["reply"]["content"] == "I am here, love."
    assert answer.get_json()["audio_url"] is None  # an echo without a voice writes, and never speaks
    assert llm.requests[-1]["messages"][-1] == {"role": "user", "content": "Are you there?"}
    again = reply(client, echo, user)  # the last message is the echo's own: nothing to reply to
    assert again.status_code == 400 and again.get_json()["reason"] == "nothing_to_reply_to"


def test_asked_sincerely_the_echo_says_it_is_an_ai_echo_whatever_the_model(make, llm):
    app, client, user, echo = make(voice=False)
    llm.script = Script(text="Yes, love, it is really me, your Grandma Rose.")  # what a small model says
    answer = reply(client, echo, user, content="Are you really my grandma?")
    assert answer.status_code == 201
    content = answer.get_json()["reply"]["content"]
    assert "I'm not really Rose" in content and "AI echo" in content
    assert llm.requests == []  # not left to the model


# -- faults: the person's message is kept, nothing half-said is stored --------------------------------


FAULTS = [
    # (script, LLM_TIMEOUT, status, code, words in the message)
    (Script(status=401, error_message="Incorrect API key provided"), 5, 502, "language_model_error", "LLM_API_KEY"),
    (Script(status=429, error_message="Slow down"), 5, 503, "language_model_busy", "rate limiting"),
    (Script(status=500, error_message="CUDA out of memory"), 5, 502, "language_model_error", "CUDA out of memory"),
    (Script(status=404, error_message="model 'x' not found"), 5, 502, "language_model_error", "LLM_MODEL"),
    (Script(hang=3), 1, 504, "language_model_timeout", "in time"),
    (Script(first_token_delay=3), 1, 504, "language_model_timeout", "in time"),
    (Script(text="Hello love. I was", drop_after_tokens=4), 5, 502, "language_model_error", "before the reply"),
    (Script(text="Hello love. I was", stop_without_finish=True), 5, 502, "language_model_error", "before the reply"),
]


@pytest.mark.parametrize("script, timeout, status, code, words", FAULTS)
def test_model_faults_give_clear_errors_keep_the_message_and_store_no_reply(
    make, llm, data_dir, script, timeout, status, code, words
):
    app, client, user, echo = make(LLM_TIMEOUT=str(timeout))
    llm.script = script
    answer = reply(client, echo, user, content="Hello?")
    assert answer.status_code == status, answer.get_json()
    body = answer.get_json()
    assert body["success"] is False and body["error"] == code and words in body["message"]
    assert [m["content"] for m in conversation(client, echo, user)] == ["Hello?"]  # kept; no half reply
    wait_until(lambda: not list((data_dir / "tmp").glob("*")), "no audio being written is left")
    assert public_audio(data_dir) == []


def test_a_model_that_cannot_be_reached_is_503(make):
    app, client, user, echo = make(LLM_BASE_URL=f"http://127.0.0.1:{closed_port()}/v1")
    answer = reply(client, echo, user, content="Hello?")
    assert answer.status_code == 503 and answer.get_json()["error"] == "language_model_unavailable"
    assert [m["content"] for m in conversation(client, echo, user)] == ["Hello?"]


def test_a_failure_part_way_through_a_stream_is_an_error_event(make, llm, data_dir):
    app, client, user, echo = make()
    llm.script = Script(text="Hello love. The garden is lovely this year and", drop_after_tokens=7)
    response = client.post(
        f"/api/conversation/{echo['_id']}/reply",
        json={"user_id": user, "content": "Hi"},
        headers={"Accept": "text/event-stream"},
    )
    events = sse(response)
    assert events[0][0] == "message" and events[-1][0] == "error"
    assert events[-1][1]["error"] == "language_model_error" and "done" not in [kind for kind, _ in events]
    assert [m["content"] for m in conversation(client, echo, user)] == ["Hi"]
    wait_until(lambda: not list((data_dir / "tmp").glob("*")), "no audio being written is left")
    assert public_audio(data_dir) == []  # the first sentence was being spoken: dropped, never served


def test_a_client_that_goes_away_stops_the_generation(make, llm, data_dir):
    app, client, user, echo = make()
    llm.script = Script(text="word " * 400, tokens_per_second=50)
    response = client.post(
        f"/api/conversation/{echo['_id']}/reply",
        json={"user_id": user, "content": "Tell me a long story"},
        headers={"Accept": "text/event-stream"},
        buffered=False,
    )
    stream = iter(response.response)
    assert b"event: message" in next(stream)
    next(stream)  # a first piece of the reply
    response.close()  # the person closed the page
    assert llm.disconnected.wait(10)  # Echo hung up on the model
    assert [m["content"] for m in conversation(client, echo, user)] == ["Tell me a long story"]
    wait_until(lambda: not list((data_dir / "tmp").glob("*")), "no audio being written is left")
    assert public_audio(data_dir) == []


def test_a_client_that_goes_away_before_the_first_event_still_stops_the_generation(make, llm):
    app, client, user, echo = make(voice=False)
    llm.script = Script(text="word " * 400, tokens_per_second=50)
    response = client.post(
        f"/api/conversation/{echo['_id']}/reply",
        json={"user_id": user, "content": "Tell me a long story"},
        headers={"Accept": "text/event-stream"},
        buffered=False,
    )
    response.close()  # gone before reading anything
    assert llm.disconnected.wait(10)
    assert [m["content"] for m in conversation(client, echo, user)] == ["Tell me a long story"]


# -- who may ask, and how much ------------------------------------------------------------------------


def test_bad_requests_and_other_users_echos_change_nothing(make, llm):
    app, client, user, echo = make(voice=False)
    other = client.post("/api/users/local%7Cstranger").get_json()["user"]
    assert reply(client, echo, other, content="Hi").status_code == 404
    too_long = reply(client, echo, user, content="x" * 10001)
    assert too_long.status_code == 400
    for blank in ("", "   ", None, 5, ["hi"], {"text": "hi"}):
        assert reply(client, echo, user, content=blank).status_code == 400, blank
    assert reply(client, echo, user, content="Hi", speak="yes").status_code == 400
    assert reply(client, echo, user, content="Hi", format="aiff").status_code == 400
    spoken = reply(client, echo, user, content="Hi", speak=True)  # no voice: never a stand-in
    assert spoken.status_code == 409 and spoken.get_json()["error"] == "no_voice"
    assert conversation(client, echo, user) == [] and llm.requests == []


def test_an_echo_whose_voice_was_deleted_says_so_instead_of_speaking(make, llm):
    app, client, user, echo = make()
    client.delete(f"/api/voice-models/{echo['voice_model_id']}?user_id={user}")
    spoken = reply(client, echo, user, content="Hi", speak=True)
    assert spoken.status_code == 409 and spoken.get_json()["error"] == "voice_deleted"
    written = reply(client, echo, user, content="Hi")  # by default it writes, without a voice
    assert written.status_code == 201 and written.get_json()["audio_url"] is None


def test_replies_have_their_own_rate_limit(make, llm):
    app, client, user, echo = make(voice=False, REPLY_RATE_LIMIT="2 per minute")
    assert [reply(client, echo, user, content="Hi").status_code for _ in range(2)] == [201, 201]
    limited = reply(client, echo, user, content="Hi")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0


def test_replies_off_say_how_to_turn_them_on(make, llm):
    app, client, user, echo = make(voice=False, LLM_PROVIDER="none", LLM_BASE_URL="")
    answer = reply(client, echo, user, content="Hi")
    assert answer.status_code == 409 and answer.get_json()["error"] == "replies_off"
    assert "LLM_BASE_URL" in answer.get_json()["message"]
    assert conversation(client, echo, user) == []  # nothing kept: the request was refused


def test_the_model_key_never_reaches_an_answer_or_a_log(make, llm, caplog):
    key = "sk-test-0123456789abcdefSECRET"
    app, client, user, echo = make(voice=False, LLM_API_KEY=key)
    llm.script = Script(status=500, error_message=f"upstream rejected key {key} for this model")
    caplog.set_level(logging.DEBUG)
    answer = reply(client, echo, user, content="Hi")
    assert answer.status_code == 502
    assert key not in answer.get_data(as_text=True)
    assert key not in caplog.text
    sent = {name.lower(): value for name, value in llm.headers[-1].items()}
    assert sent["authorization"] == f"Bearer {key}"  # it was sent where it belongs


def test_the_bundled_model_replies_offline_and_the_echo_speaks_it(make, data_dir):
    """No LLM_BASE_URL: SmolLM2-135M-Instruct in-process, the local voice engine: no network at all."""
    app, client, user, echo = make(LLM_BASE_URL="", LLM_MODEL="")
    answer = reply(client, echo, user, content="Hi Grandma, how is the garden?")
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert body["reply"]["content"].strip()
    audio, data = fetch(client, body["audio_url"])
    assert audio.status_code == 200 and len(data) > 1000
    model = client.get("/health").get_json()["components"]["language_model"]
    assert model["provider"] == "local" and model["offline"] is True and "LLM_BASE_URL" in model["description"]
