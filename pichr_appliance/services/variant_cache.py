"""The variant cache's disk budget: least-recently-used eviction (issue 15).

Every made variant has a row in ``variants`` (key, file, bytes, last use). A served
variant's last use is written at most every ``images.variant_touch_seconds`` per worker
(a dict lookup otherwise), and that write is also how a worker finds out that another
evicted it: no row updated means re-check storage, and make it again if it is gone.
Eviction runs when a new variant pushes the total over ``images.variant_cache_max_bytes``
and in the sweeper; it takes the least recently used first, and never one used within
the touch interval (a worker may be about to serve it from its in-memory size cache),
so the budget can be exceeded by what was served in the last interval.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import TYPE_CHECKING

from ..db import upsert
from ..errors import is_database_busy
from ..models import File, Variant
from ..timeutil import utcnow

if TYPE_CHECKING:
    from ..runtime import Runtime

log = logging.getLogger("pichr_appliance")

_touched: dict[str, float] = {}  # key -> when this worker last wrote its last use
_TOUCHED_MAX = 50_000


def due(rt: Runtime, key: str) -> bool:
    """Whether this worker should write the variant's last use (and so re-check it)."""
    last = _touched.get(key)
    return last is None or time.monotonic() - last >= rt.settings.images.variant_touch_seconds


def _mark(key: str) -> None:
    if len(_touched) >= _TOUCHED_MAX:
        _touched.clear()  # a bound, not a policy: at worst one extra write per key
    _touched[key] = time.monotonic()


async def touch(rt: Runtime, key: str, file_id: str, known: int | None) -> int | None:
    """Record a use of ``key``; its size, or None when it is gone (evicted: remake it).

    ``known`` is the size this worker remembers. A variant on storage without a row
    (made before the table existed) is adopted."""
    try:
        updated = await Variant.filter(key=key).update(last_used=utcnow())
    except Exception as exc:
        if not is_database_busy(exc):
            raise
        # The last use is bookkeeping: a GET is not failed over it (the crash test saw
        # 503 database_busy on variant GETs while two workers' uploads held the lock).
        log.info("variant %s: last use not recorded, the database is busy", key)
        return known if known is not None else await rt.storage.size(key)
    _mark(key)
    if updated and known is not None:
        return known
    size = await rt.storage.size(key)
    if size is None:
        if updated:
            await Variant.filter(key=key).delete()
        return None
    if not updated:
        row = {"file_id": file_id, "bytes": size, "last_used": utcnow()}
        await upsert(Variant, {"key": key}, row)
    return size


async def made(rt: Runtime, key: str, file_id: str, size: int) -> None:
    """Record a new variant, then evict down to the budget if it is now exceeded."""
    row = {"file_id": file_id, "bytes": size, "last_used": utcnow()}
    try:
        await upsert(Variant, {"key": key}, row)
    except Exception as exc:
        if not is_database_busy(exc):
            raise
        # Served all the same; the next use's touch adopts it (a variant on storage
        # without a row), and the budget counts it from then on.
        log.info("variant %s: not recorded yet, the database is busy", key)
        return
    _mark(key)
    await enforce(rt)


async def enforce(rt: Runtime) -> int:
    """Delete least recently used variants until the total fits the budget; how many."""
    budget = rt.settings.images.variant_cache_max_bytes
    total = sum(await Variant.all().values_list("bytes", flat=True))
    if total <= budget:
        return 0
    recent = utcnow() - timedelta(seconds=rt.settings.images.variant_touch_seconds)
    evicted = 0
    rows = Variant.filter(last_used__lt=recent).order_by("last_used")
    for key, size in await rows.values_list("key", "bytes"):
        if total <= budget:
            break
        await rt.storage.delete(key)
        await Variant.filter(key=key).delete()
        _touched.pop(key, None)
        total -= size
        evicted += 1
    if evicted:
        log.info("variant cache: evicted %d variants, %d bytes left", evicted, total)
    return evicted


async def sweep(rt: Runtime) -> int:
    """The sweeper's pass: forget rows of deleted files, then enforce the budget."""
    ids = set(await Variant.all().distinct().values_list("file_id", flat=True))
    if ids:
        live = set(await File.filter(id__in=list(ids)).values_list("id", flat=True))
        if ids - live:
            await Variant.filter(file_id__in=list(ids - live)).delete()
    return await enforce(rt)
