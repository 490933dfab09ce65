// What the staff pages share: the sub-navigation, the refusal shown when the API
// answers 403 (the server decides who is staff; the page only reflects it), a pager.

import { announce, h, replace, setTitle } from "../ui.js";

const PAGES = [
  ["/staff", "Queue", false],
  ["/staff/audit", "Audit log", false],
  ["/staff/users", "Users", true],
  ["/staff/stats", "Statistics", true],
];

/** The sub-navigation between the staff pages (admin pages only for admins). */
export function staffNav(user) {
  const links = PAGES.filter(([, , admin]) => !admin || user.role === "admin").map(([href, text]) =>
    h("li", {}, h("a", { href, "aria-current": location.pathname.replace(/\/$/, "") === href ? "page" : null }, text)),
  );
  return h("nav", { class: "subnav", "aria-label": "Staff pages" }, h("ul", {}, links));
}

/** Replace the page with the refusal (after a 403 from the API): no data is shown. */
export function refuse(root, title) {
  setTitle(title);
  replace(root, h("h1", {}, title), h("p", { class: "refusal", role: "alert" }, "You do not have access to this page."));
}

/** The page frame: heading, sub-navigation, then `content`. */
export function frame(root, user, title, ...content) {
  setTitle(title);
  replace(root, h("h1", {}, title), staffNav(user), ...content);
}

/** Previous/next buttons for a list at `offset` of `total` with pages of `limit`;
 * `onPage(offset)` loads another page; null when everything fits on one page. */
export function pager({ offset, limit, total, shown, onPage, label }) {
  if (offset === 0 && total <= limit) return null; // one page: nothing to page through
  const first = total === 0 ? 0 : offset + 1;
  const last = offset + shown;
  return h(
    "nav",
    { class: "pager row", "aria-label": label },
    h("button", { type: "button", class: "btn btn-small", disabled: offset === 0, onclick: () => onPage(Math.max(0, offset - limit)) }, "Previous page"),
    h("span", {}, `${first}–${last} of ${total}`),
    h("button", { type: "button", class: "btn btn-small", disabled: last >= total, onclick: () => onPage(offset + limit) }, "Next page"),
  );
}

/** The URL query of this page as an object. */
export function pageQuery() {
  return Object.fromEntries(new URLSearchParams(location.search));
}

/** Write `query` (empty values left out) into the URL without reloading. */
export function setPageQuery(query) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== "" && v !== undefined && v !== null && !(k === "offset" && Number(v) === 0)) params.set(k, v);
  const text = params.toString();
  history.replaceState(null, "", `${location.pathname}${text ? `?${text}` : ""}`);
}

/** A list page's reload: apply `changes` to `state`, mirror it in the address, fetch
 * the page and hand it to `onPage`; a failure is announced and the shown page kept. */
export function reloader(state, fetchPage, onPage) {
  return async (changes) => {
    Object.assign(state, changes);
    setPageQuery(state);
    try {
      onPage(await fetchPage());
    } catch (err) {
      announce(err.message, "error");
    }
  };
}
