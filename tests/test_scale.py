"""Streaming, the audio cache, the Fish.Audio concurrency cap and upstream faults, against a fake Fish.Audio
served on a real loopback socket (so timeouts and dropped connections are real)."""

from __future__ import annotations

import threading

import mongomock
import pytest

from backend.api_server import create_app
from backend.providers.fish import client as fish_client
from tests.fake_fish import Reply, mp3_like
from tests.helpers import background_syntheses, closed_port, fetch, files_under, join_all, upload, wait_until


@pytest.fixture
def make_live_app(fake, data_dir, monkeypatch):
    monkeypatch.setattr(fish_client, "_sleep", lambda seconds: None)

    def factory(**overrides):
        config = {
            "DATA_DIR": str(data_dir),
            "VOICE_PROVIDER": "fish",
            "FISH_AUDIO_API_KEY": "fake-key-for-tests-000",
            "FISH_AUDIO_API_URL": fake.url,
            "FISH_AUDIO_TIMEOUT": 1.0,
            "FISH_AUDIO_CONNECT_TIMEOUT": 1.0,
            "FISH_AUDIO_MAX_RETRIES": 1,
            "SYNTHESIZE_RATE_LIMIT": "10000 per minute",
            "LOG_LEVEL": "WARNING",
        }
        config.update(overrides)
        return create_app(config, environ={}, db_client=mongomock.MongoClient(tz_aware=True))

    return factory


@pytest.fixture
def client(make_live_app):
    return make_live_app().test_client()


def no_leftovers(data_dir) -> bool:
    return files_under(data_dir / "tmp") == [] and files_under(data_dir / "audio") == []


# -- streaming ------------------------------------------------------------------------------------


def test_stream_true_returns_the_audio_itself_and_stores_it(client, fake):
    body = mp3_like(40000)
    fake.plan["POST /v1/tts"] = Reply(body=body, content_type="audio/mpeg", chunks=8, chunk_delay=0.01)
    response = client.post("/api/synthesize", json={"text": "Hello there.", "stream": True}, buffered=False)
    assert response.status_code == 200 and response.mimetype == "audio/mpeg"
    assert response.headers["X-Cache"] == "miss"
    received = list(response.response)
    response.close()
    assert b"".join(received) == body and len(received) > 1  # passed on chunk by chunk
    stored, data = fetch(client, response.headers["X-Audio-Url"])
    assert stored.status_code == 200 and data == body


def test_accept_audio_asks_for_a_stream(client, fake):
    response = client.post("/api/synthesize", json={"text": "Hi"}, headers={"Accept": "audio/mpeg"})
    assert response.mimetype == "audio/mpeg" and response.data.startswith(b"ID3")
    assert client.post("/api/synthesize", json={"text": "Hi", "stream": "yes"}).status_code == 400


def test_stream_errors_before_the_first_byte_are_json(client, fake, data_dir):
    fake.plan["POST /v1/tts"] = Reply(status=402, body=b'{"status": 402, "message": "no credit"}')
    response = client.post("/api/synthesize", json={"text": "Hi", "stream": True})
    assert response.status_code == 502 and response.json["error"] == "voice_provider_insufficient_credit"
    assert no_leftovers(data_dir)


def test_a_stream_cut_in_the_middle_leaves_no_file(client, fake, data_dir):
    fake.plan["POST /v1/tts"] = Reply(body=mp3_like(40000), content_type="audio/mpeg", chunks=8, drop_after_chunks=3)
    response = client.post("/api/synthesize", json={"text": "Hi", "stream": True}, buffered=False)
    assert response.status_code == 200
    with pytest.raises(Exception, match="dropped"):
        list(response.response)
    response.close()
    assert no_leftovers(data_dir)


# -- cache ----------------------------------------------------------------------------------------


def test_identical_requests_are_served_from_the_cache(client, fake):
    first = client.post("/api/synthesize", json={"text": "Same words.", "format": "mp3"})
    second = client.post("/api/synthesize", json={"text": "Same words.", "format": "mp3"})
    other = client.post("/api/synthesize", json={"text": "Other words.", "format": "mp3"})
    assert first.json["cached"] is False and second.json["cached"] is True and other.json["cached"] is False
    assert len(fake.calls("POST", "/v1/tts")) == 2
    assert first.json["audio_url"] != second.json["audio_url"]  # each answer has its own file and link
    assert fetch(client, first.json["audio_url"])[1] == fetch(client, second.json["audio_url"])[1]


def test_the_cache_can_be_switched_off(make_live_app, fake):
    client = make_live_app(CACHE_MAX_MB=0).test_client()
    for _ in range(2):
        assert client.post("/api/synthesize", json={"text": "Same"}).json["cached"] is False
    assert len(fake.calls("POST", "/v1/tts")) == 2


def test_a_deleted_voice_takes_its_cache_entries(client, fake, wav_bytes, data_dir):
    user = client.post("/api/users/local|c").json["user"]
    model_id = upload(client, wav_bytes, user_id=user).json["model_id"]
    request = {"text": "Hello", "reference_id": model_id, "user_id": user}
    first = client.post("/api/synthesize", json=request).json
    cached = client.post("/api/synthesize", json=request).json
    assert cached["cached"] is True and len(files_under(data_dir / "cache")) == 1
    assert client.delete(f"/api/voice-models/{model_id}?user_id={user}").status_code == 200
    assert files_under(data_dir / "cache") == []
    assert client.get(first["audio_url"]).status_code == 404 and client.get(cached["audio_url"]).status_code == 404
    assert files_under(data_dir / "audio") == []  # its generated audio went too


# -- concurrency ----------------------------------------------------------------------------------


def test_upstream_concurrency_is_capped_and_queued(make_live_app, fake):
    client = make_live_app(FISH_AUDIO_MAX_CONCURRENCY=2, FISH_AUDIO_TIMEOUT=5, CACHE_MAX_MB=0).test_client()
    fake.plan["POST /v1/tts"] = Reply(body=mp3_like(), content_type="audio/mpeg", first_byte_delay=0.5)
    statuses = []

    def call(index):
        app_client = client.application.test_client()
        statuses.append(app_client.post("/api/synthesize", json={"text": f"text {index}"}).status_code)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 6  # queued, not refused
    assert fake.max_in_flight == 2


def test_a_full_queue_answers_503(make_live_app, fake):
    client = make_live_app(
        FISH_AUDIO_MAX_CONCURRENCY=1, FISH_AUDIO_QUEUE_TIMEOUT=0.1, FISH_AUDIO_TIMEOUT=5, CACHE_MAX_MB=0
    ).test_client()
    fake.plan["POST /v1/tts"] = Reply(body=mp3_like(), content_type="audio/mpeg", first_byte_delay=1.0)
    results = []
    first = threading.Thread(
        target=lambda: results.append(client.application.test_client().post("/api/synthesize", json={"text": "a"}))
    )
    first.start()
    wait_until(lambda: fake.in_flight, "the first call holds the only slot")
    late = client.post("/api/synthesize", json={"text": "b"})
    first.join()
    assert results[0].status_code == 200
    assert late.status_code == 503 and late.json["error"] == "voice_provider_busy"


# -- upstream faults ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "status", "code"),
    [
        (Reply(status=401, body=b"Unauthorized", content_type="text/plain"), 502, "voice_provider_auth_failed"),
        (Reply(status=402, body=b'{"status":402,"message":"x"}'), 502, "voice_provider_insufficient_credit"),
        (Reply(status=429, body=b"{}", headers={"Retry-After": "1"}), 503, "voice_provider_busy"),
        (Reply(status=500, body=b"{}"), 502, "voice_provider_error"),
        (Reply(status=503, body=b"{}"), 503, "voice_provider_unavailable"),
        (Reply(hang=1.6), 504, "voice_provider_timeout"),
        (Reply(body=mp3_like(), content_type="audio/mpeg", chunks=6, drop_after_chunks=2), 502, "voice_provider_error"),
        (Reply(body=mp3_like(), content_type="audio/mpeg", chunks=4, chunk_delay=1.5), 504, "voice_provider_timeout"),
    ],
    ids=["401", "402", "429", "500", "503", "read-timeout", "dropped-mid-audio", "stalled-mid-audio"],
)
def test_upstream_faults_give_clear_errors_and_leave_nothing(client, fake, data_dir, reply, status, code):
    fake.plan["POST /v1/tts"] = reply
    response = client.post("/api/synthesize", json={"text": "Hi"})
    assert response.status_code == status, response.json
    assert response.json["error"] == code
    assert no_leftovers(data_dir)
    retried = reply.status in (429, 500, 503) or reply.hang
    assert len(fake.calls("POST", "/v1/tts")) == (2 if retried else 1)


def test_retry_after_then_success(client, fake):
    fake.plan["POST /v1/tts"] = [
        Reply(status=429, body=b"{}", headers={"Retry-After": "1"}),
        Reply(body=mp3_like(), content_type="audio/mpeg"),
    ]
    assert client.post("/api/synthesize", json={"text": "Hi"}).status_code == 200
    assert len(fake.calls("POST", "/v1/tts")) == 2


def test_connection_refused_is_503(make_live_app, data_dir):
    client = make_live_app(FISH_AUDIO_API_URL=f"http://127.0.0.1:{closed_port()}").test_client()
    response = client.post("/api/synthesize", json={"text": "Hi"})
    assert response.status_code == 503 and response.json["error"] == "voice_provider_unavailable"
    assert no_leftovers(data_dir)


@pytest.fixture
def unsavable(make_live_app):
    """An app whose voice records cannot be saved, a client and a user: (app, client, user id)."""
    app = make_live_app()
    client = app.test_client()
    user = client.post("/api/users/local|f").json["user"]

    def broken(record):
        raise RuntimeError("write failed")

    app.extensions["echo"].db.save_voice_model = broken
    return app, client, user


def test_a_clone_whose_record_cannot_be_saved_is_deleted_upstream(unsavable, fake, wav_bytes, data_dir):
    app, client, user = unsavable
    assert upload(client, wav_bytes, user_id=user).status_code == 500
    created = fake.calls("POST", "/model")
    deleted = fake.calls("DELETE", "/model/")
    assert len(created) == 1 and len(deleted) == 1
    assert files_under(data_dir / "references") == [] and files_under(data_dir / "tmp") == []


def test_a_deleted_account_takes_its_default_voice_cache_entries(client, data_dir):
    user = client.post("/api/users/local|d").json["user"]
    other = client.post("/api/users/local|e").json["user"]
    for who in (user, other):
        client.post("/api/synthesize", json={"text": "Private words", "user_id": who})
    assert len(files_under(data_dir / "cache")) == 2  # one entry per user: nobody is served another's request
    assert client.delete(f"/api/users/local%7Cd?user_id={user}").status_code == 200
    assert len(files_under(data_dir / "cache")) == 1


def test_progressive_answers_early_and_the_link_streams_while_it_grows(client, fake, data_dir, monkeypatch):
    body = mp3_like(60000)
    rest = threading.Event()  # upstream sends its first chunk, then holds the rest back until this is set
    fake.plan["POST /v1/tts"] = Reply(body=body, content_type="audio/mpeg", chunks=10, hold=rest)
    writers = background_syntheses(client.application, monkeypatch)
    response = client.post("/api/synthesize", json={"text": "Slowly now.", "progressive": True})
    assert response.status_code == 200 and response.json["complete"] is False  # answered before the audio is all in
    follower = client.get(response.json["audio_url"], buffered=False)
    assert follower.status_code == 200 and follower.mimetype == "audio/mpeg"
    pieces = iter(follower.response)
    first = next(pieces)  # the link streams what there is, while the rest is still held upstream
    assert first and body.startswith(first) and len(first) < len(body)
    rest.set()
    received = first + b"".join(pieces)
    follower.close()
    assert received == body
    join_all(writers)  # the background writer has stored the finished file
    stored, data = fetch(client, response.json["audio_url"])  # afterwards: the finished file, with ranges
    assert data == body and stored.headers.get("Accept-Ranges") == "bytes"


def test_progressive_failure_part_way_keeps_nothing(client, fake, data_dir, monkeypatch):
    fake.plan["POST /v1/tts"] = Reply(
        body=mp3_like(60000), content_type="audio/mpeg", chunks=10, chunk_delay=0.05, drop_after_chunks=4
    )
    writers = background_syntheses(client.application, monkeypatch)
    response = client.post("/api/synthesize", json={"text": "Cut off.", "progressive": True})
    assert response.status_code == 200
    follower = client.get(response.json["audio_url"], buffered=False)
    with pytest.raises(OSError, match="part-way"):
        b"".join(follower.response)
    follower.close()
    join_all(writers)  # the background writer has given up and cleaned up after itself
    assert client.get(response.json["audio_url"]).status_code == 404
    assert no_leftovers(data_dir)


def test_voices_without_a_record_bypass_the_cache(client, fake):
    """A voice the database does not know (deleted elsewhere, or a public Fish.Audio voice) is never cached."""
    request = {"text": "Same words", "reference_id": "0123456789abcdef0123456789abcdef"}
    first = client.post("/api/synthesize", json=request).json
    second = client.post("/api/synthesize", json=request).json
    assert first["cached"] is False and second["cached"] is False
    assert len(fake.calls("POST", "/v1/tts")) == 2


def test_a_clone_that_cannot_be_deleted_upstream_is_kept_for_retry(unsavable, fake, wav_bytes):
    app, client, user = unsavable
    fake.plan["DELETE /model/*"] = Reply(status=503, body=b"{}")
    assert upload(client, wav_bytes, user_id=user).status_code == 500
    voices = app.extensions["echo"].voices
    (pending,) = voices._pending_deletions().items()
    assert pending["provider"] == "fish"
    assert voices.retry_pending_deletions() == 1  # still down: kept
    fake.plan["DELETE /model/*"] = Reply(body=b"{}")
    assert voices.retry_pending_deletions() == 0
    assert fake.calls("DELETE", f"/model/{pending['model_id']}")
    assert voices._pending_deletions().items() == []
