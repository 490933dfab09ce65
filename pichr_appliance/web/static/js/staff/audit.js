// The audit log (/staff/audit): who did what, to what, why and when; newest first,
// paged, with filters by action, target and actor kept in the URL.

import { api } from "../api.js";
import { field } from "../library/dialog.js";
import { formatDate, h, replace } from "../ui.js";
import { frame, pageQuery, pager, refuse, reloader } from "./common.js";

const LIMIT = 25;
const FILTERS = [["action", "Action"], ["targetId", "Target id"], ["actorId", "Actor id"]];

function row(entry) {
  const target = entry.targetType ? `${entry.targetType} ${entry.targetId || ""}` : "";
  const data = Object.keys(entry.data || {}).length ? JSON.stringify(entry.data) : "";
  return h(
    "tr",
    {},
    h("td", {}, h("time", { datetime: entry.createdAt }, formatDate(entry.createdAt))),
    h("td", {}, entry.actor),
    h("td", {}, entry.action),
    h("td", { class: "break" }, target),
    h("td", { class: "break" }, entry.note),
    h("td", { class: "break audit-data" }, data),
  );
}

function table(entries) {
  return h(
    "div",
    { class: "table-wrap", role: "region", "aria-label": "Audit entries", tabindex: "0" },
    h(
      "table",
      {},
      h("thead", {}, h("tr", {}, ["When", "Who", "Action", "Target", "Note", "Details"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, entries.map(row)),
    ),
  );
}

/** The audit log page. */
export async function renderAudit(root, user) {
  const query = pageQuery();
  const state = { offset: Math.max(0, Number(query.offset) || 0) };
  for (const [key] of FILTERS) state[key] = query[key] || "";
  const fetchPage = () => {
    const q = { limit: LIMIT, offset: state.offset };
    for (const [key] of FILTERS) if (state[key]) q[key] = state[key];
    return api("/api/v1/moderation/audit", { query: q });
  };
  let page;
  try {
    page = await fetchPage();
  } catch (err) {
    if (err.status === 403) return refuse(root, "Audit log");
    throw err;
  }
  const slot = h("div");
  const show = () => {
    replace(
      slot,
      page.entries.length ? table(page.entries) : h("p", { class: "hint" }, "No entries."),
      pager({ offset: state.offset, limit: LIMIT, total: page.total, shown: page.entries.length, label: "Audit log pages", onPage: (offset) => reload({ offset }) }),
    );
  };
  const reload = reloader(state, fetchPage, (next) => {
    page = next;
    show();
  });
  const inputs = FILTERS.map(([key]) => h("input", { type: "text", name: key, value: state[key], autocomplete: "off" }));
  const form = h(
    "form",
    { class: "filters card", role: "search", "aria-label": "Filter the audit log" },
    FILTERS.map(([, label], i) => field(label, inputs[i])),
    h("div", { class: "row filter-actions" }, h("button", { type: "submit", class: "btn" }, "Apply filters")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const changes = { offset: 0 };
    FILTERS.forEach(([key], i) => { changes[key] = inputs[i].value.trim(); });
    reload(changes);
  });
  frame(root, user, "Audit log", form, slot);
  show();
}
