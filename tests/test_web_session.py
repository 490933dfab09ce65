"""Browser sessions (``/api/v1/auth/web``, docs/web.md "Browser sessions"): the refresh
token only ever in an HttpOnly, SameSite=Strict cookie scoped to these routes, rotation
with reuse detection, logout, and the cross-site refusal, through a real server."""

from __future__ import annotations

import pytest

from pichr_appliance.models import User

WEB = "/api/v1/auth/web"
COOKIE = "pichr_refresh"


def cookie_of(response) -> dict[str, str]:
    """The ``pichr_refresh`` Set-Cookie of an answer: value and attributes (lower-case
    names; flags map to "")."""
    lines = [v for v in response.headers.get_list("set-cookie") if v.startswith(COOKIE + "=")]
    assert len(lines) == 1, response.headers
    first, *attributes = (part.strip() for part in lines[0].split(";"))
    out = {"value": first.split("=", 1)[1]}
    for attribute in attributes:
        name, _, value = attribute.partition("=")
        out[name.lower()] = value
    return out


def with_cookie(token: str, **headers: str) -> dict[str, str]:
    return {"Cookie": f"{COOKIE}={token}", **headers}


def login(client, account, **headers):
    body = {"email": account["user"]["email"], "password": account["password"]}
    return client.post(f"{WEB}/login", json=body, headers=headers)


def me(client, token: str):
    return client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})


def test_login_sets_the_cookie_and_answers_no_refresh_token(pichr_client, pichr_user):
    r = login(pichr_client, pichr_user)
    assert r.status == 200, r.text
    assert set(r.json) == {"user", "accessToken", "expiresAt"}
    assert r.json["user"]["id"] == pichr_user["user"]["id"]
    assert "refresh" not in r.text.lower() and "session" not in r.json
    cookie = cookie_of(r)
    assert cookie["value"] and cookie["value"] not in r.text
    assert "httponly" in cookie and cookie["samesite"].lower() == "strict"
    assert cookie["path"] == WEB and "secure" not in cookie  # public_url is plain http here
    ttl = pichr_client.runtime.settings.auth.refresh_token_ttl
    assert int(cookie["max-age"]) == ttl
    assert r.headers["cache-control"] == "no-store"
    assert me(pichr_client, r.json["accessToken"]).json["user"]["id"] == pichr_user["user"]["id"]


def test_wrong_password_sets_no_cookie(pichr_client, pichr_user):
    body = {"email": pichr_user["user"]["email"], "password": "not the password"}
    r = pichr_client.post(f"{WEB}/login", json=body)
    assert r.status == 401 and r.json["code"] == "invalid_credentials"
    assert not r.headers.get_list("set-cookie")


def test_signup_starts_a_browser_session(pichr_client):
    body = {
        "email": "web@example.com", "password": "correct horse battery", "username": "webby",
        "firstName": "W", "lastName": "B", "ageConfirmed": False,
    }  # fmt: skip
    r = pichr_client.post(f"{WEB}/signup", json=body)
    assert r.status == 201 and r.json["user"]["username"] == "webby"
    assert cookie_of(r)["value"] and me(pichr_client, r.json["accessToken"]).status == 200


def test_refresh_rotates_and_reuse_revokes_the_session(pichr_client, pichr_user):
    first = login(pichr_client, pichr_user)
    old = cookie_of(first)["value"]
    r = pichr_client.post(f"{WEB}/refresh", headers=with_cookie(old))
    assert r.status == 200 and set(r.json) == {"user", "accessToken", "expiresAt"}
    new = cookie_of(r)["value"]
    assert new != old and "refresh" not in r.text.lower()
    assert me(pichr_client, r.json["accessToken"]).status == 200

    reused = pichr_client.post(f"{WEB}/refresh", headers=with_cookie(old))
    assert reused.status == 401 and reused.json["code"] == "refresh_token_reused"
    cleared = cookie_of(reused)
    assert cleared["value"] == "" and cleared["max-age"] == "0" and cleared["path"] == WEB
    # The whole session ended: the rotated cookie and every access token of it.
    after = pichr_client.post(f"{WEB}/refresh", headers=with_cookie(new))
    assert after.status == 401 and after.json["code"] == "session_ended"
    assert me(pichr_client, r.json["accessToken"]).status == 401
    assert me(pichr_client, first.json["accessToken"]).status == 401


def test_refresh_without_a_cookie_or_with_a_bad_one(pichr_client):
    r = pichr_client.post(f"{WEB}/refresh")
    assert r.status == 401 and r.json["code"] == "no_session"
    r = pichr_client.post(f"{WEB}/refresh", headers=with_cookie("made-up"))
    assert r.status == 401 and r.json["code"] == "invalid_refresh_token"
    assert cookie_of(r)["max-age"] == "0"


def test_logout_clears_the_cookie_and_ends_the_session(pichr_client, pichr_user):
    r = login(pichr_client, pichr_user)
    token, access = cookie_of(r)["value"], r.json["accessToken"]
    other = login(pichr_client, pichr_user).json["accessToken"]  # another browser
    out = pichr_client.post(f"{WEB}/logout", headers=with_cookie(token))
    assert out.status == 204
    cleared = cookie_of(out)
    assert cleared["value"] in ("", '""') and cleared["max-age"] == "0"
    assert cleared["path"] == WEB
    assert me(pichr_client, access).status == 401
    assert pichr_client.post(f"{WEB}/refresh", headers=with_cookie(token)).status == 401
    assert me(pichr_client, other).status == 200  # only this browser's session ended
    assert pichr_client.post(f"{WEB}/logout").status == 204  # no cookie: nothing to end


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "cross-site", "Origin": "http://127.0.0.1"},
    ],
)
def test_cross_site_requests_are_refused(pichr_client, pichr_user, headers):
    token = cookie_of(login(pichr_client, pichr_user))["value"]
    answers = [
        login(pichr_client, pichr_user, **headers),
        pichr_client.post(f"{WEB}/refresh", headers=with_cookie(token, **headers)),
        pichr_client.post(f"{WEB}/logout", headers=with_cookie(token, **headers)),
        pichr_client.post(f"{WEB}/signup", json={}, headers=headers),
    ]
    for r in answers:
        assert r.status == 403 and r.json["code"] == "cross_site_request", r.text
        assert not r.headers.get_list("set-cookie")
    # Nothing happened: the cookie still works from the site's own page.
    own = {"Origin": pichr_client.runtime.settings.public_url, "Sec-Fetch-Site": "same-origin"}
    assert pichr_client.post(f"{WEB}/refresh", headers=with_cookie(token, **own)).status == 200


def test_the_sites_own_pages_are_allowed(pichr_client, pichr_user):
    own = pichr_client.runtime.settings.public_url
    for headers in ({"Origin": own}, {"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}):
        assert login(pichr_client, pichr_user, **headers).status == 200, headers


def test_a_disabled_account_gets_no_browser_session(pichr_client, pichr_user):
    token = cookie_of(login(pichr_client, pichr_user))["value"]
    pichr_client.run(User.filter(id=pichr_user["user"]["id"]).update(disabled=True))
    r = login(pichr_client, pichr_user)
    assert r.status == 403 and r.json["code"] == "account_disabled"
    assert not r.headers.get_list("set-cookie")
    r = pichr_client.post(f"{WEB}/refresh", headers=with_cookie(token))
    assert r.status == 403 and r.json["code"] == "account_disabled"


@pytest.mark.parametrize("pichr_overrides", [{"server": {"public_url": "https://img.example"}}])
def test_the_cookie_is_secure_behind_https(pichr_client, pichr_user):
    r = login(pichr_client, pichr_user, Origin="https://img.example")
    assert r.status == 200 and "secure" in cookie_of(r)
    token = cookie_of(r)["value"]
    out = pichr_client.post(f"{WEB}/logout", headers=with_cookie(token))
    assert "secure" in cookie_of(out)
    dead = pichr_client.post(f"{WEB}/refresh", headers=with_cookie(token))
    assert dead.status == 401 and "secure" in cookie_of(dead)
