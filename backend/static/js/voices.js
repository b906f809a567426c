// Voices: making one from a recording (a file or the microphone), and the list of the user's voices, where each
// can be renamed, its original recording played, a short preview of the clone heard, and deleted.

import { confirmAndDelete, sendForm } from "./actions.js";
import { api, messageOf, upload } from "./api.js";
import {
  actionButton,
  announce,
  byId,
  fieldError,
  formatLength,
  formatSeconds,
  h,
  listItem,
  requiredValue,
  selectIfOffered,
  showMessage,
  showResult,
  submitOnCtrlEnter,
  timeElement,
} from "./dom.js";
import { formatClock, recordingUnsupportedReason, VoiceRecorder } from "./recorder.js";
import { playIn } from "./speak.js";
import { echoOfVoice, emit, providerName, state } from "./state.js";

const PAGE_SIZE = 50;

/** What a preview of a voice says: short, and the same each time (the server keeps the answer). */
export const PREVIEW_TEXT = "Hello. This is how this voice sounds in Echo.";

// ---- the clone form -------------------------------------------------------------------------

let recorded = null; // File from the microphone, once a recording is finished
let previewUrl = null;
let lastHintStage = -1;
let activeRecorder = null;
let lastCloned = null; // the voice made last on this page (the walk-through offers it to the new echo)

export function lastClonedVoice() {
  return lastCloned;
}

function source() {
  return byId("clone-form").querySelector("input[name=source]:checked").value;
}

function showSource() {
  const mic = source() === "mic";
  if (!mic && activeRecorder && activeRecorder.recording) activeRecorder.stop();
  byId("file-panel").hidden = mic;
  byId("mic-panel").hidden = !mic;
  emit("recording");
}

/** Whether the clone form has a recording to send (a chosen file, or one made with the microphone). */
export function hasRecording() {
  return source() === "mic" ? recorded !== null : byId("clone-file").files.length > 0;
}

function recordHint(seconds) {
  const stages = [
    [0, "Recording… keep talking: at least 3 s are needed, 10–30 s of clear speech is best."],
    [3, "Recording… enough to clone; keep going to 10 s for a better likeness."],
    [10, "Recording… good length. Stop any time up to 30 s."],
    [30, "That is plenty; press Stop."],
  ];
  let stage = 0;
  for (let i = 0; i < stages.length; i += 1) if (seconds >= stages[i][0]) stage = i;
  if (stage !== lastHintStage) {
    lastHintStage = stage;
    byId("record-hint").textContent = stages[stage][1];
  }
  byId("recorder").dataset.stage = String(stage);
}

function clearRecording() {
  recorded = null;
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = null;
  byId("record-audio").removeAttribute("src");
  byId("record-preview").hidden = true;
  byId("record-time").textContent = "0:00";
  byId("recorder").dataset.stage = "";
  emit("recording");
}

function setupRecorder() {
  const reason = recordingUnsupportedReason();
  const start = byId("record-start");
  const stop = byId("record-stop");
  if (reason) {
    byId("mic-unsupported").textContent = reason;
    byId("mic-unsupported").hidden = false;
    start.disabled = true;
    return;
  }
  const recorder = (activeRecorder = new VoiceRecorder({
    onTick: (seconds) => {
      byId("record-time").textContent = formatClock(seconds);
      recordHint(seconds);
    },
    onDone: (file, seconds) => {
      recorded = file;
      previewUrl = URL.createObjectURL(file);
      byId("record-audio").src = previewUrl;
      byId("record-preview").hidden = false;
      start.disabled = false;
      stop.disabled = true;
      start.textContent = "Record again";
      const short = seconds < 3 ? " It is shorter than 3 s, so the server will refuse it; record again." : "";
      byId("record-hint").textContent = `Recorded ${formatClock(seconds)}. Listen to it, then clone it.${short}`;
      announce(`Recording finished: ${formatClock(seconds)}.`);
      emit("recording");
      start.focus();
    },
    onError: (message) => {
      start.disabled = false;
      stop.disabled = true;
      showMessage(byId("clone-message"), "error", message);
    },
  }));
  start.addEventListener("click", async () => {
    clearRecording();
    showMessage(byId("clone-message"), "", "");
    lastHintStage = -1;
    start.disabled = true;
    try {
      await recorder.start();
      stop.disabled = false;
      stop.focus();
      announce("Recording started.");
    } catch (error) {
      start.disabled = false;
      showMessage(byId("clone-message"), "error", error.message);
    }
  });
  stop.addEventListener("click", () => recorder.stop());
  byId("record-discard").addEventListener("click", () => {
    clearRecording();
    start.textContent = "Start recording";
    byId("record-hint").textContent = "Recording discarded.";
    start.focus();
  });
}

function setProgress(fraction, label) {
  const bar = byId("clone-progress-bar");
  if (fraction === null) bar.removeAttribute("value");
  else bar.value = Math.round(fraction * 100);
  byId("clone-progress-label").textContent = label;
}

async function submitClone(event) {
  event.preventDefault();
  const form = byId("clone-form");
  const message = byId("clone-message");
  const file = source() === "mic" ? recorded : byId("clone-file").files[0];
  const fail = (text, control) => fieldError(message, text, control);
  if (!file) {
    return source() === "mic"
      ? fail("Record your voice sample first.", byId("record-start"))
      : fail("Choose an audio file first.", byId("clone-file"));
  }
  const name = requiredValue(byId("clone-name"), message, "Give the voice a name.");
  if (!name) return;
  if (!byId("clone-consent").checked) {
    return fail("Confirm that you have the speaker's consent before cloning their voice.", byId("clone-consent"));
  }

  const data = new FormData();
  data.set("audio", file, file.name || "recording");
  data.set("name", name);
  const transcript = byId("clone-transcript").value.trim();
  if (transcript) data.set("transcript", transcript);
  data.set("consent", "true");

  showMessage(message, "", "");
  byId("clone-progress").hidden = false;
  setProgress(0, "Uploading… 0%");
  await sendForm(
    form,
    message,
    async () => {
      const result = await upload("/api/upload-reference", data, {
        onProgress: (fraction) =>
          fraction === null
            ? setProgress(null, "Uploading…")
            : setProgress(fraction, `Uploading… ${Math.round(fraction * 100)}%`),
        onSent: () => setProgress(null, "Cloning the voice…"),
      });
      const length = formatLength(result.duration_seconds);
      const summary =
        `Voice “${result.name}” is ready` +
        (length ? `, made from ${length} of recording.` : ".") +
        " Hear a preview of it in the list of voices, or give it to an echo.";
      byId("clone-progress").hidden = true;
      form.reset();
      clearRecording();
      byId("record-start").textContent = "Start recording";
      showSource();
      lastCloned = result.model_id;
      await loadVoices();
      selectIfOffered(byId("speak-voice"), result.model_id);
      showResult(message, "success", summary, result.warnings || []);
      announce(`Voice ${result.name} cloned.`);
      emit("cloned");
    },
    () => {
      byId("clone-progress").hidden = true;
      announce("Cloning failed.");
    },
  );
  byId("clone-progress").hidden = true;
}

// ---- the list -------------------------------------------------------------------------------

let renaming = null; // the model id of the voice being renamed in place
const notes = new Map(); // model id -> {kind, text}: the last result said next to that voice
let focusNote = null; // the model id whose note takes the focus once drawn

function fillSelect(select, firstLabel, { skipLinked = false } = {}) {
  const current = select.value;
  const options = [h("option", { value: "" }, firstLabel)];
  for (const voice of state.voices) {
    const taken = skipLinked && echoOfVoice(voice) !== null;
    const label = taken ? `${voice.name} (has an echo)` : voice.name;
    options.push(h("option", { value: voice.model_id, disabled: taken }, label));
  }
  select.replaceChildren(...options);
  selectIfOffered(select, current);
}

export function refreshVoiceSelects() {
  fillSelect(byId("speak-voice"), "Echo's standard voice (not a clone)");
  fillSelect(byId("echo-voice"), "No voice yet", { skipLinked: true });
}

/** A model id made safe for element ids. */
function idOf(voice) {
  return `voice-${String(voice.model_id).replace(/[^A-Za-z0-9_-]/g, "_")}`;
}

/** What a person reads about a voice: how long its recording was, when it was made, whose voice it is. */
function voiceMeta(voice) {
  const echo = echoOfVoice(voice);
  const length = formatLength(voice.duration_seconds);
  return [
    length ? `From ${length} of recording · made ` : "Made ",
    timeElement(voice.created_at),
    echo ? ` · the voice of “${echo.name}”` : "",
  ];
}

const TECHNICAL_KEYS = {
  engine: "Engine",
  method: "Method",
  median_f0_hz: "Median pitch (Hz)",
  pitch_range_semitones: "Pitch range (semitones)",
  formant_ratio: "Formant ratio",
  reference_seconds: "Recording used (s)",
};

/** The details a person rarely needs, one click away. */
export function technicalDetails(rows) {
  const facts = rows
    .filter(([, value]) => value !== undefined && value !== null && value !== "")
    .flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, String(value))]);
  return h("details", { className: "technical" }, h("summary", {}, "Technical details"), h("dl", { className: "facts" }, facts));
}

function voiceTechnical(voice) {
  const details = voice.details && typeof voice.details === "object" ? voice.details : {};
  const rows = [
    ["Cloned with", providerName(voice.provider)],
    ["Voice id", voice.model_id],
    ["Recording format", voice.file_type],
    ["Recording length", formatSeconds(voice.duration_seconds)],
    ["Transcript", voice.transcript],
  ];
  for (const [key, term] of Object.entries(TECHNICAL_KEYS)) rows.push([term, details[key]]);
  return technicalDetails(rows);
}

function renameForm(voice) {
  const base = idOf(voice);
  const field = h("input", {
    id: `${base}-name`,
    name: "name",
    type: "text",
    maxlength: 100,
    required: true,
    autocomplete: "off",
  });
  field.value = voice.name || "";
  field.addEventListener("keydown", (event) => {
    if (event.key === "Escape") stopRenaming(voice);
  });
  return h(
    "form",
    { className: "rename-form", novalidate: true, onsubmit: (event) => saveName(event, voice) },
    h("div", { className: "field" }, h("label", { for: field.id }, `New name for “${voice.name}”`), field),
    h(
      "div",
      { className: "actions" },
      h("button", { type: "submit", className: "button primary small" }, "Save name"),
      h(
        "button",
        { type: "button", className: "button secondary small", onclick: () => stopRenaming(voice) },
        "Cancel",
      ),
    ),
  );
}

function voiceItem(voice) {
  const base = idOf(voice);
  const name = voice.name || "Unnamed voice";
  const note = notes.get(voice.model_id);
  const speakWith = () => {
    byId("speak-voice").value = voice.model_id;
    byId("speak-section").scrollIntoView({ block: "start" });
    byId("speak-text").focus();
  };
  const message = h("div", {
    id: `${base}-message`,
    className: note ? `form-message ${note.kind}` : "form-message",
    "aria-live": "polite",
    tabindex: -1,
    role: note ? (note.kind === "error" ? "alert" : "status") : null,
  });
  if (note) message.append(h("p", {}, note.text));
  const player = h("audio", { id: `${base}-audio`, className: "voice-audio", controls: true, hidden: true });
  return listItem(
    { className: "item voice", id: base, dataset: { modelId: voice.model_id } },
    name,
    voiceMeta(voice),
    [
      actionButton("secondary", "Play the recording", `Play the recording of ${name}`, (event) =>
        playRecording(voice, event.currentTarget),
      ),
      actionButton("secondary", "Hear a preview", `Hear a preview of ${name}`, (event) =>
        playPreview(voice, event.currentTarget),
      ),
      actionButton("secondary", "Speak", `Speak with ${name}`, speakWith),
      actionButton("secondary", "Rename", `Rename ${name}`, () => startRenaming(voice), { id: `${base}-rename` }),
      actionButton("danger", "Delete", `Delete voice ${name}`, () => deleteVoice(voice)),
    ],
    renaming === voice.model_id ? renameForm(voice) : null,
    player,
    message,
    voiceTechnical(voice),
  );
}

export function renderVoices() {
  const list = byId("voices-list");
  // Keep a player that is playing (a redraw must not cut off what the person is listening to).
  const playing = [...list.querySelectorAll("audio")].filter((audio) => !audio.paused && audio.getAttribute("src"));
  list.replaceChildren(...state.voices.map(voiceItem));
  for (const audio of playing) {
    const again = byId(audio.id);
    if (again) again.replaceWith(audio);
  }
  byId("voices-empty").hidden = state.voices.length > 0;
  const more = state.voices.length < state.voicesTotal;
  byId("voices-more-row").hidden = !more;
  byId("voices-count").textContent = `Showing ${state.voices.length} of ${state.voicesTotal}.`;
  refreshVoiceSelects();
  if (focusNote) {
    const voice = state.voices.find((v) => v.model_id === focusNote);
    focusNote = null;
    const box = voice ? byId(`${idOf(voice)}-message`) : null;
    if (box) {
      box.scrollIntoView({ block: "nearest" });
      box.focus({ preventScroll: true });
    }
  }
}

/** Say `text` next to a voice (kept across redraws); the focus goes there. */
function noteOn(voice, kind, text) {
  notes.set(voice.model_id, { kind, text });
  const box = byId(`${idOf(voice)}-message`);
  if (box) showResult(box, kind, text);
}

function clearNote(voice) {
  notes.delete(voice.model_id);
  const box = byId(`${idOf(voice)}-message`);
  if (box) showMessage(box, "", "");
}

export async function loadVoices({ append = false } = {}) {
  const message = byId("voices-message");
  const list = byId("voices-list");
  list.setAttribute("aria-busy", "true");
  try {
    const offset = append ? state.voices.length : 0;
    const body = await api.get("/api/voice-models", { limit: PAGE_SIZE, offset });
    const page = body.voice_models || [];
    state.voices = append ? state.voices.concat(page) : page;
    state.voicesTotal = Number.isFinite(body.total) ? body.total : state.voices.length;
    if (message.classList.contains("error")) showMessage(message, "", "");
    emit("voices");
  } catch (error) {
    showMessage(message, "error", `Could not load your voices: ${messageOf(error)}`);
  } finally {
    list.setAttribute("aria-busy", "false");
  }
}

// ---- renaming ---------------------------------------------------------------------------------

function startRenaming(voice) {
  renaming = voice.model_id;
  clearNote(voice);
  renderVoices();
  const field = byId(`${idOf(voice)}-name`);
  field.focus();
  field.select();
}

function stopRenaming(voice) {
  renaming = null;
  renderVoices();
  const button = byId(`${idOf(voice)}-rename`);
  if (button) button.focus();
}

async function saveName(event, voice) {
  event.preventDefault();
  const form = event.currentTarget;
  const field = byId(`${idOf(voice)}-name`);
  const box = byId(`${idOf(voice)}-message`);
  const name = requiredValue(field, box, "Give the voice a name.");
  if (!name) return;
  if (name === voice.name) {
    stopRenaming(voice);
    return;
  }
  await sendForm(
    form,
    box,
    async () => {
      const { voice_model: saved } = await api.patch(`/api/voice-models/${encodeURIComponent(voice.model_id)}`, {
        name,
      });
      const updated = saved && saved.model_id ? saved : { ...voice, name };
      state.voices = state.voices.map((v) => (v.model_id === voice.model_id ? { ...v, ...updated } : v));
      renaming = null;
      notes.set(voice.model_id, { kind: "success", text: `Renamed to “${updated.name}”.` });
      focusNote = voice.model_id;
      announce(`Voice renamed to ${updated.name}.`);
      emit("voices");
    },
    () => field.focus(),
  );
}

// ---- listening --------------------------------------------------------------------------------

/** Play `url` in the voice's own player, named for what it plays; says so if the browser cannot. */
async function playInItem(voice, url, label) {
  const player = byId(`${idOf(voice)}-audio`);
  for (const other of byId("voices-list").querySelectorAll("audio")) if (other !== player) other.pause();
  player.hidden = false;
  player.setAttribute("aria-label", label);
  const outcome = await playIn(player, url);
  if (outcome === "error") noteOn(voice, "error", "The browser could not play this audio.");
  else if (outcome === "blocked") noteOn(voice, "info", `${label} is ready: press play to listen.`);
  else clearNote(voice);
  return outcome;
}

/** Busy while it waits, without disabling the button (that would drop the keyboard focus). */
async function busyButton(button, work) {
  if (button.getAttribute("aria-disabled") === "true") return;
  button.setAttribute("aria-disabled", "true");
  try {
    await work();
  } finally {
    button.removeAttribute("aria-disabled");
  }
}

function playRecording(voice, button) {
  return busyButton(button, async () => {
    const name = voice.name || "this voice";
    try {
      const body = await api.get(`/api/voice-models/${encodeURIComponent(voice.model_id)}/recording`);
      await playInItem(voice, body.recording_url, `The recording of ${name}`);
      announce(`Playing the recording of ${name}.`);
    } catch (error) {
      const missing = error.status === 404 && error.body && error.body.reason === "no_recording";
      noteOn(
        voice,
        "error",
        missing ? `Echo did not keep the recording of “${name}”.` : `Could not play the recording: ${messageOf(error)}`,
      );
    }
  });
}

function playPreview(voice, button) {
  return busyButton(button, async () => {
    const name = voice.name || "this voice";
    notes.delete(voice.model_id);
    const box = byId(`${idOf(voice)}-message`);
    showMessage(box, "info", "Making the preview…");
    try {
      const body = await api.post("/api/synthesize", {
        text: PREVIEW_TEXT,
        reference_id: voice.model_id,
        format: "mp3",
      });
      await playInItem(voice, body.audio_url, `A preview of ${name}`);
      announce(`Playing a preview of ${name}.`);
    } catch (error) {
      noteOn(voice, "error", `Could not make a preview: ${messageOf(error)}`);
    }
  });
}

// ---- deleting ---------------------------------------------------------------------------------

function deleteVoice(voice) {
  const echo = echoOfVoice(voice);
  const question =
    `Delete the voice “${voice.name}”? Its recording and the speech made with it are deleted too.` +
    (echo ? ` The echo “${echo.name}” will not speak until you choose another voice for it.` : "") +
    " This cannot be undone.";
  const message = byId("voices-message");
  const path = `/api/voice-models/${encodeURIComponent(voice.model_id)}`;
  return confirmAndDelete(question, path, message, voice.name, async () => {
    notes.delete(voice.model_id);
    await loadVoices();
    emit("voice-deleted"); // an echo that spoke in it now says that its voice was deleted
    const more = echo ? ` “${echo.name}” needs another voice now: choose one in its conversation.` : "";
    showResult(message, "success", `Voice “${voice.name}” deleted.${more}`);
    announce(`Voice ${voice.name} deleted.`);
  });
}

export function setupVoices() {
  for (const radio of byId("clone-form").querySelectorAll("input[name=source]")) {
    radio.addEventListener("change", showSource);
  }
  byId("clone-file").addEventListener("change", () => emit("recording"));
  showSource();
  setupRecorder();
  byId("clone-form").addEventListener("submit", submitClone);
  byId("voices-refresh").addEventListener("click", () => loadVoices());
  byId("voices-more").addEventListener("click", () => loadVoices({ append: true }));
  submitOnCtrlEnter(byId("clone-transcript"));
}
