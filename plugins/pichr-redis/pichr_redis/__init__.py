"""pichr-redis: a shared rate-limit store and cache invalidation across instances."""

from __future__ import annotations

import logging
import weakref
from typing import TYPE_CHECKING, Any

from pichr_appliance import hookimpl

from .config import redis_config
from .store import RedisRateLimitStore

if TYPE_CHECKING:
    from .invalidation import Invalidation

__version__ = "0.1.0"
log = logging.getLogger("pichr_redis")

__all__ = ["RedisRateLimitStore", "__version__"]


@hookimpl
def register_rate_limit_stores(settings: Any) -> list[type]:
    """The ``redis`` store (used when ``rate_limits.store = "redis"``)."""
    return [RedisRateLimitStore]


# The invalidation channel of each running appliance in this process (one, but tests
# run several); CLI commands have none, and their changes reach others by the TTL.
_channels: weakref.WeakKeyDictionary[Any, Invalidation] = weakref.WeakKeyDictionary()


@hookimpl
async def startup(runtime: Any) -> None:
    """Listen for other instances' invalidations when ``plugin.redis.url`` is set."""
    config = redis_config(runtime.settings)
    if config is None:
        return
    from .invalidation import Invalidation  # imports redis: only when configured

    channel = Invalidation(config, runtime.hotcache)
    await channel.start()
    _channels[runtime] = channel


@hookimpl
async def shutdown(runtime: Any) -> None:
    """Stop listening."""
    channel = _channels.pop(runtime, None)
    if channel is not None:
        await channel.stop()


@hookimpl
def file_invalidated(runtime: Any, file_id: str) -> Any:
    """Tell the other instances to drop ``file_id`` from their caches."""
    channel = _channels.get(runtime)
    if channel is None:
        return None
    return channel.publish(file_id)
