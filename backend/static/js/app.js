// Echo's web page: starts the parts, finds out who the user is, says in plain words whether the server is ready
// (what /health reports in detail is one click away, under "Technical details").

import { messageOf, request, useIdentity } from "./api.js";
import { renderConnectVoices, setupConnect } from "./connect.js";
import { byId, h, showMessage } from "./dom.js";
import { loadEchos, renderEchos, setupEchos } from "./echos.js";
import { setupHistory } from "./history.js";
import { startIdentity } from "./identity.js";
import { setupSpeak } from "./speak.js";
import { emit, on, state } from "./state.js";
import { follow, setupViews } from "./views.js";
import { loadVoices, renderVoices, setupVoices } from "./voices.js";

const HEALTH_EVERY_MS = 60000;

const VOICE_ENGINES = {
  local: "Echo's own voice engine, on this server (offline; an approximation of the voice)",
  fish: "Fish.Audio voice cloning",
};

const DATABASES = {
  embedded: "Embedded store on this server",
  mongodb: "MongoDB",
};

/**
 * /health in plain words: {text, state, facts}. The text is what a person reads ("Echo is ready."); facts
 * are the technical details ([term, value] pairs) shown folded away.
 */
export function describeHealth(health) {
  const components = (health && health.components) || {};
  const voice = components.voice_provider || {};
  const database = components.database || {};
  const model = components.language_model || null;
  const voiceOk = Boolean(voice.provider) && voice.status === "ok";
  const databaseOk = database.status === "ok";
  const problems = [];
  if (!databaseOk) problems.push("Nothing can be saved right now");
  if (!voiceOk) problems.push(databaseOk ? "Voices cannot be made or heard right now" : "voices cannot be made or heard");
  const text = problems.length ? `${problems.join(", and ")}. Try again later.` : "Echo is ready.";
  const facts = [
    ["Server", health && health.status ? health.status : "unknown"],
    [
      "Voice engine",
      voice.provider
        ? `${VOICE_ENGINES[voice.provider] || voice.provider}: ${voice.status || "unknown"}`
        : "none configured",
    ],
  ];
  if (voice.description) facts.push(["About the voice engine", voice.description]);
  facts.push([
    "Database",
    `${DATABASES[database.backend] || database.backend || "unknown"}: ${database.status || "unknown"}`,
  ]);
  if (model) {
    const name = model.provider === "none" ? "none configured" : model.model || model.provider || "unknown";
    facts.push(["Language model", `${name}: ${model.status || "unknown"}`]);
    if (model.description) facts.push(["About the language model", model.description]);
  }
  return { text, state: voiceOk && databaseOk ? "ok" : "degraded", facts };
}

function showFacts(facts) {
  byId("health-facts").replaceChildren(...facts.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
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
      : {
          text: "Echo's server cannot be reached. Check the connection, then reload the page.",
          state: "down",
          facts: [["Error", messageOf(error)]],
        };
  }
  // Who writes the echos' replies: said under the box where the person writes to an echo.
  if (health && health.components) {
    state.languageModel = health.components.language_model || null;
    emit("health");
  }
  line.dataset.state = described.state;
  byId("health-text").textContent = described.text;
  showFacts(described.facts);
}

async function start() {
  setupVoices();
  setupSpeak();
  setupEchos();
  setupHistory();
  setupConnect();
  on("voices", () => {
    renderVoices();
    renderEchos();
    renderConnectVoices();
  });
  on("echos", () => {
    renderEchos();
    renderVoices();
    renderConnectVoices();
  });
  setupViews(); // after the lists: the walk-through reads the redrawn choices

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
    showMessage(byId("echo-list-message"), "error", text);
    document.body.dataset.ready = "error";
    return;
  }
  useIdentity(identity);
  byId("identity-line").textContent = identity.describe();
  await Promise.all([loadVoices(), loadEchos()]);
  await follow({ focus: false });
  document.body.dataset.ready = "true";
}

start();
