// The upload view (/upload): options, a drop zone (drag and drop, paste, file picker),
// one row per file with its progress, and the links of each stored file. Small files
// go through presign + PUT (upload/direct.js), larger ones through the multipart API
// with resume (upload/multipart.js); the server decides what it accepts, and a refused
// file shows its reason in words.

import { api } from "../api.js";
import { requireSignIn } from "../app.js";
import { announce, config, formatBytes, h, replace, setTitle } from "../ui.js";
import { fileJob } from "../upload/job.js";
import { discard, unfinished } from "../upload/multipart.js";

// expiresIn is in hours (API.md, presign).
const EXPIRY = [
  ["", "Never"],
  ["1", "After 1 hour"],
  ["24", "After 1 day"],
  ["168", "After 7 days"],
  ["720", "After 30 days"],
];
const VISIBILITY = [
  ["public", "Public: listed and linkable"],
  ["unlisted", "Unlisted: only people with the link"],
  ["private", "Private: only you"],
];
const PARALLEL = 2;

function field(id, label, control, hint) {
  const hintId = hint ? `${id}-hint` : null;
  if (hintId) control.setAttribute("aria-describedby", hintId);
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hint && h("p", { class: "hint", id: hintId }, hint));
}

function select(id, choices) {
  return h("select", { id }, choices.map(([value, text]) => h("option", { value }, text)));
}

function optionsForm() {
  const visibility = select("up-visibility", VISIBILITY);
  const title = h("input", { id: "up-title", type: "text", maxlength: 200, autocomplete: "off" });
  const tags = h("input", { id: "up-tags", type: "text", autocomplete: "off" });
  const expiry = select("up-expiry", EXPIRY);
  const album = select("up-album", [["", "No album"]]);
  const form = h(
    "form",
    { class: "card upload-options", onsubmit: (e) => e.preventDefault() },
    h("h2", {}, "Settings for the next files"),
    h(
      "div",
      { class: "upload-options-grid" },
      field("up-visibility", "Visibility", visibility),
      field("up-title", "Title", title, "Empty: each file's name without its extension."),
      field("up-tags", "Tags", tags, "Separated by commas."),
      field("up-expiry", "Delete automatically", expiry),
      field("up-album", "Add to album", album),
    ),
  );
  api("/api/v1/albums", { query: { limit: 100 } })
    .then((answer) => album.append(...answer.albums.map((a) => h("option", { value: a.id }, a.title))))
    .catch(() => null);
  form.read = () => {
    const list = tags.value.split(",").map((t) => t.trim()).filter(Boolean);
    return {
      visibility: visibility.value,
      title: title.value.trim() || undefined,
      tags: list.length ? list : undefined,
      expiresIn: expiry.value ? Number(expiry.value) : undefined,
      albumId: album.value || undefined,
    };
  };
  return form;
}

function createQueue(limit) {
  const waiting = [];
  let active = 0;
  const pump = () => {
    while (active < limit && waiting.length) {
      const job = waiting.shift();
      active += 1;
      job().finally(() => {
        active -= 1;
        pump();
      });
    }
  };
  return (job) => {
    waiting.push(job);
    pump();
  };
}

function unfinishedSection(user) {
  const records = unfinished(user.id);
  const list = h("ul", { class: "upload-unfinished" });
  const section = h(
    "section",
    { class: "card", "aria-labelledby": "unfinished-title", hidden: records.length === 0 },
    h("h2", { id: "unfinished-title" }, "Unfinished uploads"),
    h("p", { class: "hint" }, "Choose or drop the same file again to go on where it stopped."),
    list,
  );
  const items = new Map();
  for (const record of records) {
    const done = Object.keys(record.parts || {}).length;
    const item = h(
      "li",
      {},
      h("span", { class: "upload-name" }, record.name),
      ` ${formatBytes(record.size)}, ${done} of ${record.partCount} parts sent `,
      h(
        "button",
        {
          type: "button",
          class: "btn btn-small",
          "aria-label": `Discard ${record.name}`,
          onclick: async () => {
            await discard(record);
            announce(`Discarded the unfinished upload of ${record.name}`);
            gone(record.key);
          },
        },
        "Discard",
      ),
    );
    items.set(record.key, { item, record });
    list.append(item);
  }
  const gone = (key) => {
    const entry = items.get(key);
    if (!entry) return;
    entry.item.remove();
    items.delete(key);
    if (items.size === 0) section.hidden = true;
  };
  section.resumed = (file) => {
    for (const { record } of items.values()) {
      if (record.name === file.name && record.size === file.size && record.lastModified === file.lastModified) {
        gone(record.key);
      }
    }
  };
  return section;
}

function dropZone(onFiles) {
  const input = h("input", {
    type: "file",
    multiple: true,
    accept: "image/*",
    hidden: true,
    "aria-label": "Images to upload",
    onchange: () => {
      onFiles([...input.files]);
      input.value = "";
    },
  });
  const choose = h("button", { type: "button", class: "btn btn-primary", onclick: () => input.click() }, "Choose files");
  let depth = 0;
  const over = (on) => zone.classList.toggle("dragging", on);
  const zone = h(
    "div",
    {
      class: "drop-zone",
      tabindex: 0,
      role: "group",
      "aria-label": "Drop zone",
      "aria-describedby": "drop-hint",
      onkeydown: (e) => {
        if (e.target === zone && (e.key === "Enter" || e.key === " ")) {
          e.preventDefault();
          input.click();
        }
      },
      ondragenter: (e) => {
        e.preventDefault();
        depth += 1;
        over(true);
      },
      ondragover: (e) => {
        e.preventDefault();
        if (e.dataTransfer) e.dataTransfer.dropEffect = "copy";
      },
      ondragleave: () => {
        depth = Math.max(0, depth - 1);
        if (depth === 0) over(false);
      },
      ondrop: (e) => {
        e.preventDefault();
        depth = 0;
        over(false);
        onFiles([...((e.dataTransfer && e.dataTransfer.files) || [])]);
      },
    },
    h("p", { id: "drop-hint" }, "Drag and drop images here, paste them from the clipboard (Ctrl+V), or"),
    choose,
    input,
  );
  return zone;
}

/** Render the view into `root`. */
export async function render(root, ctx) {
  if (!ctx.user) {
    requireSignIn();
    return;
  }
  setTitle("Upload");
  const cfg = config();
  const threshold = cfg.multipartThreshold || 50 * 1024 * 1024;
  const partSize = cfg.partSize || 8 * 1024 * 1024;
  const options = optionsForm();
  const rows = h("ul", { class: "upload-list", "aria-label": "Uploads" });
  const pending = unfinishedSection(ctx.user);
  const enqueue = createQueue(PARALLEL);

  const addFiles = (files) => {
    if (!files.length) return;
    const fields = options.read();
    for (const file of files) {
      const job = fileJob(file, fields, { userId: ctx.user.id, threshold, partSize });
      if (job.big) pending.resumed(file);
      rows.prepend(job.row.el);
      enqueue(job.attempt);
    }
    announce(files.length === 1 ? `Uploading ${files[0].name}` : `Uploading ${files.length} files`);
  };

  document.addEventListener("paste", (e) => {
    const files = [...((e.clipboardData && e.clipboardData.files) || [])];
    if (!files.length) return;
    e.preventDefault();
    addFiles(files);
  });
  // A file dropped beside the zone is uploaded too, instead of the browser opening it.
  document.addEventListener("dragover", (e) => e.preventDefault());
  document.addEventListener("drop", (e) => {
    if (e.defaultPrevented) return;
    e.preventDefault();
    addFiles([...((e.dataTransfer && e.dataTransfer.files) || [])]);
  });

  replace(
    root,
    h("h1", {}, "Upload"),
    pending,
    options,
    dropZone(addFiles),
    h("h2", { class: "visually-hidden" }, "Uploads"),
    rows,
  );
}
