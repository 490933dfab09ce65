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
