"""Uploads: the checks of presign, presign itself and finalize.

Receiving and processing the bytes is the ingest pipeline's (``services/ingest.py``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from tortoise.transactions import in_transaction

from ..errors import ApiError, conflict, not_found
from ..formats import canonical_mime
from ..models import Album, File, Upload, User, is_id
from ..schemas.common import validate
from ..schemas.uploads import Presign, PresignRequest
from ..security import new_id
from ..timeutil import iso, utcnow
from . import diskspace
from . import files as files_service

if TYPE_CHECKING:
    from ..runtime import Runtime

__all__ = ["finalize", "presign"]


def plan_of(settings: Any, user: User | None) -> Any:
    return settings.plan(user.plan if user else "anonymous")


def check_size_and_quota(settings: Any, user: User | None, nbytes: Any) -> int:
    """413 over the plan's max, 402 over the remaining quota (the request model has
    already refused sizes that are not positive integers)."""
    plan = plan_of(settings, user)
    if nbytes > plan.max_file_bytes:
        raise ApiError(
            413,
            "file_too_large",
            f"File is larger than your plan allows ({plan.max_file_bytes} bytes)",
            {"maxBytes": plan.max_file_bytes},
        )
    if (
        user is not None
        and plan.quota_bytes is not None
        and (user.usage_bytes + nbytes > plan.quota_bytes)
    ):
        raise ApiError(
            402,
            "quota_exceeded",
            "Storage quota exhausted",
            {"quotaBytes": plan.quota_bytes, "usedBytes": user.usage_bytes},
        )
    return nbytes


def upload_url(rt: Runtime, file_id: str) -> str:
    token = rt.tokens.signed_token("upload", file_id, rt.settings.uploads.upload_token_ttl)
    return f"{rt.settings.public_url}/api/v1/upload/direct/{file_id}?token={token}"


def bucket_key(upload_id: str) -> str:
    """Where a direct-to-storage upload lands before it is verified (never served)."""
    return f"incoming/{upload_id}"


async def presign(
    rt: Runtime,
    user: User | None,
    body: PresignRequest | dict[str, Any],
    *,
    to_storage: bool = True,
) -> dict[str, Any]:
    """Create a pending file and its upload record; the API's presign answer.

    With a backend that has ``direct_uploads`` on (and ``to_storage``), ``uploadUrl``
    is the backend's own presigned URL for a staging key; ``finalize`` ingests it.
    """
    return (await create(rt, user, body, to_storage=to_storage))[0]


async def create(
    rt: Runtime,
    user: User | None,
    body: PresignRequest | dict[str, Any],
    *,
    to_storage: bool = True,
    one_step: bool = False,
) -> tuple[dict[str, Any], Upload]:
    """:func:`presign`'s answer and the upload record it made. ``one_step`` marks an
    upload whose bytes follow in the same request (its client never sees the ids, so
    a dead attempt is discarded, not kept for a retry); the record is made with the
    mark, and returned, so that the request reads neither back (issue 18)."""
    settings = rt.settings
    if user is None and not settings.uploads.allow_anonymous:
        raise ApiError(401, "unauthorized", "Sign in to upload (anonymous uploads are off)")
    body = validate(PresignRequest, body)
    fields = _presign_fields(settings, user, body)
    diskspace.check_room(settings, fields["bytes"])  # 507 before any record or byte
    await _check_album(user, body.albumId)
    to_bucket = to_storage and rt.storage.direct_uploads
    upload = await _create_records(settings, user, fields, body.albumId, to_bucket, one_step)
    if to_bucket:
        url = await rt.storage.presign_put(
            bucket_key(upload.id),
            content_type=fields["mime"],
            expires=settings.uploads.upload_token_ttl,
        )
    else:
        url = upload_url(rt, upload.file_id)
    answer = Presign(
        uploadId=upload.id,
        uploadUrl=url,
        fileId=upload.file_id,
        r2Key=fields["storage_key"],
        expiresAt=iso(upload.expires_at),
        message=PRESIGN_MESSAGE_BUCKET if to_bucket else PRESIGN_MESSAGE_DIRECT,
    ).dump()
    return answer, upload


# What the presign answer's ``message`` tells the client to do: with local storage the
# PUT itself validates and stores the file; a PUT straight into an S3 bucket cannot, so
# there /finalize does it.
PRESIGN_MESSAGE_DIRECT = (
    "File record created. PUT the file's bytes to uploadUrl: the file is ready when that "
    "PUT answers 200 (POST /api/v1/upload/finalize afterwards is accepted, not needed)."
)
PRESIGN_MESSAGE_BUCKET = (
    "File record created. PUT the file's bytes to uploadUrl (straight into storage), "
    "then POST /api/v1/upload/finalize with uploadId and fileId to make it ready."
)


def _presign_fields(settings: Any, user: User | None, body: PresignRequest) -> dict[str, Any]:
    """The record fields of a checked presign body (415/413/402 as ``presign`` answers)."""
    mime = canonical_mime(body.mime)
    if mime not in settings.uploads.accepted_types:
        raise ApiError(
            415,
            "unsupported_type",
            f"mime: one of {', '.join(settings.uploads.accepted_types)}",
            {"field": "mime"},
        )
    nbytes = check_size_and_quota(settings, user, body.bytes)
    expires_at = None
    if body.expiresIn is not None:
        expires_at = utcnow() + timedelta(hours=body.expiresIn)
    file_id = new_id("file")
    return {
        "id": file_id,
        "filename": body.filename,
        "mime": mime,
        "bytes": nbytes,
        "sha256": body.sha256.lower() if body.sha256 else None,
        "title": body.title,
        "description": body.description,
        "visibility": body.visibility or "public",
        "tags": body.tags,
        "expires_at": expires_at,
        "storage_key": files_service.original_key(file_id, body.filename),
    }


async def _check_album(user: User | None, album_id: Any) -> None:
    """404 unless ``album_id`` (when given) is one of the uploader's albums."""
    if album_id is not None and (
        user is None
        or not is_id(album_id)
        or not await Album.filter(id=album_id, owner_id=user.id).exists()
    ):
        raise not_found("Album")


async def _create_records(
    settings: Any,
    user: User | None,
    f: dict[str, Any],
    album_id: str | None,
    to_bucket: bool,
    one_step: bool = False,
) -> Upload:
    """The pending file and its upload record, together or not at all."""
    stale = timedelta(hours=settings.uploads.stale_upload_hours)
    async with in_transaction("default"):
        file = await File.create(
            id=f["id"],
            owner=user,
            title=f["title"],
            description=f["description"],
            filename=f["filename"],
            mime=f["mime"],
            bytes=f["bytes"],
            visibility=f["visibility"],
            tags=f["tags"],
            storage_key=f["storage_key"],
            expires_at=f["expires_at"],
            status="pending",
            keep_location=not settings.uploads.strip_location,
        )
        return await Upload.create(
            id=new_id("upl"),
            file=file,  # kept on the record: a one-step upload's processing reads no File
            owner=user,
            kind="bucket" if to_bucket else "direct",
            declared_bytes=f["bytes"],
            declared_sha256=f["sha256"],
            mime=f["mime"],
            expires_at=utcnow() + stale,
            album_id=album_id,
            one_step=one_step,
        )


async def finalize(rt: Runtime, user: User | None, upload_id: Any, file_id: Any) -> File:
    """Idempotent: the File of a completed upload; 409 while bytes are missing."""
    if not (is_id(upload_id) and is_id(file_id)):
        raise not_found("Upload")
    upload = await Upload.get_or_none(id=upload_id, file_id=file_id)
    if upload is None or (upload.owner_id and (user is None or upload.owner_id != user.id)):
        raise not_found("Upload")
    if upload.status != "completed" and upload.kind == "bucket":
        from . import ingest  # the pipeline imports this module: import at call time

        return await ingest.bucket(rt, upload)
    if upload.status != "completed":
        raise conflict("The file's bytes have not been uploaded yet", "upload_incomplete")
    return await File.get(id=file_id)
