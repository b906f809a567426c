"""A fake OpenAI-compatible chat server on a real loopback socket: streamed replies, latency, faults.

``POST /v1/chat/completions`` with ``"stream": true`` answers Server-Sent Events in the shape of OpenAI's
``chat.completion.chunk`` (a first chunk with the role, one chunk per token, a last chunk with
``finish_reason``, then ``data: [DONE]``); without ``stream`` it answers one ``chat.completion``. What it
says and how is set through ``FakeLLM.script`` (a :class:`Script`, or a list used one per request); every
request's JSON body is recorded in ``FakeLLM.requests``, so tests can assert what the model was sent.
Used by the reply tests and by bench/.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.helpers import LoopbackServer, QuietHandler


@dataclass
class Script:
    text: str = "Hello, dear. It is so good to hear from you."
    first_token_delay: float = 0.0  # seconds before the first token (after the headers)
    tokens_per_second: float = 0.0  # 0: as fast as possible
    status: int = 200  # a non-200 status answers with OpenAI's error shape instead of a reply
    error_message: str = "The model failed."
    headers: dict[str, str] = field(default_factory=dict)
    hang: float = 0.0  # seconds before answering anything (read timeouts)
    drop_after_tokens: int | None = None  # cut the connection after this many tokens, without [DONE]
    stop_without_finish: bool = False  # end the stream cleanly but with no finish_reason and no [DONE]
    # Hold the stream before token number ``hold_at`` until this is set (at most 30 s): a test acts mid-reply.
    hold: threading.Event | None = None
    hold_at: int = 1
    # Send this in place of a token's text (a number, a list...: a malformed answer), at token ``malformed_at``.
    malformed: object = None
    malformed_at: int = 0
    finish: str = "stop"  # the finish_reason of the last chunk ("length": the token budget ran out)


def tokens_of(text: str) -> list[str]:
    """The text as the pieces a model would stream: words with their leading space, punctuation apart."""
    return re.findall(r"\s*[\w']+|\s*[^\w\s]", text)


class FakeLLM(LoopbackServer):
    def __init__(self, model: str = "fake-model"):
        self.model = model
        self.script: Script | list[Script] = Script()
        self.requests: list[dict] = []
        self.headers: list[dict[str, str]] = []
        self.sent: list[float] = []  # when each token of the latest reply was written (time.perf_counter())
        self.disconnected = threading.Event()  # a client went away before the reply ended
        self._lock = threading.Lock()
        owner = self

        class Handler(QuietHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b"{}"
                body = json.loads(raw or b"{}")
                with owner._lock:
                    owner.requests.append(body)
                    owner.headers.append(dict(self.headers))
                if self.path.rstrip("/") != "/v1/chat/completions":
                    owner._error(self, 404, "Unknown path.")
                    return
                owner._answer(self, body, owner._next_script())

            def do_GET(self):  # noqa: N802
                if self.path.rstrip("/") == "/v1/models":
                    owner._json(self, 200, {"object": "list", "data": [{"id": owner.model, "object": "model"}]})
                else:
                    owner._error(self, 404, "Unknown path.")

        super().__init__(Handler)
        self.url = f"{self.origin}/v1"

    def _next_script(self) -> Script:
        with self._lock:
            if isinstance(self.script, list):
                return self.script.pop(0) if len(self.script) > 1 else self.script[0]
            return self.script

    # answers

    @staticmethod
    def _json(handler: BaseHTTPRequestHandler, status: int, payload: dict, headers: dict | None = None) -> None:
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(data)

    def _error(self, handler: BaseHTTPRequestHandler, status: int, message: str, headers: dict | None = None) -> None:
        kind = {401: "invalid_request_error", 429: "rate_limit_error"}.get(status, "server_error")
        self._json(handler, status, {"error": {"message": message, "type": kind, "code": None}}, headers)

    def _chunk(self, delta: dict, finish: str | None = None) -> bytes:
        payload = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(payload)}\n\n".encode()

    def _answer(self, handler: BaseHTTPRequestHandler, body: dict, script: Script) -> None:
        if script.hang:
            time.sleep(script.hang)
        if script.status != 200:
            self._error(handler, script.status, script.error_message, script.headers)
            return
        tokens = tokens_of(script.text)
        if not body.get("stream"):
            message = {"role": "assistant", "content": script.text}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            self._json(handler, 200, {"id": "chatcmpl-fake", "object": "chat.completion", "choices": [choice]})
            return
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Cache-Control", "no-cache")
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True
        sent: list[float] = []
        try:
            handler.wfile.write(self._chunk({"role": "assistant", "content": ""}))
            handler.wfile.flush()
            if script.first_token_delay:
                time.sleep(script.first_token_delay)
            gap = 1 / script.tokens_per_second if script.tokens_per_second else 0.0
            for index, token in enumerate(tokens):
                if script.drop_after_tokens is not None and index >= script.drop_after_tokens:
                    handler.connection.shutdown(socket.SHUT_RDWR)
                    return
                if index == script.hold_at and script.hold is not None and not script.hold.wait(30):
                    handler.connection.shutdown(socket.SHUT_RDWR)
                    return
                if index and gap:
                    time.sleep(gap)
                content = script.malformed if script.malformed is not None and index == script.malformed_at else token
                handler.wfile.write(self._chunk({"content": content}))
                handler.wfile.flush()
                sent.append(time.perf_counter())
            if script.stop_without_finish:
                return
            handler.wfile.write(self._chunk({}, finish=script.finish))
            handler.wfile.write(b"data: [DONE]\n\n")
            handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.disconnected.set()
        finally:
            with self._lock:
                self.sent = sent
