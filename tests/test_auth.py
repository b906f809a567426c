"""Sign-in mode: RS256 access tokens checked against a JWKS served on loopback, and per-user isolation."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.helpers import (
    AUDIENCE,
    FISH_MODEL_ID,
    FISH_URL,
    ISSUER,
    JWKSServer,
    KeyPair,
    bearer,
    fish_model,
    token,
    upload,
)
from tests.routes.test_api_keys import PROBE, add_probe


@pytest.fixture(scope="module")
def key():
    return KeyPair("key-1")


@pytest.fixture
def jwks(key):
    server = JWKSServer()
    server.keys = [key.jwk]
    yield server
    server.close()


@pytest.fixture
def app(make_app, jwks):
    return make_app(AUTH0_ISSUER=ISSUER, AUTH0_AUDIENCE=AUDIENCE, AUTH0_JWKS_URL=jwks.url)


def test_a_valid_token_signs_in_and_creates_the_user(client, key, jwks):
    response = client.get("/api/echos", headers=bearer(token(key)))
    assert response.status_code == 200 and response.json["count"] == 0
    me = client.get("/api/users/auth0|alice", headers=bearer(token(key))).json["user"]
    assert me["auth0_user_id"] == "auth0|alice" and me["email"] == "alice@ex.com"
    # the key set was fetched once and cached
    for _ in range(3):
        client.get("/api/echos", headers=bearer(token(key)))
    assert jwks.hits == 1


def unsigned(claims: dict) -> str:
    def part(obj) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT', 'kid': 'key-1'})}.{part(claims)}."


def hs256_with_public_key(key: KeyPair) -> str:
    """The classic confusion attack: HMAC 'signed' with the RSA public key."""
    import hashlib
    import hmac

    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT", "kid": key.kid}
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "auth0|mallory", "exp": now + 600}

    def part(obj) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=")

    signing_input = part(header) + b"." + part(claims)
    signature = hmac.new(key.public_pem(), signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + base64.urlsafe_b64encode(signature).rstrip(b"=")).decode()


@pytest.mark.parametrize(
    "make_token",
    [
        lambda k: token(k, exp=int(time.time()) - 120),
        lambda k: token(k, aud="https://someone-else.test"),
        lambda k: token(k, iss="https://evil.test/"),
        lambda k: token(k, nbf=int(time.time()) + 600),
        lambda k: token(k, sub=None),
        lambda k: token(k, exp=None),
        lambda k: token(KeyPair("key-unknown")),
        lambda k: jwt.encode({"sub": "x", "iss": ISSUER, "aud": AUDIENCE}, "s" * 40, algorithm="HS256",
                             headers={"kid": "key-1"}),
        lambda k: unsigned({"iss": ISSUER, "aud": AUDIENCE, "sub": "auth0|mallory", "exp": int(time.time()) + 600}),
        hs256_with_public_key,
        lambda k: "garbage",
        lambda k: "a.b.c",
        lambda k: token(k) + "x",
    ],
    ids=[
        "expired", "wrong-audience", "wrong-issuer", "not-yet-valid", "no-subject", "no-expiry", "unknown-kid",
        "hs256-secret", "alg-none", "hs256-public-key", "garbage", "three-dots", "bad-signature",
    ],
)  # fmt: skip
def test_bad_tokens_are_refused(client, key, make_token):
    response = client.get("/api/echos", headers=bearer(make_token(key)))
    assert response.status_code == 401, response.json
    assert response.json["error"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/api/users/auth0|mallory", headers=bearer(token(key, sub="auth0|alice"))).status_code == 403


@pytest.mark.parametrize("header", [None, "Basic dXNlcjpwYXNz", "Bearer", "Bearer    "])
def test_missing_credentials(client, header):
    headers = {"Authorization": header} if header else {}
    response = client.get("/api/echos", headers=headers)
    assert response.status_code == 401 and 'error="invalid_request"' in response.headers["WWW-Authenticate"]


def test_health_page_and_openapi_need_no_token(client, fish):
    fish.get(f"{FISH_URL}/wallet/self/api-credit", json={"credit": "1"})
    assert client.get("/health").status_code == 200


def test_key_rotation_refetches_the_key_set(client, app, key, jwks):
    assert client.get("/api/echos", headers=bearer(token(key))).status_code == 200
    new_key = KeyPair("key-2")
    jwks.keys = [key.jwk, new_key.jwk]
    # within the refresh cool-down an unknown key id does not trigger a fetch
    assert client.get("/api/echos", headers=bearer(token(new_key))).status_code == 401
    assert jwks.hits == 1
    app.extensions["echo_token_verifier"]._jwks._last_successful_fetch -= 60  # half a minute later
    assert client.get("/api/echos", headers=bearer(token(new_key))).status_code == 200
    assert jwks.hits == 2


def test_unreachable_key_set_is_503(make_app, key):
    app = make_app(AUTH0_ISSUER=ISSUER, AUTH0_AUDIENCE=AUDIENCE, AUTH0_JWKS_URL="http://127.0.0.1:9/jwks.json")
    response = app.test_client().get("/api/echos", headers=bearer(token(key)))
    assert response.status_code == 503


def test_naming_another_user_is_403(client, key):
    alice = bearer(token(key))
    mallory_id = client.get("/api/users/auth0|mallory", headers=bearer(token(key, sub="auth0|mallory")))
    other = mallory_id.json["user"]["_id"]
    assert client.get(f"/api/echos?user_id={other}", headers=alice).status_code == 403
    assert client.post("/api/echo", json={"user_id": other, "name": "x"}, headers=alice).status_code == 403
    assert client.post("/api/users/auth0|mallory", json={}, headers=alice).status_code == 403
    assert client.delete("/api/users/auth0|mallory", headers=alice).status_code == 403
    me = client.get("/api/users/auth0|alice", headers=alice).json["user"]["_id"]
    assert client.get(f"/api/echos?user_id={me}", headers=alice).status_code == 200  # naming yourself is fine


@pytest.fixture
def alice_world(client, fish, key, wav_bytes):
    """Alice's voice, echo, message and generated audio."""
    alice = bearer(token(key))
    fish.post(f"{FISH_URL}/model", json=fish_model(), status=201)
    fish.post(f"{FISH_URL}/v1/tts", body=b"ID3" + b"\0" * 200, content_type="audio/mpeg")
    voice = upload(client, wav_bytes, name="Grandma", headers=alice)
    assert voice.status_code == 201, voice.json
    echo = client.post(
        "/api/echo", json={"name": "Gran", "persona_prompt": "x", "voice_model_id": FISH_MODEL_ID}, headers=alice
    ).json["echo"]
    client.post(f"/api/conversation/{echo['_id']}", json={"role": "user", "content": "hi"}, headers=alice)
    audio = client.post("/api/synthesize", json={"text": "hi", "reference_id": FISH_MODEL_ID}, headers=alice)
    assert audio.status_code == 200
    return {"headers": alice, "echo": echo["_id"], "audio_url": audio.json["audio_url"]}


def test_another_user_gets_404_on_every_route(client, fish, key, alice_world, wav_bytes):
    mallory = bearer(token(key, sub="auth0|mallory"))
    echo = alice_world["echo"]
    calls_before = len(fish.calls)
    attempts = [
        client.get(f"/api/voice-models/{FISH_MODEL_ID}", headers=mallory),
        client.delete(f"/api/voice-models/{FISH_MODEL_ID}", headers=mallory),
        client.get(f"/api/echo/{echo}", headers=mallory),
        client.patch(f"/api/echo/{echo}", json={"name": "pwned"}, headers=mallory),
        client.delete(f"/api/echo/{echo}", headers=mallory),
        client.get(f"/api/echo/{echo}/voice-model", headers=mallory),
        client.get(f"/api/conversation/{echo}", headers=mallory),
        client.post(f"/api/conversation/{echo}", json={"role": "user", "content": "x"}, headers=mallory),
        client.post("/api/synthesize", json={"text": "x", "reference_id": FISH_MODEL_ID}, headers=mallory),
        client.post("/api/echo", json={"name": "x", "voice_model_id": FISH_MODEL_ID}, headers=mallory),
        upload(client, wav_bytes, echo_id=echo, headers=mallory),
    ]
    assert [r.status_code for r in attempts] == [404] * len(attempts)
    assert len(fish.calls) == calls_before  # nothing reached the provider
    assert client.get("/api/voice-models", headers=mallory).json["count"] == 0
    assert client.get("/api/echos", headers=mallory).json["count"] == 0

    alice = alice_world["headers"]
    assert client.get(f"/api/echo/{echo}", headers=alice).json["echo"]["name"] == "Gran"
    assert len(client.get(f"/api/conversation/{echo}", headers=alice).json["messages"]) == 1
    assert client.get(f"/api/voice-models/{FISH_MODEL_ID}", headers=alice).status_code == 200


def test_deleting_an_account_deletes_everything(client, fish, key, alice_world, data_dir):
    alice = alice_world["headers"]
    fish.delete(f"{FISH_URL}/model/{FISH_MODEL_ID}", status=200)
    assert any((data_dir / "audio").iterdir()) and any((data_dir / "references").iterdir())
    response = client.delete("/api/users/auth0|alice", headers=alice)
    assert response.status_code == 200, response.json
    assert response.json["deleted"]["voice_models"] == 1 and response.json["deleted"]["messages"] == 1
    assert [c.request.method for c in fish.calls][-1] == "DELETE"
    assert not any((data_dir / "audio").iterdir()) and not any((data_dir / "references").iterdir())
    # the same token now starts a fresh, empty account
    assert client.get("/api/echos", headers=alice).json["count"] == 0
    assert client.get(f"/api/echo/{alice_world['echo']}", headers=alice).status_code == 404


# -- personal API keys in sign-in mode ---------------------------------------------------------------------


@pytest.fixture
def probe(app):
    """The test app with test-only /v1 routes (tests/routes/test_api_keys.py): who the caller is."""
    return add_probe(app)


def make_api_key(client, headers, name="Kitchen speaker") -> dict:
    response = client.post("/api/api-keys", json={"name": name}, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def test_signed_in_people_manage_their_keys_and_use_them_on_v1(client, probe, key):
    alice = bearer(token(key))
    made = make_api_key(client, alice)
    me = client.get("/api/users/auth0|alice", headers=alice).json["user"]["_id"]
    listed = client.get("/api/api-keys", headers=alice).json
    assert listed["count"] == 1 and listed["api_keys"][0]["name"] == "Kitchen speaker"
    assert made["key"] not in json.dumps(listed)
    spoken = client.get(PROBE, headers=bearer(made["key"]))
    assert spoken.status_code == 200
    assert spoken.json == {
        "user_id": me,
        "auth0_id": "auth0|alice",
        "key_id": made["api_key"]["_id"],
        "rate_limit_key": f"key:{made['api_key']['_id']}",
    }
    # naming another user on /v1 is refused, as on /api
    assert client.get(f"{PROBE}?user_id={'0' * 24}", headers=bearer(made["key"])).status_code == 403


def test_the_sign_in_token_is_accepted_on_v1_too(client, probe, key):
    alice = bearer(token(key))
    answer = client.get(PROBE, headers=alice)
    assert answer.status_code == 200 and answer.json["key_id"] is None
    assert answer.json["auth0_id"] == "auth0|alice"
    assert answer.json["rate_limit_key"] == f"user:{answer.json['user_id']}"
    for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, bearer("garbage"), bearer(token(key) + "x")):
        assert client.get(PROBE, headers=headers).status_code == 401
    assert client.get(PROBE, headers=bearer("echo_" + "A" * 43)).status_code == 401


def test_keys_are_refused_on_api_in_sign_in_mode(client, probe, key):
    alice = bearer(token(key))
    secret = make_api_key(client, alice)["key"]
    for response in (
        client.get("/api/echos", headers=bearer(secret)),
        client.get("/api/api-keys", headers=bearer(secret)),
        client.post("/api/api-keys", json={"name": "more"}, headers=bearer(secret)),
        client.delete("/api/users/auth0|alice", headers=bearer(secret)),
    ):
        assert response.status_code == 401
        assert response.json["message"] == "API keys are only for the speech API at /v1; sign in to use /api."
    assert client.get("/api/api-keys", headers=alice).json["count"] == 1


def test_another_persons_key_cannot_be_seen_or_revoked(client, probe, key):
    alice, mallory = bearer(token(key)), bearer(token(key, sub="auth0|mallory"))
    made = make_api_key(client, alice)
    assert client.get("/api/api-keys", headers=mallory).json["count"] == 0
    assert client.delete(f"/api/api-keys/{made['api_key']['_id']}", headers=mallory).status_code == 404
    me = client.get("/api/users/auth0|alice", headers=alice).json["user"]["_id"]
    assert client.get(f"/api/api-keys?user_id={me}", headers=mallory).status_code == 403
    assert client.get(PROBE, headers=bearer(made["key"])).status_code == 200
    assert client.delete(f"/api/api-keys/{made['api_key']['_id']}", headers=alice).status_code == 200
    assert client.get(PROBE, headers=bearer(made["key"])).status_code == 401  # at once


def test_deleting_an_account_revokes_its_keys(client, probe, key):
    alice = bearer(token(key))
    made = make_api_key(client, alice)
    assert client.get(PROBE, headers=bearer(made["key"])).status_code == 200
    deleted = client.delete("/api/users/auth0|alice", headers=alice)
    assert deleted.status_code == 200 and deleted.json["deleted"]["api_keys"] == 1
    assert client.get(PROBE, headers=bearer(made["key"])).status_code == 401
    assert client.get("/api/api-keys", headers=alice).json["count"] == 0  # a fresh, empty account


@given(header=st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=120))
@hypothesis_settings(
    max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_malformed_authorization_on_v1_in_sign_in_mode_is_never_a_500(client, probe, header):
    for value in (header, f"Bearer {header}", f"Bearer echo_{header}"):
        response = client.get(PROBE, headers={"Authorization": value})
        assert response.status_code == 401, (value, response.status_code)
