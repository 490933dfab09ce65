"""The plugin's settings: ``[plugin.redis]`` in the appliance configuration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pichr_appliance.config import ConfigError


@dataclass(frozen=True)
class RedisConfig:
    """Where Redis is and how the plugin names things there."""

    url: str
    prefix: str = "pichr:"
    timeout: float = 2.0


def redis_config(settings: Any) -> RedisConfig | None:
    """The configuration, or None when ``plugin.redis.url`` is not set."""
    section = dict(settings.plugin_config("redis"))
    url = section.pop("url", "")
    if not url:
        return None
    prefix = section.pop("prefix", "pichr:")
    timeout = section.pop("timeout", 2.0)
    if section:
        raise ConfigError(f"plugin.redis: unknown setting(s) {', '.join(sorted(section))}")
    if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("plugin.redis.url: must be a redis://, rediss:// or unix:// URL")
    try:
        timeout = float(timeout)
    except (TypeError, ValueError):
        raise ConfigError("plugin.redis.timeout: must be a number of seconds") from None
    return RedisConfig(url=url, prefix=str(prefix), timeout=timeout)


def require_config(settings: Any) -> RedisConfig:
    """The configuration for parts that cannot work without it (the store)."""
    config = redis_config(settings)
    if config is None:
        raise ConfigError(
            'pichr-redis: rate_limits.store = "redis" needs plugin.redis.url '
            '(e.g. "redis://127.0.0.1:6379/0")'
        )
    return config
