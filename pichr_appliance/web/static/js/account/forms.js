// Form helpers of the auth and account views: labelled fields, a card per section,
// submitting with the server's refusal shown next to the form and announced.

import { announce, h } from "../ui.js";

/** The server's message in the form's words: "currentPassword: does not match" reads
 * "Current password: does not match" when `labels` names the field. */
export function words(err, labels = {}) {
  const message = (err && err.message) || "Something went wrong";
  const match = /^([A-Za-z_]+): (.*)$/s.exec(message);
  if (match && labels[match[1]]) return `${labels[match[1]]}: ${match[2]}`;
  return message;
}

/** A labelled input (`attrs` go to the input), with an optional hint it points at. */
export function field(id, label, attrs = {}, hint = null) {
  const hintId = hint ? `${id}-hint` : null;
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    h("input", { id, name: id, type: "text", "aria-describedby": hintId, ...attrs }),
    hint && h("p", { class: "hint", id: hintId }, hint),
  );
}

/** A section card with a heading. */
export function card(id, title, ...children) {
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), ...children);
}

/** A form whose submit runs `action(form)`; a refusal shows in words next to the
 * button (with `labels` naming the fields) and is announced; `done` text is
 * announced on success. Answers the form element. */
export function actionForm({ id, labels = {}, submit, danger = false, done, action }, ...children) {
  const error = h("p", { class: "error-text form-error", id: `${id}-error` });
  const button = h("button", { type: "submit", class: danger ? "btn btn-danger" : "btn btn-primary" }, submit);
  const form = h(
    "form",
    {
      id,
      novalidate: true,
      "aria-describedby": `${id}-error`,
      onsubmit: async (e) => {
        e.preventDefault();
        error.textContent = "";
        button.disabled = true;
        try {
          await action(form);
          if (done) announce(done, "success");
        } catch (err) {
          const text = words(err, labels);
          error.textContent = text;
          announce(text, "error");
        } finally {
          button.disabled = false;
        }
      },
    },
    ...children,
    error,
    h("div", { class: "row" }, button),
  );
  return form;
}

/** Save `blob` as a download named `filename` (an object URL on a link with
 * `download`: the file came through api() with the access token). */
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
