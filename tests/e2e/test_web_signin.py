"""Signing in on the web page, in headless Chromium against the real server.

Sign-in mode: the server is configured for an OpenID Connect provider, tests/fake_oidc.py on loopback. The page
signs in with the authorization code flow and PKCE (oidc-client-ts, vendored), keeps its tokens in memory only,
renews them with the refresh token before they expire, and signs out at the provider.

Local mode: the page signs in with a name, and the identity is "local|<slug>" made exactly as the Echo app makes
it (lib/session.tsx), so the same name sees the same voices and echos in both.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
import requests
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import fresh_page, run_server
from tests.fake_oidc import FakeOidc
from tests.helpers import E2E_ARTIFACTS as ARTIFACTS
from tests.helpers import bearer, wait_until

pytestmark = pytest.mark.e2e

READY_TIMEOUT = 15000

# Everything the page keeps in the browser's storage (and cookies), as one string to search.
STORED = """
() => JSON.stringify({
  local: Object.fromEntries(Object.entries(localStorage)),
  session: Object.fromEntries(Object.entries(sessionStorage)),
  cookies: document.cookie,
})
"""

# An API call made the page's own way (api.js, with the identity in use), for the token it carries now.
API_CALL = "async () => (await import('/static/js/api.js')).api.get('/api/echos').then((body) => body.total)"


@pytest.fixture
def page(browser, request) -> Iterator[Page]:
    """A fresh browser context (nothing stored: a first visit), whatever the shared fixture seeds; errors kept."""
    fresh = fresh_page(browser)
    yield fresh
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    try:
        shot(fresh, f"end-{name}")
    finally:
        fresh.context.close()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"signin-{name}.png"), full_page=True)


def expect_ready(page: Page) -> None:
    expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=READY_TIMEOUT)


# -- sign-in mode -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeOidc]:
    fake = FakeOidc()
    try:
        yield fake
    finally:
        fake.close()


@pytest.fixture(scope="module")
def signin_server(tmp_path_factory, provider: FakeOidc) -> Iterator[str]:
    """An Echo server that trusts the fake provider's tokens, and the provider told the page's addresses."""
    server = run_server(
        tmp_path_factory,
        "server-signin.log",
        AUTH0_ISSUER=provider.issuer,
        AUTH0_AUDIENCE=provider.audience,
        AUTH0_JWKS_URL=provider.jwks_url,
        AUTH0_CLIENT_ID=provider.client_id,
    )
    url = next(server)
    provider.redirect_uris = {f"{url}/"}
    provider.logout_uris = {f"{url}/"}
    try:
        yield url
    finally:
        server.close()


@pytest.fixture
def oidc(provider: FakeOidc) -> Iterator[FakeOidc]:
    """The fake provider, as a new visitor finds it: nobody signed in there, nothing refused."""
    provider.refuse = False
    provider.fail_token = False
    provider.session = False
    provider.problems.clear()
    yield provider
    assert provider.problems == [], "the page broke the protocol"


def bearer_calls(page: Page) -> list[tuple[str, str | None]]:
    """(path, Authorization header) of every API request the page makes from now on."""
    calls: list[tuple[str, str | None]] = []

    def record(request) -> None:
        path = request.url.split("?", 1)[0]
        if "/api/" in path:
            calls.append((path.split("/api/", 1)[1], request.headers.get("authorization")))

    page.on("request", record)
    return calls


def sign_in(page: Page, base: str, oidc: FakeOidc) -> None:
    """From a fresh page: click "Sign in", come back from the provider signed in, page ready."""
    page.goto(base)
    expect(page.get_by_role("heading", name="Sign in to Echo")).to_be_visible(timeout=READY_TIMEOUT)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator("#account")).to_contain_text(f"Signed in as {oidc.user.name}", timeout=READY_TIMEOUT)
    expect_ready(page)


def failed_sign_in(page: Page, base: str) -> Locator:
    """From a fresh page: click "Sign in" when the provider will not sign the person in; the panel's alert."""
    page.goto(base)
    page.get_by_role("button", name="Sign in", exact=True).click()
    return page.locator("#signin").get_by_role("alert")


def test_sign_in_with_the_provider_shows_the_persons_echos(page: Page, signin_server: str, oidc: FakeOidc) -> None:
    # The person already has an echo (made from another device, say).
    token = oidc.access_token()
    made = requests.post(f"{signin_server}/api/echo", json={"name": "Grandpa Joe"}, headers=bearer(token), timeout=10)
    assert made.status_code == 201, made.text

    calls = bearer_calls(page)
    page.goto(f"{signin_server}/#echos")
    heading = page.get_by_role("heading", name="Sign in to Echo")
    expect(heading).to_be_visible(timeout=READY_TIMEOUT)
    expect(page.locator("main")).to_be_hidden()  # nothing else works before signing in
    expect(page.locator("#account")).to_contain_text("Not signed in")
    shot(page, "provider-panel")

    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator("#account")).to_contain_text("Signed in as Rose Example", timeout=READY_TIMEOUT)
    expect_ready(page)
    expect(page.get_by_text("Grandpa Joe").first).to_be_visible()
    expect(heading).to_be_hidden()
    # Back where the person was, with the provider's answer gone from the address.
    assert page.url == f"{signin_server}/#echos", page.url
    shot(page, "provider-signed-in")

    # The code flow with PKCE, the audience asked for; one code exchanged.
    asked = oidc.authorize_requests[-1]
    assert asked["code_challenge_method"] == "S256" and asked["response_type"] == "code"
    assert asked["audience"] == oidc.audience and "offline_access" in asked["scope"].split()
    assert oidc.counts["authorization_code"] == 1

    # Tokens are in memory only: nothing of them in localStorage, sessionStorage or cookies.
    issued = {f"Bearer {value}" for value in oidc.issued.access_tokens}  # (a renewal may have come already)
    stored = page.evaluate(STORED)
    assert not any(value in stored for value in oidc.issued.access_tokens)
    assert not any(refresh in stored for refresh in oidc.refresh_tokens), stored
    assert "eyJ" not in stored, stored  # no JWT of any kind

    # Every API call for the person carried the access token; the public ones need none.
    private = [(path, auth) for path, auth in calls if path not in ("client-config",)]
    assert private, calls
    assert all(auth in issued for _, auth in private), private
    assert any(path.startswith("users/") for path, _ in private), private  # ensure(): POST /api/users/<sub>
    assert any(path == "echos" for path, _ in private), private

    # People never see sign-in ids.
    assert oidc.user.sub not in page.locator("body").inner_text()
    assert page.console_errors == []


def test_the_token_is_renewed_before_it_expires(page: Page, signin_server: str, oidc: FakeOidc) -> None:
    sign_in(page, signin_server, oidc)
    first, first_expiry = oidc.issued.access_tokens[-1], oidc.issued.expiries[-1]
    renewals = oidc.counts["refresh_token"]

    # oidc-client-ts renews a minute before expiry: with 66 s tokens, within seconds.
    wait_until(lambda: oidc.counts["refresh_token"] > renewals, "the page renews its token", timeout=45)
    renewed_at = oidc.issued.token_times[-1]
    assert renewed_at < first_expiry, "renewed only after the token expired"
    wait_until(lambda: oidc.issued.access_tokens[-1] != first, "a new access token is issued")

    # Requests now carry the new token, and the server accepts it.
    newest = oidc.issued.access_tokens[-1]
    with page.expect_request(lambda r: r.url.split("?", 1)[0].endswith("/api/echos")) as sent:
        total = page.evaluate(API_CALL)
    assert isinstance(total, int)  # the server accepted the renewed token
    assert sent.value.headers["authorization"] in (f"Bearer {newest}", f"Bearer {oidc.issued.access_tokens[-1]}")
    assert sent.value.headers["authorization"] != f"Bearer {first}"
    assert newest not in page.evaluate(STORED)
    expect(page.locator("#account")).to_contain_text("Signed in as Rose Example")
    assert page.console_errors == []


def test_reload_signs_in_again_without_asking(page: Page, signin_server: str, oidc: FakeOidc) -> None:
    sign_in(page, signin_server, oidc)
    asked = oidc.counts["authorize"]
    page.reload()
    # The tokens were in memory: the page asks the provider again without showing it (prompt=none).
    expect(page.locator("#account")).to_contain_text("Signed in as Rose Example", timeout=READY_TIMEOUT)
    expect_ready(page)
    assert oidc.counts["authorize"] == asked + 1
    assert oidc.authorize_requests[-1].get("prompt") == "none"

    # When the provider's own session has ended, a reload shows the sign-in panel (no error, no loop).
    oidc.session = False
    page.reload()
    expect(page.get_by_role("heading", name="Sign in to Echo")).to_be_visible(timeout=READY_TIMEOUT)
    expect(page.locator("#signin").get_by_role("alert")).to_have_count(0)
    assert oidc.counts["authorize"] == asked + 2
    assert page.console_errors == []


def test_sign_out_ends_the_session_and_forgets_the_tokens(page: Page, signin_server: str, oidc: FakeOidc) -> None:
    sign_in(page, signin_server, oidc)
    refresh_tokens = set(oidc.refresh_tokens)
    assert refresh_tokens

    page.locator("#account").get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to Echo")).to_be_visible(timeout=READY_TIMEOUT)
    assert oidc.counts["logout"] >= 1 and not oidc.session
    assert page.url == f"{signin_server}/", page.url
    stored = page.evaluate(STORED)
    assert "eyJ" not in stored and "echo.signin" not in stored, stored
    # The refresh token no longer works.
    answer = requests.post(
        f"{oidc.origin}/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_tokens.pop(), "client_id": oidc.client_id},
        timeout=10,
    )
    assert answer.status_code == 400
    oidc.problems.clear()  # that refusal was the point

    # A reload stays signed out: the page does not go back to the provider by itself.
    asked = oidc.counts["authorize"]
    page.reload()
    expect(page.get_by_role("heading", name="Sign in to Echo")).to_be_visible(timeout=READY_TIMEOUT)
    assert oidc.counts["authorize"] == asked
    shot(page, "provider-signed-out")
    assert page.console_errors == []


def test_a_refused_sign_in_says_so_in_plain_words(page: Page, signin_server: str, oidc: FakeOidc) -> None:
    oidc.refuse = True
    alert = failed_sign_in(page, signin_server)
    expect(alert).to_contain_text("Sign-in was cancelled or not allowed, so you are not signed in.")
    expect(alert).to_be_focused()
    assert "error=" not in page.url and "state=" not in page.url
    expect(alert.locator("details")).to_contain_text("access_denied")  # technical details one click away
    shot(page, "provider-refused")

    # Trying again works once the person agrees.
    oidc.refuse = False
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator("#account")).to_contain_text("Signed in as Rose Example", timeout=READY_TIMEOUT)
    expect_ready(page)
    assert page.console_errors == []


def test_a_failed_sign_in_says_so_in_plain_words(page: Page, signin_server: str, oidc: FakeOidc) -> None:
    oidc.fail_token = True
    alert = failed_sign_in(page, signin_server)
    expect(alert).to_contain_text("The sign-in service could not sign you in.", timeout=READY_TIMEOUT)
    expect(alert.locator("details")).to_contain_text("invalid_grant")
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    assert page.evaluate(STORED).count("eyJ") == 0


def test_when_renewal_fails_the_page_says_the_sign_in_ended(page: Page, signin_server: str, oidc: FakeOidc) -> None:
    sign_in(page, signin_server, oidc)
    renewals = oidc.counts["refresh_token"]
    oidc.refresh_tokens.clear()  # the provider revoked them (signed out elsewhere, say)
    wait_until(lambda: oidc.counts["refresh_token"] > renewals, "the page tries to renew", timeout=45)
    expect(page.get_by_role("heading", name="Your sign-in has ended")).to_be_visible(timeout=READY_TIMEOUT)
    expect(page.get_by_role("button", name="Sign in again")).to_be_visible()
    expect(page.locator("main")).to_be_visible()  # the page stays as it was underneath
    shot(page, "provider-ended")
    oidc.problems.clear()  # the refused refresh tokens were the point
    page.get_by_role("button", name="Sign in again").click()
    expect(page.locator("#account")).to_contain_text("Signed in as Rose Example", timeout=READY_TIMEOUT)
    expect_ready(page)


# -- local mode: a name -------------------------------------------------------------------------------


def local_user(base: str, slug: str) -> str:
    """The user the app gets for a name: POST /api/users/local|<slug> (idempotent)."""
    answer = requests.post(f"{base}/api/users/local|{slug}", json={}, timeout=10)
    assert answer.status_code in (200, 201), answer.text
    return answer.json()["user"]


def saved_identity(page: Page) -> dict | None:
    return page.evaluate("JSON.parse(localStorage.getItem('echo.identity.v1'))")


def sign_in_with_name(page: Page, name: str) -> None:
    page.get_by_label("Your name").fill(name)
    page.get_by_role("button", name="Continue").click()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Grandma Rose", "local|grandma-rose"),
        ("  Ann \t Marie  ", "local|ann-marie"),
        ("O'Neil, Seán", "local|oneil-sen"),
        ("j.doe_2-b", "local|j.doe_2-b"),
        ("x" * 60, "local|" + "x" * 48),
        ("Мария", None),
        ("   ", None),
    ],
)
def test_the_name_rule_is_the_apps(page: Page, live_server: str, name: str, expected: str | None) -> None:
    """localIdentity in identity.js gives what lib/session.tsx's localIdentity gives (the app makes up a guest
    name where the page asks for another name)."""
    page.goto(live_server)
    made = page.evaluate("async (name) => (await import('/static/js/identity.js')).localIdentity(name)", name)
    assert made == expected


def test_local_sign_in_with_a_name_is_the_apps_user(page: Page, live_server: str) -> None:
    page.goto(live_server)
    panel = page.get_by_role("heading", name="Welcome to Echo")
    expect(panel).to_be_visible(timeout=READY_TIMEOUT)
    expect(page.locator("main")).to_be_hidden()
    expect(page.get_by_label("Your name")).to_be_focused()
    shot(page, "local-panel")

    # A name with nothing Echo can keep is refused in plain words; nothing is saved.
    sign_in_with_name(page, "Мария")
    expect(page.locator("#signin-error")).to_contain_text("plain letters and digits")
    assert saved_identity(page) is None

    # The app's user for this name, with an echo made there.
    user = local_user(live_server, "grandma-rose")
    made = requests.post(f"{live_server}/api/echo", json={"name": "Grandpa Joe", "user_id": user}, timeout=10)
    assert made.status_code == 201, made.text

    sign_in_with_name(page, "  Grandma   Rose ")
    expect(page.locator("#account")).to_contain_text("Signed in as Grandma Rose", timeout=READY_TIMEOUT)
    expect_ready(page)
    expect(page.get_by_text("Grandpa Joe").first).to_be_visible()
    assert saved_identity(page) == {"subject": "local|grandma-rose", "userId": user, "name": "Grandma Rose"}
    assert "local|" not in page.locator("body").inner_text()
    expect(page.locator("#identity-line")).to_contain_text("“Grandma Rose”")
    shot(page, "local-signed-in")

    # A reload keeps the name.
    page.reload()
    expect(page.locator("#account")).to_contain_text("Signed in as Grandma Rose", timeout=READY_TIMEOUT)
    expect_ready(page)
    expect(page.get_by_text("Grandpa Joe").first).to_be_visible()
    assert page.console_errors == []


def test_local_switch_name_and_sign_out(page: Page, live_server: str) -> None:
    page.goto(live_server)
    sign_in_with_name(page, "Cara")
    expect(page.locator("#account")).to_contain_text("Signed in as Cara", timeout=READY_TIMEOUT)
    expect_ready(page)

    # "Not Cara?": the panel opens over the page; cancelling keeps Cara.
    page.get_by_role("button", name="Not Cara? Use another name").click()
    expect(page.get_by_role("heading", name="Use another name")).to_be_visible()
    expect(page.get_by_label("Your name")).to_be_focused()
    page.locator("#signin").get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("heading", name="Use another name")).to_be_hidden()
    expect(page.locator("#account")).to_contain_text("Signed in as Cara")

    page.get_by_role("button", name="Not Cara? Use another name").click()
    sign_in_with_name(page, "Dev Patel")
    expect(page.locator("#account")).to_contain_text("Signed in as Dev Patel", timeout=READY_TIMEOUT)
    expect_ready(page)
    assert saved_identity(page)["userId"] == local_user(live_server, "dev-patel")
    assert local_user(live_server, "dev-patel") != local_user(live_server, "cara")

    # At phone size the header keeps its sign-in controls on screen.
    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.get_by_role("button", name="Not Dev Patel? Use another name")).to_be_in_viewport()
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    shot(page, "local-phone")
    page.get_by_role("button", name="Not Dev Patel? Use another name").click()
    expect(page.get_by_label("Your name")).to_be_in_viewport()
    shot(page, "local-phone-switch")
    page.locator("#signin").get_by_role("button", name="Cancel").click()

    # Sign out: the name is forgotten here; the panel asks for one.
    page.locator("#account").get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Welcome to Echo")).to_be_visible(timeout=READY_TIMEOUT)
    assert saved_identity(page) is None
    assert page.console_errors == []


def test_an_earlier_browser_identity_keeps_working(page: Page, live_server: str) -> None:
    """A browser from before names keeps its random identity and its voices; it may switch to a name and back."""
    earlier_subject = "local|" + "ab12" * 6
    earlier_user = local_user(live_server, "ab12" * 6)
    made = requests.post(f"{live_server}/api/echo", json={"name": "Old Friend", "user_id": earlier_user}, timeout=10)
    assert made.status_code == 201, made.text
    page.goto(live_server)
    page.evaluate(
        "(value) => localStorage.setItem('echo.identity.v1', value)",
        json.dumps({"subject": earlier_subject, "userId": earlier_user}),
    )
    page.reload()
    expect(page.locator("#account")).to_contain_text("Using the voices saved in this browser", timeout=READY_TIMEOUT)
    expect_ready(page)
    expect(page.get_by_text("Old Friend").first).to_be_visible()
    assert "local|" not in page.locator("body").inner_text()
    shot(page, "local-earlier")

    page.get_by_role("button", name="Sign in with a name").click()
    expect(page.get_by_text(re.compile("you made before stay saved in this browser"))).to_be_visible()
    sign_in_with_name(page, "Bea")
    expect(page.locator("#account")).to_contain_text("Signed in as Bea", timeout=READY_TIMEOUT)
    expect_ready(page)
    expect(page.get_by_text("Old Friend")).to_have_count(0)

    # The earlier voices are one step away.
    page.get_by_role("button", name="Not Bea? Use another name").click()
    page.get_by_role("button", name="Go back to the voices saved in this browser").click()
    expect(page.locator("#account")).to_contain_text("Using the voices saved in this browser", timeout=READY_TIMEOUT)
    expect_ready(page)
    expect(page.get_by_text("Old Friend").first).to_be_visible()
    assert saved_identity(page) == {"subject": earlier_subject, "userId": earlier_user}
    assert page.console_errors == []
