// The public pages (/, /v/{id}, /a/{id}) are rendered by the server for anyone; this
// module adds what needs a script: the copy buttons, the report form (anonymous reports
// are allowed), and, for a signed-in owner or staff member on a 404/403 page of an image
// or album, the page itself, asked from the API with their token (views/public-owner.js).

import { api } from "../api.js";
import { announce } from "../ui.js";

/** Render the view into `root` (the server already rendered the page itself). */
export async function render(root, ctx) {
  for (const button of root.querySelectorAll("button[data-copy]")) wireCopy(button);
  const dialog = root.querySelector("dialog.report-dialog");
  if (dialog) wireReport(root, dialog);
  const lookup = root.querySelector("[data-lookup]");
  if (lookup && ctx.user) {
    const id = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
    const { showPrivate } = await import("./public-owner.js");
    await showPrivate(root, lookup.dataset.lookup, id, ctx);
  }
}

function wireCopy(button) {
  button.hidden = false;
  button.addEventListener("click", async () => {
    const text = button.dataset.copy;
    try {
      await navigator.clipboard.writeText(text);
      announce(`Copied: ${text.length > 60 ? text.slice(0, 57) + "..." : text}`, "success");
    } catch {
      announce("Could not reach the clipboard; select the text and copy it", "error");
    }
  });
}

function wireReport(root, dialog) {
  const opener = root.querySelector("[data-report-open]");
  const form = dialog.querySelector("form");
  const reason = form.elements.reason;
  const error = dialog.querySelector(".report-error");
  const submit = form.querySelector('button[type="submit"]');
  opener.hidden = false;
  opener.addEventListener("click", () => {
    form.reset();
    error.textContent = "";
    dialog.showModal();
    reason.focus();
  });
  dialog.querySelector("[data-report-cancel]").addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!reason.value) {
      error.textContent = "Choose a reason for the report.";
      reason.setAttribute("aria-invalid", "true");
      reason.focus();
      return;
    }
    reason.removeAttribute("aria-invalid");
    const key = dialog.dataset.kind === "album" ? "albumId" : "fileId";
    const body = { [key]: dialog.dataset.target, reason: reason.value };
    const details = form.elements.details.value.trim();
    if (details) body.details = details;
    submit.disabled = true;
    error.textContent = "";
    try {
      await api("/api/v1/moderation/report", { method: "POST", body });
      dialog.close();
      opener.focus();
      announce("Thank you. Your report was sent to the moderators.", "success");
    } catch (err) {
      error.textContent = err.message; // the server's words (rate limit, already reported)
    } finally {
      submit.disabled = false;
    }
  });
}
