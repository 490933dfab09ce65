"""Files: the API's File object, visibility rules, storage keys, deletion and quota."""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import unicodedata
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from ..models import AlbumFile, File, User, is_id
from ..schemas.common import validate
from ..schemas.files import FileOut, FilePatchRequest
from ..timeutil import iso, utcnow
from . import access, audit

if TYPE_CHECKING:
    from ..runtime import Runtime

log = logging.getLogger("pichr_appliance.files")

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: str, fallback: str = "image") -> str:
    """A filename safe for a storage key: no separators, controls or dots-only names."""
    name = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode()
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("-", name).strip(".-")[:100]
    return name or fallback


def original_key(file_id: str, filename: str, when: datetime | None = None) -> str:
    """``uploads/{YYYY-MM-DD}/{fileId}/{safe filename}`` (returned as ``r2Key``)."""
    day = (when or utcnow()).strftime("%Y-%m-%d")
    return f"uploads/{day}/{file_id}/{safe_filename(filename)}"


def variant_prefix(file_id: str) -> str:
    """Where the resized variants of a file live (deleted with the file)."""
    return f"variants/{file_id}/"


def file_url(settings: Any, file: File) -> str:
    return f"{settings.image_base_url}/{file.id}"


async def album_ids_for(
    file_ids: list[str], viewer: User | None, *, every: bool = False
) -> dict[str, list[str]]:
    """The ``albumIds`` of each file as ``viewer`` may see them (``access.albums_named_for``);
    ``every``: all of them (what staff tools show)."""
    out: dict[str, list[str]] = {fid: [] for fid in file_ids}
    if file_ids:
        rows = (
            await AlbumFile.filter(
                Q() if every else access.albums_named_for(viewer), file_id__in=file_ids
            )
            .order_by("added_at")
            .values("file_id", "album_id")
        )
        for row in rows:
            out[row["file_id"]].append(row["album_id"])
    return out


def file_json(settings: Any, storage: Any, file: File, album_ids: list[str] | None = None) -> dict:
    """The API's File object (``schemas.files.FileOut``) as JSON."""
    return FileOut.of(settings, storage, file, album_ids).dump()


async def files_json(
    settings: Any, storage: Any, files: list[File], viewer: User | None
) -> list[dict]:
    """File objects for a page of files as ``viewer`` sees them, album ids in one query."""
    albums = await album_ids_for([f.id for f in files], viewer)
    return [file_json(settings, storage, f, albums[f.id]) for f in files]


async def add_usage(user_id: str | None, nbytes: int, nfiles: int) -> None:
    """Adjust a user's storage usage atomically (negative to free)."""
    if user_id:
        await User.filter(id=user_id).update(
            usage_bytes=F("usage_bytes") + nbytes, usage_files=F("usage_files") + nfiles
        )


def forget(rt: Runtime, file_id: str) -> None:
    """Drop this process's cached metadata and bytes of a file after a change, and tell
    plugins (``file_invalidated``) so that other processes can drop theirs."""
    if rt is None:
        return
    rt.hotcache.forget(file_id)
    given = {"runtime": rt, "file_id": file_id}
    for impl in rt.pm.hook.file_invalidated.get_hookimpls():
        try:
            result = impl.function(**{k: v for k, v in given.items() if k in impl.argnames})
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(result)
                _pending.add(task)
                task.add_done_callback(_finish_background)
        except Exception:
            log.exception("plugin %s failed in file_invalidated", impl.plugin_name)


_pending: set = set()  # keeps background notifications alive until they finish


def _finish_background(task: Any) -> None:
    _pending.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("file_invalidated notification failed", exc_info=task.exception())


async def delete_bytes(rt: Runtime, file: File) -> None:
    """Delete the original and every variant of a file (idempotent)."""
    storage = rt.storage
    await storage.delete(file.storage_key)
    async for key in storage.list_keys(variant_prefix(file.id)):
        await storage.delete(key)


async def delete_file(
    rt: Runtime, file: File, actor: User | None = None, *, bytes_first: bool = False
) -> None:
    """Delete a file everywhere: record, album entries (and covers), quota, bytes, variants.

    By default the record goes first (in one statement), so that a failure while
    deleting bytes leaves orphans that ``gc`` finds, never a visible file without bytes.
    ``bytes_first`` reverses that for deletions that must be resumable (an account):
    a failure leaves the record, and running the deletion again completes it.
    Retrying on a missing record is a no-op.
    """
    from ..models import Album

    if bytes_first:
        await delete_bytes(rt, file)
    # One transaction: a crash between the record's deletion and the quota release
    # would leave the bytes counted against the owner for good (the crash test).
    async with in_transaction("default"):
        deleted = await File.filter(id=file.id).delete()  # album entries: CASCADE
        if deleted:
            await Album.filter(cover_file_id=file.id).update(cover_file_id=None)
            if file.status in ("ready", "removed") and file.purged_at is None:
                await add_usage(file.owner_id, -file.bytes, -1)
    forget(rt, file.id)
    if not deleted:
        return
    if not bytes_first:
        await delete_bytes(rt, file)
    await rt.fire("file_deleted", file=file, actor=actor)


async def staff_checked(user: User, thing: Any) -> audit.Operator | None:
    """Before ``user`` acts on ``thing`` (a File or Album): None for the owner; for staff
    on someone else's content the Operator to audit with, after the rule that a
    moderator may not act on an admin's content (403, ``audit.check_may_act``)."""
    if thing.owner_id is not None and thing.owner_id == user.id:
        return None
    operator = audit.Operator.of_user(user)
    owner = await User.get_or_none(id=thing.owner_id) if thing.owner_id else None
    audit.check_may_act(operator, owner)
    return operator


async def delete_by(rt: Runtime, file: File, user: User) -> None:
    """``DELETE /files/{id}`` by the owner, or by staff (checked and audited as
    ``delete_file``, naming the owner)."""
    operator = await staff_checked(user, file)
    await delete_file(rt, file, user)
    if operator is not None:
        await audit.record(
            operator, "delete_file", "file", file.id, data={"ownerId": file.owner_id}
        )


SORTS = {"created": "created_at", "-created": "-created_at", "views": "-view_count"}


async def _page(query: Any, order: tuple[str, ...], limit: int, offset: int):
    """One page of ``query`` and the total, both counted and cut in SQL."""
    total = await query.count()
    files = await query.order_by(*order).offset(offset).limit(limit) if total > offset else []
    return list(files), total


async def list_own(
    user: User,
    *,
    limit: int,
    offset: int,
    visibility: str | None = None,
    tag: str | None = None,
    album_id: str | None = None,
    q: str | None = None,
    sort: str = "-created",
) -> tuple[list[File], int]:
    """The caller's files (pending uploads excluded), filtered and sorted."""
    from ..errors import bad_request

    if sort not in SORTS:
        raise bad_request(f"sort: one of {', '.join(SORTS)}", "invalid_query", {"field": "sort"})
    if album_id and not is_id(album_id):
        return [], 0  # no album has such an id
    query = File.filter(access.own_files(user))
    if visibility:
        query = query.filter(visibility=visibility)
    if album_id:
        query = query.filter(entries__album_id=album_id)
    if q:
        query = query.filter(
            Q(title__icontains=q) | Q(description__icontains=q) | Q(filename__icontains=q)
        )
    if tag:
        query = query.filter(access.has_tag(tag))
    return await _page(query, (SORTS[sort], "id"), limit, offset)


async def list_public(
    viewer: User | None, *, limit: int, offset: int, tag: str | None = None
) -> tuple[list[File], int]:
    """Everyone's public, ready files, newest first; age-restricted ones only for viewers
    who confirmed their age; files of disabled owners and held files never."""
    query = File.filter(access.public_feed(viewer))
    if tag:
        query = query.filter(access.has_tag(tag))
    return await _page(query, ("-created_at", "id"), limit, offset)


async def update(file: File, changes: FilePatchRequest | dict[str, Any]) -> File:
    """Apply a PATCH from the owner (title, description, visibility, tags, expiresAt):
    only the fields the request sent change."""
    sent = validate(FilePatchRequest, changes).model_dump(exclude_unset=True)
    columns = {"expiresAt": "expires_at"}
    for name, value in sent.items():
        setattr(file, columns.get(name, name), value)
    if sent:
        await file.save(update_fields=[*(columns.get(n, n) for n in sent), "updated_at"])
    return file


def iso_epoch(seconds: int) -> str:
    """An epoch time in the API's ISO-8601 form."""
    from datetime import UTC, datetime

    return iso(datetime.fromtimestamp(seconds, UTC))
