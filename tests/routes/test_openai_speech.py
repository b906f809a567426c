"""The OpenAI-compatible speech API (/v1): the real ``openai`` SDK, plain HTTP with a bearer key (as Home Assistant
sends it) and Server-Sent Events against a real server on loopback with the offline voice engine; every format
playable, streamed and not; another person's voice is a 404, a revoked key a 401 at once; errors in OpenAI's shape."""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import av
import openai
import pytest
import requests
from werkzeug.serving import make_server

from backend.audio import inspect
from backend.routes.openai_speech import MEDIA_TYPES
from tests.helpers import free_port, local_app, reference_voice, upload

FORMATS = ["mp3", "opus", "aac", "flac", "wav", "pcm"]
TEXT = "Good morning, love. The kettle is on."


class Household:
    """A server on loopback with one person's voice, echo and key (and another person's voice)."""

    def __init__(self, data_dir: Path):
        self.app = local_app(data_dir, SYNTHESIZE_RATE_LIMIT="100000 per minute")
        self.client = self.app.test_client()
        port = free_port()
        self.server = make_server("127.0.0.1", port, self.app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{port}"
        self.user = self.client.post("/api/users/local|rose-family").json["user"]
        self.voice = self.clone(self.user, "Grandma Rose")
        echo = self.client.post(
            "/api/echo", json={"user_id": self.user, "name": "Gran", "voice_model_id": self.voice}
        ).json["echo"]
        self.echo = str(echo["_id"])
        self.key = self.new_key(self.user, "Kitchen speaker")
        self.other = self.client.post("/api/users/local|neighbour").json["user"]
        self.other_voice = self.clone(self.other, "Not yours")
        self.other_key = self.new_key(self.other, "Neighbour's speaker")

    def clone(self, user: str, name: str) -> str:
        response = upload(self.client, reference_voice().read_bytes(), name=name, user_id=user)
        assert response.status_code == 201, response.json
        return response.json["model_id"]

    def new_key(self, user: str, name: str) -> str:
        response = self.client.post("/api/api-keys", json={"user_id": user, "name": name})
        assert response.status_code == 201, response.json
        return response.json["key"]

    def sdk(self, key: str | None = None) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=key or self.key, max_retries=0, timeout=60)

    def post(self, body: dict, key: str | None = None, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {key or self.key}"}
        return requests.post(f"{self.url}/v1/audio/speech", json=body, headers=headers, timeout=60, **kwargs)

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Iterator[Household]:
    household = Household(tmp_path_factory.mktemp("openai-speech"))
    yield household
    household.close()


def seconds_of(data: bytes, fmt: str, tmp_path: Path) -> float:
    """How long the audio plays, read back by the decoder (raw PCM: 24 kHz 16-bit mono)."""
    if fmt == "pcm":
        return len(data) / 2 / 24000
    path = tmp_path / f"speech.{fmt}"
    path.write_bytes(data)
    return inspect(path, max_seconds=120).duration


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_openai_sdk_gets_playable_audio_in_every_format(home, tmp_path, fmt):
    answer = home.sdk().audio.speech.create(model="tts-1", voice=home.voice, input=TEXT, response_format=fmt)
    data = answer.read()
    assert 1.0 < seconds_of(data, fmt, tmp_path) < 8.0


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_sdk_streams_the_audio_as_it_is_produced(home, tmp_path, fmt):
    create = home.sdk().audio.speech.with_streaming_response.create
    with create(model="echo-tts", voice={"id": home.voice}, input=TEXT, response_format=fmt) as response:
        assert response.headers["content-type"].startswith(MEDIA_TYPES[fmt])
        assert response.headers.get("transfer-encoding") == "chunked"  # sent as produced, not buffered
        pieces = list(response.iter_bytes())
    assert 1.0 < seconds_of(b"".join(pieces), fmt, tmp_path) < 8.0
    if fmt == "pcm":
        assert response.headers["x-sample-rate"] == "24000"


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_home_assistant_style_client_with_plain_http_and_an_echo_as_the_voice(home, tmp_path, fmt):
    response = home.post({"model": "tts-1", "input": TEXT, "voice": home.echo, "response_format": fmt})
    assert response.status_code == 200 and response.headers["Content-Type"] == MEDIA_TYPES[fmt]
    assert 1.0 < seconds_of(response.content, fmt, tmp_path) < 8.0


def test_server_sent_events_carry_base64_audio_then_done(home, tmp_path):
    body = {"model": "tts-1", "input": TEXT, "voice": home.voice, "response_format": "opus", "stream_format": "sse"}
    response = home.post(body, stream=True)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/event-stream")
    events = [json.loads(line[len("data: ") :]) for line in response.iter_lines(decode_unicode=True) if line]
    assert [e["type"] for e in events][-1] == "speech.audio.done"
    deltas = [e for e in events if e["type"] == "speech.audio.delta"]
    assert len(deltas) >= 1
    data = b"".join(base64.b64decode(e["audio"]) for e in deltas)
    assert 1.0 < seconds_of(data, "opus", tmp_path) < 8.0


@pytest.mark.parametrize("speed", [0.5, 2.0])
def test_speed_changes_the_length_not_the_words(home, tmp_path, speed):
    normal = home.post({"model": "tts-1", "input": TEXT, "voice": home.voice, "response_format": "pcm"})
    paced = home.post({"model": "tts-1", "input": TEXT, "voice": home.voice, "response_format": "pcm", "speed": speed})
    ratio = seconds_of(normal.content, "pcm", tmp_path) / seconds_of(paced.content, "pcm", tmp_path)
    assert ratio == pytest.approx(speed, rel=0.1)


def test_another_persons_voice_or_echo_is_not_found(home):
    for voice in (home.other_voice, home.echo):
        key = home.key if voice == home.other_voice else home.other_key
        response = home.post({"model": "tts-1", "input": "Hello.", "voice": voice}, key=key)
        assert response.status_code == 404
        assert response.json()["error"]["param"] == "voice"
    with pytest.raises(openai.NotFoundError):
        home.sdk().audio.speech.create(model="tts-1", voice=home.other_voice, input="Hello.")


def test_a_revoked_key_is_refused_at_once(home):
    key = home.new_key(home.user, "Soon revoked")
    assert home.post({"model": "tts-1", "input": "Hi.", "voice": home.voice, "response_format": "pcm"}, key=key).ok
    listed = home.client.get("/api/api-keys", query_string={"user_id": home.user}).json["api_keys"]
    key_id = next(k["_id"] for k in listed if k["name"] == "Soon revoked")
    assert home.client.delete(f"/api/api-keys/{key_id}", query_string={"user_id": home.user}).status_code == 200
    refused = home.post({"model": "tts-1", "input": "Hi.", "voice": home.voice}, key=key)
    assert refused.status_code == 401 and refused.json()["error"]["type"] == "authentication_error"
    with pytest.raises(openai.AuthenticationError):
        home.sdk(key).audio.speech.create(model="tts-1", voice=home.voice, input="Hi.")


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"model": "whisper-1"}, "model"),
        ({"model": None}, "model"),
        ({"input": ""}, "input"),
        ({"input": "x" * 4097}, "input"),
        ({"input": 5}, "input"),
        ({"voice": ""}, "voice"),
        ({"voice": {"name": "x"}}, "voice"),
        ({"voice": ["a"]}, "voice"),
        ({"response_format": "ogg"}, "response_format"),
        ({"speed": 0.2}, "speed"),
        ({"speed": 4.5}, "speed"),
        ({"speed": "fast"}, "speed"),
        ({"speed": True}, "speed"),
        ({"stream_format": "chunks"}, "stream_format"),
        ({"instructions": 7}, "instructions"),
    ],
)
def test_bad_requests_are_400_in_openais_shape(home, change, param):
    body = {"model": "tts-1", "input": "Hello.", "voice": home.voice, **change}
    response = home.post(body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param and error["message"]


def test_unknown_voices_are_404_with_the_way_to_find_yours(home):
    response = home.post({"model": "tts-1", "input": "Hello.", "voice": "alloy"})
    assert response.status_code == 404 and "/v1/audio/voices" in response.json()["error"]["message"]


def test_models_and_voices_are_listed_for_the_key(home):
    models = home.sdk().models.list()
    assert {m.id for m in models.data} >= {"echo-tts", "tts-1", "tts-1-hd", "gpt-4o-mini-tts"}
    headers = {"Authorization": f"Bearer {home.key}"}
    voices = requests.get(f"{home.url}/v1/audio/voices", headers=headers, timeout=10).json()
    ids = {v["id"]: v for v in voices["data"]}
    assert home.voice in ids and home.echo in ids and home.other_voice not in ids
    assert ids[home.voice]["name"] == "Grandma Rose" and ids[home.echo]["voice_id"] == home.voice
    assert voices["voices"] == voices["data"]  # the shape some front-ends read
    audio_models = requests.get(f"{home.url}/v1/audio/models", headers=headers, timeout=10).json()
    assert {"id": "tts-1"} in audio_models["models"]


@pytest.mark.parametrize("path", ["/v1/models", "/v1/audio/voices", "/v1/audio/speech"])
def test_v1_needs_a_key_even_in_local_mode(home, path):
    method = requests.post if path.endswith("speech") else requests.get
    for headers in ({}, {"Authorization": "Bearer echo_not-a-real-key"}, {"Authorization": "Basic abc"}):
        response = method(f"{home.url}{path}", headers=headers, timeout=10)
        assert response.status_code == 401, (path, headers)
        assert response.json()["error"]["type"] == "authentication_error"


def test_what_the_api_spoke_is_in_the_persons_history(home):
    home.post({"model": "tts-1", "input": "For the history.", "voice": home.echo, "response_format": "mp3"})
    items = home.client.get("/api/speech-history", query_string={"user_id": home.user}).json["items"]
    entry = next(i for i in items if i["text"] == "For the history.")
    assert entry["echo_id"] == home.echo and entry["voice_model_id"] == home.voice


# -- found by a hostile review ------------------------------------------------------------------------


def samples_in(data: bytes, fmt: str) -> tuple[int, int]:
    """(decoded samples, their rate) of an answer; raises when it is not decodable audio."""
    if fmt == "pcm":
        return len(data) // 2, 24000
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        return sum(frame.samples for frame in container.decode(stream)), stream.codec_context.sample_rate


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("speed", [0.25, 4.0])
def test_very_short_input_at_extreme_speeds_is_playable_audio_of_the_right_length(home, fmt, speed):
    """FFmpeg's atempo holds back up to a window of input per stage and drops it at the end of a stream: "." at
    4.0 was a 200 with no audio at all, and at 0.25 half of what it should be."""
    normal = home.post({"model": "tts-1", "input": ".", "voice": home.voice, "response_format": "pcm"})
    seconds = len(normal.content) / 2 / 24000  # what the engine says at speed 1.0
    paced = home.post({"model": "tts-1", "input": ".", "voice": home.voice, "response_format": fmt, "speed": speed})
    assert paced.status_code == 200 and paced.content, "200 with an empty body"
    count, rate = samples_in(paced.content, fmt)
    assert count > 0, "no audio in the answer"
    # encoders add a frame or two of delay and padding (aac: 2048 samples, mp3: about 2300)
    assert count / rate == pytest.approx(seconds / speed, rel=0.1, abs=0.1)


def test_v1_itself_answers_errors_in_openais_shape(home):
    response = requests.get(f"{home.url}/v1", headers={"Authorization": f"Bearer {home.key}"}, timeout=10)
    assert response.status_code == 404
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}
