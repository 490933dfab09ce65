"""Turning ``database.url`` and ``database.options`` into a Tortoise connection."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from pichr_appliance.config import ConfigError

PLUGIN = "pichr-postgres"
SCHEMES = ("postgres://", "postgresql://")
# database.options keys passed to asyncpg's pool as they are.
PASSTHROUGH = {
    "command_timeout",
    "statement_cache_size",
    "max_inactive_connection_lifetime",
    "max_queries",
    "ssl",
    "server_settings",
    "schema",
    "application_name",
}
# Seconds to wait for a connection: an unreachable server should fail start-up quickly.
DEFAULT_CONNECT_TIMEOUT = 10


def handles(url: str) -> bool:
    """Whether ``url`` is a PostgreSQL URL this plugin serves."""
    return url.startswith(SCHEMES)


def _fail(setting: str, message: str) -> ConfigError:
    return ConfigError(f"{PLUGIN}: {setting}: {message}")


def parse_url(url: str) -> dict[str, Any]:
    """``postgres://user:password@host:port/database?sslmode=...`` as asyncpg arguments."""
    parts = urlsplit(url)
    try:
        port = parts.port or 5432
    except ValueError:
        raise _fail("database.url", "the port is not a number") from None
    database = unquote(parts.path.lstrip("/"))
    if not database:
        raise _fail("database.url", "name the database: postgres://user@host:5432/DBNAME")
    creds: dict[str, Any] = {
        "host": unquote(parts.hostname or "") or "127.0.0.1",
        "port": port,
        "user": unquote(parts.username) if parts.username else "postgres",
        "password": unquote(parts.password) if parts.password else None,
        "database": database,
    }
    query = parse_qs(parts.query)
    if "sslmode" in query:
        creds["ssl"] = query["sslmode"][-1]
    if "application_name" in query:
        creds["application_name"] = query["application_name"][-1]
    return creds


def _size(options: dict[str, Any], name: str, default: int, low: int) -> int:
    value = options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise _fail(f"database.options.{name}", f"an integer of at least {low}")
    return value


def connection_config(url: str, options: dict[str, Any] | None) -> dict[str, Any]:
    """The Tortoise connection entry (engine + credentials) for a PostgreSQL URL."""
    options = dict(options or {})
    creds = parse_url(url)
    min_size = _size(options, "min_size", 1, 0)
    max_size = _size(options, "max_size", 10, 1)
    if min_size > max_size:
        raise _fail("database.options.min_size", f"larger than max_size ({max_size})")
    timeout = options.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise _fail("database.options.connect_timeout", "a positive number of seconds")
    creds.update(minsize=min_size, maxsize=max_size, timeout=timeout)
    for key, value in options.items():
        if key in ("min_size", "max_size", "connect_timeout"):
            continue
        if key not in PASSTHROUGH:
            known = ", ".join(sorted({"min_size", "max_size", "connect_timeout"} | PASSTHROUGH))
            raise _fail(f"database.options.{key}", f"unknown option (known: {known})")
        creds[key] = value
    return {"engine": "pichr_postgres.engine", "credentials": creds}
