"""The services the cross-plugin tests need (PostgreSQL, Redis, SeaweedFS), checked once
per run: a missing one fails those tests with one line saying how to provide it
(``PICHR_TEST_POSTGRES_URL``, ``PICHR_TEST_REDIS_URL``, or ``scripts/test``, which
starts both)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def services() -> dict[str, str]:
    """``{"postgres": admin URL, "redis": URL}`` once every service answers."""
    from pichr_postgres import testing as pg
    from pichr_redis import testing as rd
    from pichr_s3.testing import missing_reason

    for problem in (pg.unreachable_reason(), rd.unreachable_reason(), missing_reason()):
        if problem:
            pytest.fail(problem, pytrace=False)
    return {"postgres": pg.admin_url(), "redis": rd.shared_url()}
