"""``/upload``: presign, direct PUT, one-request, finalize and multipart shapes."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from .common import (
    MAX_PARTS,
    MIN_PART,
    Body,
    Count,
    Description,
    Filename,
    Hours,
    Id,
    Out,
    Sha256,
    StrictInt,
    StrictStr,
    Tags,
    Time,
    Title,
    Url,
    Visibility,
)

Size = Field(ge=1)


class UploadFields(Body):
    """What presign and multipart init share: the file's name, type and metadata."""

    filename: Filename
    mime: StrictStr = Field(max_length=100, description="An accepted image type (415 otherwise).")
    sha256: Sha256 | None = None
    title: Title = None
    description: Description = None
    visibility: Visibility | None = None
    tags: Tags = None
    expiresIn: Hours | None = None
    albumId: StrictStr | None = Field(None, description="One of the caller's albums.")

    def fields(self) -> dict[str, Any]:
        """These fields alone (for a presign built from a multipart init)."""
        return {name: getattr(self, name) for name in UploadFields.model_fields}


class PresignRequest(UploadFields):
    """``POST /upload/presign`` (and the query fields of ``POST /upload``)."""

    bytes: StrictInt = Size


class MultipartInitRequest(UploadFields):
    """``POST /upload/multipart/init``: at least 5 MiB a part (unless one part holds the
    whole file), at most 10,000 parts."""

    totalBytes: StrictInt = Size
    partSize: StrictInt = Field(
        ge=1,
        description="At least 5 MiB unless one part holds the whole file; "
        f"at most {MAX_PARTS} parts.",
    )

    @field_validator("partSize")
    @classmethod
    def _parts(cls, part_size: int, info: ValidationInfo) -> int:
        total = info.data.get("totalBytes")
        if total is None:
            return part_size
        if part_size < MIN_PART and part_size < total:
            raise ValueError(f"at least {MIN_PART} bytes (5 MiB)")
        if math.ceil(total / min(part_size, total)) > MAX_PARTS:
            raise ValueError(f"at most {MAX_PARTS} parts: raise partSize")
        return part_size


Ignored = Field(None, description="Ignored: the server measures and computes.")


class FinalizeRequest(Body):
    """``POST /upload/finalize``: client-sent measurements are never trusted."""

    uploadId: StrictStr
    fileId: StrictStr
    r2Key: Any = Ignored
    r2Etag: Any = Ignored
    width: Any = Ignored
    height: Any = Ignored
    phash: Any = Ignored
    nsfwScore: Any = Ignored


class PartRef(Body):
    """One part of a complete request."""

    partNumber: StrictInt
    etag: StrictStr


class MultipartCompleteRequest(Body):
    """``POST /upload/multipart/complete``."""

    uploadId: StrictStr
    fileId: StrictStr
    r2Key: Any = Field(None, description="Ignored.")
    parts: list[PartRef]


class MultipartAbortRequest(Body):
    """``POST /upload/multipart/abort``."""

    uploadId: StrictStr


class Presign(Out):
    """The pending file and where to PUT its bytes."""

    uploadId: Id("upload")
    uploadUrl: Url
    fileId: Id("file")
    r2Key: str
    expiresAt: Time
    message: str


class DirectUpload(Out):
    """A direct PUT's answer."""

    fileId: Id("file")
    url: Url
    mime: str
    bytes: Count
    status: Literal["ready"]


class UploadPart(Out):
    """A stored part."""

    partNumber: int = Field(ge=1, le=MAX_PARTS)
    etag: str = Field(pattern="^[0-9a-f]{32}$")
    bytes: Count


class MultipartInit(Out):
    """The pending file plus one URL per part."""

    uploadId: Id("upload")
    fileId: Id("file")
    r2Key: str
    partSize: int = Field(ge=1)
    partCount: int = Field(ge=1, le=MAX_PARTS)
    partUrls: list[Url]
    expiresAt: Time


class MultipartStatus(Out):
    """A multipart upload and the parts received so far."""

    uploadId: Id("upload")
    fileId: Id("file")
    status: Literal["pending", "receiving", "completed"]
    partSize: int = Field(ge=1)
    partCount: int = Field(ge=1)
    totalBytes: int = Field(ge=1)
    parts: list[UploadPart]


class OneRequestQuery(Body):
    """The query of ``POST /upload`` (the body is the raw image)."""

    filename: str | None = Field(None, description="The file name (default `upload`).")
    title: str | None = Field(None, description="Title.")
    description: str | None = Field(None, description="Description.")
    visibility: Visibility | None = Field(None, description="Visibility.")
    tags: str | None = Field(None, description="Comma-separated tags.")
    albumId: str | None = Field(None, description="One of the caller's albums.")
    expiresIn: float | None = Field(None, description="Hours until the file expires.")
    sha256: str | None = Field(None, description="The SHA-256 of the body, checked.")


class UploadTokenQuery(Body):
    """A signed upload token, instead of other credentials."""

    token: str | None = Field(
        None,
        description="The signed token from `uploadUrl` / `partUrls`; replaces other credentials.",
    )
