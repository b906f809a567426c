"""Consent, limits, rate limits, CORS, security headers, secrets, hostile uploads (local mode)."""

from __future__ import annotations

import logging
import time

import pytest

from tests.helpers import (
    FISH_KEY,
    FISH_MODEL_ID,
    FISH_URL,
    audio_file,
    closed_port,
    encode,
    files_under,
    fish_model,
    multipart_fields,
    upload,
)

# -- consent --------------------------------------------------------------------------------------


@pytest.mark.parametrize("consent", [None, "", "false", "no", "maybe"])
def test_cloning_needs_consent(client, fish, user_id, wav_bytes, consent, data_dir):
    response = upload(client, wav_bytes, user_id=user_id, consent=consent)
    assert response.status_code == 400
    assert response.json["reason"] == "consent_required" and "consent" in response.json["message"]
    assert len(fish.calls) == 0 and files_under(data_dir / "tmp") == []


def test_consent_is_stored_with_the_voice(client, fish, user_id, wav_bytes, data_dir):
    fish.post(f"{FISH_URL}/model", json=fish_model(), status=201)
    consent_audio = audio_file("mp3", seconds=2.0)
    form = {"consent_audio": ("consent.mp3", consent_audio, "audio/mpeg")}
    response = upload(client, wav_bytes, user_id=user_id, **form)
    assert response.status_code == 201, response.json
    consent = response.json["database_record"]["consent"]
    assert consent["attested"] is True and consent["attested_by"] == user_id
    assert consent["attested_at"].endswith("Z") and "agreed" in consent["statement"]
    assert consent["has_recording"] is True and "recording" not in consent
    assert len(files_under(data_dir / "references")) == 2  # the reference and the consent recording

    fish.delete(f"{FISH_URL}/model/{FISH_MODEL_ID}", status=200)
    assert client.delete(f"/api/voice-models/{FISH_MODEL_ID}?user_id={user_id}").status_code == 200
    assert files_under(data_dir / "references") == []


def test_a_bad_consent_recording_loses_nothing(client, fish, user_id, wav_bytes, data_dir):
    form = {"consent_audio": ("consent.mp3", b"not audio" * 100, "audio/mpeg")}
    response = upload(client, wav_bytes, user_id=user_id, **form)
    assert response.status_code == 415
    assert len(fish.calls) == 0
    assert files_under(data_dir / "references") == [] and files_under(data_dir / "tmp") == []


def test_a_failed_clone_removes_the_consent_recording(client, fish, user_id, data_dir):
    form = {"consent_audio": ("consent.mp3", audio_file("mp3", seconds=2.0), "audio/mpeg")}
    response = upload(client, audio_file("wav", seconds=1.0), user_id=user_id, **form)
    assert response.status_code == 422
    assert files_under(data_dir / "references") == [] and files_under(data_dir / "tmp") == []


def test_clones_are_always_private(client, fish, user_id, wav_bytes):
    fish.post(f"{FISH_URL}/model", json=fish_model(), status=201)
    upload(client, wav_bytes, user_id=user_id, visibility="public")
    fields = {name: value for name, value, _ in multipart_fields(fish.calls[0].request)}
    assert fields["visibility"] == "private"


# -- hostile uploads ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filename", ["../../../../etc/passwd", "..\\..\\boot.ini", "/etc/shadow", "a\x00b.wav", "ok.wav;rm -rf", "é" * 300]
)
def test_client_file_names_never_become_paths(client, fish, user_id, wav_bytes, data_dir, filename):
    fish.post(f"{FISH_URL}/model", json=fish_model(), status=201)
    response = upload(client, wav_bytes, user_id=user_id, filename=filename)
    assert response.status_code == 201
    stored = files_under(data_dir)
    assert all(p.resolve().is_relative_to(data_dir.resolve()) for p in stored)
    assert not any("passwd" in p.name or "boot" in p.name or "shadow" in p.name for p in stored)


def test_a_tiny_file_claiming_hours_is_refused_quickly(client, fish, user_id, data_dir):
    """Decompression bomb: 10 minutes of silence in a few hundred KB of FLAC."""
    import numpy as np

    bomb = encode(np.zeros(16000 * 600, dtype=np.float32), 16000, "flac")
    assert len(bomb) < 2_000_000
    response = upload(client, bomb, user_id=user_id, filename="short.flac")
    assert response.status_code == 422 and response.json["reason"] == "too_long"
    assert len(fish.calls) == 0 and files_under(data_dir / "tmp") == []


def test_truncated_audio_is_measured_not_trusted(client, fish, user_id, data_dir):
    data = audio_file("wav", seconds=8.0)
    response = upload(client, data[: len(data) // 4], user_id=user_id)  # the header still says 8 s
    assert response.status_code == 422 and response.json["reason"] == "too_short"
    assert files_under(data_dir / "tmp") == []


# -- limits ---------------------------------------------------------------------------------------


def test_json_bodies_are_limited(make_app):
    client = make_app(MAX_JSON_KB=1).test_client()
    response = client.post("/api/synthesize", json={"text": "x" * 2000})
    assert response.status_code == 413 and "1 KB" in response.json["message"]


def test_page_sizes_are_limited(client, user_id):
    assert client.get(f"/api/voice-models?user_id={user_id}&limit=201").status_code == 400
    assert client.get(f"/api/echos?user_id={user_id}&limit=1000").status_code == 400


def test_rate_limits_answer_429_with_retry_after(make_app, fish):
    client = make_app(SYNTHESIZE_RATE_LIMIT="2 per minute").test_client()
    fish.post(f"{FISH_URL}/v1/tts", body=b"ID3" + b"\0" * 100)
    alice, bob = "a" * 24, "b" * 24
    for _ in range(2):
        allowed = client.post("/api/synthesize", json={"text": "hi", "user_id": alice})
        assert allowed.status_code != 429 and "Retry-After" not in allowed.headers  # only a refusal says wait
    limited = client.post("/api/synthesize", json={"text": "hi", "user_id": alice})
    assert limited.status_code == 429
    assert limited.json["success"] is False and limited.json["error"]
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    # limits are per user
    assert client.post("/api/synthesize", json={"text": "hi", "user_id": bob}).status_code != 429


def test_upload_rate_limit(make_app, fish, wav_bytes):
    client = make_app(UPLOAD_RATE_LIMIT="1 per hour").test_client()
    user = client.post("/api/users/local|r").json["user"]
    fish.post(f"{FISH_URL}/model", json=fish_model(), status=201)
    assert upload(client, wav_bytes, user_id=user).status_code == 201
    limited = upload(client, wav_bytes, user_id=user)
    assert limited.status_code == 429 and "Retry-After" in limited.headers


# -- CORS and headers -----------------------------------------------------------------------------


def test_cors_only_for_configured_origins(make_app):
    client = make_app(CORS_ORIGINS="https://app.example").test_client()
    allowed = client.get("/api/users/local|nobody", headers={"Origin": "https://app.example"})
    assert allowed.headers.get("Access-Control-Allow-Origin") == "https://app.example"
    refused = client.get("/api/users/local|nobody", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in refused.headers
    preflight = client.options(
        "/api/synthesize",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers


def test_security_headers(client):
    page = client.get("/")
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    api = client.get("/api/users/local|nobody")
    for response in (page, api):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
    assert api.headers["Content-Security-Policy"].startswith("default-src 'none'")


# -- secrets --------------------------------------------------------------------------------------


def test_the_api_key_never_reaches_responses_or_logs(client, fish, caplog, user_id, wav_bytes, make_app):
    caplog.set_level(logging.DEBUG)
    client = make_app().test_client()  # built after caplog, so its handler carries the redaction filter
    fish.post(f"{FISH_URL}/model", status=422, json=[{"loc": ["x"], "msg": f"echo {FISH_KEY}", "type": "x"}])
    fish.post(f"{FISH_URL}/v1/tts", status=500, body=f"trace with {FISH_KEY}")
    fish.get(f"{FISH_URL}/wallet/self/api-credit", status=401, body=f"bad {FISH_KEY}")
    user = client.post("/api/users/local|s").json["user"]
    bodies = [
        upload(client, wav_bytes, user_id=user).get_data(as_text=True),
        client.post("/api/synthesize", json={"text": "hi"}).get_data(as_text=True),
        client.get("/health").get_data(as_text=True),
    ]
    logging.getLogger("backend.test").warning("leak attempt %s", FISH_KEY)
    assert not any(FISH_KEY in body for body in bodies)
    assert FISH_KEY not in caplog.text


def test_local_mode_account_deletion_needs_the_owner(client, user_id):
    other = client.post("/api/users/local|other").json["user"]
    assert client.delete("/api/users/local|tester").status_code == 400  # who is asking?
    assert client.delete(f"/api/users/local|tester?user_id={other}").status_code == 403
    response = client.delete(f"/api/users/local|tester?user_id={user_id}")
    assert response.status_code == 200 and response.json["deleted"]["users"] == 1
    assert client.get("/api/users/local|tester").status_code == 404


def test_generated_audio_is_deleted_after_the_retention_time(client, fish, app, data_dir):
    import os
    import time

    fish.post(f"{FISH_URL}/v1/tts", body=b"ID3" + b"\0" * 100)
    url = client.post("/api/synthesize", json={"text": "hi"}).json["audio_url"]
    (path,) = files_under(data_dir / "audio")
    services = app.extensions["echo"]
    assert services.upkeep.purge_old_audio(force=True) == 0  # still fresh
    old = time.time() - services.settings.audio_retention_hours * 3600 - 60
    os.utime(path, (old, old))
    assert services.upkeep.purge_old_audio(force=True) == 1
    assert not path.exists() and client.get(url).status_code == 404
    assert services.db.audio_names(user_id=None) == []


def test_rate_limits_are_shared_through_mongodb_and_survive_its_outage(make_app, fish, tmp_path):
    """With MONGODB_URI the counters live in MongoDB (every instance counts together); unreachable, each
    process counts in memory instead of failing or dropping the limit."""
    from limits.storage import MongoDBStorage

    app = make_app(
        db_client=None,
        MONGODB_URI=f"mongodb://127.0.0.1:{closed_port()}/?directConnection=true",
        MONGODB_TIMEOUT_MS=100,
        AUDIO_STORE="files",
        SYNTHESIZE_RATE_LIMIT="2 per minute",
    )
    limiter = app.extensions["echo_limiter"]
    assert isinstance(limiter._storage, MongoDBStorage)
    assert limiter._storage._database_name == "echo_db"
    fish.post(f"{FISH_URL}/v1/tts", body=b"ID3" + b"\0" * 300, content_type="audio/mpeg")
    client = app.test_client()
    statuses = [client.post("/api/synthesize", json={"text": f"Hi {n}"}).status_code for n in range(3)]
    assert statuses == [200, 200, 429]
    app.extensions["echo"].db.close()
    limiter._storage.storage.close()


def test_after_the_wait_a_429_names_the_request_is_allowed(make_app):
    """wait_in_words promises "rounded up, never down: after the time said, the request is allowed", but the
    wait it was given was cut down to whole seconds (int() of Flask-Limiter's reset_at, itself a whole second,
    less now): up to a second short, so a client that waits exactly Retry-After is refused again.

    The window here ends at .75 of a second and the refused request comes at .10: 1.65 s are left, and the
    wait said must not be 1 second.
    """
    client = make_app(SYNTHESIZE_RATE_LIMIT="1 per 2 seconds").test_client()
    time.sleep((0.75 - time.time() % 1) % 1)
    assert client.post("/api/synthesize", json={}).status_code == 400  # counts against the limit
    time.sleep(0.35)
    refused = client.post("/api/synthesize", json={})
    assert refused.status_code == 429
    wait = int(refused.headers["Retry-After"])
    assert refused.json["retry_after"] == wait
    assert refused.json["message"].startswith(f"You can ask for more speech in {wait} second")
    time.sleep(wait)
    assert client.post("/api/synthesize", json={}).status_code == 400, f"still refused after Retry-After: {wait}"
