// Recording from the microphone with MediaRecorder (webm/ogg/mp4, whichever the browser makes).

const TYPES = [
  ["audio/webm;codecs=opus", "webm"],
  ["audio/webm", "webm"],
  ["audio/ogg;codecs=opus", "ogg"],
  ["audio/ogg", "ogg"],
  ["audio/mp4", "m4a"],
];

export const MAX_SECONDS = 270; // the server refuses longer recordings

/** Why recording cannot work here, or null when it can. */
export function recordingUnsupportedReason() {
  if (!window.isSecureContext) {
    return "Recording needs a secure page (https, or http://localhost). Choose an audio file instead.";
  }
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.MediaRecorder) {
    return "This browser cannot record audio. Choose an audio file instead.";
  }
  return null;
}

function pickType() {
  for (const [type, extension] of TYPES) {
    if (window.MediaRecorder.isTypeSupported && window.MediaRecorder.isTypeSupported(type)) {
      return { type, extension };
    }
  }
  return { type: "", extension: "webm" };
}

function extensionFor(mimeType, fallback) {
  if (mimeType.includes("ogg")) return "ogg";
  if (mimeType.includes("mp4") || mimeType.includes("aac")) return "m4a";
  if (mimeType.includes("webm")) return "webm";
  return fallback;
}

export function formatClock(seconds) {
  const whole = Math.max(0, Math.floor(seconds));
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}

/**
 * One recording at a time.
 * onTick(seconds) while recording; onDone(File, seconds) when stopped; onError(message).
 */
export class VoiceRecorder {
  constructor({ onTick, onDone, onError } = {}) {
    this.onTick = onTick || (() => {});
    this.onDone = onDone || (() => {});
    this.onError = onError || (() => {});
    this.recorder = null;
    this.stream = null;
    this.timer = null;
    this.startedAt = 0;
  }

  get recording() {
    return this.recorder !== null && this.recorder.state === "recording";
  }

  elapsed() {
    return this.startedAt ? (performance.now() - this.startedAt) / 1000 : 0;
  }

  async start() {
    if (this.recording) return;
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: true },
      });
    } catch (error) {
      const denied = error && (error.name === "NotAllowedError" || error.name === "SecurityError");
      throw new Error(
        denied
          ? "The browser was not allowed to use the microphone. Allow it in the address bar, or choose a file."
          : "No microphone could be opened. Check that one is connected, or choose a file.",
      );
    }
    const { type, extension } = pickType();
    const chunks = [];
    this.recorder = type ? new MediaRecorder(this.stream, { mimeType: type }) : new MediaRecorder(this.stream);
    this.recorder.addEventListener("dataavailable", (event) => {
      if (event.data && event.data.size) chunks.push(event.data);
    });
    this.recorder.addEventListener("stop", () => {
      const seconds = this.elapsed();
      const mimeType = (this.recorder && this.recorder.mimeType) || type || "audio/webm";
      this.cleanup();
      if (!chunks.length) {
        this.onError("The recording is empty; try again.");
        return;
      }
      const blob = new Blob(chunks, { type: mimeType });
      const file = new File([blob], `recording.${extensionFor(mimeType, extension)}`, { type: mimeType });
      this.onDone(file, seconds);
    });
    this.recorder.addEventListener("error", () => {
      this.cleanup();
      this.onError("Recording failed; try again or choose a file.");
    });
    this.recorder.start(1000);
    this.startedAt = performance.now();
    this.onTick(0);
    this.timer = window.setInterval(() => {
      const seconds = this.elapsed();
      this.onTick(seconds);
      if (seconds >= MAX_SECONDS) this.stop();
    }, 250);
  }

  stop() {
    if (this.recorder && this.recorder.state !== "inactive") this.recorder.stop();
  }

  cleanup() {
    if (this.timer) window.clearInterval(this.timer);
    this.timer = null;
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    this.stream = null;
    this.recorder = null;
    this.startedAt = 0;
  }
}
