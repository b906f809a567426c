// What the person sees of signing in: who is signed in (the header's #account) and the sign-in panel
// (#signin, just below the header). identity.js and signin-oidc.js decide; this file only draws.
//
// While someone must sign in, <body data-signin="needed"> hides the rest of the page (style.css); when a
// sign-in has ended mid-visit, data-signin="ended" shows the panel above the page, which stays as it was.

import { byId, h } from "./dom.js";

const NAME_RULE_HINT =
  "Echo keeps names in plain letters and digits (a–z, 0–9), so please type your name that way, " +
  "for example “Maria” rather than “Мария” or “M@ria”.";

function account() {
  return byId("account");
}

/** The panel element: #signin from index.html, or one made just after the header if the page has none. */
function panel() {
  let element = byId("signin");
  if (!element) {
    element = h("section", { id: "signin", className: "signin", hidden: true });
    const header = document.querySelector("header");
    if (header) header.after(element);
    else document.body.prepend(element);
  }
  return element;
}

function setNeeded(value) {
  if (value) document.body.dataset.signin = value;
  else delete document.body.dataset.signin;
  // The footer's line about who is using the page (app.js fills it once someone is).
  const line = byId("identity-line");
  if (line && value === "needed") line.textContent = "Not signed in.";
  if (line && value === "ended") line.textContent = "Your sign-in has ended.";
}

function hidePanel() {
  const element = panel();
  element.hidden = true;
  element.replaceChildren();
  setNeeded(null);
}

function openPanel(mode, ...children) {
  const element = panel();
  element.replaceChildren(h("div", { className: "wrap" }, h("div", { className: "signin-card card" }, ...children)));
  element.hidden = false;
  element.setAttribute("aria-labelledby", "signin-title");
  setNeeded(mode);
  return element;
}

/** A plain-words problem, with the technical part one click away. */
function problemBox(problem) {
  if (!problem) return null;
  return h(
    "div",
    { className: "signin-problem form-message error", role: "alert", tabindex: "-1" },
    h("p", {}, problem.text),
    problem.detail
      ? h(
          "details",
          {},
          h("summary", {}, "Technical details"),
          h("p", { className: "signin-detail" }, problem.detail),
        )
      : null,
  );
}

function busy(button, text) {
  button.disabled = true;
  button.dataset.label = button.textContent;
  button.textContent = text;
}

function idle(button) {
  button.disabled = false;
  if (button.dataset.label) button.textContent = button.dataset.label;
}

// -- the header: who is signed in ---------------------------------------------------------------------

/**
 * Show who is signed in. kind "local": {name (null for this browser's earlier identity), changeName, signOut};
 * kind "oidc": {name, signOut}.
 */
export function showAccount({ kind, name, changeName, signOut }) {
  const box = account();
  if (!box) return;
  const items = [];
  if (kind === "local" && !name) {
    items.push(h("p", { className: "account-who" }, "Using the voices saved in this browser"));
    items.push(
      h("button", { type: "button", className: "account-action", onclick: changeName }, "Sign in with a name"),
    );
  } else {
    const who = h("strong", { className: "account-name" }, name);
    items.push(h("p", { className: "account-who" }, "Signed in as ", who));
    if (kind === "local") {
      const label = `Not ${name}? Use another name`;
      items.push(h("button", { type: "button", className: "account-action", onclick: changeName }, label));
    }
    const signOutButton = h("button", { type: "button", className: "account-action account-signout" }, "Sign out");
    signOutButton.addEventListener("click", async () => {
      busy(signOutButton, "Signing out…");
      try {
        await signOut();
      } catch {
        idle(signOutButton);
        showAccountNote("Signing out did not work. Please try again.");
      }
    });
    items.push(signOutButton);
  }
  items.push(h("p", { className: "account-note", role: "status", hidden: true }));
  box.replaceChildren(...items);
  box.dataset.state = "signed-in";
}

function showAccountNote(text) {
  const note = account() && account().querySelector(".account-note");
  if (!note) return;
  note.textContent = text;
  note.hidden = !text;
}

// -- local mode: a name -------------------------------------------------------------------------------

/**
 * Ask for a name. required: nothing else is possible until there is one (first visit, signed out);
 * otherwise the person asked to change (current = the name in use, or null for this browser's earlier
 * identity) and may cancel. earlier/useEarlier: this browser has an earlier identity to go back to.
 */
export function showNamePanel({ signInWithName, isValidName, required, current = null, earlier = false, useEarlier }) {
  const input = h("input", {
    id: "signin-name",
    name: "name",
    type: "text",
    autocomplete: "name",
    maxlength: "100",
    required: true,
    "aria-describedby": "signin-name-hint",
  });
  const error = h("p", {
    id: "signin-error",
    className: "form-message error signin-error",
    role: "alert",
    hidden: true,
  });
  const submit = h("button", { type: "submit", className: "button primary" }, "Continue");
  const form = h(
    "form",
    { className: "signin-form", novalidate: true },
    h("label", { for: "signin-name" }, "Your name"),
    h("div", { className: "signin-row" }, input, submit),
    error,
  );
  const showError = (text) => {
    error.textContent = text;
    error.hidden = false;
    input.setAttribute("aria-invalid", "true");
    input.focus();
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = input.value.trim();
    if (!name) return showError("Please type your name.");
    if (!isValidName(name)) return showError(NAME_RULE_HINT);
    error.hidden = true;
    input.removeAttribute("aria-invalid");
    busy(submit, "Signing in…");
    try {
      await signInWithName(name);
    } catch (problem) {
      idle(submit);
      const message = problem && problem.message ? problem.message : String(problem);
      showError(`Could not sign in: ${message}`);
    }
  });

  const parts = [
    h("h2", { id: "signin-title" }, required ? "Welcome to Echo" : "Use another name"),
    h(
      "p",
      { id: "signin-name-hint" },
      "Echo keeps your voices and echos under your name. Use the same name in the Echo app to see them there too.",
    ),
    form,
    h(
      "p",
      { className: "hint" },
      "There is no password on this Echo server: anyone who uses it with the same name sees the same voices and echos.",
    ),
  ];
  if (current === null && !required) {
    parts.push(
      h(
        "p",
        { className: "hint" },
        "The voices and echos you made before stay saved in this browser. You can come back to them from here.",
      ),
    );
  }
  if (earlier && useEarlier) {
    parts.push(
      h(
        "p",
        {},
        h(
          "button",
          { type: "button", className: "button secondary", onclick: useEarlier },
          "Go back to the voices saved in this browser",
        ),
      ),
    );
  }
  if (!required) {
    const cancel = h("button", { type: "button", className: "button secondary", onclick: hidePanel }, "Cancel");
    parts.push(h("p", {}, cancel));
  }
  openPanel(required ? "needed" : "switching", ...parts);
  if (!required) {
    panel().scrollIntoView({ block: "start" });
  }
  input.focus();
  if (required) {
    const box = account();
    if (box) {
      box.replaceChildren(h("p", { className: "account-who" }, "Not signed in"));
      box.dataset.state = "signed-out";
    }
  }
}

// -- sign-in mode: the provider -----------------------------------------------------------------------

function signInButton(signIn, label = "Sign in") {
  const button = h("button", { type: "button", className: "button primary signin-button" }, label);
  button.addEventListener("click", () => {
    busy(button, "Opening the sign-in page…");
    signIn();
  });
  // Back from the provider with the browser's Back button (the page kept in memory): the button works again.
  window.addEventListener("pageshow", (event) => event.persisted && idle(button));
  return button;
}

/** Not signed in: a clear sign-in button, and what went wrong last time if anything did. */
export function showSignInPanel({ signIn, problem = null }) {
  const button = signInButton(signIn);
  openPanel(
    "needed",
    h("h2", { id: "signin-title" }, "Sign in to Echo"),
    problemBox(problem),
    h("p", {}, "Sign in to see your voices and echos and to talk with them."),
    h("p", {}, button),
  );
  const box = account();
  if (box) {
    box.replaceChildren(h("p", { className: "account-who" }, "Not signed in"));
    box.dataset.state = "signed-out";
  }
  if (problem) panel().querySelector(".signin-problem").focus();
  else button.focus();
}

/** The sign-in ended during the visit (it could not be renewed): say so, keep the page as it is. */
export function showSignInEnded({ signIn }) {
  openPanel(
    "ended",
    h("h2", { id: "signin-title" }, "Your sign-in has ended"),
    h("p", { role: "alert" }, "Sign in again to carry on. Anything you have not saved yet on this page will be lost."),
    h("p", {}, signInButton(signIn, "Sign in again")),
  );
  const box = account();
  if (box) {
    box.replaceChildren(h("p", { className: "account-who" }, "Signed out"));
    box.dataset.state = "signed-out";
  }
}

/** Sign-in could not even start (the provider's code failed to load, say). */
export function showSignInProblem(text) {
  openPanel(
    "needed",
    h("h2", { id: "signin-title" }, "Sign in to Echo"),
    problemBox({ text: "Signing in is not possible right now. Reload the page to try again.", detail: text }),
  );
}
