"""FishSpeechClient against a fake fish-speech server on a real socket: the exact request, the key, and every
fault mapped to the same typed errors as Fish.Audio's (retried where Fish.Audio's are, never after audio began)."""

from __future__ import annotations

import base64
import threading

import pytest

from backend.errors import (
    ProviderAuthError,
    ProviderBusy,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
)
from backend.providers.fish_speech import FishSpeechClient, ReferenceAudio
from tests.fake_fish import Reply
from tests.fake_fish_speech import FakeFishSpeech, error_body
from tests.helpers import closed_port

KEY = "fs-key-not-a-secret-0123456789"


def test_tts_streams_wav_with_the_reference_inline(client, server):
    reference = ReferenceAudio(audio=b"RIFF" + bytes(4000), text="Hello, dear.")
    chunks = list(client.tts(text="Good morning.", references=[reference]))
    assert len(chunks) >= 2 and all(chunks)  # as the server sends them, segment by segment
    (heard,) = server.tts_calls
    assert heard.headers["Content-Type"] == "application/json"
    assert "Authorization" not in heard.headers  # no key configured: none sent
    assert heard.json == {
        "text": "Good morning.",
        "format": "wav",  # the only format fish-speech streams
        "streaming": True,
        "references": [{"audio": base64.b64encode(reference.audio).decode(), "text": "Hello, dear."}],
        "use_memory_cache": "on",
        "normalize": True,
    }
    assert heard.references == [{"audio": reference.audio, "text": "Hello, dear."}]  # decoded as the server does


def test_nothing_is_asked_before_the_audio_is_read(client, server):
    stream = client.tts(text="Hi", references=[])
    assert server.requests == []
    assert next(stream) and len(server.tts_calls) == 1
    stream.close()


def test_the_key_is_sent_as_a_bearer_token_to_every_route(make_client):
    server = FakeFishSpeech(api_key=KEY)
    try:
        client = make_client(base_url=server.url, api_key=KEY)
        assert client.health() == {"status": "ok"}
        assert b"".join(client.tts(text="Hi", references=[]))
        assert {r.headers["Authorization"] for r in server.requests} == {f"Bearer {KEY}"}
        wrong = make_client(base_url=server.url, api_key="not-the-key")
        with pytest.raises(ProviderAuthError, match="FISH_SPEECH_API_KEY") as raised:
            wrong.health()
        assert raised.value.upstream_status == 401
        with pytest.raises(ProviderAuthError):
            list(make_client(base_url=server.url).tts(text="Hi", references=[]))  # no key at all
    finally:
        server.close()


def test_health_says_ok_only_for_fish_speech(client, server):
    assert client.health() == {"status": "ok"}
    server.plan["GET /v1/health"] = Reply(body=b"<html>not here</html>", content_type="text/html")
    with pytest.raises(ProviderError, match="not JSON"):
        client.health()
    server.plan["GET /v1/health"] = Reply(body=b'{"status": "loading"}')
    with pytest.raises(ProviderUnavailable, match="not ready"):
        client.health()


# -- faults: (planned reply for POST /v1/tts, error raised, requests made, backoff sleeps, words in the message)

FAULTS = {
    "500 retried, then reported": (
        Reply(status=500, body=error_body(500, "Failed to generate speech")),
        ProviderError,
        3,
        2,
        "Failed to generate speech",
    ),
    "502 from a proxy": (Reply(status=502, body=b"Bad Gateway", content_type="text/plain"), ProviderError, 3, 2, "502"),
    "503 overloaded": (Reply(status=503, body=error_body(503, "busy")), ProviderUnavailable, 3, 2, "overloaded"),
    "429 busy": (
        Reply(status=429, body=error_body(429, "slow down"), headers={"Retry-After": "3"}),
        ProviderBusy,
        3,
        2,
        "busy",
    ),
    "400 text too long": (
        Reply(status=400, body=error_body(400, "Text is too long, max length is 100")),
        ProviderError,
        1,
        0,
        "Text is too long",
    ),
    "401 wrong key": (Reply(status=401, body=error_body(401, "Invalid token")), ProviderAuthError, 1, 0, "--api-key"),
    "404 not fish-speech": (
        Reply(status=404, body=error_body(404, "Not Found")),
        ProviderError,
        1,
        0,
        "tools/api_server",
    ),
    "415 body refused": (
        Reply(status=415, body=error_body(415, "Unsupported Media Type")),
        ProviderError,
        1,
        0,
        "rejected",
    ),
    "422 invalid request": (
        Reply(status=422, body=b'[{"loc": ["text"], "msg": "field required", "type": "missing"}]'),
        ProviderError,
        1,
        0,
        "field required",
    ),
    "200 JSON, not audio": (Reply(body=b'{"message": "queued"}'), ProviderError, 1, 0, "not audio"),
    "200 HTML, not audio": (
        Reply(body=b"<html>login</html>", content_type="text/html"),
        ProviderError,
        1,
        0,
        "not audio",
    ),
    "first byte too late": (Reply(hang=1.5, body=b"x", content_type="audio/wav"), ProviderTimeout, 1, 0, "in time"),
}


@pytest.mark.parametrize("fault", list(FAULTS), ids=list(FAULTS))
def test_faults_map_to_typed_provider_errors(make_client, server, slept, fault):
    reply, error, requests_made, sleeps, words = FAULTS[fault]
    server.plan["POST /v1/tts"] = reply
    client = make_client(timeout=0.5)
    with pytest.raises(error) as raised:
        list(client.tts(text="Hi", references=[]))
    assert words in raised.value.message
    assert len(server.tts_calls) == requests_made and len(slept) == sleeps
    if fault == "429 busy":
        assert slept == [3.0, 3.0]  # Retry-After honoured
    if reply.status >= 400:
        assert raised.value.upstream_status == reply.status


def test_a_refused_connection_is_retried_then_unavailable(make_client, slept):
    client = make_client(base_url=f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(ProviderUnavailable, match="cannot be reached"):
        list(client.tts(text="Hi", references=[]))
    assert len(slept) == 2
    with pytest.raises(ProviderUnavailable):
        client.health()  # the quick check for /health: asked once
    assert len(slept) == 2
    with pytest.raises(ProviderUnavailable):
        client.health(patient=True)  # before cloning: asked again, as speech is
    assert len(slept) == 4


def test_a_server_error_then_audio_is_retried_before_the_first_byte(client, server, slept):
    server.plan["POST /v1/tts"] = [Reply(status=500, body=error_body(500, "oops")), None]
    assert b"".join(client.tts(text="Hi", references=[]))
    assert len(server.tts_calls) == 2 and len(slept) == 1


@pytest.mark.parametrize(
    ("reply", "error", "words"),
    [
        (Reply(body=bytes(40000), content_type="audio/wav", chunks=8, drop_after_chunks=3), ProviderError, "dropped"),
        (Reply(body=bytes(40000), content_type="audio/wav", chunks=4, chunk_delay=1.5), ProviderTimeout, "part-way"),
    ],
    ids=["connection dropped", "stalled"],
)
def test_audio_cut_off_part_way_is_an_error_and_never_retried(make_client, server, slept, reply, error, words):
    server.plan["POST /v1/tts"] = reply
    stream = make_client(timeout=0.5).tts(text="Hi", references=[])
    assert next(stream)  # audio had begun
    with pytest.raises(error, match=words):
        list(stream)
    assert len(server.tts_calls) == 1 and slept == []


def test_the_key_never_appears_in_errors(make_client, server):
    server.plan["POST /v1/tts"] = Reply(status=400, body=error_body(400, f"bad token {KEY}"))
    with pytest.raises(ProviderError) as raised:
        list(make_client(api_key=KEY).tts(text="Hi", references=[]))
    assert KEY not in raised.value.message and "***" in raised.value.message


def test_the_address_stays_out_of_messages_and_credentials_out_of_logs(make_client, caplog):
    port = closed_port()
    client = make_client(base_url=f"http://user:secret@127.0.0.1:{port}", max_retries=0)
    assert client.server == f"http://127.0.0.1:{port}"
    with pytest.raises(ProviderUnavailable) as raised:
        client.health()
    assert raised.value.message == "The fish-speech server cannot be reached."
    assert f"127.0.0.1:{port}/v1/health failed" in caplog.text and "secret" not in caplog.text


def test_requests_over_the_cap_wait_then_answer_busy(make_client, server):
    server.hold = threading.Event()
    client = make_client(max_concurrency=1, queue_timeout=0.2)
    first = client.tts(text="A long sentence to say.", references=[])
    assert next(first)  # holds the one slot while its audio is still coming
    with pytest.raises(ProviderBusy, match="limit"):
        list(client.tts(text="Hi", references=[]))
    server.hold.set()
    assert b"".join(first)
    assert b"".join(client.tts(text="Hi", references=[]))  # the slot is free again


def test_an_address_is_required():
    with pytest.raises(ValueError):
        FishSpeechClient(base_url="")
