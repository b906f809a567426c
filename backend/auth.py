"""Who is calling: verified bearer tokens (Auth0 or any OIDC provider), personal API keys on /v1, or the
seed's local mode."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import jwt
from bson import ObjectId
from flask import Flask, g, request

from backend.config import Settings
from backend.errors import ServiceUnavailable, Unauthorized
from backend.extensions import is_public
from backend.services import services
from backend.services.api_keys import ApiKeys, is_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Caller:
    """The verified caller: a signed-in person, or (on /v1) the owner of the personal API key sent."""

    user_id: ObjectId
    auth0_id: str
    key_id: ObjectId | None = None  # the API key that authenticated the request, if one did


class TokenVerifier:
    """Checks RS256 access tokens against the provider's JWKS.

    The key set is fetched once and cached by PyJWKClient, which fetches it again when a token names a
    key id it does not know (key rotation), at most once per 30 s so that made-up key ids cannot make us
    hammer the provider. Issuer, audience, expiry and not-before are all checked.
    """

    def __init__(self, *, issuer: str, audience: str, jwks_url: str, leeway: float = 30.0, timeout: float = 5.0):
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=3600, timeout=timeout)

    def verify(self, token: str) -> dict[str, Any]:
        try:
            key = self._jwks.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as exc:
            log.warning("JWKS could not be fetched: %s", type(exc).__name__)
            raise ServiceUnavailable("The sign-in provider's keys cannot be fetched; try again shortly.") from exc
        except (jwt.PyJWKClientError, jwt.InvalidTokenError) as exc:
            raise Unauthorized("The access token is not signed by a known key.") from exc
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("The access token has expired; sign in again.") from exc
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"The access token is not valid: {exc}.") from exc
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise Unauthorized("The access token names no subject.")
        return claims


class _SubjectCache:
    """sub → user id for recent callers, so known users keep working through a database outage."""

    def __init__(self, size: int = 10000):
        self._size = size
        self._items: OrderedDict[str, ObjectId] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, sub: str) -> ObjectId | None:
        with self._lock:
            user_id = self._items.get(sub)
            if user_id is not None:
                self._items.move_to_end(sub)
            return user_id

    def put(self, sub: str, user_id: ObjectId) -> None:
        with self._lock:
            self._items[sub] = user_id
            self._items.move_to_end(sub)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def drop(self, sub: str) -> None:
        with self._lock:
            self._items.pop(sub, None)


def init_auth(app: Flask, settings: Settings) -> None:
    """Who is calling, on ``g.caller`` (None when nobody is signed in).

    - /v1/* (the speech API for clients such as Home Assistant) needs ``Authorization: Bearer <API key>`` in
      every mode, local mode too; with sign-in configured the person's access token is accepted there as well.
    - /api/*: in sign-in mode every request needs a valid access token; in local mode requests name their user
      with ``user_id``. A personal API key is refused here in both modes: a key is for speaking, and must
      not manage keys, delete an account or read conversations.
    """
    verifier: TokenVerifier | None = None
    subjects: _SubjectCache | None = None
    if settings.auth_enabled:
        verifier = TokenVerifier(
            issuer=settings.auth0_issuer, audience=settings.auth0_audience, jwks_url=settings.auth0_jwks_url
        )
        subjects = _SubjectCache()
        app.extensions["echo_token_verifier"] = verifier
    else:
        log.warning(
            "No authentication: AUTH0_DOMAIN/AUTH0_AUDIENCE are not set, so requests name their user with "
            "user_id (local mode, for one machine). Do not expose this server to a network. The speech API "
            "(/v1) still needs a personal API key."
        )
    app.extensions["echo_auth"] = subjects

    def signed_in(token: str) -> Caller:
        assert verifier is not None and subjects is not None
        claims = verifier.verify(token)
        sub = claims["sub"]
        user_id = subjects.get(sub)
        if user_id is None:
            email = claims.get("email") if isinstance(claims.get("email"), str) else None
            user, _ = services().db.get_or_create_user(sub, email)
            user_id = user["_id"]
            subjects.put(sub, user_id)
        return Caller(user_id=user_id, auth0_id=sub)

    @app.before_request
    def authenticate() -> None:
        g.caller = None
        path = request.path
        speech_api = path == "/v1" or path.startswith("/v1/")
        if not (speech_api or path.startswith("/api/")) or request.method == "OPTIONS":
            return
        if is_public(app, request.endpoint):  # e.g. audio links, which carry their own signature
            return
        token = _bearer_token()
        if speech_api:
            if token is None:
                raise Unauthorized(
                    "The speech API needs a personal API key: send 'Authorization: Bearer <key>' "
                    "(make one with POST /api/api-keys or on Echo's page).",
                    error="invalid_request",
                )
            if is_key(token):
                owner = ApiKeys(services().db).verify(token)
                if owner is None:
                    raise Unauthorized("This API key is not valid: it was revoked, or never made.")
                g.caller = Caller(user_id=owner.user_id, auth0_id=owner.auth0_id, key_id=owner.key_id)
            elif verifier is not None:
                g.caller = signed_in(token)
            else:
                raise Unauthorized("The speech API needs a personal API key (it starts with 'echo_').")
            return
        if token is not None and is_key(token):
            raise Unauthorized(
                "API keys are only for the speech API at /v1; sign in to use /api.", error="invalid_request"
            )
        if verifier is None:
            return  # local mode: the request names its user
        if token is None:
            raise Unauthorized(error="invalid_request")
        g.caller = signed_in(token)


def _bearer_token() -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None when there is none."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def forget_subject(app: Flask, sub: str) -> None:
    """After an account is deleted its token must not map to the old user id."""
    subjects = app.extensions.get("echo_auth")
    if subjects is not None:
        subjects.drop(sub)
