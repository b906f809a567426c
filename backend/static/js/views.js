// Which part of the page is shown, from the address, so a reload or a link lands in the same place:
//   #echos            the person's echos (the landing page once they have one)
//   #echo=<id>        the conversation with an echo, first on the page
//   #voices           their voices: make one from a recording, rename, listen, any words in a voice
//   #history          what was spoken
//   #welcome          the first visit's three steps (a recording, a voice, an echo), in plain words
//   #connect          connect other apps: the speech address, personal keys, the voices' ids
// With no address the page lands on the echos, or on the welcome when there is none yet.

import { leaveConnect, showConnect } from "./connect.js";
import { byId } from "./dom.js";
import { closeEcho, showEcho } from "./echos.js";
import { loadHistory } from "./history.js";
import { on, state } from "./state.js";
import { hasRecording, lastClonedVoice } from "./voices.js";

const VIEWS = ["welcome", "echos", "voices", "history", "connect"];

// Older links to parts of the page, and the view each is in.
const ANCHORS = {
  "clone-section": "voices",
  "speak-section": "voices",
  "voices-section": "voices",
  "echos-section": "echos",
  "history-section": "history",
  "keys-section": "connect",
  "connect-voices": "connect",
};

const STEP_NAMES = ["a recording", "a voice", "an echo"];

let current = null;

/** What the address asks for: {view, echoId?, anchor?}, or null to stay where we are (#main, say). */
function route() {
  const hash = window.location.hash.slice(1);
  const echo = /^echo=([A-Za-z0-9_-]+)$/.exec(hash);
  if (echo) return { view: "echos", echoId: echo[1] };
  if (VIEWS.includes(hash)) return { view: hash };
  if (ANCHORS[hash]) return { view: ANCHORS[hash], anchor: hash };
  if (!hash) return { view: state.echos.length ? "echos" : "welcome" };
  return null;
}

export function currentView() {
  return current;
}

// ---- the walk-through --------------------------------------------------------------------------

function welcomeStep() {
  if (state.voices.length) return 3;
  return hasRecording() ? 2 : 1;
}

/** The clone form or the echo form in the walk-through, or both back at home. */
function placeForms() {
  const slot = byId("welcome-slot");
  const clone = byId("clone-form");
  const echo = byId("echo-form");
  const step = current === "welcome" ? welcomeStep() : 0;
  const cloneHere = step === 1 || step === 2;
  const echoHere = step === 3;
  const cloneHome = byId("clone-form-home");
  const echoHome = byId("echo-form-home");
  if (cloneHere && clone.parentElement !== slot) slot.append(clone);
  if (!cloneHere && clone.parentElement !== cloneHome) cloneHome.append(clone);
  if (echoHere && echo.parentElement !== slot) slot.append(echo);
  if (!echoHere && echo.parentElement !== echoHome) echoHome.append(echo);
}

/** The voice a new echo is offered: the one just made, else the newest that no echo speaks in. */
function voiceToOffer() {
  const select = byId("echo-voice");
  const free = (id) => [...select.options].some((o) => o.value === id && !o.disabled);
  const made = lastClonedVoice();
  if (made && free(made)) return made;
  const option = [...select.options].find((o) => o.value && !o.disabled);
  return option ? option.value : "";
}

function renderWelcome() {
  const step = welcomeStep();
  for (const item of byId("welcome-steps").children) {
    const number = Number(item.dataset.step);
    if (number === step) item.setAttribute("aria-current", "step");
    else item.removeAttribute("aria-current");
    item.classList.toggle("done", number < step);
  }
  byId("welcome-step-title").textContent = `Step ${step} of 3: ${STEP_NAMES[step - 1]}`;
  let hint;
  if (step === 1) hint = "Choose a recording of their voice, or record one now with the microphone.";
  else if (step === 2) hint = "Now give the voice a name, confirm that you may use it, and press “Clone voice”.";
  else {
    const offered = voiceToOffer();
    const voice = state.voices.find((v) => v.model_id === offered);
    hint = voice
      ? `The voice “${voice.name}” is ready. Now tell Echo who they are, then press “Make the echo”.`
      : "Give the echo a name and a voice, then press “Make the echo”.";
    if (offered && !byId("echo-voice").value) byId("echo-voice").value = offered;
    if (voice && !byId("echo-name").value.trim()) {
      byId("echo-name").value = voice.name || "";
      byId("echo-name").dispatchEvent(new Event("input")); // the form's questions say the name
    }
  }
  byId("welcome-step-hint").textContent = hint;
  placeForms();
}

// ---- showing a view --------------------------------------------------------------------------

function showView(view) {
  if (current === "connect" && view !== "connect") leaveConnect();
  current = view;
  for (const name of VIEWS) byId(`view-${name}`).hidden = name !== view;
  for (const link of document.querySelectorAll(".site-nav a[data-view]")) {
    if (link.dataset.view === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (view === "welcome") renderWelcome();
  else placeForms();
  if (view === "history") loadHistory();
  if (view === "connect") showConnect();
}

/** The heading a view (or a part of one) starts with: where the focus goes when it is opened. */
function headingOf(view, anchor) {
  if (anchor) {
    const part = byId(anchor);
    return part ? part.querySelector("h1, h2") : null;
  }
  return byId(`view-${view}`).querySelector("h1");
}

/** Follow the address. With `focus` (the person went somewhere), the new place is in view and has the focus. */
export async function follow({ focus = true } = {}) {
  const where = route();
  if (!where) return;
  showView(where.view);
  if (where.echoId) {
    await showEcho(where.echoId, { focus });
    return;
  }
  if (where.view === "echos") closeEcho();
  if (!focus) return;
  const heading = headingOf(where.view, where.anchor);
  if (!heading) return;
  if (where.anchor) byId(where.anchor).scrollIntoView({ block: "start" });
  else window.scrollTo(0, 0);
  if (!heading.hasAttribute("tabindex")) heading.setAttribute("tabindex", "-1");
  heading.focus({ preventScroll: true });
}

export function setupViews() {
  window.addEventListener("hashchange", () => follow());
  // The walk-through follows what the person does: a recording chosen, a voice made.
  on("recording", () => {
    if (current === "welcome") renderWelcome();
  });
  on("voices", () => {
    if (current === "welcome") renderWelcome();
  });
  on("cloned", () => {
    if (current !== "welcome") return;
    renderWelcome();
    const title = byId("welcome-step-title");
    title.scrollIntoView({ block: "start" });
    title.focus({ preventScroll: true });
  });
}
