"""Albums: ordered collections of one owner's files, with the visibility rules of files."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from tortoise.exceptions import IntegrityError
from tortoise.functions import Count
from tortoise.transactions import in_transaction

from ..errors import ApiError, bad_request, not_found
from ..models import Album, AlbumFile, File, User, is_id
from ..schemas.albums import (
    AlbumAddFilesRequest,
    AlbumCreateRequest,
    AlbumOrderRequest,
    AlbumOut,
    AlbumPatchRequest,
    AlbumWithFiles,
)
from ..schemas.common import validate
from ..schemas.files import FileOut
from ..security import new_id
from ..timeutil import iso, utcnow
from . import access, audit
from . import files as files_service

if TYPE_CHECKING:
    from ..runtime import Runtime


def album_url(settings: Any, album: Album) -> str:
    """``{public_url}/a/{albumId}``."""
    return f"{settings.public_url}/a/{album.id}"


def album_json(
    settings: Any, album: Album, file_count: int, cover_file_id: str | None = None
) -> dict[str, Any]:
    """The API's Album object (``schemas.albums.AlbumOut``) as JSON."""
    return AlbumOut(**AlbumOut.fields_of(settings, album, file_count, cover_file_id)).dump()


async def file_counts(album_ids: list[str]) -> dict[str, int]:
    """Number of entries of each album, in one query."""
    counts = dict.fromkeys(album_ids, 0)
    if album_ids:
        rows = (
            await AlbumFile.filter(album_id__in=album_ids)
            .annotate(n=Count("id"))
            .group_by("album_id")
            .values("album_id", "n")
        )
        for row in rows:
            counts[row["album_id"]] = row["n"]
    return counts


async def owner_json(settings: Any, album: Album) -> dict[str, Any]:
    """The Album as its owner (or staff) sees it: every entry counted."""
    counts = await file_counts([album.id])
    return album_json(settings, album, counts[album.id], album.cover_file_id)


async def check_own_files(user: User, file_ids: list[str]) -> None:
    """400 naming every id that is not one of ``user``'s ready files."""
    if not file_ids:
        return
    mine = set(
        await File.filter(id__in=file_ids, owner_id=user.id, status="ready").values_list(
            "id", flat=True
        )
    )
    others = [fid for fid in file_ids if fid not in mine]
    if others:
        raise bad_request(
            "fileIds: only your own ready files can be added: " + ", ".join(others),
            "invalid_file_ids",
            {"field": "fileIds", "fileIds": others},
        )


@contextlib.asynccontextmanager
async def _files_still_there(user: User, file_ids: list[str]) -> AsyncIterator[None]:
    """A file deleted between the ownership check and the insert fails the foreign key:
    the same 400 as for a file that was gone before (it was a 500; found by the soak)."""
    try:
        yield
    except IntegrityError:
        await check_own_files(user, file_ids)
        raise


def _not_in_album() -> ApiError:
    return bad_request(
        "coverFileId: must be one of the album's files", "invalid_cover", {"field": "coverFileId"}
    )


async def create(rt: Runtime, user: User, body: AlbumCreateRequest | dict[str, Any]) -> Album:
    """A new album of ``user``, optionally with files and a cover among them.

    Fires ``album_created``, whoever asks (the API, ``import --album``).
    """
    body = validate(AlbumCreateRequest, body)
    title, description, tags = body.title, body.description, body.tags
    visibility = body.visibility or "public"
    file_ids = body.fileIds or []
    cover = body.coverFileId
    await check_own_files(user, file_ids)
    if cover is not None and cover not in file_ids:
        raise _not_in_album()
    async with _files_still_there(user, file_ids), in_transaction("default"):
        album = await Album.create(
            id=new_id("alb"),
            owner_id=user.id,
            title=title,
            description=description,
            visibility=visibility,
            tags=tags,
            cover_file_id=cover,
        )
        await AlbumFile.bulk_create(
            [
                AlbumFile(album_id=album.id, file_id=fid, position=i)
                for i, fid in enumerate(file_ids)
            ]
        )
    await rt.fire("album_created", album=album)
    return album


async def list_own(user: User, *, limit: int, offset: int) -> tuple[list[Album], int]:
    """The caller's albums, newest first."""
    query = Album.filter(owner_id=user.id)
    total = await query.count()
    albums = await query.order_by("-created_at", "id").offset(offset).limit(limit)
    return albums, total


async def get_own(album_id: str, user: User, *, staff_ok: bool = False) -> Album:
    """The caller's album (or any album for staff when ``staff_ok``); 404 otherwise."""
    album = await Album.get_or_none(id=album_id) if is_id(album_id) else None
    if album is None or not (album.owner_id == user.id or (staff_ok and access.is_staff(user))):
        raise not_found("Album")
    return album


async def page(
    rt: Runtime, album: Album, viewer: User | None, *, limit: int, offset: int
) -> dict[str, Any]:
    """Album plus a page of its files in album order, as ``viewer`` may see them.

    Others than the owner and staff see neither private, held, removed or expired
    files, nor age-restricted ones unless they confirmed their age (as the public
    feed); ``fileCount`` and ``total`` count what the viewer sees. Filtered, counted
    and paged in SQL (see ``access.in_album_for``).
    """
    shown = AlbumFile.filter(access.in_album_for(viewer, album))
    total = await shown.count()
    window: list[File] = []
    if total > offset:
        ids = (
            await shown.order_by("position", "id")
            .offset(offset)
            .limit(limit)
            .values_list("file_id", flat=True)
        )
        by_id = {f.id: f for f in await File.filter(id__in=ids)}
        window = [by_id[i] for i in ids if i in by_id]
    cover = album.cover_file_id
    if cover is not None and not await shown.filter(file_id=cover).exists():
        cover = None
    fields = AlbumOut.fields_of(rt.settings, album, total, cover)
    albums = await files_service.album_ids_for([f.id for f in window], viewer)
    files = [FileOut.of(rt.settings, rt.storage, f, albums[f.id]) for f in window]
    result = AlbumWithFiles(**fields, files=files, total=total, limit=limit, offset=offset)
    return result.dump()


async def update(album: Album, changes: AlbumPatchRequest | dict[str, Any]) -> Album:
    """Apply a PATCH from the owner: title, description, visibility, tags, coverFileId."""
    access.check_album_available(album)
    changes = validate(AlbumPatchRequest, changes).model_dump(exclude_unset=True)
    fields = []
    for name in ("title", "description", "visibility", "tags"):
        if name in changes:
            setattr(album, name, changes[name])
            fields.append(name)
    if "coverFileId" in changes:
        cover = changes["coverFileId"]
        if cover is not None and not (
            is_id(cover) and await AlbumFile.filter(album_id=album.id, file_id=cover).exists()
        ):
            raise _not_in_album()
        album.cover_file_id = cover
        fields.append("cover_file_id")
    if fields:
        await album.save(update_fields=[*fields, "updated_at"])
    return album


async def delete(album: Album, user: User | None = None) -> None:
    """Delete the album and its entries; the files themselves stay.

    By ``user`` other than the owner (staff): the rule that a moderator may not act on
    an admin's content applies (403), and the deletion is audited as ``delete_album``.
    """
    operator = await files_service.staff_checked(user, album) if user is not None else None
    await Album.filter(id=album.id).delete()  # entries go with it (ON DELETE CASCADE)
    if operator is not None:
        data = {"ownerId": album.owner_id, "title": album.title}
        await audit.record(operator, "delete_album", "album", album.id, data=data)


async def _lock_album(album: Album) -> None:
    """Write first in a read-then-write transaction. On SQLite a transaction that read
    before its first write cannot wait for another worker's write lock: it fails at
    once with "database is locked" (a 500, found by tests/test_crash.py with two
    workers). A write as its first statement waits for the lock (busy_timeout)."""
    await Album.filter(id=album.id).update(updated_at=utcnow())


async def _write_order(album: Album, entries: list[AlbumFile], order: list[str]) -> None:
    """Give entries the positions of ``order`` (rewriting only those that moved)."""
    current = {e.file_id: e for e in entries}
    for position, fid in enumerate(order):
        entry = current.get(fid)
        if entry is None:
            await AlbumFile.create(album_id=album.id, file_id=fid, position=position)
        elif entry.position != position:
            await AlbumFile.filter(id=entry.id).update(position=position)
    await album.save(update_fields=["updated_at"])  # auto_now: the album changed


async def add_files(album: Album, user: User, body: AlbumAddFilesRequest) -> Album:
    """Insert the caller's files at ``position`` (default: the end), in the given order.

    Files already in the album stay where they are.
    """
    access.check_album_available(album)
    file_ids, position = body.fileIds, body.position
    await check_own_files(user, file_ids)
    async with _files_still_there(user, file_ids), in_transaction("default"):
        await _lock_album(album)
        entries = await AlbumFile.filter(album_id=album.id).order_by("position", "id")
        order = [e.file_id for e in entries]
        new = [fid for fid in file_ids if fid not in order]
        at = len(order) if position is None else min(position, len(order))
        await _write_order(album, entries, order[:at] + new + order[at:])
    return album


async def remove_file(album: Album, file_id: str) -> None:
    """Take one file out of the album (404 when it is not in it); the file stays."""
    access.check_album_available(album)
    if not is_id(file_id):
        raise not_found("File")
    async with in_transaction("default"):
        removed = await AlbumFile.filter(album_id=album.id, file_id=file_id).delete()
        if not removed:
            raise not_found("File")
        if album.cover_file_id == file_id:
            album.cover_file_id = None
            await album.save(update_fields=["cover_file_id", "updated_at"])


async def reorder(album: Album, body: AlbumOrderRequest) -> Album:
    """Put the album's files in the order given, which must list each of them once."""
    access.check_album_available(album)
    file_ids = body.fileIds
    if len(set(file_ids)) != len(file_ids):
        raise bad_request(
            "fileIds: every file of the album exactly once", "invalid_order", {"field": "fileIds"}
        )
    async with in_transaction("default"):
        await _lock_album(album)
        entries = await AlbumFile.filter(album_id=album.id).order_by("position", "id")
        current = {e.file_id for e in entries}
        if set(file_ids) != current:
            raise bad_request(
                "fileIds: every file of the album exactly once",
                "invalid_order",
                {
                    "field": "fileIds",
                    "missing": sorted(current - set(file_ids)),
                    "unknown": [f for f in file_ids if f not in current],
                },
            )
        await _write_order(album, entries, file_ids)
    return album


async def export_rows(user: User) -> list[dict[str, Any]]:
    """The user's albums with their file ids in order (for the account export)."""
    albums = await Album.filter(owner_id=user.id).order_by("created_at", "id")
    entries = await AlbumFile.filter(album__owner_id=user.id).order_by("position", "id")
    ids: dict[str, list[str]] = {a.id: [] for a in albums}
    for e in entries:
        ids.setdefault(e.album_id, []).append(e.file_id)
    return [
        {
            "id": a.id,
            "title": a.title,
            "description": a.description,
            "visibility": a.visibility,
            "tags": list(a.tags or []),
            "coverFileId": a.cover_file_id,
            "fileIds": ids.get(a.id, []),
            "createdAt": iso(a.created_at),
            "updatedAt": iso(a.updated_at),
        }
        for a in albums
    ]
