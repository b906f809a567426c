"""Signed, short-lived links to generated audio, so an <audio> element can fetch it without a token."""

from __future__ import annotations

import os
import secrets
import tempfile
import threading
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner

from backend.errors import LinkRejected


class AudioLinks:
    """``/api/audio/<name>?sig=<time>.<signature>``: valid for ``ttl`` seconds, only for that file."""

    def __init__(self, secret: str | Callable[[], str], ttl: int):
        """``secret`` is the key, or a function that fetches it on first use (from the shared database)."""
        self._secret = secret
        self._signer: TimestampSigner | None = None
        self._lock = threading.Lock()
        self.ttl = ttl

    @property
    def signer(self) -> TimestampSigner:
        if self._signer is None:
            with self._lock:
                if self._signer is None:
                    secret = self._secret() if callable(self._secret) else self._secret
                    self._signer = TimestampSigner(secret, salt="echo-audio-link")
        return self._signer

    def url(self, name: str) -> str:
        signed = self.signer.sign(name).decode()
        return f"/api/audio/{name}?sig={signed[len(name) + 1 :]}"

    def check(self, name: str, sig: str | None) -> None:
        if not sig:
            raise LinkRejected("This audio link has no signature; use the audio_url that synthesize returned.")
        try:
            self.signer.unsign(f"{name}.{sig}", max_age=self.ttl)
        except SignatureExpired as exc:
            raise LinkRejected("This audio link has expired; synthesize the text again.") from exc
        except BadSignature as exc:
            raise LinkRejected() from exc


def load_secret(configured: str, data_dir: Path) -> str:
    """SECRET_KEY, or a random key kept in DATA_DIR/secret_key (created once, readable by the owner only)."""
    if configured:
        return configured
    path = Path(data_dir) / "secret_key"
    if not path.exists():
        # Write a complete key to a temporary file, then link it into place: concurrent starters agree on one key.
        fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=".secret_key.")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
            os.chmod(tmp, 0o600)
            with suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    return path.read_text().strip()
