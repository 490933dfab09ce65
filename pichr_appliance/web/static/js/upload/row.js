// One file's row on the upload page: name, size, progress, status in words, the Cancel
// and Resume buttons, and, once the file is stored, its links with copy buttons.

import { config, copyField, formatBytes, h, replace } from "../ui.js";

/** The share snippets of a stored file: direct link, page, Markdown, BBCode, HTML. */
export function snippets(file) {
  const base = (config().publicUrl || location.origin).replace(/\/$/, "");
  const page = `${base}/v/${file.id}`;
  const title = file.title || file.filename || "";
  const md = title.replace(/[[\]\\]/g, "\\$&");
  const attr = title.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
  return [
    ["Direct link", file.url],
    ["Page", page],
    ["Markdown", `[![${md}](${file.url})](${page})`],
    ["BBCode", `[url=${page}][img]${file.url}[/img][/url]`],
    ["HTML", `<a href="${page}"><img src="${file.url}" alt="${attr}"></a>`],
  ];
}

/** The row of one file; `onCancel` and `onResume` are called by its buttons. */
export class FileRow {
  constructor(file, { onCancel, onResume }) {
    this.file = file;
    this.lastShown = -1;
    const label = `Upload progress of ${file.name}`;
    this.bar = h("progress", { max: 100, value: 0, "aria-label": label });
    this.percent = h("span", { class: "upload-percent", "aria-hidden": "true" }, "0%");
    this.statusText = h("p", { class: "upload-status" }, "Waiting…");
    this.cancel = h(
      "button",
      { type: "button", class: "btn btn-small", "aria-label": `Cancel ${file.name}`, onclick: onCancel },
      "Cancel",
    );
    this.resume = h(
      "button",
      { type: "button", class: "btn btn-small btn-primary", hidden: true, onclick: onResume },
      "Resume",
    );
    this.result = h("div", { class: "upload-result" });
    this.el = h(
      "li",
      { class: "upload-row card", dataset: { state: "queued" } },
      h(
        "div",
        { class: "upload-head" },
        h("span", { class: "upload-name" }, file.name),
        h("span", { class: "hint" }, formatBytes(file.size)),
      ),
      h("div", { class: "upload-bar" }, this.bar, this.percent),
      this.statusText,
      h("div", { class: "row" }, this.resume, this.cancel),
      this.result,
    );
  }

  /** Show `loaded` of `total` bytes sent. */
  progress(loaded, total) {
    const value = total ? Math.min(100, Math.floor((loaded / total) * 100)) : 0;
    if (value === this.lastShown) return;
    this.lastShown = value;
    this.bar.value = value;
    this.percent.textContent = `${value}%`;
  }

  /** Set the state (queued, uploading, paused, done, failed, cancelled) and its words. */
  state(state, text) {
    this.el.dataset.state = state;
    this.statusText.textContent = text;
    const open = state === "queued" || state === "uploading" || state === "paused";
    this.cancel.hidden = !open;
    this.resume.hidden = state !== "paused";
  }

  /** Offer the Resume (or Retry) button with `text` explaining why. */
  paused(text, label = "Resume") {
    this.resume.textContent = label;
    this.state("paused", text);
    this.resume.setAttribute("aria-label", `${label} ${this.file.name}`);
  }

  /** The file is stored: show its links with copy buttons and a preview from the local
   * file (an object URL, so that a private image needs no token to show). */
  done(stored) {
    this.progress(1, 1);
    this.state("done", stored.duplicateOf ? "Uploaded (you already had this image)" : "Uploaded");
    const preview = h("img", {
      src: URL.createObjectURL(this.file),
      alt: stored.title || stored.filename || "",
      class: "upload-preview",
      width: 96,
      height: 96,
    });
    replace(
      this.result,
      h(
        "div",
        { class: "upload-done" },
        preview,
        h(
          "div",
          { class: "upload-links" },
          snippets(stored).map(([label, value]) => copyField(label, value)),
          h("a", { href: `/v/${stored.id}` }, "Open the image page"),
        ),
      ),
    );
  }
}
