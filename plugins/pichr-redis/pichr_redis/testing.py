"""Redis for tests: the shared server the tests use and one-line reasons when it is missing.

The server is ``PICHR_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``); tests
keep to a key prefix of their own on it. Some tests start a private ``redis-server``
(so that they can stop it), which needs the binary (``apt-get install redis-server``).
``scripts/test`` starts a private server when none answers and exports the URL.
"""

from __future__ import annotations

import os
import shutil

DEFAULT_URL = "redis://127.0.0.1:6379/0"
HOW = "set PICHR_TEST_REDIS_URL to a Redis server, or run scripts/test, which starts one"


def shared_url() -> str:
    """The Redis server the tests share."""
    return os.environ.get("PICHR_TEST_REDIS_URL", "").strip() or DEFAULT_URL


def unreachable_reason(url: str | None = None) -> str | None:
    """None when ``url`` (default :func:`shared_url`) answers PING, else one line
    saying what is missing and how to provide it."""
    import redis

    url = url or shared_url()
    try:
        client = redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3)
        try:
            client.ping()
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError) as exc:
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return f"Redis not reachable at {url} ({detail}): {HOW}"
    return None


def redis_server_binary() -> str | None:
    """The ``redis-server`` executable, or None."""
    found = shutil.which("redis-server")
    if found:
        return found
    return "/usr/bin/redis-server" if os.access("/usr/bin/redis-server", os.X_OK) else None


def missing_binary_reason() -> str | None:
    """None when ``redis-server`` is installed, else one line with the fix."""
    if redis_server_binary():
        return None
    return (
        "redis-server not found (some tests start a private one): "
        "apt-get install redis-server, or run scripts/test, which installs it"
    )
