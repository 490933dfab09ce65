"""Two `pichr-appliance serve` processes, one site: PostgreSQL + S3 (SeaweedFS) + Redis.

The guide's flows alternate between the instances: an upload started on one and
finished on the other (direct and multipart), a delete on one is gone on the other at
once, one rate limit for both, view counts that add up, and one sweeper for the site.
"""

import asyncio
import time
import uuid
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from pichr_postgres.testing import create_test_database, drop_test_databases
from pichr_s3.testing import ACCESS_KEY, SECRET_KEY, SeaweedS3

from pichr_appliance.testing import LiveServer, sample_image_bytes

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory, services):
    """Shared services and the settings both instances run with."""
    s3 = SeaweedS3(bucket=f"site-{uuid.uuid4().hex[:8]}").start()
    database = create_test_database()
    prefix = f"pichr-site-{uuid.uuid4().hex[:8]}:"
    env = {
        "PICHR_DATABASE__URL": database,
        "PICHR_STORAGE__BACKEND": "s3",
        "PICHR_STORAGE__ENDPOINT_URL": s3.endpoint,
        "PICHR_STORAGE__REGION": "us-east-1",
        "PICHR_STORAGE__BUCKET": s3.bucket,
        "PICHR_STORAGE__ACCESS_KEY_ID": ACCESS_KEY,
        "PICHR_STORAGE__SECRET_ACCESS_KEY": SECRET_KEY,
        "PICHR_STORAGE__PATH_STYLE": "true",
        "PICHR_RATE_LIMITS__STORE": "redis",
        "PICHR_PLUGIN__REDIS__URL": services["redis"],
        "PICHR_PLUGIN__REDIS__PREFIX": prefix,
        # Every instance must sign and check tokens with the same secret.
        "PICHR_AUTH__SECRET": "site-wide-secret-" + uuid.uuid4().hex,
        "PICHR_PLANS__ANONYMOUS__REQUESTS_PER_HOUR": "30",
        "PICHR_IMAGES__COUNT_FLUSH_INTERVAL": "0.3",
        "PICHR_UPLOADS__SWEEP_INTERVAL": "5",
    }
    root = tmp_path_factory.mktemp("site")
    servers = []
    try:
        for name in ("a", "b"):
            servers.append(LiveServer(root / name / "data", env=env).start(timeout=90))
        yield {"a": servers[0], "b": servers[1], "db": database, "s3": s3}
    finally:
        for server in servers:
            server.stop()
        s3.stop()
        drop_test_databases()
        import redis

        client = redis.Redis.from_url(services["redis"])
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
        client.close()


def on(server, url):
    """The same URL, sent to another instance."""
    parts = urlsplit(url)
    return server.url + parts.path + ("?" + parts.query if parts.query else "")


def signup(client, name):
    body = {
        "email": f"{name}@example.com",
        "password": "correct horse battery",
        "username": name,
        "firstName": "Site",
        "lastName": "User",
        "ageConfirmed": True,
    }
    r = client.post("/api/v1/auth/signup", json=body)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['session']['access_token']}"}, r.json()["user"]


def noise_png(width, height):
    import io
    import os

    from PIL import Image

    buf = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(buf, "PNG")
    return buf.getvalue()


def sql(url, query, *args):
    async def run():
        conn = await asyncpg.connect(url)
        try:
            return await conn.fetch(query, *args)
        finally:
            await conn.close()

    return asyncio.run(run())


def test_one_site_on_two_instances(site):
    a, b = site["a"], site["b"]
    ca, cb = httpx.Client(base_url=a.url, timeout=30), httpx.Client(base_url=b.url, timeout=30)
    h, user = signup(ca, f"site{uuid.uuid4().hex[:6]}")  # not an API call (own limits)
    # A session made on A works on B.
    assert cb.get("/api/v1/auth/me", headers=h).json()["user"]["id"] == user["id"]

    # Presign on A, PUT the bytes to B (the guide's client never calls finalize).
    data = sample_image_bytes("PNG", (80, 60))
    p = ca.post(
        "/api/v1/upload/presign",
        headers=h,
        json={"filename": "a.png", "mime": "image/png", "bytes": len(data), "visibility": "public"},
    ).json()
    assert httpx.put(on(b, p["uploadUrl"]), content=data).status_code == 200  # anonymous 1
    file_id = p["fileId"]
    assert ca.get(f"/i/{file_id}").content == data

    # Multipart: init on B, the two parts go to B and A, complete on A.
    big = noise_png(1500, 1300)  # incompressible: ~5.9 MB, two parts of 5 MiB and the rest
    part = 5 * 1024 * 1024
    init = cb.post(
        "/api/v1/upload/multipart/init",
        headers=h,
        json={"filename": "b.png", "mime": "image/png", "totalBytes": len(big), "partSize": part},
    )
    assert init.status_code == 201, init.text
    m = init.json()
    assert m["partCount"] == 2
    etags = []
    for i, url in enumerate(m["partUrls"]):
        r = httpx.put(on(b if i == 0 else a, url), content=big[i * part : (i + 1) * part])
        assert r.status_code == 200, r.text
        etags.append({"partNumber": i + 1, "etag": r.json()["etag"]})
    done = ca.post(
        "/api/v1/upload/multipart/complete",
        headers=h,
        json={
            "uploadId": m["uploadId"],
            "fileId": m["fileId"],
            "r2Key": m["r2Key"],
            "parts": etags,
        },
    )
    assert done.status_code == 200, done.text
    multi_id = m["fileId"]
    assert cb.get(f"/i/{multi_id}").content == big

    # Views on both instances add up (counts are batched per process, then flushed).
    for _ in range(3):
        assert ca.get(f"/i/{file_id}").status_code == 200
    for _ in range(4):
        assert cb.get(f"/i/{file_id}").status_code == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        views = cb.get(f"/api/v1/files/{file_id}", headers=h).json()["viewCount"]
        if views >= 8:
            break
        time.sleep(0.3)
    assert views == 8  # 1 + 3 on A, 4 on B

    # A delete on A is gone on B at once (B served it a moment ago and cached it).
    assert cb.get(f"/i/{multi_id}").status_code == 200
    assert ca.delete(f"/api/v1/files/{multi_id}", headers=h).status_code == 204
    assert cb.get(f"/i/{multi_id}").status_code in (404, 410)

    # The sweeper runs once for the site: an expired file is deleted by one instance.
    sql(
        site["db"], "UPDATE files SET expires_at = now() - interval '1 hour' WHERE id = $1", file_id
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and cb.get(f"/i/{file_id}").status_code == 200:
        time.sleep(0.5)
    assert cb.get(f"/i/{file_id}").status_code in (404, 410)
    time.sleep(6)  # one more sweep interval: the other instance must not sweep it again
    sweeps = [s.output().count("'expiredFiles': 1") for s in (a, b)]
    assert sorted(sweeps) == [0, 1], sweeps
    # Only one process ever held the sweeper lease: the other never swept at all.
    takers = [s.output().count("this process sweeps for the site") for s in (a, b)]
    assert sorted(takers) == [0, 1], takers
    holders = sql(site["db"], "SELECT holder FROM leases WHERE name = 'sweeper'")
    assert len(holders) == 1
    me = cb.get("/api/v1/auth/me", headers=h).json()["user"]
    assert me["usage"]["files"] == 0 and me["usage"]["bytes"] == 0  # freed once, not twice

    # One rate limit across both: 30 anonymous calls per hour; 3 were used above (the
    # signed direct PUT and the two signed part PUTs carry no Authorization header; the
    # signup has limits of its own).
    statuses = [(ca if i % 2 else cb).get("/api/v1/files/public").status_code for i in range(40)]
    assert statuses.count(200) == 27 and statuses.count(429) == 13
