"""Hourly limits per plan: headers, 429 answers, sliding windows, proxies, login guards."""

import time

import httpx
import pytest

from pichr_appliance.limits import local as local_store
from pichr_appliance.limits.local import LocalRateLimitStore
from pichr_appliance.testing import LiveServer, make_settings

ME = "/api/v1/auth/me"
PRESIGN = "/api/v1/upload/presign"


@pytest.fixture
def pichr_overrides():
    return {
        "plans": {
            "anonymous": {"requests_per_hour": 10, "uploads_per_hour": 1, "max_file_bytes": 10**6},
            "free": {"requests_per_hour": 12, "uploads_per_hour": 2, "max_file_bytes": 10**7},
        },
        "uploads": {"allow_anonymous": True},
        "rate_limits": {"login_failures_per_account": 2, "login_per_ip_per_hour": 40},
    }


def test_every_api_response_carries_the_headers_and_429_follows_the_contract(pichr_client):
    seen = []
    for _ in range(10):
        r = pichr_client.get("/api/v1/files/public")
        assert r.status == 200
        seen.append(int(r.headers["x-ratelimit-remaining"]))
        assert r.headers["x-ratelimit-limit"] == "10"
        reset = int(r.headers["x-ratelimit-reset"])
        assert time.time() + 3500 < reset < time.time() + 3700
    assert seen == list(range(9, -1, -1))
    r = pichr_client.get("/api/v1/files/public")
    assert r.status == 429
    assert set(r.json) == {"error", "code", "retryAfter", "remaining"}
    assert r.json["error"] == "Rate limit exceeded" and r.json["remaining"] == 0
    assert r.json["retryAfter"] == int(r.headers["x-ratelimit-reset"]) * 1000
    assert 3500 < int(r.headers["retry-after"]) <= 3700
    assert r.headers["content-type"].startswith("application/json")
    # Refused calls are not counted, and the health probe is never limited.
    assert pichr_client.get("/api/v1/health").status == 200
    assert pichr_client.get("/health").status == 200


def test_errors_inside_api_routes_carry_the_headers(pichr_client):
    r = pichr_client.get("/api/v1/files/file_doesnotexist")
    assert r.status == 404 and r.headers["x-ratelimit-remaining"] == "9"
    r = pichr_client.get(ME, headers={"Authorization": "Bearer garbage"})
    assert r.status == 401 and r.headers["x-ratelimit-remaining"] == "8"


def test_signed_in_callers_are_counted_per_user(pichr_client):
    a = pichr_client.signup()["headers"]
    b = pichr_client.signup()["headers"]
    for expected in range(11, 5, -1):
        assert pichr_client.get(ME, headers=a).headers["x-ratelimit-remaining"] == str(expected)
    # b has its own count, and anonymous callers theirs.
    assert pichr_client.get(ME, headers=b).headers["x-ratelimit-remaining"] == "11"
    assert pichr_client.get("/api/v1/files/public").headers["x-ratelimit-limit"] == "10"


def test_uploads_are_counted_at_presign(pichr_client, sample_image):
    h = pichr_client.signup()["headers"]
    body = {"filename": "a.png", "mime": "image/png", "bytes": 100}
    assert pichr_client.post(PRESIGN, headers=h, json=body).status == 201
    assert pichr_client.post(PRESIGN, headers=h, json=body).status == 201
    r = pichr_client.post(PRESIGN, headers=h, json=body)
    assert r.status == 429 and r.json["error"] == "Upload limit exceeded"
    r = pichr_client.post("/api/v1/upload/multipart/init", headers=h, json={})
    assert r.status == 429
    # Anonymous uploads have their own, smaller allowance.
    assert pichr_client.post(PRESIGN, json=body).status == 201
    assert pichr_client.post(PRESIGN, json=body).status == 429


def test_failed_logins_lock_the_account_name_not_the_answer(pichr_client):
    user = pichr_client.signup()
    email = user["user"]["email"]
    for _ in range(2):
        r = pichr_client.post("/api/v1/auth/login", json={"email": email, "password": "wrong-pw-1"})
        assert r.status == 401
    # Now even the right password is refused for a while...
    r = pichr_client.post("/api/v1/auth/login", json={"email": email, "password": user["password"]})
    assert r.status == 429 and "retryAfter" in r.json
    # ...and an account that does not exist answers exactly the same way.
    ghost = "nobody@example.com"
    for _ in range(2):
        pichr_client.post("/api/v1/auth/login", json={"email": ghost, "password": "wrong-pw-1"})
    r = pichr_client.post("/api/v1/auth/login", json={"email": ghost, "password": "x" * 10})
    assert r.status == 429


def test_failures_count_per_account_whichever_name_is_typed(pichr_client):
    user = pichr_client.signup()
    email, name = user["user"]["email"], user["user"]["username"]
    # Limit 2: one wrong password by email and one by username use it up...
    for login in (email, name.upper()):
        r = pichr_client.post("/api/v1/auth/login", json={"email": login, "password": "wrong-pw-1"})
        assert r.status == 401
    # ...so neither name gets another try, the right password included.
    for login in (name, email):
        r = pichr_client.post(
            "/api/v1/auth/login", json={"email": login, "password": user["password"]}
        )
        assert r.status == 429, login


def test_a_successful_login_clears_the_failures(pichr_client):
    user = pichr_client.signup()
    body = {"email": user["user"]["email"], "password": user["password"]}
    # Limit 2: without the reset, the fourth call would be the third strike.
    assert (
        pichr_client.post("/api/v1/auth/login", json={**body, "password": "wrong-pw-1"}).status
        == 401
    )
    assert pichr_client.post("/api/v1/auth/login", json=body).status == 200
    assert (
        pichr_client.post("/api/v1/auth/login", json={**body, "password": "wrong-pw-1"}).status
        == 401
    )
    assert pichr_client.post("/api/v1/auth/login", json=body).status == 200


def test_sliding_window_never_allows_twice_the_limit(tmp_path, monkeypatch):
    """A fixed hourly window would allow 2x the limit around its edge; this one never does."""
    clock = [1_000_000.0 * 3600 + 3590]  # ten seconds before a full hour
    monkeypatch.setattr(local_store.time, "time", lambda: clock[0])
    store = LocalRateLimitStore(make_settings(tmp_path / "d"))

    def hit():
        return store._hit("k", 10, 3600, 1, 1, [])[0]  # (key, limit, window, cost, block, back)

    assert all(hit().allowed for _ in range(10))
    assert not hit().allowed
    clock[0] += 20  # the hour turned: a fixed window would allow 10 more now
    assert not hit().allowed
    clock[0] += 3600 - 20  # exactly one hour after the burst: still within the window
    assert not hit().allowed
    clock[0] += 61  # one bucket later the whole burst has left the window
    d = hit()
    assert d.allowed and d.remaining == 9
    # Over any span of one hour the count stayed at or under the limit.


def test_forwarded_headers_count_only_from_trusted_proxies(tmp_path):
    from pichr_appliance.api.middleware import client_ip

    class Conn:
        client_ip = "127.0.0.1"

    class Req:
        conn_info = Conn()
        headers = {"x-forwarded-for": "203.0.113.9, 10.0.0.5"}

    assert client_ip(Req, []) == "127.0.0.1"  # nobody is trusted: the socket counts
    assert client_ip(Req, ["10.0.0.0/8"]) == "127.0.0.1"  # the peer itself is not trusted
    assert client_ip(Req, ["127.0.0.1/32", "10.0.0.0/8"]) == "203.0.113.9"
    assert client_ip(Req, ["127.0.0.1/32"]) == "10.0.0.5"  # only one trusted hop
    Req.headers = {"forwarded": 'for=192.0.2.60;proto=https, for="[2001:db8::1]:4711"'}
    assert client_ip(Req, ["127.0.0.1"]) == "2001:db8::1"
    Req.headers = {}
    assert client_ip(Req, ["127.0.0.1"]) == "127.0.0.1"


def test_forwarded_for_through_the_server(pichr_client):
    """Without trusted proxies a spoofed X-Forwarded-For buys no fresh allowance."""
    for i in range(10):
        hdr = {"X-Forwarded-For": f"198.51.100.{i}"}
        assert pichr_client.get("/api/v1/files/public", headers=hdr).status == 200
    hdr = {"X-Forwarded-For": "198.51.100.200"}
    assert pichr_client.get("/api/v1/files/public", headers=hdr).status == 429


@pytest.mark.slow
def test_limits_are_exact_across_worker_processes(tmp_path):
    server = LiveServer(
        tmp_path / "data",
        env={"PICHR_PLANS__ANONYMOUS__REQUESTS_PER_HOUR": "25"},
        args=["--workers", "2"],
    ).start(timeout=60)
    try:
        statuses = []
        for _ in range(40):
            # A new connection each time, so that both workers take calls.
            with httpx.Client(base_url=server.url) as client:
                statuses.append(client.get("/api/v1/files/public").status_code)
    finally:
        server.stop()
    assert statuses.count(200) == 25 and statuses.count(429) == 15
