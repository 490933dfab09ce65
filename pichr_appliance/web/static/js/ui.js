// DOM helpers. Every piece of user text goes in through textContent or an attribute,
// never through innerHTML: a title of "<img src=x onerror=...>" shows as those characters.

/** h("a", {href: "/x", class: "btn"}, "text", child...) builds an element. Attributes
 * starting with "on" are listeners (onclick: fn); `dataset` is an object; null and
 * false children are skipped; strings become text nodes. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "class") {
      el.className = value;
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace everything inside `el` with `children`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Say `message` to screen readers (and show it in the status bar). `kind`: "info",
 * "error" (assertive) or "success". */
export function announce(message, kind = "info") {
  const region = document.getElementById(kind === "error" ? "alert" : "status");
  if (!region) return;
  region.textContent = "";
  // A new text node after a tick makes screen readers announce a repeated message too.
  setTimeout(() => {
    region.textContent = message;
    region.dataset.kind = kind;
  }, 30);
}

/** A button that copies `text` to the clipboard, announcing the result. */
export function copyButton(text, label = "Copy") {
  return h(
    "button",
    {
      type: "button",
      class: "btn btn-small copy",
      "data-copy": text,
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(text);
          announce(`Copied: ${text.length > 60 ? text.slice(0, 57) + "..." : text}`, "success");
        } catch {
          announce("Could not reach the clipboard; select the text and copy it", "error");
        }
      },
    },
    label,
  );
}

/** A read-only text field with a copy button, labelled `label`. */
export function copyField(label, value) {
  const id = `copy-${Math.random().toString(36).slice(2, 9)}`;
  return h(
    "div",
    { class: "copy-field" },
    h("label", { for: id }, label),
    h("input", { id, type: "text", readonly: true, value, onfocus: (e) => e.target.select() }),
    copyButton(value, `Copy ${label.toLowerCase()}`),
  );
}

/** 1536 -> "1.5 KB" (decimal units, as the plans are written). */
export function formatBytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["bytes", "KB", "MB", "GB", "TB"];
  let i = 0;
  let value = n;
  while (value >= 1000 && i < units.length - 1) {
    value /= 1000;
    i += 1;
  }
  return i === 0 ? `${n} bytes` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[i]}`;
}

/** An ISO date as the reader's local date and time. */
export function formatDate(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString();
}

/** The page's configuration, rendered by the server as JSON (not as a script). */
export function config() {
  if (!config.cached) {
    const node = document.getElementById("pichr-config");
    config.cached = node ? JSON.parse(node.textContent) : {};
  }
  return config.cached;
}

/** Set the document title as "<what> · <site name>". */
export function setTitle(what) {
  const site = config().siteName || "Pichr";
  document.title = what ? `${what} · ${site}` : site;
}
