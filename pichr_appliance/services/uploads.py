"""Uploads: the checks of presign, presign itself and finalize.

Receiving and processing the bytes is the ingest pipeline's (``services/ingest.py``).
"""

from __future__ import annotations

import unicodedata
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from tortoise.transactions import in_transaction

from ..errors import ApiError, bad_request, conflict, not_found
from ..models import VISIBILITIES, Album, File, Upload, User, is_id
from ..security import new_id
from ..timeutil import iso, utcnow
from . import files as files_service

if TYPE_CHECKING:
    from ..runtime import Runtime

MAX_TAGS = 20
MAX_TAG_LEN = 50
MAX_EXPIRES_HOURS = 24 * 365 * 10


def check_filename(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise bad_request("filename: required", "invalid_filename", {"field": "filename"})
    if len(name) > 255:
        raise bad_request(
            "filename: at most 255 characters", "invalid_filename", {"field": "filename"}
        )
    if any(unicodedata.category(c) == "Cc" for c in name):
        raise bad_request(
            "filename: control characters are not allowed",
            "invalid_filename",
            {"field": "filename"},
        )
    # Path separators are harmless (keys are built from ids), but they are not a name.
    return name.replace("\\", "/").rsplit("/", 1)[-1] or "image"


def check_tags(tags: Any) -> list[str]:
    if tags is None:
        return []
    if (
        not isinstance(tags, list)
        or len(tags) > MAX_TAGS
        or not all(isinstance(t, str) and 0 < len(t.strip()) <= MAX_TAG_LEN for t in tags)
    ):
        raise bad_request(
            f"tags: at most {MAX_TAGS} strings of 1-{MAX_TAG_LEN} characters",
            "invalid_tags",
            {"field": "tags"},
        )
    return list(dict.fromkeys(t.strip().lower() for t in tags))


def check_title(value: Any) -> str:
    title = value or ""
    if not isinstance(title, str) or len(title) > 200:
        raise bad_request("title: at most 200 characters", "invalid_title", {"field": "title"})
    return title


def check_description(value: Any) -> str:
    description = value or ""
    if not isinstance(description, str) or len(description) > 5000:
        raise bad_request(
            "description: at most 5000 characters", "invalid_description", {"field": "description"}
        )
    return description


def check_visibility(value: Any) -> str:
    if value not in VISIBILITIES:
        raise bad_request(
            f"visibility: one of {', '.join(VISIBILITIES)}",
            "invalid_visibility",
            {"field": "visibility"},
        )
    return value


def plan_of(settings: Any, user: User | None) -> Any:
    return settings.plan(user.plan if user else "anonymous")


def check_size_and_quota(settings: Any, user: User | None, nbytes: Any) -> int:
    """400 for nonsense sizes, 413 over the plan's max, 402 over the remaining quota."""
    if isinstance(nbytes, bool) or not isinstance(nbytes, int) or nbytes <= 0:
        raise bad_request("bytes: a positive integer", "invalid_size", {"field": "bytes"})
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


def upload_url(rt: Any, file_id: str) -> str:
    token = rt.tokens.signed_token("upload", file_id, rt.settings.uploads.upload_token_ttl)
    return f"{rt.settings.public_url}/api/v1/upload/direct/{file_id}?token={token}"


def bucket_key(upload_id: str) -> str:
    """Where a direct-to-storage upload lands before it is verified (never served)."""
    return f"incoming/{upload_id}"


async def presign(
    rt: Runtime, user: User | None, body: dict[str, Any], *, to_storage: bool = True
) -> dict[str, Any]:
    """Create a pending file and its upload record; the API's presign answer.

    With a backend that has ``direct_uploads`` on (and ``to_storage``), ``uploadUrl``
    is the backend's own presigned URL for a staging key; ``finalize`` ingests it.
    """
    settings = rt.settings
    if user is None and not settings.uploads.allow_anonymous:
        raise ApiError(401, "unauthorized", "Sign in to upload (anonymous uploads are off)")
    fields = _presign_fields(settings, user, body)
    album_id = body.get("albumId")
    await _check_album(user, album_id)
    to_bucket = to_storage and rt.storage.direct_uploads
    upload = await _create_records(settings, user, fields, album_id, to_bucket)
    if to_bucket:
        url = await rt.storage.presign_put(
            bucket_key(upload.id),
            content_type=fields["mime"],
            expires=settings.uploads.upload_token_ttl,
        )
    else:
        url = upload_url(rt, upload.file_id)
    return {
        "uploadId": upload.id,
        "uploadUrl": url,
        "fileId": upload.file_id,
        "r2Key": fields["storage_key"],
        "expiresAt": iso(upload.expires_at),
        "message": "File record created. Use PUT request to upload file, then call /finalize",
    }


def _presign_fields(settings: Any, user: User | None, body: dict[str, Any]) -> dict[str, Any]:
    """The checked fields of a presign body (415/413/402/400 as ``presign`` answers)."""
    filename = check_filename(body.get("filename"))
    mime = body.get("mime")
    if not isinstance(mime, str) or mime.lower() not in settings.uploads.accepted_types:
        raise ApiError(
            415,
            "unsupported_type",
            f"mime: one of {', '.join(settings.uploads.accepted_types)}",
            {"field": "mime"},
        )
    nbytes = check_size_and_quota(settings, user, body.get("bytes"))
    sha = body.get("sha256")
    if sha is not None and (
        not isinstance(sha, str)
        or len(sha) != 64
        or any(c not in "0123456789abcdef" for c in sha.lower())
    ):
        raise bad_request("sha256: 64 hex digits", "invalid_sha256", {"field": "sha256"})
    title = check_title(body.get("title"))
    description = check_description(body.get("description"))
    visibility = check_visibility(body.get("visibility") or "public")
    tags = check_tags(body.get("tags"))
    expires_at = None
    expires_in = body.get("expiresIn")
    if expires_in is not None:
        if (
            isinstance(expires_in, bool)
            or not isinstance(expires_in, int | float)
            or not (0 < expires_in <= MAX_EXPIRES_HOURS)
        ):
            raise bad_request(
                "expiresIn: hours, a positive number", "invalid_expiry", {"field": "expiresIn"}
            )
        expires_at = utcnow() + timedelta(hours=expires_in)
    file_id = new_id("file")
    return {
        "id": file_id,
        "filename": filename,
        "mime": mime.lower(),
        "bytes": nbytes,
        "sha256": sha.lower() if sha else None,
        "title": title,
        "description": description,
        "visibility": visibility,
        "tags": tags,
        "expires_at": expires_at,
        "storage_key": files_service.original_key(file_id, filename),
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
    settings: Any, user: User | None, f: dict[str, Any], album_id: str | None, to_bucket: bool
) -> Upload:
    """The pending file and its upload record, together or not at all."""
    stale = timedelta(hours=settings.uploads.stale_upload_hours)
    async with in_transaction():
        await File.create(
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
            file_id=f["id"],
            owner=user,
            kind="bucket" if to_bucket else "direct",
            declared_bytes=f["bytes"],
            declared_sha256=f["sha256"],
            mime=f["mime"],
            expires_at=utcnow() + stale,
            album_id=album_id,
        )


async def finalize(rt: Runtime, user: User | None, upload_id: Any, file_id: Any) -> File:
    """Idempotent: the File of a completed upload; 409 while bytes are missing."""
    if not isinstance(upload_id, str) or not isinstance(file_id, str):
        raise bad_request("uploadId and fileId are required", "invalid_request")
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
