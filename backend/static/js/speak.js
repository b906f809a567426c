// Any words in a chosen voice: played as soon as they start, offered as a download, with their length once known.

import { sendForm } from "./actions.js";
import { api } from "./api.js";
import {
  announce,
  byId,
  countCharacters,
  formatBytes,
  formatLength,
  requiredValue,
  showMessage,
  showResult,
  submitOnCtrlEnter,
} from "./dom.js";
import { voiceName } from "./state.js";

const EXTENSIONS = { mp3: "mp3", wav: "wav", opus: "ogg", pcm: "pcm" };
const FORMAT_NAMES = { mp3: "MP3", wav: "WAV", opus: "Opus", pcm: "Raw PCM" };

/** "Raw PCM · 24,000 Hz, 16-bit, mono": what a program needs to know to read raw samples. */
export function formatLabel(answer) {
  const name = FORMAT_NAMES[answer.format] || answer.format || "";
  if (answer.format !== "pcm") return name;
  const parts = [];
  if (Number.isFinite(answer.sample_rate)) parts.push(`${answer.sample_rate.toLocaleString("en")} Hz`);
  parts.push(answer.sample_format === "s16le" || !answer.sample_format ? "16-bit" : answer.sample_format);
  if (answer.channels === 1 || !answer.channels) parts.push("mono");
  else parts.push(`${answer.channels} channels`);
  return `${name} (${parts.join(", ")})`;
}

export function fileExtension(format) {
  return EXTENSIONS[format] || format;
}

/**
 * Ask the server for speech; resolves with its answer ({audio_url, format, ...}) as soon as the audio
 * starts: with `progressive`, audio_url streams the rest while it is still being spoken, so playback
 * begins before the last sentence is ready (raw PCM is only downloaded, so it waits for the whole file).
 */
export function synthesize(text, referenceId, format = "mp3") {
  const body = { text, format, progressive: format !== "pcm" };
  if (referenceId) body.reference_id = referenceId;
  return api.post("/api/synthesize", body);
}

/**
 * Speak as an echo, in its own voice (the server picks the voice from the echo). Never the stock voice:
 * an echo whose voice was deleted, or that has none, is refused with 409 voice_deleted / no_voice.
 */
export function speakAsEcho(text, echoId, format = "mp3") {
  return api.post("/api/synthesize", { text, format, progressive: format !== "pcm", echo_id: echoId });
}

/** Play in an <audio> element. Resolves "playing", "blocked" (the browser allows no autoplay) or "error". */
export function playIn(audio, url) {
  audio.src = url;
  audio.load();
  return Promise.resolve(audio.play()).then(
    () => "playing",
    () => (audio.error ? "error" : "blocked"),
  );
}

/**
 * Call `show(seconds)` once the length of what `audio` plays is known: at once when the answer says it, else
 * when the browser learns it (progressive audio has no length until it is complete), else from the history
 * once it has ended. Returns a function that stops watching.
 */
export function whenLengthKnown(audio, answer, show) {
  if (Number.isFinite(answer.duration_seconds)) {
    show(answer.duration_seconds);
    return () => {};
  }
  let done = false;
  const finite = () => Number.isFinite(audio.duration) && audio.duration > 0;
  const check = () => {
    if (done || !finite()) return;
    done = true;
    show(audio.duration);
    stop();
  };
  const fromHistory = async () => {
    check();
    if (done) return;
    const name = String(answer.audio_url || "").split("?")[0];
    try {
      const { items } = await api.get("/api/speech-history", { limit: 20 });
      const item = (items || []).find((i) => String(i.audio_url || "").split("?")[0] === name);
      if (!done && item && Number.isFinite(item.duration_seconds)) {
        done = true;
        show(item.duration_seconds);
        stop();
      }
    } catch {
      // The length is a nicety: without it the player still works.
    }
  };
  const stop = () => {
    audio.removeEventListener("durationchange", check);
    audio.removeEventListener("loadedmetadata", check);
    audio.removeEventListener("ended", fromHistory);
  };
  audio.addEventListener("durationchange", check);
  audio.addEventListener("loadedmetadata", check);
  audio.addEventListener("ended", fromHistory);
  return () => {
    done = true;
    stop();
  };
}

function fileName(voiceId, format) {
  const base = (voiceName(voiceId) || "echo").replace(/[^\p{L}\p{N}_-]+/gu, "-").replace(/^-+|-+$/g, "") || "echo";
  const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-");
  return `${base}-${stamp}.${fileExtension(format)}`;
}

let stopWatching = () => {};

function describe(result, length) {
  const details = [formatLabel(result)];
  if (length) details.push(length);
  else if (result.format !== "pcm") details.push("length not known yet");
  details.push(formatBytes(result.size_bytes));
  byId("speak-info").textContent = details.filter(Boolean).join(" · ");
}

async function submitSpeak(event) {
  event.preventDefault();
  const form = byId("speak-form");
  const message = byId("speak-message");
  const voiceId = byId("speak-voice").value;
  const format = byId("speak-format").value;
  const text = requiredValue(byId("speak-text"), message, "Type the words to speak.");
  if (!text) return;
  showMessage(message, "info", "Making the speech…");
  const audio = byId("speak-audio");
  const failed = () => announce("Speech failed.");
  stopWatching();
  await sendForm(
    form,
    message,
    async () => {
      const result = await synthesize(text, voiceId, format);
      const playable = result.format !== "pcm";
      const download = byId("speak-download");
      download.href = result.audio_url;
      download.setAttribute("download", fileName(voiceId, result.format));
      download.textContent = `Download ${FORMAT_NAMES[result.format] || result.format}`;
      describe(result, formatLength(result.duration_seconds));
      audio.hidden = !playable;
      byId("speak-result").hidden = false;
      if (playable) {
        stopWatching = whenLengthKnown(audio, result, (seconds) => describe(result, formatLength(seconds)));
        showMessage(message, "success", "Ready.");
        const outcome = await playIn(audio, result.audio_url);
        if (outcome !== "error") {
          const playing = outcome === "playing";
          showResult(message, "success", playing ? "Ready: playing now." : "Ready: press play to listen.");
          announce(playing ? "Speech ready and playing." : "Speech ready; press play to listen.");
        }
      } else {
        audio.pause();
        audio.removeAttribute("src");
        const rate = Number.isFinite(result.sample_rate) ? ` at ${result.sample_rate.toLocaleString("en")} Hz` : "";
        showResult(
          message,
          "success",
          `Ready. Raw PCM${rate} cannot be played in the browser: download it, or choose MP3, WAV or Opus to ` +
            "listen here.",
        );
        announce("Speech ready to download.");
      }
    },
    failed,
  );
}

export function setupSpeak() {
  byId("speak-form").addEventListener("submit", submitSpeak);
  countCharacters(byId("speak-text"), byId("speak-count"));
  submitOnCtrlEnter(byId("speak-text")); // Ctrl/Cmd+Enter speaks
  byId("speak-audio").addEventListener("error", () => {
    if (byId("speak-audio").getAttribute("src")) {
      showResult(byId("speak-message"), "error", "The browser could not play this audio; try the download link.");
    }
  });
}
