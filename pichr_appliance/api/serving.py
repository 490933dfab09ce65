"""``/i/{fileId}``: image bytes with caching headers, ranges, variants and access rules."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC
from email.utils import format_datetime, parsedate_to_datetime

from sanic import Blueprint, Request
from sanic.helpers import has_message_body
from sanic.response import HTTPResponse, ResponseStream, empty

from .. import imaging
from ..errors import ApiError, bad_request, not_found
from ..models import File, User
from ..services import files as files_service
from .context import authenticate
from .operations import operation

bp = Blueprint("serving")

NAME_RE = re.compile(r"^(file_[A-Za-z0-9]{1,35})(?:\.[A-Za-z0-9]{1,5})?$")  # ids: <= 40
USER_CONTENT_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
HEADER_SCRUB = {c: None for c in range(32)} | {127: None, ord('"'): None, ord("\\"): None}
PUBLIC_CACHE = "public, max-age=31536000, immutable"
PRIVATE_CACHE = "private, no-store"
RANGE_RE = re.compile(r"^bytes=([0-9]{0,18})-([0-9]{0,18})$")  # longer: ignored, not int()
_variant_locks: dict[str, asyncio.Lock] = {}


async def _viewer(request: Request) -> User | None:
    try:
        actor = await authenticate(request)
    except ApiError:
        return None  # a stale token must not turn a public image into an error
    return actor.user if actor else None


class _Meta:
    """What serving needs to know about a file, cached for a second per worker."""

    __slots__ = ("file", "owner_disabled", "modified", "last_modified")

    def __init__(self, file: File | None, owner_disabled: bool) -> None:
        self.file = file
        self.owner_disabled = owner_disabled
        if file is not None:
            self.modified = file.created_at.astimezone(UTC).replace(microsecond=0)
            # Formatting a date costs more than the rest of the header work together.
            self.last_modified = format_datetime(self.modified, usegmt=True)


async def _load(request: Request, file_id: str) -> tuple[_Meta, bool]:
    """The file's metadata and whether it may be cached publicly; 404/410/403 per the rules."""
    rt = request.app.ctx.runtime
    cache = request.app.ctx.runtime.hotcache
    meta = cache.get_meta(file_id)
    if meta is None:
        file = await File.get_or_none(id=file_id)
        owner_disabled = False
        if file is not None and file.owner_id:
            owner = await User.get_or_none(id=file.owner_id)
            owner_disabled = owner is not None and owner.disabled
        meta = _Meta(file, owner_disabled)
        cache.put_meta(file_id, meta)
    file = meta.file
    if file is None or file.status in ("pending", "failed"):
        raise not_found("File")
    viewer = await _viewer(request)
    privileged = files_service.is_owner(file, viewer) or files_service.is_staff(viewer)
    if not privileged:
        if file.hidden or meta.owner_disabled:
            raise not_found("File")
        if file.visibility == "private":
            args = request.args
            if "sig" not in args or not rt.tokens.verify_url(
                f"/i/{file.id}", args.get("exp"), args.get("sig")
            ):
                raise not_found("File")
    files_service.check_available(file)
    if file.age_restricted and not privileged and not (viewer and viewer.age_confirmed):
        raise ApiError(403, "age_restricted", "Sign in and confirm your age to see this image")
    public = file.visibility in ("public", "unlisted") and not file.age_restricted
    return meta, public


class _ImageResponse(HTTPResponse):
    """A response whose headers the appliance built itself from safe values.

    Sanic scrubs every header name and value for CR/LF on each response; for images
    that was a tenth of the serving time. Values here come from ids, hashes, dates and
    constants, and the one that carries user text (the download filename) is made safe
    by ``safe_filename`` and scrubbed again below, so the generic pass is skipped.
    """

    __slots__ = ()

    @property
    def processed_headers(self):
        """Header tuples encoded for the wire."""
        if has_message_body(self.status):
            self.headers.setdefault("content-type", self.content_type)
        return (
            (name.encode("latin-1"), str(value).encode("latin-1"))
            for name, value in self.headers.items()
        )


def _variant_params(request: Request, rt) -> dict | None:
    args = request.args
    if not any(k in args for k in ("w", "h", "fit", "format")):
        return None
    sizes = rt.settings.images.variant_sizes

    def size(name: str) -> int | None:
        raw = args.get(name)
        if raw in (None, ""):
            return None
        if not (raw.isascii() and raw.isdigit()) or int(raw) == 0:  # "²".isdigit()
            raise bad_request(f"{name}: a positive integer", "invalid_query", {"field": name})
        return imaging.clamp_size(int(raw), sizes)

    w, h = size("w"), size("h")
    fit = args.get("fit", "contain")
    if fit not in ("cover", "contain"):
        raise bad_request("fit: cover or contain", "invalid_query", {"field": "fit"})
    fmt = args.get("format")
    if fmt is not None and fmt not in imaging.VARIANT_FORMATS:
        raise bad_request("format: webp, jpeg or png", "invalid_query", {"field": "format"})
    return {"w": w, "h": h, "fit": fit, "format": fmt}


async def _variant(rt, file: File, params: dict) -> tuple[str, str, int]:
    """Storage key, mime and size of the variant, made once (concurrent requests wait)."""
    fmt = params["format"] or {"image/png": "png", "image/jpeg": "jpeg"}.get(file.mime, "webp")
    name = f"{params['w'] or 0}x{params['h'] or 0}-{params['fit']}.{fmt}"
    key = files_service.variant_prefix(file.id) + name
    mime = imaging.VARIANT_FORMATS[fmt][1]
    cache = rt.hotcache
    size = cache.get_variant(key)
    if size is None:
        size = await rt.storage.size(key)
    if size is not None:
        cache.put_variant(key, size)
        return key, mime, size
    lock = _variant_locks.setdefault(key, asyncio.Lock())
    async with lock:
        size = await rt.storage.size(key)
        if size is None:
            local = rt.storage.local_path(file.storage_key)
            tmp = rt.settings.data_path / "tmp" / f"src-{file.id}-{id(lock)}"
            try:
                if local is None or not local.exists():
                    # Remote storage: fetch the original once into a temp file.
                    local = tmp
                    with open(tmp, "wb") as fh:
                        async for chunk in rt.storage.open(file.storage_key):
                            fh.write(chunk)
                source = local
                data = await asyncio.get_running_loop().run_in_executor(
                    None,
                    lambda: imaging.make_variant(
                        source,
                        width=params["w"],
                        height=params["h"],
                        fit=params["fit"],
                        fmt=fmt,
                        quality=rt.settings.images.variant_quality,
                    ),
                )
            finally:
                tmp.unlink(missing_ok=True)

            async def one():
                yield data

            size = await rt.storage.put(key, one(), content_type=mime)
    _variant_locks.pop(key, None)
    cache.put_variant(key, size)
    return key, mime, size


def _query(name: str, schema: dict, description: str, where: str = "query") -> dict:
    return {"name": name, "in": where, "required": False, "schema": schema,
            "description": description}  # fmt: skip


SIZE = {"type": "integer", "minimum": 1}
IMAGE_PARAMETERS = [
    _query("w", SIZE, "Variant width (rounded up to a configured size)."),
    _query("h", SIZE, "Variant height (rounded up to a configured size)."),
    _query("fit", {"enum": ["cover", "contain"], "default": "contain"}, "Variant fit."),
    _query("format", {"enum": sorted(imaging.VARIANT_FORMATS)}, "Variant format."),
    _query("download", {"enum": ["1", "true"]}, "Answer as an attachment; counts a download."),
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
    "staff or a signed share URL (404 otherwise). Not counted by rate limits.",
)  # fmt: skip
async def serve_image(request: Request, name: str) -> HTTPResponse:
    rt = request.app.ctx.runtime
    match = NAME_RE.match(name)
    if not match:
        raise not_found("File")
    meta, public = await _load(request, match.group(1))
    file = meta.file
    params = _variant_params(request, rt)
    if params:
        key, mime, size = await _variant(rt, file, params)
        etag = f'"{file.sha256}-{key.rsplit("/", 1)[1]}"'
    else:
        key, mime, size, etag = file.storage_key, file.mime, file.bytes, f'"{file.sha256}"'
    modified = meta.modified
    headers = {
        "ETag": etag,
        "Last-Modified": meta.last_modified,
        "Cache-Control": PUBLIC_CACHE if public else PRIVATE_CACHE,
        "Accept-Ranges": "bytes",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": USER_CONTENT_CSP,
    }
    download = request.args.get("download") in ("1", "true")
    safe = None
    if download:
        safe = files_service.safe_filename(file.filename).translate(HEADER_SCRUB)
        headers["Content-Disposition"] = f'attachment; filename="{safe}"'
    if _not_modified(request, etag, modified):
        return empty(status=304, headers=headers)
    counters = request.app.ctx.runtime.counters
    if request.method == "GET":
        (counters.download if download else counters.view)(file.id)
    if rt.storage.redirects:
        return await _redirect(rt, key, mime, public, safe)
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

    cache = request.app.ctx.runtime.hotcache
    if size <= cache.object_max:
        # Small objects are served from memory once read: no file I/O per request.
        data = cache.get_object(key)
        if data is None:
            data = b"".join([chunk async for chunk in rt.storage.open(key)])
            cache.put_object(key, data)
        body = data if status == 200 else memoryview(data)[start : end + 1]
        return _ImageResponse(body, status=status, headers=headers, content_type=mime)

    async def body(response):
        async for chunk in rt.storage.open(key, start, end):
            await response.write(chunk)

    return ResponseStream(body, status=status, headers=headers, content_type=mime)


async def _redirect(rt, key: str, mime: str, public: bool, download_name: str | None):
    """``storage.serve = "redirect"``: send the client to the object store itself."""
    url, valid_for = await rt.storage.redirect_url(
        key, public=public, content_type=mime, download_name=download_name
    )
    # A cached redirect must not outlive the signed URL it points to.
    cache = f"public, max-age={valid_for // 2}" if public and valid_for > 1 else PRIVATE_CACHE
    return HTTPResponse(status=302, headers={"Location": url, "Cache-Control": cache})


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
