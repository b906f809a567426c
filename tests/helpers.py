"""Helpers the tests share: test data, generated audio, requests to the API, fake upstreams' constants, ports and
servers, processes, and waiting for an event with a deadline. Fixtures live in conftest.py; the fake
Fish.Audio server is tests/fake_fish.py (bench/ uses it too)."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import av
import jwt
import mongomock
import numpy as np
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pymongo.errors import ServerSelectionTimeoutError
from urllib3 import encode_multipart_formdata

from backend import audio

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"  # recordings: flite's slt and awb voices (bench_likeness uses both)
E2E_ARTIFACTS = REPO / "artifacts" / "e2e"  # what browser tests leave to look at: screenshots, the server's log

# -- test data --------------------------------------------------------------------------------------


def reference_voice() -> Path:
    """A voice to clone: 12 s of speech in flite's US English female voice "slt", 16 kHz mono 16-bit WAV."""
    return DATA / "slt_female_us.wav"


# -- generated audio, in every container Echo accepts -------------------------------------------------

# container format, codec, file extension
CONTAINERS = {
    "wav": ("wav", "pcm_s16le", "wav"),
    "mp3": ("mp3", "libmp3lame", "mp3"),
    "m4a": ("ipod", "aac", "m4a"),
    "ogg": ("ogg", "libopus", "ogg"),
    "webm": ("webm", "libopus", "webm"),
    "flac": ("flac", "flac", "flac"),
}


def voice_like(seconds: float, rate: int = 16000, f0: float = 140.0, seed: int = 0) -> np.ndarray:
    """A buzzy, syllable-modulated harmonic tone: decodes like speech-ish audio, deterministic."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    pitch = f0 * (1 + 0.05 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    tone = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3.0 * t) ** 2
    signal = 0.2 * tone * envelope + 0.01 * rng.standard_normal(t.size)
    return signal.astype(np.float32)


def encode(samples: np.ndarray, rate: int, kind: str) -> bytes:
    """Encode mono float32 samples into one of CONTAINERS."""
    container_format, codec, _ = CONTAINERS[kind]
    codec_rate = 48000 if codec == "libopus" else rate
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container_format) as container:
        stream = container.add_stream(codec, rate=codec_rate, layout="mono")
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout="mono", rate=codec_rate)
        fifo = av.AudioFifo()
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = rate
        for out in resampler.resample(frame) + resampler.resample(None):
            fifo.write(out)
        size = stream.codec_context.frame_size or 1024
        while fifo.samples:
            chunk = fifo.read(min(size, fifo.samples))
            if chunk.samples < size and codec == "libopus":
                break
            chunk.pts = None
            for packet in stream.encode(chunk):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def audio_file(kind: str = "wav", seconds: float = 6.0, **kwargs) -> bytes:
    return encode(voice_like(seconds, **kwargs), kwargs.get("rate", 16000), kind)


# Half a second of silence as Echo encodes MP3: a well-formed reply for a faked text-to-speech call.
MP3_BYTES = audio.encode(np.zeros(8000, dtype=np.float32), 16000, "mp3")


def collect_stream(stream) -> tuple[bytes, int]:
    """A provider's SynthesisStream read to its end: (all its bytes, how many chunks they came in)."""
    chunks = list(stream.chunks)
    return b"".join(chunks), len(chunks)


# -- Fish.Audio (mocked with responses, or tests/fake_fish.py) -----------------------------------------

FISH_URL = "https://fish.test"
FISH_KEY = "test-key-not-a-secret-0123456789"
FISH_MODEL_ID = "0123456789abcdef0123456789abcdef"


def fish_model(model_id: str = FISH_MODEL_ID, **extra) -> dict:
    body = {
        "_id": model_id,
        "type": "tts",
        "title": "Grandma",
        "state": "trained",
        "train_mode": "fast",
        "visibility": "private",
        "created_at": "2026-11-24T10:00:00Z",
    }
    body.update(extra)
    return body


def multipart_fields(request) -> list[tuple[str, str | bytes, str | None]]:
    """(name, value, filename) of every part of a multipart request, in order."""
    head = f"Content-Type: {request.headers['Content-Type']}\r\n\r\n".encode()
    body = request.body if isinstance(request.body, bytes) else request.body.read()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    parts = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        payload = part.get_payload(decode=True)
        parts.append((name, payload if filename else payload.decode(), filename))
    return parts


# -- the API through Flask's test client ------------------------------------------------------------


def upload(client, data: bytes, *, filename: str = "voice.wav", headers: dict | None = None, **fields):
    """POST a multipart upload (encoded here: Werkzeug's test encoder leaks a temp file for large bodies)."""
    fields.setdefault("consent", "true")
    form = {"audio": (filename, data, "application/octet-stream")}
    form.update({k: v for k, v in fields.items() if v is not None})
    body, content_type = encode_multipart_formdata(form)
    return client.post("/api/upload-reference", data=body, content_type=content_type, headers=headers)


def fetch(client, url: str, **kwargs):
    """GET a (file) response, read it and close it; returns (response, body)."""
    response = client.get(url, **kwargs)
    try:
        return response, response.get_data()
    finally:
        response.close()


def local_app(data_dir: Path, **config):
    """An app on the offline local engine (no Fish.Audio key, so no network), its database in mongomock."""
    from backend.api_server import create_app  # here: bench/ imports this module without wanting the app

    settings = {"DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING", **config}
    return create_app(settings, environ={}, db_client=mongomock.MongoClient(tz_aware=True))


def background_syntheses(app, monkeypatch) -> list[threading.Thread]:
    """The threads that finish ``app``'s progressive syntheses from now on, to join instead of sleeping."""
    speech = app.extensions["echo"].speech
    threads: list[threading.Thread] = []
    start = speech.finish_in_background

    def tracked(job):
        thread = start(job)
        threads.append(thread)
        return thread

    monkeypatch.setattr(speech, "finish_in_background", tracked)
    return threads


def join_all(threads: list[threading.Thread], timeout: float = 30.0) -> None:
    """Wait for ``threads`` to end; fail if one is still running after ``timeout`` seconds in all."""
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
        assert not thread.is_alive(), f"{thread.name} still running after {timeout:g} s"


# -- files ------------------------------------------------------------------------------------------


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []


def names_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def backdate(path: Path, seconds: float) -> None:
    """Make ``path`` look ``seconds`` old (its access and modification times)."""
    moment = time.time() - seconds
    os.utime(path, (moment, moment))


# -- waiting for an event, with a deadline --------------------------------------------------------


def wait_until(predicate: Callable[[], Any], what: str, timeout: float = 10.0, poll: float = 0.01) -> Any:
    """Poll ``predicate`` until it returns something true, and return that; fail after ``timeout`` seconds.

    The deadline is generous: only a broken feature makes a test wait this long."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting until {what}")
        time.sleep(poll)


# -- ports and servers on loopback ----------------------------------------------------------------


def free_port() -> int:
    """A loopback port nobody listens on right now, for a server to take."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def closed_port() -> int:
    """A loopback port nothing listens on: connections to it are refused (an unreachable server)."""
    return free_port()


def wait_for(url: str, timeout: float = 90.0, process: subprocess.Popen | None = None) -> None:
    """Wait until ``url`` answers (below 500); fail if ``process`` exits first or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


# -- databases ------------------------------------------------------------------------------------


class GridMongoClient(mongomock.MongoClient):
    """mongomock plus the client option pymongo's gridfs reads (its client-side operation timeout)."""

    options = SimpleNamespace(timeout=None)


class FlakyClient:
    """A mongomock client whose collections fail like an unreachable server (the driver's own
    ServerSelectionTimeoutError) while ``down`` is set."""

    def __init__(self):
        self.real = mongomock.MongoClient(tz_aware=True)
        self.down = False

    def __getitem__(self, name):
        return FlakyDatabase(self, self.real[name])


class FlakyDatabase:
    def __init__(self, owner, real):
        self.owner, self.real = owner, real

    def __getitem__(self, name):
        return FlakyCollection(self.owner, self.real[name])

    __getattr__ = __getitem__


class FlakyCollection:
    def __init__(self, owner, real):
        self.owner, self.real = owner, real

    def __getattr__(self, name):
        method = getattr(self.real, name)

        def call(*args, **kwargs):
            if self.owner.down:
                raise ServerSelectionTimeoutError("no servers")
            return method(*args, **kwargs)

        return call


# -- sign-in: RS256 keys and a key set served on loopback ---------------------------------------------

ISSUER = "https://issuer.test/"
AUDIENCE = "https://api.echo.test"


class KeyPair:
    def __init__(self, kid: str):
        self.kid = kid
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        self.jwk.update(kid=kid, use="sig", alg="RS256")

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler speaking HTTP/1.1 that keeps out of the test output."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass


class LoopbackServer:
    """An HTTP server on a free port of 127.0.0.1, answering from daemon threads until ``close()``."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class JWKSServer(LoopbackServer):
    """A real HTTP server on loopback that serves a key set and counts how often it was asked."""

    def __init__(self):
        self.keys: list[dict] = []
        self.hits = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                owner.hits += 1
                body = json.dumps({"keys": owner.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        super().__init__(Handler)
        self.url = f"{self.origin}/.well-known/jwks.json"


def token(key: KeyPair, sub: str = "auth0|alice", **overrides) -> str:
    now = int(time.time())
    email = f"{sub.split('|')[-1]}@ex.com" if sub else None
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + 600, "email": email}
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, key.private, algorithm="RS256", headers={"kid": key.kid})


def bearer(value: str) -> dict:
    return {"Authorization": f"Bearer {value}"}


# -- processes writing scratch files, and killing them ----------------------------------------------

SCRATCH_WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[2])
    from backend.storage.files import FileStore

    store = FileStore(sys.argv[1])
    if sys.argv[3] == "upload":  # an upload being checked
        with store.scratch.temporary(".upload") as path:
            path.write_bytes(b"half an upload")
            print(path.name, flush=True)
            sys.stdin.readline()
    else:  # audio being written: more on "write", done on "commit"
        out = store.new_output("mp3")
        out.write(b"ID3" + bytes(2000))
        print(out.name, flush=True)
        for line in sys.stdin:
            if line.strip() == "write":
                out.write(bytes(3000))
                print("written", flush=True)
            elif line.strip() == "commit":
                out.commit()
                print("committed", flush=True)
                break
    """
)


def scratch_writer(data: Path, kind: str) -> tuple[subprocess.Popen, str]:
    """A process writing a temporary under data/tmp (holding its lock); returns it and the name it writes."""
    process = subprocess.Popen(
        [sys.executable, "-c", SCRATCH_WRITER, str(data), str(REPO), kind],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    name = process.stdout.readline().strip()
    assert name, "the writer did not start"
    return process, name


def kill(process: subprocess.Popen) -> None:
    """SIGKILL ``process``, reap it and close its pipes."""
    process.send_signal(signal.SIGKILL)
    process.wait()
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            stream.close()


def started_on_cue(script: str, *args: str) -> subprocess.Popen:
    """A Python child running ``script``, which prints "ready" and then waits for a line on stdin (see cue)."""
    return subprocess.Popen(
        [sys.executable, "-c", script, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def cue(child: subprocess.Popen) -> None:
    """Wait until a child started with started_on_cue is ready, then let it go on."""
    assert child.stdout.readline().strip() == "ready"
    child.stdin.write("go\n")
    child.stdin.flush()
