"""Serving image bytes: which file a viewer gets, and its resized variants.

The HTTP handler (``api/serving.py``) parses the request and builds the response
(headers, 304, ranges, redirects); this module decides what is served: it resolves a
file for a viewer with the rules of ``access.py`` (metadata cached per worker in
``rt.hotcache``, shared with ``GET /api/v1/files/{id}``: ``filecache.py``), makes or
fetches variants (sizes clamped to the configured set, generated off the event loop,
once per variant even under concurrent requests), and keeps small objects in memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

from .. import imaging
from ..errors import ApiError, bad_request, not_found
from ..models import File, User
from ..storage.base import ObjectNotFound
from . import access, filecache, variant_cache
from . import files as files_service

if TYPE_CHECKING:
    from ..runtime import Runtime

_variant_locks: dict[str, asyncio.Lock] = {}


class Meta:
    """What serving needs to know about a file, cached for a second per worker."""

    __slots__ = ("file", "owner_disabled", "modified", "last_modified")

    def __init__(self, file: File | None, owner_disabled: bool) -> None:
        self.file = file
        self.owner_disabled = owner_disabled
        if file is not None:
            self.modified = file.created_at.astimezone(UTC).replace(microsecond=0)
            # Formatting a date costs more than the rest of the header work together.
            self.last_modified = format_datetime(self.modified, usegmt=True)


async def meta(rt: Runtime, file_id: str) -> Meta:
    """The file's cached metadata (loaded and cached on a miss; absent files too).

    On SQLite it is the metadata API's entry (``filecache``), exact across workers;
    elsewhere an entry of its own that lives ``hotcache.META_TTL``."""
    shared = await filecache.exact_entry(rt, file_id)
    if shared is not None:
        if shared.meta is None:
            shared.meta = Meta(shared.file, shared.owner_disabled)
        return shared.meta
    cache = rt.hotcache
    found = cache.get_meta(file_id)
    if found is None:
        file = await File.get_or_none(id=file_id)
        disabled = await access.owner_disabled(file.owner_id) if file is not None else False
        found = Meta(file, disabled)
        cache.put_meta(file_id, found)
    return found


async def resolve(
    rt: Runtime,
    file_id: str,
    viewer: Callable[[], Awaitable[User | None]],
    *,
    exp: str | None = None,
    sig: str | None = None,
) -> tuple[Meta, bool]:
    """The file's metadata for this viewer, and whether shared caches may keep it.

    ``viewer`` is asked only for files that have bytes (authentication is the costly
    part of a request). ``exp``/``sig`` are a signed URL's, checked only for private
    files. 404/410/403 per ``access.check_bytes``.
    """
    found = await meta(rt, file_id)
    file = found.file
    if file is None or file.status not in ("ready", "removed"):
        raise not_found("File")
    user = await viewer()
    signed = (
        file.visibility == "private"
        and sig is not None
        and not access.privileged(file, user)
        and rt.tokens.verify_url(f"/i/{file.id}", exp, sig)
    )
    access.check_bytes(file, user, disabled_owner=found.owner_disabled, signed=bool(signed))
    return found, access.publicly_cacheable(file)


PRIVATE_CACHE = "private, no-store"


def cache_control(rt: Runtime, public: bool) -> str:
    """The ``Cache-Control`` of ``/i/`` bytes (and their 304s).

    Nothing is ``immutable``: the bytes never change, but whether a viewer may have them
    does (made private, age-restricted, held, removed). Public and unlisted files may be
    kept ``images.cache_max_age`` seconds, then caches must revalidate (the ETag makes
    that a 304, or the 404/410/403 of the new state); everything else is not stored.
    """
    if not public:
        return PRIVATE_CACHE
    return f"public, max-age={rt.settings.images.cache_max_age}, must-revalidate"


def redirect_cache_control(rt: Runtime, public: bool, valid_for: int) -> str:
    """A redirect to the object store: no longer than the URL it points to is valid
    (half of it) nor than ``images.cache_max_age``."""
    max_age = min(valid_for // 2, rt.settings.images.cache_max_age)
    return f"public, max-age={max_age}" if public and max_age > 0 else PRIVATE_CACHE


def variant_spec(
    rt: Runtime, *, w: str | None, h: str | None, fit: str | None, fmt: str | None
) -> dict[str, Any]:
    """Checked variant parameters (query strings), sizes clamped to the configured set
    so that nobody can fill the disk with variants; 400 ``invalid_query`` otherwise."""
    sizes = rt.settings.images.variant_sizes

    def size(name: str, raw: str | None) -> int | None:
        if raw in (None, ""):
            return None
        if not (raw.isascii() and raw.isdigit()) or int(raw) == 0:  # "²".isdigit()
            raise bad_request(f"{name}: a positive integer", "invalid_query", {"field": name})
        return imaging.clamp_size(int(raw), sizes)

    width, height = size("w", w), size("h", h)
    fit = fit if fit is not None else "contain"
    if fit not in ("cover", "contain"):
        raise bad_request("fit: cover or contain", "invalid_query", {"field": "fit"})
    if fmt is not None and fmt != "auto" and fmt not in imaging.VARIANT_FORMATS:
        raise bad_request(
            "format: auto, avif, webp, jpeg or png", "invalid_query", {"field": "format"}
        )
    return {"w": width, "h": height, "fit": fit, "format": fmt}


def accepted(accept: str | None) -> set[str]:
    """The media types an ``Accept`` header names with a non-zero quality (wildcards
    such as ``image/*`` and ``*/*`` kept as written)."""
    types = set()
    for part in (accept or "").split(","):
        media, *params = part.split(";")
        media = media.strip().lower()
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media and quality > 0:
            types.add(media)
    return types


def auto_format(rt: Runtime, file: File, accept: str | None) -> str:
    """``format=auto``: the first of ``images.auto_formats`` (AVIF, WebP) the client
    names in ``Accept`` (wildcards do not count: Chromium sends ``*/*`` too); else JPEG,
    or PNG for a PNG source (transparency). Animated sources prefer WebP, which keeps
    the animation."""
    names = accepted(accept)
    order = list(rt.settings.images.auto_formats)
    if file.animated and "webp" in order:
        order.remove("webp")
        order.insert(0, "webp")
    for fmt in order:
        if imaging.VARIANT_FORMATS[fmt][1] in names:
            return fmt
    return "png" if file.mime in ("image/png", "image/gif") else "jpeg"


def rendition(rt: Runtime, file: File, accept: str | None) -> dict[str, Any] | None:
    """What ``/i/{id}`` serves a browser for a stored type it cannot show (HEIC, TIFF):
    a variant in a type it names (``auto_format``), full size or within the largest
    configured size; None to serve the original: the client names the stored type, or
    names no image type at all (no ``Accept``, or ``*/*`` as curl and scripts send it;
    browsers name the types they show)."""
    if file.mime in imaging.DISPLAYABLE or accept is None:
        return None
    names = accepted(accept)
    if file.mime in names or (file.mime in ("image/heic", "image/heif") and names & HEIF):
        return None
    if not any(n.startswith("image/") and n != "image/*" for n in names):
        return None
    largest = max(rt.settings.images.variant_sizes)
    bound = largest if max(file.width or 0, file.height or 0) > largest else None
    return {"w": bound, "h": bound, "fit": "contain", "format": auto_format(rt, file, accept)}


HEIF = frozenset({"image/heic", "image/heif"})


def canonical(file: File, spec: dict[str, Any]) -> dict[str, Any]:
    """The one variant that stands for every request giving the same picture.

    Every parameter comes from a small set, so a file has at most
    ``(len(variant_sizes) + 1) + len(variant_sizes) * len(imaging.COVER_RATIOS)`` shapes
    times the four variant formats (180 with the defaults): ``contain`` keeps only the side that
    binds for this file (an ``h``-only request becomes the configured width that covers
    it; a width at or beyond the original's is the original size); ``cover`` needs
    both sides and snaps ``h/w`` to ``imaging.COVER_RATIOS``; the format is the one
    asked for (``format=webp|jpeg|png|avif``, the API's contract), else the source's
    own (JPEG, PNG; WebP for the rest)."""
    own = {"image/png": "png", "image/jpeg": "jpeg"}.get(file.mime, "webp")
    fmt = spec["format"] if spec["format"] in imaging.VARIANT_FORMATS else own
    w, h, fit = spec["w"], spec["h"], spec["fit"]
    sizes = spec.get("sizes") or []
    if fit == "cover" and w and h:
        return {"w": w, "h": round(w * imaging.nearest_ratio(h / w)), "fit": fit, "format": fmt}
    width, height = file.width or 0, file.height or 0
    if width and height and h:
        if not w or w / width > h / height:  # the height binds: the width that gives it
            w = imaging.clamp_size(-(-width * h // height), sizes) if sizes else w
        h = None
    if w and width and w >= width:
        w = None  # variants are never upscaled: the original's size
    return {"w": w, "h": h, "fit": "contain", "format": fmt}


class _Slots:
    """Bounded variant making per worker: ``variant_workers`` at once, ``variant_queue``
    waiting, 503 ``overloaded`` beyond (each one holds a decoded image in memory)."""

    def __init__(self) -> None:
        self.sem: asyncio.Semaphore | None = None
        self.pending = 0  # making or waiting

    async def run(self, rt: Runtime, make: Callable[[], Awaitable[bytes]]) -> bytes:
        """``make()`` once a slot is free; 503 when too many wait already."""
        images = rt.settings.images
        if self.sem is None:
            self.sem = asyncio.Semaphore(images.variant_workers)
        if self.pending >= images.variant_workers + images.variant_queue:
            raise ApiError(
                503,
                "overloaded",
                "Too many new variants are being made; try again shortly",
                headers={"Retry-After": "2"},
            )
        self.pending += 1
        try:
            async with self.sem:
                return await make()
        finally:
            self.pending -= 1
            if self.pending == 0:
                # Idle again: hand the decode buffers back to the system (glibc keeps
                # freed arenas otherwise, and a storm's peak RSS stays for good).
                imaging.release_memory()


_slots = _Slots()


async def variant(
    rt: Runtime,
    file: File,
    spec: dict[str, Any],
    charge: Callable[[], Awaitable[None]] | None = None,
) -> tuple[str, str, int]:
    """Storage key, mime and size of the variant, made once (concurrent requests wait).

    ``spec`` is canonicalised first (:func:`canonical`); ``charge`` is awaited before
    a NEW variant is made (the caller's rate limit: it raises 429), never for a cached
    one. Making waits for a slot (:class:`_Slots`: 503 ``overloaded`` when full)."""
    images = rt.settings.images
    spec = canonical(file, {**spec, "sizes": images.variant_sizes})
    fmt = spec["format"]
    name = f"{spec['w'] or 0}x{spec['h'] or 0}-{spec['fit']}.{fmt}"
    key = files_service.variant_prefix(file.id) + name
    mime = imaging.VARIANT_FORMATS[fmt][1]
    cache = rt.hotcache
    size = cache.get_variant(key)
    if size is not None and not variant_cache.due(rt, key):
        return key, mime, size
    size = await variant_cache.touch(rt, key, file.id, size)
    if size is not None:
        cache.put_variant(key, size)
        return key, mime, size
    lock = _variant_locks.setdefault(key, asyncio.Lock())
    try:
        async with lock:
            size = await rt.storage.size(key)  # made by the request we waited for?
            if size is None:
                if charge is not None:
                    await charge()
                try:
                    data = await _slots.run(
                        rt, lambda: _make_variant(rt, file, spec, fmt, tag=str(id(lock)))
                    )
                except (ObjectNotFound, FileNotFoundError):
                    # The file was deleted while its variant was being made (found by
                    # the soak): 404, not 503 storage_unavailable or 500.
                    if not await File.exists(id=file.id, status="ready"):
                        raise not_found("File") from None
                    raise

                async def one():
                    yield data

                size = await rt.storage.put(key, one(), content_type=mime)
                await variant_cache.made(rt, key, file.id, size)
    finally:
        _variant_locks.pop(key, None)
    cache.put_variant(key, size)
    return key, mime, size


async def _make_variant(
    rt: Runtime, file: File, spec: dict[str, Any], fmt: str, *, tag: str
) -> bytes:
    """Encode the variant in a worker thread, from the local original or a temp copy."""
    local = rt.storage.local_path(file.storage_key)
    tmp = rt.settings.data_path / "tmp" / f"src-{file.id}-{tag}"
    try:
        if local is None or not local.exists():
            # Remote storage: fetch the original once into a temp file.
            local = tmp
            with open(tmp, "wb") as fh:
                async for chunk in rt.storage.open(file.storage_key):
                    fh.write(chunk)
        source, images = local, rt.settings.images
        return await asyncio.get_running_loop().run_in_executor(
            None,
            lambda: imaging.make_variant(
                source,
                width=spec["w"],
                height=spec["h"],
                fit=spec["fit"],
                fmt=fmt,
                quality=rt.settings.images.variant_quality,
                mime=file.mime,
                animation=imaging.AnimationBudget(
                    images.animation_max_frames, images.animation_max_pixels
                ),
            ),
        )
    finally:
        tmp.unlink(missing_ok=True)


async def object_body(
    rt: Runtime, file_id: str, key: str, size: int, start: int, end: int
) -> bytes | AsyncIterator[bytes]:
    """The bytes ``start..end`` of an object: the whole object from memory when small
    (:func:`small_object`; the caller slices it), else an iterator of its chunks, opened
    here, before any header is sent. An object gone because its file was deleted a
    moment ago is 404, as the file is; one gone from under a file still there stays a
    storage error (503)."""
    try:
        data = await small_object(rt, key, size)
        if data is not None:
            return data
        chunks = rt.storage.open(key, start, end)
        first = await anext(chunks, b"")
    except (ObjectNotFound, FileNotFoundError):
        if not await File.exists(id=file_id):
            raise not_found("File") from None
        raise

    async def body() -> AsyncIterator[bytes]:
        if first:
            yield first
        async for chunk in chunks:
            yield chunk

    return body()


async def small_object(rt: Runtime, key: str, size: int) -> bytes | None:
    """The whole object from memory when it is small enough to keep there (read once,
    then no file I/O per request); None for larger objects, which are streamed."""
    cache = rt.hotcache
    if size > cache.object_max:
        return None
    data = cache.get_object(key)
    if data is None:
        data = b"".join([chunk async for chunk in rt.storage.open(key)])
        cache.put_object(key, data)
    return data
