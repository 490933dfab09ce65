"""Throwaway PostgreSQL databases for tests (``PICHR_TEST_DATABASE=postgres``).

The core's ``make_settings`` calls :func:`create_test_database` for every test and its
autouse fixture calls :func:`drop_test_databases` afterwards. Each database is a copy
of a template that was migrated once (``CREATE DATABASE ... TEMPLATE``: ~0.1 s instead
of running the migrations per test). The template's name carries a digest of the
migration files, so a changed migration gets a fresh template.

The server is ``PICHR_TEST_POSTGRES_URL`` (default
``postgres://postgres@127.0.0.1:5432/postgres``, trust auth), a role that may create
databases. :func:`unreachable_reason` says in one line when it does not answer
(``scripts/test`` starts a private server when none is configured).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import uuid
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

DEFAULT_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
PREFIX = "pichr_test_"
_created: list[str] = []
_template: str | None = None
_lock = threading.Lock()


def admin_url() -> str:
    """The maintenance connection used to create and drop test databases."""
    return os.environ.get("PICHR_TEST_POSTGRES_URL", DEFAULT_ADMIN_URL)


def unreachable_reason(url: str | None = None) -> str | None:
    """None when ``url`` (default :func:`admin_url`) accepts a connection and
    ``SELECT 1``, else one line saying what is missing and how to provide it."""
    url = url or admin_url()

    async def probe() -> None:
        conn = await asyncpg.connect(url, timeout=5)
        try:
            await conn.fetchval("SELECT 1")
        finally:
            await conn.close()

    try:
        _in_thread(probe)
    except Exception as exc:  # refused, unknown host, auth, missing database...
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return (
            f"PostgreSQL not reachable at {url} ({detail}): set PICHR_TEST_POSTGRES_URL "
            "to a server where that role may create databases, or run scripts/test, "
            "which starts one"
        )
    return None


def url_for(name: str) -> str:
    """``admin_url()`` pointed at database ``name``."""
    parts = urlsplit(admin_url())
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))


def _in_thread(coro_fn: Any) -> Any:
    # Tests call this from sync code and from inside running loops alike.
    out: dict[str, Any] = {}

    def work() -> None:
        try:
            out["value"] = asyncio.run(coro_fn())
        except BaseException as exc:
            out["error"] = exc

    t = threading.Thread(target=work)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out.get("value")


def _migrations_digest() -> str:
    digest = hashlib.sha256()
    folder = resources.files("pichr_appliance.migrations")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".py"):
            digest.update(entry.name.encode() + entry.read_bytes())
    return digest.hexdigest()[:12]


async def _ensure_template(conn: asyncpg.Connection) -> str:
    name = f"pichr_tpl_{_migrations_digest()}"
    # Another test run (another worktree) may build the same template right now.
    await conn.execute("SELECT pg_advisory_lock(hashtext($1))", name)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            building = f"{name}_{uuid.uuid4().hex[:6]}"
            await conn.execute(f'CREATE DATABASE "{building}"')
            try:
                await _migrate(url_for(building))
            except BaseException:
                await conn.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
                raise
            await conn.execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
    finally:
        await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", name)
    return name


async def _migrate(url: str) -> None:
    import tempfile

    from pichr_appliance.config import load_settings
    from pichr_appliance.db import run_migrations
    from pichr_appliance.plugins import get_plugin_manager
    from pichr_appliance.testing import FAST_HASHING

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            data_dir=Path(tmp),
            environ={},
            extra={"auth": dict(FAST_HASHING), "database": {"url": url}},
        )
        await run_migrations(settings, get_plugin_manager(settings))


def create_test_database() -> str:
    """A new, migrated, empty database; returns its URL."""
    global _template

    async def create() -> str:
        global _template
        conn = await asyncpg.connect(admin_url())
        try:
            if _template is None:
                _template = await _ensure_template(conn)
            name = f"{PREFIX}{uuid.uuid4().hex[:16]}"
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{_template}"')
        finally:
            await conn.close()
        _created.append(name)
        return url_for(name)

    with _lock:
        return _in_thread(create)


def drop_test_databases() -> None:
    """Drop every database :func:`create_test_database` made in this process."""
    with _lock:
        if not _created:
            return
        names = list(_created)
        _created.clear()

        async def drop() -> None:
            conn = await asyncpg.connect(admin_url())
            try:
                for name in names:
                    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()

        _in_thread(drop)


async def fetch(url: str, sql: str, *args):
    """Rows of one query on ``url``."""
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()
