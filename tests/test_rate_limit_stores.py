"""The built-in rate-limit stores against the contract every store fulfils."""

import pytest

from pichr_appliance.limits.contract import RateLimitStoreContract
from pichr_appliance.limits.local import LocalRateLimitStore
from pichr_appliance.limits.memory import MemoryRateLimitStore
from pichr_appliance.testing import make_settings


class TestLocalStore(RateLimitStoreContract):
    @pytest.fixture
    def settings(self, tmp_path):
        return make_settings(tmp_path / "data")

    @pytest.fixture
    async def store(self, settings):
        s = LocalRateLimitStore(settings)
        await s.startup()
        yield s
        await s.shutdown()

    @pytest.fixture
    async def other_store(self, settings):
        # Another worker process opens the same file.
        s = LocalRateLimitStore(settings)
        await s.startup()
        yield s
        await s.shutdown()


class TestMemoryStore(RateLimitStoreContract):
    shared = False  # per process: exact with one worker only (config.example.toml)

    @pytest.fixture
    async def store(self):
        s = MemoryRateLimitStore()
        await s.startup()
        yield s
        await s.shutdown()

    @pytest.fixture
    async def other_store(self):
        # What another worker process would have: a store of its own.
        s = MemoryRateLimitStore()
        await s.startup()
        yield s
        await s.shutdown()


async def test_a_hit_while_another_process_writes_waits_for_it_and_counts_once(tmp_path):
    # A hit runs on the event loop only when the write lock is free at once; while
    # another process holds it, the hit waits on the store's thread (up to the busy
    # timeout) instead of failing, and is counted exactly once.
    import asyncio
    import sqlite3
    import time

    store = LocalRateLimitStore(make_settings(tmp_path / "data"))
    await store.startup()
    try:
        assert (await store.hit("k", 10, 3600)).remaining == 9  # the loop's own path
        other = sqlite3.connect(store.path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        released = []

        def release() -> None:
            time.sleep(0.3)
            released.append(time.monotonic())
            other.execute("COMMIT")

        releasing = asyncio.get_running_loop().run_in_executor(None, release)
        decision = await store.hit("k", 10, 3600)
        answered = time.monotonic()
        await releasing
        other.close()
        assert decision.allowed and decision.remaining == 8
        assert released and answered >= released[0]  # it waited for the other writer
        assert (await store.hit("k", 10, 3600)).remaining == 7
    finally:
        await store.shutdown()


async def _store(tmp_path, workers: int = 1) -> LocalRateLimitStore:
    store = LocalRateLimitStore(make_settings(tmp_path / "data", {"server": {"workers": workers}}))
    await store.startup()
    return store


async def test_a_busy_key_counted_in_blocks_keeps_exact_headers_with_one_worker(tmp_path):
    from pichr_appliance.limits.local import LEASE_MAX

    store, other = await _store(tmp_path), await _store(tmp_path)
    try:
        seen = [await store.hit("busy", 100_000, 3600) for _ in range(300)]
        assert [d.remaining for d in seen] == list(range(99_999, 99_699, -1))
        # The shared file holds the hits made, plus at most one block not handed out.
        shared = (await other.hit("busy", 100_000, 3600, 0)).remaining
        assert 99_700 - LEASE_MAX <= shared <= 99_700
        assert shared < 99_700  # it did count ahead: a block is in memory now
    finally:
        await store.shutdown()
    try:  # unspent hits were given back at shutdown
        assert (await other.hit("busy", 100_000, 3600, 0)).remaining == 99_700
    finally:
        await other.shutdown()


async def test_blocks_never_let_workers_past_the_limit_together(tmp_path):
    import asyncio

    a, b = await _store(tmp_path, workers=2), await _store(tmp_path, workers=2)
    try:
        results = await asyncio.gather(
            *((a if i % 2 else b).hit("shared", 2_000, 3600) for i in range(2_600))
        )
        allowed = sum(d.allowed for d in results)
        # Never more than the limit; near it, hit by hit, so (almost) all of it is used.
        assert 1_990 <= allowed <= 2_000
    finally:
        await a.shutdown()
        await b.shutdown()
    c = await _store(tmp_path)
    try:
        assert (await c.hit("shared", 2_000, 3600, 0)).remaining == 2_000 - allowed
    finally:
        await c.shutdown()
