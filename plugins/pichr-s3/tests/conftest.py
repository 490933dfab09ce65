"""A SeaweedFS S3 server for the whole test session (see ``pichr_s3.testing``); without
``weed`` the tests that need it fail with one line saying how to install it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pichr_s3.testing import SeaweedS3, missing_reason


@pytest.fixture(scope="session")
def weed() -> None:
    """Checked once: a missing ``weed`` fails every test that needs one with the fix."""
    problem = missing_reason()
    if problem:
        pytest.fail(problem, pytrace=False)


@pytest.fixture(scope="session")
def seaweed(weed) -> Iterator[SeaweedS3]:
    server = SeaweedS3().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def bucket_keys(seaweed):
    """Every raw key in the bucket under a prefix (what is really stored)."""

    def keys(prefix: str) -> list[str]:
        client = seaweed.client()
        pages = client.get_paginator("list_objects_v2").paginate(
            Bucket=seaweed.bucket, Prefix=prefix
        )
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    return keys
