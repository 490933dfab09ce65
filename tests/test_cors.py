"""CORS for browser clients on other origins (``server.cors_origins``)."""

import pytest

APP = "https://app.example"
PRESIGN = "/api/v1/upload/presign"


@pytest.fixture
def pichr_overrides():
    return {"server": {"cors_origins": [APP]}}


def preflight(client, path, origin, method="POST", headers="authorization, content-type"):
    return client.request(
        "options",
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
    )


def test_preflight_from_an_allowed_origin(pichr_client):
    r = preflight(pichr_client, PRESIGN, APP)
    assert r.status == 204
    assert r.headers["access-control-allow-origin"] == APP
    assert "POST" in r.headers["access-control-allow-methods"]
    assert r.headers["access-control-allow-headers"] == "authorization, content-type"
    assert r.headers["vary"] == "Origin"
    assert "access-control-allow-credentials" not in r.headers
    # A browser upload PUTs the bytes to the uploadUrl: that route is covered too.
    r = preflight(pichr_client, "/api/v1/upload/direct/file_x", APP, "PUT", "content-type")
    assert r.status == 204


def test_preflight_from_another_origin_or_for_odd_headers_is_refused(pichr_client):
    r = preflight(pichr_client, PRESIGN, "https://evil.example")
    assert r.status == 403 and r.json["code"] == "cors_forbidden"
    assert "access-control-allow-origin" not in r.headers
    r = preflight(pichr_client, PRESIGN, APP, headers="x-custom-thing")
    assert r.status == 403


def test_actual_requests_carry_the_headers_the_browser_needs(pichr_client):
    r = pichr_client.get("/api/v1/files/public", headers={"Origin": APP})
    assert r.status == 200
    assert r.headers["access-control-allow-origin"] == APP
    assert "X-RateLimit-Remaining" in r.headers["access-control-expose-headers"]
    r = pichr_client.get("/api/v1/files/public", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    r = pichr_client.get("/api/v1/files/public")
    assert "access-control-allow-origin" not in r.headers


def test_preflights_are_not_counted_against_the_rate_limit(pichr_client):
    before = pichr_client.get("/api/v1/files/public").headers["x-ratelimit-remaining"]
    for _ in range(3):
        preflight(pichr_client, PRESIGN, APP)
    after = pichr_client.get("/api/v1/files/public").headers["x-ratelimit-remaining"]
    assert int(before) - int(after) == 1
