"""The public pages, rendered on the server: ``/`` (the public feed), ``/v/{fileId}`` (an
image page) and ``/a/{albumId}`` (an album page), with their link previews.

They are rendered for the anonymous viewer only: the pages carry no access token (the
session cookie reaches only ``/api/v1/auth/web``), so what they show is what
``services.access`` shows to nobody in particular, through the same services as
``GET /api/v1/files/public``, ``/files/{id}`` and ``/albums/{id}``. Private and
age-restricted things never reach the HTML or its preview tags; a signed-in owner sees
a private thing through the page script (``static/js/views/public.js``), which asks the
API again with the user's token.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from ..errors import ApiError
from ..models import File, User
from ..schemas.common import OFFSET_MAX
from ..schemas.moderation import REASONS
from ..services import access
from ..services import albums as albums_service
from ..services import files as files_service
from . import links
from .error_pages import error_page
from .pages import render

PER_PAGE = 24
TAG_MAX = 64
DESCRIPTION_PREVIEW = 200

REASON_LABELS = {
    "illegal": "Illegal content",
    "csam": "Sexual content involving a minor",
    "nsfw": "Adult content that is not marked as such",
    "copyright": "Copyright infringement",
    "harassment": "Harassment or hate",
    "spam": "Spam or advertising",
    "other": "Something else",
}
assert set(REASON_LABELS) == set(REASONS)

bp = Blueprint("web_public")


def page_number(request: Request) -> int:
    """``?page=N`` (1-based); anything else is the first page."""
    raw = request.args.get("page", "1")
    number = int(raw) if raw.isascii() and raw.isdigit() else 1
    return max(1, min(number, OFFSET_MAX // PER_PAGE))


def pager(path: str, number: int, total: int, **query: str | None) -> dict[str, Any]:
    """Links to the previous and next page of ``path`` (``?page=N`` plus ``query``)."""
    pages = max(1, -(-total // PER_PAGE))

    def href(n: int) -> str:
        args = {k: v for k, v in query.items() if v}
        if n > 1:
            args["page"] = str(n)
        return path + ("?" + urlencode(args) if args else "")

    return {
        "number": number,
        "pages": pages,
        "prev": href(number - 1) if 1 < number <= pages + 1 else None,
        "next": href(number + 1) if number < pages else None,
    }


def label_of(thing: dict[str, Any], fallback: str) -> str:
    """What a file or album is called on a page: its title, else its file name."""
    return thing.get("title") or thing.get("filename") or fallback


def card(settings: Any, file: dict[str, Any]) -> dict[str, Any]:
    """A grid tile: the file's page, its thumbnail and its name."""
    return {
        "id": file["id"],
        "label": label_of(file, "Untitled image"),
        "picture": links.picture(settings, file, "thumb"),
    }


def summary(text: str, fallback: str) -> str:
    """A description for link previews: the first ``DESCRIPTION_PREVIEW`` characters."""
    text = " ".join((text or "").split())
    if len(text) > DESCRIPTION_PREVIEW:
        text = text[: DESCRIPTION_PREVIEW - 1].rstrip() + "…"
    return text or fallback


def preview_tags(settings: Any, *, title: str, description: str, url: str, kind: str,
                 image: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """What the OpenGraph and Twitter-card tags say (absolute URLs)."""
    return {
        "title": title,
        "description": description,
        "url": url,
        "type": kind,
        "site_name": settings.web.site_name,
        "image": image,
    }


def album_blurb(settings: Any, count: int) -> str:
    """The preview description of an album without one."""
    images = "1 image" if count == 1 else f"{count} images"
    return f"An album of {images} on {settings.web.site_name}"


async def owner_name(owner_id: str | None) -> str:
    """The username of an owner (``anonymous`` for anonymous uploads)."""
    owner = await User.get_or_none(id=owner_id) if owner_id else None
    return owner.username if owner is not None else "anonymous"


def _page(handler):
    handler.__pichr_page__ = True  # not a JSON API operation (tests/test_operations.py)
    return handler


@bp.route("/", methods=["GET", "HEAD"], name="feed")
@_page
async def feed(request: Request) -> HTTPResponse:
    """The public feed (``web.public_feed``), or the sign-in view when it is off."""
    rt = request.app.ctx.runtime
    settings = rt.settings
    if not settings.web.public_feed:
        return render(request, "shell.html", view="auth", title="Sign in")
    number = page_number(request)
    tag = (request.args.get("tag") or "").strip()[:TAG_MAX] or None
    files, total = await files_service.list_public(
        None, limit=PER_PAGE, offset=(number - 1) * PER_PAGE, tag=tag
    )
    items = await files_service.files_json(settings, rt.storage, files, None)
    heading = f"Tagged “{tag}”" if tag else "Latest images"
    url = settings.public_url + "/" + ("?" + urlencode({"tag": tag}) if tag else "")
    first = links.preview(settings, items[0]) if items else None
    if first is not None:
        first["alt"] = label_of(items[0], "Untitled image")
    return render(
        request,
        "feed.html",
        title=heading if tag or number > 1 else None,
        heading=heading,
        tag=tag,
        cards=[card(settings, f) for f in items],
        pager=pager("/", number, total, tag=tag),
        total=total,
        meta=preview_tags(
            settings,
            title=settings.web.site_name,
            description=f"Public images on {settings.web.site_name}",
            url=url,
            kind="website",
            image=first,
        ),
    )


@bp.route("/v/<file_id:str>", methods=["GET", "HEAD"], name="image")
@_page
async def image(request: Request, file_id: str) -> HTTPResponse:
    """An image page: the image, what is known of it, links to share it, a report form."""
    rt = request.app.ctx.runtime
    settings = rt.settings
    try:
        file = await access.visible_file(file_id, None)
        access.check_available(file)
    except ApiError as error:
        gone = error.status == 410
        return error_page(request, 410 if gone else 404, lookup=None if gone else "file")
    if file.age_restricted:
        return error_page(request, 403, lookup="file", next=request.path)
    if request.method == "GET":
        rt.counters.view(file.id)  # the page shows a variant, which /i/ does not count
    data = (await files_service.files_json(settings, rt.storage, [file], None))[0]
    label = label_of(data, "Untitled image")
    shown = links.preview(settings, data)
    shown["alt"] = label
    return render(
        request,
        "image.html",
        title=label,
        label=label,
        file=data,
        owner=await owner_name(file.owner_id),
        picture=links.picture(settings, data, "page"),
        codes=links.embed_codes(settings, data),
        reasons=REASON_LABELS,
        feed=settings.web.public_feed,
        noindex=file.visibility == "unlisted",
        meta=preview_tags(
            settings,
            title=label,
            description=summary(data["description"], f"An image on {settings.web.site_name}"),
            url=links.page_url(settings, file.id),
            kind="article",
            image=shown,
        ),
    )


async def _album_cover(rt: Any, album: Any, page: dict[str, Any]) -> dict[str, Any] | None:
    """The album's preview image: its cover when the anonymous viewer may see it (the
    album service says), else its first file that they may see."""
    cover_id = page["coverFileId"]
    if cover_id is not None:
        for file in page["files"]:
            if file["id"] == cover_id:
                return file
        cover = await File.get_or_none(id=cover_id)
        if cover is not None:
            return (await files_service.files_json(rt.settings, rt.storage, [cover], None))[0]
    if page["files"] and page["offset"] == 0:
        return page["files"][0]
    first = await albums_service.page(rt, album, None, limit=1, offset=0)
    return first["files"][0] if first["files"] else None


@bp.route("/a/<album_id:str>", methods=["GET", "HEAD"], name="album")
@_page
async def album(request: Request, album_id: str) -> HTTPResponse:
    """An album page: what the album is, a page of the files it shows to anyone."""
    rt = request.app.ctx.runtime
    settings = rt.settings
    try:
        found = await access.visible_album(album_id, None)
    except ApiError as error:
        gone = error.status == 410
        return error_page(request, 410 if gone else 404, lookup=None if gone else "album")
    number = page_number(request)
    page = await albums_service.page(
        rt, found, None, limit=PER_PAGE, offset=(number - 1) * PER_PAGE
    )
    cover = await _album_cover(rt, found, page)
    image = None
    if cover is not None:
        image = links.preview(settings, cover)
        image["alt"] = label_of(cover, "Untitled image")
    return render(
        request,
        "album.html",
        title=page["title"],
        album=page,
        owner=await owner_name(found.owner_id),
        cards=[card(settings, f) for f in page["files"]],
        pager=pager(request.path, number, page["total"]),
        reasons=REASON_LABELS,
        noindex=found.visibility == "unlisted",
        meta=preview_tags(
            settings,
            title=page["title"],
            description=summary(page["description"], album_blurb(settings, page["total"])),
            url=page["url"],
            kind="website",
            image=image,
        ),
    )
