"""The issue's one journey through a real ``pichr-appliance serve`` and a real browser:
sign up; upload two files by drag and drop and one by paste; see them in the grid; make
an album from them; open the album URL that the API returned while signed out and see
both images; open an image page and check its OpenGraph tags; report it; sign in as an
admin made with the CLI and remove it from the queue; the image page now answers 410.

Names it relies on (align here if a page names things otherwise):
- sign up: labels "Email", "Username", "Password", button "Create account";
  sign in: labels "Email or username", "Password", button "Sign in";
- site navigation ``navigation "Site"`` with links "Upload", "My images", "Moderation";
- upload: label "Title", ``group "Drop zone"``, list "Uploads" whose rows say
  "Uploaded" when done; an empty title means the file's name without its extension;
- my images: list "My images", checkboxes "Select <title>", button "Add to album…",
  then a dialog with "New album title" and the button "Add to album";
- album page: list "Images in <album title>" of links named after the images;
- image page: button "Report", dialog with "Reason" and the button "Send report";
- staff queue: list "Reported targets", an item per target (its heading the title)
  with the select "Action" and the button "Apply decision".
"""

from __future__ import annotations

import io
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import expect

from .conftest import DESKTOP, PHONE, create_user, unique
from .support import (
    PASSWORD,
    Watch,
    drop_files,
    login_token,
    make_image,
    my_files,
    paste_files,
    wait_ready,
)

ALBUM = "Coast walk"
DROPPED = {"harbour": (1600, 1000), "lighthouse": (1200, 1600)}
PASTED_TITLE = "Pasted sketch"


def new_tab(browser: Any, server: Any, **context: Any) -> tuple[Any, Any, Watch]:
    """A fresh profile (no cookies) and a watched tab in it."""
    ctx = browser.new_context(base_url=server.url, **{"viewport": DESKTOP, **context})
    tab = ctx.new_page()
    return ctx, tab, Watch(tab)


def nav_to(tab: Any, link: str) -> None:
    """Follow a link of the site navigation and wait for its view."""
    target = tab.get_by_role("navigation", name="Site").get_by_role("link", name=link)
    href = target.get_attribute("href")
    target.click()
    tab.wait_for_url(f"**{href}")
    wait_ready(tab)


def is_post(path: str) -> Any:
    """A response predicate: a POST to exactly ``path``."""
    return lambda r: r.request.method == "POST" and urlsplit(r.url).path == path


def sign_up(tab: Any, username: str) -> str:
    """Create an account on the sign-up page; its email."""
    email = f"{username}@example.test"
    tab.goto("/signup")
    wait_ready(tab)
    tab.get_by_label("Email", exact=True).fill(email)
    tab.get_by_label("Username", exact=True).fill(username)
    tab.get_by_label("Password", exact=True).fill(PASSWORD)
    tab.get_by_role("button", name="Create account").click()
    nav = tab.get_by_role("navigation", name="Site")
    expect(nav.get_by_role("button", name="Sign out")).to_be_visible()
    wait_ready(tab)
    return email


def upload_three(tab: Any) -> None:
    """Two files dropped at once (empty title: their names), one pasted with a title."""
    nav_to(tab, "Upload")
    rows = tab.get_by_role("list", name="Uploads")
    zone = tab.get_by_role("group", name="Drop zone")
    dropped = [(f"{name}.png", make_image(size)) for name, size in DROPPED.items()]
    drop_files(zone, dropped)
    for name, _ in dropped:
        row = rows.get_by_role("listitem").filter(has_text=name)
        expect(row).to_contain_text("Uploaded", timeout=30_000)
    tab.get_by_label("Title", exact=True).fill(PASTED_TITLE)
    paste_files(tab, [("image.png", make_image((900, 700), (160, 60, 60)))])
    row = rows.get_by_role("listitem").filter(has_text="image.png")
    expect(row).to_contain_text("Uploaded", timeout=30_000)


def make_album(tab: Any, server: Any) -> dict[str, Any]:
    """In My images: see the three, select the two dropped ones, make an album of them;
    the Album the API answered."""
    nav_to(tab, "My images")
    grid = tab.get_by_role("list", name="My images")
    for title in [*DROPPED, PASTED_TITLE]:
        expect(grid.get_by_role("img", name=title)).to_be_visible()
    assert_images_load(tab, grid, [*DROPPED, PASTED_TITLE])
    for title in DROPPED:
        grid.get_by_role("checkbox", name=f"Select {title}").check()
    tab.get_by_role("button", name="Add to album…").click()
    dialog = tab.get_by_role("dialog")
    dialog.get_by_label("New album title").fill(ALBUM)
    with tab.expect_response(is_post("/api/v1/albums")) as made:
        dialog.get_by_role("button", name="Add to album").click()
    assert made.value.status == 201, made.value.text()
    expect(dialog).to_have_count(0)
    return made.value.json()


def assert_images_load(tab: Any, where: Any, titles: list[str]) -> None:
    """Each image named in ``titles`` under ``where`` has really loaded (pixels)."""
    for title in titles:
        img = where.get_by_role("img", name=title).first
        img.scroll_into_view_if_needed()
        loaded = "(el) => el.complete && el.naturalWidth > 0"
        tab.wait_for_function(loaded, arg=img.element_handle())


def check_preview_tags(tab: Any, server: Any, file_id: str) -> None:
    """OpenGraph and Twitter tags: absolute URLs, og:image a variant (``?w=``) whose
    stated width and height are the variant's real size."""
    meta = tab.evaluate(
        "() => Object.fromEntries([...document.head.querySelectorAll('meta')]"
        ".map((m) => [m.getAttribute('property') || m.getAttribute('name'), m.content]))"
    )
    assert meta["og:url"] == f"{server.url}/v/{file_id}", meta
    image = meta["og:image"]
    assert image.startswith(f"{server.url}/"), image
    widths = parse_qs(urlsplit(image).query).get("w")
    assert widths and widths[0].isdigit(), f"og:image is not a variant: {image}"
    assert meta["twitter:card"] == "summary_large_image", meta
    assert meta["twitter:image"].startswith(f"{server.url}/"), meta
    assert meta["og:title"] == "harbour", meta
    answer = httpx.get(image)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("image/")
    from PIL import Image

    real = Image.open(io.BytesIO(answer.content)).size
    stated = (int(meta["og:image:width"]), int(meta["og:image:height"]))
    assert stated == real, (stated, real)
    assert real[0] == min(int(widths[0]), DROPPED["harbour"][0]), (real, image)


def view_album_signed_out(browser: Any, server: Any, made: dict[str, Any]) -> str:
    """Open the album URL the API returned in a fresh profile, see both images, open
    the first image's page, check its preview tags and report it; its file id."""
    ctx, tab, watch = new_tab(browser, server, viewport=PHONE)
    try:
        assert made["url"] == f"{server.url}/a/{made['id']}", made
        answer = tab.goto(made["url"])
        assert answer is not None and answer.status == 200
        wait_ready(tab)
        grid = tab.get_by_role("list", name=f"Images in {ALBUM}")
        expect(grid.get_by_role("img")).to_have_count(2)
        assert_images_load(tab, grid, list(DROPPED))
        grid.get_by_role("link", name="harbour").click()
        expect(tab).to_have_url(re.compile(r"/v/file_[A-Za-z0-9_-]+$"))
        wait_ready(tab)
        file_id = urlsplit(tab.url).path.rsplit("/", 1)[-1]
        check_preview_tags(tab, server, file_id)
        tab.get_by_role("button", name="Report").click()
        dialog = tab.get_by_role("dialog")
        dialog.get_by_label("Reason").select_option(label="Spam or advertising")
        with tab.expect_response(is_post("/api/v1/moderation/report")) as sent:
            dialog.get_by_role("button", name="Send report").click()
        assert sent.value.status == 201, sent.value.text()
        expect(dialog).to_be_hidden()
        watch.check()
        return file_id
    finally:
        ctx.close()


def remove_as_admin(browser: Any, server: Any, file_id: str) -> None:
    """An admin made with the CLI signs in and removes the reported image."""
    admin = create_user(server, unique("admin"), "admin")
    ctx, tab, watch = new_tab(browser, server)
    try:
        tab.goto("/signin")
        wait_ready(tab)
        tab.get_by_label("Email or username", exact=True).fill(admin["email"])
        tab.get_by_label("Password", exact=True).fill(admin["password"])
        tab.get_by_role("button", name="Sign in").click()
        nav = tab.get_by_role("navigation", name="Site")
        expect(nav.get_by_role("button", name="Sign out")).to_be_visible()
        wait_ready(tab)
        nav_to(tab, "Moderation")
        queue = tab.get_by_role("list", name="Reported targets")
        item = queue.get_by_role("listitem").filter(has=tab.get_by_role("heading", name="harbour"))
        expect(item).to_have_count(1)
        item.get_by_label("Action").select_option(label="Remove")
        with tab.expect_response(lambda r: r.url.endswith("/resolve")) as decided:
            item.get_by_role("button", name="Apply decision").click()
        assert decided.value.status == 200, decided.value.text()
        assert decided.value.json()["action"] == "remove"
        watch.check()
    finally:
        ctx.close()
    answer = tab_status(browser, server, f"/v/{file_id}")
    assert answer == 410


def tab_status(browser: Any, server: Any, path: str) -> int:
    """The status a browser navigation to ``path`` gets (an HTML page with the CSP)."""
    ctx, tab, watch = new_tab(browser, server)
    try:
        answer = tab.goto(path)
        assert answer is not None
        assert answer.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in answer.headers["content-security-policy"]
        expect(tab.get_by_role("heading", level=1)).to_be_visible()
        watch.check()
        return answer.status
    finally:
        ctx.close()


@pytest.mark.timeout(400)
def test_sign_up_upload_share_report_remove(browser: Any, web_server: Any) -> None:
    ctx, tab, watch = new_tab(browser, web_server)
    try:
        email = sign_up(tab, unique("j"))
        upload_three(tab)
        stored = {f["title"]: f for f in my_files(web_server, login_token(web_server, email))}
        assert set(stored) == {*DROPPED, PASTED_TITLE}, stored
        assert {f["status"] for f in stored.values()} == {"ready"}
        made = make_album(tab, web_server)
        assert made["fileCount"] == 2, made
        watch.check()
    finally:
        ctx.close()
    file_id = view_album_signed_out(browser, web_server, made)
    assert file_id == stored["harbour"]["id"]
    remove_as_admin(browser, web_server, file_id)
    assert httpx.get(f"{web_server.url}/v/{file_id}").status_code == 410
    assert httpx.get(f"{web_server.url}/i/{file_id}").status_code == 410
