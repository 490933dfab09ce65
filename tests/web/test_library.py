"""My images (/my) in a real browser against a real server: the grid and its
thumbnails, filters and sort kept in the URL, paging, bulk actions, editing, and
hostile text shown as text."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from .conftest import serve
from .library_helpers import Account, eventually, no_dialogs


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory):
    """This module's server counts views every 0.2 s (the "most viewed" sort)."""
    server = serve(
        tmp_path_factory.mktemp("weblib"), env={"PICHR_IMAGES__COUNT_FLUSH_INTERVAL": "0.2"}
    )
    try:
        yield server
    finally:
        server.stop()


def tile(tab: Any, title: str) -> Any:
    return tab.locator("li.tile").filter(has=tab.locator(".tile-title", has_text=title))


def shown_titles(tab: Any) -> list[str]:
    return tab.locator("li.tile .tile-title").all_inner_texts()


def test_grid_shows_thumbnails_public_with_srcset_private_as_object_url(web_server, context, page):
    me = Account(web_server)
    public = me.upload("Harbour at dawn", visibility="public")
    me.upload("Unlisted street", visibility="unlisted")
    private = me.upload("Private note", visibility="private")
    me.sign_in(context)
    page.goto("/my")
    expect(page.locator("li.tile")).to_have_count(3)
    expect(page.get_by_text("Showing 3 of 3 images")).to_be_visible()

    img = page.get_by_role("img", name="Harbour at dawn")
    assert img.get_attribute("src") == f"/i/{public['id']}?w=256"
    assert img.get_attribute("srcset") == (
        f"/i/{public['id']}?w=256 256w, /i/{public['id']}?w=480 480w"
    )
    assert img.get_attribute("sizes") == "(max-width: 600px) 50vw, 200px"
    assert img.get_attribute("loading") == "lazy"
    assert img.get_attribute("width") == "256" and img.get_attribute("height") == "171"
    expect(img).to_have_attribute("data-state", "loaded")
    assert img.evaluate("i => i.naturalWidth") > 0
    # The tile links to the image page.
    link = tile(page, "Harbour at dawn").locator("a.thumb")
    assert link.get_attribute("href") == f"/v/{public['id']}"

    # A private image cannot be fetched by an <img> (no Bearer): an object URL instead.
    secret = page.get_by_role("img", name="Private note")
    expect(secret).to_have_attribute("src", re.compile(r"^blob:"))
    expect(secret).to_have_attribute("data-state", "loaded")
    assert secret.evaluate("i => i.naturalWidth") > 1  # not the 1x1 stand-in
    assert httpx.get(f"{web_server.url}/i/{private['id']}?w=256").status_code == 404

    # Once the tile leaves the page (another filter), its object URL is revoked.
    blob_url = secret.get_attribute("src")
    loads = """u => new Promise((done) => {
      const probe = new Image();
      probe.onload = () => done(true);
      probe.onerror = () => done(false);
      probe.src = u;
    })"""
    assert page.evaluate(loads, blob_url) is True
    page.get_by_label("Visibility", exact=True).select_option("public")
    expect(page.locator("li.tile")).to_have_count(1)
    eventually(lambda: page.evaluate(loads, blob_url) is False)


def test_untitled_image_alt_text(web_server, context, page):
    me = Account(web_server)
    me.upload("")
    me.sign_in(context)
    page.goto("/my")
    expect(page.get_by_role("img", name="Untitled image")).to_have_count(1)


def test_filters_and_sort_change_the_grid_and_survive_reload(web_server, context, page):
    me = Account(web_server)
    first = me.upload("Alpha cat", visibility="public", tags=["cats"])
    me.upload("Beta dog", visibility="private", tags=["dogs"])
    third = me.upload("Gamma cat", visibility="unlisted", tags=["cats", "night"])
    album = me.make_album("Cats only", [first["id"], third["id"]])
    for _ in range(6):  # Alpha becomes the most viewed
        assert httpx.get(f"{web_server.url}/i/{first['id']}").status_code == 200
    eventually(lambda: me.file(first["id"])["viewCount"] >= 6)
    me.sign_in(context)
    page.goto("/my")
    expect(page.locator("li.tile")).to_have_count(3)
    assert shown_titles(page) == ["Gamma cat", "Beta dog", "Alpha cat"]  # newest first

    page.get_by_label("Sort").select_option("created")
    expect(page.locator("li.tile .tile-title").first).to_have_text("Alpha cat")
    assert shown_titles(page) == ["Alpha cat", "Beta dog", "Gamma cat"]
    page.get_by_label("Sort").select_option("views")
    expect(page.locator("li.tile .tile-title").first).to_have_text("Alpha cat")
    assert "sort=views" in page.url

    page.get_by_label("Visibility", exact=True).select_option("private")
    expect(page.locator("li.tile")).to_have_count(1)
    expect(tile(page, "Beta dog")).to_have_count(1)
    page.get_by_label("Visibility", exact=True).select_option("")

    page.get_by_label("Tag", exact=True).fill("cats")
    page.get_by_label("Search").fill("gamma")
    page.get_by_label("Search").press("Enter")
    expect(page.locator("li.tile")).to_have_count(1)
    expect(tile(page, "Gamma cat")).to_have_count(1)
    assert "tag=cats" in page.url and "q=gamma" in page.url

    page.reload()
    expect(page.locator("li.tile")).to_have_count(1)
    expect(page.get_by_label("Tag", exact=True)).to_have_value("cats")
    expect(page.get_by_label("Search")).to_have_value("gamma")
    expect(page.get_by_label("Sort")).to_have_value("views")

    page.get_by_label("Search").fill("")
    page.get_by_label("Tag", exact=True).fill("")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("li.tile")).to_have_count(3)
    page.get_by_label("Album").select_option(album["id"])
    expect(page.locator("li.tile")).to_have_count(2)
    page.reload()
    expect(page.get_by_label("Album")).to_have_value(album["id"])
    expect(page.locator("li.tile")).to_have_count(2)
    assert set(shown_titles(page)) == {"Alpha cat", "Gamma cat"}

    page.get_by_label("Visibility", exact=True).select_option("private")
    expect(page.get_by_text("No images match these filters.")).to_be_visible()


def test_pages_load_by_scrolling_or_the_button(web_server, context, page):
    me = Account(web_server)
    for n in range(5):
        me.upload(f"Page pic {n}")
    me.sign_in(context)
    page.set_viewport_size({"width": 375, "height": 500})
    page.goto("/my?limit=2")
    expect(page.locator("li.tile")).to_have_count(2)
    expect(page.get_by_text("Showing 2 of 5 images")).to_be_visible()
    more = page.get_by_role("button", name="Load more")
    more.focus()
    page.keyboard.press("Enter")
    # Two more; on a small screen the sentinel may then be in view and load the last
    # page at once, so "at least four": the fourth tile exists. (A plain-expression
    # wait_for_function is evaluated with eval() while it polls, which the page's CSP
    # refuses whenever the tiles are not there at the first check.)
    expect(page.locator("li.tile").nth(3)).to_be_attached()
    page.mouse.wheel(0, 5000)  # the sentinel reaches the viewport: the last page loads
    expect(page.locator("li.tile")).to_have_count(5)
    expect(more).to_be_hidden()
    assert len(set(shown_titles(page))) == 5


def test_select_two_and_add_them_to_a_new_album(web_server, context, page):
    me = Account(web_server)
    a = me.upload("Album one")
    b = me.upload("Album two")
    me.upload("Left out")
    me.sign_in(context)
    page.goto("/my")
    expect(page.locator("li.tile")).to_have_count(3)
    page.get_by_role("checkbox", name="Select Album one").check()
    page.get_by_role("checkbox", name="Select Album two").focus()
    page.keyboard.press("Space")  # the checkboxes work from the keyboard
    expect(page.get_by_text("2 selected")).to_be_visible()

    page.get_by_role("button", name="Add to album…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_label("Album", exact=True)).to_have_value("")
    dialog.get_by_label("New album title").fill("Made from the grid")
    dialog.get_by_role("button", name="Add to album").click()
    expect(dialog).to_have_count(0)
    expect(page.locator("#status")).to_have_text("Added 2 images to Made from the grid")
    link = page.get_by_role("link", name="Made from the grid")
    album_id = link.get_attribute("href").rsplit("/", 1)[1]
    assert [f["id"] for f in me.album(album_id)["files"]] == [a["id"], b["id"]]

    # Then the third one into the existing album.
    page.get_by_role("checkbox", name="Select Album one").uncheck()
    page.get_by_role("checkbox", name="Select Album two").uncheck()
    page.get_by_role("checkbox", name="Select Left out").check()
    page.get_by_role("button", name="Add to album…").click()
    page.get_by_role("dialog").get_by_label("Album", exact=True).select_option(album_id)
    page.get_by_role("dialog").get_by_role("button", name="Add to album").click()
    expect(page.locator("#status")).to_have_text("Added 1 image to Made from the grid")
    assert len(me.album(album_id)["files"]) == 3


def test_select_all_and_change_visibility_in_bulk(web_server, context, page):
    me = Account(web_server)
    ids = [me.upload(f"Bulk {n}", visibility="public")["id"] for n in range(3)]
    me.sign_in(context)
    page.goto("/my")
    expect(page.locator("li.tile")).to_have_count(3)
    page.get_by_label("Select all shown").check()
    expect(page.get_by_text("3 selected")).to_be_visible()
    page.get_by_label("New visibility").select_option("private")
    page.get_by_role("button", name="Change visibility").click()
    expect(page.locator("#status")).to_have_text("Made private: 3 images")
    assert [me.file(i)["visibility"] for i in ids] == ["private"] * 3
    expect(page.locator("li.tile .tile-meta", has_text="Private")).to_have_count(3)
    expect(page.get_by_role("img", name="Bulk 0")).to_have_attribute("src", re.compile("^blob:"))


def test_edit_title_tags_description_and_expiry(web_server, context, page):
    me = Account(web_server)
    file = me.upload("Old title", tags=["old"])
    me.sign_in(context)
    page.goto("/my")
    page.get_by_role("button", name="Edit Old title").click()
    dialog = page.get_by_role("dialog", name="Edit Old title")
    expect(dialog.get_by_label("Title")).to_have_value("Old title")
    expect(dialog.get_by_label("Tags")).to_have_value("old")
    dialog.get_by_label("Title").fill("New title")
    dialog.get_by_label("Description").fill("Seen from the pier")
    dialog.get_by_label("Tags").fill("Sea, pier , sea")
    dialog.get_by_label("Expires").fill("2099-05-01T12:30")
    dialog.get_by_label("Visibility").select_option("unlisted")
    dialog.get_by_role("button", name="Save changes").click()
    expect(dialog).to_have_count(0)
    expect(page.locator("#status")).to_have_text("Saved New title")
    stored = me.file(file["id"])
    assert stored["title"] == "New title"
    assert stored["description"] == "Seen from the pier"
    assert stored["tags"] == ["sea", "pier"]
    assert stored["visibility"] == "unlisted"
    assert stored["expiresAt"].startswith("2099-05-01")
    card = tile(page, "New title")
    expect(card.locator(".tags li")).to_have_text(["sea", "pier"])
    # Focus came back to the tile's Edit button.
    expect(page.get_by_role("button", name="Edit New title")).to_be_focused()

    # No expiry again; a refused change shows the server's words in the dialog.
    page.get_by_role("button", name="Edit New title").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Expires").fill("")
    dialog.get_by_role("button", name="Save changes").click()
    expect(dialog).to_have_count(0)
    assert me.file(file["id"])["expiresAt"] is None
    page.get_by_role("button", name="Edit New title").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Tags").fill(", ".join(f"t{n}" for n in range(30)))
    dialog.get_by_role("button", name="Save changes").click()
    expect(dialog.get_by_role("alert")).to_contain_text("tags")
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)


def test_delete_asks_first_and_then_deletes(web_server, context, page):
    me = Account(web_server)
    gone = me.upload("Delete me")
    kept = me.upload("Keep me")
    me.sign_in(context)
    page.goto("/my")
    page.get_by_role("checkbox", name="Select Delete me").check()
    page.get_by_role("button", name="Delete…").click()
    dialog = page.get_by_role("dialog", name="Delete 1 image?")
    expect(dialog).to_contain_text("Delete me will be deleted for good")
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.locator("li.tile")).to_have_count(2)
    assert me.http.get(f"/api/v1/files/{gone['id']}").status_code == 200

    page.get_by_role("button", name="Delete…").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete 1 image").click()
    expect(page.locator("#status")).to_have_text("Deleted 1 image")
    expect(page.locator("li.tile")).to_have_count(1)
    expect(page.get_by_text("Showing 1 of 1 image")).to_be_visible()
    assert me.http.get(f"/api/v1/files/{gone['id']}").status_code == 404
    assert me.http.get(f"/api/v1/files/{kept['id']}").status_code == 200


HOSTILE_TITLE = "<img src=x onerror=alert(1)>"
HOSTILE_TAG = '"><script>alert(2)</script>'


def test_hostile_title_and_tag_are_text(web_server, context, page):
    me = Account(web_server)
    file = me.upload(HOSTILE_TITLE, tags=[HOSTILE_TAG], description="<b>bold</b>")
    dialogs = no_dialogs(page)
    me.sign_in(context)
    page.goto("/my")
    card = page.locator(f'li.tile[data-file-id="{file["id"]}"]')
    expect(card.locator(".tile-title")).to_have_text(HOSTILE_TITLE)
    expect(card.locator(".tags li")).to_have_text([HOSTILE_TAG.lower()])
    expect(page.get_by_role("img", name=HOSTILE_TITLE)).to_have_count(1)
    assert page.locator("li.tile img[src='x']").count() == 0
    assert page.locator("li.tile script").count() == 0
    card.get_by_role("button", name=f"Edit {HOSTILE_TITLE}").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_label("Title")).to_have_value(HOSTILE_TITLE)
    expect(dialog.get_by_label("Tags")).to_have_value(HOSTILE_TAG.lower())
    expect(dialog.get_by_label("Description")).to_have_value("<b>bold</b>")
    expect(dialog.get_by_role("heading")).to_have_text(f"Edit {HOSTILE_TITLE}")
    assert dialog.locator("b, img[src='x'], script").count() == 0
    page.wait_for_timeout(300)
    assert dialogs == []


def test_signed_out_visitors_are_sent_to_sign_in(web_server, page):
    page.goto("/my?tag=x")
    expect(page).to_have_url(re.compile(r"/signin\?next=%2Fmy%3Ftag%3Dx$"))
