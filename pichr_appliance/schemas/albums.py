"""``/albums``: the Album object, its pages and the create/patch/entries bodies."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ..timeutil import iso
from .common import (
    Body,
    Count,
    Description,
    FileIdRef,
    FileIds,
    Id,
    Limit,
    Out,
    RequiredTitle,
    StrictInt,
    StrictStr,
    Tags,
    Time,
    Url,
    Visibility,
)
from .files import FileOut


class AlbumOut(Out):
    """The API's Album."""

    id: Id("album")
    title: str
    description: str
    visibility: Visibility
    tags: list[str]
    coverFileId: str | None
    fileCount: Count
    ownerId: Id("user")
    createdAt: Time
    updatedAt: Time
    url: Url

    @classmethod
    def fields_of(
        cls, settings: Any, album: Any, file_count: int, cover_file_id: str | None
    ) -> dict[str, Any]:
        """The Album fields of a ``models.Album`` row (subclasses add their own)."""
        return {
            "id": album.id,
            "title": album.title,
            "description": album.description,
            "visibility": album.visibility,
            "tags": list(album.tags or []),
            "coverFileId": cover_file_id,
            "fileCount": file_count,
            "ownerId": album.owner_id,
            "createdAt": iso(album.created_at),
            "updatedAt": iso(album.updated_at),
            "url": f"{settings.public_url}/a/{album.id}",
        }


class AlbumPage(Out):
    """``{albums, total, limit, offset}``."""

    albums: list[AlbumOut]
    total: Count
    limit: Limit
    offset: Count


class AlbumWithFiles(AlbumOut):
    """An album plus a page of its files, in album order."""

    files: list[FileOut]
    total: Count
    limit: Limit
    offset: Count


class AlbumCreateRequest(Body):
    """``POST /albums``: only the caller's own ready files may be added."""

    title: RequiredTitle
    description: Description = None
    visibility: Visibility | None = None
    tags: Tags = None
    fileIds: FileIds | None = None
    coverFileId: StrictStr | None = Field(None, description="One of `fileIds`.")


class AlbumPatchRequest(Body):
    """``PATCH /albums/{id}``: only the fields sent change."""

    title: RequiredTitle = ""
    description: Description = None
    visibility: Visibility = "public"
    tags: Tags = None
    coverFileId: StrictStr | None = Field(None, description="A file of the album.")


class AlbumAddFilesRequest(Body):
    """``POST /albums/{id}/files``: inserted at ``position`` (default: the end)."""

    fileIds: FileIds = Field(min_length=1)
    position: StrictInt | None = Field(None, ge=0)


class AlbumOrderRequest(Body):
    """``PUT /albums/{id}/order``: every file of the album exactly once."""

    fileIds: list[FileIdRef] = Field(max_length=1000, json_schema_extra={"uniqueItems": True})
