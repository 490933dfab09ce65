// One tile of the "My images" grid and the dialog that edits its file.

import { api } from "../api.js";
import { altOf, thumbLink } from "../thumbs.js";
import { formatDate, h } from "../ui.js";
import { VISIBILITIES, field, formDialog, parseTags, select } from "./dialog.js";

const VISIBILITY_WORDS = { public: "Public", unlisted: "Unlisted", private: "Private" };

/** A grid tile of `file`: a selection checkbox (named after the title), the thumbnail
 * linking to /v/{id}, the title, visibility, views, tags and an Edit button. */
export function tile(file, { selected, onToggle, onEdit }) {
  const title = altOf(file);
  const checkbox = h("input", {
    type: "checkbox",
    class: "tile-checkbox",
    checked: selected,
    "aria-label": `Select ${title}`,
    onchange: (event) => onToggle(file.id, event.target.checked),
  });
  const meta = [VISIBILITY_WORDS[file.visibility] || file.visibility, `${file.viewCount} views`];
  if (file.status !== "ready") meta.push(file.status);
  if (file.expiresAt) meta.push(`expires ${formatDate(file.expiresAt)}`);
  return h(
    "li",
    { class: selected ? "tile selected" : "tile", dataset: { fileId: file.id } },
    h("label", { class: "tile-check" }, checkbox),
    thumbLink(file),
    h(
      "div",
      { class: "tile-body" },
      h("p", { class: "tile-title" }, title),
      h("p", { class: "tile-meta" }, meta.join(" · ")),
      file.tags.length ? h("ul", { class: "tags", "aria-label": "Tags" }, file.tags.map((t) => h("li", {}, t))) : null,
      h("button", { type: "button", class: "btn btn-small", "aria-label": `Edit ${title}`, onclick: () => onEdit(file) }, "Edit"),
    ),
  );
}

/** An ISO time as the value of a datetime-local input (the reader's local time). */
export function localInputValue(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// The PATCH body of the fields that differ from `file`.
function changesOf(file, form) {
  const changes = {};
  const title = form.elements.title.value.trim();
  const description = form.elements.description.value;
  const tags = parseTags(form.elements.tags.value);
  const visibility = form.elements.visibility.value;
  const expiry = form.elements.expiresAt.value;
  if (title !== file.title) changes.title = title;
  if (description !== file.description) changes.description = description;
  if (tags.join("\n") !== file.tags.join("\n")) changes.tags = tags;
  if (visibility !== file.visibility) changes.visibility = visibility;
  if (expiry !== localInputValue(file.expiresAt)) {
    changes.expiresAt = expiry ? new Date(expiry).toISOString() : null;
  }
  return changes;
}

/** Edit `file` in a dialog (title, description, tags, expiry, visibility); resolves to
 * the updated File (PATCH /api/v1/files/{id}), or null when cancelled. */
export function editFile(file) {
  const fields = [
    field("Title", h("input", { type: "text", name: "title", value: file.title, maxlength: 200 })),
    field("Description", h("textarea", { name: "description", rows: 3, maxlength: 5000 }, file.description)),
    field("Tags", h("input", { type: "text", name: "tags", value: file.tags.join(", "), autocomplete: "off" }), "Separated by commas."),
    field("Visibility", select("visibility", VISIBILITIES, file.visibility)),
    field("Expires", h("input", { type: "datetime-local", name: "expiresAt", value: localInputValue(file.expiresAt) }), "Your local time; leave empty to keep the image until you delete it."),
  ];
  return formDialog({
    title: `Edit ${altOf(file)}`,
    fields,
    submitLabel: "Save changes",
    onSubmit: async (form) => {
      const changes = changesOf(file, form);
      if (Object.keys(changes).length === 0) return file;
      return api(`/api/v1/files/${encodeURIComponent(file.id)}`, { method: "PATCH", body: changes });
    },
  });
}
