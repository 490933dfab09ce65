// Admin: accounts (/staff/users), searchable by email or username, each with its role,
// plan and disabled state (PATCH /api/v1/admin/users/{id}), and the site figures
// (/staff/stats). The server refuses what an admin may not do, in its own words.

import { api } from "../api.js";
import { field, select } from "../library/dialog.js";
import { announce, config, formatBytes, formatDate, h, replace } from "../ui.js";
import { frame, pageQuery, pager, refuse, reloader } from "./common.js";

const LIMIT = 20;
const ROLES = [["user", "User"], ["moderator", "Moderator"], ["admin", "Admin"]];

function usageText(u) {
  const usage = u.usage || {};
  const quota = usage.quotaBytes === null || usage.quotaBytes === undefined ? "no quota" : `of ${formatBytes(usage.quotaBytes)}`;
  return `${usage.files || 0} files, ${formatBytes(usage.bytes || 0)} ${quota}`;
}

function userCard(initial, planList) {
  let user = initial;
  const role = select("role", ROLES, user.role);
  const plan = h("input", { type: "text", name: "plan", value: user.plan, list: planList, autocomplete: "off", maxlength: 64 });
  const disabled = h("input", { type: "checkbox", name: "disabled", checked: user.disabled, id: `disabled-${user.id}` });
  const state = h("span", { class: "tile-meta" });
  const facts = h("p", { class: "tile-meta" });
  const refresh = () => {
    facts.textContent = `${user.email} · since ${formatDate(user.createdAt)} · ${usageText(user)}`;
    state.textContent = user.disabled ? "Disabled" : "";
  };
  refresh();
  const form = h(
    "form",
    { class: "card user-card", dataset: { userId: user.id } },
    h(
      "fieldset",
      {},
      h("legend", {}, user.username, " ", state),
      facts,
      h("div", { class: "user-controls" }, field("Role", role), field("Plan", plan), h("div", { class: "field check-field" }, disabled, h("label", { for: disabled.id }, "Disabled"))),
      h("button", { type: "submit", class: "btn btn-primary" }, "Save changes"),
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {};
    if (role.value !== user.role) body.role = role.value;
    if (plan.value.trim() !== user.plan) body.plan = plan.value.trim();
    if (disabled.checked !== user.disabled) body.disabled = disabled.checked;
    if (Object.keys(body).length === 0) {
      announce("Nothing changed");
      return;
    }
    try {
      user = (await api(`/api/v1/admin/users/${encodeURIComponent(user.id)}`, { method: "PATCH", body })).user;
      refresh();
      announce(`Saved ${user.username}`, "success");
    } catch (err) {
      role.value = user.role;
      plan.value = user.plan;
      disabled.checked = user.disabled;
      announce(err.message, "error");
    }
  });
  return form;
}

/** The accounts page (admin). */
export async function renderUsers(root, user) {
  const query = pageQuery();
  const state = { q: query.q || "", offset: Math.max(0, Number(query.offset) || 0) };
  const fetchPage = () => api("/api/v1/admin/users", { query: { q: state.q, limit: LIMIT, offset: state.offset } });
  let page;
  try {
    page = await fetchPage();
  } catch (err) {
    if (err.status === 403) return refuse(root, "Users");
    throw err;
  }
  const planChoices = h("datalist", { id: "plan-choices" });
  const slot = h("div");
  const show = () => {
    const plans = new Set(config().plans || []);
    for (const u of page.users) plans.add(u.plan);
    replace(planChoices, [...plans].sort().map((p) => h("option", { value: p })));
    replace(
      slot,
      page.users.length ? h("div", { class: "user-list" }, page.users.map((u) => userCard(u, "plan-choices"))) : h("p", { class: "hint" }, "No accounts match."),
      pager({ offset: state.offset, limit: LIMIT, total: page.total, shown: page.users.length, label: "Account pages", onPage: (offset) => reload({ offset }) }),
    );
  };
  const reload = reloader(state, fetchPage, (next) => {
    page = next;
    show();
  });
  const q = h("input", { type: "search", name: "q", value: state.q, autocomplete: "off" });
  const form = h("form", { class: "filters card", role: "search", "aria-label": "Find accounts" }, field("Email or username", q), h("button", { type: "submit", class: "btn" }, "Search"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    reload({ q: q.value.trim(), offset: 0 });
  });
  frame(root, user, "Users", form, planChoices, slot);
  show();
}

/** The site figures page (admin). */
export async function renderStats(root, user) {
  let stats;
  try {
    stats = await api("/api/v1/admin/stats");
  } catch (err) {
    if (err.status === 403) return refuse(root, "Statistics");
    throw err;
  }
  const rows = [
    ["Accounts", stats.users],
    ["Disabled accounts", stats.disabledUsers],
    ["Files", stats.files],
    ["Removed files", stats.removedFiles],
    ["Stored", formatBytes(stats.bytes)],
    ["Albums", stats.albums],
    ["Open reports", stats.reportsOpen],
  ];
  frame(
    root,
    user,
    "Statistics",
    h("dl", { class: "stats" }, rows.map(([k, v]) => h("div", { class: "stat card" }, h("dt", {}, k), h("dd", {}, String(v))))),
    h("p", {}, h("a", { href: "/staff" }, "Review the open reports")),
  );
}
