"""The ingest pipeline: the one sequence that turns received bytes into a ready file.

Every way bytes arrive comes through :func:`ingest`: the direct PUT
(:func:`direct`), the one-request upload and the ``import`` command
(:func:`upload_stream`, :func:`upload_local_file`), multipart complete (the joined
parts) and bucket uploads finalized after the client PUT them straight into storage
(:func:`bucket`). Callers say only where the bytes come from; this module claims the
upload, streams the bytes to a temp file with hashing and size checks, processes
them (sniff, decode with a pixel ceiling, GPS strip, hashes, duplicates, plugin
validation, classification, album, events) and on any failure gives the upload back
(or, for one-step uploads, discards it) so that nothing half-done stays visible.

Rate limits are the HTTP layer's business, not this module's: an operator's import is
not rate limited.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tortoise.transactions import in_transaction

from .. import formats, imaging, isolation
from ..db import insert_if_absent, placeholders, read_connection
from ..errors import ApiError, bad_request, conflict, not_found
from ..models import AlbumFile, File, Upload, User
from ..security import file_size_and_sha256
from ..timeutil import utcnow
from . import claims, diskspace, moderation, uploads
from . import files as files_service

if TYPE_CHECKING:
    from ..runtime import Runtime

log = logging.getLogger("pichr_appliance.ingest")

CHUNK = 1 << 20
NEAR_DUPLICATE_BITS = 4


# ---------------------------------------------------------------- the sequence


async def ingest(
    rt: Runtime,
    upload: Upload,
    chunks: AsyncIterator[bytes],
    *,
    busy: str,
    length: int | None = None,
    discard_on_failure: bool = False,
    owner: User | None = None,
) -> File:
    """Claim ``upload``, receive ``chunks`` and process them into a ready file.

    ``busy`` is the 409 message when another request holds the upload. ``length`` is
    the size the client announced (Content-Length), refused before any byte is read
    when it passes the declared size. On any failure the upload is released for a
    retry, or discarded with its pending file when ``discard_on_failure`` (one-step
    uploads, whose records the caller made and nobody else can use). ``owner``: the
    upload's owner when the caller has it already (else it is read).
    """
    held = claims.Claim(upload, claims.lease_seconds(rt.settings))
    await held.take(busy)  # a lease: a dead request's claim runs out (services/claims.py)
    try:
        async with held.beating():
            diskspace.check_room(rt.settings, upload.declared_bytes)  # 507 before any byte
            if owner is None or owner.id != upload.owner_id:
                owner = await User.get_or_none(id=upload.owner_id) if upload.owner_id else None
            plan_max = uploads.plan_of(rt.settings, owner).max_file_bytes
            if length is not None and length > upload.declared_bytes:
                raise body_too_long(upload, length > plan_max)
            path, total, sha = await receive(rt.settings, upload, plan_max, held.watch(chunks))
            held.received()
            return await process(rt, upload, path, total, sha, held, owner)
    except BaseException:
        # On a full disk the database may refuse this too: the claim then runs out.
        with contextlib.suppress(Exception):
            if discard_on_failure:
                await discard(upload.file_id)
            else:
                await held.release()
        raise


async def discard(file_id: str) -> None:
    """Forget a pending upload whose bytes never became a file (idempotent)."""
    await Upload.filter(file_id=file_id).exclude(status="completed").delete()
    await File.filter(id=file_id, status="pending").delete()


# ---------------------------------------------------------------- where bytes come from


async def direct_upload(file_id: str) -> Upload:
    """The pending direct upload of ``file_id``; 404 when none, 409 when complete."""
    upload = await Upload.get_or_none(file_id=file_id, kind="direct")
    if upload is None:
        raise not_found("Upload")
    if upload.status == "completed":
        raise conflict("This upload is already complete", "upload_completed")
    return upload


async def direct(
    rt: Runtime, file_id: str, chunks: AsyncIterator[bytes], *, length: int | None = None
) -> File:
    """``PUT /upload/direct/{fileId}``: the request body is the file."""
    upload = await direct_upload(file_id)
    busy = "Another request is uploading this file right now"
    return await ingest(rt, upload, chunks, busy=busy, length=length)


async def bucket(rt: Runtime, upload: Upload) -> File:
    """Verify and process an object the client PUT straight into storage.

    The object sits under a staging key that is never served; it is read back through
    the same checks as a direct PUT (size, sha256, decode) and stored under the file's
    key only if it passes. Bytes that fail are deleted so that the client can PUT again.
    """
    staging = uploads.bucket_key(upload.id)
    if await rt.storage.size(staging) is None:
        raise conflict("The file's bytes have not been uploaded yet", "upload_incomplete")
    busy = "Another request is finalizing this upload"
    try:
        file = await ingest(rt, upload, rt.storage.open(staging), busy=busy)
    except ApiError as exc:
        if exc.status < 500 and exc.code != "upload_in_progress":
            await rt.storage.delete(staging)  # rejected bytes: the client may PUT again
        raise
    await rt.storage.delete(staging)
    return file


async def upload_stream(
    rt: Runtime,
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
    answer, upload = await uploads.create(rt, user, body, to_storage=False, one_step=True)
    if on_presigned is not None:
        await on_presigned(answer)
    busy = "Another request is uploading this file right now"
    return await ingest(rt, upload, chunks, busy=busy, discard_on_failure=True, owner=user)


async def file_chunks(path: Path, chunk_size: int = CHUNK) -> AsyncIterator[bytes]:
    """The bytes of a local file, chunk by chunk."""
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_size):
            yield chunk


def sniff_file(path: Path) -> str | None:
    """The image type of a local file from its first bytes, or None."""
    with open(path, "rb") as fh:
        return imaging.sniff(fh.read(imaging.SNIFF_BYTES))


async def upload_local_file(
    rt: Runtime,
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
        raise ApiError(415, "unsupported_type", "not an image of an accepted type")
    body: dict[str, Any] = {
        "filename": path.name,
        "mime": mime,
        "bytes": path.stat().st_size,
        **(fields or {}),
    }
    if sha256:
        body["sha256"] = sha256
    return await upload_stream(rt, user, body, file_chunks(path), on_presigned=on_presigned)


# ---------------------------------------------------------------- receiving


def temp_dir(settings: Any) -> Path:
    """Where bodies land while they are checked (inside the data dir, same filesystem
    as local storage, so that a checked file is moved, not copied)."""
    path = settings.data_path / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


async def receive(
    settings: Any, upload: Upload, plan_max: int, chunks: AsyncIterator[bytes]
) -> tuple[Path, int, str]:
    """Write the streamed body to a temp file, hashing as it goes.

    The body is cut off as soon as it passes the declared size: 413 when it also
    passes the plan's maximum, else 400. A plain ``write()`` per chunk: a thread hop
    per chunk (aiofiles, executors) costs more than the write (measured at 15-40%
    of nginx's PUT throughput, docs/benchmarks.md).
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
    """413 past the plan's maximum, else 400 ``size_mismatch``."""
    message = f"The body is longer than the declared {upload.declared_bytes} bytes"
    if past_plan_max:
        return ApiError(413, "file_too_large", message)
    return bad_request(message, "size_mismatch")


# ---------------------------------------------------------------- processing


async def process(
    rt: Runtime,
    upload: Upload,
    path: Path,
    total: int,
    sha: str,
    held: claims.Claim,
    owner: User | None,
) -> File:
    """Check the landed bytes, store them, and make the file ready (all or nothing).
    ``owner`` is the upload's (and so the file's) owner."""
    # The File that uploads.create made when this request made the upload (one step),
    # else read: nothing else knows a one-step upload's ids to change the row meanwhile.
    file = await upload.file
    if file is None:
        raise not_found("File")
    try:
        _check_declared(upload, total, sha)
        info = await _inspect(rt.settings, file, path)
        if info.location_stripped:  # the stored bytes changed: hash what is kept
            loop = asyncio.get_running_loop()
            total, sha = await loop.run_in_executor(None, file_size_and_sha256, path)
        await _check_quota(rt.settings, owner, total)
        duplicate = await find_duplicate(file, sha, info.phash)
        score = await classify(rt, path)
        await _plugin_validation(rt, owner, file, info, path)
        if not await held.renew():
            raise conflict(claims.LOST, "upload_in_progress")
        await rt.storage.put_file(file.storage_key, path, content_type=info.mime, move=True)
    finally:
        path.unlink(missing_ok=True)
    file.bytes, file.sha256, file.phash = total, sha, info.phash
    file.width, file.height, file.duplicate_of = info.width, info.height, duplicate
    file.nsfw_score, file.blurhash = score, info.blurhash
    file.animated = info.frames > 1 and info.mime in ("image/gif", "image/webp", "image/png")
    if moderation.auto_age_restricted(rt.settings, score):
        file.age_restricted = True
    file.status = "ready"
    async with in_transaction("default"):
        completed = await Upload.filter(id=upload.id, claimed_by=held.token).update(
            status="completed", completed_at=utcnow(), claimed_by=None, claimed_until=None
        )
        if not completed:  # taken over while we processed: the other request finishes
            raise conflict(claims.LOST, "upload_in_progress")
        await file.save()
        await files_service.add_usage(file.owner_id, total, 1)
        if upload.album_id:
            await _add_to_album(upload.album_id, file)
    # A request may have cached the file as pending (404) in this worker.
    files_service.forget(rt, file.id)
    await moderation.after_classification(rt, file)
    await rt.fire("file_uploaded", file=file)
    return file


def _check_declared(upload: Upload, total: int, sha: str) -> None:
    """400 when the bytes are not what presign declared (size, sha256)."""
    if total != upload.declared_bytes:
        raise bad_request(
            f"Received {total} bytes but {upload.declared_bytes} were declared", "size_mismatch"
        )
    if upload.declared_sha256 and sha != upload.declared_sha256:
        raise bad_request("sha256 does not match the uploaded bytes", "sha256_mismatch")


async def _inspect(settings: Any, file: File, path: Path) -> Any:
    """Decode the image off the event loop (sniff, pixel ceiling, GPS strip, phash);
    400/415 when it is not an acceptable image of the declared type."""
    up = settings.uploads
    options = {
        "max_pixels": up.max_pixels,
        "strip_location": not file.keep_location,
        "max_metadata": up.max_metadata_bytes,
        "max_buffered": up.max_buffered_bytes,
    }
    try:
        heif = sniff_file(path) in ("image/heic", "image/heif")
        if heif and up.isolate_heif and path.stat().st_size <= up.max_buffered_bytes:
            info = await isolation.run(imaging.inspect, path, **options)
        else:
            loop = asyncio.get_running_loop()
            info = await loop.run_in_executor(None, lambda: imaging.inspect(path, **options))
    except imaging.ImageRejected as exc:
        status = 400 if exc.code in ("image_too_large", "too_much_metadata") else 415
        raise ApiError(status, exc.code, exc.message) from None
    if not formats.same_type(info.mime, file.mime):
        raise ApiError(
            415, "mime_mismatch", f"The bytes are {info.mime}, but {file.mime} was declared"
        )
    file.mime = info.mime  # HEIC declared as image/heif (or the reverse): the bytes say
    return info


async def _check_quota(settings: Any, owner: User | None, total: int) -> None:
    """402 when the bytes no longer fit (other uploads may have landed since presign)."""
    plan = uploads.plan_of(settings, owner)
    if owner is not None and plan.quota_bytes is not None:
        await owner.refresh_from_db()
        if owner.usage_bytes + total > plan.quota_bytes:
            raise ApiError(402, "quota_exceeded", "Storage quota exhausted")


# Two statements on the read connection: the owner's earliest ready file with the same
# bytes, else the last 500 perceptual hashes to compare. Through the ORM (500 rows
# through .values()) they were a twelfth of the event loop's time per upload (issue 18).
_SAME_BYTES = (
    "SELECT id FROM files WHERE owner_id = {p[0]} AND sha256 = {p[1]} AND status = 'ready'"
    " AND id <> {p[2]} ORDER BY created_at LIMIT 1"
)
_RECENT_PHASHES = (
    "SELECT id, phash FROM files WHERE owner_id = {p[0]} AND status = 'ready'"
    " AND id <> {p[1]} AND phash IS NOT NULL ORDER BY created_at DESC LIMIT 500"
)


async def find_duplicate(file: File, sha: str, phash: str) -> str | None:
    """The owner's earliest ready file with the same bytes, else the earliest of the
    last 500 with a near-identical picture (``NEAR_DUPLICATE_BITS``), else None."""
    if not file.owner_id:
        return None
    conn = read_connection()
    sql = _SAME_BYTES.format(p=placeholders(conn, 3))
    _, same = await conn.execute_query(sql, [file.owner_id, sha, file.id])
    if same:
        return same[0][0]
    sql = _RECENT_PHASHES.format(p=placeholders(conn, 2))
    _, recent = await conn.execute_query(sql, [file.owner_id, file.id])
    near = [r[0] for r in recent if imaging.hamming(r[1], phash) <= NEAR_DUPLICATE_BITS]
    return near[-1] if near else None


async def _plugin_validation(rt: Runtime, owner: Any, file: File, info: Any, path: Path) -> None:
    """400 ``upload_rejected`` with the first reason a ``validate_upload`` plugin gives."""
    if not rt.has_impls("validate_upload"):
        return
    reasons = await rt.call("validate_upload", user=owner, file=file, info=info, path=path)
    for reason in reasons:
        if reason:
            raise ApiError(400, "upload_rejected", str(reason))


async def classify(rt: Runtime, path: Path) -> float | None:
    """The highest score of the installed classifiers, or None without any.

    Classifiers come from ``register_classifiers`` once per process. A synchronous
    ``score`` runs in a worker thread so that inference never blocks the event loop;
    an ``async def score`` is awaited. A failing classifier is logged and ignored.
    """
    scores = []
    loop = asyncio.get_running_loop()
    for classifier in rt.classifiers:
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
    """Append the new file to the album presign named (at the end)."""
    count = await AlbumFile.filter(album_id=album_id).count()
    where = {"album_id": album_id, "file_id": file.id}
    await insert_if_absent(AlbumFile, where, {"position": count})
