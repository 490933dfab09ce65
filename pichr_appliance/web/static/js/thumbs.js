// Thumbnails of files, for every grid of the signed-in views (my images, albums, staff).
//
// Public and unlisted files are plain <img> elements with a srcset of the server's
// variants (cached by the browser for a year). Private and age-restricted files need
// the access token, which an <img> cannot send: those are fetched with api() when they
// come near the viewport, shown through an object URL (the CSP allows blob:), and the
// object URL is revoked when the image leaves the document.

import { api } from "./api.js";
import { config, h } from "./ui.js";

const SIZES = "(max-width: 600px) 50vw, 200px";
const objectUrls = new Map(); // <img> -> blob: URL it shows
let lazyObserver = null;
let removalObserver = null;
let blank = null; // a transparent 1x1 GIF shown (over the placeholder) until the bytes come

// An <img> without src shows a broken-image icon; data: URLs are not allowed by the
// CSP, so the stand-in is an object URL too (one for every thumbnail, never revoked).
function blankUrl() {
  if (!blank) {
    const gif = atob("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==");
    blank = URL.createObjectURL(new Blob([Uint8Array.from(gif, (c) => c.charCodeAt(0))], { type: "image/gif" }));
  }
  return blank;
}

/** The variant width of config().imageWidths nearest to `target` (ties go to the
 * larger one); null when the server names no widths (then the original is served). */
export function nearestWidth(target) {
  const widths = config().imageWidths || [];
  let best = null;
  for (const w of widths) {
    if (best === null || Math.abs(w - target) < Math.abs(best - target)
      || (Math.abs(w - target) === Math.abs(best - target) && w > best)) best = w;
  }
  return best;
}

/** The alt text of a file: its title, or "Untitled image". */
export function altOf(file) {
  return (file && file.title && file.title.trim()) || "Untitled image";
}

function variantUrl(id, width) {
  const base = `/i/${encodeURIComponent(id)}`;
  return width ? `${base}?w=${width}` : base;
}

// Whether the bytes may be fetched by an <img> without credentials (the server's own
// rule for shared caching: public or unlisted, and not age-restricted).
function openToImg(file) {
  return (file.visibility === "public" || file.visibility === "unlisted") && !file.ageRestricted;
}

function boxSize(file, width) {
  const w = width || 256;
  if (file.width && file.height) return { width: w, height: Math.max(1, Math.round((w * file.height) / file.width)) };
  return { width: w, height: w };
}

function markLoaded(img) {
  img.addEventListener("load", () => {
    if (img.src !== blank) img.dataset.state = "loaded";
  });
  img.addEventListener("error", () => { img.dataset.state = "failed"; });
}

/** A thumbnail element of `file` (a File of the API): an <img> with alt text from the
 * title and a placeholder background until the bytes arrive; a labelled placeholder
 * for files that have no bytes to show (pending, failed, removed). `options.alt`
 * overrides the alt text ("" when a neighbouring text already names the image). */
export function thumbnail(file, options = {}) {
  const alt = options.alt !== undefined ? options.alt : altOf(file);
  if (file.status && file.status !== "ready") {
    const words = { pending: "Processing", failed: "Processing failed", removed: "Removed" };
    return h(
      "span",
      { class: "thumb-img thumb-missing", role: "img", "aria-label": alt ? `${alt} (${words[file.status] || file.status})` : null },
      words[file.status] || file.status,
    );
  }
  const small = nearestWidth(256);
  const large = nearestWidth(512);
  const size = boxSize(file, small);
  const attrs = { class: "thumb-img", alt, loading: "lazy", decoding: "async", width: size.width, height: size.height, dataset: { state: "loading", fileId: file.id } };
  if (openToImg(file)) {
    const img = h("img", {
      ...attrs,
      src: variantUrl(file.id, small),
      srcset: small && large && large !== small ? `${variantUrl(file.id, small)} ${small}w, ${variantUrl(file.id, large)} ${large}w` : null,
      sizes: SIZES,
    });
    markLoaded(img);
    return img;
  }
  return privateThumbnail(file.id, attrs, window.devicePixelRatio > 1.5 ? large : small);
}

/** A thumbnail of the file `id` whose visibility is not known here (album covers):
 * always fetched with the access token, which works for every file the caller may see. */
export function thumbnailById(id, alt) {
  const small = nearestWidth(256);
  const attrs = { class: "thumb-img", alt, width: small || 256, height: small || 256, dataset: { state: "loading", fileId: id } };
  return privateThumbnail(id, attrs, window.devicePixelRatio > 1.5 ? nearestWidth(512) : small);
}

function privateThumbnail(id, attrs, width) {
  const img = h("img", { ...attrs, src: blankUrl(), dataset: { ...attrs.dataset, private: "true" } });
  img.pichrSource = variantUrl(id, width);
  markLoaded(img);
  watchRemovals();
  if ("IntersectionObserver" in window) {
    if (!lazyObserver) {
      lazyObserver = new IntersectionObserver(
        (entries) => {
          for (const entry of entries) {
            if (entry.isIntersecting) fetchInto(entry.target);
          }
        },
        { rootMargin: "300px" },
      );
    }
    lazyObserver.observe(img);
  } else {
    queueMicrotask(() => fetchInto(img));
  }
  return img;
}

async function fetchInto(img) {
  if (lazyObserver) lazyObserver.unobserve(img);
  const source = img.pichrSource;
  if (!source || img.dataset.fetching) return;
  img.dataset.fetching = "true";
  try {
    const blob = await api(source);
    if (!(blob instanceof Blob) || !img.isConnected) return;
    const url = URL.createObjectURL(blob);
    objectUrls.set(img, url);
    img.src = url;
  } catch {
    img.dataset.state = "failed";
  }
}

/** Revoke the object URLs of the thumbnails inside `root` (or of every thumbnail no
 * longer in the document when `root` is omitted). Removals are also noticed by
 * themselves; call this when detaching a subtree you keep for later. */
export function releaseThumbnails(root) {
  for (const [img, url] of objectUrls) {
    if (root ? root.contains(img) : !img.isConnected) {
      URL.revokeObjectURL(url);
      objectUrls.delete(img);
    }
  }
}

function watchRemovals() {
  if (removalObserver) return;
  removalObserver = new MutationObserver((records) => {
    if (objectUrls.size === 0 && !lazyObserver) return;
    if (!records.some((r) => r.removedNodes.length)) return;
    for (const record of records) {
      for (const node of record.removedNodes) {
        if (node.nodeType !== 1 || !lazyObserver) continue;
        const imgs = node.matches("img[data-private]") ? [node] : node.querySelectorAll("img[data-private]");
        for (const img of imgs) if (!img.isConnected) lazyObserver.unobserve(img);
      }
    }
    releaseThumbnails();
  });
  removalObserver.observe(document.documentElement, { childList: true, subtree: true });
}

/** A square thumbnail link to the file's image page (`/v/{id}`). */
export function thumbLink(file, options = {}) {
  return h("a", { class: "thumb", href: `/v/${encodeURIComponent(file.id)}` }, thumbnail(file, options));
}
