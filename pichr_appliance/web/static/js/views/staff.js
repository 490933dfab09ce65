// The staff views: /staff (moderation queue), /staff/audit (audit log), and for
// admins /staff/users (accounts) and /staff/stats (site figures). Whether the user may
// see a page is the API's decision: a 403 shows "You do not have access to this page"
// and no data.

import { requireSignIn } from "../app.js";
import { renderAudit } from "../staff/audit.js";
import { renderQueue } from "../staff/queue.js";
import { renderStats, renderUsers } from "../staff/users.js";

const PAGES = {
  "/staff": renderQueue,
  "/staff/audit": renderAudit,
  "/staff/users": renderUsers,
  "/staff/stats": renderStats,
};

/** Render the view into `root`. */
export async function render(root, ctx) {
  if (!ctx.user) {
    requireSignIn();
    return;
  }
  const page = PAGES[location.pathname.replace(/\/$/, "")] || renderQueue;
  await page(root, ctx.user);
}
