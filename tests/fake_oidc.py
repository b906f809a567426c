"""A fake OpenID Connect provider on loopback, for the web page's sign-in tests.

It speaks enough of the protocol for a browser client (oidc-client-ts) doing the authorization code flow with
PKCE: discovery, /authorize (auto-approves one configured user, or refuses when told to), /token
(authorization_code with the PKCE verifier checked, refresh_token with rotation), the key set, and
end-session. Access tokens are RS256 JWTs with iss/aud/sub/exp signed by a key made for the test, so Echo's
server verifies them as it would Auth0's. Every check that fails is recorded in ``problems`` (and answered as a
real provider would), so a test can assert the client did nothing wrong.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt

from tests.helpers import KeyPair, LoopbackServer, QuietHandler

CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")  # base64url of a SHA-256 digest, no padding
VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")  # RFC 7636 section 4.1


@dataclass
class FakeUser:
    sub: str = "fake|rose"
    name: str = "Rose Example"
    email: str = "rose@example.com"


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str | None
    scope: str
    sub: str
    expires: float


@dataclass
class Issued:
    """What the provider handed out, for tests to look at."""

    access_tokens: list[str] = field(default_factory=list)
    token_times: list[float] = field(default_factory=list)  # when each access token was issued
    expiries: list[int] = field(default_factory=list)  # each access token's exp


def b64url_sha256(text: str) -> str:
    digest = hashlib.sha256(text.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class FakeOidc(LoopbackServer):
    """A fake provider. ``redirect_uris`` must be set to the client's addresses before a sign-in."""

    def __init__(self, *, client_id: str = "echo-web-test", audience: str = "https://api.echo.test", ttl: int = 66):
        self.client_id = client_id
        self.audience = audience
        self.ttl = ttl  # access token lifetime, seconds (oidc-client-ts renews 60 s before the end)
        self.key = KeyPair("fake-oidc-1")
        self.user = FakeUser()
        self.redirect_uris: set[str] = set()
        self.logout_uris: set[str] = set()
        self.refuse = False  # /authorize answers access_denied (the person said no)
        self.fail_token = False  # /token answers invalid_grant
        self.session = False  # whether the person is signed in at the provider (prompt=none works)
        self.lock = threading.Lock()
        self.codes: dict[str, Grant] = {}
        self.refresh_tokens: dict[str, str] = {}  # live refresh token -> sub
        self.counts = {"authorize": 0, "authorization_code": 0, "refresh_token": 0, "logout": 0}
        self.authorize_requests: list[dict[str, str]] = []
        self.problems: list[str] = []
        self.issued = Issued()
        owner = self

        class Handler(QuietHandler):
            def do_OPTIONS(self):
                self.send_response(204)
                self.cors()
                self.send_header("Access-Control-Allow-Methods", "GET, POST")
                self.send_header("Access-Control-Allow-Headers", "Content-Type, Authorization")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self):
                url = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                if url.path == "/.well-known/openid-configuration":
                    self.json(200, owner.discovery())
                elif url.path == "/.well-known/jwks.json":
                    self.json(200, {"keys": [owner.key.jwk]})
                elif url.path == "/authorize":
                    self.answer(*owner.authorize(query))
                elif url.path == "/logout":
                    self.answer(*owner.logout(query))
                else:
                    self.json(404, {"error": "not_found"})

            def do_POST(self):
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[-1] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if url.path == "/token":
                    status, body = owner.token(form)
                    self.json(status, body, no_store=True)
                else:
                    self.json(404, {"error": "not_found"})

            def cors(self):
                self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin") or "*")
                self.send_header("Vary", "Origin")

            def json(self, status, body, no_store=False):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.cors()
                self.send_header("Content-Type", "application/json")
                if no_store:
                    self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def answer(self, status, location=None, text=""):
                data = text.encode()
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        super().__init__(Handler)
        self.issuer = f"{self.origin}/"
        self.jwks_url = f"{self.origin}/.well-known/jwks.json"

    # -- the protocol ------------------------------------------------------------------------------

    def discovery(self) -> dict:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.origin}/authorize",
            "token_endpoint": f"{self.origin}/token",
            "jwks_uri": self.jwks_url,
            "end_session_endpoint": f"{self.origin}/logout",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "token_endpoint_auth_methods_supported": ["none"],
        }

    def problem(self, text: str) -> None:
        with self.lock:
            self.problems.append(text)

    def authorize(self, query: dict[str, str]) -> tuple:
        with self.lock:
            self.counts["authorize"] += 1
            self.authorize_requests.append(dict(query))
        redirect_uri = query.get("redirect_uri", "")
        if query.get("client_id") != self.client_id:
            self.problem(f"authorize: unknown client_id {query.get('client_id')!r}")
            return 400, None, "Unknown client."
        if redirect_uri not in self.redirect_uris:
            self.problem(f"authorize: redirect_uri {redirect_uri!r} is not registered")
            return 400, None, "This redirect address is not allowed."
        state = query.get("state", "")

        def back(**params) -> tuple:
            params["state"] = state
            return 302, f"{redirect_uri}?{urlencode(params)}"

        checks = [
            (query.get("response_type") == "code", "response_type must be code"),
            (bool(state), "state is missing"),
            (query.get("code_challenge_method") == "S256", "code_challenge_method must be S256"),
            (bool(CHALLENGE.fullmatch(query.get("code_challenge", ""))), "code_challenge is not an S256 challenge"),
            ("openid" in query.get("scope", "").split(), "scope lacks openid"),
            (query.get("audience") == self.audience, f"audience is {query.get('audience')!r}"),
        ]
        for ok, text in checks:
            if not ok:
                self.problem(f"authorize: {text}")
                return back(error="invalid_request", error_description=text)
        if self.refuse:
            return back(error="access_denied", error_description="The user refused to sign in.")
        if query.get("prompt") == "none" and not self.session:
            return back(error="login_required", error_description="The user is not signed in.")
        self.session = True  # the fake user "signs in" without a page: auto-approved
        code = secrets.token_urlsafe(24)
        with self.lock:
            self.codes[code] = Grant(
                client_id=self.client_id,
                redirect_uri=redirect_uri,
                challenge=query["code_challenge"],
                nonce=query.get("nonce"),
                scope=query.get("scope", ""),
                sub=self.user.sub,
                expires=time.time() + 60,
            )
        return back(code=code)

    def token(self, form: dict[str, str]) -> tuple[int, dict]:
        grant_type = form.get("grant_type")
        if form.get("client_id") != self.client_id:
            self.problem(f"token: unknown client_id {form.get('client_id')!r}")
            return 401, {"error": "invalid_client"}
        if grant_type == "authorization_code":
            with self.lock:
                self.counts["authorization_code"] += 1
                grant = self.codes.pop(form.get("code", ""), None)  # a code works once
            if grant is None or grant.expires < time.time():
                self.problem("token: unknown, used or expired code")
                return 400, {"error": "invalid_grant", "error_description": "The code is not valid."}
            if form.get("redirect_uri") != grant.redirect_uri:
                self.problem("token: redirect_uri differs from the authorize request")
                return 400, {"error": "invalid_grant", "error_description": "redirect_uri mismatch"}
            verifier = form.get("code_verifier", "")
            if not VERIFIER.fullmatch(verifier) or b64url_sha256(verifier) != grant.challenge:
                self.problem("token: code_verifier does not match the code_challenge")
                return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed."}
            if self.fail_token:
                return 400, {"error": "invalid_grant", "error_description": "The provider refused this sign-in."}
            return 200, self.tokens(grant.sub, grant.scope, grant.nonce)
        if grant_type == "refresh_token":
            with self.lock:
                self.counts["refresh_token"] += 1
                sub = self.refresh_tokens.pop(form.get("refresh_token", ""), None)  # rotation: each works once
            if sub is None:
                self.problem("token: unknown or used refresh token")
                return 400, {"error": "invalid_grant", "error_description": "The refresh token is not valid."}
            return 200, self.tokens(sub, "openid profile email offline_access", None)
        self.problem(f"token: unsupported grant_type {grant_type!r}")
        return 400, {"error": "unsupported_grant_type"}

    def tokens(self, sub: str, scope: str, nonce: str | None) -> dict:
        now = int(time.time())
        access = self.access_token(sub, now=now)
        with self.lock:
            self.issued.access_tokens.append(access)
            self.issued.token_times.append(time.time())
            self.issued.expiries.append(now + self.ttl)
        id_claims = {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": sub,
            "iat": now,
            "exp": now + 3600,
            "name": self.user.name,
            "email": self.user.email,
        }
        if nonce:
            id_claims["nonce"] = nonce
        body = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.ttl,
            "scope": scope,
            "id_token": jwt.encode(id_claims, self.key.private, algorithm="RS256", headers={"kid": self.key.kid}),
        }
        if "offline_access" in scope.split():
            refresh = secrets.token_urlsafe(32)
            with self.lock:
                self.refresh_tokens[refresh] = sub
            body["refresh_token"] = refresh
        return body

    def access_token(self, sub: str | None = None, *, now: int | None = None) -> str:
        """An access token as /token gives one (tests use it to call the API as the fake user)."""
        now = int(time.time()) if now is None else now
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": sub or self.user.sub,
            "iat": now,
            "exp": now + self.ttl,
            "email": self.user.email,
            "scope": "openid profile email offline_access",
        }
        return jwt.encode(claims, self.key.private, algorithm="RS256", headers={"kid": self.key.kid})

    def logout(self, query: dict[str, str]) -> tuple:
        with self.lock:
            self.counts["logout"] += 1
            self.session = False
            self.refresh_tokens.clear()  # signing out ends every refresh token of the session
        hint = query.get("id_token_hint")
        if hint:
            try:
                jwt.decode(hint, self.key.private.public_key(), algorithms=["RS256"], audience=self.client_id)
            except jwt.InvalidTokenError as exc:
                self.problem(f"logout: id_token_hint is not valid ({exc})")
        target = query.get("post_logout_redirect_uri")
        if not target:
            return 200, None, "You are signed out."
        if target not in self.logout_uris:
            self.problem(f"logout: post_logout_redirect_uri {target!r} is not registered")
            return 400, None, "This address is not allowed."
        state = query.get("state")
        return 302, f"{target}?{urlencode({'state': state})}" if state else target
