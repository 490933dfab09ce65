"""View and download counts, batched in memory and flushed periodically."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

from tortoise.expressions import F

from ..errors import is_database_busy
from ..models import File

log = logging.getLogger("pichr_appliance.counters")


class ViewCounters:
    """Counts per file, written with one UPDATE per file per flush, never per request."""

    def __init__(self) -> None:
        self.views: Counter[str] = Counter()
        self.downloads: Counter[str] = Counter()
        self._lock = asyncio.Lock()

    def view(self, file_id: str) -> None:
        self.views[file_id] += 1

    def download(self, file_id: str) -> None:
        self.downloads[file_id] += 1

    async def flush(self) -> int:
        """Write pending counts; returns how many files were updated."""
        async with self._lock:
            views, downloads = self.views, self.downloads
            self.views, self.downloads = Counter(), Counter()
            ids = set(views) | set(downloads)
            for file_id in ids:
                try:
                    await File.filter(id=file_id).update(
                        view_count=F("view_count") + views[file_id],
                        download_count=F("download_count") + downloads[file_id],
                    )
                except Exception as exc:
                    if is_database_busy(exc):  # another process holds the lock: next time
                        log.warning("database busy: counts for %s kept for later", file_id)
                    else:
                        log.exception("could not write counts for %s; keeping them", file_id)
                    self.views[file_id] += views[file_id]
                    self.downloads[file_id] += downloads[file_id]
            return len(ids)

    async def run(self, interval: float) -> None:
        """Flush every ``interval`` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            await self.flush()
