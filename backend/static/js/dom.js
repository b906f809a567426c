// Small DOM helpers. Text from the server always goes in as text, never as HTML.

export const byId = (id) => document.getElementById(id);

/** h("li", {className: "x", dataset: {id}}, "text", child) */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "className") element.className = value;
    else if (key === "dataset") Object.assign(element.dataset, value);
    else if (key === "text") element.textContent = value;
    else if (key.startsWith("on") && typeof value === "function") element.addEventListener(key.slice(2), value);
    else if (value === true) element.setAttribute(key, "");
    else element.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export function formatDate(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : dateFormat.format(date);
}

/** <time datetime="…">24 Nov 2026, 18:58</time> */
export function timeElement(iso) {
  return h("time", { datetime: iso || "" }, formatDate(iso));
}

export function formatBytes(size) {
  if (!Number.isFinite(size)) return "";
  if (size < 1024) return `${size} B`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(1)} KB`;
  return `${(size / 1024 / 1024).toFixed(1)} MB`;
}

export function formatSeconds(seconds) {
  return Number.isFinite(seconds) ? `${seconds.toFixed(1)} s` : "";
}

/** A length in words: "8 seconds", "1 minute 5 seconds". */
export function formatLength(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return "";
  const whole = Math.max(1, Math.round(seconds));
  const minutes = Math.floor(whole / 60);
  const rest = whole % 60;
  const part = (n, unit) => `${n} ${unit}${n === 1 ? "" : "s"}`;
  if (!minutes) return part(rest, "second");
  return rest ? `${part(minutes, "minute")} ${part(rest, "second")}` : part(minutes, "minute");
}

/** Show a message next to a form: kind is "error", "success", "info" or "" (clear). */
export function showMessage(element, kind, text, details = []) {
  element.replaceChildren();
  element.className = kind ? `form-message ${kind}` : "form-message";
  if (!kind || !text) return;
  element.setAttribute("role", kind === "error" ? "alert" : "status");
  element.append(h("p", {}, text));
  if (details.length) element.append(h("ul", {}, details.map((d) => h("li", {}, d))));
}

/** Disable a form's controls while it waits; marks it busy for assistive technology. */
export function setBusy(form, busy) {
  form.setAttribute("aria-busy", busy ? "true" : "false");
  for (const button of form.querySelectorAll("button[type=submit]")) button.disabled = busy;
}

/**
 * The result of something the person just did, where they are looking: said next to it, scrolled into view
 * and given the focus (the message box has tabindex="-1"), so it is seen and read out.
 */
export function showResult(element, kind, text, details = []) {
  showMessage(element, kind, text, details);
  if (!kind || !text) return;
  if (!element.hasAttribute("tabindex")) element.setAttribute("tabindex", "-1");
  element.scrollIntoView({ block: "nearest" });
  element.focus({ preventScroll: true });
}

let announceTimer = null;

/** A live announcement in the page's status region, for screen readers (it is not shown on screen). */
export function announce(text) {
  const region = byId("status");
  if (!region) return;
  region.textContent = "";
  window.clearTimeout(announceTimer);
  // A fresh text node after a tick makes screen readers repeat identical messages too.
  announceTimer = window.setTimeout(() => {
    region.textContent = text;
    announceTimer = window.setTimeout(() => {
      region.textContent = "";
    }, 6000);
  }, 30);
}

// ---- forms ------------------------------------------------------------------------------------

/** Say next to a form what is wrong, and put the focus on the control it is about. */
export function fieldError(message, text, control) {
  showMessage(message, "error", text);
  if (control) control.focus();
}

/** A required text field's value, trimmed; when it is empty, "" after saying `text` and focusing the field. */
export function requiredValue(field, message, text) {
  const value = field.value.trim();
  if (!value) fieldError(message, text, field);
  return value;
}

/** Run `work` with the form busy (its submit buttons disabled) until it settles, however it ends. */
export async function whileBusy(form, work) {
  setBusy(form, true);
  try {
    return await work();
  } finally {
    setBusy(form, false);
  }
}

/** Ctrl/Cmd+Enter in a text box submits its form, as in many chat boxes. */
export function submitOnCtrlEnter(field) {
  field.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) field.form.requestSubmit();
  });
}

/** Keep "n / max characters" under a text box up to date; returns the function that updates it. */
export function countCharacters(field, output) {
  const update = () => {
    output.textContent = `${field.value.length} / ${field.maxLength} characters`;
  };
  field.addEventListener("input", update);
  update();
  return update;
}

/** Choose `value` in a select if one of its options offers it (and is not disabled); says whether it did. */
export function selectIfOffered(select, value) {
  const offered = [...select.options].some((option) => option.value === value && !option.disabled);
  if (offered) select.value = value;
  return offered;
}

// ---- lists ------------------------------------------------------------------------------------

/** A small button in a list: kind is "secondary" or "danger"; its aria-label names what it acts on. */
export function actionButton(kind, text, label, onclick, props = {}) {
  return h(
    "button",
    { type: "button", ...props, className: `button ${kind} small`, "aria-label": label, onclick },
    text,
  );
}

/** A row of a list of voices or echos: its title, a line about it, its actions, then anything below them. */
export function listItem(props, title, meta, actions, ...below) {
  return h(
    "li",
    props,
    h(
      "div",
      { className: "item-main" },
      h("p", { className: "item-title" }, title),
      h("p", { className: "item-meta" }, meta),
    ),
    h("div", { className: "item-actions" }, actions),
    below,
  );
}

// ---- conversations ----------------------------------------------------------------------------

/**
 * Who wrote an echo's message, for its label: "AI echo", and the model when the reply says which one wrote it
 * (`model`: {provider: "local" | "openai" | "echo", name}); older replies and messages added by hand have none.
 * The app (lib/replyModel.ts) words it the same way.
 */
export function aiLabelText(model) {
  const name = model && typeof model.name === "string" ? model.name.trim() : "";
  const provider = model && model.provider;
  if (provider === "echo") return "AI echo · Echo's honest answer";
  if (provider === "local") {
    return name ? `AI echo · written by ${name} (small offline model)` : "AI echo · written by a small offline model";
  }
  return name ? `AI echo · written by ${name}` : "AI echo";
}

/**
 * A message of a conversation: who said it, "AI echo" when the echo wrote it (and which model, when `model`
 * says), when (or a note such as "sending…"), its text, then anything below it (its actions).
 */
export function messageBubble(tag, props, head, text, ...below) {
  const { speaker, ai = false, model = null, when = null, note = null } = head;
  const provider = model && typeof model.provider === "string" ? { provider: model.provider } : null;
  return h(
    tag,
    props,
    h(
      "p",
      { className: "message-head" },
      h("strong", {}, speaker),
      ai ? [" ", h("span", { className: "ai-label", dataset: provider }, aiLabelText(model))] : null,
      when ? [" · ", timeElement(when)] : null,
      note ? [" · ", h("span", { className: "message-note" }, note)] : null,
    ),
    h("p", { className: "message-text" }, text),
    below,
  );
}
