// Modal dialogs for the signed-in views (edit forms, confirmations). A native <dialog>
// opened with showModal(): focus moves into it and stays there, Escape cancels, and
// focus returns to the control that opened it. Page scripts never use alert/confirm.

import { h } from "../ui.js";

let counter = 0;

/** Open a modal form. `fields` are the form's children; `onSubmit(form)` runs on
 * submit and may throw (its message is shown in the dialog, which stays open) or
 * return a value, which the returned promise resolves to once the dialog closed.
 * Cancelling resolves to null. */
export function formDialog({ title, fields, submitLabel = "Save", danger = false, onSubmit }) {
  const opener = document.activeElement;
  const id = `dialog-${++counter}`;
  const error = h("p", { class: "error-text dialog-error", role: "alert" });
  const submit = h("button", { type: "submit", class: danger ? "btn btn-danger" : "btn btn-primary" }, submitLabel);
  const cancel = h("button", { type: "button", class: "btn" }, "Cancel");
  const form = h("form", { class: "dialog-form", novalidate: false }, h("h2", { id: `${id}-title` }, title), fields, error, h("div", { class: "row dialog-actions" }, submit, cancel));
  const dialog = h("dialog", { class: "modal", "aria-labelledby": `${id}-title` }, form);
  document.body.append(dialog);
  return new Promise((resolve) => {
    let result = null;
    cancel.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => {
      dialog.remove();
      if (opener && opener.isConnected && typeof opener.focus === "function") opener.focus();
      resolve(result);
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = "";
      submit.disabled = true;
      try {
        const value = await onSubmit(form);
        result = value === undefined ? true : value;
        dialog.close();
      } catch (err) {
        error.textContent = err.message || "That did not work";
      } finally {
        submit.disabled = false;
      }
    });
    dialog.showModal();
  });
}

/** Ask for confirmation: resolves to true only when the user pressed `confirmLabel`. */
export async function confirmDialog(title, message, confirmLabel = "Delete") {
  const answer = await formDialog({
    title,
    fields: h("p", {}, message),
    submitLabel: confirmLabel,
    danger: true,
    onSubmit: () => true,
  });
  return answer === true;
}

/** A labelled field: `control` gets `id`; `hint` is linked with aria-describedby. */
export function field(label, control, hint) {
  const id = control.id || `field-${++counter}`;
  control.id = id;
  const parts = [h("label", { for: id }, label), control];
  if (hint) {
    const hintId = `${id}-hint`;
    control.setAttribute("aria-describedby", hintId);
    parts.push(h("p", { class: "hint", id: hintId }, hint));
  }
  return h("div", { class: "field" }, parts);
}

/** A <select> of `choices` ([value, label] pairs) with `selected` chosen. */
export function select(name, choices, selected) {
  return h(
    "select",
    { name },
    choices.map(([value, label]) => h("option", { value, selected: value === selected }, label)),
  );
}

/** The visibility choices of a file or album ([value, label] pairs). */
export const VISIBILITIES = [
  ["public", "Public (listed and linkable)"],
  ["unlisted", "Unlisted (anyone with the link)"],
  ["private", "Private (only you)"],
];

/** "a, b ,c" -> ["a", "b", "c"] (the server lower-cases and de-duplicates). */
export function parseTags(text) {
  return text.split(",").map((t) => t.trim()).filter(Boolean);
}
