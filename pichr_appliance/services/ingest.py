"""One-step uploads: presign, receive and process in one call.

The HTTP one-request upload (``POST /api/v1/upload``, what ShareX and curl use) and
the ``import`` command both come through here, so that they run exactly the steps of
a presigned upload (validation, quota, type sniffing, EXIF GPS stripping, hashes,
duplicate detection, classification, events) and nothing else. Rate limits are the
HTTP layer's business, not this module's: an operator's import is not rate limited.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from .. import imaging
from ..errors import ApiError
from ..models import File, Upload, User
from . import uploads

CHUNK = 1 << 20


async def upload_stream(
    rt: Any,
    user: User | None,
    body: dict[str, Any],
    chunks: AsyncIterator[bytes],
    *,
    on_presigned: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
) -> File:
    """Presign ``body`` (the presign API's fields), stream ``chunks`` in and process them.

    ``on_presigned`` sees the presign answer before any byte is read (the importer
    journals the ids there). On any failure the pending records are discarded, so a
    failed one-step upload leaves nothing behind.
    """
    answer = await uploads.presign(rt, user, body)
    if on_presigned is not None:
        await on_presigned(answer)
    upload = await uploads.claim_direct(answer["fileId"])
    plan_max = uploads.plan_of(rt.settings, user).max_file_bytes
    try:
        path, total, sha = await uploads.receive(rt.settings, upload, plan_max, chunks)
        return await uploads.process(rt, upload, path, total, sha)
    except BaseException:
        await discard(upload.file_id)
        raise


async def discard(file_id: str) -> None:
    """Forget a pending upload whose bytes never became a file (idempotent)."""
    await Upload.filter(file_id=file_id).exclude(status="completed").delete()
    await File.filter(id=file_id, status="pending").delete()


async def file_chunks(path: Path, chunk_size: int = CHUNK) -> AsyncIterator[bytes]:
    """The bytes of a local file, chunk by chunk."""
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_size):
            yield chunk


def sniff_file(path: Path) -> str | None:
    """The image type of a local file from its first bytes, or None."""
    with open(path, "rb") as fh:
        return imaging.sniff(fh.read(32))


async def upload_local_file(
    rt: Any,
    user: User | None,
    path: Path,
    *,
    sha256: str | None = None,
    fields: dict[str, Any] | None = None,
    on_presigned: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
) -> File:
    """Upload a file from the local disk through the upload pipeline.

    The type comes from the bytes; ``sha256`` (when given) is declared, so that a file
    that changes while it is read is refused. ``fields`` are further presign fields
    (title, visibility, tags, albumId, ...).
    """
    path = Path(path)
    mime = sniff_file(path)
    if mime is None:
        raise ApiError(415, "unsupported_type", "not a JPEG, PNG, GIF, WebP or AVIF image")
    body: dict[str, Any] = {
        "filename": path.name,
        "mime": mime,
        "bytes": path.stat().st_size,
        **(fields or {}),
    }
    if sha256:
        body["sha256"] = sha256
    return await upload_stream(rt, user, body, file_chunks(path), on_presigned=on_presigned)
