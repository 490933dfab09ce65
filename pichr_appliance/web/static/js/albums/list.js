// The signed-in user's albums (/albums) with their covers, and a form to create one.

import { api } from "../api.js";
import { VISIBILITIES, field, select } from "../library/dialog.js";
import { thumbnailById } from "../thumbs.js";
import { announce, h, replace, setTitle } from "../ui.js";

const WORDS = { public: "Public", unlisted: "Unlisted", private: "Private" };

function card(album) {
  const href = `/albums/${encodeURIComponent(album.id)}`;
  const cover = album.coverFileId
    ? thumbnailById(album.coverFileId, "")
    : h("span", { class: "thumb-img thumb-missing" }, "No cover");
  const n = album.fileCount;
  return h(
    "li",
    { class: "album-card", dataset: { albumId: album.id } },
    h("a", { class: "thumb", href, tabindex: "-1", "aria-hidden": "true" }, cover),
    h("p", { class: "tile-title" }, h("a", { href }, album.title)),
    h("p", { class: "tile-meta" }, `${n} image${n === 1 ? "" : "s"} · ${WORDS[album.visibility] || album.visibility}`),
  );
}

function createForm(onCreated) {
  const title = h("input", { type: "text", name: "title", required: true, maxlength: 200, autocomplete: "off" });
  const description = h("textarea", { name: "description", rows: 2, maxlength: 5000 });
  const visibility = select("visibility", VISIBILITIES, "public");
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "album-create" },
    h("h2", { id: "album-create" }, "New album"),
    field("Title", title),
    field("Description", description),
    field("Visibility", visibility),
    h("button", { type: "submit", class: "btn btn-primary" }, "Create album"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const album = await api("/api/v1/albums", {
        method: "POST",
        body: { title: title.value.trim(), description: description.value, visibility: visibility.value },
      });
      form.reset();
      onCreated(album);
      announce(`Album ${album.title} created`, "success");
    } catch (err) {
      announce(err.message, "error");
    }
  });
  return form;
}

/** Render the list of albums into `root`. */
export async function renderList(root) {
  setTitle("Albums");
  const grid = h("ul", { class: "grid album-grid", "aria-label": "My albums" });
  const summary = h("p", { class: "hint" });
  const more = h("button", { type: "button", class: "btn", hidden: true }, "Load more");
  let shown = 0;
  let total = 0;
  const update = () => {
    summary.textContent = shown ? `${shown} of ${total} album${total === 1 ? "" : "s"}` : "No albums yet: create one here, or select images in My images and add them to a new album.";
    more.hidden = shown >= total;
  };
  const load = async () => {
    try {
      const page = await api("/api/v1/albums", { query: { limit: 50, offset: shown } });
      total = page.total;
      grid.append(...page.albums.map(card));
      shown += page.albums.length;
      if (page.albums.length === 0) total = shown;
    } catch (err) {
      announce(err.message, "error");
    }
    update();
  };
  more.addEventListener("click", load);
  const created = (album) => {
    grid.prepend(card(album));
    shown += 1;
    total += 1;
    update();
  };
  replace(root, h("h1", {}, "Albums"), createForm(created), h("h2", {}, "My albums"), summary, grid, h("div", { class: "row load-more" }, more));
  await load();
}
