"""POST /api/upload-reference, POST /api/synthesize and GET /api/audio/<name>: against a mocked Fish.Audio, and on
the offline local engine (the whole voice flow, and its answer when busy)."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
import requests

from backend import audio
from tests.helpers import (
    CONTAINERS,
    FISH_KEY,
    FISH_MODEL_ID,
    FISH_URL,
    MP3_BYTES,
    audio_file,
    fetch,
    files_under,
    fish_model,
    local_app,
    multipart_fields,
    reference_voice,
    upload,
)


def model_calls(fish):
    return [c for c in fish.calls if c.request.url == f"{FISH_URL}/model"]


# -- upload ---------------------------------------------------------------------------------------


def test_upload_creates_private_model_and_saves_record(client, fish, user_id, wav_bytes, data_dir):
    fish.post(f"{FISH_URL}/model", json=fish_model(), status=201)
    response = upload(client, wav_bytes, name="Grandma", user_id=user_id)
    assert response.status_code == 201, response.json
    body = response.json
    assert body["success"] is True
    assert body["model_id"] == body["reference_id"] == FISH_MODEL_ID
    assert body["provider"] == "fish" and body["name"] == "Grandma"
    record = body["database_record"]
    assert record["model_id"] == FISH_MODEL_ID and record["user_id"] == user_id
    assert record["file_type"] == "wav" and 5.9 < record["duration_seconds"] < 6.1
    assert "reference_audio" not in record
    assert record["created_at"].endswith("Z")

    (call,) = model_calls(fish)
    assert call.request.method == "POST"
    assert call.request.headers["Authorization"] == f"Bearer {FISH_KEY}"
    fields = multipart_fields(call.request)
    simple = {name: value for name, value, filename in fields if filename is None}
    assert simple == {"type": "tts", "title": "Grandma", "train_mode": "fast", "visibility": "private"}
    assert "texts" not in [name for name, _, _ in fields]  # no placeholder transcript
    (voice,) = [(value, filename) for name, value, filename in fields if name == "voices"]
    assert voice[0] == wav_bytes  # sent as it was recorded

    # the recording is kept (under a name of our own) and no temporary file is left
    references = files_under(data_dir / "references")
    assert len(references) == 1 and references[0].read_bytes() == wav_bytes
    assert "voice" not in references[0].name
    assert files_under(data_dir / "tmp") == []


def test_upload_sends_transcript_as_texts(client, fish, user_id, wav_bytes):
    fish.post(f"{FISH_URL}/model", json=fish_model(), status=201)
    response = upload(client, wav_bytes, name="Grandpa", user_id=user_id, transcript="Hello there, my dear.")
    assert response.status_code == 201
    fields = multipart_fields(model_calls(fish)[0].request)
    assert [v for n, v, _ in fields if n == "texts"] == ["Hello there, my dear."]
    assert response.json["database_record"]["transcript"] == "Hello there, my dear."


@pytest.mark.parametrize("kind", sorted(CONTAINERS))
def test_upload_accepts_every_recording_format(client, fish, user_id, kind, data_dir):
    fish.post(f"{FISH_URL}/model", json=fish_model(), status=201)
    data = audio_file(kind, seconds=5.0)
    response = upload(client, data, filename="recording.bin", user_id=user_id)
    assert response.status_code == 201, response.json
    assert response.json["database_record"]["file_type"] == kind
    (name, sent, filename) = [f for f in multipart_fields(model_calls(fish)[0].request) if f[0] == "voices"][0]
    if kind in ("wav", "mp3", "m4a"):
        assert sent == data
    else:  # Fish.Audio does not list the format: converted to WAV
        assert filename == "reference.wav" and audio.looks_like("wav", sent[:16])
    assert files_under(data_dir / "tmp") == []


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"this is not audio at all" * 100, 415, "unsupported_media_type"),
        (bytes(range(256)) * 200, 415, "unsupported_media_type"),
        (audio_file("wav", seconds=1.5), 422, "unprocessable_audio"),
        (audio_file("mp3", seconds=275, rate=8000), 422, "unprocessable_audio"),
    ],
    ids=["text", "binary", "too-short", "too-long"],
)
def test_upload_rejects_bad_audio_without_calling_fish(client, fish, user_id, data, status, code, data_dir):
    response = upload(client, data, filename="../../etc/passwd.wav", user_id=user_id)
    assert response.status_code == status
    assert response.json["error"] == code and response.json["message"]
    assert model_calls(fish) == []
    assert files_under(data_dir / "tmp") == [] and files_under(data_dir / "references") == []


def test_upload_too_large_is_413(make_app, fish, data_dir):
    client = make_app(MAX_UPLOAD_MB=1).test_client()
    response = upload(client, b"\0" * (1024 * 1024 + 10))
    assert response.status_code == 413
    assert response.json["error"] == "payload_too_large" and "1 MB" in response.json["message"]
    assert files_under(data_dir / "tmp") == []


def test_upload_field_errors(client, fish, user_id, wav_bytes):
    missing = client.post("/api/upload-reference", data={"name": "x"}, content_type="multipart/form-data")
    assert missing.status_code == 400 and "audio" in missing.json["message"]
    assert upload(client, wav_bytes, user_id="not-an-id").status_code == 400
    unknown = upload(client, wav_bytes, user_id="0" * 24)
    assert unknown.status_code == 404
    assert upload(client, wav_bytes, user_id=user_id, name="x" * 101).status_code == 400
    assert model_calls(fish) == []


@pytest.mark.parametrize(
    ("status", "body", "headers", "expected", "code"),
    [
        (401, "Unauthorized", {}, 502, "voice_provider_auth_failed"),
        (402, {"status": 402, "message": "Insufficient balance"}, {}, 502, "voice_provider_insufficient_credit"),
        (503, {"status": 503, "message": "busy"}, {}, 503, "voice_provider_unavailable"),
        (429, {"status": 429, "message": "too many"}, {"Retry-After": "2"}, 503, "voice_provider_busy"),
        (422, [{"loc": ["voices"], "msg": "bad audio", "type": "value_error"}], {}, 502, "voice_provider_error"),
    ],
)
def test_upload_maps_fish_errors(client, fish, user_id, wav_bytes, data_dir, status, body, headers, expected, code):
    kwargs = {"json": body} if not isinstance(body, str) else {"body": body}
    fish.post(f"{FISH_URL}/model", status=status, headers=headers, **kwargs)
    response = upload(client, wav_bytes, user_id=user_id)
    assert response.status_code == expected
    assert response.json["error"] == code
    assert FISH_KEY not in response.get_data(as_text=True)
    assert files_under(data_dir / "tmp") == [] and files_under(data_dir / "references") == []
    assert client.get(f"/api/voice-models?user_id={user_id}").json["count"] == 0


def test_upload_retries_busy_fish_then_succeeds(client, fish, user_id, wav_bytes, slept):
    fish.post(f"{FISH_URL}/model", status=429, headers={"Retry-After": "3"}, json={"status": 429, "message": "x"})
    fish.post(f"{FISH_URL}/model", status=500, json={"status": 500, "message": "oops"})
    fish.post(f"{FISH_URL}/model", json=fish_model(), status=201)
    response = upload(client, wav_bytes, user_id=user_id)
    assert response.status_code == 201
    assert len(model_calls(fish)) == 3
    assert slept[0] == 3.0 and 0 < slept[1] <= 8
    # the retried request carried the whole file again
    assert [v for n, v, _ in multipart_fields(model_calls(fish)[2].request) if n == "voices"] == [wav_bytes]


def test_upload_does_not_retry_a_read_timeout(client, fish, user_id, wav_bytes):
    fish.post(f"{FISH_URL}/model", body=requests.exceptions.ReadTimeout("slow"))
    response = upload(client, wav_bytes, user_id=user_id)
    assert response.status_code == 504 and response.json["error"] == "voice_provider_timeout"
    assert len(model_calls(fish)) == 1  # creating twice could leave a duplicate voice


def test_upload_with_database_down_still_clones(client, fish, user_id, wav_bytes, app, monkeypatch):
    from backend.errors import DatabaseUnavailable

    fish.post(f"{FISH_URL}/model", json=fish_model(), status=201)
    db = app.extensions["echo"].db

    def down(*args, **kwargs):
        raise DatabaseUnavailable()

    for method in ("get_user", "get_echo", "save_voice_model"):
        monkeypatch.setattr(db, method, down)
    response = upload(client, wav_bytes, user_id=user_id)
    assert response.status_code == 201
    assert response.json["database_record"] is None
    assert any("database is unavailable" in w for w in response.json["warnings"])


def test_upload_undoes_the_clone_when_saving_fails(client, fish, user_id, wav_bytes, app, monkeypatch, data_dir):
    fish.post(f"{FISH_URL}/model", json=fish_model(), status=201)
    fish.delete(f"{FISH_URL}/model/{FISH_MODEL_ID}", status=200)
    db = app.extensions["echo"].db

    def broken(record):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(db, "save_voice_model", broken)
    response = upload(client, wav_bytes, user_id=user_id)
    assert response.status_code == 500 and response.json["error"] == "internal_error"
    assert [c.request.method for c in fish.calls] == ["POST", "DELETE"]
    assert files_under(data_dir / "references") == [] and files_under(data_dir / "tmp") == []


def test_upload_links_echo(client, fish, user_id, wav_bytes):
    echo = client.post("/api/echo", json={"user_id": user_id, "name": "Gran", "persona_prompt": "warm"}).json["echo"]
    fish.post(f"{FISH_URL}/model", json=fish_model(), status=201)
    response = upload(client, wav_bytes, user_id=user_id, echo_id=echo["_id"])
    assert response.status_code == 201
    assert response.json["database_record"]["echo_id"] == echo["_id"]
    assert client.get(f"/api/echo/{echo['_id']}?user_id={user_id}").json["echo"]["voice_model_id"] == FISH_MODEL_ID


def test_voice_routes_without_provider_say_how_to_configure(make_app, wav_bytes, monkeypatch):
    client = make_app(VOICE_PROVIDER="fish", FISH_AUDIO_API_KEY="", providers={}).test_client()
    user = client.post("/api/users/local|nobody-configured").json["user"]
    for response in (upload(client, wav_bytes, user_id=user), client.post("/api/synthesize", json={"text": "hi"})):
        assert response.status_code == 503
        assert response.json["error"] == "voice_provider_not_configured"
        assert "FISH_AUDIO_API_KEY" in response.json["message"]


# -- synthesize -----------------------------------------------------------------------------------


def tts_reply(fish, body: bytes, content_type: str = "audio/mpeg", status: int = 200):
    fish.post(f"{FISH_URL}/v1/tts", body=body, status=status, content_type=content_type)


def test_synthesize_streams_fish_audio_to_a_fetchable_url(client, fish, data_dir):
    tts_reply(fish, MP3_BYTES)
    response = client.post("/api/synthesize", json={"text": "Hello, love.", "reference_id": FISH_MODEL_ID})
    assert response.status_code == 200, response.json
    body = response.json
    assert body["audio_url"] == body["audio_path"] and body["audio_url"].startswith("/api/audio/")
    assert urlsplit(body["audio_url"]).path.endswith(".mp3") and body["format"] == "mp3" and body["provider"] == "fish"
    assert str(data_dir) not in body["audio_path"]

    (call,) = fish.calls
    assert call.request.headers["Authorization"] == f"Bearer {FISH_KEY}"
    assert call.request.headers["model"] == "s2-pro"
    assert json.loads(call.request.body) == {"text": "Hello, love.", "format": "mp3", "reference_id": FISH_MODEL_ID}

    audio_response, data = fetch(client, body["audio_url"])
    assert audio_response.status_code == 200
    assert audio_response.mimetype == "audio/mpeg"
    assert data == MP3_BYTES
    assert audio_response.headers["Accept-Ranges"] == "bytes"
    assert "Origin" in audio_response.headers["Vary"]  # an <audio> copy is not reused for a CORS fetch

    ranged, part = fetch(client, body["audio_url"], headers={"Range": "bytes=0-99"})
    assert ranged.status_code == 206 and part == MP3_BYTES[:100]
    assert ranged.headers["Content-Range"] == f"bytes 0-99/{len(MP3_BYTES)}"
    assert files_under(data_dir / "tmp") == []


@pytest.mark.parametrize(
    ("fmt", "payload", "mimetype"),
    [
        ("wav", audio.encode(audio.np.zeros(1600, dtype=audio.np.float32), 16000, "wav"), "audio/wav"),
        ("opus", audio.encode(audio.np.zeros(4800, dtype=audio.np.float32), 48000, "opus"), "audio/ogg"),
        ("pcm", b"\x00\x01" * 800, "audio/pcm"),
    ],
)
def test_synthesize_other_formats(client, fish, fmt, payload, mimetype):
    tts_reply(fish, payload, content_type="application/octet-stream")
    response = client.post("/api/synthesize", json={"text": "Hi", "format": fmt})
    assert response.status_code == 200
    # Raw PCM is asked for at Echo's one rate, and says so in the answer and on the audio.
    expected = {"text": "Hi", "format": fmt, **({"sample_rate": 24000} if fmt == "pcm" else {})}
    assert json.loads(fish.calls[0].request.body) == expected
    fetched, data = fetch(client, response.json["audio_url"])
    assert fetched.mimetype == mimetype and data == payload
    assert urlsplit(response.json["audio_url"]).path.endswith("." + fmt)
    if fmt == "pcm":
        assert response.json["sample_rate"] == 24000 and response.json["sample_format"] == "s16le"
        assert fetched.headers["X-Sample-Rate"] == "24000"
    else:
        assert "sample_rate" not in response.json and "X-Sample-Rate" not in fetched.headers


def test_synthesize_rejects_audio_in_the_wrong_format(client, fish, data_dir):
    tts_reply(fish, b"<html>oops, an error page</html>", content_type="text/html")
    response = client.post("/api/synthesize", json={"text": "Hi", "format": "mp3"})
    assert response.status_code == 502
    assert files_under(data_dir / "audio") == [] and files_under(data_dir / "tmp") == []


@pytest.mark.parametrize(
    ("body", "message_part"),
    [
        ({}, "'text' is required"),
        ({"text": "   "}, "'text' is required"),
        ({"text": 5}, "must be a string"),
        ({"text": "x" * 5001}, "longer than 5000"),
        ({"text": "hi", "format": "flac"}, "'format' must be one of"),
        ({"text": "hi", "reference_id": ["x"]}, "must be a string"),
    ],
)
def test_synthesize_validation(client, fish, body, message_part):
    response = client.post("/api/synthesize", json=body)
    assert response.status_code == 400
    assert message_part in response.json["message"]
    assert len(fish.calls) == 0


def test_synthesize_needs_json(client):
    response = client.post("/api/synthesize", data="text=hi", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400 and "JSON" in response.json["message"]


@pytest.mark.parametrize(
    ("reply", "status", "code"),
    [
        ({"status": 400, "json": {"status": 400, "message": "Reference not found"}}, 404, "not_found"),
        ({"status": 401, "body": "Unauthorized"}, 502, "voice_provider_auth_failed"),
        ({"status": 402, "json": {"status": 402, "message": "no credit"}}, 502, "voice_provider_insufficient_credit"),
        ({"body": requests.exceptions.ReadTimeout("slow")}, 504, "voice_provider_timeout"),
        ({"body": requests.exceptions.ConnectionError("refused")}, 503, "voice_provider_unavailable"),
        ({"status": 500, "json": {"status": 500, "message": "boom"}}, 502, "voice_provider_error"),
    ],
)
def test_synthesize_maps_fish_errors(client, fish, data_dir, reply, status, code):
    fish.post(f"{FISH_URL}/v1/tts", **reply)
    response = client.post("/api/synthesize", json={"text": "Hi", "reference_id": FISH_MODEL_ID})
    assert response.status_code == status
    assert response.json["error"] == code
    assert FISH_KEY not in response.get_data(as_text=True)
    assert files_under(data_dir / "audio") == [] and files_under(data_dir / "tmp") == []


def test_synthesize_retries_5xx_a_bounded_number_of_times(client, fish, slept):
    fish.post(f"{FISH_URL}/v1/tts", status=503, json={"status": 503, "message": "busy"})
    response = client.post("/api/synthesize", json={"text": "Hi"})
    assert response.status_code == 503
    assert len(fish.calls) == 3 and len(slept) == 2  # 1 try + FISH_AUDIO_MAX_RETRIES


def test_synthesize_a_voice_from_an_unavailable_provider_is_409(make_app):
    client = make_app(providers={}).test_client()
    response = client.post("/api/synthesize", json={"text": "Hi", "reference_id": FISH_MODEL_ID})
    assert response.status_code == 409
    assert "FISH_AUDIO_API_KEY" in response.json["message"]


def test_synthesize_a_voice_of_another_user_is_404(client, fish, user_id, wav_bytes):
    fish.post(f"{FISH_URL}/model", json=fish_model(), status=201)
    assert upload(client, wav_bytes, user_id=user_id).status_code == 201
    other = client.post("/api/users/local|other").json["user"]
    response = client.post("/api/synthesize", json={"text": "Hi", "reference_id": FISH_MODEL_ID, "user_id": other})
    assert response.status_code == 404
    assert [c.request.url for c in fish.calls] == [f"{FISH_URL}/model"]


def test_audio_route_refuses_unknown_and_traversing_names(client, app):
    links = app.extensions["echo"].links
    assert client.get("/api/audio/..%2F..%2Fetc%2Fpasswd").status_code in (403, 404)
    for name in ("missing.mp3", "..passwd", "a" * 30 + ".exe", "a" * 30 + ".mp3"):
        unsigned = client.get(f"/api/audio/{name}")
        assert unsigned.status_code == 403 and unsigned.json["error"] == "audio_link_invalid"
        signed = client.get(links.url(name))
        assert signed.status_code == 404 and signed.json["error"] == "not_found"


def test_audio_links_are_signed_per_file_and_expire(client, fish, app, monkeypatch):
    tts_reply(fish, MP3_BYTES)
    tts_reply(fish, MP3_BYTES)
    first = client.post("/api/synthesize", json={"text": "One"}).json["audio_url"]
    second = client.post("/api/synthesize", json={"text": "Two"}).json["audio_url"]
    first_path, first_sig = first.split("?")
    second_path, second_sig = second.split("?")
    assert fetch(client, first)[0].status_code == 200
    assert client.get(first_path).status_code == 403  # no signature
    assert client.get(f"{first_path}?{second_sig}").status_code == 403  # another file's signature
    assert client.get(f"{first_path}?sig=0.forged").status_code == 403
    # The links' clock, moved on: itsdangerous's TimestampSigner reads the time through get_timestamp().
    links = app.extensions["echo"].links
    name, sig = first_path.rsplit("/", 1)[1], first_sig.removeprefix("sig=")
    signed_at = int(links.signer.unsign(f"{name}.{sig}", return_timestamp=True)[1].timestamp())
    monkeypatch.setattr(links.signer, "get_timestamp", lambda: signed_at + links.ttl)
    assert fetch(client, first)[0].status_code == 200  # valid to the end of its lifetime
    monkeypatch.setattr(links.signer, "get_timestamp", lambda: signed_at + links.ttl + 1)
    expired = client.get(first)
    assert expired.status_code == 403 and "expired" in expired.json["message"]


def test_fish_url_with_v1_suffix_is_tolerated(make_app, fish):
    client = make_app(FISH_AUDIO_API_URL=FISH_URL + "/v1/").test_client()
    tts_reply(fish, MP3_BYTES)
    assert client.post("/api/synthesize", json={"text": "Hi"}).status_code == 200
    assert fish.calls[0].request.url == f"{FISH_URL}/v1/tts"


def test_fish_model_header_is_configurable(make_app, fish):
    client = make_app(FISH_AUDIO_MODEL="s2.1-pro").test_client()
    tts_reply(fish, MP3_BYTES)
    client.post("/api/synthesize", json={"text": "Hi"})
    assert fish.calls[0].request.headers["model"] == "s2.1-pro"


# -- the local engine -----------------------------------------------------------------------------


def test_clone_speak_and_delete_offline(local_client, tmp_path):
    client, data_dir = local_client
    user = client.post("/api/users/local|offline").json["user"]
    created = upload(client, reference_voice().read_bytes(), user_id=user, name="SLT")
    assert created.status_code == 201, created.json
    model_id = created.json["model_id"]
    assert model_id.startswith("local-") and created.json["provider"] == "local"
    assert files_under(data_dir / "voices")

    for fmt, rate in (("wav", 22050), ("mp3", 22050), ("opus", 48000)):
        spoken = client.post(
            "/api/synthesize",
            json={
                "text": "Hello, my dear. I have missed you.",
                "reference_id": model_id,
                "format": fmt,
                "user_id": user,
            },
        )
        assert spoken.status_code == 200, spoken.json
        response, data = fetch(client, spoken.json["audio_url"])
        path = tmp_path / f"out.{fmt}"
        path.write_bytes(data)
        info = audio.inspect(path, max_seconds=60)
        assert info.sample_rate == rate and 1.0 < info.duration < 6.0

    assert client.delete(f"/api/voice-models/{model_id}?user_id={user}").status_code == 200
    assert not list((data_dir / "voices").glob(f"{model_id}*"))
    gone = client.post("/api/synthesize", json={"text": "Hi", "reference_id": model_id, "user_id": user})
    assert gone.status_code == 404


@pytest.fixture
def busy_app(tmp_path):
    data_dir = tmp_path / "data"
    app = local_app(
        data_dir, VOICE_PROVIDER="local", LOCAL_ENGINE_WORKERS=1, LOCAL_ENGINE_QUEUE=0, LOCAL_ENGINE_THREADS=1
    )
    return app, data_dir


def test_full_queue_answers_503_through_the_api(busy_app):
    app, data_dir = busy_app
    client = app.test_client()
    pool = app.extensions["echo"].voices.providers["local"].engine.pool
    engine = app.extensions["echo"].voices.providers["local"].engine
    assert (pool.workers, pool.queue, engine.threads) == (1, 0, 1)
    user = client.post("/api/users/local|busy").json["user"]
    reference = reference_voice()
    with pool.slot():  # the one render slot is taken and no one may queue
        spoken = client.post("/api/synthesize", json={"text": "Hello there.", "user_id": user, "format": "mp3"})
        assert spoken.status_code == 503
        assert spoken.json == {
            "success": False,
            "error": "voice_engine_busy",
            "message": "The voice engine is busy; try again in a few seconds.",
        }
        # the engine's own 5 s, not the rate limiter's window
        assert spoken.headers["Retry-After"] == "5"
        assert files_under(data_dir / "audio") == [] and files_under(data_dir / "tmp") == []
        # cloning analyses the recording in a slot too
        created = upload(client, reference.read_bytes(), user_id=user, name="Busy")
        assert created.status_code == 503 and created.json["error"] == "voice_engine_busy"
        assert files_under(data_dir / "voices") == []
    spoken = client.post("/api/synthesize", json={"text": "Hello there.", "user_id": user, "format": "mp3"})
    assert spoken.status_code == 200, spoken.json  # free again: the same request goes through
    assert pool.running == 0 and pool.waiting == 0
