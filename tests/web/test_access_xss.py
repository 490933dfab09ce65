"""Who sees what, and user text as text, through a real server and a real browser.

Access: another user's private image page and a private album page are 404 pages (to
a signed-out visitor and to another signed-in user alike), unlisted pages are shown but
carry ``noindex``, and the staff pages are refused to a user (the server's words shown,
none of the queue's data) and hidden from their navigation.
XSS: hostile titles, descriptions, tags, file names, album texts, names and report
details show as those characters on every page that shows them, no element or handler
is made of them and no JS dialog opens; the CSP header is on every HTML answer.

Names these tests rely on (align here if a page names things otherwise):
- site navigation: ``navigation "Site"`` with links "Moderation" and "Users" for staff;
- a refused staff view says so in words in a ``role="alert"`` element (never a raw
  status or code);
- an anonymous visitor of a signed-in page is sent to ``/signin?next=<path>``;
- upload page: ``group "Drop zone"``; the file's name shown in its row;
- sign-up page: labels "Email", "Username", "Password"; button "Create account".
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from .conftest import create_user, sign_in, unique
from .support import (
    Watch,
    album,
    drop_files,
    login_token,
    make_image,
    report,
    resolve,
    signup,
    upload,
    wait_ready,
)

TITLE = "<img src=x onerror=alert(1)>"
DESCRIPTION = "</textarea><script>alert(2)</script>\"' & <b>bold</b>"
TAG = "<svg onload=alert(3)>"
FILENAME = '"><img src=y onerror=alert(4)>.png'
ALBUM_TITLE = "<script>alert(5)</script>"
ALBUM_DESCRIPTION = "<a href=javascript:alert(6)>click</a>"
FIRST_NAME = "<img src=z onerror=alert(7)>"
REPORT_DETAILS = "<iframe src=javascript:alert(8)></iframe>"
USERNAME = "<b onmouseover=alert(9)>x</b>"
SECRET = "Private holiday plans"
PRIVATE_ALBUM = "Private album of the family"
DROP_ZONE = "Drop zone"
SIGN_UP = "Create account"

CSP = {
    "default-src": "'none'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' blob:",
    "connect-src": "'self'",
    "font-src": "'self'",
    "manifest-src": "'self'",
    "form-action": "'self'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
}
SHELL_PATHS = [
    "/signin",
    "/signup",
    "/account",
    "/upload",
    "/my",
    "/albums",
    "/albums/{album}",
    "/staff",
    "/staff/audit",
    "/staff/users",
    "/staff/stats",
]


@pytest.fixture(scope="module")
def world(web_server: Any) -> dict[str, Any]:
    """An owner (hostile first name) with a hostile public image and album, a private
    image, an unlisted one, a private album, an open report with hostile details, a
    removed image; another user; an admin."""
    owner = signup(web_server, firstName=FIRST_NAME, lastName=FIRST_NAME)
    other = signup(web_server)
    admin = create_user(web_server, unique("admin"), "admin")
    token = owner["token"]
    hostile = upload(
        web_server, token, filename=FILENAME, title=TITLE, description=DESCRIPTION, tags=[TAG]
    )
    untitled = upload(web_server, token, make_image((800, 600), (90, 90, 30)), filename=FILENAME)
    private = upload(web_server, token, title=SECRET, visibility="private")
    unlisted = upload(web_server, token, title="Unlisted sunset", visibility="unlisted")
    gone = upload(web_server, token, title="Soon removed")
    shared = album(
        web_server,
        token,
        ALBUM_TITLE,
        [hostile["id"], untitled["id"]],
        description=ALBUM_DESCRIPTION,
    )
    closed = album(web_server, token, PRIVATE_ALBUM, [hostile["id"]], visibility="private")
    report(web_server, fileId=hostile["id"], reason="other", details=REPORT_DETAILS)
    removal = report(web_server, fileId=gone["id"], reason="spam")
    resolve(web_server, login_token(web_server, admin["email"]), removal["id"], "remove")
    ids = {
        "image": hostile["id"],
        "private": private["id"],
        "unlisted": unlisted["id"],
        "removed": gone["id"],
        "album": shared["id"],
        "private_album": closed["id"],
    }
    return {"owner": owner, "other": other, "admin": admin, "ids": ids}


def open_as(browser: Any, server: Any, login: str | None, path: str) -> tuple[Any, Any, Watch]:
    """A new context signed in as ``login`` (or not), a tab on ``path`` rendered."""
    ctx = browser.new_context(base_url=server.url)
    if login:
        sign_in(ctx, server, login)
    tab = ctx.new_page()
    watch = Watch(tab)
    tab.goto(path)
    wait_ready(tab)
    return ctx, tab, watch


# ---------------------------------------------------------------- access


@pytest.mark.parametrize("viewer", ["anonymous", "other"])
@pytest.mark.parametrize(
    ("path", "secret"), [("/v/{private}", SECRET), ("/a/{private_album}", PRIVATE_ALBUM)]
)
def test_private_pages_are_404_pages_to_others(
    browser: Any, web_server: Any, world: dict[str, Any], viewer: str, path: str, secret: str
) -> None:
    login = world["other"]["email"] if viewer == "other" else None
    url = path.format(**world["ids"])
    ctx = browser.new_context(base_url=web_server.url)
    try:
        if login:
            sign_in(ctx, web_server, login)
        tab = ctx.new_page()
        watch = Watch(tab)
        answer = tab.goto(url)
        assert answer is not None and answer.status == 404, url
        assert answer.headers["content-type"].startswith("text/html")
        wait_ready(tab)
        assert secret not in tab.content()
        assert world["ids"]["private"] not in tab.content()
        expect(tab.get_by_role("heading", level=1)).to_be_visible()
        watch.check()
    finally:
        ctx.close()


def test_unlisted_image_page_is_shown_but_not_indexed(
    web_server: Any, world: dict[str, Any]
) -> None:
    answer = httpx.get(f"{web_server.url}/v/{world['ids']['unlisted']}")
    assert answer.status_code == 200
    assert "Unlisted sunset" in answer.text
    robots = re.search(r'<meta name="robots" content="([^"]*)"', answer.text)
    assert robots and "noindex" in robots.group(1), "unlisted page without noindex"
    public = httpx.get(f"{web_server.url}/v/{world['ids']['image']}")
    assert public.status_code == 200
    assert "noindex" not in public.text


def assert_refused(tab: Any) -> None:
    """The page says in words (not a status or code) that this is not for the viewer."""
    said = tab.get_by_role("alert").filter(has_text=re.compile(r"[A-Za-z]{3}"))
    expect(said.first).to_be_visible()
    words = said.first.text_content() or ""
    assert "403" not in words and "insufficient_role" not in words, words


@pytest.mark.parametrize("path", ["/staff", "/staff/audit", "/staff/users"])
def test_staff_pages_are_refused_to_a_user(
    browser: Any, web_server: Any, world: dict[str, Any], path: str
) -> None:
    ctx, tab, watch = open_as(browser, web_server, world["other"]["email"], path)
    try:
        nav = tab.get_by_role("navigation", name="Site")
        expect(nav.get_by_role("button", name="Sign out")).to_be_visible()
        expect(nav.get_by_role("link", name="Moderation")).to_have_count(0)
        expect(nav.get_by_role("link", name="Users")).to_have_count(0)
        assert_refused(tab)
        body = tab.locator("body").text_content() or ""
        for leak in (TITLE, REPORT_DETAILS, world["admin"]["email"], world["owner"]["email"]):
            assert leak not in body, f"{path} shows {leak!r} to a user"
        watch.check()
    finally:
        ctx.close()


def test_staff_pages_send_a_visitor_to_sign_in(browser: Any, web_server: Any) -> None:
    ctx, tab, watch = open_as(browser, web_server, None, "/staff")
    try:
        expect(tab).to_have_url(re.compile(r"/signin\?next=%2Fstaff$"))
        watch.check()
    finally:
        ctx.close()


def test_moderator_is_refused_the_admin_users_page(
    browser: Any, web_server: Any, world: dict[str, Any]
) -> None:
    moderator = create_user(web_server, unique("mod"), "moderator")
    ctx, tab, watch = open_as(browser, web_server, moderator["email"], "/staff/users")
    try:
        nav = tab.get_by_role("navigation", name="Site")
        expect(nav.get_by_role("link", name="Moderation")).to_be_visible()
        expect(nav.get_by_role("link", name="Users")).to_have_count(0)
        assert_refused(tab)
        assert world["owner"]["email"] not in (tab.locator("body").text_content() or "")
        watch.check()
    finally:
        ctx.close()


# ---------------------------------------------------------------- user text as text

# Every string the page must show somewhere (text, alt, title, aria-label or a field's
# value), and none may have become markup.
MISSING = """(needles) => {
  const seen = [document.body.textContent || ""];
  for (const el of document.body.querySelectorAll("*")) {
    for (const name of ["alt", "title", "aria-label", "value", "placeholder"]) {
      const value = el.getAttribute(name);
      if (value) seen.push(value);
    }
    if (typeof el.value === "string" && el.value) seen.push(el.value);
  }
  const all = seen.join("\\n");
  return needles.filter((needle) => !all.includes(needle));
}"""

INJECTED = """() => {
  const found = [];
  for (const el of document.querySelectorAll("*")) {
    for (const attr of el.attributes) {
      if (attr.name.startsWith("on")) found.push(`${el.tagName} ${attr.name}=${attr.value}`);
      if (/^\\s*javascript:/i.test(attr.value)) found.push(`${el.tagName} ${attr.name}`);
    }
    if (["IFRAME", "OBJECT", "EMBED"].includes(el.tagName)) found.push(el.outerHTML);
    if (el.tagName === "B" && ["bold", "x"].includes(el.textContent)) found.push(el.outerHTML);
    if (el.tagName === "SCRIPT" && !el.src && el.type !== "application/json") {
      found.push(el.outerHTML.slice(0, 80));
    }
    if (el.tagName === "IMG" && ["x", "y", "z"].includes(el.getAttribute("src"))) {
      found.push(el.outerHTML);
    }
  }
  return found;
}"""

# (name, path, who is signed in, the hostile strings it must show)
HOSTILE_PAGES = [
    ("feed", "/", None, [TITLE]),
    ("image", "/v/{image}", None, [TITLE, DESCRIPTION, TAG]),
    ("album", "/a/{album}", None, [ALBUM_TITLE, ALBUM_DESCRIPTION, TITLE]),
    ("my-images", "/my", "owner", [TITLE]),
    ("albums", "/albums", "owner", [ALBUM_TITLE]),
    ("album-editor", "/albums/{album}", "owner", [ALBUM_TITLE, TITLE]),
    ("account", "/account", "owner", [FIRST_NAME]),
    ("staff-queue", "/staff", "admin", [TITLE]),
    ("staff-users", "/staff/users", "admin", []),
]


def assert_text_not_markup(tab: Any, where: str, needles: list[str]) -> None:
    """``needles`` shown as characters on ``tab``, and no markup made of any of them."""
    missing = tab.evaluate(MISSING, needles)
    assert missing == [], f"{where} does not show {missing} as text"
    injected = tab.evaluate(INJECTED)
    assert injected == [], f"{where} made markup of user text: {injected}"


@pytest.mark.parametrize(
    ("where", "path", "who", "needles"), HOSTILE_PAGES, ids=[p[0] for p in HOSTILE_PAGES]
)
def test_hostile_text_renders_as_text(
    browser: Any,
    web_server: Any,
    world: dict[str, Any],
    where: str,
    path: str,
    who: str | None,
    needles: list[str],
) -> None:
    login = world[who]["email"] if who else None
    ctx, tab, watch = open_as(browser, web_server, login, path.format(**world["ids"]))
    try:
        assert_text_not_markup(tab, where, needles)
        # Once more after the lazy images and any hover: handlers would have run by now.
        tab.mouse.move(200, 300)
        tab.wait_for_timeout(300)
        assert_text_not_markup(tab, where, needles)
        watch.check()
    finally:
        ctx.close()


@pytest.mark.parametrize("path", ["/v/{image}", "/a/{album}", "/"])
def test_server_rendered_html_escapes_user_text(
    web_server: Any, world: dict[str, Any], path: str
) -> None:
    answer = httpx.get(f"{web_server.url}{path.format(**world['ids'])}")
    assert answer.status_code == 200
    html = answer.text
    for raw in (TITLE, DESCRIPTION, TAG, FILENAME, ALBUM_TITLE, ALBUM_DESCRIPTION, FIRST_NAME):
        assert raw not in html, f"{path}: {raw!r} reached the HTML unescaped"
    assert "&lt;img src=x onerror=alert(1)&gt;" in html or "\\u003cimg src=x" in html
    if path.startswith("/v/"):
        og = re.search(r'<meta property="og:title" content="([^"]*)"', html)
        assert og and og.group(1).startswith("&lt;img src=x"), og


def test_hostile_file_name_shows_as_text_while_uploading(
    browser: Any, web_server: Any, world: dict[str, Any]
) -> None:
    ctx, tab, watch = open_as(browser, web_server, world["owner"]["email"], "/upload")
    try:
        zone = tab.get_by_role("group", name=DROP_ZONE)
        with tab.expect_response(
            lambda r: "/api/v1/upload/" in r.url and r.request.method == "POST"
        ) as started:
            drop_files(zone, [(FILENAME, make_image((640, 480)))])
        assert started.value.status in (200, 201), started.value.text()
        expect(tab.get_by_text(FILENAME).first).to_be_visible()
        assert_text_not_markup(tab, "the upload page", [FILENAME])
        watch.check()
    finally:
        ctx.close()


def test_hostile_username_is_refused_in_words(browser: Any, web_server: Any) -> None:
    ctx = browser.new_context(base_url=web_server.url)
    try:
        tab = ctx.new_page()
        watch = Watch(tab)
        tab.goto("/signup")
        wait_ready(tab)
        tab.get_by_label("Email", exact=True).fill(f"{unique('x')}@example.test")
        tab.get_by_label("Username", exact=True).fill(USERNAME)
        tab.get_by_label("Password", exact=True).fill("correct horse battery staple")
        tab.get_by_role("button", name=SIGN_UP).click()
        invalid = tab.get_by_label("Username", exact=True).evaluate("(el) => !el.validity.valid")
        if not invalid:
            said = tab.get_by_role("alert").filter(has_text=re.compile(r"\S"))
            expect(said.first).to_be_visible()
        expect(tab).to_have_url(re.compile(r"/signup"))
        assert tab.evaluate(INJECTED) == []
        watch.check()
    finally:
        ctx.close()


# ---------------------------------------------------------------- CSP


def csp_directives(header: str) -> dict[str, str]:
    """``{directive: sources}`` of a Content-Security-Policy header."""
    parts = [p.strip().split(None, 1) for p in header.split(";") if p.strip()]
    return {p[0]: (p[1] if len(p) > 1 else "") for p in parts}


def test_csp_header_on_every_html_answer(web_server: Any, world: dict[str, Any]) -> None:
    ids = world["ids"]
    expected = {
        "/": 200,
        f"/v/{ids['image']}": 200,
        f"/v/{ids['unlisted']}": 200,
        f"/a/{ids['album']}": 200,
        f"/v/{ids['private']}": 404,
        f"/a/{ids['private_album']}": 404,
        "/v/file_doesnotexist00000000": 404,
        "/a/alb_doesnotexist00000000": 404,
        f"/v/{ids['removed']}": 410,
        **{path.format(**ids): 200 for path in SHELL_PATHS},
    }
    headers = {"Accept": "text/html,application/xhtml+xml"}
    for path, status in expected.items():
        answer = httpx.get(f"{web_server.url}{path}", headers=headers, timeout=60)
        assert answer.status_code == status, (path, answer.status_code)
        assert answer.headers["content-type"].startswith("text/html"), path
        policy = answer.headers.get("content-security-policy")
        assert policy, f"{path}: no Content-Security-Policy"
        assert csp_directives(policy) == CSP, (path, policy)
        assert "unsafe" not in policy, (path, policy)
    # Whatever else answers in HTML (an unknown page, if it is a page) has it too.
    for path in ("/nope", "/v/", "/a/", "/static/nope.css"):
        answer = httpx.get(f"{web_server.url}{path}", headers=headers, timeout=60)
        if answer.headers.get("content-type", "").startswith("text/html"):
            policy = answer.headers.get("content-security-policy", "")
            assert csp_directives(policy) == CSP, (path, policy)
