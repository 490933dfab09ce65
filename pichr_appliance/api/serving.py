"""``/i/{fileId}``: the HTTP side of serving image bytes (headers, 304, ranges, redirects).

Which file and which variant a viewer gets is ``services/serving.py``'s business.
"""

from __future__ import annotations

import re
import unicodedata
from email.utils import parsedate_to_datetime
from urllib.parse import quote

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, ResponseStream, empty

from .. import formats, imaging
from ..errors import ApiError, not_found
from ..models import User
from ..services import access, serving
from ..services import files as files_service
from .context import authenticate
from .operations import operation
from .responses import ImageResponse

bp = Blueprint("serving")

NAME_RE = re.compile(r"^(file_[A-Za-z0-9]{1,35})(?:\.[A-Za-z0-9]{1,5})?$")  # ids: <= 40
USER_CONTENT_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
HEADER_SCRUB = {c: None for c in range(32)} | {127: None, ord('"'): None, ord("\\"): None}
EXTENSIONS = formats.EXTENSIONS
# Unicode categories that never belong in a saved file's name: controls, format
# characters (bidi overrides and isolates, zero-width joiners), surrogates, private
# use, unassigned, line and paragraph separators.
DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
RANGE_RE = re.compile(r"^bytes=([0-9]{0,18})-([0-9]{0,18})$")  # longer: ignored, not int()


async def _viewer(request: Request) -> User | None:
    try:
        actor = await authenticate(request)
    except ApiError:
        return None  # a stale token must not turn a public image into an error
    return access.reader(actor)  # a key without `read` is anonymous here


async def _charge(request: Request) -> None:
    """Making a new variant costs one API call of the caller's plan (429 over it):
    variants are the costly part of ``/i/``; cached ones cost nothing."""
    limiter = request.app.ctx.rate_limiter
    if limiter.enabled and not limiter.exempt(request):
        await limiter.api_call(request, await _viewer(request))


async def _load(request: Request, file_id: str) -> tuple[serving.Meta, bool]:
    """The file's metadata for this request's viewer and whether it may be cached
    publicly; 404/410/403 per the access rules (``services/serving.py``)."""
    args = request.args
    sig = args.get("sig")
    return await serving.resolve(
        request.app.ctx.runtime,
        file_id,
        lambda: _viewer(request),
        exp=args.get("exp") if sig is not None else None,
        sig=sig,
    )


def _variant_params(request: Request, rt) -> dict | None:
    """The variant the query asks for (None: the original); checked by the service."""
    args = request.args
    if not any(k in args for k in ("w", "h", "fit", "format")):
        return None
    return serving.variant_spec(
        rt, w=args.get("w"), h=args.get("h"), fit=args.get("fit"), fmt=args.get("format")
    )


def _representation(request: Request, rt, file, download: bool) -> tuple[dict | None, bool]:
    """The variant to serve (None: the original) and whether it depends on ``Accept``.

    ``format=auto`` picks from ``Accept``; a stored type browsers cannot show (HEIC,
    TIFF) is served as a displayable rendition unless the client names that type, asks
    for ``?original=1`` or downloads it (``?download=1``: the original bytes)."""
    accept = request.headers.get("accept")
    params = _variant_params(request, rt)
    if params:
        if params["format"] != "auto":
            return params, False
        return {**params, "format": serving.auto_format(rt, file, accept)}, True
    if download or request.args.get("original") in ("1", "true"):
        return None, False
    if file.mime in formats.DISPLAYABLE:
        return None, False
    return serving.rendition(rt, file, accept), True


def _query(name: str, schema: dict, description: str, where: str = "query") -> dict:
    return {"name": name, "in": where, "required": False, "schema": schema,
            "description": description}  # fmt: skip


SIZE = {"type": "integer", "minimum": 1}
IMAGE_PARAMETERS = [
    _query("w", SIZE, "Variant width (rounded up to a configured size)."),
    _query("h", SIZE, "Variant height (rounded up to a configured size)."),
    _query("fit", {"enum": ["cover", "contain"], "default": "contain"}, "Variant fit."),
    _query("format", {"enum": ["auto", *sorted(imaging.VARIANT_FORMATS)]}, "Variant format "
           "(`auto`: AVIF or WebP as the Accept header allows, else JPEG/PNG)."),
    _query("download", {"enum": ["1", "true"]}, "Answer as an attachment (the original "
           "bytes); counts a download."),
    _query("original", {"enum": ["1", "true"]}, "The original bytes even for a type the "
           "client's Accept does not name (HEIC, TIFF get a displayable rendition otherwise)."),
    _query("sig", {"type": "string"}, "Signature of a share URL (private files)."),
    _query("exp", {"type": "integer"}, "Expiry of a share URL (epoch seconds)."),
    _query("Range", {"type": "string"}, "One range: `bytes=first-last`, `bytes=first-`, "
           "`bytes=-suffix`.", "header"),
    _query("If-None-Match", {"type": "string"}, "ETags; a match answers 304.", "header"),
    _query("If-Modified-Since", {"type": "string"}, "An HTTP date; not modified since "
           "answers 304.", "header"),
    _query("If-Range", {"type": "string"}, "Serve the range only while the ETag matches.",
           "header"),
]  # fmt: skip


@bp.route("/i/<name:str>", methods=["GET", "HEAD"])
@operation(
    id="{method}Image", summary="The image bytes or headers", tag="serving", auth="optional",
    responses={200: None, 206: None, 302: None, 304: None}, counted=False,
    extra={"parameters": IMAGE_PARAMETERS, "responses": "image"},
    description="Public and unlisted files for anyone; private ones for the owner, "
    "staff or a signed share URL (404 otherwise). Only making a new variant counts "
    "against the rate limit (cached variants and originals do not); 503 `overloaded` "
    "when too many are being made. `Accept` "
    "picks the rendition of HEIC/TIFF originals (a displayable variant unless it names the "
    "stored type) and the type of `format=auto`; such answers carry `Vary: Accept`.",
)  # fmt: skip
async def serve_image(request: Request, name: str) -> HTTPResponse:
    rt = request.app.ctx.runtime
    match = NAME_RE.match(name)
    if not match:
        raise not_found("File")
    meta, public = await _load(request, match.group(1))
    file = meta.file
    download = request.args.get("download") in ("1", "true")
    params, vary = _representation(request, rt, file, download)
    if params:
        key, mime, size = await serving.variant(rt, file, params, lambda: _charge(request))
        etag = f'"{file.sha256}-{key.rsplit("/", 1)[1]}"'
    else:
        key, mime, size, etag = file.storage_key, file.mime, file.bytes, f'"{file.sha256}"'
    modified = meta.modified
    headers = {
        "ETag": etag,
        "Last-Modified": meta.last_modified,
        "Cache-Control": serving.cache_control(rt, public),
        "Accept-Ranges": "bytes",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": USER_CONTENT_CSP,
    }
    if vary:
        headers["Vary"] = "Accept"
    safe = None
    if download:
        safe, full = download_names(file.filename, mime)
        value = f'attachment; filename="{safe}"'
        if full != safe:
            value += f"; filename*=UTF-8''{quote(full, safe='')}"
        headers["Content-Disposition"] = value
    if _not_modified(request, etag, modified):
        return empty(status=304, headers=headers)
    counters = request.app.ctx.runtime.counters
    if request.method == "GET" and (download or not params):
        # A resized variant is a thumbnail in a grid, not someone looking at the image:
        # views count originals (and the web image page, web/public.py).
        (counters.download if download else counters.view)(file.id)
    if rt.storage.redirects:
        return await _redirect(rt, key, mime, public, safe)
    if rt.settings.server.accel_redirect:
        return _accel(rt, key, mime, headers)
    start, end, status = 0, size - 1, 200
    rng = request.headers.get("range")
    if rng and _if_range_ok(request, etag):
        parsed = _parse_range(rng, size)
        if parsed == "unsatisfiable":
            headers["Content-Range"] = f"bytes */{size}"
            raise ApiError(
                416, "range_not_satisfiable", "Requested range not satisfiable", headers=headers
            )
        if parsed is not None:
            start, end = parsed
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    if request.method == "HEAD":
        return HTTPResponse(status=status, headers=headers, content_type=mime)

    data = await serving.object_body(rt, file.id, key, size, start, end)
    if isinstance(data, bytes):
        body = data if status == 200 else memoryview(data)[start : end + 1]
        return ImageResponse(body, status=status, headers=headers, content_type=mime)

    async def body(response):
        async for chunk in data:
            await response.write(chunk)

    return ResponseStream(body, status=status, headers=headers, content_type=mime)


def download_names(filename: str, mime: str) -> tuple[str, str]:
    """The name to save a download under: ``(ASCII fallback, full Unicode name)``.

    NFKC-normalised (full-width letters and dots become plain ones), without control
    or format characters (bidi overrides would disguise the extension), and with the
    extension of the type served, whatever the uploader called it."""
    name = unicodedata.normalize("NFKC", filename or "")
    name = "".join(c for c in name if unicodedata.category(c) not in DROPPED_CATEGORIES)
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip(" .")
    stem = name.rsplit(".", 1)[0].strip(" .") if "." in name else name
    extension = EXTENSIONS.get(mime, "bin")
    full = f"{stem[:100] or 'image'}.{extension}"
    ascii_stem = files_service.safe_filename(stem).translate(HEADER_SCRUB)
    return f"{ascii_stem}.{extension}", full


async def _redirect(rt, key: str, mime: str, public: bool, download_name: str | None):
    """``storage.serve = "redirect"``: send the client to the object store itself."""
    url, valid_for = await rt.storage.redirect_url(
        key, public=public, content_type=mime, download_name=download_name
    )
    cache = serving.redirect_cache_control(rt, public, valid_for)
    return HTTPResponse(status=302, headers={"Location": url, "Cache-Control": cache})


def _accel(rt, key: str, mime: str, headers: dict) -> HTTPResponse:
    """``server.accel_redirect``: the headers decided here and an empty body; the proxy
    in front sends the object file (and answers ranges of it) with sendfile."""
    server = rt.settings.server
    if server.accel_redirect == "x-sendfile":
        headers["X-Sendfile"] = str(rt.storage.root / key)
    else:
        headers["X-Accel-Redirect"] = server.accel_prefix.rstrip("/") + "/" + quote(key)
    return ImageResponse(b"", status=200, headers=headers, content_type=mime)


def _not_modified(request: Request, etag: str, modified) -> bool:
    inm = request.headers.get("if-none-match")
    if inm is not None:
        tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
        return "*" in tags or etag in tags
    ims = request.headers.get("if-modified-since")
    if ims:
        try:
            return modified <= parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
    return False


def _if_range_ok(request: Request, etag: str) -> bool:
    cond = request.headers.get("if-range")
    return cond is None or cond.strip() == etag


def _parse_range(header: str, size: int):
    """(start, end) for one satisfiable range; None to ignore (multi/garbled)."""
    m = RANGE_RE.match(header.strip())
    if not m:
        return None
    first, last = m.groups()
    if first == "" and last == "":
        return None
    if first == "":
        n = int(last)
        if n == 0:
            return "unsatisfiable"
        return max(0, size - n), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if start >= size or (last and end < start):
        return "unsatisfiable"
    return start, min(end, size - 1)
