// What the server could not render: a private (or age-restricted) image or album for a
// signed-in viewer the API shows it to (its owner, staff, an adult who confirmed their
// age). The server's 404/403 page stays when the API refuses too. An <img> cannot send
// the access token, so the pictures are fetched with api() and shown as object URLs.

import { api } from "../api.js";
import { announce, copyField, formatBytes, formatDate, h, replace, setTitle } from "../ui.js";

const PAGE_WIDTH = 1280;
const THUMB_WIDTH = 256;

/** Render the file or album `id` (`kind` "file" or "album") into `root` when the API
 * lets the signed-in user see it; otherwise leave the error page as it is. */
export async function showPrivate(root, kind, id, ctx) {
  try {
    if (kind === "album") await showAlbum(root, id, ctx);
    else await showFile(root, id, ctx);
  } catch (err) {
    if (err.status === 404 || err.status === 410) return; // not theirs either: the 404 stays
    announce(err.message, "error"); // e.g. 403: confirm your age to see this image
  }
}

function labelOf(file) {
  return file.title || file.filename || "Untitled image";
}

function scaled(file, width) {
  if (!file.width || !file.height) return {};
  if (width >= file.width) return { width: file.width, height: file.height };
  return { width, height: Math.max(1, Math.round((file.height * width) / file.width)) };
}

async function picture(file, width) {
  const blob = await api(`/i/${encodeURIComponent(file.id)}`, { query: { w: width } });
  return URL.createObjectURL(blob);
}

function notice(thing, what) {
  if (thing.visibility === "private") {
    const text = `This ${what} is private: only its owner and the moderators can see this page.`;
    return h("p", { class: "private-notice" }, text);
  }
  if (thing.ageRestricted) {
    return h("p", { class: "private-notice" }, `This ${what} is age-restricted.`);
  }
  return null;
}

function tagList(tags) {
  if (!tags || !tags.length) return null;
  const items = tags.map((t) => h("li", {}, h("span", { class: "tag" }, `#${t}`)));
  return h("ul", { class: "tags", "aria-label": "Tags" }, items);
}

function fact(term, value, wide = false) {
  return h("div", { class: wide ? "wide" : null }, h("dt", {}, term), h("dd", {}, value));
}

function codes(file, label) {
  const page = `${location.origin}/v/${file.id}`;
  const md = label.replace(/[\\[\]]/g, (c) => `\\${c}`).replace(/\n/g, " ");
  const img = h("img", { src: file.url, alt: label });
  const link = h("a", { href: page }, img);
  return [
    ["Direct link", file.url],
    ["Markdown", `[![${md}](${file.url})](${page})`],
    ["BBCode", `[url=${page}][img]${file.url}[/img][/url]`],
    ["HTML", link.outerHTML], // serialized by the DOM: the title is escaped as text
  ];
}

async function download(file) {
  const blob = await api(`/i/${encodeURIComponent(file.id)}`, { query: { download: 1 } });
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: file.filename || file.id });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

async function showFile(root, id, ctx) {
  const file = await api(`/api/v1/files/${encodeURIComponent(id)}`);
  const src = await picture(file, PAGE_WIDTH); // refused (403 age) before any metadata shows
  const label = labelOf(file);
  const owner = file.ownerId === ctx.user.id ? ctx.user.username : null;
  const button = h("button", {
    type: "button",
    class: "btn btn-primary",
    onclick: () => download(file).catch((err) => announce(err.message, "error")),
  }, "Download");
  const page = h(
    "article",
    { class: "image-page" },
    h(
      "figure",
      { class: "image-figure" },
      h("img", { src, alt: label, ...scaled(file, PAGE_WIDTH) }),
    ),
    h(
      "div",
      { class: "image-info" },
      h("h1", {}, label),
      notice(file, "image"),
      file.description ? h("p", { class: "description" }, file.description) : null,
      tagList(file.tags),
      h(
        "dl",
        { class: "facts" },
        owner ? fact("Uploaded by", owner) : null,
        fact("Uploaded", formatDate(file.createdAt)),
        fact("Views", file.viewCount.toLocaleString()),
        fact("Downloads", file.downloadCount.toLocaleString()),
        file.width
          ? fact("Size", `${file.width} × ${file.height} pixels, ${formatBytes(file.bytes)}`, true)
          : null,
      ),
      h("div", { class: "row actions" }, button),
      h(
        "section",
        { class: "share", "aria-label": "Share" },
        h("h2", {}, "Share"),
        codes(file, label).map(([name, code]) => copyField(name, code)),
      ),
    ),
  );
  replace(root, page);
  setTitle(label);
}

async function showAlbum(root, id) {
  const album = await api(`/api/v1/albums/${encodeURIComponent(id)}`, { query: { limit: 100 } });
  const tiles = album.files.map((file) => {
    const img = h("img", { alt: labelOf(file), ...scaled(file, THUMB_WIDTH) });
    return {
      file,
      img,
      item: h(
        "li",
        {},
        h(
          "a",
          { class: "tile", href: `/v/${file.id}` },
          h("span", { class: "thumb" }, img),
          h("span", { class: "tile-caption", "aria-hidden": "true" }, labelOf(file)),
        ),
      ),
    };
  });
  const count = album.total === 1 ? "1 image" : `${album.total} images`;
  replace(
    root,
    h(
      "article",
      { class: "album-page" },
      h(
        "header",
        { class: "page-head" },
        h("h1", {}, album.title),
        h("p", { class: "byline" }, count),
        notice(album, "album"),
        album.description ? h("p", { class: "description" }, album.description) : null,
        tagList(album.tags),
      ),
      tiles.length
        ? h(
            "ul",
            { class: "grid public-grid", "aria-label": `Images in ${album.title}` },
            tiles.map((t) => t.item),
          )
        : h("p", { class: "empty" }, "This album has no images yet."),
      album.total > album.files.length
        ? h("p", {}, h("a", { href: `/albums/${album.id}` }, `See all ${count} in Albums`))
        : null,
    ),
  );
  setTitle(album.title);
  for (const tile of tiles) {
    // One at a time: the thumbnails of a big album do not flood the server.
    tile.img.src = await picture(tile.file, THUMB_WIDTH).catch(() => "");
  }
}
