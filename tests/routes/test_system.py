"""/health (the database's and the voice provider's state, degraded while either fails, and recovery; the limits)
and /openapi.json."""

from __future__ import annotations

import yaml

from backend.routes.system import OPENAPI_PATH
from tests.helpers import FISH_URL, FlakyClient, wait_until


def test_health_healthy(client, fish):
    fish.get(f"{FISH_URL}/wallet/self/api-credit", json={"credit": "12.50"})
    body = client.get("/health").json
    assert body["status"] == "healthy"
    assert body["components"]["database"]["status"] == "ok"
    voice = body["components"]["voice_provider"]
    assert voice["status"] == "ok" and voice["provider"] == "fish" and voice["credit"] == "12.50"


def test_health_reports_a_bad_key(client, fish):
    fish.get(f"{FISH_URL}/wallet/self/api-credit", status=401, body="Unauthorized")
    body = client.get("/health").json
    assert body["status"] == "degraded"
    assert body["components"]["voice_provider"]["error"] == "voice_provider_auth_failed"


def test_database_outage_gives_503_and_degraded_health(make_app, fish):
    """The database fails as an unreachable server does (the driver's own ServerSelectionTimeoutError, through
    Echo's real mapping): record routes answer 503, and /health's own ping reports it, then the recovery."""
    fish.get(f"{FISH_URL}/wallet/self/api-credit", json={"credit": "1"})
    database = FlakyClient()
    client = make_app(db_client=database).test_client()
    user_id = client.post("/api/users/local|tester").json["user"]

    def health_once(status: str):
        """/health's body once its database check has found ``status`` (checks run in the background)."""
        body = client.get("/health").json
        return body if body["components"]["database"]["status"] == status else None

    assert wait_until(lambda: health_once("ok"), "/health finds the database")["status"] == "healthy"
    database.down = True
    for response in (
        client.get(f"/api/voice-models?user_id={user_id}"),
        client.get("/api/users/local|tester"),
        client.post("/api/users/local|new"),
        client.get(f"/api/echo/{'a' * 24}?user_id={user_id}"),
    ):
        assert response.status_code == 503
        assert response.json["error"] == "database_unavailable"
    health = wait_until(lambda: health_once("unavailable"), "/health finds the database unreachable")
    assert health["status"] == "degraded"
    assert health["components"]["database"] == {
        "status": "unavailable",
        "backend": "injected",
        "detail": "The database is unavailable; try again shortly.",
    }
    assert health["components"]["voice_provider"]["status"] == "ok"  # only the database is down
    database.down = False
    assert wait_until(lambda: health_once("ok"), "/health finds the database back")["status"] == "healthy"
    assert client.get("/api/users/local|tester").status_code == 200


def test_no_key_means_the_local_engine(local_client):
    client, _ = local_client
    health = client.get("/health").json
    assert health["components"]["voice_provider"]["provider"] == "local"
    assert "not a neural clone" in health["components"]["voice_provider"]["description"]


def test_health_states_the_limits_a_client_must_keep(make_app, fish):
    fish.get(f"{FISH_URL}/wallet/self/api-credit", json={"credit": "1"})
    client = make_app(MAX_UPLOAD_MB=7, MAX_TEXT_CHARS=900).test_client()
    assert client.get("/health").json["limits"] == {
        "max_upload_mb": 7,
        "max_text_chars": 900,
        "min_audio_seconds": 3.0,
        "max_audio_seconds": 270.0,
    }


def test_the_openapi_document_is_served_as_json(client):
    served = client.get("/openapi.json")
    assert served.status_code == 200 and served.mimetype == "application/json"
    assert served.json == yaml.safe_load(OPENAPI_PATH.read_text(encoding="utf-8"))
    assert served.json["openapi"].startswith("3.") and "/health" in served.json["paths"]


def test_client_config_in_local_mode_says_there_is_no_sign_in(client):
    response = client.get("/api/client-config")
    assert response.status_code == 200 and response.json == {"success": True, "sign_in": None}


def test_client_config_with_sign_in_gives_the_page_what_it_needs_and_no_secret(make_app):
    app = make_app(
        AUTH0_ISSUER="https://login.example/",
        AUTH0_AUDIENCE="https://echo.example/api",
        AUTH0_JWKS_URL="https://login.example/jwks.json",
        AUTH0_CLIENT_ID="page-client",
    )
    client = app.test_client()
    response = client.get("/api/client-config")  # public: the page asks before anyone is signed in
    assert response.status_code == 200
    assert response.json["sign_in"] == {
        "authority": "https://login.example/",
        "client_id": "page-client",
        "audience": "https://echo.example/api",
        "scope": "openid profile email offline_access",
    }
    # The page may talk to the provider (discovery, tokens), and to nothing else.
    csp = client.get("/").headers["Content-Security-Policy"]
    assert "connect-src 'self' https://login.example;" in csp and "frame-src" not in csp
    assert client.get("/api/echos").status_code == 401  # everything else still needs a token
