"""The embedded store: a small SQLite file beside the database, shared by all workers.

SQLite's write lock makes each decision atomic across the worker processes of one
machine, so ``serve --workers N`` enforces one limit, not N. The file holds only
counters (``synchronous=OFF``: after a power cut a few counts may be lost, never the
data the appliance keeps), and every call runs on one thread per process so that the
event loop never waits for the disk.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..config import private_file
from .base import Decision, RateLimitStore, bucket_width, decide, first_live_bucket

SCHEMA = """
CREATE TABLE IF NOT EXISTS hits (
    key TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    n INTEGER NOT NULL,
    expires INTEGER NOT NULL,
    PRIMARY KEY (key, bucket)
) WITHOUT ROWID
"""


class LocalRateLimitStore(RateLimitStore):
    """Sliding-window counts in ``<data dir>/ratelimit.sqlite3``."""

    name = "local"

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.path = Path(settings.data_path) / "ratelimit.sqlite3"
        self._db: sqlite3.Connection | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ratelimit")
        self._hits_since_sweep = 0

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            private_file(self.path)  # 0600 under any umask, and so its -wal/-shm
            # The lock wait is the database's busy timeout: past it the hit fails with
            # "database is locked", which answers 503 database_busy (pichr_appliance.errors).
            timeout = self.settings.database.busy_timeout_ms / 1000
            db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=OFF")
            db.execute(SCHEMA)
            self._db = db
        return self._db

    async def _run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    async def startup(self) -> None:
        """Create the file and table."""
        await self._run(self._connect)

    async def shutdown(self) -> None:
        """Close the connection and the thread."""

        def close() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        await self._run(close)
        self._thread.shutdown(wait=False)

    def _hit(self, key: str, limit: int, window: int, cost: int) -> Decision:
        db = self._connect()
        now = time.time()
        first = first_live_bucket(now, window)
        db.execute("BEGIN IMMEDIATE")  # one writer at a time, across processes too
        try:
            counts = dict(
                db.execute("SELECT bucket, n FROM hits WHERE key = ? AND bucket >= ?", (key, first))
            )
            allowed, used, reset = decide(counts, now, limit, window, cost)
            if allowed and cost:
                width = bucket_width(window)
                bucket = int(now // width)
                db.execute(
                    "INSERT INTO hits (key, bucket, n, expires) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (key, bucket) DO UPDATE SET n = n + excluded.n",
                    (key, bucket, cost, (bucket + window // width + 1) * width),
                )
            db.execute("DELETE FROM hits WHERE key = ? AND bucket < ?", (key, first))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._hits_since_sweep += 1
        if self._hits_since_sweep >= 10_000:
            # Keys that stopped calling keep old buckets; drop those now and then.
            self._hits_since_sweep = 0
            db.execute("DELETE FROM hits WHERE expires < ?", (int(now),))
        return Decision(allowed, limit, max(0, limit - used), reset)

    async def hit(self, key: str, limit: int, window: int, cost: int = 1) -> Decision:
        """Count and decide atomically (see :class:`RateLimitStore`)."""
        return await self._run(self._hit, key, limit, window, cost)

    async def reset(self, key: str) -> None:
        """Forget ``key``."""

        def forget() -> None:
            self._connect().execute("DELETE FROM hits WHERE key = ?", (key,))

        await self._run(forget)
