// The auth view: /signin and /signup (chosen by the path). Both go through the cookie
// session routes (api.js `session()`); afterwards the browser goes to `?next=` when it
// is a path on this site, else to /my.

import { session } from "../api.js";
import { words } from "../account/forms.js";
import { announce, config, h, replace, setTitle } from "../ui.js";

/** Where to go after signing in: `?next=` when it is a same-origin path ("/..." but
 * not "//..." or "/\..."), else /my. */
export function nextPath(search = location.search) {
  const next = new URLSearchParams(search).get("next");
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return "/my";
  try {
    const url = new URL(next, location.origin);
    return url.origin === location.origin ? `${url.pathname}${url.search}${url.hash}` : "/my";
  } catch {
    return "/my";
  }
}

function input(id, label, attrs = {}, hint = null) {
  const hintId = hint ? `${id}-hint` : null;
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    h("input", { id, name: id, "aria-describedby": hintId, ...attrs }),
    hint && h("p", { class: "hint", id: hintId }, hint),
  );
}

/** A form that posts `collect()` to the session route `action`, showing the server's
 * message next to the button when it refuses. */
function sessionForm(action, title, fields, collect, submitText, labels) {
  const error = h("p", { class: "error-text form-error", id: `${action}-error` });
  const button = h("button", { type: "submit", class: "btn btn-primary" }, submitText);
  const form = h(
    "form",
    {
      class: "card auth-form",
      "aria-labelledby": `${action}-title`,
      "aria-describedby": `${action}-error`,
      novalidate: true,
      onsubmit: async (e) => {
        e.preventDefault();
        error.textContent = "";
        button.disabled = true;
        try {
          await session(action, collect(form));
          announce(action === "signup" ? "Account created" : "Signed in", "success");
          location.assign(nextPath());
        } catch (err) {
          const text = words(err, labels);
          error.textContent = text;
          announce(text, "error");
          button.disabled = false;
        }
      },
    },
    h("h1", { id: `${action}-title` }, title),
    fields,
    error,
    h("div", { class: "row" }, button),
  );
  return form;
}

function signInForm() {
  const fields = [
    input("login-email", "Email or username", { type: "text", autocomplete: "username", required: true }),
    input("login-password", "Password", { type: "password", autocomplete: "current-password", required: true }),
  ];
  const collect = (form) => ({
    email: form.querySelector("#login-email").value.trim(),
    password: form.querySelector("#login-password").value,
  });
  const labels = { email: "Email or username", password: "Password" };
  return sessionForm("login", "Sign in", fields, collect, "Sign in", labels);
}

function signUpForm() {
  const fields = [
    input("signup-email", "Email", { type: "email", autocomplete: "email", required: true }),
    input(
      "signup-username",
      "Username",
      { type: "text", autocomplete: "username", required: true, maxlength: 32 },
      "3 to 32 letters, digits or underscores.",
    ),
    input(
      "signup-password",
      "Password",
      { type: "password", autocomplete: "new-password", required: true },
      "At least 8 characters.",
    ),
    input("signup-first", "First name (optional)", { type: "text", autocomplete: "given-name" }),
    input("signup-last", "Last name (optional)", { type: "text", autocomplete: "family-name" }),
    h(
      "div",
      { class: "field checkbox" },
      h("input", { id: "signup-age", type: "checkbox" }),
      h("label", { for: "signup-age" }, "I am 18 or older (shows age-restricted images)"),
    ),
  ];
  const value = (form, id) => form.querySelector(`#${id}`).value;
  const collect = (form) => ({
    email: value(form, "signup-email").trim(),
    username: value(form, "signup-username").trim(),
    password: value(form, "signup-password"),
    firstName: value(form, "signup-first").trim(),
    lastName: value(form, "signup-last").trim(),
    ageConfirmed: form.querySelector("#signup-age").checked,
  });
  const labels = {
    email: "Email",
    username: "Username",
    password: "Password",
    firstName: "First name",
    lastName: "Last name",
  };
  return sessionForm("signup", "Create an account", fields, collect, "Create account", labels);
}

function signedIn(user) {
  return h(
    "section",
    { class: "card auth-form", "aria-labelledby": "signed-in-title" },
    h("h1", { id: "signed-in-title" }, "You are signed in"),
    h("p", {}, "Signed in as ", h("strong", {}, user.username), "."),
    h(
      "div",
      { class: "row" },
      h("a", { class: "btn btn-primary", href: nextPath() }, "Continue"),
      h(
        "button",
        {
          type: "button",
          class: "btn",
          onclick: async () => {
            await session("logout").catch(() => null);
            location.reload();
          },
        },
        "Sign in as someone else",
      ),
    ),
  );
}

function otherWay(signup) {
  const keep = location.search;
  if (signup) return h("p", {}, "Have an account? ", h("a", { href: `/signin${keep}` }, "Sign in"));
  if (!config().signupAllowed) return null;
  return h("p", {}, "New here? ", h("a", { href: `/signup${keep}` }, "Create an account"));
}

/** Render the view into `root`. */
export async function render(root, ctx) {
  const signup = location.pathname === "/signup";
  setTitle(signup ? "Sign up" : "Sign in");
  if (ctx.user) {
    replace(root, signedIn(ctx.user));
    return;
  }
  if (signup && !config().signupAllowed) {
    replace(
      root,
      h(
        "section",
        { class: "card auth-form" },
        h("h1", {}, "Sign-ups are closed"),
        h("p", {}, "This server does not take new accounts. Ask its operator for one."),
        h("p", {}, h("a", { href: `/signin${location.search}` }, "Sign in")),
      ),
    );
    return;
  }
  const form = signup ? signUpForm() : signInForm();
  replace(root, h("div", { class: "auth-page" }, form, otherWay(signup)));
  form.querySelector("input").focus();
}
