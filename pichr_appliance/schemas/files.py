"""``/files``: the File object, its pages, the PATCH and share bodies, list queries."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from ..timeutil import iso, parse_iso, utcnow
from .common import (
    FILE_STATUSES,
    OFFSET_MAX,
    PAGE_MAX,
    Body,
    Count,
    Description,
    Id,
    Limit,
    Out,
    StrictInt,
    StrictStr,
    Tags,
    Time,
    Title,
    Url,
    Visibility,
)

FileStatus = Literal["pending", "ready", "failed", "removed"]
assert set(FileStatus.__args__) == set(FILE_STATUSES)  # type: ignore[attr-defined]


class FileOut(Out):
    """The API's File object (every field of docs/pichr-api-contract.md)."""

    id: Id("file")
    url: Url
    cdnUrl: Url | None
    title: str
    description: str
    filename: str
    mime: str
    bytes: Count
    width: Count | None
    height: Count | None
    visibility: Visibility
    status: FileStatus
    viewCount: Count
    downloadCount: Count
    nsfwScore: float | None
    ageRestricted: bool
    tags: list[str]
    sha256: str | None = Field(pattern="^[0-9a-f]{64}$")
    phash: str | None
    blurhash: str | None = Field(
        description="A BlurHash of the picture (placeholder while it loads); null before "
        "processing or when none could be made."
    )
    duplicateOf: str | None
    albumIds: list[Id("album")]
    ownerId: Id("user") | None
    createdAt: Time
    updatedAt: Time
    expiresAt: Time | None

    @classmethod
    def of(cls, settings: Any, storage: Any, file: Any, album_ids: list[str] | None = None):
        """The File object of a ``models.File`` row."""
        return cls(
            id=file.id,
            url=f"{settings.image_base_url}/{file.id}",
            cdnUrl=storage.public_url(file.storage_key) if file.status == "ready" else None,
            title=file.title,
            description=file.description,
            filename=file.filename,
            mime=file.mime,
            bytes=file.bytes,
            width=file.width,
            height=file.height,
            visibility=file.visibility,
            status=file.status,
            viewCount=file.view_count,
            downloadCount=file.download_count,
            nsfwScore=file.nsfw_score,
            ageRestricted=file.age_restricted,
            tags=list(file.tags or []),
            sha256=file.sha256,
            phash=file.phash,
            blurhash=file.blurhash,
            duplicateOf=file.duplicate_of,
            albumIds=album_ids or [],
            ownerId=file.owner_id,
            createdAt=iso(file.created_at),
            updatedAt=iso(file.updated_at),
            expiresAt=iso(file.expires_at),
        )


class FilePage(Out):
    """``{files, total, limit, offset}``."""

    files: list[FileOut]
    total: Count
    limit: Limit
    offset: Count


class ShareUrl(Out):
    """A signed, expiring URL of a file."""

    url: Url
    expiresAt: Time


class FilePatchRequest(Body):
    """``PATCH /files/{id}``: only the fields sent change."""

    title: Title = None
    description: Description = None
    visibility: Visibility = "public"
    tags: Tags = None
    expiresAt: StrictStr | None = Field(
        None, json_schema_extra={"format": "date-time", "description": "In the future."}
    )

    @field_validator("expiresAt")
    @classmethod
    def _future(cls, value: str | None) -> datetime | None:
        if value is None:
            return None
        try:
            when = parse_iso(value)
        except ValueError:
            when = None
        if when is None or when <= utcnow():
            raise ValueError("an ISO-8601 time in the future, or null")
        return when  # type: ignore[return-value]


class ShareRequest(Body):
    """``POST /files/{id}/share``: seconds, at most ``images.share_max_seconds``."""

    expiresIn: StrictInt = Field(3600, ge=1, description="Seconds.")

    @field_validator("expiresIn")
    @classmethod
    def _within_limit(cls, value: int, info: ValidationInfo) -> int:
        settings = (info.context or {}).get("settings")
        limit = settings.images.share_max_seconds if settings else None
        if limit is not None and value > limit:
            raise ValueError(f"seconds, 1 to {limit}")
        return value


class Paging(Body):
    """``?limit`` (default 20, max 100) and ``?offset``."""

    limit: int = Field(20, ge=1, le=PAGE_MAX, description="Page size.")
    offset: int = Field(0, ge=0, le=OFFSET_MAX, description="Items to skip.")


class FileListQuery(Paging):
    """``GET /files`` filters."""

    visibility: Visibility | None = Field(None, description="Only these.")
    tag: str | None = Field(None, description="Only files with this tag.")
    albumId: str | None = Field(None, description="Only files in this album.")
    q: str | None = Field(None, description="Search in title, description and filename.")
    sort: Literal["created", "-created", "views"] = Field("-created", description="Order.")


class PublicFileQuery(Paging):
    """``GET /files/public`` filters."""

    tag: str | None = Field(None, description="Only files with this tag.")
