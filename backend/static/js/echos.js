// Echos (personas on a cloned voice) and the conversation of the open one, which comes first: its messages and the
// box to write to it, then what it remembers, and its name, description and voice to change.
// The open echo lives in the address (#echo=<id>; views.js follows it), so a reload or a shared link reopens it.

import { confirmAndDelete, sendForm } from "./actions.js";
import { api, messageOf } from "./api.js";
import {
  actionButton,
  announce,
  byId,
  fieldError,
  h,
  messageBubble,
  requiredValue,
  selectIfOffered,
  showMessage,
  showResult,
  submitOnCtrlEnter,
  whileBusy,
} from "./dom.js";
import { openMemories, setupMemories } from "./memories.js";
import { renameInReply, resetReply, setupReplies } from "./reply.js";
import { playIn, speakAsEcho } from "./speak.js";
import { echoOfVoice, emit, on, state, voiceName } from "./state.js";
import { loadVoices } from "./voices.js";

let openEcho = null;
let messages = []; // the open echo's stored messages, oldest first
let createdNow = null; // an echo just made on this page: its conversation opens with the box to write to it

// What an echo without a usable voice says, in the API's words (409 voice_deleted / no_voice).
export const VOICE_NOTICES = {
  deleted: "This echo's voice was deleted; choose another voice for it.",
  none: "This echo has no voice yet; choose one for it.",
};

const VOICE_ERRORS = { voice_deleted: "deleted", no_voice: "none" };

/** "ready", "deleted" or "none"; derived from voice_model_id when the server does not say. */
export function voiceStatus(echo) {
  if (echo && ["ready", "deleted", "none"].includes(echo.voice_status)) return echo.voice_status;
  return echo && echo.voice_model_id ? "ready" : "none";
}

/** "voice: Grandma" for an echo that has a voice; null otherwise (its notice says what to do). */
function voiceLabel(echo) {
  if (voiceStatus(echo) !== "ready") return null;
  const name = voiceName(echo.voice_model_id);
  return name ? `voice: ${name}` : "has a voice";
}

/** Rebuild a part of the page, keeping what was chosen in its selects and where the focus was. */
function rebuildKeeping(container, build) {
  const active = document.activeElement;
  const activeId = active && active.id && container.contains(active) ? active.id : null;
  const chosen = [...container.querySelectorAll("select[id]")].map((select) => [select.id, select.value]);
  build();
  for (const [id, value] of chosen) {
    const select = byId(id);
    if (select && container.contains(select)) selectIfOffered(select, value);
  }
  if (!activeId) return;
  // The focused control may be gone (a voice list that changed): stay in the same part of the page.
  const again = byId(activeId);
  const target = again && container.contains(again) ? again : container.querySelector("select, button, a[href]");
  if (target) target.focus();
}

// ---- giving an echo another voice -----------------------------------------------------------

/** The other echo a voice already speaks for (the server refuses to share a voice), or null. */
function otherEchoOf(voice, echo) {
  const other = echoOfVoice(voice);
  return other && other._id !== echo._id ? other : null;
}

/** The notice for an echo without a usable voice, with a form right there to choose one (PATCH). */
function voiceNotice(echo, idBase) {
  const status = voiceStatus(echo);
  return h(
    "div",
    { className: "voice-notice", dataset: { voiceStatus: status } },
    h("p", { className: "voice-notice-text", id: `${idBase}-text` }, VOICE_NOTICES[status]),
    voicePicker(echo, idBase, status),
  );
}

function voicePicker(echo, idBase, status) {
  const options = state.voices.map((voice) => {
    const other = otherEchoOf(voice, echo);
    const label = other ? `${voice.name || "Unnamed voice"} (voice of “${other.name}”)` : voice.name || "Unnamed voice";
    return h("option", { value: voice.model_id, disabled: Boolean(other) }, label);
  });
  if (!options.some((option) => !option.disabled)) {
    return h(
      "p",
      { className: "voice-notice-help" },
      state.voices.length ? "Each of your voices already speaks for another echo. " : "You have no voices yet. ",
      h("a", { href: "#clone-section", id: `${idBase}-clone` }, "Clone a voice"),
      " from a recording, then come back and choose it here.",
    );
  }
  const selectId = `${idBase}-select`;
  return h(
    "form",
    {
      className: "voice-choice",
      novalidate: true,
      onsubmit: (event) => chooseVoice(event, echo, idBase),
    },
    h(
      "div",
      { className: "field" },
      h("label", { for: selectId }, status === "deleted" ? `Another voice for ${echo.name}` : `A voice for ${echo.name}`),
      h(
        "select",
        { id: selectId, name: "voice_model_id", "aria-describedby": `${idBase}-text` },
        h("option", { value: "" }, "Choose a voice…"),
        options,
      ),
    ),
    h("button", { type: "submit", id: `${idBase}-submit`, className: "button primary small" }, "Use this voice"),
    h("div", { id: `${idBase}-message`, className: "form-message", "aria-live": "polite" }),
  );
}

/** Replace an echo everywhere the page holds it, then redraw. */
function replaceEcho(updated) {
  state.echos = state.echos.map((echo) => (echo._id === updated._id ? updated : echo));
  if (openEcho && openEcho._id === updated._id) openEcho = updated;
  emit("echos");
}

async function chooseVoice(event, echo, idBase) {
  event.preventDefault();
  const form = event.currentTarget;
  const inConversation = Boolean(form.closest("#conversation-section"));
  const modelId = byId(`${idBase}-select`).value;
  if (!modelId) {
    fieldError(byId(`${idBase}-message`), "Choose one of your voices first.", byId(`${idBase}-select`));
    return;
  }
  const path = `/api/echo/${encodeURIComponent(echo._id)}`;
  await whileBusy(form, async () => {
    try {
      const { echo: updated } = await api.patch(path, { voice_model_id: modelId });
      const text = `${updated.name} now speaks in the voice “${voiceName(modelId) || "you chose"}”.`;
      replaceEcho(updated);
      fillEditForm();
      showMessage(byId(inConversation ? "conversation-message" : "echo-list-message"), "success", text);
      announce(text);
      if (inConversation) byId("conversation-title").focus();
      await loadVoices(); // the voices' links to echos changed
    } catch (error) {
      // The form may have been redrawn meanwhile: find its message box again.
      const message = byId(`${idBase}-message`);
      if (message) showMessage(message, "error", `Could not change the voice: ${messageOf(error)}`);
      if (error.status === 404) loadVoices(); // that voice is gone
    }
  });
}

/** The server says the echo cannot speak (409 voice_deleted / no_voice): record it and show the notice. */
async function markVoiceLost(echoId, status) {
  const echo = state.echos.find((e) => e._id === echoId) || (openEcho && openEcho._id === echoId ? openEcho : null);
  if (!echo) return;
  replaceEcho({ ...echo, voice_status: status, voice_model_id: null });
  // It was deleted elsewhere, so the page's list of voices is out of date: offer only the real ones.
  if (status === "deleted") await loadVoices();
}

/** Bring the open conversation's voice notice into view, read it out, and put the focus on its choice. */
function pointToVoiceNotice() {
  const notice = byId("conversation-voice");
  if (notice.hidden) return;
  notice.scrollIntoView({ block: "nearest" });
  announce(VOICE_NOTICES[voiceStatus(openEcho)]);
  const control = notice.querySelector("select, a");
  if (control) control.focus();
}

function renderConversationVoice() {
  const container = byId("conversation-voice");
  if (!openEcho || voiceStatus(openEcho) === "ready") {
    container.hidden = true;
    container.replaceChildren();
    return;
  }
  rebuildKeeping(container, () => container.replaceChildren(...voiceNotice(openEcho, "conversation-voice").childNodes));
  container.dataset.voiceStatus = voiceStatus(openEcho);
  container.hidden = false;
}

// ---- list and create ------------------------------------------------------------------------

/** What the list says under an echo's name: its voice, or in plain words why it cannot speak. */
function echoLine(echo) {
  const status = voiceStatus(echo);
  if (status === "deleted") return h("span", { className: "voice-lost" }, "Its voice was deleted: choose another.");
  if (status === "none") return h("span", { className: "voice-lost" }, "No voice yet: choose one.");
  const name = voiceName(echo.voice_model_id);
  return name ? `Voice: ${name}` : "Has a voice";
}

function echoItem(echo) {
  const isOpen = openEcho && openEcho._id === echo._id;
  const status = voiceStatus(echo);
  const link = h(
    "a",
    {
      id: `echo-${echo._id}-open`,
      className: "echo-link",
      href: `#echo=${echo._id}`,
      "aria-current": isOpen ? "page" : null,
    },
    h("span", { className: "visually-hidden" }, "Open conversation with "),
    echo.name,
  );
  return h(
    "li",
    { className: isOpen ? "item echo current" : "item echo", dataset: { echoId: echo._id, voiceStatus: status } },
    h(
      "div",
      { className: "item-main" },
      h("p", { className: "item-title" }, link),
      h("p", { className: "item-meta" }, echoLine(echo)),
    ),
  );
}

export function renderEchos() {
  const list = byId("echos-list");
  rebuildKeeping(list, () => list.replaceChildren(...state.echos.map(echoItem)));
  byId("echos-empty").hidden = !state.echosLoaded || state.echos.length > 0;
  // With no echos the form to make one is open; with some, it is one click away.
  if (state.echosLoaded && !state.echos.length) byId("new-echo").open = true;
  if (openEcho) {
    byId("conversation-persona").textContent = personaLine(openEcho);
    fillEditVoices();
  }
  renderConversationVoice();
}

export async function loadEchos() {
  try {
    const body = await api.get("/api/echos", { limit: 200 });
    state.echos = body.echos || [];
    state.echosLoaded = true;
    if (openEcho) openEcho = state.echos.find((echo) => echo._id === openEcho._id) || openEcho;
    emit("echos");
  } catch (error) {
    showMessage(byId("echo-list-message"), "error", `Could not load your echos: ${messageOf(error)}`);
  }
}

// ---- who talks with an echo: their name and what they are to it (e.g. granddaughter) -----------------

const TALKER_FIELDS = { talking_with: "talking-with", relation: "relation" };

/** The form's questions say the echo's name ("Who will talk with Grandma Rose?"), or "them" before it has one. */
function nameTheEcho(form, name) {
  for (const slot of form.querySelectorAll("[data-echo-name]")) slot.textContent = name.trim() || "them";
}

/** What the `prefix` ("echo" or "edit") form says of who talks with the echo: only what was filled in. */
function talkerOf(prefix) {
  const said = {};
  for (const [field, id] of Object.entries(TALKER_FIELDS)) {
    const value = byId(`${prefix}-${id}`).value.trim();
    if (value) said[field] = value;
  }
  return said;
}

async function submitEcho(event) {
  event.preventDefault();
  const form = byId("echo-form");
  const message = byId("echo-message");
  const name = requiredValue(byId("echo-name"), message, "Give the echo a name.");
  if (!name) return;
  const body = { name, persona_prompt: byId("echo-prompt").value.trim(), ...talkerOf("echo") };
  const voiceId = byId("echo-voice").value;
  if (voiceId) body.voice_model_id = voiceId;
  await sendForm(form, message, async () => {
    const { echo } = await api.post("/api/echo", body);
    form.reset();
    nameTheEcho(form, "");
    showMessage(message, "", "");
    byId("new-echo").open = false;
    announce(`Echo ${echo.name} made. Its conversation is open.`);
    await Promise.all([loadEchos(), loadVoices()]);
    createdNow = echo._id;
    window.location.hash = `echo=${echo._id}`;
  });
}

function deleteEcho() {
  const echo = openEcho;
  if (!echo) return;
  const question = `Delete the echo “${echo.name}” and its whole conversation? Its voice is kept.`;
  const message = byId("edit-message");
  return confirmAndDelete(question, `/api/echo/${encodeURIComponent(echo._id)}`, message, echo.name, async () => {
    closeConversation();
    await Promise.all([loadEchos(), loadVoices()]);
    window.location.hash = "echos";
    showResult(byId("echo-list-message"), "success", `Echo “${echo.name}” deleted. Its voice is kept.`);
    announce(`Echo ${echo.name} deleted.`);
  });
}

// ---- changing an echo: name, description, who talks with it, voice -------------------------------

/** The voices this echo may speak in: its own, and those no other echo speaks in. */
function voicesFor(echo) {
  return state.voices.filter((voice) => !otherEchoOf(voice, echo));
}

function fillEditVoices() {
  const select = byId("edit-voice");
  const echo = openEcho;
  if (!echo) return;
  const current = select.value;
  const ready = voiceStatus(echo) === "ready";
  const options = [];
  if (!ready) {
    const label = voiceStatus(echo) === "deleted" ? "Its voice was deleted: choose another" : "Choose a voice…";
    options.push(h("option", { value: "" }, label));
  }
  for (const voice of voicesFor(echo)) options.push(h("option", { value: voice.model_id }, voice.name || "Unnamed voice"));
  if (ready && !options.some((o) => o.value === echo.voice_model_id)) {
    options.unshift(h("option", { value: echo.voice_model_id }, voiceName(echo.voice_model_id) || "Its voice"));
  }
  select.replaceChildren(...options);
  if (!selectIfOffered(select, current)) select.value = ready ? echo.voice_model_id : "";
}

/** Put the open echo's name, description, who talks with it and its voice in the form (as the server has them). */
function fillEditForm() {
  const echo = openEcho;
  if (!echo) return;
  byId("edit-name").value = echo.name || "";
  byId("edit-prompt").value = echo.persona_prompt || "";
  for (const [field, id] of Object.entries(TALKER_FIELDS)) byId(`edit-${id}`).value = echo[field] || "";
  nameTheEcho(byId("echo-edit-form"), echo.name || "");
  byId("edit-voice").value = "";
  fillEditVoices();
  byId("edit-voice").value = voiceStatus(echo) === "ready" ? echo.voice_model_id : "";
}

async function submitEdit(event) {
  event.preventDefault();
  const echo = openEcho;
  if (!echo) return;
  const form = byId("echo-edit-form");
  const message = byId("edit-message");
  const name = requiredValue(byId("edit-name"), message, "Give the echo a name.");
  if (!name) return;
  const changes = {};
  if (name !== echo.name) changes.name = name;
  const persona = byId("edit-prompt").value.trim();
  if (persona !== (echo.persona_prompt || "")) changes.persona_prompt = persona;
  // Who talks with it: a field emptied is sent as "" (the server clears it).
  for (const [field, id] of Object.entries(TALKER_FIELDS)) {
    const value = byId(`edit-${id}`).value.trim();
    if (value !== (echo[field] || "")) changes[field] = value;
  }
  const voiceId = byId("edit-voice").value;
  const hadVoice = voiceStatus(echo) === "ready" ? echo.voice_model_id : "";
  if (voiceId && voiceId !== hadVoice) changes.voice_model_id = voiceId;
  if (!Object.keys(changes).length) {
    showResult(message, "info", "Nothing to save: nothing was changed.");
    return;
  }
  await sendForm(form, message, async () => {
    const { echo: updated } = await api.patch(`/api/echo/${encodeURIComponent(echo._id)}`, changes);
    replaceEcho(updated);
    byId("conversation-title").textContent = `Conversation with ${updated.name}`;
    renameInReply(updated);
    fillEditForm();
    const said = ["Saved."];
    if (changes.voice_model_id) said.push(`${updated.name} now speaks in the voice “${voiceName(updated.voice_model_id) || "you chose"}”.`);
    showResult(message, "success", said.join(" "));
    announce(said.join(" "));
    if (changes.voice_model_id) await loadVoices(); // the voices' links to echos changed
  });
}

// ---- the conversation -----------------------------------------------------------------------

function personaLine(echo) {
  const persona = echo.persona_prompt ? echo.persona_prompt : "Nothing written about them yet.";
  const voice = voiceLabel(echo);
  return voice ? `${persona} · ${voice.charAt(0).toUpperCase()}${voice.slice(1)}.` : persona;
}

/** A message of the conversation; the echo's are marked as written by an AI echo (and which model), and can be
 * heard. */
function messageItem(message) {
  const mine = message.role === "user";
  const label = `Hear this message in ${openEcho.name}'s voice`;
  const hearIt = (event) => hearMessage(message, event.currentTarget);
  const hear = mine ? null : actionButton("secondary", "Hear", label, hearIt);
  // The person's message before the server has kept it: "sending…", or "not sent" after a failure.
  const note = message.unsent ? "not sent" : message.pending ? "sending…" : null;
  const classes = ["message", mine ? "from-user" : "from-echo", message.unsent ? "unsent" : ""];
  return messageBubble(
    "li",
    { className: classes.join(" ").trim(), dataset: { messageId: message._id } },
    {
      speaker: mine ? "You" : openEcho.name,
      ai: !mine,
      model: message.model,
      when: note ? null : message.created_at,
      note,
    },
    message.content,
    hear ? h("p", { className: "message-actions" }, hear) : null,
  );
}

/** Draw the stored messages, then `extra` ones the server has not kept (yet). */
function renderMessages(stored, extra = []) {
  messages = stored;
  const shown = [...stored, ...extra];
  const list = byId("conversation-list");
  list.replaceChildren(...shown.map(messageItem));
  list.hidden = shown.length === 0;
  byId("conversation-empty").hidden = shown.length > 0;
  list.scrollTop = list.scrollHeight; // the newest message in view
}

async function loadMessages(echoId) {
  const { messages: stored } = await api.get(`/api/conversation/${encodeURIComponent(echoId)}`, { limit: 200 });
  return stored || [];
}

/** A 409 voice_deleted / no_voice: the echo's voice went away elsewhere; record it. Says whether it was one. */
async function voiceLostBy(error, echo) {
  const lost = error.status === 409 ? VOICE_ERRORS[error.code] : null;
  if (lost) await markVoiceLost(echo._id, lost);
  return Boolean(lost);
}

// What reply.js may do with the open conversation.
const conversation = {
  echo: () => openEcho,
  messages: () => messages,
  show: renderMessages,
  speaks: (echo) => voiceStatus(echo) === "ready",
  reload: async () => {
    const echo = openEcho;
    const stored = await loadMessages(echo._id);
    if (openEcho !== echo) return messages;
    return stored;
  },
  voiceLost: (error) => (openEcho ? voiceLostBy(error, openEcho) : false),
};

async function hearMessage(message, button) {
  const echo = openEcho;
  const status = byId("conversation-message");
  // Only ever in the echo's own voice: without one, say so instead of speaking in another.
  if (voiceStatus(echo) !== "ready") {
    showMessage(status, "", "");
    pointToVoiceNotice();
    return;
  }
  // Busy, not disabled: a disabled button would drop the keyboard focus.
  if (button.getAttribute("aria-disabled") === "true") return;
  button.setAttribute("aria-disabled", "true");
  showMessage(status, "info", "Making the speech…");
  try {
    const result = await speakAsEcho(message.content, echo._id, "mp3");
    const audio = byId("conversation-audio");
    audio.hidden = false;
    const outcome = await playIn(audio, result.audio_url);
    if (outcome === "error") showMessage(status, "error", "The browser could not play this audio.");
    else showMessage(status, "", "");
    announce(outcome === "playing" ? "Playing the message." : "The message is ready; press play to listen.");
  } catch (error) {
    if (await voiceLostBy(error, echo)) {
      // The voice went away elsewhere (another tab, the API): the notice says so and offers another.
      showMessage(status, "", "");
      if (openEcho && openEcho._id === echo._id) pointToVoiceNotice();
    } else {
      showMessage(status, "error", messageOf(error));
    }
  } finally {
    button.removeAttribute("aria-disabled");
  }
}

function closeConversation() {
  openEcho = null;
  messages = [];
  resetReply(null);
  openMemories(null);
  nameTheEcho(byId("echo-edit-form"), ""); // the closed echo's name stays nowhere on the page
  byId("conversation-section").hidden = true;
  byId("echos-layout").classList.remove("has-open");
  byId("conversation-audio").pause();
  renderConversationVoice();
  renderEchos();
}

async function openConversation(echoId) {
  const section = byId("conversation-section");
  const status = byId("conversation-message");
  try {
    const [{ echo }, stored] = await Promise.all([
      api.get(`/api/echo/${encodeURIComponent(echoId)}`),
      loadMessages(echoId),
    ]);
    openEcho = echo;
    byId("conversation-title").textContent = `Conversation with ${echo.name}`;
    byId("conversation-persona").textContent = personaLine(echo);
    byId("conversation-audio").pause();
    byId("conversation-audio").hidden = true;
    showMessage(status, "", "");
    showMessage(byId("message-message"), "", "");
    showMessage(byId("edit-message"), "", "");
    byId("echo-edit").open = false;
    resetReply(echo);
    fillEditForm();
    renderMessages(stored);
    openMemories(echo);
    section.hidden = false;
    byId("echos-layout").classList.add("has-open");
    renderEchos(); // also draws the voice notice when the echo cannot speak
    return true;
  } catch (error) {
    openEcho = null;
    section.hidden = true;
    byId("echos-layout").classList.remove("has-open");
    showResult(byId("echo-list-message"), "error", `Could not open the conversation: ${messageOf(error)}`);
    return false;
  }
}

async function submitMessage(event) {
  event.preventDefault();
  if (!openEcho) return;
  const form = byId("message-form");
  const status = byId("message-message");
  const content = requiredValue(byId("message-content"), status, "Type a message first.");
  if (!content) return;
  await sendForm(form, status, async () => {
    await api.post(`/api/conversation/${encodeURIComponent(openEcho._id)}`, {
      role: byId("message-role").value,
      content,
    });
    byId("message-content").value = "";
    showMessage(status, "", "");
    renderMessages(await loadMessages(openEcho._id));
    announce("Message added.");
    byId("message-content").focus();
  });
}

/** The open echo's id, or null. */
export function openEchoId() {
  return openEcho ? openEcho._id : null;
}

/**
 * Show the conversation with an echo (views.js calls this for #echo=<id>). With `focus`, the conversation is
 * brought into view (on a phone it fills the screen) and its title takes the focus; an echo just made puts
 * the focus in the box to write to it.
 */
export async function showEcho(echoId, { focus = true } = {}) {
  const already = openEcho && openEcho._id === echoId;
  if (!already && !(await openConversation(echoId))) return false;
  if (focus) {
    byId("conversation-section").scrollIntoView({ block: "start" });
    if (createdNow === echoId) byId("reply-content").focus({ preventScroll: true });
    else byId("conversation-title").focus({ preventScroll: true });
  }
  createdNow = null;
  return true;
}

/** Back to the list of echos (views.js calls this for #echos). */
export function closeEcho() {
  if (openEcho) closeConversation();
}

export function setupEchos() {
  byId("echo-form").addEventListener("submit", submitEcho);
  byId("echo-edit-form").addEventListener("submit", submitEdit);
  // The questions of who talks with the echo follow its name as it is typed.
  for (const [form, field] of [["echo-form", "echo-name"], ["echo-edit-form", "edit-name"]]) {
    byId(field).addEventListener("input", () => nameTheEcho(byId(form), byId(field).value));
  }
  byId("message-form").addEventListener("submit", submitMessage);
  submitOnCtrlEnter(byId("message-content"));
  submitOnCtrlEnter(byId("edit-prompt"));
  setupReplies(conversation);
  setupMemories();
  const remove = h("button", { type: "button", id: "echo-delete", className: "button danger" }, "Delete this echo");
  remove.addEventListener("click", deleteEcho);
  byId("echo-edit-form").querySelector(".actions").append(remove);
  // A deleted voice leaves its echo without one: the server says which echos, so ask again.
  on("voice-deleted", () => loadEchos());
}
