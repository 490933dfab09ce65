"""A busy SQLite database through a real server: another process holds the write lock.

Reads go on (the read connection, WAL); writes give up after the busy timeout with 503
``database_busy`` and ``Retry-After`` (never a 500), the rate-limit file likewise, and
the same write succeeds once the lock is gone.
"""

from __future__ import annotations

import contextlib
import io
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from PIL import Image

from pichr_appliance.testing import LiveServer

BUSY_MS = 3000  # database.busy_timeout_ms in these tests


def png(side: int = 64, colour: str = "teal") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (side, side), colour).save(buf, "PNG")
    return buf.getvalue()


@contextlib.contextmanager
def write_lock(path: Path) -> Iterator[None]:
    """Hold the database file's write lock (as a CLI command, a backup or another
    worker mid-transaction would) until the block ends."""
    con = sqlite3.connect(path, timeout=10, isolation_level=None)
    try:
        con.execute("BEGIN IMMEDIATE")
        yield
        con.execute("ROLLBACK")
    finally:
        con.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("busy")
    data = tmp / "data"
    env = {
        # SQLite whatever PICHR_TEST_DATABASE says: the lock is SQLite's.
        "PICHR_DATABASE__URL": "sqlite://" + str(data.resolve() / "pichr.sqlite3"),
        "PICHR_DATABASE__BUSY_TIMEOUT_MS": str(BUSY_MS),
    }
    srv = LiveServer(data, env=env).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def owner(server: LiveServer) -> dict[str, str]:
    body = {"email": "busy@example.com", "username": "busy", "password": "a long password"}
    r = httpx.post(server.url + "/api/v1/auth/signup", json=body)
    assert r.status_code == 201, r.text
    return {"Authorization": "Bearer " + r.json()["session"]["access_token"]}


def upload(server: LiveServer, auth: dict[str, str], data: bytes) -> httpx.Response:
    """One-request upload of ``data`` (public)."""
    return httpx.post(
        server.url + "/api/v1/upload?filename=b.png&visibility=public",
        headers={**auth, "Content-Type": "image/png"},
        content=data,
        timeout=30,
    )


def assert_busy(r: httpx.Response) -> None:
    assert r.status_code == 503, (r.status_code, r.text)
    assert r.json()["code"] == "database_busy", r.text
    assert r.headers["Retry-After"] == "1"


def test_reads_go_on_while_a_write_waits_for_the_lock(server, owner):
    r = upload(server, owner, png(colour="navy"))
    assert r.status_code in (200, 201), r.text
    file_id = r.json()["id"]
    db = server.data_dir / "pichr.sqlite3"
    with write_lock(db), ThreadPoolExecutor(1) as pool:
        # A write of this worker now waits for the lock (up to the busy timeout); with
        # one connection per worker every read queued behind it.
        waiting = pool.submit(
            httpx.patch,
            f"{server.url}/api/v1/files/{file_id}",
            headers=owner,
            json={"title": "waits"},
            timeout=30,
        )
        time.sleep(0.3)
        assert not waiting.done()
        timeout = BUSY_MS / 1000 / 3  # well under the wait: a queued read misses it
        meta = httpx.get(f"{server.url}/api/v1/files/{file_id}", headers=owner, timeout=timeout)
        assert meta.status_code == 200 and meta.json()["id"] == file_id
        listed = httpx.get(f"{server.url}/api/v1/files", headers=owner, timeout=timeout)
        assert listed.status_code == 200
        image = httpx.get(f"{server.url}/i/{file_id}", timeout=timeout)
        assert image.status_code == 200 and image.content[:4] == b"\x89PNG"
        assert_busy(waiting.result())


def test_writes_answer_503_database_busy_then_succeed_when_retried(server, owner):
    r = upload(server, owner, png(colour="olive"))
    assert r.status_code in (200, 201), r.text
    file_id = r.json()["id"]
    db = server.data_dir / "pichr.sqlite3"
    data = png(colour="maroon")
    with write_lock(db):
        assert_busy(upload(server, owner, data))
        patch = httpx.patch(
            f"{server.url}/api/v1/files/{file_id}",
            headers=owner,
            json={"title": "while locked"},
            timeout=30,
        )
        assert_busy(patch)
    # Nothing of the refused writes is visible, and the same requests now succeed.
    assert httpx.get(f"{server.url}/api/v1/files/{file_id}", headers=owner).json()["title"] != (
        "while locked"
    )
    again = upload(server, owner, data)
    assert again.status_code in (200, 201), again.text
    assert httpx.get(f"{server.url}/i/{again.json()['id']}").content == data
    patch = httpx.patch(
        f"{server.url}/api/v1/files/{file_id}", headers=owner, json={"title": "after"}
    )
    assert patch.status_code == 200 and patch.json()["title"] == "after"
    assert "Traceback" not in server.output()
    assert "internal_error" not in server.output()


def test_a_locked_rate_limit_file_answers_503_database_busy(server, owner):
    # A new account: its first API call must be counted in that file. (A key that kept
    # calling may be served from the hits its worker counted ahead, limits/local.py.)
    body = {"email": "busy2@example.com", "username": "busy2", "password": "a long password"}
    r = httpx.post(server.url + "/api/v1/auth/signup", json=body)
    assert r.status_code == 201, r.text
    fresh = {"Authorization": "Bearer " + r.json()["session"]["access_token"]}
    with write_lock(server.data_dir / "ratelimit.sqlite3"):
        assert_busy(httpx.get(f"{server.url}/api/v1/files", headers=fresh, timeout=30))
    assert httpx.get(f"{server.url}/api/v1/files", headers=fresh).status_code == 200
    assert httpx.get(f"{server.url}/api/v1/files", headers=owner).status_code == 200
    assert "Traceback" not in server.output()


def test_an_upsert_waits_for_the_lock_instead_of_failing(tmp_path: Path) -> None:
    """Another connection holds the write lock, has written, and commits half a second
    later: ``db.upsert`` and ``db.insert_if_absent`` (single write statements, used for
    variant rows, multipart parts and album entries instead of Tortoise's read-then-write
    ``update_or_create``/``get_or_create``) wait for it and then write."""
    import asyncio
    from datetime import UTC, datetime

    from pichr_appliance.db import database, insert_if_absent, upsert
    from pichr_appliance.models import Variant
    from pichr_appliance.testing import make_settings

    path = tmp_path / "data" / "pichr.sqlite3"
    url = "sqlite://" + str(path)
    settings = make_settings(tmp_path / "data", {"database": {"url": url, "busy_timeout_ms": 5000}})

    async def under_a_lock(write) -> None:
        other = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("UPDATE variants SET bytes = bytes + 1 WHERE key = 'other'")
            asyncio.get_running_loop().call_later(0.5, other.execute, "COMMIT")
            await write()
        finally:
            await asyncio.sleep(0.6)
            other.close()

    async def scenario() -> None:
        now = datetime.now(UTC)
        async with database(settings):
            await Variant.create(key="other", file_id="f", bytes=1, last_used=now)
            row = {"file_id": "f", "bytes": 5, "last_used": now}
            await under_a_lock(lambda: upsert(Variant, {"key": "v1"}, row))  # inserts
            await under_a_lock(lambda: upsert(Variant, {"key": "v1"}, {**row, "bytes": 7}))
            await under_a_lock(lambda: insert_if_absent(Variant, {"key": "v2"}, row))
            await under_a_lock(
                lambda: insert_if_absent(Variant, {"key": "v2"}, {**row, "bytes": 9})
            )
            sizes = dict(await Variant.all().values_list("key", "bytes"))
            assert sizes == {"other": 5, "v1": 7, "v2": 5}

    asyncio.run(scenario())


def test_variant_gets_are_served_while_the_lock_is_held(server, owner):
    """A variant's bookkeeping (its row for the disk budget, its last use) is a write;
    a GET is not failed over it: the crash test saw 503 database_busy on variant GETs
    while another worker's uploads held the lock."""
    r = upload(server, owner, png(side=128, colour="purple"))
    assert r.status_code in (200, 201), r.text
    file_id = r.json()["id"]
    with write_lock(server.data_dir / "pichr.sqlite3"):
        new = httpx.get(f"{server.url}/i/{file_id}?w=64&format=webp", timeout=30)
        assert new.status_code == 200, new.text
        assert new.headers["content-type"] == "image/webp" and new.content[:4] == b"RIFF"
    again = httpx.get(f"{server.url}/i/{file_id}?w=64&format=webp")
    assert again.status_code == 200 and again.content == new.content
