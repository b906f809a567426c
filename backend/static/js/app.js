// Echo's web page: starts the parts, finds out who the user is, shows what /health reports.

import { messageOf, request, useIdentity } from "./api.js";
import { byId, showMessage } from "./dom.js";
import { loadEchos, openFromAddress, renderEchos, setupEchos } from "./echos.js";
import { startIdentity } from "./identity.js";
import { setupSpeak } from "./speak.js";
import { emit, on, state } from "./state.js";
import { loadVoices, renderVoices, setupVoices } from "./voices.js";

const HEALTH_EVERY_MS = 60000;

const VOICE_ENGINES = {
  local: "Local voice engine (offline approximation)",
  fish: "Fish.Audio voice cloning",
};

const DATABASES = {
  embedded: "embedded store",
  mongodb: "MongoDB",
};

/** /health in words, e.g. "Local voice engine (offline approximation) · database: embedded store". */
export function describeHealth(health) {
  const components = (health && health.components) || {};
  const voice = components.voice_provider || {};
  const database = components.database || {};
  let voiceText;
  if (!voice.provider) voiceText = "No voice engine configured";
  else if (voice.status === "ok") voiceText = VOICE_ENGINES[voice.provider] || `Voice engine: ${voice.provider}`;
  else voiceText = `${VOICE_ENGINES[voice.provider] || voice.provider} unavailable`;
  const store = DATABASES[database.backend] || database.backend || "unknown";
  const databaseText =
    database.status === "ok" ? `database: ${store}` : "database unavailable (nothing can be saved right now)";
  const ok = voice.status === "ok" && database.status === "ok";
  return { text: `${voiceText} · ${databaseText}`, state: ok ? "ok" : "degraded", detail: voice.description || "" };
}

async function checkHealth() {
  const line = byId("health");
  let described;
  let health = null;
  try {
    health = await request("GET", "/health", { anonymous: true });
    described = describeHealth(health);
  } catch (error) {
    // /health answers 503 with its body when degraded; anything else means the server is out of reach.
    health = error.body && error.body.components ? error.body : null;
    described = health
      ? describeHealth(health)
      : { text: `Server unreachable: ${messageOf(error)}`, state: "down", detail: "" };
  }
  // Who writes the echos' replies: said under the box where the person writes to an echo.
  if (health) {
    state.languageModel = health.components.language_model || null;
    emit("health");
  }
  line.dataset.state = described.state;
  byId("health-text").textContent = described.text;
  if (described.detail) line.title = described.detail;
  else line.removeAttribute("title");
}

async function start() {
  setupVoices();
  setupSpeak();
  setupEchos();
  on("voices", () => {
    renderVoices();
    renderEchos();
  });
  on("echos", () => {
    renderEchos();
    renderVoices();
  });

  checkHealth();
  window.setInterval(() => {
    if (document.visibilityState === "visible") checkHealth();
  }, HEALTH_EVERY_MS);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") checkHealth();
  });

  // Who is using the page (identity.js): a name in local mode, the sign-in provider otherwise. It resolves to
  // null while the page is leaving for the provider's sign-in page, or while it waits for the person.
  let identity;
  try {
    identity = await startIdentity(request);
    if (!identity) return;
  } catch (error) {
    byId("identity-line").textContent = "Not connected.";
    const text = `Could not set up your user on the server: ${messageOf(error)} Reload the page to try again.`;
    showMessage(byId("voices-message"), "error", text);
    document.body.dataset.ready = "error";
    return;
  }
  useIdentity(identity);
  byId("identity-line").textContent = identity.describe();
  await Promise.all([loadVoices(), loadEchos()]);
  await openFromAddress();
  document.body.dataset.ready = "true";
}

start();
