// What was spoken: every piece of speech Echo made for this person, newest first, to hear again, download or
// delete (GET/DELETE /api/speech-history).

import { confirmAndDelete } from "./actions.js";
import { api, messageOf } from "./api.js";
import { actionButton, announce, byId, formatLength, h, showMessage, showResult, timeElement } from "./dom.js";
import { fileExtension, formatLabel, playIn } from "./speak.js";
import { state } from "./state.js";

const PAGE_SIZE = 20;

let items = [];
let total = 0;
let loading = null;

/** The first words of what was spoken, to name it on its buttons. */
function shortly(item) {
  const text = String(item.text || "").replace(/\s+/g, " ");
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/** In whose voice, in plain words. */
function whose(item) {
  const echo = item.echo_id ? state.echos.find((e) => e._id === item.echo_id) : null;
  if (echo) return `As ${echo.name}`;
  if (!item.voice_model_id) return "In Echo's standard voice";
  if (item.voice_name) return `In the voice “${item.voice_name}”`;
  return "In a voice that was deleted";
}

function downloadName(item) {
  const base = String(item.voice_name || "echo").replace(/[^\p{L}\p{N}_-]+/gu, "-").replace(/^-+|-+$/g, "") || "echo";
  const stamp = String(item.created_at || "").slice(0, 19).replace(/[:T]/g, "-");
  return `${base}-${stamp || "speech"}.${fileExtension(item.format)}`;
}

function itemId(item) {
  return `history-${String(item._id).replace(/[^A-Za-z0-9_-]/g, "_")}`;
}

function historyItem(item) {
  const base = itemId(item);
  const name = shortly(item);
  const length = formatLength(item.duration_seconds);
  const meta = [whose(item), " · ", timeElement(item.created_at), length ? ` · ${length}` : "", ` · ${formatLabel(item)}`];
  const playable = item.audio_url && item.format !== "pcm";
  const actions = [];
  if (playable) {
    actions.push(actionButton("secondary", "Play", `Play: ${name}`, () => play(item), { id: `${base}-play` }));
  }
  if (item.audio_url) {
    actions.push(
      h(
        "a",
        {
          className: "button secondary small",
          href: item.audio_url,
          download: downloadName(item),
          "aria-label": `Download: ${name}`,
        },
        "Download",
      ),
    );
  }
  actions.push(actionButton("danger", "Delete", `Delete: ${name}`, () => remove(item), { id: `${base}-delete` }));
  const gone = item.audio_url ? null : h("p", { className: "hint" }, "The sound itself is no longer kept.");
  return h(
    "li",
    { className: "item history-item", id: base, dataset: { historyId: item._id } },
    h(
      "div",
      { className: "item-main" },
      h("p", { className: "item-title spoken-text" }, item.text),
      h("p", { className: "item-meta" }, meta),
      gone,
    ),
    h("div", { className: "item-actions" }, actions),
    h("audio", { id: `${base}-audio`, className: "history-audio", controls: true, hidden: true }),
  );
}

function render() {
  byId("history-list").replaceChildren(...items.map(historyItem));
  byId("history-empty").hidden = items.length > 0;
  byId("history-clear").hidden = items.length === 0;
  byId("history-more-row").hidden = items.length >= total;
  byId("history-count").textContent = `Showing ${items.length} of ${total}.`;
}

/** Load the newest page (or the next one with `append`). */
export function loadHistory({ append = false } = {}) {
  if (loading) return loading;
  const list = byId("history-list");
  list.setAttribute("aria-busy", "true");
  loading = (async () => {
    try {
      const body = await api.get("/api/speech-history", { limit: PAGE_SIZE, offset: append ? items.length : 0 });
      const page = body.items || [];
      items = append ? items.concat(page) : page;
      total = Number.isFinite(body.total) ? body.total : items.length;
      showMessage(byId("history-message"), "", "");
      render();
    } catch (error) {
      showResult(byId("history-message"), "error", `Could not load what was spoken: ${messageOf(error)}`);
    } finally {
      list.setAttribute("aria-busy", "false");
      loading = null;
    }
  })();
  return loading;
}

async function play(item) {
  const base = itemId(item);
  const audio = byId(`${base}-audio`);
  for (const other of byId("history-list").querySelectorAll("audio")) if (other !== audio) other.pause();
  audio.hidden = false;
  audio.setAttribute("aria-label", `Spoken: ${shortly(item)}`);
  const outcome = await playIn(audio, item.audio_url);
  if (outcome === "error") showResult(byId("history-message"), "error", "The browser could not play this audio.");
  else announce(outcome === "playing" ? "Playing." : "Ready: press play to listen.");
}

function remove(item) {
  const question = `Delete what was spoken?\n\n“${shortly(item)}”\n\nIts sound is deleted too.`;
  const message = byId("history-message");
  const path = `/api/speech-history/${encodeURIComponent(item._id)}`;
  return confirmAndDelete(question, path, message, shortly(item), () => {
    const index = items.findIndex((i) => i._id === item._id);
    items = items.filter((i) => i._id !== item._id);
    total = Math.max(0, total - 1);
    render();
    // The focus goes to the next entry's Play (or Delete), else to the heading.
    const next = items[Math.min(index, items.length - 1)];
    const target = next ? byId(`${itemId(next)}-play`) || byId(`${itemId(next)}-delete`) : byId("history-title");
    showMessage(message, "success", "Deleted.");
    announce("Deleted.");
    if (target) target.focus();
  });
}

function clearAll() {
  const question = "Delete everything that was spoken, and its sound? This cannot be undone.";
  const message = byId("history-message");
  return confirmAndDelete(question, "/api/speech-history", message, "what was spoken", async (body) => {
    items = [];
    total = 0;
    render();
    const count = Number.isFinite(body.deleted) ? body.deleted : null;
    showResult(message, "success", count === null ? "Deleted." : `Deleted ${count} item${count === 1 ? "" : "s"}.`);
    announce("History deleted.");
  });
}

export function setupHistory() {
  byId("history-more").addEventListener("click", () => loadHistory({ append: true }));
  byId("history-clear").addEventListener("click", clearAll);
}
