// Text to speech in a chosen voice: play it as soon as it is ready, offer a download.

import { sendForm } from "./actions.js";
import { api } from "./api.js";
import { announce, byId, countCharacters, formatBytes, requiredValue, showMessage, submitOnCtrlEnter } from "./dom.js";
import { providerName, voiceName } from "./state.js";

const EXTENSIONS = { mp3: "mp3", wav: "wav", opus: "ogg", pcm: "pcm" };
const FORMAT_NAMES = { mp3: "MP3", wav: "WAV", opus: "Opus", pcm: "raw PCM (16-bit mono)" };

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

function fileName(voiceId, format) {
  const base = (voiceName(voiceId) || "echo").replace(/[^\p{L}\p{N}_-]+/gu, "-").replace(/^-+|-+$/g, "") || "echo";
  const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-");
  return `${base}-${stamp}.${EXTENSIONS[format] || format}`;
}

async function submitSpeak(event) {
  event.preventDefault();
  const form = byId("speak-form");
  const message = byId("speak-message");
  const voiceId = byId("speak-voice").value;
  const format = byId("speak-format").value;
  const text = requiredValue(byId("speak-text"), message, "Type the text to speak.");
  if (!text) return;
  showMessage(message, "info", "Making the speech…");
  const audio = byId("speak-audio");
  const failed = () => announce("Speech failed.");
  await sendForm(form, message, async () => {
    const result = await synthesize(text, voiceId, format);
    const playable = result.format !== "pcm";
    const download = byId("speak-download");
    download.href = result.audio_url;
    download.setAttribute("download", fileName(voiceId, result.format));
    download.textContent = `Download ${FORMAT_NAMES[result.format] || result.format}`;
    const details = [FORMAT_NAMES[result.format] || result.format, formatBytes(result.size_bytes)];
    details.push(providerName(result.provider));
    byId("speak-info").textContent = details.filter(Boolean).join(" · ");
    audio.hidden = !playable;
    byId("speak-result").hidden = false;
    if (playable) {
      showMessage(message, "success", "Ready.");
      const outcome = await playIn(audio, result.audio_url);
      if (outcome !== "error") {
        const playing = outcome === "playing";
        showMessage(message, "success", playing ? "Ready: playing now." : "Ready: press play to listen.");
        announce(playing ? "Speech ready and playing." : "Speech ready; press play to listen.");
      }
    } else {
      audio.pause();
      audio.removeAttribute("src");
      showMessage(
        message,
        "success",
        "Ready. Raw PCM cannot be played in the browser: download it, or choose MP3, WAV or Opus to listen here.",
      );
      announce("Speech ready to download.");
    }
  }, failed);
}

export function setupSpeak() {
  byId("speak-form").addEventListener("submit", submitSpeak);
  countCharacters(byId("speak-text"), byId("speak-count"));
  submitOnCtrlEnter(byId("speak-text")); // Ctrl/Cmd+Enter speaks
  byId("speak-audio").addEventListener("error", () => {
    if (byId("speak-audio").getAttribute("src")) {
      showMessage(byId("speak-message"), "error", "The browser could not play this audio; try the download link.");
    }
  });
}
