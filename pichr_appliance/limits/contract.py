"""A reusable test suite for rate-limit stores: what the limiter relies on.

Subclass it in a test module and provide two fixtures: ``store`` (an async fixture that
yields a started store) and ``other_store`` (a second instance, as another process or
machine would open it). A store that counts per process only (like the built-in
``memory`` store) sets ``shared = False``: the suite then checks that the second
instance keeps its own count, which is what the configuration docs promise of it::

    class TestMyStore(RateLimitStoreContract):
        @pytest.fixture
        async def store(self, tmp_path):
            s = MyStore(make_settings(tmp_path))
            await s.startup()
            yield s
            await s.shutdown()
"""

from __future__ import annotations

import asyncio
import os
import time

from .base import Decision, RateLimitStore, bucket_width

HOUR = 3600


class RateLimitStoreContract:
    """The behaviour every rate-limit store promises. Needs ``store`` and ``other_store``."""

    #: Whether instances in other processes (or machines) count the same keys.
    shared = True

    def key(self, name: str = "k") -> str:
        """A key no other test (or earlier run on a shared server) has used."""
        return f"contract:{os.urandom(6).hex()}:{name}"

    def test_has_a_name(self, store: RateLimitStore) -> None:
        assert isinstance(store.name, str) and store.name

    async def test_counts_down_to_the_limit_then_refuses(self, store: RateLimitStore) -> None:
        key = self.key()
        seen = [await store.hit(key, 3, HOUR) for _ in range(4)]
        assert all(isinstance(d, Decision) for d in seen)
        assert [d.allowed for d in seen] == [True, True, True, False]
        assert [d.remaining for d in seen] == [2, 1, 0, 0]
        assert {d.limit for d in seen} == {3}

    async def test_refused_hits_are_not_counted(self, store: RateLimitStore) -> None:
        key = self.key()
        for _ in range(2):
            await store.hit(key, 2, HOUR)
        for _ in range(5):
            assert not (await store.hit(key, 2, HOUR)).allowed
        # Room for exactly one more under a higher limit: the refusals did not count.
        assert [(await store.hit(key, 3, HOUR)).allowed for _ in range(2)] == [True, False]

    async def test_cost_zero_only_looks(self, store: RateLimitStore) -> None:
        key = self.key()
        await store.hit(key, 5, HOUR)
        looks = [await store.hit(key, 5, HOUR, 0) for _ in range(3)]
        assert [d.remaining for d in looks] == [4, 4, 4] and all(d.allowed for d in looks)
        full = self.key("full")
        await store.hit(full, 1, HOUR)
        assert (await store.hit(full, 1, HOUR, 0)).remaining == 0

    async def test_a_cost_counts_that_many_hits(self, store: RateLimitStore) -> None:
        key = self.key()
        assert (await store.hit(key, 10, HOUR, 4)).remaining == 6
        assert not (await store.hit(key, 10, HOUR, 7)).allowed  # does not fit: not counted
        assert (await store.hit(key, 10, HOUR, 6)).remaining == 0

    async def test_keys_count_separately(self, store: RateLimitStore) -> None:
        a, b = self.key("a"), self.key("b")
        await store.hit(a, 1, HOUR)
        assert not (await store.hit(a, 1, HOUR)).allowed
        assert (await store.hit(b, 1, HOUR)).allowed

    async def test_reset_forgets_a_key_and_only_that_key(self, store: RateLimitStore) -> None:
        a, b = self.key("a"), self.key("b")
        for key in (a, b):
            await store.hit(key, 2, HOUR)
            await store.hit(key, 2, HOUR)
        await store.reset(a)
        assert (await store.hit(a, 2, HOUR)).remaining == 1
        assert not (await store.hit(b, 2, HOUR)).allowed
        await store.reset(self.key("never-seen"))  # forgetting an unknown key is fine

    async def test_reset_is_when_capacity_frees_up(self, store: RateLimitStore) -> None:
        before = time.time()
        decision = await store.hit(self.key(), 5, HOUR)
        # Epoch seconds, within one window and one bucket of the hit.
        assert before < decision.reset <= time.time() + HOUR + bucket_width(HOUR) + 1
        assert decision.headers() == {
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "4",
            "X-RateLimit-Reset": str(decision.reset),
        }

    async def test_capacity_frees_up_after_the_window(self, store: RateLimitStore) -> None:
        key, window = self.key(), 1
        assert (await store.hit(key, 1, window)).allowed
        refused = await store.hit(key, 1, window)
        assert not refused.allowed
        assert refused.reset <= time.time() + window + bucket_width(window) + 1
        await asyncio.sleep(max(0.0, refused.reset - time.time()) + 0.05)
        assert (await store.hit(key, 1, window)).allowed

    async def test_concurrent_hits_are_exact(self, store: RateLimitStore) -> None:
        key = self.key()
        results = await asyncio.gather(*(store.hit(key, 20, HOUR) for _ in range(50)))
        assert sum(d.allowed for d in results) == 20
        assert (await store.hit(key, 20, HOUR, 0)).remaining == 0

    async def test_instances_share_one_exact_count(
        self, store: RateLimitStore, other_store: RateLimitStore
    ) -> None:
        key = self.key()
        results = await asyncio.gather(
            *((store if i % 2 else other_store).hit(key, 15, HOUR) for i in range(30))
        )
        if not self.shared:  # each instance has its own 15
            assert sum(d.allowed for d in results) == 30
            return
        assert sum(d.allowed for d in results) == 15
        await other_store.reset(key)
        assert (await store.hit(key, 15, HOUR)).remaining == 14
