"""The background sweeper: expired files, stale uploads, abandoned parts, old temp files,
and the bytes of removed content past its retention."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ApiError
from ..models import File, Upload, UploadPart
from ..timeutil import utcnow
from . import claims, ingest, leases, moderation, uploads, variant_cache
from . import files as files_service

if TYPE_CHECKING:
    from ..runtime import Runtime

log = logging.getLogger("pichr_appliance.sweeper")

# Temporary files not tied to an upload (storage's own, variant sources) go once
# untouched this long; a body of a dead upload goes as soon as its claim has run out.
TEMP_MAX_AGE = 900


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
        "strandedUploads": 0,
        "evictedVariants": 0,
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
    # Requests that died while receiving (kill -9, a restart past the drain).
    stranded = await reclaim_stranded(rt, now)
    done["strandedUploads"] = stranded
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
    done["tempFiles"] = await sweep_temp(rt)
    done["evictedVariants"] = await variant_cache.sweep(rt)
    if any(done.values()):
        log.info("sweeper: %s", done)
    return done


async def reclaim_stranded(rt: Runtime, now: Any = None) -> int:
    """Uploads left in ``receiving`` by a request whose claim ran out: retryable again
    (``pending``), or, for one-request uploads (nobody can retry them), discarded
    together with their pending file. Returns how many."""
    now = now or utcnow()
    count = 0
    for upload in await Upload.filter(claims.expired_q(now)):
        # Conditional on the same expired claim: a retry may have taken it meanwhile.
        same = Upload.filter(claims.expired_q(now), id=upload.id, claimed_by=upload.claimed_by)
        if upload.one_step:
            if await same.delete():
                await File.filter(id=upload.file_id, status="pending").delete()
                count += 1
        else:
            count += await same.update(status="pending", claimed_by=None, claimed_until=None)
    # One-request uploads are claimed right after their records are made: still
    # pending a lease later means their process died in between.
    cutoff = now - timedelta(seconds=claims.lease_seconds(rt.settings))
    for upload in await Upload.filter(one_step=True, status="pending", created_at__lt=cutoff):
        if await Upload.filter(id=upload.id, status="pending").delete():
            await File.filter(id=upload.file_id, status="pending").delete()
            count += 1
    if count:
        log.info("sweeper: %d upload(s) left receiving by a dead request recovered", count)
    return count


def _temp_dirs(rt: Runtime) -> list[Path]:
    """Where this machine keeps temporary bytes: the data dir's ``tmp/`` (bodies being
    checked, variant sources) and a local storage backend's own temp folder."""
    dirs = [rt.settings.data_path / "tmp"]
    storage_tmp = getattr(rt.storage, "tmp", None)
    if isinstance(storage_tmp, Path):
        dirs.append(storage_tmp)
    return dirs


async def stale_temp_files(rt: Runtime) -> list[tuple[Path, int]]:
    """This machine's abandoned temporary files, with their sizes.

    A body being received is named ``{uploadId}-...``: it is stale as soon as no live
    claim holds its upload (listed first, claims read after: a file's claim was taken
    before the file was made). Other files are stale when untouched for
    ``TEMP_MAX_AGE`` (an active write keeps touching its file).
    """
    listed = []
    for folder in _temp_dirs(rt):
        if folder.is_dir():
            listed += [p for p in folder.iterdir() if p.is_file()]
    if not listed:
        return []
    held = set(
        await Upload.filter(status="receiving", claimed_until__gte=utcnow()).values_list(
            "id", flat=True
        )
    )
    cutoff = time.time() - TEMP_MAX_AGE
    stale = []
    for path in listed:
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        upload_id = path.name.split("-", 1)[0] if path.name.startswith("upl_") else None
        if (upload_id is not None and upload_id not in held) or st.st_mtime < cutoff:
            stale.append((path, st.st_size))
    return stale


async def sweep_temp(rt: Runtime) -> int:
    """Delete this machine's abandoned temporary files; returns how many."""
    removed = 0
    for path, _ in await stale_temp_files(rt):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed += 1
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
                    await sweep_temp(rt)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sweeper pass failed")
            await asyncio.sleep(interval)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.shield(leases.release("sweeper"))
