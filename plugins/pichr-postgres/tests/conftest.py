"""PostgreSQL at ``PICHR_TEST_POSTGRES_URL`` (default 127.0.0.1:5432, see
``pichr_postgres.testing``; ``scripts/test`` starts a private one when none answers).
The tests that need it fail with one line naming the fix when it does not answer."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import asyncpg
import pytest
from pichr_postgres import testing as pg


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The maintenance URL, checked once: an unreachable server fails with the fix."""
    problem = pg.unreachable_reason()
    if problem:
        pytest.fail(problem, pytrace=False)
    return pg.admin_url()


@pytest.fixture
def fresh_database(postgres_server: str) -> Iterator[str]:
    """The URL of a new, completely empty database (no schema), dropped afterwards."""
    name = f"pichr_test_{uuid.uuid4().hex[:16]}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(postgres_server)
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
def migrated_database(postgres_server: str) -> Iterator[str]:
    """A migrated, empty database made from the test template."""
    url = pg.create_test_database()
    try:
        yield url
    finally:
        pg.drop_test_databases()
