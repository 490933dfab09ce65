"""Cache invalidation between instances over a Redis pub/sub channel."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from .config import RedisConfig

log = logging.getLogger("pichr_redis")


class Invalidation:
    """Publishes changed file ids and drops the ones other instances publish."""

    def __init__(self, config: RedisConfig, hotcache: Any) -> None:
        self.config = config
        self.hotcache = hotcache
        self.channel = f"{config.prefix}invalidate"
        self.client = aioredis.from_url(
            config.url, socket_timeout=config.timeout, socket_connect_timeout=config.timeout
        )
        self._task: asyncio.Task | None = None
        self.received = 0
        self._ready = asyncio.Event()

    async def start(self) -> None:
        """Start listening (returns once subscribed, or after the timeout if Redis is down)."""
        self._task = asyncio.get_running_loop().create_task(self._listen())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), self.config.timeout)

    async def stop(self) -> None:
        """Stop listening and close connections."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self.client.aclose()

    async def publish(self, file_id: str) -> None:
        """Tell every instance (this one included, harmlessly) to drop ``file_id``."""
        try:
            await self.client.publish(self.channel, file_id)
        except (RedisError, OSError) as exc:
            log.warning("pichr-redis: could not publish invalidation of %s: %s", file_id, exc)

    async def _listen(self) -> None:
        delay = 0.5
        while True:
            try:
                async with self.client.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    self._ready.set()
                    delay = 0.5
                    while True:
                        message = await pubsub.get_message(
                            ignore_subscribe_messages=True, timeout=30.0
                        )
                        if message and message.get("type") == "message":
                            data = message["data"]
                            file_id = data.decode() if isinstance(data, bytes) else str(data)
                            self.hotcache.forget(file_id)
                            self.received += 1
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                log.warning("pichr-redis: invalidation channel lost (%s); reconnecting", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
