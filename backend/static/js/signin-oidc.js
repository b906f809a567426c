// Sign-in with an OpenID Connect provider (Auth0 or any other), when GET /api/client-config names one.
//
// The library is oidc-client-ts, vendored into static/vendor/ by scripts/vendor-web.sh and loaded only in this
// mode. The flow is the authorization code flow with PKCE (S256), with the page itself as the redirect address:
//
// - Tokens live in memory only (the library's InMemoryWebStorage as its user store): nothing a script could
//   read later is left in localStorage or sessionStorage. What the library keeps in sessionStorage is the
//   short-lived state of one sign-in in progress (the PKCE verifier, the nonce), needed across the redirect
//   and removed when the person comes back.
// - Renewal: the scope asks for offline_access, so the provider gives a refresh token (Auth0: turn on
//   "Refresh Token Rotation" for the application); the library's automatic silent renew uses it a minute before
//   the access token expires (a plain token request, no hidden iframe, so it works when third-party cookies are
//   blocked). With no refresh token it would fall back to an iframe, which this page does not set up: when
//   renewal fails the header says the sign-in has ended and offers to sign in again.
// - A reload loses the tokens (they were in memory). A tab that was signed in remembers only that fact in
//   sessionStorage (no token) and goes back through the provider with prompt=none: with the provider's own
//   session still open it comes straight back signed in; otherwise the sign-in panel shows.
// - Sign-out ends the provider's session too (its end_session_endpoint) and comes back to the page; with a
//   provider that has no such endpoint the page revokes the refresh token if it can and forgets the tokens.

import { ApiError, useIdentity } from "./api.js";
import { showAccount, showSignInEnded, showSignInPanel } from "./signin-ui.js";

const LIBRARY = new URL("../vendor/oidc-client-ts/oidc-client-ts.min.js", import.meta.url).href;
const SIGNED_IN = "echo.signin.v1"; // sessionStorage: "this tab was signed in" (no token): come back after a reload
// What a provider answers to prompt=none when it would have to show a page: not an error, just "sign in".
const QUIET_ERRORS = new Set([
  "login_required",
  "interaction_required",
  "consent_required",
  "account_selection_required",
]);

let library = null;

function loadLibrary() {
  if (window.oidc && window.oidc.UserManager) return Promise.resolve(window.oidc);
  if (!library) {
    library = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = LIBRARY;
      script.addEventListener("load", () =>
        window.oidc ? resolve(window.oidc) : reject(new Error("The sign-in code did not start.")),
      );
      script.addEventListener("error", () => reject(new Error("The sign-in code could not be loaded.")));
      document.head.append(script);
    });
  }
  return library;
}

function tabStorage() {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

function remember(signedIn) {
  const storage = tabStorage();
  if (!storage) return;
  if (signedIn) storage.setItem(SIGNED_IN, "1");
  else storage.removeItem(SIGNED_IN);
}

function wasSignedIn() {
  const storage = tabStorage();
  return Boolean(storage && storage.getItem(SIGNED_IN));
}

/** Where the person is on the page (path, query, #section), to come back to after the provider. */
function here() {
  return window.location.pathname + window.location.search + window.location.hash;
}

/** A place on this page to go back to: a path on this origin only. */
function safeReturn(value) {
  return typeof value === "string" && value.startsWith("/") && !value.startsWith("//") ? value : "/";
}

/** What went wrong with a sign-in, in plain words; `detail` is the technical part, shown one click away. */
export function describeSignInError(error) {
  const code = error && typeof error.error === "string" ? error.error : null;
  const detail = [code, error && (error.error_description || error.message)].filter(Boolean).join(": ");
  if (code === "access_denied") {
    return { text: "Sign-in was cancelled or not allowed, so you are not signed in.", detail };
  }
  if (code) return { text: "The sign-in service could not sign you in.", detail };
  if (error instanceof ApiError) {
    return {
      text: `Echo's server did not accept the sign-in. ${error.message}`,
      detail: `${error.status} ${error.code}`,
    };
  }
  if (error instanceof TypeError || (error && error.name === "ErrorTimeout")) {
    return { text: "The sign-in service cannot be reached right now. Check your connection and try again.", detail };
  }
  if (error && /state/i.test(error.message || "")) {
    return {
      text: "The sign-in did not finish: it may have been started in another tab or taken too long. Please try again.",
      detail,
    };
  }
  return { text: "The sign-in did not finish. Please try again.", detail };
}

export class OidcIdentity {
  constructor(manager, user) {
    this.kind = "oidc";
    this.manager = manager;
    this.user = user;
    this.userId = null;
  }

  get subject() {
    return this.user && this.user.profile ? this.user.profile.sub : null;
  }

  /** The person's name as the provider gives it (never the sign-in id). */
  displayName() {
    const profile = (this.user && this.user.profile) || {};
    for (const value of [profile.name, profile.nickname, profile.email, profile.preferred_username]) {
      if (typeof value === "string" && value.trim()) return value.trim();
    }
    return "you";
  }

  /** Create (or find) the user on the server: POST /api/users/<sub> with the access token. */
  async ensure(request) {
    useIdentity(this); // the call below must carry the token
    const email = this.user.profile && this.user.profile.email;
    const json = typeof email === "string" && /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email) ? { email } : {};
    const body = await request("POST", `/api/users/${encodeURIComponent(this.subject)}`, { json });
    this.userId = String(body.user);
    return this;
  }

  params() {
    return {};
  }

  headers() {
    return this.user && this.user.access_token ? { Authorization: `Bearer ${this.user.access_token}` } : {};
  }

  describe() {
    return `Signed in as ${this.displayName()}. Your voices and echos are kept with your account.`;
  }

  forget() {
    this.user = null;
    remember(false);
    this.manager.removeUser().catch(() => {});
  }

  async signOut() {
    const manager = this.manager;
    const metadata = await manager.metadataService.getMetadata().catch(() => ({}));
    remember(false);
    if (metadata.end_session_endpoint) {
      // Ends the provider's session and comes back to the page (post_logout_redirect_uri).
      await manager.signoutRedirect();
      return;
    }
    if (metadata.revocation_endpoint) await manager.revokeTokens(["refresh_token"]).catch(() => {});
    await manager.removeUser();
    window.location.assign("/");
  }
}

function makeManager(oidc, config) {
  const origin = window.location.origin;
  const extra = config.audience ? { audience: config.audience } : {};
  return new oidc.UserManager({
    authority: config.authority,
    client_id: config.client_id,
    redirect_uri: `${origin}/`,
    post_logout_redirect_uri: `${origin}/`,
    response_type: "code",
    scope: config.scope || "openid profile email offline_access",
    extraQueryParams: extra, // Auth0 gives an access token for the API only when asked for its audience
    extraTokenParams: extra,
    userStore: new oidc.WebStorageStateStore({ store: new oidc.InMemoryWebStorage() }),
    stateStore: new oidc.WebStorageStateStore({ store: window.sessionStorage, prefix: "echo.oidc." }),
    automaticSilentRenew: true,
    loadUserInfo: false,
    monitorSession: false,
  });
}

function startSignIn(manager, { quiet = false } = {}) {
  const args = { state: { returnTo: here() } };
  if (quiet) args.prompt = "none";
  return manager.signinRedirect(args);
}

/** The person clicks "Sign in": leave for the provider (errors before leaving show in the panel). */
function signInButton(manager) {
  return () =>
    startSignIn(manager).catch((error) => {
      showSignInPanel({ signIn: signInButton(manager), problem: describeSignInError(error) });
    });
}

function watchSession(manager, identity) {
  manager.events.addUserLoaded((user) => {
    identity.user = user; // a renewed token: every request from now on carries it
  });
  let over = false;
  const ended = () => {
    if (over) return;
    over = true;
    identity.user = null;
    remember(false);
    manager.removeUser().catch(() => {}); // stops the renewal timers too
    showSignInEnded({ signIn: signInButton(manager) });
  };
  manager.events.addSilentRenewError(async () => {
    // Try once more at once (a network blip); if that fails too, the sign-in has ended.
    try {
      await manager.signinSilent();
    } catch {
      ended();
    }
  });
  manager.events.addAccessTokenExpired(ended);
  manager.events.addUserSignedOut(ended);
}

/** Start sign-in mode: returns a ready identity, or null while leaving for the provider or waiting for a click. */
export async function startOidc(request, config) {
  if (!config.client_id || !config.authority) {
    // The server checks tokens but does not say which application the page is at the provider.
    throw new Error("The server has sign-in turned on but no AUTH0_CLIENT_ID for the web page.");
  }
  const oidc = await loadLibrary();
  const manager = makeManager(oidc, config);
  manager.clearStaleState().catch(() => {}); // sign-ins started and never finished (older than 15 minutes)
  const params = new URLSearchParams(window.location.search);
  const signIn = signInButton(manager);

  let user = null;
  if (params.has("state") && (params.has("code") || params.has("error"))) {
    // Back from the provider's sign-in page.
    const quiet = QUIET_ERRORS.has(params.get("error"));
    try {
      user = await manager.signinRedirectCallback();
    } catch (error) {
      remember(false);
      window.history.replaceState(null, "", "/");
      showSignInPanel({ signIn, problem: quiet ? null : describeSignInError(error) });
      return null;
    }
    const returnTo = safeReturn(user.state && user.state.returnTo);
    window.history.replaceState(null, "", returnTo);
  } else if (params.has("state")) {
    // Back from the provider's sign-out page.
    await manager.signoutRedirectCallback().catch(() => {});
    window.history.replaceState(null, "", "/");
  } else if (wasSignedIn()) {
    // Signed in before this reload: the tokens were in memory only. Ask the provider again, without a page.
    startSignIn(manager, { quiet: true }).catch((error) => {
      remember(false);
      showSignInPanel({ signIn, problem: describeSignInError(error) });
    });
    return null;
  }

  if (!user) {
    showSignInPanel({ signIn });
    return null;
  }

  const identity = new OidcIdentity(manager, user);
  watchSession(manager, identity);
  try {
    await identity.ensure(request);
  } catch (error) {
    await manager.removeUser().catch(() => {});
    remember(false);
    showSignInPanel({ signIn, problem: describeSignInError(error) });
    return null;
  }
  remember(true);
  showAccount({ kind: "oidc", name: identity.displayName(), signOut: () => identity.signOut() });
  return identity;
}
