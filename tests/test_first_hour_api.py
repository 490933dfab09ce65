"""The first hour through the API (issue 19): CORS switched off says so, sign-in is not
an API call, loopback development mode, and the presign answer tells the truth."""

from __future__ import annotations

import pytest

from pichr_appliance.testing import make_settings


def test_a_preflight_with_cors_off_says_so_and_names_the_setting(pichr_client):
    r = pichr_client.request(
        "options",
        "/api/v1/upload/presign",
        headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"},
    )
    assert r.status == 403
    assert r.json["code"] == "cors_disabled"
    assert "server.cors_origins" in r.json["error"] and "http://localhost:3000" in r.json["error"]
    assert "access-control-allow-origin" not in r.headers


@pytest.fixture
def pichr_overrides():
    return {"plans": {"anonymous": {"requests_per_hour": 3}}}


def test_sign_in_does_not_use_up_the_anonymous_read_limit(pichr_client):
    account = pichr_client.signup()
    for _ in range(5):  # more than the 3 anonymous calls of this test's plan
        r = pichr_client.post(
            "/api/v1/auth/login",
            json={"email": account["user"]["username"], "password": account["password"]},
        )
        assert r.status == 200, r.json
        assert "x-ratelimit-limit" not in r.headers
    for _ in range(3):
        assert pichr_client.get("/api/v1/files/public").status == 200
    assert pichr_client.get("/api/v1/files/public").status == 429


def test_loopback_exemption_is_off_by_default_and_lifts_the_hourly_limits(tmp_path):
    assert make_settings(tmp_path / "a").rate_limits.exempt_loopback is False


@pytest.mark.parametrize("pichr_overrides", [
    {"plans": {"anonymous": {"requests_per_hour": 2}},
     "rate_limits": {"exempt_loopback": True}},
])  # fmt: skip
def test_loopback_clients_are_exempt_in_development_mode(pichr_client):
    for _ in range(6):
        assert pichr_client.get("/api/v1/files/public").status == 200


def test_the_presign_message_says_the_put_makes_the_file_ready(pichr_client):
    account = pichr_client.signup()
    r = pichr_client.post(
        "/api/v1/upload/presign",
        json={"filename": "a.png", "mime": "image/png", "bytes": 100},
        headers=account["headers"],
    )
    assert r.status == 201, r.json
    assert "ready when that PUT answers 200" in r.json["message"]
    assert "then call /finalize" not in r.json["message"]
