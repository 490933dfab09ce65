"""Multipart uploads: init, parts (streamed, replaceable), status, complete, abort."""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from tortoise.transactions import in_transaction

from ..db import upsert
from ..errors import bad_request, conflict, not_found
from ..models import File, Upload, UploadPart, User, is_id
from ..schemas.common import validate
from ..schemas.uploads import (
    MultipartCompleteRequest,
    MultipartInit,
    MultipartInitRequest,
    MultipartStatus,
    PresignRequest,
)
from ..schemas.uploads import (
    UploadPart as PartOut,
)
from . import claims, diskspace, ingest, uploads

if TYPE_CHECKING:
    from ..runtime import Runtime


def part_key(upload_id: str, number: int) -> str:
    return f"multipart/{upload_id}/{number:05d}"


def parts_token(rt: Runtime, upload_id: str) -> str:
    return rt.tokens.signed_token("multipart", upload_id, rt.settings.uploads.upload_token_ttl)


async def init(
    rt: Runtime, user: User | None, body: MultipartInitRequest | dict[str, Any]
) -> dict[str, Any]:
    """Start a multipart upload: the pending file plus one URL per part."""
    body = validate(MultipartInitRequest, body)
    total = body.totalBytes
    part_size = min(body.partSize, total)
    count = math.ceil(total / part_size)
    # Parts come through the appliance (see docs/storage.md), never straight to a bucket.
    request = PresignRequest(**body.fields(), bytes=total)
    presigned = await uploads.presign(rt, user, request, to_storage=False)
    await Upload.filter(id=presigned["uploadId"]).update(
        kind="multipart", part_size=part_size, part_count=count
    )
    token = parts_token(rt, presigned["uploadId"])
    base = f"{rt.settings.public_url}/api/v1/upload/multipart/{presigned['uploadId']}/parts"
    return MultipartInit(
        uploadId=presigned["uploadId"],
        fileId=presigned["fileId"],
        r2Key=presigned["r2Key"],
        partSize=part_size,
        partCount=count,
        partUrls=[f"{base}/{n}?token={token}" for n in range(1, count + 1)],
        expiresAt=presigned["expiresAt"],
    ).dump()


async def get_upload(upload_id: str, user: User | None, token_ok: bool) -> Upload:
    """A multipart upload the caller may touch (owner or holder of its token), else 404."""
    upload = await Upload.get_or_none(id=upload_id, kind="multipart") if is_id(upload_id) else None
    if upload is None:
        raise not_found("Upload")
    if not token_ok and (user is None or upload.owner_id != user.id):
        raise not_found("Upload")
    return upload


def expected_part_size(upload: Upload, number: int) -> int:
    if number < upload.part_count:
        return upload.part_size
    return upload.declared_bytes - upload.part_size * (upload.part_count - 1)


async def put_part(rt: Runtime, upload: Upload, number: Any, chunks: AsyncIterator[bytes]) -> dict:
    """Store one part (streamed, atomic); re-sending a part replaces it."""
    if upload.status == "completed":
        raise conflict("This upload is already complete", "upload_completed")
    if upload.status != "pending" and (upload.status != "receiving" or claims.is_held(upload)):
        raise conflict("This upload is not accepting parts", "upload_closed")
    if not isinstance(number, int) or not 1 <= number <= upload.part_count:
        raise bad_request(
            f"partNumber: 1 to {upload.part_count}", "invalid_part_number", {"field": "partNumber"}
        )
    expected = expected_part_size(upload, number)
    diskspace.check_room(rt.settings, expected)  # 507 before any byte
    md5 = hashlib.md5(usedforsecurity=False)
    received = 0

    async def counted() -> AsyncIterator[bytes]:
        nonlocal received
        async for chunk in chunks:
            received += len(chunk)
            if received > expected:
                raise bad_request(f"part {number} must be {expected} bytes", "size_mismatch")
            md5.update(chunk)
            yield chunk

    # Write under a unique key first: a short or failed part never replaces a good one.
    staging = f"{part_key(upload.id, number)}.{os.urandom(4).hex()}"
    try:
        await rt.storage.put(staging, counted())
        if received != expected:
            raise bad_request(
                f"part {number} must be {expected} bytes, got {received}", "size_mismatch"
            )
    except BaseException:
        await rt.storage.delete(staging)
        raise
    old = await UploadPart.get_or_none(upload_id=upload.id, part_number=number)
    etag = md5.hexdigest()
    await upsert(
        UploadPart,
        {"upload_id": upload.id, "part_number": number},
        {"etag": etag, "bytes": received, "storage_key": staging},
    )
    if old is not None and old.storage_key != staging:
        await rt.storage.delete(old.storage_key)
    return PartOut(partNumber=number, etag=etag, bytes=received).dump()


async def status(upload: Upload) -> dict:
    """The upload and the parts received so far (to resume)."""
    parts = await UploadPart.filter(upload_id=upload.id).order_by("part_number")
    return MultipartStatus(
        uploadId=upload.id,
        fileId=upload.file_id,
        status=upload.status,
        partSize=upload.part_size,
        partCount=upload.part_count,
        totalBytes=upload.declared_bytes,
        parts=[PartOut(partNumber=p.part_number, etag=p.etag, bytes=p.bytes) for p in parts],
    ).dump()


async def complete(
    rt: Runtime, upload: Upload, body: MultipartCompleteRequest | dict[str, Any]
) -> File:
    """Check the client's part list, join the parts and process the file."""
    body = validate(MultipartCompleteRequest, body)
    if body.fileId != upload.file_id:
        raise bad_request(
            "fileId does not belong to this upload", "invalid_request", {"field": "fileId"}
        )
    if upload.status == "completed":
        raise conflict("This upload is already complete", "upload_completed")
    parts = body.parts
    stored = {p.part_number: p for p in await UploadPart.filter(upload_id=upload.id)}
    given = {p.partNumber: p.etag.strip('"') for p in parts}
    missing = [n for n in range(1, upload.part_count + 1) if n not in stored]
    if missing:
        raise bad_request(
            f"missing parts: {missing[:20]}", "missing_parts", {"missingParts": missing[:100]}
        )
    wrong = sorted(n for n in range(1, upload.part_count + 1) if given.get(n) != stored[n].etag)
    extra = sorted(n for n in given if n not in stored)
    if wrong or extra:
        raise bad_request(
            f"parts do not match what was uploaded: {(wrong + extra)[:20]}",
            "mismatched_parts",
            {"mismatchedParts": (wrong + extra)[:100]},
        )
    file = await ingest.ingest(
        rt, upload, _joined(rt, upload, stored), busy="This upload is being completed already"
    )
    await _drop_parts(rt, upload)
    return file


async def _joined(
    rt: Runtime, upload: Upload, stored: dict[int, UploadPart]
) -> AsyncIterator[bytes]:
    for n in range(1, upload.part_count + 1):
        async for chunk in rt.storage.open(stored[n].storage_key):
            yield chunk


async def _drop_parts(rt: Runtime, upload: Upload) -> None:
    for part in await UploadPart.filter(upload_id=upload.id):
        await rt.storage.delete(part.storage_key)
    await UploadPart.filter(upload_id=upload.id).delete()


async def abort(rt: Runtime, upload: Upload) -> None:
    """Drop the parts and the pending file; a completed upload cannot be aborted."""
    if upload.status == "completed":
        raise conflict("This upload is already complete", "upload_completed")
    if claims.is_held(upload):  # a dead request's expired claim does not block abort
        raise conflict("This upload is being completed", "upload_in_progress")
    await _drop_parts(rt, upload)
    async with in_transaction("default"):
        await File.filter(id=upload.file_id, status="pending").delete()
