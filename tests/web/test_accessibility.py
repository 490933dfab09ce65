"""Accessibility of every page, through a real server and a real browser: axe-core finds
no serious or critical violation at phone and desktop widths in the light and the dark
theme; nothing scrolls sideways on a 360 px phone; every control is reachable with Tab
and shows a visible focus indicator when it has the focus.

What these tests rely on in the pages (align here if a page names things otherwise):
- a shell view removes ``#loading`` once it has drawn (support.wait_ready);
- signed-in pages use the refresh cookie that ``POST /api/v1/auth/web/login`` sets;
- the 404 and 410 pages answer ``/v/{unknown id}`` and ``/v/{removed id}``.
Every page's screenshot is saved in build/web-artifacts (``<page>-<width>-<theme>``).
"""

from __future__ import annotations

from typing import Any

import pytest

from .axe import assert_no_serious_violations
from .conftest import DESKTOP, PHONE, create_user, screenshot, sign_in, unique
from .support import Watch, album, login_token, report, resolve, upload, wait_ready

SMALL_PHONE = {"width": 360, "height": 740}

# (name, path, signed in as the admin?); {image}, {album}, {removed} come from `site`.
PAGES = [
    ("home", "/", False),
    ("image", "/v/{image}", False),
    ("album", "/a/{album}", False),
    ("signin", "/signin", False),
    ("signup", "/signup", False),
    ("account", "/account", True),
    ("upload", "/upload", True),
    ("my", "/my", True),
    ("albums", "/albums", True),
    ("album-editor", "/albums/{album}", True),
    ("staff", "/staff", True),
    ("staff-audit", "/staff/audit", True),
    ("staff-users", "/staff/users", True),
    ("staff-stats", "/staff/stats", True),
    ("not-found", "/v/file_doesnotexist00000000", False),
    ("gone", "/v/{removed}", False),
]
PAGE_IDS = [name for name, _, _ in PAGES]
WIDTHS = {"phone": PHONE, "desktop": DESKTOP}


@pytest.fixture(scope="module")
def site(web_server: Any) -> dict[str, Any]:
    """An admin who owns three public images in an album, an open report on one of
    them, and a fourth image removed by moderation (its page answers 410)."""
    admin = create_user(web_server, unique("admin"), "admin")
    token = login_token(web_server, admin["email"])
    colours = [(40, 110, 170), (170, 70, 40), (60, 140, 80), (120, 60, 150)]
    titles = ["Harbour at dawn", "Red cliffs", "Green valley", "Removed one"]
    files = [
        upload(web_server, token, title=title, tags=["demo"], description=f"{title}, a test")
        for title in titles
    ]
    for f, colour in zip(files, colours, strict=True):
        assert f["status"] == "ready", (f, colour)
    shared = album(
        web_server, token, "Coast walk", [f["id"] for f in files[:3]], description="Three"
    )
    report(web_server, fileId=files[1]["id"], reason="spam", details="looks like an ad")
    gone = report(web_server, fileId=files[3]["id"], reason="copyright")
    resolve(web_server, token, gone["id"], "remove")
    return {
        "admin": admin,
        "ids": {"image": files[0]["id"], "album": shared["id"], "removed": files[3]["id"]},
    }


def visit(browser: Any, server: Any, site: dict[str, Any], page: tuple, **context: Any):
    """Open ``page`` (an entry of PAGES) in a new context, signed in as the admin when
    it needs it (a fresh session each time: refresh cookies are single use)."""
    name, path, signed_in = page
    ctx = browser.new_context(base_url=server.url, **context)
    if signed_in:
        sign_in(ctx, server, site["admin"]["email"])
    tab = ctx.new_page()
    watch = Watch(tab)
    answer = tab.goto(path.format(**site["ids"]))
    assert answer is not None, name
    wait_ready(tab)
    return ctx, tab, watch, answer


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("page_entry", PAGES, ids=PAGE_IDS)
def test_axe_finds_no_serious_violation(
    browser: Any, web_server: Any, site: dict[str, Any], page_entry: tuple, width: str, scheme: str
) -> None:
    name = page_entry[0]
    ctx, tab, watch, _ = visit(
        browser, web_server, site, page_entry, viewport=WIDTHS[width], color_scheme=scheme
    )
    try:
        assert tab.evaluate("() => matchMedia('(prefers-color-scheme: dark)').matches") == (
            scheme == "dark"
        )
        screenshot(tab, f"{name}-{WIDTHS[width]['width']}-{scheme}")
        assert_no_serious_violations(tab, f"{name} at {width} width, {scheme} theme")
        watch.check()
    finally:
        ctx.close()


@pytest.mark.parametrize("page_entry", PAGES, ids=PAGE_IDS)
def test_nothing_scrolls_sideways_on_a_360px_phone(
    browser: Any, web_server: Any, site: dict[str, Any], page_entry: tuple
) -> None:
    ctx, tab, watch, _ = visit(browser, web_server, site, page_entry, viewport=SMALL_PHONE)
    try:
        widths = tab.evaluate(
            "() => ({scroll: document.documentElement.scrollWidth, inner: innerWidth,"
            " wide: [...document.querySelectorAll('body *')]"
            "   .filter((e) => e.getBoundingClientRect().right > innerWidth + 1)"
            "   .slice(0, 5).map((e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')"
            "     + (e.className && typeof e.className === 'string'"
            "        ? '.' + e.className.trim().split(/\\s+/).join('.') : ''))})"
        )
        assert widths["scroll"] <= widths["inner"], (
            f"{page_entry[0]} is {widths['scroll']} px wide in a {widths['inner']} px window; "
            f"wider than the window: {widths['wide']}"
        )
        watch.check()
    finally:
        ctx.close()


# After each Tab: the focused element, and the focus styles of it and its labels (a
# visually hidden file input shows its focus on its label).
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return null;
  window.__tabbed = window.__tabbed || [];
  let index = window.__tabbed.indexOf(el);
  const first = index < 0;
  if (first) { window.__tabbed.push(el); index = window.__tabbed.length - 1; }
  const parts = [el, ...(el.labels ? Array.from(el.labels) : [])];
  const styles = parts.map((p) => {
    const s = getComputedStyle(p);
    return [s.outlineStyle, s.outlineWidth, s.outlineColor, s.boxShadow].join("|");
  });
  const text = (el.getAttribute("aria-label") || el.textContent || el.value || "").trim();
  const name = `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""} "${text.slice(0, 40)}"`;
  return {index, first, styles, name};
}"""

# After the Tab walk: each element's styles without the focus, and the visible controls
# that the walk never reached.
UNFOCUSED = """() => {
  document.activeElement && document.activeElement.blur();
  const tabbed = window.__tabbed || [];
  const styles = tabbed.map((el) => [el, ...(el.labels ? Array.from(el.labels) : [])]
    .map((p) => {
      const s = getComputedStyle(p);
      return [s.outlineStyle, s.outlineWidth, s.outlineColor, s.boxShadow].join("|");
    }));
  const selector = "a[href], button, input:not([type=hidden]), select, textarea, summary, "
    + "[tabindex]:not([tabindex='-1']), [contenteditable='true']";
  const shown = (el) => el.getClientRects().length > 0
    && getComputedStyle(el).visibility !== "hidden" && !el.closest("[inert]")
    && !el.disabled && el.getAttribute("tabindex") !== "-1";
  const groups = new Set();
  const missed = [];
  for (const el of document.querySelectorAll(selector)) {
    if (!shown(el) || tabbed.includes(el)) continue;
    if (el.type === "radio") {
      if (groups.has(el.name)) continue;
      groups.add(el.name);
      const reached = tabbed.some((t) => t.type === "radio" && t.name === el.name);
      if (reached) continue;
    }
    const text = (el.getAttribute("aria-label") || el.textContent || el.value || "").trim();
    missed.push(`${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""} "${text.slice(0, 40)}"`);
  }
  return {styles, missed};
}"""


def shows_focus(focused: list[str], unfocused: list[str]) -> bool:
    """Whether the focus styles (``style|width|color|shadow`` of an element and its
    labels) show an outline or a shadow that the element does not have unfocused."""
    for now, before in zip(focused, unfocused, strict=True):
        style, width, _colour, shadow = now.split("|")
        outline = style != "none" and width not in ("0px", "0")
        if (outline or shadow != "none") and now != before:
            return True
    return False


def tab_walk(tab: Any, limit: int = 300) -> list[dict[str, Any]]:
    """Press Tab until the focus has come back round to a control it already visited
    (or ``limit``); each control's ``{name, styles}`` in order. The walk goes on past
    the end of the document (the focus leaves for the browser, then starts again at
    the top), so a view that focused one of its fields first is walked whole."""
    tab.evaluate("() => { window.__tabbed = []; }")
    stops: list[dict[str, Any]] = []
    outside = 0
    for _ in range(limit):
        tab.keyboard.press("Tab")
        focused = tab.evaluate(FOCUSED)
        if focused is None:
            outside += 1
            if outside > 3:
                break
            continue
        if not focused["first"]:
            if stops and focused["index"] == len(stops) - 1:
                continue  # Tab inside one control (the parts of a date field)
            break
        stops.append(focused)
    return stops


@pytest.mark.parametrize("page_entry", PAGES, ids=PAGE_IDS)
def test_every_control_is_reachable_by_tab_with_visible_focus(
    browser: Any, web_server: Any, site: dict[str, Any], page_entry: tuple
) -> None:
    ctx, tab, watch, _ = visit(browser, web_server, site, page_entry, viewport=DESKTOP)
    try:
        stops = tab_walk(tab)
        assert stops, f"{page_entry[0]}: Tab reaches nothing"
        after = tab.evaluate(UNFOCUSED)
        invisible = [
            stop["name"]
            for stop, before in zip(stops, after["styles"], strict=True)
            if not shows_focus(stop["styles"], before)
        ]
        assert invisible == [], f"{page_entry[0]}: focus not visible on {invisible}"
        assert after["missed"] == [], (
            f"{page_entry[0]}: controls that Tab never reaches: {after['missed']}"
        )
        watch.check()
    finally:
        ctx.close()
