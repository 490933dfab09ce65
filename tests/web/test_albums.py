"""Albums (/albums, /albums/{id}) in a real browser against a real server: creating,
editing, reordering by drag and drop and by keyboard alone, the cover, the share link,
removing a file and deleting the album."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from .library_helpers import Account, eventually, no_dialogs


def order_on_server(me: Account, album_id: str) -> list[str]:
    return [f["id"] for f in me.album(album_id)["files"]]


def order_on_page(tab: Any) -> list[str]:
    return tab.locator("li.order-item").evaluate_all("els => els.map(e => e.dataset.fileId)")


def album_with(me: Account, n: int, **fields: Any) -> tuple[dict[str, Any], list[str]]:
    ids = [me.upload(f"Pic {chr(65 + i)}")["id"] for i in range(n)]
    return me.make_album("Trip", ids, **fields), ids


def test_create_an_album_and_edit_its_details(web_server, context, page):
    me = Account(web_server)
    me.sign_in(context)
    page.goto("/albums")
    expect(page.get_by_text("No albums yet")).to_be_visible()
    page.get_by_label("Title").fill("Holiday <b>2025</b>")
    page.get_by_label("Description").fill("Where we went")
    page.get_by_label("Visibility").select_option("unlisted")
    page.get_by_role("button", name="Create album").click()
    expect(page.locator("#status")).to_have_text("Album Holiday <b>2025</b> created")
    link = page.get_by_role("link", name="Holiday <b>2025</b>")
    expect(link).to_be_visible()
    expect(page.locator(".album-card .tile-meta")).to_have_text("0 images · Unlisted")
    album_id = link.get_attribute("href").rsplit("/", 1)[1]
    album = me.album(album_id)
    assert (album["title"], album["description"], album["visibility"]) == (
        "Holiday <b>2025</b>",
        "Where we went",
        "unlisted",
    )

    link.click()
    expect(page).to_have_url(re.compile(f"/albums/{album_id}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Holiday <b>2025</b>")
    page.get_by_label("Title").fill("Holiday 2025")
    page.get_by_label("Tags").fill("Sea, sun")
    page.get_by_label("Visibility").select_option("public")
    page.get_by_role("button", name="Save details").click()
    expect(page.locator("#status")).to_have_text("Album saved")
    expect(page.get_by_role("heading", level=1)).to_have_text("Holiday 2025")
    album = me.album(album_id)
    assert (album["title"], album["tags"], album["visibility"]) == (
        "Holiday 2025",
        ["sea", "sun"],
        "public",
    )
    # The server's words when it refuses (an empty title).
    page.get_by_label("Title").fill(" ")
    page.get_by_role("button", name="Save details").click()
    expect(page.locator("#alert")).to_contain_text("title")


def test_share_link_is_the_album_url_of_the_api(web_server, context, page):
    me = Account(web_server)
    album, _ = album_with(me, 1)
    me.sign_in(context)
    page.goto(f"/albums/{album['id']}")
    expect(page.get_by_label("Share link")).to_have_value(album["url"])
    assert album["url"].endswith(f"/a/{album['id']}")
    open_link = page.get_by_role("link", name="Open the album page")
    assert open_link.get_attribute("href") == album["url"]
    page.get_by_role("button", name="Copy share link").click()
    assert page.evaluate("navigator.clipboard.readText()") == album["url"]


def test_reorder_by_drag_and_drop(web_server, context, page):
    me = Account(web_server)
    album, (a, b, c) = album_with(me, 3)
    me.sign_in(context)
    page.goto(f"/albums/{album['id']}")
    expect(page.locator("li.order-item")).to_have_count(3)
    items = page.locator("li.order-item")
    items.nth(0).drag_to(items.nth(2))  # A onto C: A takes C's place
    expect(page.locator("#status")).to_have_text("Pic A moved to position 3 of 3")
    expect(page.locator(".order-state")).to_have_text("Order saved.")
    assert order_on_page(page) == [b, c, a]
    assert order_on_server(me, album["id"]) == [b, c, a]
    items.nth(2).drag_to(items.nth(0))  # A back to the top
    eventually(lambda: order_on_server(me, album["id"]) == [a, b, c])
    expect(items.nth(0).locator(".order-position")).to_have_text("1 of 3")


def test_reorder_with_the_keyboard_only(web_server, context, page):
    me = Account(web_server)
    album, (a, b, c, d) = album_with(me, 4)
    me.sign_in(context)
    page.goto(f"/albums/{album['id']}")
    expect(page.locator("li.order-item")).to_have_count(4)

    # Tab from the last control before the list until the first item has focus.
    page.get_by_role("link", name="Open the album page").focus()
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.fileId") == a:
            break
    assert page.evaluate("document.activeElement.dataset.fileId") == a
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(page.locator("#status")).to_have_text("Pic A moved to position 3 of 4")
    assert page.evaluate("document.activeElement.dataset.fileId") == a  # focus stays on it
    eventually(lambda: order_on_server(me, album["id"]) == [b, c, a, d])

    page.keyboard.press("ArrowUp")
    eventually(lambda: order_on_server(me, album["id"]) == [b, a, c, d])

    # The Move buttons, pressed with Enter and Space.
    page.get_by_role("button", name="Move up: Pic D").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_have_text("Pic D moved to position 3 of 4")
    expect(page.get_by_role("button", name="Move up: Pic D")).to_be_focused()
    page.keyboard.press("Space")
    eventually(lambda: order_on_server(me, album["id"]) == [b, d, a, c])
    page.reload()
    expect(page.locator("li.order-item")).to_have_count(4)
    assert order_on_page(page) == [b, d, a, c]
    expect(page.get_by_role("button", name="Move up: Pic B")).to_be_disabled()
    expect(page.get_by_role("button", name="Move down: Pic C")).to_be_disabled()


def test_cover_and_removing_a_file(web_server, context, page):
    me = Account(web_server)
    album, (a, b, c) = album_with(me, 3)
    me.sign_in(context)
    page.goto(f"/albums/{album['id']}")
    cover = page.get_by_role("button", name="Use as cover: Pic B")
    cover.click()
    expect(page.locator("#status")).to_have_text("Pic B is now the cover")
    expect(cover).to_have_attribute("aria-pressed", "true")
    assert me.album(album["id"])["coverFileId"] == b

    page.goto("/albums")
    card = page.locator(f'li.album-card[data-album-id="{album["id"]}"]')
    expect(card.locator("img")).to_have_attribute("data-state", "loaded")
    expect(card.locator("img")).to_have_attribute("data-file-id", b)
    expect(card.locator(".tile-meta")).to_have_text("3 images · Public")

    page.goto(f"/albums/{album['id']}")
    page.get_by_role("button", name="Remove Pic B from the album").click()
    expect(page.locator("#status")).to_have_text(
        "Removed Pic B from the album; the image stays in My images"
    )
    expect(page.locator("li.order-item")).to_have_count(2)
    expect(page.get_by_role("heading", name="Images (2)")).to_be_visible()
    stored = me.album(album["id"])
    assert [f["id"] for f in stored["files"]] == [a, c] and stored["coverFileId"] is None
    assert me.file(b)["status"] == "ready"


def test_delete_the_album_keeps_the_files(web_server, context, page):
    me = Account(web_server)
    album, ids = album_with(me, 2)
    dialogs = no_dialogs(page)
    me.sign_in(context)
    page.goto(f"/albums/{album['id']}")
    page.get_by_role("button", name="Delete album…").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    assert me.http.get(f"/api/v1/albums/{album['id']}").status_code == 200
    page.get_by_role("button", name="Delete album…").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete album").click()
    expect(page).to_have_url(re.compile(r"/albums$"))
    assert me.http.get(f"/api/v1/albums/{album['id']}").status_code == 404
    assert all(me.file(i)["status"] == "ready" for i in ids)
    assert dialogs == []


def test_someone_elses_album_is_not_editable(web_server, context, page):
    owner = Account(web_server)
    album, _ = album_with(owner, 1, visibility="public")
    private, _ = album_with(owner, 1, visibility="private")
    other = Account(web_server)
    other.sign_in(context)
    page.goto(f"/albums/{album['id']}")
    expect(page.get_by_text("This album belongs to someone else")).to_be_visible()
    expect(page.get_by_role("button", name="Save details")).to_have_count(0)
    page.goto(f"/albums/{private['id']}")
    expect(page.locator("main [role=alert]")).to_contain_text("not found")
    expect(page.locator("li.order-item")).to_have_count(0)


def test_hostile_titles_in_the_album_editor_are_text(web_server, context, page):
    me = Account(web_server)
    hostile = "<img src=x onerror=alert(1)>"
    f = me.upload(hostile)
    album = me.make_album(hostile, [f["id"]], description="<script>alert(2)</script>")
    dialogs = no_dialogs(page)
    me.sign_in(context)
    page.goto(f"/albums/{album['id']}")
    expect(page.get_by_role("heading", level=1)).to_have_text(hostile)
    expect(page.locator("li.order-item a")).to_have_text(hostile)
    expect(page.get_by_label("Description")).to_have_value("<script>alert(2)</script>")
    page.goto("/albums")
    expect(page.get_by_role("link", name=hostile)).to_be_visible()
    assert page.locator("main img[src='x'], main script").count() == 0
    page.wait_for_timeout(300)
    assert dialogs == []
