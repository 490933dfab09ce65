"""``/static/{version}/...``: the interface's JavaScript and CSS, from package data.

The version is a hash of the assets' contents, computed once per process: pages link
``/static/<hash>/js/app.js``, so an answer can be cached for a year (``immutable``)
and a new release is a new URL. Relative ``import`` lines inside the modules keep the
same prefix by themselves.
"""

from __future__ import annotations

import hashlib
import mimetypes
from functools import cache
from pathlib import Path

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, raw

from ..errors import ApiError

STATIC = Path(__file__).parent / "static"
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}

bp = Blueprint("web_assets")


@cache
def asset_version() -> str:
    """A short hash of every asset's path and bytes (the URL prefix of this release)."""
    digest = hashlib.sha256()
    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(STATIC).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@cache
def _load(relative: str) -> tuple[bytes, str, str]:
    path = (STATIC / relative).resolve()
    if STATIC.resolve() not in path.parents or not path.is_file():
        raise ApiError(404, "not_found", "No such asset")
    body = path.read_bytes()
    kind = (
        TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    )
    return body, kind, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def static_url(relative: str) -> str:
    """The URL of asset ``relative`` (``"js/app.js"``) in this release."""
    return f"/static/{asset_version()}/{relative}"


@bp.get("/static/<version:str>/<relative:path>", name="asset")
async def asset(request: Request, version: str, relative: str) -> HTTPResponse:
    """An asset; a year of caching under this release's prefix, revalidation otherwise."""
    body, kind, etag = _load(relative)
    current = version == asset_version()
    headers = {
        "ETag": etag,
        "Cache-Control": "public, max-age=31536000, immutable"
        if current
        else "public, max-age=0, must-revalidate",
        "X-Content-Type-Options": "nosniff",
    }
    if request.headers.get("if-none-match") == etag:
        return HTTPResponse(status=304, headers=headers)
    return raw(body, content_type=kind, headers=headers)


asset.__pichr_page__ = True  # not a JSON API operation (tests/test_operations.py)
