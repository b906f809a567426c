// What the page's forms and list buttons share when they ask the server for something: the form is busy
// while it waits, and a failure is said next to it in the server's words.

import { api, messageOf } from "./api.js";
import { showResult, whileBusy } from "./dom.js";

/**
 * Send a form's request: `send()` runs with the form busy. When it fails, `message` says why and
 * `onError(error)` (optional) does anything more, such as announcing it.
 */
export function sendForm(form, message, send, onError) {
  return whileBusy(form, async () => {
    try {
      await send();
    } catch (error) {
      showResult(message, "error", messageOf(error)); // where the person is looking, with the focus
      if (onError) onError(error);
    }
  });
}

/**
 * A list's Delete button: ask `question`, then DELETE `path` and hand the server's answer to `deleted`.
 * A failure is said in `message`, naming what could not be deleted.
 */
export async function confirmAndDelete(question, path, message, name, deleted) {
  if (!window.confirm(question)) return;
  try {
    await deleted(await api.del(path));
  } catch (error) {
    showResult(message, "error", `Could not delete “${name}”: ${messageOf(error)}`);
  }
}
