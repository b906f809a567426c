"""A fake fish-speech API server on a real loopback socket, answering as fish-speech's ``tools/api_server.py``
does (routes in its ``tools/server/views.py``, request schema in ``fish_speech/utils/schema.py``):

- ``GET /v1/health`` -> ``{"status": "ok"}``
- ``POST /v1/tts`` with a ``ServeTTSRequest`` as JSON (msgpack is refused here with 415: Echo sends JSON);
  ``references[].audio`` in base64 is decoded as the real schema's validator does (strings over 255 characters).
  Streaming (WAV only, else 400 "Streaming only supports WAV format") sends 16-bit mono PCM, one chunk per
  segment, with no WAV header, as the real server does (its header is lost on the way); ``stream_header`` sends
  one first (what it means to do). Not streaming, a whole WAV file.
- a text over ``max_text_length`` -> 400; with ``api_key`` set, a missing or wrong bearer token -> 401; errors in
  the server's shape ``{"statusCode", "message", "error"}``.

Faults are scripted per route through ``plan`` with tests/fake_fish.py's ``Reply`` (status, delays, chunks,
dropped connections); every request is recorded with its parsed JSON body.
"""

from __future__ import annotations

import base64
import binascii
import json
import socket
import sys
import threading
from dataclasses import dataclass, field
from http import HTTPStatus

import numpy as np

from backend import audio
from tests.fake_fish import FakeFish, Reply
from tests.helpers import LoopbackServer, QuietHandler

SAMPLE_RATE = 44100  # the rate of fish-speech's codecs (modded_dac_vq.yaml)
SECONDS_PER_CHARACTER = 0.04
FORMATS = ("wav", "pcm", "mp3", "opus")


@dataclass
class Heard:
    """One request as the fake understood it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: dict | None = None
    references: list[dict] = field(default_factory=list)  # [{"audio": bytes, "text": str}]


def speech(text: str, rate: int = SAMPLE_RATE) -> np.ndarray:
    """What the fake says for ``text``: a tone as long as the text (at least half a second), deterministic."""
    seconds = max(0.5, len(text) * SECONDS_PER_CHARACTER)
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 220.0 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 2.0 * t))).astype(np.float32)


def pcm16(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()


class FakeFishSpeech(LoopbackServer):
    def __init__(self, *, api_key: str | None = None, max_text_length: int = 0):
        self._lock = threading.Lock()
        self.reset(api_key=api_key, max_text_length=max_text_length)
        owner = self

        class Handler(QuietHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                heard = Heard(self.command, self.path, dict(self.headers), body)
                with owner._lock:
                    owner.requests.append(heard)
                owner._serve(self, heard)

            do_GET = do_POST = do_DELETE = do_PUT = _handle

        super().__init__(Handler)
        self.url = self.origin
        report = self.httpd.handle_error

        def handle_error(request, client_address):
            if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that left is no error of the fake's
                report(request, client_address)

        self.httpd.handle_error = handle_error

    def reset(self, *, api_key: str | None = None, max_text_length: int = 0) -> None:
        """Back to a plain server (started with ``--api-key`` and ``--max-text-length`` as given), nothing heard."""
        if getattr(self, "hold", None) is not None:
            self.hold.set()  # let a held answer finish
        self.api_key = api_key
        self.max_text_length = max_text_length
        self.sample_rate = SAMPLE_RATE
        self.channels = 1
        self.stream_header = False  # send a WAV header before the streamed PCM (the real server loses it)
        self.segments = 3  # streamed chunks (fish-speech sends one per group of sentences)
        self.segment_delay = 0.0
        # Send the first segment, then hold the rest back until this is set (at most 30 s, then drop the
        # connection): lets a test see audio arrive while the rest is still being made.
        self.hold: threading.Event | None = None
        self.plan: dict[str, list[Reply] | Reply] = {}
        self.requests: list[Heard] = []

    def calls(self, method: str, path: str) -> list[Heard]:
        return [r for r in self.requests if r.method == method and r.path.split("?")[0] == path]

    @property
    def tts_calls(self) -> list[Heard]:
        return self.calls("POST", "/v1/tts")

    # -- answering

    def _planned(self, key: str) -> Reply | None:
        planned = self.plan.get(key)
        if isinstance(planned, list):
            with self._lock:
                return planned.pop(0) if len(planned) > 1 else planned[0]
        return planned

    def _serve(self, handler, heard: Heard) -> None:
        key = f"{heard.method} {heard.path.split('?')[0]}"
        if self.api_key is not None and heard.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self._error(handler, 401, "Invalid token")
        if key == "POST /v1/tts":
            self._parse_tts(heard)  # recorded whatever is planned, so tests see what was sent
        planned = self._planned(key)
        if planned is not None:
            return FakeFish._respond(handler, planned)
        if key == "GET /v1/health" or key == "POST /v1/health":
            return self._json(handler, 200, {"status": "ok"})
        if key == "POST /v1/tts":
            return self._tts(handler, heard)
        return self._error(handler, 404, "Not Found")

    def _parse_tts(self, heard: Heard) -> None:
        if heard.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            return
        try:
            heard.json = json.loads(heard.body)
        except ValueError:
            return
        for ref in heard.json.get("references") or []:
            data = ref.get("audio") if isinstance(ref, dict) else None
            if isinstance(data, str) and len(data) > 255:  # as ServeReferenceAudio.decode_audio does
                try:
                    data = base64.b64decode(data)
                except (binascii.Error, ValueError):
                    pass
            heard.references.append({"audio": data, "text": ref.get("text") if isinstance(ref, dict) else None})

    def _tts(self, handler, heard: Heard) -> None:
        content_type = heard.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type != "application/json":
            return self._error(handler, 415, None)
        req = heard.json
        if not isinstance(req, dict) or not isinstance(req.get("text"), str):
            return self._json(handler, 422, [{"loc": ["text"], "msg": "field required", "type": "missing"}])
        fmt = req.get("format", "wav")
        if fmt not in FORMATS:
            return self._json(handler, 422, [{"loc": ["format"], "msg": "unexpected value", "type": "literal"}])
        if self.max_text_length > 0 and len(req["text"]) > self.max_text_length:
            return self._error(handler, 400, f"Text is too long, max length is {self.max_text_length}")
        streaming = bool(req.get("streaming", False))
        if streaming and fmt != "wav":
            return self._error(handler, 400, "Streaming only supports WAV format")
        samples = speech(req["text"], self.sample_rate)
        if not streaming:
            body = audio.encode(samples, self.sample_rate, fmt) if fmt != "pcm" else pcm16(samples)
            return FakeFish._respond(
                handler, Reply(body=body, content_type="audio/wav" if fmt == "wav" else "application/octet-stream")
            )
        frames = np.repeat(samples.reshape(-1, 1), self.channels, axis=1)  # interleaved, whole frames per piece
        pieces = [pcm16(part.reshape(-1)) for part in np.array_split(frames, self.segments) if part.size]
        if self.stream_header:
            pieces.insert(0, audio.wav_header(self.sample_rate, 0, channels=self.channels))
        handler.send_response(200)
        handler.send_header("Content-Type", "audio/wav")
        handler.send_header("Content-Disposition", "attachment; filename=audio.wav")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        for index, piece in enumerate(pieces):
            if index == 1 and self.hold is not None and not self.hold.wait(30):
                handler.connection.shutdown(socket.SHUT_RDWR)
                handler.close_connection = True
                return
            if index and self.segment_delay:
                threading.Event().wait(self.segment_delay)
            handler.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            handler.wfile.flush()
        handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()

    @staticmethod
    def _json(handler, status: int, payload) -> None:
        FakeFish._respond(handler, Reply(status=status, body=json.dumps(payload).encode()))

    @classmethod
    def _error(cls, handler, status: int, message: str | None) -> None:
        """An error as fish-speech's ExceptionHandler shapes it."""
        phrase = HTTPStatus(status).phrase
        cls._json(handler, status, {"statusCode": status, "message": message or phrase, "error": phrase})


def error_body(status: int, message: str) -> bytes:
    """A planned error's body in fish-speech's shape."""
    return json.dumps({"statusCode": status, "message": message, "error": HTTPStatus(status).phrase}).encode()
