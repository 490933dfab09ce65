// The account view (/account): profile, password, usage, API keys, ShareX, export and
// deleting the account. Every change goes through the JSON API (PATCH /auth/me,
// /api-keys, /account); the server's refusals are shown in words.

import { api } from "../api.js";
import { requireSignIn } from "../app.js";
import { deleteSection, exportSection, sharexSection } from "../account/data.js";
import { actionForm, card, field } from "../account/forms.js";
import { keysSection } from "../account/keys.js";
import { config, copyField, formatBytes, h, replace, setTitle } from "../ui.js";

const PROFILE_LABELS = { firstName: "First name", lastName: "Last name", username: "Username" };

function profileSection(user, onSaved) {
  const form = actionForm(
    {
      id: "profile-form",
      submit: "Save profile",
      done: "Profile saved",
      labels: PROFILE_LABELS,
      action: async (f) => {
        const value = (id) => f.querySelector(`#${id}`).value.trim();
        const answer = await api("/api/v1/auth/me", {
          method: "PATCH",
          body: { firstName: value("profile-first"), lastName: value("profile-last"), username: value("profile-username") },
        });
        onSaved(answer.user);
      },
    },
    h("p", {}, "Email: ", h("strong", {}, user.email), ` · Plan: ${user.plan}`),
    field("profile-first", "First name", { autocomplete: "given-name", value: user.firstName }),
    field("profile-last", "Last name", { autocomplete: "family-name", value: user.lastName }),
    field(
      "profile-username",
      "Username",
      { autocomplete: "username", maxlength: 32, value: user.username },
      "3 to 32 letters, digits or underscores.",
    ),
  );
  return card("profile-title", "Profile", form);
}

function passwordSection() {
  const form = actionForm(
    {
      id: "password-form",
      submit: "Change password",
      done: "Password changed. Your other sessions were signed out.",
      labels: { currentPassword: "Current password", password: "New password" },
      action: async (f) => {
        const current = f.querySelector("#password-current");
        const next = f.querySelector("#password-new");
        await api("/api/v1/auth/me", {
          method: "PATCH",
          body: { currentPassword: current.value, password: next.value },
        });
        f.reset();
      },
    },
    field("password-current", "Current password", { type: "password", autocomplete: "current-password", required: true }),
    field(
      "password-new",
      "New password",
      { type: "password", autocomplete: "new-password", required: true },
      "At least 8 characters. Other devices signed in to this account are signed out.",
    ),
  );
  return card("password-title", "Password", form);
}

function usageSection(usage) {
  const { bytes, files, quotaBytes } = usage || { bytes: 0, files: 0, quotaBytes: null };
  const used = quotaBytes
    ? `${formatBytes(bytes)} of ${formatBytes(quotaBytes)} used`
    : `${formatBytes(bytes)} used (no quota)`;
  return card(
    "usage-title",
    "Storage",
    h("p", { id: "usage-text" }, `${used} · ${files} ${files === 1 ? "file" : "files"}`),
    quotaBytes &&
      h("progress", {
        max: quotaBytes,
        value: Math.min(bytes, quotaBytes),
        "aria-labelledby": "usage-title",
        "aria-describedby": "usage-text",
      }),
  );
}

function developerSection() {
  const { publicUrl, supabaseAnonKey } = config();
  return card(
    "developer-title",
    "For developers",
    h("p", { class: "hint" }, "Scripts use an API key (above) with the JSON API; supabase-js clients use this server's URL and its public anon key."),
    copyField("API base URL", `${publicUrl}/api/v1`),
    copyField("Supabase URL", publicUrl),
    supabaseAnonKey && copyField("Supabase anon key", supabaseAnonKey),
    h("p", {}, h("a", { href: "/api/v1/openapi.json" }, "The OpenAPI document")),
  );
}

function renameInNav(user) {
  const link = document.querySelector('#site-nav a[href="/account"]');
  if (link) link.textContent = user.username;
}

/** Render the view into `root`. */
export async function render(root, ctx) {
  if (!ctx.user) {
    requireSignIn();
    return;
  }
  setTitle("Account");
  const { user } = await api("/api/v1/auth/me");
  const keys = keysSection();
  replace(
    root,
    h("h1", {}, "Account"),
    h(
      "div",
      { class: "account-grid" },
      profileSection(user, (saved) => {
        Object.assign(user, saved);
        renameInNav(saved);
      }),
      passwordSection(),
      usageSection(user.usage),
      exportSection(user),
      keys,
      sharexSection(() => keys.reload()),
      developerSection(),
      deleteSection(),
    ),
  );
}
