"""The redis rate-limit store: exact, sliding, shared, and degrading when Redis goes."""

import asyncio
import logging

import pytest
from pichr_redis.store import RedisRateLimitStore

from pichr_appliance.config import ConfigError
from pichr_appliance.limits.contract import RateLimitStoreContract
from pichr_appliance.testing import make_settings


def settings_for(tmp_path, url, prefix="pichr-test:"):
    return make_settings(tmp_path / "data", {"plugin": {"redis": {"url": url, "prefix": prefix}}})


def test_two_instances_share_one_exact_count(tmp_path, redis_url, prefix):
    async def scenario():
        a = RedisRateLimitStore(settings_for(tmp_path, redis_url, prefix))
        b = RedisRateLimitStore(settings_for(tmp_path, redis_url, prefix))
        await a.startup()
        await b.startup()
        try:
            # 40 concurrent hits from two "machines" against a limit of 25.
            results = await asyncio.gather(
                *[(a if i % 2 else b).hit("api:user:1", 25, 3600) for i in range(40)]
            )
            assert sum(d.allowed for d in results) == 25
            d = await a.hit("api:user:1", 25, 3600, 0)  # look only
            assert d.remaining == 0
            assert not (await a.hit("api:user:1", 25, 3600)).allowed
            await b.reset("api:user:1")
            assert (await a.hit("api:user:1", 25, 3600)).remaining == 24
            assert a.fallbacks == b.fallbacks == 0
        finally:
            await a.shutdown()
            await b.shutdown()

    asyncio.run(scenario())


def test_unreachable_redis_at_startup_is_one_clear_line(tmp_path):
    store = RedisRateLimitStore(settings_for(tmp_path, "redis://127.0.0.1:1/0"))
    with pytest.raises(ConfigError) as err:
        asyncio.run(store.startup())
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("pichr-redis: cannot reach plugin.redis.url (redis://127.0.0.1:1/0)")


def test_store_without_url_names_the_setting(tmp_path):
    with pytest.raises(ConfigError, match="plugin.redis.url"):
        RedisRateLimitStore(make_settings(tmp_path / "data"))


def test_redis_going_away_degrades_to_per_process_counts(tmp_path, private_redis, caplog):
    caplog.set_level(logging.WARNING, "pichr_redis")

    async def scenario():
        store = RedisRateLimitStore(settings_for(tmp_path, private_redis.url))
        await store.startup()
        try:
            assert (await store.hit("k", 5, 3600)).remaining == 4
            private_redis.stop()
            # Still answering, from memory now; the limit still holds per process.
            decisions = [await store.hit("k", 5, 3600) for _ in range(6)]
            assert [d.allowed for d in decisions] == [True] * 5 + [False]
            assert store.fallbacks == 6
            private_redis.start()
            # Redis is back (empty: this one keeps nothing on disk) and decides again.
            d = await store.hit("k", 5, 3600)
            assert d.allowed and d.remaining == 4 and store.fallbacks == 6
        finally:
            await store.shutdown()

    asyncio.run(scenario())
    warnings = [r for r in caplog.records if "Redis unavailable" in r.getMessage()]
    assert len(warnings) == 1  # logged once, not per request


class TestRedisStoreContract(RateLimitStoreContract):
    """The same suite as the core's stores; ``other_store`` is another machine."""

    @pytest.fixture
    async def store(self, tmp_path, redis_url, prefix):
        s = RedisRateLimitStore(settings_for(tmp_path, redis_url, prefix))
        await s.startup()
        yield s
        await s.shutdown()

    @pytest.fixture
    async def other_store(self, tmp_path, redis_url, prefix):
        s = RedisRateLimitStore(settings_for(tmp_path, redis_url, prefix))
        await s.startup()
        yield s
        await s.shutdown()
