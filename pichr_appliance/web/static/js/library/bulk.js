// Bulk actions on the selected images of "My images": add to an album (existing or
// new), change visibility, delete. Each is a plain series of API calls; what the
// server refuses is reported in its own words, naming the image.

import { api } from "../api.js";
import { altOf } from "../thumbs.js";
import { announce, h, replace } from "../ui.js";
import { VISIBILITIES, confirmDialog, field, formDialog, select } from "./dialog.js";

// Run `call(file)` for each file, one after the other; {done: [answers], failed: [text]}.
async function each(files, call) {
  const done = [];
  const failed = [];
  for (const file of files) {
    try {
      done.push({ file, answer: await call(file) });
    } catch (err) {
      failed.push(`${altOf(file)}: ${err.message}`);
    }
  }
  return { done, failed };
}

function report(verb, done, failed) {
  const n = done.length;
  const what = `${verb} ${n} image${n === 1 ? "" : "s"}`;
  if (failed.length) announce(`${n ? `${what}. ` : ""}Not done for ${failed.join("; ")}`, "error");
  else announce(what, "success");
}

/** Choose an album (or name a new one) and add `files` to it; resolves to the Album or
 * null. New albums are made with POST /albums {title, fileIds}. */
async function addToAlbum(files, albums) {
  const choice = select("album", [["", "A new album"], ...albums.map((a) => [a.id, a.title])], "");
  const title = h("input", { type: "text", name: "title", maxlength: 200, autocomplete: "off" });
  const titleField = field("New album title", title);
  choice.addEventListener("change", () => { titleField.hidden = choice.value !== ""; });
  const fileIds = files.map((f) => f.id);
  return formDialog({
    title: `Add ${files.length} image${files.length === 1 ? "" : "s"} to an album`,
    fields: [field("Album", choice), titleField],
    submitLabel: "Add to album",
    onSubmit: async () => {
      if (choice.value) {
        return api(`/api/v1/albums/${encodeURIComponent(choice.value)}/files`, { method: "POST", body: { fileIds } });
      }
      if (!title.value.trim()) {
        title.focus();
        throw new Error("Give the new album a title");
      }
      const album = await api("/api/v1/albums", { method: "POST", body: { title: title.value.trim(), fileIds } });
      albums.unshift(album);
      return album;
    },
  });
}

/** The bulk action bar. `selection()` answers the selected Files; `onUpdated(files)`
 * and `onDeleted(ids)` let the grid show the outcome; `albums` is the (shared, growing)
 * list of the user's albums. The returned element has `update(count)`. */
export function bulkBar({ selection, onUpdated, onDeleted, onSelectAll, albums }) {
  const count = h("p", { class: "bulk-count", id: "bulk-count" }, "Nothing selected");
  const result = h("p", { class: "bulk-result" });
  const needSelection = () => {
    const files = selection();
    if (files.length === 0) announce("Select one or more images first", "error");
    return files;
  };
  const visibility = select("visibility", VISIBILITIES, "private");
  visibility.id = "bulk-visibility";
  const selectAll = h("input", { type: "checkbox", id: "select-all", onchange: (e) => onSelectAll(e.target.checked) });

  const addButton = h("button", { type: "button", class: "btn", onclick: async () => {
    const files = needSelection();
    if (!files.length) return;
    const album = await addToAlbum(files, albums);
    if (!album) return;
    announce(`Added ${files.length} image${files.length === 1 ? "" : "s"} to ${album.title}`, "success");
    replace(result, "Added to ", h("a", { href: `/albums/${encodeURIComponent(album.id)}` }, album.title), ".");
  } }, "Add to album…");

  const visibilityButton = h("button", { type: "button", class: "btn", onclick: async () => {
    const files = needSelection();
    if (!files.length) return;
    const value = visibility.value;
    const { done, failed } = await each(files, (f) => api(`/api/v1/files/${encodeURIComponent(f.id)}`, { method: "PATCH", body: { visibility: value } }));
    onUpdated(done.map((d) => d.answer));
    report(`Made ${value}:`, done, failed);
  } }, "Change visibility");

  const deleteButton = h("button", { type: "button", class: "btn btn-danger", onclick: async () => {
    const files = needSelection();
    if (!files.length) return;
    const n = files.length;
    const sure = await confirmDialog(
      `Delete ${n} image${n === 1 ? "" : "s"}?`,
      `${files.map(altOf).join(", ")} will be deleted for good, with their links. This cannot be undone.`,
      `Delete ${n} image${n === 1 ? "" : "s"}`,
    );
    if (!sure) return;
    const { done, failed } = await each(files, (f) => api(`/api/v1/files/${encodeURIComponent(f.id)}`, { method: "DELETE" }));
    onDeleted(done.map((d) => d.file.id));
    report("Deleted", done, failed);
  } }, "Delete…");

  const bar = h(
    "section",
    { class: "bulk card", "aria-label": "Selected images" },
    h("div", { class: "row" }, h("span", { class: "check-field" }, selectAll, h("label", { for: "select-all" }, "Select all shown")), count),
    h("div", { class: "row" }, addButton, h("label", { for: "bulk-visibility", class: "inline-label" }, "New visibility"), visibility, visibilityButton, deleteButton),
    result,
  );
  bar.update = (selected, shown) => {
    count.textContent = selected ? `${selected} selected` : "Nothing selected";
    selectAll.checked = shown > 0 && selected === shown;
    selectAll.indeterminate = selected > 0 && selected < shown;
  };
  return bar;
}
