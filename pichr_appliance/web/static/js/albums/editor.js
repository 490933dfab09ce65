// One album of the signed-in user (/albums/{id}): details, share link, the files in
// album order (reorder, cover, remove) and deleting the album (the files stay).

import { api } from "../api.js";
import { VISIBILITIES, confirmDialog, field, parseTags, select } from "../library/dialog.js";
import { altOf } from "../thumbs.js";
import { announce, copyField, h, replace, setTitle } from "../ui.js";
import { orderList } from "./order.js";

const path = (id, rest = "") => `/api/v1/albums/${encodeURIComponent(id)}${rest}`;

/** The album `id` with every one of its files (paged through GET /albums/{id}). */
async function loadAlbum(id) {
  let album = null;
  const files = [];
  for (let offset = 0; offset < 1000; offset += 100) {
    const page = await api(path(id), { query: { limit: 100, offset } });
    album = album || page;
    files.push(...page.files);
    if (files.length >= page.total || page.files.length === 0) break;
  }
  return { album, files };
}

/** Render the editor of album `id` into `root` for `user`. */
export async function renderEditor(root, user, id) {
  let loaded;
  try {
    loaded = await loadAlbum(id);
  } catch (err) {
    replace(root, h("h1", {}, "Album"), h("p", { role: "alert" }, err.message), h("p", {}, h("a", { href: "/albums" }, "Back to my albums")));
    return;
  }
  const { album, files } = loaded;
  if (album.ownerId !== user.id) {
    replace(root, h("h1", {}, album.title), h("p", {}, "This album belongs to someone else; only its owner can change it."), h("p", {}, h("a", { href: album.url }, "Open the album page")));
    return;
  }
  new AlbumEditor(root, album, files).render();
}

class AlbumEditor {
  constructor(root, album, files) {
    this.root = root;
    this.album = album;
    this.files = files;
    this.saving = null; // the save of the order in flight
    this.dirty = null; // an order waiting for it
  }

  render() {
    setTitle(this.album.title);
    this.heading = h("h1", {}, this.album.title);
    const { list, hint } = orderList(this.files, {
      coverId: this.album.coverFileId,
      onOrder: (ids) => this.saveOrder(ids),
      onCover: (file) => this.setCover(file),
      onRemove: (file) => this.removeFile(file),
    });
    this.list = list;
    this.count = h("h2", { id: "album-files" }, this.countText());
    this.orderState = h("p", { class: "hint order-state" });
    const empty = h("p", { hidden: this.files.length > 0 }, "No images in this album yet. Add some from ", h("a", { href: "/my" }, "My images"), ".");
    this.empty = empty;
    replace(
      this.root,
      h("p", {}, h("a", { href: "/albums" }, "← My albums")),
      this.heading,
      this.detailsForm(),
      this.shareSection(),
      h("section", { class: "card", "aria-labelledby": "album-files" }, this.count, this.files.length ? hint : null, empty, list, this.orderState),
      h("section", { class: "card danger-zone", "aria-labelledby": "album-delete" }, h("h2", { id: "album-delete" }, "Delete this album"), h("p", { class: "hint" }, "The images stay in My images; only the album and its link go."), h("button", { type: "button", class: "btn btn-danger", onclick: () => this.deleteAlbum() }, "Delete album…")),
    );
  }

  countText() {
    const n = this.list ? this.list.children.length : this.files.length;
    return `Images (${n})`;
  }

  detailsForm() {
    const a = this.album;
    const title = h("input", { type: "text", name: "title", value: a.title, required: true, maxlength: 200 });
    const description = h("textarea", { name: "description", rows: 3, maxlength: 5000 }, a.description);
    const tags = h("input", { type: "text", name: "tags", value: a.tags.join(", "), autocomplete: "off" });
    const visibility = select("visibility", VISIBILITIES, a.visibility);
    const form = h(
      "form",
      { class: "card", "aria-labelledby": "album-details" },
      h("h2", { id: "album-details" }, "Details"),
      field("Title", title),
      field("Description", description),
      field("Tags", tags, "Separated by commas."),
      field("Visibility", visibility, "Public albums are listed on the album page for anyone; private images in an album are shown only to you."),
      h("button", { type: "submit", class: "btn btn-primary" }, "Save details"),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = { title: title.value.trim(), description: description.value, tags: parseTags(tags.value), visibility: visibility.value };
      try {
        this.album = await api(path(a.id), { method: "PATCH", body });
        this.heading.textContent = this.album.title;
        setTitle(this.album.title);
        announce("Album saved", "success");
      } catch (err) {
        announce(err.message, "error");
      }
    });
    return form;
  }

  shareSection() {
    return h(
      "section",
      { class: "card", "aria-labelledby": "album-share" },
      h("h2", { id: "album-share" }, "Share"),
      copyField("Share link", this.album.url),
      h("p", {}, h("a", { href: this.album.url, class: "share-open" }, "Open the album page")),
      h("p", { class: "hint" }, this.album.visibility === "private" ? "This album is private: only you can open the link." : "Anyone with the link can open the album."),
    );
  }

  /** Save `ids` as the album's order; one PUT at a time, the latest order last. */
  async saveOrder(ids) {
    this.dirty = ids;
    if (this.saving) return;
    this.orderState.textContent = "Saving the order…";
    while (this.dirty) {
      const order = this.dirty;
      this.dirty = null;
      this.saving = api(path(this.album.id, "/order"), { method: "PUT", body: { fileIds: order } });
      try {
        await this.saving;
        // Shown, not announced: the move itself was just announced, and saying
        // "saved" after every arrow key would cut those announcements short.
        if (!this.dirty) this.orderState.textContent = "Order saved.";
      } catch (err) {
        this.orderState.textContent = "";
        announce(`The order was not saved: ${err.message}`, "error");
      } finally {
        this.saving = null;
      }
    }
  }

  async setCover(file) {
    try {
      this.album = await api(path(this.album.id), { method: "PATCH", body: { coverFileId: file.id } });
      this.list.setCover(this.album.coverFileId);
      announce(`${altOf(file)} is now the cover`, "success");
    } catch (err) {
      announce(err.message, "error");
    }
  }

  async removeFile(file) {
    try {
      await api(path(this.album.id, `/files/${encodeURIComponent(file.id)}`), { method: "DELETE" });
      if (this.album.coverFileId === file.id) this.album.coverFileId = null;
      this.list.removeItem(file.id);
      this.count.textContent = this.countText();
      this.empty.hidden = this.list.children.length > 0;
      announce(`Removed ${altOf(file)} from the album; the image stays in My images`, "success");
    } catch (err) {
      announce(err.message, "error");
    }
  }

  async deleteAlbum() {
    const sure = await confirmDialog(`Delete the album ${this.album.title}?`, "The album and its link go; its images stay in My images.", "Delete album");
    if (!sure) return;
    try {
      await api(path(this.album.id), { method: "DELETE" });
      announce("Album deleted", "success");
      location.assign("/albums");
    } catch (err) {
      announce(err.message, "error");
    }
  }
}
