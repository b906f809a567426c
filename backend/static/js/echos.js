// Echos (personas on a cloned voice) and the conversation of the open one.
// The open echo lives in the address (#echo=<id>), so a reload or a shared link reopens it.

import { api, messageOf } from "./api.js";
import { announce, byId, h, setBusy, showMessage, timeElement } from "./dom.js";
import { playIn, synthesize } from "./speak.js";
import { emit, state, voiceName } from "./state.js";
import { loadVoices } from "./voices.js";

let openEcho = null;

function echoIdFromHash() {
  const match = /^#echo=([A-Za-z0-9_-]+)$/.exec(window.location.hash);
  return match ? match[1] : null;
}

function voiceLabel(echo) {
  if (!echo.voice_model_id) return "no voice yet";
  const name = voiceName(echo.voice_model_id);
  return name ? `voice: ${name}` : "its voice was deleted or is not listed";
}

// ---- list and create ------------------------------------------------------------------------

function echoItem(echo) {
  const isOpen = openEcho && openEcho._id === echo._id;
  return h(
    "li",
    { className: isOpen ? "item current" : "item", dataset: { echoId: echo._id } },
    h(
      "div",
      { className: "item-main" },
      h("p", { className: "item-title" }, echo.name),
      h("p", { className: "item-meta" }, voiceLabel(echo), " · created ", timeElement(echo.created_at)),
    ),
    h(
      "div",
      { className: "item-actions" },
      h(
        "a",
        {
          className: "button secondary small",
          href: `#echo=${echo._id}`,
          "aria-label": `Open conversation with ${echo.name}`,
          "aria-current": isOpen ? "true" : null,
        },
        "Open",
      ),
      h(
        "button",
        {
          type: "button",
          className: "button danger small",
          "aria-label": `Delete echo ${echo.name}`,
          onclick: () => deleteEcho(echo),
        },
        "Delete",
      ),
    ),
  );
}

export function renderEchos() {
  byId("echos-list").replaceChildren(...state.echos.map(echoItem));
  byId("echos-empty").hidden = state.echos.length > 0;
  if (openEcho) byId("conversation-persona").textContent = personaLine(openEcho);
}

export async function loadEchos() {
  try {
    const body = await api.get("/api/echos", { limit: 200 });
    state.echos = body.echos || [];
    emit("echos");
  } catch (error) {
    showMessage(byId("echo-message"), "error", `Could not load your echos: ${messageOf(error)}`);
  }
}

async function submitEcho(event) {
  event.preventDefault();
  const form = byId("echo-form");
  const message = byId("echo-message");
  const name = byId("echo-name").value.trim();
  if (!name) {
    showMessage(message, "error", "Give the echo a name.");
    byId("echo-name").focus();
    return;
  }
  const body = { name, persona_prompt: byId("echo-prompt").value.trim() };
  const voiceId = byId("echo-voice").value;
  if (voiceId) body.voice_model_id = voiceId;
  setBusy(form, true);
  try {
    const { echo } = await api.post("/api/echo", body);
    form.reset();
    showMessage(message, "success", `Echo “${echo.name}” created. Its conversation is open below.`);
    announce(`Echo ${echo.name} created.`);
    await Promise.all([loadEchos(), loadVoices()]);
    window.location.hash = `echo=${echo._id}`;
  } catch (error) {
    showMessage(message, "error", messageOf(error));
  } finally {
    setBusy(form, false);
  }
}

async function deleteEcho(echo) {
  if (!window.confirm(`Delete the echo “${echo.name}” and its whole conversation? Its voice is kept.`)) return;
  try {
    const body = await api.del(`/api/echo/${encodeURIComponent(echo._id)}`);
    if (openEcho && openEcho._id === echo._id) closeConversation();
    showMessage(byId("echo-message"), "success", body.message || `Echo “${echo.name}” deleted.`);
    announce(`Echo ${echo.name} deleted.`);
    await Promise.all([loadEchos(), loadVoices()]);
  } catch (error) {
    showMessage(byId("echo-message"), "error", `Could not delete “${echo.name}”: ${messageOf(error)}`);
  }
}

// ---- the conversation -----------------------------------------------------------------------

function personaLine(echo) {
  const persona = echo.persona_prompt ? echo.persona_prompt : "No persona written yet.";
  const voice = voiceLabel(echo);
  return `${persona} · ${voice.charAt(0).toUpperCase()}${voice.slice(1)}.`;
}

function messageItem(message) {
  const mine = message.role === "user";
  const speaker = mine ? "You" : openEcho.name;
  const hear = mine ? null : h(
    "button",
    {
      type: "button",
      className: "button secondary small",
      "aria-label": `Hear this message in ${openEcho.name}'s voice`,
      onclick: (event) => hearMessage(message, event.currentTarget),
    },
    "Hear",
  );
  return h(
    "li",
    { className: mine ? "message from-user" : "message from-echo", dataset: { messageId: message._id } },
    h("p", { className: "message-head" }, h("strong", {}, speaker), " · ", timeElement(message.created_at)),
    h("p", { className: "message-text" }, message.content),
    hear ? h("p", { className: "message-actions" }, hear) : null,
  );
}

function renderMessages(messages) {
  const list = byId("conversation-list");
  list.replaceChildren(...messages.map(messageItem));
  list.hidden = messages.length === 0;
  byId("conversation-empty").hidden = messages.length > 0;
  list.scrollTop = list.scrollHeight; // the newest message in view
}

async function hearMessage(message, button) {
  const status = byId("conversation-message");
  button.disabled = true;
  showMessage(status, "info", "Making the speech…");
  try {
    const result = await synthesize(message.content, openEcho.voice_model_id || "", "mp3");
    const audio = byId("conversation-audio");
    audio.hidden = false;
    const outcome = await playIn(audio, result.audio_url);
    if (outcome === "error") showMessage(status, "error", "The browser could not play this audio.");
    else showMessage(status, "", "");
    announce(outcome === "playing" ? "Playing the message." : "The message is ready; press play to listen.");
  } catch (error) {
    const gone = error.status === 404 && openEcho.voice_model_id;
    const text = gone ? `${openEcho.name}'s voice no longer exists: ${messageOf(error)}` : messageOf(error);
    showMessage(status, "error", text);
  } finally {
    button.disabled = false;
  }
}

function closeConversation() {
  openEcho = null;
  byId("conversation-section").hidden = true;
  byId("conversation-audio").pause();
  if (window.location.hash) history.replaceState(null, "", window.location.pathname + window.location.search);
  renderEchos();
}

async function openConversation(echoId) {
  const section = byId("conversation-section");
  const status = byId("conversation-message");
  try {
    const [{ echo }, { messages }] = await Promise.all([
      api.get(`/api/echo/${encodeURIComponent(echoId)}`),
      api.get(`/api/conversation/${encodeURIComponent(echoId)}`, { limit: 200 }),
    ]);
    openEcho = echo;
    byId("conversation-title").textContent = `Conversation with ${echo.name}`;
    byId("conversation-persona").textContent = personaLine(echo);
    byId("conversation-audio").hidden = true;
    showMessage(status, "", "");
    showMessage(byId("message-message"), "", "");
    renderMessages(messages || []);
    section.hidden = false;
    renderEchos();
    return true;
  } catch (error) {
    openEcho = null;
    section.hidden = true;
    showMessage(byId("echo-message"), "error", `Could not open the conversation: ${messageOf(error)}`);
    return false;
  }
}

async function submitMessage(event) {
  event.preventDefault();
  if (!openEcho) return;
  const form = byId("message-form");
  const status = byId("message-message");
  const content = byId("message-content").value.trim();
  if (!content) {
    showMessage(status, "error", "Type a message first.");
    byId("message-content").focus();
    return;
  }
  setBusy(form, true);
  try {
    await api.post(`/api/conversation/${encodeURIComponent(openEcho._id)}`, {
      role: byId("message-role").value,
      content,
    });
    byId("message-content").value = "";
    showMessage(status, "", "");
    const { messages } = await api.get(`/api/conversation/${encodeURIComponent(openEcho._id)}`, { limit: 200 });
    renderMessages(messages || []);
    announce("Message added.");
    byId("message-content").focus();
  } catch (error) {
    showMessage(status, "error", messageOf(error));
  } finally {
    setBusy(form, false);
  }
}

async function followHash({ focus = true } = {}) {
  const echoId = echoIdFromHash();
  if (!echoId) {
    // Links to sections (#speak-section, …) leave the conversation open; an empty address closes it.
    if (openEcho && !window.location.hash) closeConversation();
    return;
  }
  if (openEcho && openEcho._id === echoId) return;
  if ((await openConversation(echoId)) && focus) {
    byId("conversation-section").scrollIntoView({ block: "start" });
    byId("conversation-title").focus();
  }
}

export function setupEchos() {
  byId("echo-form").addEventListener("submit", submitEcho);
  byId("message-form").addEventListener("submit", submitMessage);
  byId("message-content").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) byId("message-form").requestSubmit();
  });
  byId("conversation-close").addEventListener("click", () => {
    closeConversation();
    byId("echos-title").scrollIntoView({ block: "start" });
  });
  window.addEventListener("hashchange", () => followHash());
}

/** After the first load: reopen the echo named in the address. */
export function openFromAddress() {
  return followHash({ focus: false });
}
