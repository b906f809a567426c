// What the open echo remembers: the family's memories it draws on when it replies. Listed newest first,
// added with a form, changed in place, deleted after a confirmation.

import { confirmAndDelete, sendForm } from "./actions.js";
import { api, messageOf } from "./api.js";
import {
  actionButton,
  announce,
  byId,
  countCharacters,
  h,
  listItem,
  requiredValue,
  showMessage,
  submitOnCtrlEnter,
  timeElement,
} from "./dom.js";

let echo = null;
let memories = [];
let editing = null; // the id of the memory being changed in place
let updateAddCount = () => {};

function path(memoryId) {
  const base = `/api/echo/${encodeURIComponent(echo._id)}/memories`;
  return memoryId ? `${base}/${encodeURIComponent(memoryId)}` : base;
}

/** A memory's first words, to name it on its buttons and in questions. */
function shortly(memory) {
  const text = memory.text.replace(/\s+/g, " ");
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

function memoryItem(memory) {
  if (memory._id === editing) return editItem(memory);
  const changed = memory.updated_at && memory.updated_at !== memory.created_at;
  const name = shortly(memory);
  return listItem(
    { className: "item memory", dataset: { memoryId: memory._id } },
    memory.text,
    [changed ? "changed " : "added ", timeElement(changed ? memory.updated_at : memory.created_at)],
    [
      actionButton("secondary", "Edit", `Edit memory: ${name}`, () => startEditing(memory), {
        id: `memory-${memory._id}-edit`,
      }),
      actionButton("danger", "Delete", `Delete memory: ${name}`, () => deleteMemory(memory), {
        id: `memory-${memory._id}-delete`,
      }),
    ],
  );
}

/** The memory as a form, in its place in the list: Save or Cancel (Escape). */
function editItem(memory) {
  const base = `memory-${memory._id}`;
  const field = h("textarea", {
    id: `${base}-text`,
    name: "text",
    rows: 3,
    maxlength: 1000,
    required: true,
    "aria-describedby": `${base}-count`,
  });
  field.value = memory.text;
  const count = h("p", { id: `${base}-count`, className: "hint counter" });
  countCharacters(field, count);
  submitOnCtrlEnter(field);
  field.addEventListener("keydown", (event) => {
    if (event.key === "Escape") stopEditing(memory._id);
  });
  return h(
    "li",
    { className: "item memory editing", dataset: { memoryId: memory._id } },
    h(
      "form",
      { className: "memory-edit", novalidate: true, onsubmit: (event) => saveMemory(event, memory) },
      h("div", { className: "field" }, h("label", { for: field.id }, "Change this memory"), field, count),
      h(
        "div",
        { className: "actions" },
        h("button", { type: "submit", className: "button primary small" }, "Save"),
        h(
          "button",
          { type: "button", className: "button secondary small", onclick: () => stopEditing(memory._id) },
          "Cancel",
        ),
      ),
      h("div", { id: `${base}-message`, className: "form-message", "aria-live": "polite", tabindex: -1 }),
    ),
  );
}

function render() {
  byId("memories-list").replaceChildren(...memories.map(memoryItem));
  byId("memories-empty").hidden = memories.length > 0 || !echo;
}

function startEditing(memory) {
  editing = memory._id;
  render();
  const field = byId(`memory-${memory._id}-text`);
  field.focus();
  field.setSelectionRange(field.value.length, field.value.length);
}

function stopEditing(memoryId) {
  editing = null;
  render();
  const edit = byId(`memory-${memoryId}-edit`);
  if (edit) edit.focus();
}

/** After a failure, said in `message` by sendForm: the focus goes there. */
function focusOn(message) {
  return () => message.focus();
}

async function saveMemory(event, memory) {
  event.preventDefault();
  const form = event.currentTarget;
  const message = byId(`memory-${memory._id}-message`);
  const text = requiredValue(byId(`memory-${memory._id}-text`), message, "Write the memory, or delete it.");
  if (!text) return;
  await sendForm(
    form,
    message,
    async () => {
      const { memory: saved } = await api.patch(path(memory._id), { text });
      memories = memories.map((m) => (m._id === saved._id ? saved : m));
      showMessage(byId("memories-message"), "", "");
      stopEditing(saved._id);
      announce("Memory saved.");
    },
    focusOn(message),
  );
}

function deleteMemory(memory) {
  const message = byId("memories-message");
  const question = `Delete this memory? ${echo.name} will no longer draw on it.\n\n“${shortly(memory)}”`;
  return confirmAndDelete(question, path(memory._id), message, shortly(memory), () => {
    memories = memories.filter((m) => m._id !== memory._id);
    render();
    showMessage(message, "success", "Memory deleted.");
    announce("Memory deleted.");
    byId("memory-text").focus();
  });
}

async function addMemory(event) {
  event.preventDefault();
  if (!echo) return;
  const form = byId("memory-form");
  const message = byId("memories-message");
  const field = byId("memory-text");
  const text = requiredValue(field, message, "Write the memory first.");
  if (!text) return;
  await sendForm(
    form,
    message,
    async () => {
      const { memory } = await api.post(path(), { text });
      memories = [memory, ...memories.filter((m) => m._id !== memory._id)];
      render();
      form.reset();
      updateAddCount();
      showMessage(message, "success", `${echo.name} will remember that.`);
      announce("Memory added.");
      field.focus();
    },
    focusOn(message),
  );
}

/** Show the memories of the echo just opened (null: none open). */
export async function openMemories(current) {
  echo = current;
  memories = [];
  editing = null;
  const message = byId("memories-message");
  showMessage(message, "", "");
  byId("memories-title").textContent = current ? `What ${current.name} remembers` : "What the echo remembers";
  render();
  if (!current) return;
  try {
    const body = await api.get(path(), { limit: 200 });
    if (echo !== current) return; // another echo was opened meanwhile
    memories = body.memories || [];
    render();
  } catch (error) {
    if (echo !== current) return;
    showMessage(message, "error", `Could not load what ${current.name} remembers: ${messageOf(error)}`);
  }
}

export function setupMemories() {
  byId("memory-form").addEventListener("submit", addMemory);
  updateAddCount = countCharacters(byId("memory-text"), byId("memory-count"));
  submitOnCtrlEnter(byId("memory-text"));
}
