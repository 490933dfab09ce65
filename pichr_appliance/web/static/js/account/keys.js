// API keys on the account page: create (the secret shown once, with a copy button),
// list (never a secret), revoke (after a confirmation in place).

import { api } from "../api.js";
import { announce, copyField, formatDate, h, replace } from "../ui.js";
import { actionForm, card, field } from "./forms.js";

const PERMISSIONS = [
  ["upload", "Upload images"],
  ["read", "Read files and albums"],
  ["write", "Change files and albums"],
  ["delete", "Delete files"],
];

function permissionBoxes() {
  return h(
    "fieldset",
    { class: "field permissions" },
    h("legend", {}, "Permissions"),
    PERMISSIONS.map(([value, label]) =>
      h(
        "div",
        { class: "checkbox" },
        h("input", { type: "checkbox", id: `key-perm-${value}`, value, checked: value === "upload" }),
        h("label", { for: `key-perm-${value}` }, label),
      ),
    ),
  );
}

function secretPanel(created, onDone) {
  return h(
    "div",
    { class: "key-secret", role: "group", "aria-labelledby": "key-secret-title" },
    h("h3", { id: "key-secret-title" }, `New API key “${created.name}”`),
    h(
      "p",
      { class: "key-once" },
      h("strong", {}, "This key is shown only now."),
      " Copy it and keep it somewhere safe: it cannot be shown again. Lost it? Revoke it and make a new one.",
    ),
    copyField("API key", created.key),
    h("button", { type: "button", class: "btn", onclick: onDone }, "I have copied it"),
  );
}

function keyRow(key, onRevoked) {
  const actions = h("td", {});
  const revokeButton = () =>
    h(
      "button",
      {
        type: "button",
        class: "btn btn-small btn-danger",
        "aria-label": `Revoke ${key.name}`,
        onclick: () => confirm(),
      },
      "Revoke",
    );
  const confirm = () => {
    const yes = h(
      "button",
      {
        type: "button",
        class: "btn btn-small btn-danger",
        onclick: async () => {
          try {
            await api(`/api/v1/api-keys/${encodeURIComponent(key.id)}`, { method: "DELETE" });
            announce(`API key “${key.name}” revoked`, "success");
            onRevoked();
          } catch (err) {
            announce(err.message, "error");
          }
        },
      },
      "Yes, revoke",
    );
    const no = h(
      "button",
      {
        type: "button",
        class: "btn btn-small",
        onclick: () => {
          replace(actions, revokeButton());
          actions.querySelector("button").focus();
        },
      },
      "Keep",
    );
    replace(actions, h("p", { class: "confirm" }, `Revoke “${key.name}”? Programs using it stop working.`), h("div", { class: "row" }, yes, no));
    yes.focus();
  };
  replace(actions, revokeButton());
  return h(
    "tr",
    {},
    h("th", { scope: "row" }, key.name),
    h("td", {}, h("code", {}, `${key.prefix}…`)),
    h("td", {}, key.permissions.join(", ")),
    h("td", {}, formatDate(key.createdAt)),
    h("td", {}, key.expiresAt ? formatDate(key.expiresAt) : "Never"),
    h("td", {}, key.lastUsedAt ? formatDate(key.lastUsedAt) : "Never"),
    actions,
  );
}

/** The API keys section; `section.reload()` fetches the list again. */
export function keysSection() {
  const list = h("div", { class: "key-list", tabindex: -1 });
  const secret = h("div", { class: "key-secret-slot" });
  const reload = async () => {
    try {
      const { apiKeys } = await api("/api/v1/api-keys");
      if (!apiKeys.length) {
        replace(list, h("p", { class: "hint" }, "No API keys yet."));
        return;
      }
      const head = ["Name", "Key", "Permissions", "Created", "Expires", "Last used", "Actions"];
      replace(
        list,
        h(
          "div",
          { class: "table-scroll" },
          h(
            "table",
            {},
            h("caption", { class: "visually-hidden" }, "Your API keys"),
            h("thead", {}, h("tr", {}, head.map((t) => h("th", { scope: "col" }, t)))),
            h("tbody", {}, apiKeys.map((key) => keyRow(key, afterRevoke))),
          ),
        ),
      );
    } catch (err) {
      replace(list, h("p", { class: "error-text" }, err.message));
    }
  };
  const afterRevoke = async () => {
    await reload();
    list.focus();
  };
  const form = actionForm(
    {
      id: "key-form",
      submit: "Create key",
      labels: { name: "Name", permissions: "Permissions", expiresAt: "Expires on" },
      action: async (f) => {
        const date = f.querySelector("#key-expiry").value;
        const body = {
          name: f.querySelector("#key-name").value.trim(),
          permissions: [...f.querySelectorAll(".permissions input:checked")].map((b) => b.value),
        };
        if (date) body.expiresAt = new Date(`${date}T23:59:59`).toISOString();
        const created = await api("/api/v1/api-keys", { method: "POST", body });
        f.reset();
        const panel = secretPanel(created, () => {
          replace(secret);
          f.querySelector("#key-name").focus();
        });
        replace(secret, panel);
        panel.querySelector("input").focus();
        announce(`API key “${created.name}” created. It is shown only now: copy it.`, "success");
        await reload();
      },
    },
    field("key-name", "Name", { required: true, maxlength: 100, autocomplete: "off" }, "What the key is for, e.g. “ShareX on my laptop”."),
    permissionBoxes(),
    field("key-expiry", "Expires on (optional)", { type: "date" }, "Empty: the key works until you revoke it."),
  );
  const section = card(
    "keys-title",
    "API keys",
    h("p", { class: "hint" }, "Keys let programs use your account through the API (Authorization: Bearer pk_…)."),
    form,
    secret,
    h("h3", {}, "Your keys"),
    list,
  );
  section.reload = reload;
  reload();
  return section;
}
