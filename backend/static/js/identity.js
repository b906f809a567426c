// Who is using the page.
//
// Every identity has the same small interface, which api.js relies on:
//   ensure(request)  -> Promise<identity>  make sure the server knows the user; sets userId
//   params()         -> {}                 fields added to every request (query string or body)
//   headers()        -> {}                 headers added to every request
//   describe()       -> string             one line for the footer
//   forget()                                drop what is kept in this browser
//
// LocalIdentity is for local mode (no sign-in on the server): it makes up a subject "local|<random>"
// once, keeps it in localStorage, and names its user with user_id. A sign-in identity (OIDC, say)
// would instead return {Authorization: "Bearer …"} from headers(), {} from params(), and call
// POST /api/users/<sub> in ensure(); app.js only picks which one to create.

const STORAGE_KEY = "echo.identity.v1";

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

function randomHex(bytes = 12) {
  const values = new Uint8Array(bytes);
  window.crypto.getRandomValues(values);
  return Array.from(values, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class LocalIdentity {
  constructor(storage = browserStorage()) {
    this.storage = storage;
    this.kind = "local";
    this.subject = null;
    this.userId = null;
  }

  load() {
    try {
      const saved = JSON.parse(this.storage.getItem(STORAGE_KEY) || "null");
      return saved && typeof saved.subject === "string" ? saved : null;
    } catch {
      return null;
    }
  }

  save(value) {
    this.storage.setItem(STORAGE_KEY, JSON.stringify(value));
  }

  /** Create (or find) this browser's user on the server; POST /api/users/<subject> is idempotent. */
  async ensure(request) {
    const saved = this.load() || { subject: `local|${randomHex()}`, userId: null };
    try {
      const body = await request("POST", `/api/users/${encodeURIComponent(saved.subject)}`, {
        json: {},
        anonymous: true,
      });
      saved.userId = String(body.user);
    } catch (error) {
      // The server could not answer now (database down, say): keep using the id it gave before.
      if (!saved.userId) throw error;
    }
    this.save(saved);
    this.subject = saved.subject;
    this.userId = saved.userId;
    return this;
  }

  params() {
    return this.userId ? { user_id: this.userId } : {};
  }

  headers() {
    return {};
  }

  describe() {
    return "Local mode: no sign-in. This browser keeps its own user, so your voices and echos are listed here only.";
  }

  forget() {
    this.storage.removeItem(STORAGE_KEY);
    this.subject = null;
    this.userId = null;
  }
}

/** The identity for this page, ready to use (ensure() done). Today always local; a sign-in step would choose here. */
export async function startIdentity(request) {
  const identity = new LocalIdentity();
  await identity.ensure(request);
  return identity;
}
