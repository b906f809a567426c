"""A fake Fish.Audio server on a real loopback socket: latency, chunked audio, errors, dropped connections.

Used by the fault tests and by bench/. Behaviour is set per path through ``FakeFish.plan``; every request
is recorded, and the highest number of requests in flight at once is tracked.
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.helpers import LoopbackServer, QuietHandler


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    first_byte_delay: float = 0.0  # seconds before the status line
    chunks: int = 1  # the body is sent in this many chunks (chunked encoding)
    chunk_delay: float = 0.0  # seconds between chunks
    drop_after_chunks: int | None = None  # close the socket mid-body after this many chunks
    hang: float = 0.0  # sleep this long before answering at all (read timeouts)
    # Send the first chunk, then hold the rest back until this is set (at most 30 s, then drop the connection):
    # lets a test act while the audio is still coming, without guessing how long that lasts.
    hold: threading.Event | None = None


def mp3_like(size: int = 20000) -> bytes:
    """Bytes that start like an MP3 (ID3 tag); enough for format checks and streaming."""
    return b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(size - 10)


class FakeFish(LoopbackServer):
    def __init__(self):
        self.plan: dict[str, list[Reply] | Reply] = {}
        self.requests: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        owner = self

        class Handler(QuietHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with owner._lock:
                    owner.in_flight += 1
                    owner.max_in_flight = max(owner.max_in_flight, owner.in_flight)
                    owner.requests.append(
                        {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
                    )
                try:
                    owner._respond(self, owner._reply_for(self.command, self.path))
                finally:
                    with owner._lock:
                        owner.in_flight -= 1

            do_GET = do_POST = do_DELETE = do_PATCH = _handle

        super().__init__(Handler)
        self.url = self.origin

    def calls(self, method: str, path_prefix: str) -> list[dict]:
        return [r for r in self.requests if r["method"] == method and r["path"].startswith(path_prefix)]

    def _reply_for(self, method: str, path: str) -> Reply:
        key = f"{method} {path.split('?')[0]}"
        planned = self.plan.get(key)
        if planned is None and method == "DELETE" and path.startswith("/model/"):
            planned = self.plan.get("DELETE /model/*")
        if isinstance(planned, list):
            with self._lock:
                return planned.pop(0) if len(planned) > 1 else planned[0]
        if planned is not None:
            return planned
        if key == "POST /model":
            model = {"_id": secrets.token_hex(16), "state": "trained", "visibility": "private", "train_mode": "fast"}
            return Reply(status=201, body=json.dumps(model).encode())
        if key == "POST /v1/tts":
            return Reply(body=mp3_like(), content_type="audio/mpeg", chunks=4)
        if method == "DELETE" and path.startswith("/model/"):
            return Reply(body=b"{}")
        if key == "GET /wallet/self/api-credit":
            return Reply(body=b'{"credit": "10.00"}')
        return Reply(status=404, body=b'{"status": 404, "message": "Not found"}')

    @staticmethod
    def _respond(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        if reply.hang:
            time.sleep(reply.hang)
        if reply.first_byte_delay:
            time.sleep(reply.first_byte_delay)
        handler.send_response(reply.status)
        handler.send_header("Content-Type", reply.content_type)
        for key, value in reply.headers.items():
            handler.send_header(key, value)
        if reply.chunks <= 1 and reply.drop_after_chunks is None:
            handler.send_header("Content-Length", str(len(reply.body)))
            handler.end_headers()
            handler.wfile.write(reply.body)
            return
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        size = max(1, -(-len(reply.body) // reply.chunks))
        for index, start in enumerate(range(0, len(reply.body), size)):
            if reply.drop_after_chunks is not None and index >= reply.drop_after_chunks:
                handler.wfile.flush()
                handler.connection.shutdown(socket.SHUT_RDWR)
                handler.close_connection = True
                return
            if index == 1 and reply.hold is not None and not reply.hold.wait(30):
                handler.connection.shutdown(socket.SHUT_RDWR)
                handler.close_connection = True
                return
            if index and reply.chunk_delay:
                time.sleep(reply.chunk_delay)
            piece = reply.body[start : start + size]
            handler.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            handler.wfile.flush()
        handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()
