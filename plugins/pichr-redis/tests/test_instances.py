"""Two `pichr-appliance serve` processes sharing one data directory and one Redis."""

import httpx
import pytest

from pichr_appliance.testing import LiveServer, sample_image_bytes


@pytest.fixture
def two_instances(tmp_path, redis_url, prefix):
    env = {
        "PICHR_RATE_LIMITS__STORE": "redis",
        "PICHR_PLUGIN__REDIS__URL": redis_url,
        "PICHR_PLUGIN__REDIS__PREFIX": prefix,
        "PICHR_PLANS__ANONYMOUS__REQUESTS_PER_HOUR": "20",
    }
    data = tmp_path / "data"
    a = LiveServer(data, env=env).start(timeout=60)
    b = LiveServer(data, env=env)
    try:
        b.start(timeout=60)
        yield a, b
    finally:
        a.stop()
        b.stop()


def test_one_limit_and_instant_invalidation_across_instances(two_instances):
    a, b = two_instances
    ca, cb = httpx.Client(base_url=a.url), httpx.Client(base_url=b.url)
    body = {
        "email": "inst@example.com",
        "password": "correct horse battery",
        "username": "inst",
        "firstName": "I",
        "lastName": "N",
        "ageConfirmed": True,
    }
    r = ca.post("/api/v1/auth/signup", json=body)  # not an API call: signups have own limits
    h = {"Authorization": f"Bearer {r.json()['session']['access_token']}"}
    data = sample_image_bytes("PNG")
    p = ca.post(
        "/api/v1/upload/presign",
        headers=h,
        json={"filename": "x.png", "mime": "image/png", "bytes": len(data), "visibility": "public"},
    ).json()
    # The signed PUT carries no Authorization header: anonymous call 1 of 20.
    assert httpx.put(p["uploadUrl"], content=data).status_code == 200
    file_id = p["fileId"]
    # B serves it (and caches its metadata)...
    assert cb.get(f"/i/{file_id}").content == data
    # ...A deletes it, and B stops serving it at once, not a second later.
    assert ca.delete(f"/api/v1/files/{file_id}", headers=h).status_code == 204
    assert cb.get(f"/i/{file_id}").status_code in (404, 410)

    # Anonymous calls alternate between the instances and meet one limit of 20.
    statuses = [(ca if i % 2 else cb).get("/api/v1/files/public").status_code for i in range(30)]
    assert statuses.count(200) == 19 and statuses.count(429) == 11
    r = cb.get("/api/v1/files/public")
    assert r.status_code == 429 and r.json()["remaining"] == 0
