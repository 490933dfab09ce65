"""The public pages in a real browser (docs/web.md, "Public pages"): the feed, image and
album pages, link previews, the report dialog by keyboard, noindex, 404 pages and the
owner's view of a private image, hostile text, the CSP, and the phone layout."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from pichr_appliance.testing import sample_image_bytes

from .conftest import PHONE, api_token, create_user, screenshot, sign_in, unique

HOSTILE = '<img src=x onerror=alert(1)>"&'


class Api:
    """Arranging data through the JSON API, as a user of ``server``."""

    def __init__(self, server: Any, username: str) -> None:
        self.account = create_user(server, username)
        self.url = server.url
        self.headers = {"Authorization": f"Bearer {api_token(server, username)}"}

    def upload(self, title: str, size=(1200, 800), **fields: Any) -> dict[str, Any]:
        data = sample_image_bytes("JPEG", size=size, color=(30, 120, 200))
        body = {"filename": "photo.jpg", "mime": "image/jpeg", "bytes": len(data),
                "title": title, **fields}  # fmt: skip
        r = httpx.post(f"{self.url}/api/v1/upload/presign", headers=self.headers, json=body)
        assert r.status_code == 201, r.text
        r = httpx.put(r.json()["uploadUrl"], content=data, headers={"Content-Type": "image/jpeg"})
        assert r.status_code == 200, r.text
        return httpx.get(
            f"{self.url}/api/v1/files/{r.json()['fileId']}", headers=self.headers
        ).json()

    def album(self, title: str, files: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
        body = {"title": title, "fileIds": [f["id"] for f in files], **fields}
        r = httpx.post(f"{self.url}/api/v1/albums", headers=self.headers, json=body)
        assert r.status_code == 201, r.text
        return r.json()


@pytest.fixture(scope="module")
def owner(web_server) -> Api:
    return Api(web_server, unique("owner"))


@pytest.fixture(scope="module")
def shared(owner) -> dict[str, Any]:
    """A public image, an unlisted one, a private one, and albums of them."""
    public = owner.upload(f"Harbour {unique()}", description="Boats at dawn.", tags=["sea"])
    unlisted = owner.upload(f"Unlisted {unique()}", visibility="unlisted")
    private = owner.upload(f"Private {unique()}", visibility="private", size=(400, 600))
    return {
        "public": public,
        "unlisted": unlisted,
        "private": private,
        "album": owner.album(f"Trip {unique()}", [public, private], description="Two days."),
        "private_album": owner.album(f"Hidden {unique()}", [private], visibility="private"),
    }


def loaded(img) -> bool:
    return img.evaluate("i => i.complete && i.naturalWidth > 0")


def test_the_feed_shows_a_public_file_and_leads_to_its_page(page, shared):
    public = shared["public"]
    page.goto("/")
    tile = page.get_by_role("link", name=public["title"])
    tile.scroll_into_view_if_needed()
    img = tile.locator("img")
    assert loaded(img) and re.fullmatch(r"/i/\w+\?w=\d+", img.get_attribute("src"))
    assert page.get_by_role("link", name=shared["private"]["title"]).count() == 0
    assert page.get_by_role("link", name=shared["unlisted"]["title"]).count() == 0
    tile.click()
    page.wait_for_url(f"**/v/{public['id']}")
    assert page.get_by_role("heading", level=1).text_content() == public["title"]
    assert loaded(page.get_by_role("img", name=public["title"]))
    screenshot(page, "public-image-desktop")


def test_image_page_link_preview_tags(page, web_server, shared):
    public = shared["public"]
    page.goto(f"/v/{public['id']}")

    def meta(key: str) -> str:
        return page.locator(f'meta[property="{key}"], meta[name="{key}"]').get_attribute("content")

    assert meta("og:url") == f"{web_server.url}/v/{public['id']}"
    image = meta("og:image")
    assert re.fullmatch(re.escape(f"{web_server.url}/i/{public['id']}") + r"\?w=\d+", image)
    width, height = int(meta("og:image:width")), int(meta("og:image:height"))
    assert abs(width / height - 1200 / 800) < 0.01 and width <= 1200
    assert meta("og:title") == public["title"] and meta("og:description") == "Boats at dawn."
    assert meta("og:image:alt") == public["title"]
    assert meta("twitter:card") == "summary_large_image"
    fetched = page.request.get(image)
    assert fetched.status == 200 and fetched.headers["content-type"].startswith("image/")
    # The copy fields carry the direct link, and the buttons copy it.
    field = page.get_by_label("Direct link")
    assert field.input_value() == public["url"]
    page.get_by_role("button", name="Copy Direct link").click()
    assert page.evaluate("navigator.clipboard.readText()") == public["url"]
    page.locator("#status").filter(has_text="Copied").wait_for()


def test_report_dialog_by_keyboard(page, web_server, shared):
    public = shared["public"]
    page.goto(f"/v/{public['id']}")
    report = page.get_by_role("button", name="Report")
    report.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Report this image")
    assert dialog.is_visible()
    assert page.evaluate("document.activeElement.id") == "report-reason"
    page.keyboard.press("Escape")  # closes without sending
    assert not dialog.is_visible()

    report.focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # "Send report" without a reason
    assert dialog.get_by_role("alert").text_content() == "Choose a reason for the report."
    assert page.evaluate("document.activeElement.id") == "report-reason"
    page.keyboard.press("ArrowDown")  # the first reason
    assert page.get_by_label("Reason").input_value() == "illegal"
    for _ in range(3):
        page.keyboard.press("ArrowDown")
    assert page.get_by_label("Reason").input_value() == "copyright"
    page.keyboard.press("Tab")
    page.keyboard.type("This is my photo, used without permission.")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.locator("#status").filter(has_text="Thank you").wait_for()
    assert not dialog.is_visible()
    assert page.evaluate("document.activeElement.dataset.reportOpen") == ""

    admin = unique("admin")
    create_user(web_server, admin, "admin")
    queue = httpx.get(
        f"{web_server.url}/api/v1/moderation/queue",
        headers={"Authorization": f"Bearer {api_token(web_server, admin)}"},
    ).json()["queue"]
    group = [g for g in queue if g["targetId"] == public["id"]][0]
    assert group["reports"][0]["reason"] == "copyright"

    # A second report from the same address: the server's words, in the dialog.
    report.focus()
    page.keyboard.press("Enter")
    page.get_by_label("Reason").select_option("spam")
    dialog.get_by_role("button", name="Send report").click()
    alert = dialog.get_by_role("alert")
    alert.filter(has_text=re.compile(r"\w")).wait_for()
    assert "already" in alert.text_content().lower() and dialog.is_visible()
    screenshot(page, "public-report-dialog")


def test_album_page_and_its_report_button(page, shared):
    album = shared["album"]
    page.goto(album["url"])
    assert page.get_by_role("heading", level=1).text_content() == album["title"]
    grid = page.get_by_role("list", name=f"Images in {album['title']}")
    assert grid.get_by_role("link").count() == 1  # the private file is not shown
    assert grid.get_by_role("link", name=shared["public"]["title"]).is_visible()
    assert page.locator('meta[property="og:image"]').get_attribute("content").startswith("http")
    page.get_by_role("button", name="Report").click()
    assert page.get_by_role("dialog", name="Report this album").is_visible()
    screenshot(page, "public-album-desktop")


def test_unlisted_pages_say_noindex(page, shared):
    answer = page.goto(f"/v/{shared['unlisted']['id']}")
    assert answer.status == 200 and answer.headers["x-robots-tag"] == "noindex"
    assert page.locator('meta[name="robots"]').get_attribute("content") == "noindex"


def test_private_things_are_404_pages_except_for_their_owner(
    page, context, web_server, owner, shared
):
    private, album = shared["private"], shared["private_album"]
    for path in (f"/v/{private['id']}", f"/a/{album['id']}"):
        answer = page.goto(path)
        assert answer.status == 404
        assert page.get_by_role("heading", level=1).text_content() == "Nothing here"
        assert private["title"] not in page.content()
    screenshot(page, "public-404")

    someone = unique("someone")
    create_user(web_server, someone)
    sign_in(context, web_server, someone)
    page.goto(f"/v/{private['id']}")
    page.get_by_role("link", name=someone).wait_for()  # signed in, and still the 404 page
    assert page.get_by_role("heading", level=1).text_content() == "Nothing here"

    context.clear_cookies()
    sign_in(context, web_server, owner.account["username"])
    page.goto(f"/v/{private['id']}")
    heading = page.get_by_role("heading", level=1, name=private["title"])
    heading.wait_for()
    img = page.get_by_role("img", name=private["title"])
    page.wait_for_function("i => i.complete && i.naturalWidth > 0", arg=img.element_handle())
    assert img.get_attribute("src").startswith("blob:")
    assert "private" in page.locator(".private-notice").text_content()
    assert page.get_by_label("Direct link").input_value() == private["url"]

    page.goto(f"/a/{album['id']}")
    page.get_by_role("heading", level=1, name=album["title"]).wait_for()
    thumb = page.get_by_role("link", name=private["title"]).locator("img")
    page.wait_for_function("i => i.complete && i.naturalWidth > 0", arg=thumb.element_handle())


def test_age_restricted_images_only_in_a_signed_in_adults_browser(page, context, web_server, owner):
    file = owner.upload(f"Grown-up {unique()}", description="for adults")
    r = httpx.post(
        f"{web_server.url}/api/v1/moderation/report", json={"fileId": file["id"], "reason": "nsfw"}
    )
    assert r.status_code == 201, r.text
    admin = unique("admin")
    create_user(web_server, admin, "admin")
    r = httpx.post(
        f"{web_server.url}/api/v1/moderation/reports/{r.json()['id']}/resolve",
        headers={"Authorization": f"Bearer {api_token(web_server, admin)}"},
        json={"action": "age_restrict"},
    )
    assert r.status_code == 200, r.text

    answer = page.goto(f"/v/{file['id']}")
    assert answer.status == 403
    assert page.get_by_role("heading", level=1).text_content() == "Age-restricted content"
    assert file["title"] not in page.content() and "for adults" not in page.content()
    page.get_by_role("link", name="Sign in", exact=True).first.wait_for()

    adult = unique("adult")  # created with --age-confirmed
    create_user(web_server, adult)
    sign_in(context, web_server, adult)
    page.goto(f"/v/{file['id']}")
    page.get_by_role("heading", level=1, name=file["title"]).wait_for()
    assert "age-restricted" in page.locator(".private-notice").text_content()
    img = page.get_by_role("img", name=file["title"])
    page.wait_for_function("i => i.complete && i.naturalWidth > 0", arg=img.element_handle())


def test_hostile_text_renders_as_text(page, context, web_server, owner):
    file = owner.upload(HOSTILE, description=HOSTILE, tags=["<b>x</b>"])
    album = owner.album(HOSTILE, [file], description=HOSTILE)
    private = owner.upload(HOSTILE, visibility="private")
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    for path in (f"/v/{file['id']}", f"/a/{album['id']}"):
        page.goto(path)
        assert page.get_by_role("heading", level=1).text_content() == HOSTILE
        assert page.locator("main .description").text_content() == HOSTILE
        assert page.locator("main img[src='x']").count() == 0
    page.goto(f"/v/{file['id']}")
    assert page.get_by_role("link", name="#<b>x</b>").is_visible()
    page.goto("/")
    assert page.get_by_role("link", name=HOSTILE).first.is_visible()
    sign_in(context, web_server, owner.account["username"])
    page.goto(f"/v/{private['id']}")
    page.get_by_role("heading", level=1, name=HOSTILE).wait_for()  # rendered by the script
    assert page.locator("main img[src='x']").count() == 0
    assert dialogs == []


def test_every_html_answer_carries_the_csp(page, shared):
    documents: list[Any] = []
    page.on(
        "response",
        lambda r: documents.append(r) if r.request.resource_type == "document" else None,
    )
    paths = ["/", f"/v/{shared['public']['id']}", shared["album"]["url"],
             f"/v/{shared['private']['id']}", "/no/such/page", "/signin"]  # fmt: skip
    for path in paths:
        page.goto(path)
    assert len(documents) == len(paths)
    for answer in documents:
        csp = answer.headers.get("content-security-policy", "")
        assert "script-src 'self'" in csp and "default-src 'none'" in csp, answer.url
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp


def test_phone_layout_has_no_horizontal_scroll(browser, web_server, shared):
    context = browser.new_context(base_url=web_server.url, viewport=PHONE)
    try:
        tab = context.new_page()
        pages = {
            "feed": "/",
            "image": f"/v/{shared['public']['id']}",
            "album": shared["album"]["url"],
            "404": "/no/such/page",
        }
        for name, path in pages.items():
            tab.goto(path)
            tab.wait_for_load_state("networkidle")
            wide = tab.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert wide <= 0, f"{path} scrolls sideways by {wide}px at phone width"
            screenshot(tab, f"public-{name}-phone")
        tab.goto(f"/v/{shared['public']['id']}")
        tab.get_by_role("button", name="Report").click()
        box = tab.get_by_role("dialog").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    finally:
        context.close()
