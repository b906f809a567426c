"""Echo's gunicorn worker: gunicorn's threaded worker with Echo's answers to malformed HTTP.

``gunicorn.conf.py`` selects it (``worker_class = "backend.server.EchoWorker"``). Against the stock worker it

- answers errors of the HTTP layer itself (a request line or headers too long, a malformed request line,
  Content-Length or chunked body...) in Echo's one JSON error shape,
  ``{"success": false, "error": "<code>", "message": "<plain words>"}``, never echoing what the client sent,
  and always closes the connection after them;
- turns a malformed chunked body met while the app reads it into a 400 of the app (not a 500), and never
  writes a second answer when a body left unread turns out malformed after the response;
- half-closes and drains a connection that is ending in its request thread, so a client that keeps its end
  open cannot hold up the worker's main loop (gunicorn does this in the main loop, for up to 2 s);
- escapes control characters in gunicorn's own log lines, so client text cannot start or forge a line.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
from http import HTTPStatus
from typing import Any

from gunicorn import util
from gunicorn.http import errors as http_errors
from gunicorn.workers.gthread import ThreadWorker

from backend.logs import install_gunicorn_log_escaping

# How long a closing connection is drained (for the client's unread bytes), and how much of it at most.
DRAIN_SECONDS = 1.0
DRAIN_MAX_BYTES = 65536


# -- the HTTP layer's errors ------------------------------------------------------------------------


def _classes(*names: str) -> tuple[type, ...]:
    """gunicorn's exception classes by name; one missing from this gunicorn version is left out."""
    return tuple(cls for cls in (getattr(http_errors, name, None) for name in names) if isinstance(cls, type))


BAD_CHUNKS = _classes("InvalidChunkSize", "ChunkMissingTerminator", "InvalidChunkExtension")
APP_FAULTS = _classes("InvalidResponseHeader", "InvalidResponseHeaderName")
BAD_REQUEST_LINE = _classes("InvalidRequestLine", "InvalidRequestMethod")
BAD_HEADER = _classes("InvalidHeader", "InvalidHeaderName", "ObsoleteFolding")
BAD_PROXY = _classes("InvalidProxyLine", "InvalidProxyHeader", "InvalidSchemeHeaders")
EXPECTATION_FAILED = _classes("ExpectationFailed")


def describe(exc: BaseException) -> tuple[int, str, str]:
    """(status, code, message) for an error the HTTP layer met; the message never quotes the client."""
    if isinstance(exc, APP_FAULTS):  # a header the application tried to send: ours, not the client's
        return 500, "internal_error", "Internal server error."
    if isinstance(exc, http_errors.LimitRequestLine):
        limit = exc.max_size if isinstance(getattr(exc, "max_size", None), int) else None
        longest = f" ({limit} bytes)" if limit else ""
        return 414, "uri_too_long", f"The request line (method, path and query) is longer than allowed{longest}."
    if isinstance(exc, http_errors.LimitRequestHeaders):
        return (
            431,
            "request_header_fields_too_large",
            "The request has too many header fields, or header fields larger than allowed.",
        )
    if isinstance(exc, BAD_HEADER):
        header = str(getattr(exc, "hdr", "")).upper()
        if header == "CONTENT-LENGTH":
            return 400, "bad_request", "The Content-Length header is malformed: send one whole number, once."
        if header == "TRANSFER-ENCODING":
            return 400, "bad_request", "The Transfer-Encoding header is malformed or contradicts Content-Length."
        return 400, "bad_request", "A request header is malformed."
    if isinstance(exc, BAD_REQUEST_LINE):
        return 400, "bad_request", "The request line is malformed: send METHOD /path HTTP/1.1."
    if isinstance(exc, http_errors.InvalidHTTPVersion):
        return 400, "bad_request", "The HTTP version is not supported: send HTTP/1.1 or HTTP/1.0."
    if isinstance(exc, BAD_CHUNKS):
        return 400, "bad_request", "The chunked request body is malformed."
    if isinstance(exc, http_errors.UnsupportedTransferCoding):
        return 501, "not_implemented", "The request's Transfer-Encoding is not supported; send chunked."
    if isinstance(exc, EXPECTATION_FAILED):
        return 417, "expectation_failed", "The request's Expect header cannot be met; only 100-continue can."
    if isinstance(exc, http_errors.ForbiddenProxyRequest):
        return 403, "forbidden", "Proxied requests from this address are not allowed."
    if isinstance(exc, BAD_PROXY):
        return 400, "bad_request", "The PROXY protocol line or the forwarded scheme headers are malformed."
    if isinstance(exc, ssl.SSLError):
        return 403, "forbidden", "The TLS connection could not be established."
    if isinstance(exc, http_errors.ConfigurationProblem):
        return 500, "internal_error", "Internal server error."
    if isinstance(exc, http_errors.ParseException):
        status = getattr(exc, "code", 400)
        if isinstance(status, int) and 400 <= status < 500:
            return status, "bad_request", "The request is malformed."
    return 500, "internal_error", "Internal server error."


def is_clients_fault(exc: BaseException) -> bool:
    """Whether the client sent something wrong (logged as a warning), rather than the server failing."""
    if isinstance(exc, (*APP_FAULTS, http_errors.ConfigurationProblem)):
        return False
    return isinstance(exc, (http_errors.ParseException, ssl.SSLError))


def json_error(status: int, code: str, message: str) -> bytes:
    """A whole HTTP/1.1 response in Echo's JSON error shape that closes the connection."""
    body = json.dumps({"success": False, "error": code, "message": message}, separators=(",", ":")).encode()
    reason = "URI Too Long" if status == 414 else HTTPStatus(status).phrase  # RFC 9110's name
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\n"
        "\r\n"
    )
    return head.encode("ascii") + body


def half_close_and_drain(sock: Any, seconds: float = DRAIN_SECONDS, limit: int = DRAIN_MAX_BYTES) -> None:
    """End a connection's writing now (the client sees EOF), read what it still sends for a moment (closing
    with unread bytes would reset the connection and could cut our last answer short), then stop reading.

    The socket stays open for gunicorn's own close, which then has nothing left to wait for.
    """
    try:
        if sock.fileno() == -1:
            return
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        return
    deadline = time.monotonic() + seconds
    drained = 0
    try:
        while drained < limit:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            sock.settimeout(remaining)
            data = sock.recv(4096)
            if not data:
                break
            drained += len(data)
    except (OSError, ValueError):
        pass
    finally:
        try:
            sock.shutdown(socket.SHUT_RD)
        except OSError:
            pass


# -- reading bodies ---------------------------------------------------------------------------------


class _CheckedInput:
    """``wsgi.input`` whose framing errors are the client's 400s, seen by the app as HTTP errors."""

    def __init__(self, stream: Any):
        self._stream = stream

    def _call(self, method: str, *args: Any) -> Any:
        from werkzeug.exceptions import BadRequest, RequestHeaderFieldsTooLarge

        try:
            return getattr(self._stream, method)(*args)
        except http_errors.ParseException as exc:
            status, _code, message = describe(exc)
            raise (RequestHeaderFieldsTooLarge if status == 431 else BadRequest)(message) from exc

    def read(self, *args: Any) -> bytes:
        return self._call("read", *args)

    def readline(self, *args: Any) -> bytes:
        return self._call("readline", *args)

    def readlines(self, *args: Any) -> list[bytes]:
        return self._call("readlines", *args)

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class CheckedBodies:
    """WSGI middleware: the request body is read through :class:`_CheckedInput`."""

    def __init__(self, app: Any):
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        stream = environ.get("wsgi.input")
        if stream is not None:
            environ["wsgi.input"] = _CheckedInput(stream)
        return self.app(environ, start_response)


# -- the worker -------------------------------------------------------------------------------------


class EchoWorker(ThreadWorker):
    """gunicorn's ``gthread`` worker (same settings) with the changes listed in this module's docstring."""

    def init_process(self) -> None:
        install_gunicorn_log_escaping()
        super().init_process()  # runs the worker; it must come last

    def load_wsgi(self) -> None:
        super().load_wsgi()
        app = self.wsgi
        if hasattr(app, "wsgi_app") and not isinstance(app.wsgi_app, CheckedBodies):
            app.wsgi_app = CheckedBodies(app.wsgi_app)  # self.wsgi stays the Flask app (warm_up reads it)

    def handle(self, conn: Any) -> Any:
        keepalive = super().handle(conn)
        if keepalive is False:  # gunicorn closes it next, in the main loop: leave that nothing to wait for
            half_close_and_drain(conn.sock)
        return keepalive

    def handle_request(self, req: Any, conn: Any) -> bool:
        keepalive = super().handle_request(req, conn)
        req.echo_answered = True  # a later error on this request (its unread body) must not answer again
        return keepalive

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        ip = (addr or ("", -1))[0]
        if getattr(req, "echo_answered", False):
            self.log.warning("Closing the connection from ip=%s after the response: %s", ip, exc)
            return
        status, code, message = describe(exc)
        if is_clients_fault(exc):
            self.log.warning("Invalid request from ip=%s: %s", ip, exc)
        elif hasattr(req, "uri") and hasattr(req, "method"):
            self.log.exception("Error handling request %s %s", req.method, req.uri)
        else:
            self.log.exception("Error handling request (no request read)")
        try:
            util.write_nonblock(client, json_error(status, code, message))
        except Exception:  # noqa: BLE001 - the client may be gone already
            self.log.debug("Failed to send error message.")
