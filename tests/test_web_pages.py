"""The server-rendered public pages (docs/web.md, "Public pages"): the feed, image and
album pages, their link-preview tags, the 404/410/403 pages, and what never reaches
them (private, age-restricted, held things), through a real server."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest

from pichr_appliance.models import Album, File, User
from pichr_appliance.testing import sample_image_bytes

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
HOSTILE = '<img src=x onerror=alert(1)>"&'
NO_LIMITS = {"rate_limits": {"enabled": False}}


@pytest.fixture
def pichr_overrides():
    return NO_LIMITS  # some tests upload more than a free plan's hourly 20


class Page(HTMLParser):
    """The tags of an HTML answer: ``meta`` by property/name, every element's attributes."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def all(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [
            a for t, a in self.elements if t == tag and all(a.get(k) == v for k, v in attrs.items())
        ]

    def meta(self, key: str) -> str | None:
        for attrs in self.all("meta"):
            if attrs.get("property") == key or attrs.get("name") == key:
                return attrs.get("content")
        return None


def html_page(client, path: str, status: int = 200):
    r = client.get(path, headers=HTML)
    assert r.status == status, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    return r, Page(r.text)


def upload(client, user, title="A cat", size=(640, 480), **fields):
    data = sample_image_bytes("PNG", size=size, color=(len(title) * 7 % 255, 90, 40))
    return client.upload(user, data, title=title, **fields)


def test_feed_lists_public_files_newest_first_with_variant_thumbnails(pichr_client, pichr_user):
    older = upload(pichr_client, pichr_user, "older one")
    newer = upload(pichr_client, pichr_user, "newer one")
    hidden = [
        upload(pichr_client, pichr_user, "unlisted one", visibility="unlisted"),
        upload(pichr_client, pichr_user, "private one", visibility="private"),
        upload(pichr_client, pichr_user, "restricted one"),
    ]
    pichr_client.run(File.filter(id=hidden[2]["id"]).update(age_restricted=True))
    r, page = html_page(pichr_client, "/")
    links = [a["href"] for a in page.all("a", **{"class": "tile"})]
    assert links == [f"/v/{newer['id']}", f"/v/{older['id']}"]
    for file in hidden:
        assert file["id"] not in r.text and file["title"] not in r.text
    thumb = page.all("img", alt="newer one")[0]
    sizes = pichr_client.runtime.settings.images.variant_sizes
    assert thumb["src"] == f"/i/{newer['id']}?w=256" and thumb["loading"] == "lazy"
    for candidate in thumb["srcset"].split(", "):
        url, width = candidate.split(" ")
        assert int(url.rsplit("=", 1)[1]) in sizes and width.endswith("w")
    assert (thumb["width"], thumb["height"]) == ("256", "192")  # 640x480 at 256 wide
    assert pichr_client.get(thumb["src"]).status == 200
    assert page.meta("og:url") == pichr_client.runtime.settings.public_url + "/"


def test_feed_pages_with_plain_links_and_filters_by_tag(pichr_client, pichr_user):
    for n in range(26):
        upload(pichr_client, pichr_user, f"picture {n}", tags=["even" if n % 2 else "odd"])
    _, first = html_page(pichr_client, "/")
    assert len(first.all("a", **{"class": "tile"})) == 24
    assert first.all("a", rel="next")[0]["href"] == "/?page=2" and not first.all("a", rel="prev")
    _, second = html_page(pichr_client, "/?page=2")
    assert len(second.all("a", **{"class": "tile"})) == 2
    assert second.all("a", rel="prev")[0]["href"] == "/" and not second.all("a", rel="next")
    r, beyond = html_page(pichr_client, "/?page=9")
    assert not beyond.all("a", **{"class": "tile"}) and "no more images" in r.text
    html_page(pichr_client, "/?page=abc")  # anything else is the first page
    r, tagged = html_page(pichr_client, "/?tag=odd")
    assert len(tagged.all("a", **{"class": "tile"})) == 13 and "Tagged “odd”" in r.text


@pytest.mark.parametrize("pichr_overrides", [{**NO_LIMITS, "web": {"public_feed": False}}])
def test_without_the_public_feed_the_front_page_is_the_sign_in_view(pichr_client, pichr_user):
    upload(pichr_client, pichr_user, "not on the front page")
    r, page = html_page(pichr_client, "/")
    assert page.all("main", **{"data-view": "auth"}) and "not on the front page" not in r.text


def test_image_page_shows_the_file_and_absolute_preview_tags(pichr_client, pichr_user):
    file = upload(
        pichr_client, pichr_user, "Sunset", size=(1600, 900),
        description="Over the bay.\nSecond line.", tags=["sky", "sea"],
    )  # fmt: skip
    settings = pichr_client.runtime.settings
    r, page = html_page(pichr_client, f"/v/{file['id']}")
    assert "noindex" not in r.text and "x-robots-tag" not in r.headers
    image = page.all("img", alt="Sunset")[0]
    assert image["src"] == f"/i/{file['id']}?w=1280"
    assert (image["width"], image["height"]) == ("1280", "720")
    assert all(
        int(c.split(" ")[0].rsplit("=", 1)[1]) in settings.images.variant_sizes
        for c in image["srcset"].split(", ")
    )
    assert page.meta("og:title") == "Sunset" and page.meta("og:type") == "article"
    assert page.meta("og:description") == "Over the bay. Second line."
    assert page.meta("og:url") == f"{settings.public_url}/v/{file['id']}"
    assert page.meta("og:site_name") == settings.web.site_name
    assert page.meta("og:image") == f"{settings.image_base_url}/{file['id']}?w=1280"
    assert (page.meta("og:image:width"), page.meta("og:image:height")) == ("1280", "720")
    assert page.meta("og:image:alt") == "Sunset"
    assert page.meta("twitter:card") == "summary_large_image"
    preview = pichr_client.get(page.meta("og:image").removeprefix(settings.public_url))
    assert preview.status == 200  # a variant /i/ really makes, and at that size
    import io

    from PIL import Image

    assert Image.open(io.BytesIO(preview.content)).size == (1280, 720)
    for text in ("Over the bay.", "#sky", "#sea", pichr_user["user"]["username"]):
        assert text in r.text
    values = [i["value"] for i in page.all("input", readonly="")]
    assert values[0] == file["url"]
    assert f"[![Sunset]({file['url']})]({settings.public_url}/v/{file['id']})" in values
    assert f"[img]{file['url']}[/img]" in values[2]
    assert values[3].startswith(f'<a href="{settings.public_url}/v/{file["id"]}"><img src=')
    assert page.all("a", href=f"/i/{file['id']}?download=1")
    reasons = [o["value"] for o in page.all("option")]
    assert reasons == ["", "illegal", "csam", "nsfw", "copyright", "harassment", "spam", "other"]
    assert page.all("dialog", **{"data-kind": "file", "data-target": file["id"]})
    assert pichr_client.head(f"/v/{file['id']}").status == 200


def test_unlisted_pages_are_not_indexed(pichr_client, pichr_user):
    file = upload(pichr_client, pichr_user, "unlisted", visibility="unlisted")
    r, page = html_page(pichr_client, f"/v/{file['id']}")
    assert page.meta("robots") == "noindex" and r.headers["x-robots-tag"] == "noindex"
    album = pichr_client.post(
        "/api/v1/albums", headers=pichr_user["headers"],
        json={"title": "secret trip", "visibility": "unlisted", "fileIds": [file["id"]]},
    ).json  # fmt: skip
    r, page = html_page(pichr_client, f"/a/{album['id']}")
    assert page.meta("robots") == "noindex" and r.headers["x-robots-tag"] == "noindex"
    assert page.all("a", href=f"/v/{file['id']}")  # an unlisted album lists unlisted files


def test_what_anonymous_viewers_may_not_see_is_a_404_page(pichr_client, pichr_user):
    private = upload(pichr_client, pichr_user, "my private thing", visibility="private")
    of_disabled = pichr_client.signup()
    theirs = upload(pichr_client, of_disabled, "of a disabled account")
    pichr_client.run(User.filter(id=of_disabled["user"]["id"]).update(disabled=True))
    held = upload(pichr_client, pichr_user, "held by moderation")
    pichr_client.run(File.filter(id=held["id"]).update(hidden=True))
    for file in (private, theirs, held):
        r, page = html_page(pichr_client, f"/v/{file['id']}", 404)
        assert file["title"] not in r.text and not page.meta("og:image")
        assert page.all("section", **{"data-lookup": "file"})  # the owner's browser retries
    r, _ = html_page(pichr_client, "/v/file_doesnotexist", 404)
    assert "Nothing here" in r.text
    html_page(pichr_client, "/v/<script>", 404)


def test_removed_and_expired_files_are_410_pages(pichr_client, pichr_user):
    removed = upload(pichr_client, pichr_user, "taken down picture")
    pichr_client.run(File.filter(id=removed["id"]).update(status="removed"))
    expired = upload(pichr_client, pichr_user, "outdated picture")
    past = datetime.now(UTC) - timedelta(hours=1)
    pichr_client.run(File.filter(id=expired["id"]).update(expires_at=past))
    for file in (removed, expired):
        r, page = html_page(pichr_client, f"/v/{file['id']}", 410)
        assert file["title"] not in r.text and not page.meta("og:image")
        assert "This is gone" in r.text


def test_age_restricted_files_leak_nothing_into_the_page(pichr_client, pichr_user):
    file = upload(pichr_client, pichr_user, "grown-up title", description="grown-up words")
    pichr_client.run(File.filter(id=file["id"]).update(age_restricted=True))
    r, page = html_page(pichr_client, f"/v/{file['id']}", 403)
    for secret in ("grown-up", f"/i/{file['id']}", "og:image"):
        assert secret not in r.text
    assert page.all("a", href=f"/signin?next=/v/{file['id']}")
    assert page.all("section", **{"data-lookup": "file"})


def test_album_page_shows_what_anyone_may_see_with_a_cover_preview(pichr_client, pichr_user):
    shown = upload(pichr_client, pichr_user, "shown", size=(800, 400))
    cover = upload(pichr_client, pichr_user, "the cover", size=(400, 800))
    private = upload(pichr_client, pichr_user, "private in album", visibility="private")
    unlisted = upload(pichr_client, pichr_user, "unlisted in album", visibility="unlisted")
    ids = [shown["id"], cover["id"], private["id"], unlisted["id"]]
    album = pichr_client.post(
        "/api/v1/albums", headers=pichr_user["headers"],
        json={"title": "Holidays", "description": "Summer.", "fileIds": ids,
              "coverFileId": cover["id"], "tags": ["trip"]},
    ).json  # fmt: skip
    settings = pichr_client.runtime.settings
    r, page = html_page(pichr_client, f"/a/{album['id']}")
    tiles = [a["href"] for a in page.all("a", **{"class": "tile"})]
    assert tiles == [f"/v/{shown['id']}", f"/v/{cover['id']}"]
    assert "private in album" not in r.text and "unlisted in album" not in r.text
    for text in ("Holidays", "Summer.", pichr_user["user"]["username"], "2 images", "#trip"):
        assert text in r.text
    assert page.meta("og:url") == album["url"] == f"{settings.public_url}/a/{album['id']}"
    assert page.meta("og:image") == f"{settings.image_base_url}/{cover['id']}?w=1280"
    assert (page.meta("og:image:width"), page.meta("og:image:height")) == ("400", "800")
    assert page.all("dialog", **{"data-kind": "album", "data-target": album["id"]})

    pichr_client.patch(
        f"/api/v1/albums/{album['id']}", headers=pichr_user["headers"], json={"coverFileId": None}
    )
    _, page = html_page(pichr_client, f"/a/{album['id']}")
    assert page.meta("og:image") == f"{settings.image_base_url}/{shown['id']}?w=1280"


def test_private_and_removed_albums(pichr_client, pichr_user):
    file = upload(pichr_client, pichr_user, "in a private album")
    private = pichr_client.post(
        "/api/v1/albums", headers=pichr_user["headers"],
        json={"title": "private album", "visibility": "private", "fileIds": [file["id"]]},
    ).json  # fmt: skip
    r, page = html_page(pichr_client, f"/a/{private['id']}", 404)
    assert "private album" not in r.text and page.all("section", **{"data-lookup": "album"})
    html_page(pichr_client, "/a/alb_nope", 404)
    removed = pichr_client.post(
        "/api/v1/albums", headers=pichr_user["headers"], json={"title": "removed album"}
    ).json
    pichr_client.run(Album.filter(id=removed["id"]).update(removed_at=datetime.now(UTC)))
    r, _ = html_page(pichr_client, f"/a/{removed['id']}", 410)
    assert "removed album" not in r.text


def test_album_pages_page(pichr_client, pichr_user):
    ids = [upload(pichr_client, pichr_user, f"n{n}")["id"] for n in range(25)]
    album = pichr_client.post(
        "/api/v1/albums", headers=pichr_user["headers"], json={"title": "big", "fileIds": ids}
    ).json
    _, first = html_page(pichr_client, f"/a/{album['id']}")
    assert len(first.all("a", **{"class": "tile"})) == 24
    assert first.all("a", rel="next")[0]["href"] == f"/a/{album['id']}?page=2"
    _, second = html_page(pichr_client, f"/a/{album['id']}?page=2")
    assert [a["href"] for a in second.all("a", **{"class": "tile"})] == [f"/v/{ids[24]}"]
    assert second.meta("og:image").endswith(f"/{ids[0]}?w=1280")  # the album's first file


def test_hostile_text_is_rendered_as_text(pichr_client, pichr_user):
    file = upload(pichr_client, pichr_user, HOSTILE, description=HOSTILE, tags=["<b>bold</b>"])
    album = pichr_client.post(
        "/api/v1/albums", headers=pichr_user["headers"],
        json={"title": HOSTILE, "description": HOSTILE, "fileIds": [file["id"]]},
    ).json  # fmt: skip
    for path in ("/", f"/v/{file['id']}", f"/a/{album['id']}"):
        r, page = html_page(pichr_client, path)
        assert "<img src=x" not in r.text and "<b>bold" not in r.text
        assert "&lt;img src=x onerror=alert(1)&gt;&#34;&amp;" in r.text
        assert not [e for e in page.elements if "onerror" in e[1]]
        assert [a for a in page.all("img") if a.get("alt") == HOSTILE]  # alt from the title
    _, page = html_page(pichr_client, f"/v/{file['id']}")
    assert page.meta("og:title") == HOSTILE and page.meta("og:image:alt") == HOSTILE
    embed = [i["value"] for i in page.all("input", readonly="")][3]
    assert 'alt="&lt;img src=x onerror=alert(1)&gt;&#34;&amp;"' in embed


def test_unknown_paths_are_a_404_page_for_browsers_and_json_for_the_rest(pichr_client):
    r, page = html_page(pichr_client, "/no/such/page", 404)
    assert "Nothing here" in r.text and r.headers["vary"] == "Accept"
    assert page.meta("robots") == "noindex"
    for accept in ("*/*", "application/json", "", "text/html;q=0.5, application/json"):
        r = pichr_client.get("/no/such/page", headers={"Accept": accept})
        assert r.status == 404 and r.json == {"error": "Not found", "code": "not_found"}
    for path in ("/api/v1/nope", "/i/file_nope", "/static/v1/js/nothing.js", "/-/plugin/x"):
        r = pichr_client.get(path, headers=HTML)
        assert r.status == 404 and r.headers["content-type"].startswith("application/json"), path
    r = pichr_client.get("/api/v1/files/file_nope", headers=HTML)
    assert r.status == 404 and r.json["code"] == "not_found"


@pytest.mark.parametrize("pichr_overrides", [{**NO_LIMITS, "web": {"enabled": False}}])
def test_without_the_web_interface_every_page_path_is_the_json_404(pichr_client, pichr_user):
    file = upload(pichr_client, pichr_user, "still served")
    from pichr_appliance.web.assets import static_url

    for path in ("/", f"/v/{file['id']}", "/a/alb_x", "/signin", static_url("js/app.js")):
        r = pichr_client.get(path, headers=HTML)
        assert r.status == 404 and r.json == {"error": "Not found", "code": "not_found"}, path
    assert pichr_client.get(f"/i/{file['id']}").status == 200


def test_every_html_answer_carries_the_csp(pichr_client, pichr_user):
    file = upload(pichr_client, pichr_user, "csp")
    restricted = upload(pichr_client, pichr_user, "csp restricted")
    pichr_client.run(File.filter(id=restricted["id"]).update(age_restricted=True))
    paths = {"/": 200, f"/v/{file['id']}": 200, f"/v/{restricted['id']}": 403,
             "/v/file_none": 404, "/a/alb_none": 404, "/nowhere": 404, "/signin": 200}  # fmt: skip
    for path, status in paths.items():
        r = pichr_client.get(path, headers=HTML)
        assert r.status == status, path
        csp = r.headers["content-security-policy"]
        assert re.search(r"script-src 'self';", csp) and "frame-ancestors 'none'" in csp
        assert "<script>" not in r.text and " style=" not in r.text and "onclick" not in r.text
