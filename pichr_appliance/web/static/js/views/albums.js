// The albums views: /albums (my albums, create one) and /albums/{id} (edit one album:
// details, share link, order by drag and drop or keyboard, cover, removal, deletion).

import { requireSignIn } from "../app.js";
import { renderEditor } from "../albums/editor.js";
import { renderList } from "../albums/list.js";

/** Render the view into `root`. */
export async function render(root, ctx) {
  if (!ctx.user) {
    requireSignIn();
    return;
  }
  const match = location.pathname.match(/^\/albums\/([^/]+)\/?$/);
  if (match) await renderEditor(root, ctx.user, decodeURIComponent(match[1]));
  else await renderList(root);
}
