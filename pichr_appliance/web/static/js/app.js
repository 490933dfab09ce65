// Entry point of every page: restores the session from the refresh cookie, fills the
// site navigation, and runs the view the server named in <main data-view="...">.
// Pages are ordinary server answers (links are plain links); each view module exports
// `render(root, ctx)`.

import { refresh, session } from "./api.js";
import { announce, config, h, replace } from "./ui.js";

const VIEWS = {
  auth: () => import("./views/auth.js"),
  account: () => import("./views/account.js"),
  upload: () => import("./views/upload.js"),
  library: () => import("./views/library.js"),
  albums: () => import("./views/albums.js"),
  staff: () => import("./views/staff.js"),
  public: () => import("./views/public.js"),
};

/** The signed-in user ({id, username, role, ...}) or null; set by boot(). */
export const state = { user: null };

/** Whether `user` holds a staff role (the server decides; this only hides links). */
export function isStaff(user) {
  return Boolean(user && (user.role === "moderator" || user.role === "admin"));
}

/** Send the browser to the sign-in page, coming back to this page afterwards. */
export function requireSignIn() {
  const next = location.pathname + location.search;
  location.assign(`/signin?next=${encodeURIComponent(next)}`);
}

function navigation(user) {
  const link = (href, text) =>
    h("a", { href, "aria-current": location.pathname === href ? "page" : null }, text);
  const items = [];
  if (config().publicFeed) items.push(link("/", "Explore"));
  if (user) {
    items.push(link("/upload", "Upload"), link("/my", "My images"), link("/albums", "Albums"));
    if (isStaff(user)) items.push(link("/staff", "Moderation"));
    if (user.role === "admin") items.push(link("/staff/users", "Users"));
    items.push(link("/account", user.username));
    items.push(
      h(
        "button",
        {
          type: "button",
          class: "btn btn-link",
          onclick: async () => {
            await session("logout").catch(() => null);
            location.assign("/");
          },
        },
        "Sign out",
      ),
    );
  } else {
    items.push(link("/signin", "Sign in"));
    if (config().signupAllowed) items.push(link("/signup", "Sign up"));
  }
  return h("ul", {}, items.map((item) => h("li", {}, item)));
}

async function boot() {
  const answer = await refresh();
  state.user = answer ? answer.user : null;
  const nav = document.getElementById("site-nav");
  if (nav) replace(nav, navigation(state.user));
  const root = document.getElementById("app");
  const view = root && root.dataset.view;
  if (!view || !VIEWS[view]) return;
  try {
    const module = await VIEWS[view]();
    await module.render(root, { user: state.user, config: config() });
  } catch (err) {
    console.error(err);
    announce(err.message || "Something went wrong on this page", "error");
  }
}

boot();
