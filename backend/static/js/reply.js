// Writing to an echo: the person's message shows at once, the echo's reply appears as it is written
// (Server-Sent Events, read with fetch since EventSource cannot POST) and is heard in the echo's voice from
// its first sentence. Stop cancels it; after a stop or a failure the person's message stays and "Try again"
// asks again.

import { cutShort, messageOf, postForEvents } from "./api.js";
import { announce, byId, messageBubble, requiredValue, setBusy, showMessage, submitOnCtrlEnter } from "./dom.js";
import { playIn } from "./speak.js";
import { on, state } from "./state.js";

// What echos.js lends: echo() the open echo, messages() its stored messages, show(stored, extra) draws
// them (and messages not stored yet), reload() asks the server for them, speaks(echo) whether it has a
// voice to speak with, voiceLost(error) records a 409 voice_deleted / no_voice (says whether it was one).
let conversation = null;
let running = null; // {controller, echoId} while a reply is being written
let retry = null; // {echoId, content}: content is null when the person's message is kept on the server

/** Who writes the replies, in plain words, for the note under the box. */
export function languageModelNote(model, name) {
  const provider = model && model.provider;
  if (provider === "none") {
    return (
      "Replies are turned off on this server (no language model is set up). " +
      "You can still add messages by hand below."
    );
  }
  if (provider === "local") {
    return `Replies are written by a small AI model running on this server, not by ${name}. It often makes things up.`;
  }
  const which = model && model.model ? ` (${model.model})` : "";
  return `Replies are written by an AI language model${which}, not by ${name}, and can be wrong.`;
}

function updateNote() {
  const echo = conversation && conversation.echo();
  byId("reply-note").textContent = languageModelNote(state.languageModel, echo ? echo.name : "the person");
  // Without a language model, adding messages by hand is the way to write; show it.
  if (state.languageModel && state.languageModel.provider === "none") byId("message-details").open = true;
}

function replyAudio() {
  return byId("conversation-audio");
}

function silence() {
  const audio = replyAudio();
  audio.pause();
  audio.removeAttribute("src");
  audio.hidden = true;
}

/** The page's state while a reply is written: the box and Send disabled and busy, Stop offered. */
function setWriting(writing) {
  const form = byId("reply-form");
  setBusy(form, writing);
  byId("reply-content").disabled = writing;
  byId("reply-stop").hidden = !writing;
  byId("reply-live").setAttribute("aria-busy", writing ? "true" : "false");
}

function offerRetry(value) {
  retry = value;
  byId("reply-retry").hidden = !value;
}

/** A new echo opened (or none): stop what was being written there and forget its retry. */
export function resetReply(echo) {
  if (running) {
    running.controller.abort();
    running = null;
    setWriting(false);
    silence();
  }
  offerRetry(null);
  showMessage(byId("reply-message"), "", "");
  byId("reply-live").replaceChildren();
  byId("reply-label").textContent = echo ? `Write to ${echo.name}` : "Write to the echo";
  updateNote();
}

/** The open echo was renamed: the box and the note say its new name (a reply being written goes on). */
export function renameInReply(echo) {
  byId("reply-label").textContent = `Write to ${echo.name}`;
  updateNote();
}

function liveBubble(echo) {
  const bubble = messageBubble(
    "div",
    { className: "message from-echo writing" },
    { speaker: echo.name, ai: true, note: "writing…" },
    "",
  );
  byId("reply-live").replaceChildren(bubble);
  return bubble.querySelector(".message-text");
}

function playReply(echo, url) {
  const audio = replyAudio();
  audio.hidden = false;
  audio.setAttribute("aria-label", `${echo.name}'s reply, spoken`);
  playIn(audio, url).then((outcome) => {
    if (outcome === "blocked") announce("The reply can be heard: press play.");
  });
}

/**
 * Ask the echo to reply: to `content` (shown at once), or with `content` null to the conversation as it
 * stands (its last message is the person's, kept on the server after a stop or a failure).
 */
async function writeReply(echo, content) {
  const status = byId("reply-message");
  showMessage(status, "", "");
  offerRetry(null);
  const sending = content === null ? [] : [{ role: "user", content, pending: true }];
  conversation.show(conversation.messages(), sending);
  const text = liveBubble(echo);
  const controller = new AbortController();
  running = { controller, echoId: echo._id };
  setWriting(true);
  byId("reply-stop").focus();
  let kept = content === null; // the person's message is on the server
  let finished = null;
  let spoken = false;
  const body = { format: "mp3", speak: conversation.speaks(echo) };
  if (content !== null) body.content = content;
  try {
    await postForEvents(`/api/conversation/${encodeURIComponent(echo._id)}/reply`, body, {
      signal: controller.signal,
      onEvent: (name, data) => {
        if (name === "message" && data.message && !kept) {
          kept = true;
          conversation.show([...conversation.messages(), data.message]);
        } else if (name === "delta" && typeof data.text === "string") {
          text.textContent += data.text;
        } else if (name === "audio" && data.audio_url && !spoken) {
          spoken = true;
          playReply(echo, data.audio_url);
        } else if (name === "done") {
          finished = data;
        }
      },
    });
    if (!finished || !finished.reply) throw cutShort();
    conversation.show([...conversation.messages(), finished.reply]);
    if (!spoken && finished.audio_url) playReply(echo, finished.audio_url);
    if (finished.speech_error) {
      showMessage(status, "info", `The reply is written but could not be spoken: ${finished.speech_error.message}`);
    }
    announce(`${echo.name} replied.`);
  } catch (error) {
    // (Nothing to say if another echo was opened meanwhile: that stopped this one.)
    if (running && running.controller === controller) await failed(echo, content, kept, error);
  } finally {
    if (running && running.controller === controller) {
      running = null;
      setWriting(false);
      byId("reply-live").replaceChildren();
      if (finished) byId("reply-content").focus();
    }
  }
}

/** After a stop or a failure: the person's message stays (kept, or shown as not sent), and Try again asks again. */
async function failed(echo, content, kept, error) {
  const status = byId("reply-message");
  silence(); // an unfinished reply's speech is dropped by the server
  byId("reply-live").replaceChildren();
  const stopped = error.code === "aborted";
  await conversation.voiceLost(error);
  let stored = conversation.messages();
  try {
    stored = await conversation.reload();
  } catch {
    // The server is out of reach: keep what the page has.
  }
  const last = stored[stored.length - 1];
  kept = kept || (content !== null && last && last.role === "user" && last.content === content);
  const unsent = kept ? [] : [{ role: "user", content, unsent: true }];
  conversation.show(stored, unsent);
  offerRetry({ echoId: echo._id, content: kept ? null : content });
  running = null;
  setWriting(false);
  if (stopped) {
    const said = kept
      ? "Stopped. Your message is kept; press “Try again” for a reply."
      : "Stopped before your message was sent; press “Try again” to send it.";
    showMessage(status, "info", said);
    announce("Reply stopped.");
    byId("reply-retry").focus();
  } else {
    // In the server's words (a 429 says how long to wait); a lost voice also shows its notice above.
    showMessage(status, "error", messageOf(error));
    status.focus();
  }
}

async function submitReply(event) {
  event.preventDefault();
  const echo = conversation.echo();
  if (!echo || running) return;
  const field = byId("reply-content");
  const content = requiredValue(field, byId("reply-message"), `Write something to ${echo.name} first.`);
  if (!content) return;
  field.value = "";
  await writeReply(echo, content);
}

function stopReply() {
  if (!running) return;
  running.controller.abort();
  replyAudio().pause();
}

function tryAgain() {
  const echo = conversation.echo();
  if (!echo || running || !retry || retry.echoId !== echo._id) return;
  writeReply(echo, retry.content);
}

export function setupReplies(lent) {
  conversation = lent;
  byId("reply-form").addEventListener("submit", submitReply);
  submitOnCtrlEnter(byId("reply-content"));
  byId("reply-stop").addEventListener("click", stopReply);
  byId("reply-retry").addEventListener("click", tryAgain);
  on("health", updateNote);
  updateNote();
}
