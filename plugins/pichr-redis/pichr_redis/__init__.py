"""pichr-redis: a shared rate-limit store and cache invalidation across instances."""

from __future__ import annotations

import logging
from typing import Any

from pichr_appliance import hookimpl

from .config import redis_config
from .invalidation import Invalidation
from .store import RedisRateLimitStore

__version__ = "0.1.0"
log = logging.getLogger("pichr_redis")

__all__ = ["RedisRateLimitStore", "__version__"]


@hookimpl
def register_rate_limit_stores(settings: Any) -> list[type]:
    """The ``redis`` store (used when ``rate_limits.store = "redis"``)."""
    return [RedisRateLimitStore]


@hookimpl
async def startup(app: Any) -> None:
    """Listen for other instances' invalidations when ``plugin.redis.url`` is set."""
    config = redis_config(app.ctx.settings)
    if config is None:
        return
    channel = Invalidation(config, app.ctx.hotcache)
    await channel.start()
    app.ctx.redis_invalidation = channel


@hookimpl
async def shutdown(app: Any) -> None:
    """Stop listening."""
    channel = getattr(app.ctx, "redis_invalidation", None)
    if channel is not None:
        await channel.stop()


@hookimpl
def file_invalidated(app: Any, file_id: str) -> Any:
    """Tell the other instances to drop ``file_id`` from their caches."""
    channel = getattr(app.ctx, "redis_invalidation", None) if app is not None else None
    if channel is None:
        return None
    return channel.publish(file_id)
