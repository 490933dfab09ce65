"""Uploads: presign, streamed direct PUT, processing, finalize."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from tortoise.transactions import in_transaction

from .. import imaging
from ..errors import ApiError, bad_request, conflict, not_found
from ..models import Album, File, Upload, User, is_id
from ..schemas.common import MAX_EXPIRES_HOURS, MAX_TAG_LEN, MAX_TAGS, validate
from ..schemas.uploads import Presign, PresignRequest
from ..security import file_size_and_sha256, new_id
from ..timeutil import iso, utcnow
from . import files as files_service
from . import moderation

log = logging.getLogger("pichr_appliance.uploads")

__all__ = ["MAX_EXPIRES_HOURS", "MAX_TAGS", "MAX_TAG_LEN", "presign", "process", "receive"]


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


def upload_url(rt: Any, file_id: str) -> str:
    token = rt.tokens.signed_token("upload", file_id, rt.settings.uploads.upload_token_ttl)
    return f"{rt.settings.public_url}/api/v1/upload/direct/{file_id}?token={token}"


def bucket_key(upload_id: str) -> str:
    """Where a direct-to-storage upload lands before it is verified (never served)."""
    return f"incoming/{upload_id}"


async def presign(
    rt: Any, user: User | None, body: PresignRequest | dict[str, Any], *, to_storage: bool = True
) -> dict[str, Any]:
    """Create a pending file and its upload record; the API's presign answer.

    With a backend that has ``direct_uploads`` on (and ``to_storage``), ``uploadUrl``
    is the backend's own presigned URL for a staging key; ``finalize`` ingests it.
    """
    settings = rt.settings
    if user is None and not settings.uploads.allow_anonymous:
        raise ApiError(401, "unauthorized", "Sign in to upload (anonymous uploads are off)")
    body = validate(PresignRequest, body)
    filename, mime = body.filename, body.mime
    if mime.lower() not in settings.uploads.accepted_types:
        raise ApiError(
            415,
            "unsupported_type",
            f"mime: one of {', '.join(settings.uploads.accepted_types)}",
            {"field": "mime"},
        )
    nbytes = check_size_and_quota(settings, user, body.bytes)
    sha = body.sha256
    title, description, tags = body.title, body.description, body.tags
    visibility = body.visibility or "public"
    expires_at = None
    if body.expiresIn is not None:
        expires_at = utcnow() + timedelta(hours=body.expiresIn)
    album_id = body.albumId
    if album_id is not None and (
        user is None
        or not is_id(album_id)
        or not await Album.filter(id=album_id, owner_id=user.id).exists()
    ):
        raise not_found("Album")
    file_id = new_id("file")
    key = files_service.original_key(file_id, filename)
    stale = timedelta(hours=settings.uploads.stale_upload_hours)
    to_bucket = to_storage and rt.storage.direct_uploads
    async with in_transaction():
        await File.create(
            id=file_id,
            owner=user,
            title=title,
            description=description,
            filename=filename,
            mime=mime.lower(),
            bytes=nbytes,
            visibility=visibility,
            tags=tags,
            storage_key=key,
            expires_at=expires_at,
            status="pending",
            keep_location=not settings.uploads.strip_location,
        )
        upload = await Upload.create(
            id=new_id("upl"),
            file_id=file_id,
            owner=user,
            kind="bucket" if to_bucket else "direct",
            declared_bytes=nbytes,
            declared_sha256=sha.lower() if sha else None,
            mime=mime.lower(),
            expires_at=utcnow() + stale,
            album_id=album_id,
        )
    if to_bucket:
        url = await rt.storage.presign_put(
            bucket_key(upload.id),
            content_type=mime.lower(),
            expires=settings.uploads.upload_token_ttl,
        )
    else:
        url = upload_url(rt, file_id)
    return Presign(
        uploadId=upload.id,
        uploadUrl=url,
        fileId=file_id,
        r2Key=key,
        expiresAt=iso(upload.expires_at),
        message="File record created. Use PUT request to upload file, then call /finalize",
    ).dump()


async def claim_direct(file_id: str) -> Upload:
    """Take the pending upload of ``file_id`` for one PUT; 404/409 otherwise."""
    upload = await Upload.get_or_none(file_id=file_id, kind="direct")
    if upload is None:
        raise not_found("Upload")
    if upload.status == "completed":
        raise conflict("This upload is already complete", "upload_completed")
    claimed = await Upload.filter(id=upload.id, status="pending").update(status="receiving")
    if not claimed:
        raise conflict("Another request is uploading this file right now", "upload_in_progress")
    return upload


async def release(upload: Upload) -> None:
    """Let the client try again after a failed PUT."""
    await Upload.filter(id=upload.id, status="receiving").update(status="pending")


def temp_dir(settings: Any) -> Path:
    path = settings.data_path / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


async def receive(
    settings: Any, upload: Upload, plan_max: int, chunks: AsyncIterator[bytes]
) -> tuple[Path, int, str]:
    """Write the streamed body to a temp file, hashing as it goes.

    The body is cut off as soon as it passes the declared size: 413 when it also
    passes the plan's maximum, else 400.
    """
    path = temp_dir(settings) / f"{upload.id}-{os.urandom(4).hex()}"
    digest = hashlib.sha256()
    total = 0
    try:
        with open(path, "wb") as fh:
            async for chunk in chunks:
                total += len(chunk)
                if total > upload.declared_bytes:
                    raise body_too_long(upload, total > plan_max)
                digest.update(chunk)
                fh.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, total, digest.hexdigest()


def body_too_long(upload: Upload, past_plan_max: bool) -> ApiError:
    message = f"The body is longer than the declared {upload.declared_bytes} bytes"
    if past_plan_max:
        return ApiError(413, "file_too_large", message)
    return bad_request(message, "size_mismatch")


async def process(rt: Any, upload: Upload, path: Path, total: int, sha: str) -> File:
    """Check the landed bytes, store them, and make the file ready (all or nothing)."""
    settings = rt.settings
    file = await File.get(id=upload.file_id)
    owner = await User.get_or_none(id=file.owner_id) if file.owner_id else None
    try:
        if total != upload.declared_bytes:
            raise bad_request(
                f"Received {total} bytes but {upload.declared_bytes} were declared", "size_mismatch"
            )
        if upload.declared_sha256 and sha != upload.declared_sha256:
            raise bad_request("sha256 does not match the uploaded bytes", "sha256_mismatch")
        loop = asyncio.get_running_loop()
        try:
            info = await loop.run_in_executor(
                None,
                lambda: imaging.inspect(
                    path,
                    max_pixels=settings.uploads.max_pixels,
                    strip_location=not file.keep_location,
                    max_metadata=settings.uploads.max_metadata_bytes,
                    max_buffered=settings.uploads.max_buffered_bytes,
                ),
            )
        except imaging.ImageRejected as exc:
            status = 400 if exc.code in ("image_too_large", "too_much_metadata") else 415
            raise ApiError(status, exc.code, exc.message) from None
        if info.mime != file.mime:
            raise ApiError(
                415, "mime_mismatch", f"The bytes are {info.mime}, but {file.mime} was declared"
            )
        if info.location_stripped:
            total, sha = await loop.run_in_executor(None, file_size_and_sha256, path)
        plan = plan_of(settings, owner)
        if owner is not None and plan.quota_bytes is not None:
            await owner.refresh_from_db()
            if owner.usage_bytes + total > plan.quota_bytes:
                raise ApiError(402, "quota_exceeded", "Storage quota exhausted")
        duplicate = await _find_duplicate(file, sha, info.phash)
        score = await classify(rt, path)
        await _plugin_validation(rt, owner, file, info, path)
        await rt.storage.put_file(file.storage_key, path, content_type=info.mime, move=True)
    finally:
        path.unlink(missing_ok=True)
    file.bytes, file.sha256, file.phash = total, sha, info.phash
    file.width, file.height, file.duplicate_of = info.width, info.height, duplicate
    file.nsfw_score = score
    if moderation.auto_age_restricted(settings, score):
        file.age_restricted = True
    file.status = "ready"
    async with in_transaction():
        await file.save()
        await Upload.filter(id=upload.id).update(status="completed", completed_at=utcnow())
        await files_service.add_usage(file.owner_id, total, 1)
        if upload.album_id:
            await _add_to_album(upload.album_id, file)
    # A request may have cached the file as pending (404) in this worker.
    files_service.forget(rt, file.id)
    await moderation.after_classification(rt, file)
    await rt.fire("file_uploaded", file=file)
    return file


NEAR_DUPLICATE_BITS = 4


async def _find_duplicate(file: File, sha: str, phash: str) -> str | None:
    """The owner's earliest ready file with the same bytes or a near-identical picture."""
    if not file.owner_id:
        return None
    same = (
        await File.filter(owner_id=file.owner_id, sha256=sha, status="ready")
        .exclude(id=file.id)
        .order_by("created_at")
        .first()
    )
    if same:
        return same.id
    candidates = (
        await File.filter(owner_id=file.owner_id, status="ready")
        .exclude(id=file.id)
        .exclude(phash=None)
        .order_by("-created_at")
        .limit(500)
        .values("id", "phash")
    )
    near = [c for c in candidates if imaging.hamming(c["phash"], phash) <= NEAR_DUPLICATE_BITS]
    return near[-1]["id"] if near else None


async def _plugin_validation(rt: Any, owner: Any, file: File, info: Any, path: Path) -> None:
    """400 ``upload_rejected`` with the first reason a ``validate_upload`` plugin gives."""
    if not rt.has_impls("validate_upload"):
        return
    reasons = await rt.call("validate_upload", user=owner, file=file, info=info, path=path)
    for reason in reasons:
        if reason:
            raise ApiError(400, "upload_rejected", str(reason))


async def classify(rt: Any, path: Path) -> float | None:
    """The highest score of the installed classifiers, or None without any.

    Classifiers come from ``register_classifiers`` once per process. A synchronous
    ``score`` runs in a worker thread so that inference never blocks the event loop;
    an ``async def score`` is awaited. A failing classifier is logged and ignored.
    """
    classifiers = rt.classifiers
    scores = []
    loop = asyncio.get_running_loop()
    for classifier in classifiers:
        try:
            if inspect.iscoroutinefunction(classifier.score):
                score = await classifier.score(path)
            else:
                score = await loop.run_in_executor(None, classifier.score, path)
            score = float(score)
            if not 0.0 <= score <= 1.0:
                raise ValueError(f"score {score} is outside [0, 1]")
            scores.append(score)
        except Exception:
            log.exception("classifier %s failed", getattr(classifier, "name", classifier))
    return max(scores) if scores else None


async def _add_to_album(album_id: str, file: File) -> None:
    from ..models import AlbumFile

    count = await AlbumFile.filter(album_id=album_id).count()
    await AlbumFile.get_or_create(album_id=album_id, file_id=file.id, defaults={"position": count})


async def finalize(rt: Any, user: User | None, upload_id: str, file_id: str) -> File:
    """Idempotent: the File of a completed upload; 409 while bytes are missing."""
    if not (is_id(upload_id) and is_id(file_id)):
        raise not_found("Upload")
    upload = await Upload.get_or_none(id=upload_id, file_id=file_id)
    if upload is None or (upload.owner_id and (user is None or upload.owner_id != user.id)):
        raise not_found("Upload")
    if upload.status != "completed" and upload.kind == "bucket":
        return await ingest_bucket_upload(rt, upload)
    if upload.status != "completed":
        raise conflict("The file's bytes have not been uploaded yet", "upload_incomplete")
    return await File.get(id=file_id)


async def ingest_bucket_upload(rt: Any, upload: Upload) -> File:
    """Verify and process an object the client PUT straight into storage.

    The object sits under a staging key that is never served; it is read back through
    the same checks as a direct PUT (size, sha256, decode) and stored under the file's
    key only if it passes. Bytes that fail are deleted so that the client can PUT again.
    """
    staging = bucket_key(upload.id)
    if await rt.storage.size(staging) is None:
        raise conflict("The file's bytes have not been uploaded yet", "upload_incomplete")
    claimed = await Upload.filter(id=upload.id, status="pending").update(status="receiving")
    if not claimed:
        raise conflict("Another request is finalizing this upload", "upload_in_progress")
    owner = await User.get_or_none(id=upload.owner_id) if upload.owner_id else None
    plan_max = plan_of(rt.settings, owner).max_file_bytes
    try:
        path, total, sha = await receive(rt.settings, upload, plan_max, rt.storage.open(staging))
        file = await process(rt, upload, path, total, sha)
    except ApiError as exc:
        await release(upload)
        if exc.status < 500:
            await rt.storage.delete(staging)
        raise
    except BaseException:
        await release(upload)
        raise
    await rt.storage.delete(staging)
    return file
