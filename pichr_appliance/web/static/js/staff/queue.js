// The moderation queue (/staff): reports grouped by target, with the target's
// thumbnail and owner, and the decision form (dismiss, remove, age-restrict, restore,
// optionally banning the owner). One decision closes every open report on the target.

import { api } from "../api.js";
import { field, select } from "../library/dialog.js";
import { altOf, thumbnail, thumbnailById } from "../thumbs.js";
import { announce, formatDate, h, replace } from "../ui.js";
import { frame, pageQuery, pager, refuse, setPageQuery } from "./common.js";

const LIMIT = 20;
const ACTIONS = [
  ["dismiss", "Dismiss (no action)"],
  ["remove", "Remove"],
  ["age_restrict", "Age-restrict"],
  ["restore", "Restore"],
];
const REASON_WORDS = { illegal: "illegal", csam: "child abuse (CSAM)", nsfw: "NSFW", copyright: "copyright", harassment: "harassment", spam: "spam", other: "other" };

function targetLink(item) {
  const t = item.target;
  if (!t) return h("span", {}, `${item.targetType === "file" ? "File" : "Album"} ${item.targetId} (no longer exists)`);
  const href = item.targetType === "file" ? `/v/${encodeURIComponent(t.id)}` : `/a/${encodeURIComponent(t.id)}`;
  return h("a", { href }, item.targetType === "file" ? altOf(t) : t.title);
}

function targetThumb(item) {
  const t = item.target;
  if (!t) return h("span", { class: "thumb-img thumb-missing" }, "Gone");
  if (item.targetType === "file") return thumbnail(t, { alt: "" });
  return t.coverFileId ? thumbnailById(t.coverFileId, "") : h("span", { class: "thumb-img thumb-missing" }, "Album");
}

function targetFacts(item) {
  const t = item.target;
  if (!t) return "";
  const facts = [item.targetType === "file" ? "Image" : "Album", t.visibility];
  if (t.owner) facts.push(`owner ${t.owner.username} (${t.owner.role}${t.owner.disabled ? ", disabled" : ""})`);
  if (t.status && t.status !== "ready") facts.push(t.status);
  if (t.removed) facts.push("removed");
  if (t.held) facts.push("hidden until decided");
  if (t.ageRestricted) facts.push("age-restricted");
  return facts.join(" · ");
}

function reportList(item) {
  return h(
    "details",
    {},
    h("summary", {}, `The ${item.reports.length} report${item.reports.length === 1 ? "" : "s"}`),
    h("ul", { class: "report-list" }, item.reports.map((r) =>
      h("li", {}, h("strong", {}, REASON_WORDS[r.reason] || r.reason), ` by ${r.reporter}, ${formatDate(r.createdAt)}`, r.status !== "open" ? ` (resolved: ${r.action}${r.resolvedBy ? ` by ${r.resolvedBy}` : ""})` : "", r.details ? h("p", { class: "report-details" }, r.details) : null),
    )),
  );
}

function decisionForm(item, onDone) {
  const open = item.reports.find((r) => r.status === "open");
  if (!open) return h("p", { class: "hint" }, "Resolved.");
  const choices = item.targetType === "file" ? ACTIONS : ACTIONS.filter(([a]) => a !== "age_restrict");
  const action = select("action", choices, "dismiss");
  const note = h("textarea", { name: "note", rows: 2, maxlength: 5000 });
  const ban = h("input", { type: "checkbox", name: "banUser", id: `ban-${open.id}` });
  const canBan = item.target && item.target.owner;
  const form = h(
    "form",
    { class: "decision" },
    field("Action", action),
    field("Note (optional)", note, "Kept in the audit log."),
    canBan ? h("div", { class: "field check-field" }, ban, h("label", { for: ban.id }, "Ban the owner (disable the account)")) : null,
    h("button", { type: "submit", class: "btn btn-primary" }, "Apply decision"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { action: action.value, note: note.value, banUser: ban.checked };
    try {
      await api(`/api/v1/moderation/reports/${encodeURIComponent(open.id)}/resolve`, { method: "POST", body });
      const words = choices.find(([a]) => a === action.value)[1].replace(/ \(.*/, "");
      announce(`${words}: ${item.target ? (item.targetType === "file" ? altOf(item.target) : item.target.title) : item.targetId}${body.banUser ? "; the owner is banned" : ""}`, "success");
      onDone();
    } catch (err) {
      announce(err.message, "error");
    }
  });
  return form;
}

function queueItem(item, onDone) {
  const reasons = Object.entries(item.reasons).map(([r, n]) => `${REASON_WORDS[r] || r} × ${n}`).join(", ");
  const headingId = `target-${item.targetId}`;
  return h(
    "li",
    { class: "card queue-item", "aria-labelledby": headingId, dataset: { targetId: item.targetId } },
    h("div", { class: "queue-thumb thumb" }, targetThumb(item)),
    h(
      "div",
      { class: "queue-body" },
      h("h2", { id: headingId }, targetLink(item)),
      h("p", { class: "tile-meta" }, targetFacts(item)),
      h("p", {}, `${item.reportCount} report${item.reportCount === 1 ? "" : "s"}: ${reasons}. First ${formatDate(item.firstReportedAt)}, last ${formatDate(item.lastReportedAt)}.`),
      reportList(item),
      decisionForm(item, onDone),
    ),
  );
}

/** The queue page. */
export async function renderQueue(root, user) {
  const query = pageQuery();
  const state = { status: ["open", "resolved", "all"].includes(query.status) ? query.status : "open", offset: Math.max(0, Number(query.offset) || 0) };
  let page;
  try {
    page = await api("/api/v1/moderation/queue", { query: { status: state.status, limit: LIMIT, offset: state.offset } });
  } catch (err) {
    if (err.status === 403) return refuse(root, "Moderation");
    throw err;
  }
  const list = h("ul", { class: "queue", "aria-label": "Reported targets" });
  const status = select("status", [["open", "Open"], ["resolved", "Resolved"], ["all", "All"]], state.status);
  const pagerSlot = h("div");
  const reload = async (changes = {}) => {
    Object.assign(state, changes);
    setPageQuery(state);
    try {
      page = await api("/api/v1/moderation/queue", { query: { status: state.status, limit: LIMIT, offset: state.offset } });
      show();
    } catch (err) {
      announce(err.message, "error");
    }
  };
  const show = () => {
    replace(list, page.queue.map((item) => queueItem(item, () => reload())));
    if (page.queue.length === 0) list.append(h("li", { class: "hint" }, state.status === "open" ? "Nothing to review: the queue is empty." : "No reports here."));
    replace(pagerSlot, pager({ offset: state.offset, limit: LIMIT, total: page.total, shown: page.queue.length, label: "Queue pages", onPage: (offset) => reload({ offset }) }));
  };
  status.addEventListener("change", () => reload({ status: status.value, offset: 0 }));
  frame(root, user, "Moderation", h("div", { class: "row filters-inline" }, field("Reports", status)), list, pagerSlot);
  show();
}
