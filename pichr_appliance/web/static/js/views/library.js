// "My images" (/my): the signed-in user's files as a grid of thumbnails, with filters
// and sort kept in the URL, pages loaded by infinite scroll (and a "Load more" button
// for keyboards), selection with bulk actions, and an edit dialog per image.

import { api } from "../api.js";
import { requireSignIn } from "../app.js";
import { bulkBar } from "../library/bulk.js";
import { filterForm, listQuery, readFilters, writeFilters } from "../library/filters.js";
import { editFile, tile } from "../library/tiles.js";
import { announce, h, replace, setTitle } from "../ui.js";

/** Every album of the signed-in user (for the filter and "add to album"). */
export async function allAlbums() {
  const albums = [];
  for (let offset = 0; offset < 1000; offset += 100) {
    const page = await api("/api/v1/albums", { query: { limit: 100, offset } });
    albums.push(...page.albums);
    if (albums.length >= page.total || page.albums.length === 0) break;
  }
  return albums;
}

/** Render the view into `root`. */
export async function render(root, ctx) {
  if (!ctx.user) {
    requireSignIn();
    return;
  }
  setTitle("My images");
  let albums = [];
  try {
    albums = await allAlbums();
  } catch (err) {
    announce(err.message, "error");
  }
  new Library(root, albums).start();
}

class Library {
  constructor(root, albums) {
    this.root = root;
    this.albums = albums;
    this.filters = readFilters();
    this.files = new Map(); // id -> File, in the order shown
    this.selected = new Set();
    this.total = 0;
    this.generation = 0;
    this.loading = false;
  }

  start() {
    this.grid = h("ul", { class: "grid library-grid", "aria-label": "My images", "aria-busy": "false" });
    this.summary = h("p", { class: "hint", id: "library-summary" });
    this.more = h("button", { type: "button", class: "btn", hidden: true, onclick: () => this.loadMore() }, "Load more");
    this.sentinel = h("div", { class: "sentinel", "aria-hidden": "true" });
    this.bar = bulkBar({
      selection: () => [...this.selected].map((id) => this.files.get(id)).filter(Boolean),
      onUpdated: (files) => files.forEach((f) => this.replaceTile(f)),
      onDeleted: (ids) => this.removeTiles(ids),
      onSelectAll: (on) => this.selectAll(on),
      albums: this.albums,
    });
    replace(
      this.root,
      h("div", { class: "page-head row" }, h("h1", {}, "My images"), h("a", { class: "btn btn-primary", href: "/upload" }, "Upload")),
      filterForm(this.filters, this.albums, (filters) => this.applyFilters(filters)),
      this.bar,
      this.summary,
      this.grid,
      this.sentinel,
      h("div", { class: "row load-more" }, this.more),
    );
    if ("IntersectionObserver" in window) {
      this.observer = new IntersectionObserver((entries) => {
        if (entries.some((e) => e.isIntersecting) && !this.more.hidden) this.loadMore();
      }, { rootMargin: "400px" });
    }
    this.reload();
  }

  applyFilters(filters) {
    this.filters = filters;
    writeFilters(filters);
    this.reload();
  }

  reload() {
    this.generation += 1;
    this.files.clear();
    this.selected.clear();
    this.total = 0;
    replace(this.grid);
    this.loadMore();
  }

  async loadMore() {
    if (this.loading && this.pendingGeneration === this.generation) return;
    const generation = this.generation;
    this.loading = true;
    this.pendingGeneration = generation;
    this.grid.setAttribute("aria-busy", "true");
    try {
      const page = await api("/api/v1/files", { query: listQuery(this.filters, this.files.size) });
      if (generation !== this.generation) return;
      this.total = page.total;
      for (const file of page.files) {
        if (this.files.has(file.id)) continue;
        this.files.set(file.id, file);
        this.grid.append(this.tileOf(file));
      }
      if (page.files.length === 0) this.total = this.files.size;
    } catch (err) {
      if (generation === this.generation) announce(err.message, "error");
    } finally {
      if (generation === this.generation) {
        this.loading = false;
        this.grid.setAttribute("aria-busy", "false");
        this.refreshState();
      }
    }
  }

  tileOf(file) {
    return tile(file, {
      selected: this.selected.has(file.id),
      onToggle: (id, on) => this.toggle(id, on),
      onEdit: (f) => this.edit(f),
    });
  }

  async edit(file) {
    const current = this.files.get(file.id) || file;
    const updated = await editFile(current);
    if (!updated || updated === current) return;
    this.replaceTile(updated);
    announce(`Saved ${updated.title || "the image"}`, "success");
    const node = this.grid.querySelector(`[data-file-id="${CSS.escape(updated.id)}"] .tile-body button`);
    if (node) node.focus();
  }

  replaceTile(file) {
    if (!this.files.has(file.id)) return;
    this.files.set(file.id, file);
    const old = this.grid.querySelector(`li[data-file-id="${CSS.escape(file.id)}"]`);
    if (old) old.replaceWith(this.tileOf(file));
  }

  removeTiles(ids) {
    for (const id of ids) {
      this.files.delete(id);
      this.selected.delete(id);
      const node = this.grid.querySelector(`li[data-file-id="${CSS.escape(id)}"]`);
      if (node) node.remove();
    }
    this.total = Math.max(this.files.size, this.total - ids.length);
    this.refreshState();
  }

  toggle(id, on) {
    if (on) this.selected.add(id);
    else this.selected.delete(id);
    const node = this.grid.querySelector(`li[data-file-id="${CSS.escape(id)}"]`);
    if (node) node.classList.toggle("selected", on);
    this.bar.update(this.selected.size, this.files.size);
  }

  selectAll(on) {
    for (const node of this.grid.querySelectorAll("li[data-file-id]")) {
      const id = node.dataset.fileId;
      const box = node.querySelector(".tile-checkbox");
      if (box) box.checked = on;
      this.toggle(id, on);
    }
    announce(on ? `Selected ${this.selected.size} images` : "Selection cleared");
  }

  refreshState() {
    const shown = this.files.size;
    const filtered = ["visibility", "albumId", "tag", "q"].some((k) => this.filters[k]);
    if (shown === 0) {
      replace(this.summary, filtered ? "No images match these filters." : "No images yet. ", filtered ? null : h("a", { href: "/upload" }, "Upload some"));
    } else {
      this.summary.textContent = `Showing ${shown} of ${this.total} image${this.total === 1 ? "" : "s"}`;
    }
    this.more.hidden = shown >= this.total;
    this.bar.update(this.selected.size, shown);
    if (this.observer) {
      // Observe again: a sentinel still in view after a page was added fires no new entry.
      this.observer.unobserve(this.sentinel);
      if (!this.more.hidden) this.observer.observe(this.sentinel);
    }
  }
}
