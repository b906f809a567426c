// Connect other apps: what a home assistant or a chat app needs to speak in this person's voices.
//   - the speech address (<this server>/v1, OpenAI's text-to-speech dialect),
//   - personal keys (POST/GET /api/api-keys, DELETE /api/api-keys/<id>): a new key is shown once, here only,
//     and never kept by the page; the list shows each key's name, the first characters, when it was made and
//     when it was last used,
//   - the ids of the person's voices and echos, each with a Copy button (the one place ids are needed).

import { api, messageOf } from "./api.js";
import { actionButton, announce, byId, h, requiredValue, showMessage, showResult, whileBusy } from "./dom.js";
import { voiceStatus } from "./echos.js";
import { state } from "./state.js";
import { loadVoices } from "./voices.js";

let keys = [];
let loading = null;
let loaded = false;

// ---- words --------------------------------------------------------------------------------------

const dayFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });

const MINUTE = 60 * 1000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

function plural(n, unit) {
  return `${n} ${unit}${n === 1 ? "" : "s"}`;
}

/** When something happened, in words: "just now", "5 minutes ago", "yesterday", "3 days ago", "4 Mar 2026". */
export function whenInWords(iso, now = Date.now()) {
  const time = new Date(iso).getTime();
  if (!iso || Number.isNaN(time)) return "";
  const ago = Math.max(0, now - time);
  if (ago < MINUTE) return "just now";
  if (ago < HOUR) return `${plural(Math.floor(ago / MINUTE), "minute")} ago`;
  if (ago < DAY) return `${plural(Math.floor(ago / HOUR), "hour")} ago`;
  if (ago < 2 * DAY) return "yesterday";
  if (ago < 7 * DAY) return `${Math.floor(ago / DAY)} days ago`;
  return `on ${dayFormat.format(new Date(time))}`;
}

/** "Made 3 days ago · Last used 5 minutes ago" for a key. */
function keyWhen(key) {
  const made = whenInWords(key.created_at);
  const used = key.last_used_at ? whenInWords(key.last_used_at) : "";
  return [made ? `Made ${made}` : "", used ? `Last used ${used}` : "Not used yet"].filter(Boolean).join(" · ");
}

function safeId(value) {
  return String(value).replace(/[^A-Za-z0-9_-]/g, "_");
}

// ---- copying --------------------------------------------------------------------------------------

/**
 * Put `text` on the clipboard. The Clipboard API needs a secure page (https, or this computer's own address);
 * a household server reached over plain http on its network falls back to the older copy command, selecting
 * `field` (or a hidden one) first. Resolves true when it worked.
 */
async function copyText(text, field = null) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // Refused (permissions): try the older way.
    }
  }
  let target = field;
  let temporary = null;
  if (!target) {
    temporary = h("textarea", { className: "copy-buffer", readonly: true, "aria-hidden": "true", tabindex: "-1" });
    temporary.value = text;
    document.body.append(temporary);
    target = temporary;
  }
  const active = document.activeElement;
  try {
    target.select();
    return document.execCommand("copy");
  } catch {
    return false;
  } finally {
    if (temporary) {
      temporary.remove();
      if (active && active.focus) active.focus({ preventScroll: true });
    }
  }
}

/** Copy and say so next to it; `what` names it ("The key", "The id of “Mum”"). */
async function copyAndSay(text, what, message, field = null) {
  if (await copyText(text, field)) {
    showMessage(message, "success", `${what} is copied. Paste it into the other app.`);
    announce(`${what} is copied.`);
  } else {
    if (field) field.select();
    showResult(message, "error", `${what} could not be copied here. Select it and copy it by hand (Ctrl+C, or ⌘C on a Mac).`);
  }
}

// ---- the speech address --------------------------------------------------------------------------

export function speechAddress() {
  return `${window.location.origin}/v1`;
}

/** Whether the page was reached by an address that only works on the computer itself. */
function onlyThisComputer() {
  return /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/i.test(window.location.hostname);
}

function showAddress() {
  byId("connect-base-url").textContent = speechAddress();
  byId("connect-this-computer").hidden = !onlyThisComputer();
}

// ---- keys -------------------------------------------------------------------------------------------

function keyItem(key) {
  const base = `key-${safeId(key._id)}`;
  const name = key.name || "Unnamed key";
  return h(
    "li",
    { className: "item key-item", id: base, dataset: { keyId: key._id } },
    h(
      "div",
      { className: "item-main" },
      h("p", { className: "item-title" }, name),
      h(
        "p",
        { className: "item-meta" },
        "Starts with ",
        h("code", { className: "key-prefix" }, `${key.prefix || ""}…`),
      ),
      h("p", { className: "item-meta key-when" }, keyWhen(key)),
    ),
    h(
      "div",
      { className: "item-actions" },
      actionButton("danger", "Revoke", `Revoke the key “${name}”`, () => revoke(key), { id: `${base}-revoke` }),
    ),
  );
}

function renderKeys() {
  byId("keys-list").replaceChildren(...keys.map(keyItem));
  byId("keys-empty").hidden = !loaded || keys.length > 0;
}

export function loadKeys() {
  if (loading) return loading;
  const list = byId("keys-list");
  list.setAttribute("aria-busy", "true");
  loading = (async () => {
    try {
      const body = await api.get("/api/api-keys", { limit: 100 });
      keys = body.api_keys || [];
      loaded = true;
      const message = byId("keys-message");
      if (message.classList.contains("error")) showMessage(message, "", "");
      renderKeys();
    } catch (error) {
      showMessage(byId("keys-message"), "error", `Could not load your keys: ${messageOf(error)}`);
    } finally {
      list.setAttribute("aria-busy", "false");
      loading = null;
    }
  })();
  return loading;
}

function hideNewKey() {
  const field = byId("key-new-secret");
  field.value = "";
  byId("key-new").hidden = true;
  showMessage(byId("key-new-message"), "", "");
}

async function makeKey(event) {
  event.preventDefault();
  const form = byId("key-form");
  const message = byId("key-message");
  showMessage(message, "", "");
  const name = requiredValue(byId("key-name"), message, "Give the key a name, such as the app or the room it is for.");
  if (!name) return;
  await whileBusy(form, async () => {
    try {
      const body = await api.post("/api/api-keys", { name });
      const made = body.api_key || {};
      byId("key-name").value = "";
      keys = [made, ...keys.filter((k) => k._id !== made._id)];
      loaded = true;
      renderKeys();
      // Shown once: only in this box, until the person hides it or leaves the page.
      byId("key-new-title").textContent = `Your new key “${made.name || name}”`;
      byId("key-new-secret").value = body.key || "";
      showMessage(byId("key-new-message"), "", "");
      byId("key-new").hidden = false;
      const title = byId("key-new-title");
      title.scrollIntoView({ block: "nearest" });
      title.focus({ preventScroll: true });
      announce("Key made. Copy it now: Echo will not show it again.");
    } catch (error) {
      showResult(message, "error", `Could not make the key: ${messageOf(error)}`);
    }
  });
}

async function revoke(key) {
  const name = key.name || "Unnamed key";
  const question =
    `Revoke the key “${name}”?\n\nIt stops working at once: any app using it can no longer speak in your ` +
    "voices. This cannot be undone; you can make a new key instead.";
  if (!window.confirm(question)) return;
  const message = byId("keys-message");
  try {
    await api.del(`/api/api-keys/${encodeURIComponent(key._id)}`);
  } catch (error) {
    if (error.status !== 404) {
      showResult(message, "error", `Could not revoke “${name}”: ${messageOf(error)}`);
      return;
    }
    // Already gone (revoked elsewhere): it no longer works either way.
  }
  const index = keys.findIndex((k) => k._id === key._id);
  keys = keys.filter((k) => k._id !== key._id);
  renderKeys();
  showMessage(message, "success", `Revoked “${name}”. It no longer works.`);
  announce(`Revoked “${name}”. It no longer works.`);
  const next = keys[Math.min(index, keys.length - 1)];
  const target = next ? byId(`key-${safeId(next._id)}-revoke`) : byId("key-name");
  if (target) target.focus();
}

// ---- voice ids --------------------------------------------------------------------------------------

function idItem(kind, id, name, meta) {
  const base = `connect-${kind}-${safeId(id)}`;
  const message = h("div", { className: "form-message", id: `${base}-message`, "aria-live": "polite", tabindex: "-1" });
  const label = kind === "echo" ? `Copy the id of the echo “${name}”` : `Copy the id of the voice “${name}”`;
  return h(
    "li",
    { className: "item id-item", id: base, dataset: { id } },
    h(
      "div",
      { className: "item-main" },
      h("p", { className: "item-title" }, name),
      meta ? h("p", { className: "item-meta" }, meta) : null,
      h("p", { className: "item-meta" }, "Id: ", h("code", { className: "copyable", id: `${base}-id` }, id)),
    ),
    h(
      "div",
      { className: "item-actions" },
      actionButton("secondary", "Copy id", label, () => copyAndSay(id, `The id of “${name}”`, message), {
        id: `${base}-copy`,
      }),
    ),
    message,
  );
}

export function renderConnectVoices() {
  const list = byId("connect-voice-list");
  if (!list) return;
  const active = document.activeElement && document.activeElement.id;
  list.replaceChildren(...state.voices.map((voice) => idItem("voice", voice.model_id, voice.name || "Unnamed voice")));
  byId("connect-voices-empty").hidden = state.voices.length > 0;
  const total = Math.max(state.voicesTotal || 0, state.voices.length);
  byId("connect-voices-more-row").hidden = state.voices.length >= total;
  byId("connect-voices-count").textContent = `Showing ${state.voices.length} of ${total}.`;

  const speaking = state.echos.filter((echo) => voiceStatus(echo) === "ready");
  byId("connect-echos").hidden = speaking.length === 0;
  byId("connect-echo-list").replaceChildren(
    ...speaking.map((echo) => {
      const voice = state.voices.find((v) => v.model_id === echo.voice_model_id);
      return idItem("echo", echo._id, echo.name, voice ? `Speaks in the voice “${voice.name}”` : null);
    }),
  );
  if (active && byId(active) && document.activeElement === document.body) byId(active).focus();
}

// ---- the view ----------------------------------------------------------------------------------------

/** Opened: the address, the keys (fresh from the server) and the ids. */
export function showConnect() {
  showAddress();
  renderConnectVoices();
  return loadKeys();
}

/** Leaving the view hides a new key: it is shown once. */
export function leaveConnect() {
  if (!byId("key-new").hidden) hideNewKey();
}

export function setupConnect() {
  showAddress();
  byId("key-form").addEventListener("submit", makeKey);
  byId("key-new-copy").addEventListener("click", () =>
    copyAndSay(byId("key-new-secret").value, "The key", byId("key-new-message"), byId("key-new-secret")),
  );
  byId("key-new-secret").addEventListener("focus", (event) => event.target.select());
  byId("key-new-done").addEventListener("click", () => {
    hideNewKey();
    byId("keys-title").focus();
  });
  byId("connect-base-url-copy").addEventListener("click", () =>
    copyAndSay(speechAddress(), "The address", byId("connect-copy-message")),
  );
  byId("connect-voices-more").addEventListener("click", () => loadVoices({ append: true }));
}
