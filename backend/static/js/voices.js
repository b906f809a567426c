// Cloning a voice (file or microphone) and the list of the user's voice models.

import { confirmAndDelete, sendForm } from "./actions.js";
import { api, messageOf, upload } from "./api.js";
import {
  actionButton,
  announce,
  byId,
  fieldError,
  formatSeconds,
  h,
  listItem,
  requiredValue,
  selectIfOffered,
  showMessage,
  timeElement,
} from "./dom.js";
import { formatClock, recordingUnsupportedReason, VoiceRecorder } from "./recorder.js";
import { echoOfVoice, emit, providerName, state } from "./state.js";

const PAGE_SIZE = 50;

// ---- the clone form -------------------------------------------------------------------------

let recorded = null; // File from the microphone, once a recording is finished
let previewUrl = null;
let lastHintStage = -1;
let activeRecorder = null;

function source() {
  return byId("clone-form").querySelector("input[name=source]:checked").value;
}

function showSource() {
  const mic = source() === "mic";
  if (!mic && activeRecorder && activeRecorder.recording) activeRecorder.stop();
  byId("file-panel").hidden = mic;
  byId("mic-panel").hidden = !mic;
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
  const failed = () => announce("Cloning failed.");
  await sendForm(form, message, async () => {
    const result = await upload("/api/upload-reference", data, {
      onProgress: (fraction) =>
        fraction === null
          ? setProgress(null, "Uploading…")
          : setProgress(fraction, `Uploading… ${Math.round(fraction * 100)}%`),
      onSent: () => setProgress(null, "Cloning the voice…"),
    });
    const summary =
      `Voice “${result.name}” is ready (${formatSeconds(result.duration_seconds)} of audio, ` +
      `${providerName(result.provider)}). It is chosen under “Hear it speak”.`;
    showMessage(message, "success", summary, result.warnings || []);
    announce(`Voice ${result.name} cloned.`);
    form.reset();
    clearRecording();
    byId("record-start").textContent = "Start recording";
    showSource();
    await loadVoices();
    selectIfOffered(byId("speak-voice"), result.model_id);
  }, failed);
  byId("clone-progress").hidden = true;
}

// ---- the list -------------------------------------------------------------------------------

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
  fillSelect(byId("speak-voice"), "Default voice (no clone)");
  fillSelect(byId("echo-voice"), "No voice yet", { skipLinked: true });
}

function voiceItem(voice) {
  const echo = echoOfVoice(voice);
  const meta = [providerName(voice.provider)];
  if (Number.isFinite(voice.duration_seconds)) meta.push(formatSeconds(voice.duration_seconds));
  const speakWith = () => {
    byId("speak-voice").value = voice.model_id;
    byId("speak-section").scrollIntoView({ block: "start" });
    byId("speak-text").focus();
  };
  return listItem(
    { className: "item", dataset: { modelId: voice.model_id } },
    voice.name || "Unnamed voice",
    [meta.join(" · "), " · created ", timeElement(voice.created_at), echo ? ` · voice of “${echo.name}”` : ""],
    [
      actionButton("secondary", "Speak", `Speak with ${voice.name}`, speakWith),
      actionButton("danger", "Delete", `Delete voice ${voice.name}`, () => deleteVoice(voice)),
    ],
  );
}

export function renderVoices() {
  byId("voices-list").replaceChildren(...state.voices.map(voiceItem));
  byId("voices-empty").hidden = state.voices.length > 0;
  const more = state.voices.length < state.voicesTotal;
  byId("voices-more-row").hidden = !more;
  byId("voices-count").textContent = `Showing ${state.voices.length} of ${state.voicesTotal}.`;
  refreshVoiceSelects();
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
    showMessage(message, "", "");
    emit("voices");
  } catch (error) {
    showMessage(message, "error", `Could not load your voices: ${messageOf(error)}`);
  } finally {
    list.setAttribute("aria-busy", "false");
  }
}

function deleteVoice(voice) {
  const echo = echoOfVoice(voice);
  const question =
    `Delete the voice “${voice.name}”? Its recording and the speech made with it are deleted too.` +
    (echo ? ` The echo “${echo.name}” will not speak until you choose another voice for it.` : "") +
    " This cannot be undone.";
  const message = byId("voices-message");
  const path = `/api/voice-models/${encodeURIComponent(voice.model_id)}`;
  return confirmAndDelete(question, path, message, voice.name, async (body) => {
    await loadVoices();
    emit("voice-deleted"); // an echo that spoke in it now says that its voice was deleted
    showMessage(message, "success", body.message || `Voice “${voice.name}” deleted.`);
    announce(`Voice ${voice.name} deleted.`);
    byId("voices-refresh").focus();
  });
}

export function setupVoices() {
  for (const radio of byId("clone-form").querySelectorAll("input[name=source]")) {
    radio.addEventListener("change", showSource);
  }
  showSource();
  setupRecorder();
  byId("clone-form").addEventListener("submit", submitClone);
  byId("voices-refresh").addEventListener("click", () => loadVoices());
  byId("voices-more").addEventListener("click", () => loadVoices({ append: true }));
}
