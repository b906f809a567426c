// Who is using the page.
//
// Every identity has the same small interface, which api.js relies on:
//   ensure(request)  -> Promise<identity>  make sure the server knows the user; sets userId
//   params()         -> {}                 fields added to every request (query string or body)
//   headers()        -> {}                 headers added to every request
//   describe()       -> string             one line for the footer
//   forget()                                drop what is kept in this browser
//
// GET /api/client-config says which kind the server wants:
//   - sign_in null (local mode): the person signs in with a name, as in the Echo app. The identity is
//     "local|<slug>" made by localIdentity() below, exactly as the app's lib/session.tsx does, so the same name
//     gives the same voices and echos in both. The name is kept in localStorage (it is not a secret).
//   - sign_in {authority, client_id, audience, scope}: OpenID Connect sign-in (signin-oidc.js).
//
// Browsers that used the page before names existed hold a random "local|<hex>" identity under the same key.
// That identity keeps working (its voices and echos are there); the header offers to use a name instead, and a
// person who does so can come back to the earlier identity from the sign-in panel (it is kept aside, not lost).

import { messageOf, request as apiRequest } from "./api.js";
import { showAccount, showNamePanel, showSignInProblem } from "./signin-ui.js";

const STORAGE_KEY = "echo.identity.v1";
const EARLIER_KEY = "echo.identity.earlier.v1"; // an old "local|<hex>" identity set aside for a name

export const MAX_SLUG = 48;

/**
 * The local-mode sign-in id for a name: "local|<slug>", the same rule as the Echo app's localIdentity
 * (lib/session.tsx): trim, lower-case, whitespace runs to "-", drop characters outside [a-z0-9._-], at most
 * 48 characters. Returns null when nothing is left (the page asks for another name; it makes up no guest).
 */
export function localIdentity(name) {
  const slug = String(name || "")
    .trim()
    .toLowerCase()
    .replace(/\s+/g, "-")
    .replace(/[^a-z0-9._-]/g, "")
    .slice(0, MAX_SLUG);
  return slug ? `local|${slug}` : null;
}

/** A name as it is shown: trimmed, with runs of spaces made one. */
function tidyName(name) {
  return String(name || "")
    .trim()
    .replace(/\s+/g, " ");
}

function browserStorage() {
  try {
    const probe = "echo.storage-probe";
    window.localStorage.setItem(probe, "1");
    window.localStorage.removeItem(probe);
    return window.localStorage;
  } catch {
    // Storage is blocked (private mode, settings): remember for this page only.
    const memory = new Map();
    return {
      getItem: (key) => (memory.has(key) ? memory.get(key) : null),
      setItem: (key, value) => memory.set(key, String(value)),
      removeItem: (key) => memory.delete(key),
    };
  }
}

function readJson(storage, key) {
  try {
    const value = JSON.parse(storage.getItem(key) || "null");
    return value && typeof value === "object" ? value : null;
  } catch {
    return null;
  }
}

/** Whether a saved identity is one of the old random ones (made before people signed in with a name). */
function isEarlier(saved) {
  const subject = saved && !saved.name ? saved.subject : null;
  return typeof subject === "string" && /^local\|[0-9a-f]{8,}$/.test(subject);
}

export class LocalIdentity {
  constructor(storage = browserStorage()) {
    this.storage = storage;
    this.kind = "local";
    this.name = null; // as the person typed it (trimmed); null for an earlier browser identity
    this.subject = null;
    this.userId = null;
  }

  /** What this browser remembers: {name, subject, userId} or an earlier {subject, userId}; null if nothing. */
  load() {
    const saved = readJson(this.storage, STORAGE_KEY);
    if (!saved) return null;
    if (typeof saved.name === "string" && localIdentity(saved.name)) {
      const subject = localIdentity(saved.name);
      // The user id is only trusted for the subject it was given for.
      return { name: tidyName(saved.name), subject, userId: saved.subject === subject ? saved.userId || null : null };
    }
    return isEarlier(saved) ? { name: null, subject: saved.subject, userId: saved.userId || null } : null;
  }

  save(value) {
    const record = { subject: value.subject, userId: value.userId };
    if (value.name) record.name = value.name;
    this.storage.setItem(STORAGE_KEY, JSON.stringify(record));
  }

  /** The earlier random identity set aside when the person chose a name, if any. */
  earlier() {
    const saved = readJson(this.storage, EARLIER_KEY);
    return isEarlier(saved) ? saved : null;
  }

  /** Create (or find) the user on the server; POST /api/users/<subject> is idempotent. */
  async ensure(request, saved = this.load()) {
    if (!saved) throw new Error("No name to sign in with.");
    const record = { ...saved };
    try {
      const body = await request("POST", `/api/users/${encodeURIComponent(record.subject)}`, {
        json: {},
        anonymous: true,
      });
      record.userId = String(body.user);
    } catch (error) {
      // The server could not answer now (database down, say): keep using the id it gave before.
      if (!record.userId) throw error;
    }
    this.save(record);
    this.name = record.name || null;
    this.subject = record.subject;
    this.userId = record.userId;
    return this;
  }

  /** Sign in with a name: the user is made on the server first, then remembered. An earlier identity is kept aside. */
  async signInWithName(request, name) {
    const subject = localIdentity(name);
    if (!subject) throw new Error("empty name");
    const current = this.load();
    await this.ensure(request, { name: tidyName(name), subject, userId: null });
    if (isEarlier(current) && current.userId) this.storage.setItem(EARLIER_KEY, JSON.stringify(current));
  }

  /** Go back to the earlier random identity of this browser (set aside when a name was chosen). */
  useEarlier() {
    const earlier = this.earlier();
    if (!earlier) return;
    this.storage.setItem(STORAGE_KEY, JSON.stringify({ subject: earlier.subject, userId: earlier.userId }));
    this.storage.removeItem(EARLIER_KEY);
  }

  params() {
    return this.userId ? { user_id: this.userId } : {};
  }

  headers() {
    return {};
  }

  describe() {
    if (!this.name) {
      return (
        "No sign-in on this server: this browser keeps its own list of voices and echos. " +
        "Sign in with a name (at the top of the page) to share a list with the Echo app."
      );
    }
    return (
      `No password on this server: your voices and echos are kept under the name “${this.name}”. ` +
      "Use the same name in the Echo app to see them there too."
    );
  }

  /** Sign out: forget the name in this browser (the voices and echos stay on the server under that name). */
  forget() {
    this.storage.removeItem(STORAGE_KEY);
    this.name = null;
    this.subject = null;
    this.userId = null;
  }
}

async function clientConfig(request) {
  try {
    const body = await request("GET", "/api/client-config", { anonymous: true });
    return body.sign_in || null;
  } catch (error) {
    // A server from before sign-in on the page has no such address: it is in local mode.
    if (error && error.status === 404) return null;
    throw error;
  }
}

async function startLocal(request) {
  const identity = new LocalIdentity();
  const saved = identity.load();
  const signInWithName = async (name) => {
    await identity.signInWithName(request, name);
    window.location.reload();
  };
  const useEarlier = () => {
    identity.useEarlier();
    window.location.reload();
  };
  const isValidName = (name) => Boolean(localIdentity(name));
  const panel = { signInWithName, isValidName, earlier: Boolean(identity.earlier()), useEarlier };
  if (!saved) {
    showNamePanel({ ...panel, required: true });
    return null;
  }
  await identity.ensure(request, saved);
  showAccount({
    kind: "local",
    name: identity.name,
    changeName: () => showNamePanel({ ...panel, required: false, current: identity.name }),
    signOut: () => {
      identity.forget();
      window.location.reload();
    },
  });
  return identity;
}

/**
 * The identity for this page, ready to use (ensure() done); null while the page is leaving for the sign-in
 * provider or waiting for the person to sign in (the page carries on by reloading once they have).
 */
export async function startIdentity(request = apiRequest) {
  const signIn = await clientConfig(request);
  if (!signIn) return startLocal(request);
  try {
    const { startOidc } = await import("./signin-oidc.js");
    return await startOidc(request, signIn);
  } catch (error) {
    showSignInProblem(messageOf(error));
    return null;
  }
}
