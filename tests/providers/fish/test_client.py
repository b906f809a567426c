"""FishAudioClient: exact requests, retries, error mapping, no key leaks."""

from __future__ import annotations

import json

import pytest
import requests

from backend.errors import ProviderBusy, ProviderError, ProviderTimeout, ProviderUnavailable, ProviderVoiceNotFound
from backend.providers.fish import FishAudioClient
from tests.helpers import FISH_KEY, FISH_MODEL_ID, FISH_URL, fish_model

pytestmark = pytest.mark.usefixtures("slept")


def test_tts_streams_chunks_with_model_header(client, fish):
    fish.post(f"{FISH_URL}/v1/tts", body=b"ID3" + b"x" * 40000, content_type="audio/mpeg")
    chunks = list(client.tts(text="Hi", reference_id=FISH_MODEL_ID, fmt="mp3", chunk_size=16384, latency="balanced"))
    assert len(chunks) == 3 and b"".join(chunks).startswith(b"ID3")
    request = fish.calls[0].request
    assert request.headers["model"] == "s2-pro" and request.headers["Authorization"] == f"Bearer {FISH_KEY}"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == {
        "text": "Hi",
        "format": "mp3",
        "reference_id": FISH_MODEL_ID,
        "latency": "balanced",
    }
    assert request.req_kwargs["timeout"] == (5.0, 60.0)


def test_retry_after_is_honoured_and_capped(client, fish, slept):
    fish.get(f"{FISH_URL}/model/{FISH_MODEL_ID}", status=429, headers={"Retry-After": "4"}, json={})
    fish.get(f"{FISH_URL}/model/{FISH_MODEL_ID}", status=429, headers={"Retry-After": "999"}, json={})
    fish.get(f"{FISH_URL}/model/{FISH_MODEL_ID}", json=fish_model())
    assert client.get_model(FISH_MODEL_ID)["_id"] == FISH_MODEL_ID
    assert slept == [4.0, 30.0]


def test_retries_are_bounded(client, fish, slept):
    fish.get(f"{FISH_URL}/model/{FISH_MODEL_ID}", status=429, json={"status": 429, "message": "slow down"})
    with pytest.raises(ProviderBusy) as caught:
        client.get_model(FISH_MODEL_ID)
    assert len(fish.calls) == 3 and len(slept) == 2
    assert caught.value.status == 503


def test_other_4xx_are_not_retried(client, fish):
    fish.get(f"{FISH_URL}/model/{FISH_MODEL_ID}", status=403, json={"status": 403, "message": "not yours"})
    with pytest.raises(ProviderError):
        client.get_model(FISH_MODEL_ID)
    assert len(fish.calls) == 1


def test_connect_timeout_is_retried_then_reported(client, fish):
    fish.get(f"{FISH_URL}/model/{FISH_MODEL_ID}", body=requests.exceptions.ConnectTimeout("x"))
    with pytest.raises(ProviderTimeout):
        client.get_model(FISH_MODEL_ID)
    assert len(fish.calls) == 3


def test_connection_refused_on_create_is_not_retried(client, fish):
    fish.post(f"{FISH_URL}/model", body=requests.exceptions.ConnectionError("reset"))
    with pytest.raises(ProviderUnavailable):
        client.create_model(title="t", voices=[("a.wav", b"RIFF", "audio/wav")])
    assert len(fish.calls) == 1


def test_dropped_stream_is_an_error(client, fish, monkeypatch):
    fish.post(f"{FISH_URL}/v1/tts", body=b"ID3" + b"x" * 100)

    def broken(self, chunk_size=1, decode_unicode=False):
        yield b"ID3xx"
        raise requests.exceptions.ChunkedEncodingError("connection broken")

    monkeypatch.setattr(requests.Response, "iter_content", broken)
    stream = client.tts(text="Hi", reference_id=None, fmt="mp3")
    assert next(stream) == b"ID3xx"
    with pytest.raises(ProviderError, match="dropped"):
        next(stream)


def test_the_key_never_appears_in_errors(client, fish):
    fish.post(f"{FISH_URL}/model", status=422, json=[{"loc": ["x"], "msg": f"bad key {FISH_KEY}", "type": "v"}])
    with pytest.raises(ProviderError) as caught:
        client.create_model(title="t", voices=[("a.wav", b"RIFF", "audio/wav")])
    assert FISH_KEY not in caught.value.message and "***" in caught.value.message


def test_delete_of_a_missing_model_is_voice_not_found(client, fish):
    fish.delete(f"{FISH_URL}/model/{FISH_MODEL_ID}", status=404, json={"status": 404, "message": "Not found"})
    with pytest.raises(ProviderVoiceNotFound) as raised:  # a provider error, not an HTTP error of Echo's
        client.delete_model(FISH_MODEL_ID)
    assert raised.value.status == 404 and raised.value.upstream_status == 404


def test_a_key_is_required():
    with pytest.raises(ValueError):
        FishAudioClient(api_key="")


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 422, 429, 500, 503])
def test_provider_errors_carry_the_upstream_status_and_request_id(client, fish, status):
    """Every answer Fish.Audio refuses becomes a provider error (never an HTTP error of Echo's own) that says what
    the provider answered, for the log line and support."""
    fish.get(
        f"{FISH_URL}/wallet/self/api-credit", status=status, json={"message": "no"}, headers={"x-request-id": "req-7"}
    )
    with pytest.raises(ProviderError) as raised:
        client.api_credit()
    assert raised.value.upstream_status == status and raised.value.request_id == "req-7"
