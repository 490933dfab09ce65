// The account page's data sections: ShareX configuration, the GDPR export and
// deleting the account. Downloads come through api() (the access token is in memory,
// a plain link cannot send it) and are saved from an object URL.

import { api, session } from "../api.js";
import { announce, config, formatBytes, h } from "../ui.js";
import { actionForm, card, field, saveBlob } from "./forms.js";

function stamp(date = new Date()) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getUTCFullYear()}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}`;
}

/** A button that fetches something through `fetchAndSave` (which saves it and returns
 * the status line to show), with a busy state and the outcome announced. */
function downloadButton(label, busyText, fetchAndSave, done) {
  const note = h("p", { class: "hint", role: "status" });
  const button = h(
    "button",
    {
      type: "button",
      class: "btn",
      onclick: async () => {
        button.disabled = true;
        button.setAttribute("aria-busy", "true");
        note.textContent = busyText;
        announce(busyText);
        try {
          note.textContent = await fetchAndSave();
          announce(done, "success");
        } catch (err) {
          note.textContent = err.message;
          announce(err.message, "error");
        } finally {
          button.disabled = false;
          button.removeAttribute("aria-busy");
        }
      },
    },
    label,
  );
  return [button, note];
}

/** ShareX: download a custom uploader file holding a new upload-only API key. */
export function sharexSection(onKeyMade) {
  const save = async () => {
    const sxcu = await api("/api/v1/integrations/sharex");
    const host = new URL(config().publicUrl || location.origin).hostname || "pichr";
    saveBlob(new Blob([JSON.stringify(sxcu, null, 2)], { type: "application/json" }), `pichr-${host}.sxcu`);
    onKeyMade();
    return "Downloaded. Open the file with ShareX to add the uploader.";
  };
  return card(
    "sharex-title",
    "ShareX",
    h(
      "p",
      {},
      "A custom uploader for ShareX (.sxcu). Each download makes a new API key named ShareX that can only upload; revoke old ones under API keys.",
    ),
    ...downloadButton("Download ShareX configuration", "Preparing…", save, "ShareX configuration downloaded"),
  );
}

/** The GDPR export: a ZIP of the account's data and original files. */
export function exportSection(user) {
  const save = async () => {
    const zip = await api("/api/v1/account/export");
    saveBlob(zip, `pichr-export-${user.username}-${stamp()}.zip`);
    return `Export ready (${formatBytes(zip.size)}).`;
  };
  return card(
    "export-title",
    "Export",
    h("p", {}, "Everything the account holds: your details, images, albums and keys as JSON, and the original files."),
    ...downloadButton(
      "Download my data (ZIP)",
      "Preparing your export… This can take a while with many images.",
      save,
      "Export downloaded",
    ),
  );
}

/** Delete the account after the password, then sign out and go home. */
export function deleteSection() {
  const form = actionForm(
    {
      id: "delete-form",
      submit: "Delete my account",
      danger: true,
      labels: { password: "Password" },
      action: async (f) => {
        const password = f.querySelector("#delete-password").value;
        await api("/api/v1/account", { method: "DELETE", body: { password } });
        announce("Your account was deleted", "success");
        await session("logout").catch(() => null);
        location.assign("/");
      },
    },
    field(
      "delete-password",
      "Your password",
      { type: "password", autocomplete: "current-password", required: true },
      "Deleting is final: your images, albums and API keys go with the account.",
    ),
  );
  return card("delete-title", "Delete account", form);
}
