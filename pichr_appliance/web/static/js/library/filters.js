// The filters of "My images": read from and written to the page's URL query, so that a
// reload (or a shared link) keeps them, and the form that changes them.

import { h } from "../ui.js";
import { field, select } from "./dialog.js";

/** The sort orders of GET /files ([value, label] pairs); the first is the default. */
export const SORTS = [
  ["-created", "Newest first"],
  ["created", "Oldest first"],
  ["views", "Most viewed"],
];
const KEYS = ["visibility", "albumId", "tag", "q", "sort"];

/** The filters in the current URL: {visibility, albumId, tag, q, sort, limit}. */
export function readFilters() {
  const params = new URLSearchParams(location.search);
  const out = {};
  for (const key of KEYS) out[key] = params.get(key) || "";
  if (!SORTS.some(([value]) => value === out.sort)) out.sort = "-created";
  const limit = Number(params.get("limit"));
  out.limit = Number.isInteger(limit) && limit >= 1 && limit <= 100 ? limit : 30;
  return out;
}

/** Put `filters` into the URL (without reloading; the default sort is left out). */
export function writeFilters(filters) {
  const params = new URLSearchParams();
  for (const key of KEYS) {
    if (filters[key] && !(key === "sort" && filters[key] === "-created")) params.set(key, filters[key]);
  }
  if (filters.limit && filters.limit !== 30) params.set("limit", String(filters.limit));
  const query = params.toString();
  history.replaceState(null, "", `${location.pathname}${query ? `?${query}` : ""}`);
}

/** The query of GET /api/v1/files for `filters` from `offset`. */
export function listQuery(filters, offset) {
  const query = { limit: filters.limit, offset, sort: filters.sort };
  for (const key of ["visibility", "albumId", "tag", "q"]) if (filters[key]) query[key] = filters[key];
  return query;
}

/** The filter form. `albums` fill the album choice; `onChange(filters)` runs when a
 * choice changes or the text fields are submitted. */
export function filterForm(filters, albums, onChange) {
  const visibility = select("visibility", [["", "Any visibility"], ["public", "Public"], ["unlisted", "Unlisted"], ["private", "Private"]], filters.visibility);
  const album = select("albumId", [["", "Any album"], ...albums.map((a) => [a.id, a.title])], filters.albumId);
  const sort = select("sort", SORTS, filters.sort);
  const tag = h("input", { type: "text", name: "tag", value: filters.tag, autocomplete: "off" });
  const q = h("input", { type: "search", name: "q", value: filters.q, autocomplete: "off" });
  const form = h(
    "form",
    { class: "filters card", role: "search", "aria-label": "Filter my images" },
    field("Visibility", visibility),
    field("Album", album),
    field("Tag", tag),
    field("Search", q),
    field("Sort", sort),
    h("div", { class: "row filter-actions" }, h("button", { type: "submit", class: "btn" }, "Apply filters"), h("a", { href: location.pathname, class: "btn btn-link" }, "Clear filters")),
  );
  const current = () => ({
    ...filters,
    visibility: visibility.value,
    albumId: album.value,
    tag: tag.value.trim(),
    q: q.value.trim(),
    sort: sort.value,
  });
  for (const control of [visibility, album, sort]) control.addEventListener("change", () => onChange(current()));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    onChange(current());
  });
  return form;
}
