"""The background sweeper: expired files, stale uploads, abandoned parts, old temp files,
and the bytes of removed content past its retention."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

from ..errors import ApiError
from ..models import File, Upload, UploadPart
from ..timeutil import utcnow
from . import files as files_service
from . import ingest, leases, moderation, uploads

if TYPE_CHECKING:
    from ..runtime import Runtime

log = logging.getLogger("pichr_appliance.sweeper")

TEMP_MAX_AGE = 3600


async def sweep(rt: Runtime) -> dict[str, int]:
    """One pass; returns what was removed. Safe to run while uploads are in flight."""
    now = utcnow()
    done = {
        "expiredFiles": 0,
        "staleUploads": 0,
        "parts": 0,
        "tempFiles": 0,
        "purgedRemoved": 0,
        "bucketUploads": 0,
    }
    for file in await File.filter(expires_at__lte=now).exclude(status="pending"):
        await files_service.delete_file(rt, file)
        done["expiredFiles"] += 1
    # Bytes PUT straight into storage whose client never called finalize.
    for upload in await Upload.filter(kind="bucket", status="pending", expires_at__gt=now):
        try:
            await ingest.bucket(rt, upload)
            done["bucketUploads"] += 1
        except ApiError as exc:
            if exc.code != "upload_incomplete":
                log.info("sweeper: bucket upload %s rejected: %s", upload.id, exc.message)
    # Uploads whose bytes never arrived (or never completed) within their window.
    stale = await Upload.filter(expires_at__lte=now, status__in=["pending", "failed"])
    for upload in stale:
        if upload.kind == "bucket":
            await rt.storage.delete(uploads.bucket_key(upload.id))
        for part in await UploadPart.filter(upload_id=upload.id):
            await rt.storage.delete(part.storage_key)
            done["parts"] += 1
        await UploadPart.filter(upload_id=upload.id).delete()
        await File.filter(id=upload.file_id, status="pending").delete()
        await Upload.filter(id=upload.id).delete()
        done["staleUploads"] += 1
    # Removed content keeps its bytes for moderation.removed_retention_days (appeals).
    done["purgedRemoved"] = await moderation.purge_removed(rt)
    done["tempFiles"] = sweep_temp(rt)
    if any(done.values()):
        log.info("sweeper: %s", done)
    return done


def sweep_temp(rt: Runtime) -> int:
    """Delete this machine's abandoned temporary files (older than an hour)."""
    removed = 0
    tmp = rt.settings.data_path / "tmp"
    if tmp.is_dir():
        cutoff = time.time() - TEMP_MAX_AGE
        for path in tmp.iterdir():
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                pass
    return removed


async def run(rt: Runtime, interval: float) -> None:
    """Sweep every ``interval`` seconds until cancelled; errors are logged, not fatal.

    Every worker of every instance runs this loop, but only the holder of the
    ``sweeper`` lease sweeps: one pass per interval for the whole site.
    """
    holding = False
    try:
        while True:
            try:
                if await leases.acquire("sweeper", interval * 1.5 + 5):
                    if not holding:
                        log.info("sweeper: this process sweeps for the site (%s)", leases.HOLDER)
                    holding = True
                    await sweep(rt)
                else:  # another process sweeps what is shared; the temp folder is ours
                    if holding:
                        log.info("sweeper: another process sweeps for the site now")
                    holding = False
                    sweep_temp(rt)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sweeper pass failed")
            await asyncio.sleep(interval)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.shield(leases.release("sweeper"))
