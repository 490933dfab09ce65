// The files of an album as a list that can be reordered with the mouse (HTML5 drag and
// drop) and with the keyboard alone (Up/Down arrows on a focused item, or its "Move
// up"/"Move down" buttons). Every move is announced with the new position.

import { altOf, thumbnail } from "../thumbs.js";
import { announce, h } from "../ui.js";

/** The reorderable list of `files`. Callbacks: `onOrder(fileIds)` after every move,
 * `onCover(file)`, `onRemove(file)` (each may return a promise). The element has
 * `setCover(id)` and `removeItem(id)`. */
export function orderList(files, { coverId, onOrder, onCover, onRemove }) {
  const hintId = "order-hint";
  const list = h("ol", { class: "order-list", "aria-describedby": hintId, "aria-label": "Images in album order" });
  let dragged = null;

  const items = () => [...list.children];
  const renumber = () => {
    const all = items();
    all.forEach((li, i) => {
      li.querySelector(".order-position").textContent = `${i + 1} of ${all.length}`;
      li.querySelector(".move-up").disabled = i === 0;
      li.querySelector(".move-down").disabled = i === all.length - 1;
    });
  };
  const moved = (li, focusTarget) => {
    renumber();
    (focusTarget && !focusTarget.disabled ? focusTarget : li).focus();
    const all = items();
    announce(`${li.dataset.title} moved to position ${all.indexOf(li) + 1} of ${all.length}`);
    onOrder(all.map((node) => node.dataset.fileId));
  };
  const move = (li, delta, focusTarget) => {
    const all = items();
    const to = all.indexOf(li) + delta;
    if (to < 0 || to >= all.length) return;
    if (delta < 0) list.insertBefore(li, all[to]);
    else list.insertBefore(li, all[to].nextSibling);
    moved(li, focusTarget);
  };

  const itemOf = (file) => {
    const title = altOf(file);
    const up = h("button", { type: "button", class: "btn btn-small move-up", "aria-label": `Move up: ${title}` }, "Move up");
    const down = h("button", { type: "button", class: "btn btn-small move-down", "aria-label": `Move down: ${title}` }, "Move down");
    const cover = h("button", { type: "button", class: "btn btn-small cover-button", "aria-pressed": "false", "aria-label": `Use as cover: ${title}` }, "Use as cover");
    const remove = h("button", { type: "button", class: "btn btn-small btn-danger", "aria-label": `Remove ${title} from the album` }, "Remove");
    const img = thumbnail(file, { alt: "" });
    img.setAttribute("draggable", "false");
    const li = h(
      "li",
      { class: "order-item", tabindex: "0", draggable: "true", "aria-label": title, dataset: { fileId: file.id, title } },
      h("span", { class: "order-thumb" }, img),
      h("span", { class: "order-text" }, h("a", { href: `/v/${encodeURIComponent(file.id)}`, draggable: "false" }, title), h("span", { class: "order-position hint" }), h("span", { class: "cover-badge", hidden: true }, "Cover")),
      h("span", { class: "row order-actions" }, up, down, cover, remove),
    );
    up.addEventListener("click", () => move(li, -1, up));
    down.addEventListener("click", () => move(li, 1, down));
    cover.addEventListener("click", () => onCover(file));
    remove.addEventListener("click", () => onRemove(file));
    li.addEventListener("keydown", (event) => {
      if (event.target !== li) return;
      if (event.key === "ArrowUp" || event.key === "ArrowDown") {
        event.preventDefault();
        move(li, event.key === "ArrowUp" ? -1 : 1);
      }
    });
    li.addEventListener("dragstart", (event) => {
      dragged = li;
      li.classList.add("dragging");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", file.id);
    });
    li.addEventListener("dragover", (event) => {
      if (!dragged || dragged === li) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "move";
      li.classList.add("drop-target");
    });
    li.addEventListener("dragleave", () => li.classList.remove("drop-target"));
    li.addEventListener("drop", (event) => {
      event.preventDefault();
      li.classList.remove("drop-target");
      if (!dragged || dragged === li) return;
      const all = items();
      // Dropped on an item, the dragged one takes its place (after it when moving down).
      if (all.indexOf(dragged) < all.indexOf(li)) list.insertBefore(dragged, li.nextSibling);
      else list.insertBefore(dragged, li);
      const node = dragged;
      dragged = null;
      moved(node);
    });
    li.addEventListener("dragend", () => {
      li.classList.remove("dragging");
      for (const node of items()) node.classList.remove("drop-target");
      dragged = null;
    });
    return li;
  };

  list.append(...files.map(itemOf));
  list.setCover = (id) => {
    for (const li of items()) {
      const on = li.dataset.fileId === id;
      li.querySelector(".cover-button").setAttribute("aria-pressed", on ? "true" : "false");
      li.querySelector(".cover-badge").hidden = !on;
    }
  };
  list.removeItem = (id) => {
    const li = items().find((node) => node.dataset.fileId === id);
    if (!li) return;
    const next = li.nextElementSibling || li.previousElementSibling;
    li.remove();
    renumber();
    if (next) next.focus();
  };
  list.setCover(coverId);
  renumber();
  const hint = h("p", { class: "hint", id: hintId }, "Drag an image to a new place, or focus it and press the Up and Down arrow keys (or use its Move buttons). The order is saved after every move.");
  return { list, hint };
}
