"""Signed, short-lived links to generated audio, so an <audio> element can fetch it without a token."""

from __future__ import annotations

import os
import secrets
import tempfile
import threading
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from urllib.parse import quote

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner

from backend.errors import LinkRejected


class AudioLinks:
    """``/api/audio/<name>?sig=<time>.<signature>``: valid for ``ttl`` seconds, only for that file.

    A voice's own recording is linked alike, at ``/api/recording/<model id>?sig=...``, signed for another
    purpose (an audio link's signature does not open a recording, nor the other way round).
    """

    def __init__(self, secret: str | Callable[[], str], ttl: int):
        """``secret`` is the key, or a function that fetches it on first use (from the shared database)."""
        self._secret = secret
        self._signers: dict[str, TimestampSigner] = {}
        self._lock = threading.Lock()
        self.ttl = ttl

    def _signer(self, salt: str) -> TimestampSigner:
        signer = self._signers.get(salt)
        if signer is None:
            with self._lock:
                if salt not in self._signers:
                    secret = self._secret() if callable(self._secret) else self._secret
                    self._signers[salt] = TimestampSigner(secret, salt=salt)
                signer = self._signers[salt]
        return signer

    @property
    def signer(self) -> TimestampSigner:
        return self._signer(_AUDIO)

    def url(self, name: str) -> str:
        return f"/api/audio/{name}?sig={self._sign(_AUDIO, name)}"

    def recording_url(self, model_id: str) -> str:
        return f"/api/recording/{quote(model_id, safe='')}?sig={self._sign(_RECORDING, model_id)}"

    def check(self, name: str, sig: str | None) -> None:
        self._check(_AUDIO, name, sig, "synthesize the text again")

    def check_recording(self, model_id: str, sig: str | None) -> None:
        self._check(_RECORDING, model_id, sig, "ask for the recording again")

    def _sign(self, salt: str, value: str) -> str:
        return self._signer(salt).sign(value).decode()[len(value) + 1 :]

    def _check(self, salt: str, value: str, sig: str | None, again: str) -> None:
        if not sig:
            raise LinkRejected("This link has no signature; use the link the server gave.")
        try:
            self._signer(salt).unsign(f"{value}.{sig}", max_age=self.ttl)
        except SignatureExpired as exc:
            raise LinkRejected(f"This link has expired; {again}.") from exc
        except BadSignature as exc:
            raise LinkRejected() from exc


_AUDIO = "echo-audio-link"
_RECORDING = "echo-recording-link"


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
