"""The embedded store: a small SQLite file beside the database, shared by all workers.

SQLite's write lock makes each decision atomic across the worker processes of one
machine, so ``serve --workers N`` enforces one limit, not N. The file holds only
counters (``synchronous=OFF``: after a power cut a few counts may be lost, never the
data the appliance keeps).

A hit runs on the event loop itself when the write lock is free at once (a
connection with no busy wait, its WAL never checkpointed there), and on the store's
thread otherwise, where it waits up to the busy timeout like any write. Handing every
hit to the thread cost more than the hit: with it, rate limiting took half the time of
an anonymous ``GET /api/v1/files/{id}`` (bench/run_all.py files-api). Checkpoints and
the sweep of old keys run on the thread, so the loop never waits for the disk.

A key that keeps calling takes its hits in blocks (:class:`Lease`): one transaction
counts up to ``LEASE_MAX`` hits in the shared file, and this worker hands them out from
memory until they are spent, the bucket ends, or the process stops (unspent ones are
given back then). A block is at most a sixteenth per worker of what the key has left,
so near its limit a key is counted one hit per transaction again. The shared count
never allows more than the limit; a worker that dies holding a block leaves at most
that many hits counted that were not made. With one worker the headers stay exact.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import private_file
from .base import Decision, RateLimitStore, bucket_width, decide, first_live_bucket

log = logging.getLogger("pichr_appliance.ratelimit")

LEASE_MAX = 64  # hits one worker counts at once for a busy key
LEASES_KEPT = 10_000  # keys whose blocks a worker remembers (least recent go first)


@dataclass
class Lease:
    """Hits of one key counted in the shared file and not yet handed out here."""

    limit: int
    window: int
    bucket: int  # where they were counted; they are handed out while it is current
    tokens: int  # counted, not yet handed out
    size: int  # the last block's size: doubles while the key spends whole blocks
    remaining: int  # the shared remaining once the block was counted
    reset: int


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
        self._fast: sqlite3.Connection | None = None  # the loop's own (see the docstring)
        self._hits_since_sweep = 0
        self._hits_since_checkpoint = 0
        self._leases: OrderedDict[str, Lease] = OrderedDict()
        self._give_back: list[tuple[str, int, int]] = []  # (key, bucket, hits) unspent
        self._workers = max(1, int(getattr(settings.server, "workers", 1) or 1))

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
        """Close the connections and the thread."""

        def close() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        for key, lease in self._leases.items():
            if lease.tokens:
                self._give_back.append((key, lease.bucket, lease.tokens))
        self._leases.clear()
        if self._give_back:
            back, self._give_back = self._give_back, []
            try:
                await self._run(self._return_unspent, back)
            except sqlite3.Error as exc:  # only counts: a few hits stay counted
                log.warning("could not give back unspent rate-limit hits: %s", exc)
        if self._fast is not None:
            self._fast.close()
            self._fast = None
        await self._run(close)
        self._thread.shutdown(wait=False)

    def _fast_connection(self) -> sqlite3.Connection:
        if self._fast is None:
            # timeout=0: a lock held elsewhere fails at once and the hit goes to the
            # thread. No automatic checkpoint: that writes the database file.
            db = sqlite3.connect(self.path, timeout=0, isolation_level=None)
            db.execute("PRAGMA synchronous=OFF")
            db.execute("PRAGMA wal_autocheckpoint=0")
            self._fast = db
        return self._fast

    def _hit(self, *args: Any) -> tuple[Decision, int, int]:
        return self._decide(self._connect(), *args)

    def _decide(
        self,
        db: sqlite3.Connection,
        key: str,
        limit: int,
        window: int,
        cost: int,
        block: int,
        back: list[tuple[str, int, int]],
    ) -> tuple[Decision, int, int]:
        """Count ``cost`` hits, or up to ``block`` when the key has room to spare, in one
        transaction that also gives back the unspent hits in ``back``; returns the
        decision for ``cost``, how many hits were counted, and in which bucket."""
        now = time.time()
        first = first_live_bucket(now, window)
        width = bucket_width(window)
        bucket = int(now // width)
        db.execute("BEGIN IMMEDIATE")  # one writer at a time, across processes too
        try:
            _subtract(db, back)
            counts = dict(
                db.execute("SELECT bucket, n FROM hits WHERE key = ? AND bucket >= ?", (key, first))
            )
            room = limit - sum(counts.values())
            take = max(cost, min(block, room // (16 * self._workers))) if cost == 1 else cost
            allowed, used, reset = decide(counts, now, limit, window, take)
            if allowed and take:
                db.execute(
                    "INSERT INTO hits (key, bucket, n, expires) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (key, bucket) DO UPDATE SET n = n + excluded.n",
                    (key, bucket, take, (bucket + window // width + 1) * width),
                )
            db.execute("DELETE FROM hits WHERE key = ? AND bucket < ?", (key, first))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        taken = take if allowed else 0
        return Decision(allowed, limit, max(0, limit - used), reset), taken, bucket

    def _return_unspent(self, back: list[tuple[str, int, int]]) -> None:
        db = self._connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            _subtract(db, back)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _sweep(self) -> None:
        # Keys that stopped calling keep old buckets; drop those now and then.
        self._connect().execute("DELETE FROM hits WHERE expires < ?", (int(time.time()),))

    def _checkpoint(self) -> None:
        self._connect().execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _in_background(self, fn) -> None:
        future = asyncio.get_running_loop().run_in_executor(self._thread, fn)
        future.add_done_callback(_log_failure)

    def _from_lease(self, key: str, limit: int, window: int, cost: int) -> Decision | None:
        """The decision from this worker's block of ``key``, when it has hits to hand out."""
        lease = self._leases.get(key)
        if lease is None or not lease.tokens or cost > 1:
            return None
        current = int(time.time() // bucket_width(window))
        if lease.bucket != current or lease.limit != limit or lease.window != window:
            # Unspent when its bucket ended: given back with the next transaction, and
            # the next block is smaller (the key is not that busy).
            self._give_back.append((key, lease.bucket, lease.tokens))
            lease.tokens, lease.size = 0, max(1, lease.size // 4)
            return None
        lease.tokens -= cost  # a look (cost 0) counts this worker's unspent hits too
        return Decision(True, limit, lease.remaining + lease.tokens, lease.reset)

    def _keep_lease(self, key: str, lease: Lease | None, lease_args: tuple) -> None:
        if lease is not None and lease.tokens:  # a block counted meanwhile: not lost
            self._give_back.append((key, lease.bucket, lease.tokens))
        self._leases[key] = Lease(*lease_args)
        self._leases.move_to_end(key)
        while len(self._leases) > LEASES_KEPT:
            old_key, old = self._leases.popitem(last=False)
            if old.tokens:
                self._give_back.append((old_key, old.bucket, old.tokens))

    async def _count(self, args: tuple, back: list) -> tuple[Decision, int, int]:
        try:
            try:
                return self._decide(self._fast_connection(), *args, back)
            except sqlite3.OperationalError as exc:
                if not _locked(exc):
                    raise
                return await self._run(self._hit, *args, back)
        except BaseException:
            self._give_back.extend(back)  # the transaction did not happen
            raise

    async def hit(self, key: str, limit: int, window: int, cost: int = 1) -> Decision:
        """Count and decide atomically (see :class:`RateLimitStore`)."""
        decision = self._from_lease(key, limit, window, cost)
        if decision is not None:
            return decision
        lease = self._leases.get(key)
        # Blocks double while the key spends them within their bucket.
        block = 1 if lease is None else min(LEASE_MAX, 2 * lease.size)
        back, self._give_back = self._give_back, []
        decision, took, bucket = await self._count((key, limit, window, cost, block), back)
        if cost == 1 and took:
            args = (limit, window, bucket, took - 1, took, decision.remaining, decision.reset)
            self._keep_lease(key, self._leases.get(key), args)
            # This hit's answer counts the block's other hits as still to come.
            decision = Decision(True, limit, decision.remaining + took - 1, decision.reset)
        self._hits_since_sweep += 1
        self._hits_since_checkpoint += 1
        if self._hits_since_checkpoint >= 1000:  # a few MB of WAL at most
            self._hits_since_checkpoint = 0
            self._in_background(self._checkpoint)
        if self._hits_since_sweep >= 10_000:
            self._hits_since_sweep = 0
            self._in_background(self._sweep)
        return decision

    async def reset(self, key: str) -> None:
        """Forget ``key``."""

        def forget() -> None:
            self._connect().execute("DELETE FROM hits WHERE key = ?", (key,))

        self._leases.pop(key, None)
        self._give_back = [entry for entry in self._give_back if entry[0] != key]
        await self._run(forget)


def _subtract(db: sqlite3.Connection, back: list[tuple[str, int, int]]) -> None:
    """Give back hits counted in blocks and never handed out."""
    for key, bucket, hits in back:
        db.execute(
            "UPDATE hits SET n = MAX(0, n - ?) WHERE key = ? AND bucket = ?", (hits, key, bucket)
        )


def _locked(exc: sqlite3.OperationalError) -> bool:
    """Whether ``exc`` says another connection holds the lock (SQLITE_BUSY/LOCKED)."""
    return "locked" in str(exc) or "busy" in str(exc)


def _log_failure(future: asyncio.Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("rate-limit store upkeep failed: %s", future.exception())
