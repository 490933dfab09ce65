"""A SeaweedFS S3 server for the whole test session (see ``pichr_s3.testing``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pichr_s3.testing import SeaweedS3


@pytest.fixture(scope="session")
def seaweed() -> Iterator[SeaweedS3]:
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
