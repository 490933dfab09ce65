"""PostgreSQL on 127.0.0.1:5432 (``PICHR_TEST_POSTGRES_URL``), as ``.ci/run`` starts it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import asyncpg
import pytest
from pichr_postgres import testing as pg


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """The URL of a new, completely empty database (no schema), dropped afterwards."""
    name = f"pichr_test_{uuid.uuid4().hex[:16]}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(pg.admin_url())
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield pg.url_for(name)
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def migrated_database() -> Iterator[str]:
    """A migrated, empty database made from the test template."""
    url = pg.create_test_database()
    try:
        yield url
    finally:
        pg.drop_test_databases()
