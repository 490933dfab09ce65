"""The ``redis`` rate-limit store: buckets in a Redis hash, decided by one Lua script."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from pichr_appliance.config import ConfigError
from pichr_appliance.limits import Decision, MemoryRateLimitStore, RateLimitStore
from pichr_appliance.limits.base import bucket_width

from .config import require_config

if TYPE_CHECKING:
    import redis.asyncio as aioredis

log = logging.getLogger("pichr_redis")

# Runs atomically on the server: read the key's live buckets, drop the dead ones, count
# the hit if it fits, and answer (allowed, used, reset). The server's clock is used, so
# that instances whose clocks disagree still share one window.
HIT_SCRIPT = """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local width = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1])
local current = math.floor(now / width)
local n = math.floor(window / width)
local first = current - n
local data = redis.call('HGETALL', key)
local used = 0
local oldest = nil
for i = 1, #data, 2 do
  local b = tonumber(data[i])
  local c = tonumber(data[i + 1])
  if b < first then
    redis.call('HDEL', key, data[i])
  else
    used = used + c
    if c > 0 and (oldest == nil or b < oldest) then oldest = b end
  end
end
local allowed = 0
if used + cost <= limit then
  allowed = 1
  if cost > 0 then
    redis.call('HINCRBY', key, current, cost)
    used = used + cost
    if oldest == nil or current < oldest then oldest = current end
  end
end
if oldest == nil then oldest = current end
redis.call('EXPIRE', key, window + 2 * width)
return {allowed, used, (oldest + n + 1) * width}
"""

FALLBACK_LOG_EVERY = 60.0


class RedisRateLimitStore(RateLimitStore):
    """Exact across every process and machine that uses the same Redis and prefix.

    When Redis fails at run time, decisions fall back to a per-process
    :class:`MemoryRateLimitStore` (the API keeps serving; each process then counts
    alone) until Redis answers again.
    """

    name = "redis"

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.config = require_config(settings)
        self.client: aioredis.Redis | None = None
        self._script: Any = None
        self.fallback = MemoryRateLimitStore(settings)
        self._last_warning = 0.0
        self.fallbacks = 0  # decisions made without Redis, for tests and metrics
        # What a call to Redis may raise; RedisError joins at startup. redis is imported
        # there, not with the module: an appliance that has this plugin installed but
        # not configured does not pay for importing it (start-up time).
        self._errors: tuple[type[BaseException], ...] = (OSError,)

    def _key(self, key: str) -> str:
        return f"{self.config.prefix}rl:{key}"

    async def startup(self) -> None:
        """Connect and check that Redis answers; a one-line ConfigError if it does not."""
        import redis.asyncio as aioredis
        from redis.exceptions import RedisError

        self._errors = (RedisError, OSError)
        self.client = aioredis.from_url(
            self.config.url,
            socket_timeout=self.config.timeout,
            socket_connect_timeout=self.config.timeout,
        )
        try:
            await self.client.ping()
        except self._errors as exc:
            await self.client.aclose()
            self.client = None
            raise ConfigError(
                f"pichr-redis: cannot reach plugin.redis.url ({_safe_url(self.config.url)}): {exc}"
            ) from None
        self._script = self.client.register_script(HIT_SCRIPT)

    async def shutdown(self) -> None:
        """Close the connection pool."""
        if self.client is not None:
            await self.client.aclose()
            self.client = None

    def _degraded(self, exc: Exception) -> None:
        self.fallbacks += 1
        now = time.monotonic()
        if now - self._last_warning > FALLBACK_LOG_EVERY:
            self._last_warning = now
            log.warning(
                "pichr-redis: Redis unavailable (%s); rate limits count per process until "
                "it is back",
                exc,
            )

    async def hit(self, key: str, limit: int, window: int, cost: int = 1) -> Decision:
        """Count and decide atomically on the Redis server (see ``RateLimitStore``)."""
        if self._script is None:
            await self.startup()
        try:
            allowed, used, reset = await self._script(
                keys=[self._key(key)], args=[limit, window, cost, bucket_width(window)]
            )
        except self._errors as exc:
            self._degraded(exc)
            return await self.fallback.hit(key, limit, window, cost)
        return Decision(bool(allowed), limit, max(0, limit - int(used)), int(reset))

    async def reset(self, key: str) -> None:
        """Forget ``key`` (in Redis and in the fallback)."""
        await self.fallback.reset(key)
        try:
            await self.client.delete(self._key(key))
        except (*self._errors, AttributeError) as exc:
            self._degraded(exc)


def _safe_url(url: str) -> str:
    """The URL without a password, for messages."""
    if "@" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
