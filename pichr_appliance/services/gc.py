"""Garbage collection (``pichr-appliance gc``): make records and stored bytes agree.

- expired files and stale uploads go, as the background sweeper would remove them;
- uploads left ``receiving`` by a dead request (an expired claim) become retryable,
  and stale temporary files on this machine (a crash mid-upload) are deleted;
- orphaned objects (bytes that no record references: a crash between deleting a
  record and its bytes, a restore over older objects) are deleted;
- records whose bytes are missing are reported and marked ``failed`` (a removed file
  is marked purged instead), and their quota is freed.

Safe while the server runs: a file's record exists from its presign on, before any
of its bytes; multipart parts belong to their upload from the first byte (keys
``multipart/{uploadId}/...``); variants belong to their file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tortoise.transactions import in_transaction

from ..models import File, Upload, UploadPart
from ..timeutil import utcnow
from . import claims, sweeper
from . import files as files_service

if TYPE_CHECKING:
    from ..runtime import Runtime


async def _references() -> tuple[set[str], set[str], set[str]]:
    """(storage keys of live files and parts, live file ids, live upload ids)."""
    keys: set[str] = set()
    file_ids: set[str] = set()
    for row in await File.filter(purged_at=None).values("id", "storage_key", "status"):
        if row["status"] != "failed":
            keys.add(row["storage_key"])
            file_ids.add(row["id"])
    keys.update(await UploadPart.all().values_list("storage_key", flat=True))
    upload_ids = set(
        await Upload.filter(status__in=["pending", "receiving"]).values_list("id", flat=True)
    )
    return keys, file_ids, upload_ids


def _is_referenced(key: str, keys: set[str], file_ids: set[str], upload_ids: set[str]) -> bool:
    if key in keys:
        return True
    parts = key.split("/")
    if parts[0] == "variants" and len(parts) > 2:
        return parts[1] in file_ids
    if parts[0] == "multipart" and len(parts) > 2:
        return parts[1] in upload_ids
    return False


async def collect(
    rt: Runtime,
    *,
    dry_run: bool = False,
    on_total: Callable[[int], None] | None = None,
    on_object: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """One garbage collection pass; returns what was (or, dry run, would be) done."""
    now = utcnow()
    report: dict[str, Any] = {"dryRun": dry_run}
    # Temporary bytes of dead requests (a crash mid-upload), on this machine.
    stale_temp = await sweeper.stale_temp_files(rt)
    report["staleTempFiles"] = [{"path": str(p), "bytes": n} for p, n in stale_temp]
    report["staleTempBytes"] = sum(n for _, n in stale_temp)
    if dry_run:
        report["strandedUploads"] = await Upload.filter(claims.expired_q(now)).count()
        report["expiredFiles"] = (
            await File.filter(expires_at__lte=now).exclude(status="pending").count()
        )
        report["staleUploads"] = await Upload.filter(
            expires_at__lte=now, status__in=["pending", "failed"]
        ).count()
    else:
        swept = await sweeper.sweep(rt)
        report["expiredFiles"] = swept["expiredFiles"]
        report["staleUploads"] = swept["staleUploads"]
        report["purgedRemoved"] = swept["purgedRemoved"]
        report["tempFiles"] = swept["tempFiles"]
        report["strandedUploads"] = swept["strandedUploads"]

    # List first, then read the references: an object written after the listing is
    # not looked at, and one listed was referenced before its bytes existed.
    listed = [key async for key in rt.storage.list_keys("")]
    keys, file_ids, upload_ids = await _references()
    if on_total:
        on_total(len(listed))
    orphans = []
    orphan_bytes = 0
    for key in listed:
        if not _is_referenced(key, keys, file_ids, upload_ids):
            orphan_bytes += await rt.storage.size(key) or 0
            orphans.append(key)
            if not dry_run:
                await rt.storage.delete(key)
        if on_object:
            on_object(1)
    report["orphanedObjects"] = orphans
    report["orphanedBytes"] = orphan_bytes

    present = set(listed)
    missing = []
    for file in await File.filter(status__in=["ready", "removed"], purged_at=None):
        if file.storage_key in present or await rt.storage.exists(file.storage_key):
            continue
        missing.append({"id": file.id, "status": file.status, "storageKey": file.storage_key})
        if not dry_run:
            await _mark_missing(rt, file)
    report["missingBytes"] = missing
    return report


async def _mark_missing(rt: Runtime, file: File) -> None:
    """A file whose bytes are gone: ``failed`` (removed ones: purged), quota freed."""
    async with in_transaction("default"):  # the mark and the quota together
        if file.status == "ready":
            changed = await File.filter(id=file.id, status="ready").update(status="failed")
        else:
            changed = await File.filter(id=file.id, purged_at=None).update(purged_at=utcnow())
        if changed:
            await files_service.add_usage(file.owner_id, -file.bytes, -1)
    if changed:
        files_service.forget(rt, file.id)


def describe(report: dict[str, Any]) -> str:
    """The report as lines for a person."""
    verb = "would remove" if report["dryRun"] else "removed"
    recover = "would recover" if report["dryRun"] else "recovered"
    lines = [
        f"expired files: {verb} {report['expiredFiles']}",
        f"stale uploads: {verb} {report['staleUploads']}",
        f"uploads left receiving by a dead request: {recover} {report['strandedUploads']}",
        f"stale temporary files: {verb} {len(report['staleTempFiles'])} "
        f"({report['staleTempBytes']} bytes)",
        f"orphaned objects: {verb} {len(report['orphanedObjects'])} "
        f"({report['orphanedBytes']} bytes)",
    ]
    lines += [f"  {t['path']}" for t in report["staleTempFiles"][:50]]
    lines += [f"  {key}" for key in report["orphanedObjects"][:50]]
    if len(report["orphanedObjects"]) > 50:
        lines.append(f"  ... and {len(report['orphanedObjects']) - 50} more")
    mark = "would mark" if report["dryRun"] else "marked"
    lines.append(f"records without bytes: {len(report['missingBytes'])} ({mark} failed)")
    lines += [f"  {m['id']} ({m['status']}): {m['storageKey']}" for m in report["missingBytes"]]
    if not report["dryRun"] and report.get("purgedRemoved"):
        lines.append(f"removed content past retention purged: {report['purgedRemoved']}")
    return "\n".join(lines)
