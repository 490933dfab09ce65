"""Auth endpoints through a real listening server."""

import time

import jwt

SIGNUP = "/api/v1/auth/signup"
LOGIN = "/api/v1/auth/login"


def body(**kw):
    b = {
        "email": "your@email.com",
        "password": "your-secure-password",
        "username": "your_username",
        "firstName": "Your",
        "lastName": "Name",
        "ageConfirmed": True,
    }
    b.update(kw)
    return b


def test_signup_shape_matches_guide(pichr_client):
    r = pichr_client.post(SIGNUP, json=body())
    assert r.status == 201
    data = r.json
    user, session = data["user"], data["session"]
    assert user["id"].startswith("usr_")
    assert user["email"] == "your@email.com"
    assert user["username"] == "your_username"
    assert user["role"] == "user" and user["plan"] == "free" and user["ageConfirmed"] is True
    assert user["firstName"] == "Your" and user["lastName"] == "Name"
    assert user["createdAt"].endswith("Z")
    assert session["expires_in"] == 3600 and session["token_type"] == "bearer"
    assert session["access_token"].startswith("eyJ") and session["refresh_token"]
    assert r.headers["content-type"] == "application/json; charset=utf-8"


def test_signup_duplicates_are_409(pichr_client):
    assert pichr_client.post(SIGNUP, json=body()).status == 201
    r = pichr_client.post(SIGNUP, json=body(username="other_name", email="YOUR@email.com"))
    assert r.status == 409 and r.json["code"] == "email_taken"
    r = pichr_client.post(SIGNUP, json=body(email="x@y.com", username="YOUR_USERNAME"))
    assert r.status == 409 and r.json["code"] == "username_taken"


def test_signup_validation_names_the_field(pichr_client):
    cases = [
        (body(email="not-an-email"), "email"),
        (body(username="a b"), "username"),
        (body(username="ab"), "username"),
        (body(password="short"), "password"),
        (body(ageConfirmed="yes"), "ageConfirmed"),
        ({"email": "a@b.co"}, "password"),
        (body(firstName="x" * 101), "firstName"),
    ]
    for payload, field in cases:
        r = pichr_client.post(SIGNUP, json=payload)
        assert r.status == 400, (payload, r.text)
        assert field in r.json["error"], r.json
        assert r.json["code"]
    r = pichr_client.post(SIGNUP, content=b"[1,2]", headers={"content-type": "application/json"})
    assert r.status == 400 and r.json["code"] == "invalid_json"
    r = pichr_client.post(SIGNUP, content=b"{oops", headers={"content-type": "application/json"})
    assert r.status == 400 and r.json["code"] == "invalid_json"
    r = pichr_client.post(SIGNUP)
    assert r.status == 400


def test_signup_can_be_disabled(pichr_client):
    pichr_client.runtime.settings.auth.allow_signup = False
    r = pichr_client.post(SIGNUP, json=body())
    assert r.status == 403 and r.json["code"] == "signup_disabled"


def test_login_by_email_or_username_and_same_401(pichr_client):
    pichr_client.post(SIGNUP, json=body())
    for ident in ("your@email.com", "YOUR@EMAIL.COM", "your_username"):
        r = pichr_client.post(LOGIN, json={"email": ident, "password": "your-secure-password"})
        assert r.status == 200, r.text
        assert set(r.json) == {"user", "session"}
    wrong = pichr_client.post(LOGIN, json={"email": "your@email.com", "password": "nope-nope"})
    nobody = pichr_client.post(LOGIN, json={"email": "nobody@email.com", "password": "nope-nope"})
    assert wrong.status == nobody.status == 401
    assert wrong.json == nobody.json


def test_me_and_usage(pichr_client, pichr_user):
    r = pichr_client.get("/api/v1/auth/me", headers=pichr_user["headers"])
    assert r.status == 200
    u = r.json["user"]
    assert u["id"] == pichr_user["user"]["id"]
    assert u["usage"] == {"bytes": 0, "files": 0, "quotaBytes": 5_000_000_000}
    assert pichr_client.get("/api/v1/auth/me").status == 401
    r = pichr_client.get("/api/v1/auth/me", headers={"Authorization": "Bearer garbage"})
    assert r.status == 401 and r.json["code"] == "invalid_token"
    r = pichr_client.get("/api/v1/auth/me", headers={"Authorization": "Basic abc"})
    assert r.status == 401


def test_patch_me(pichr_client, pichr_user):
    h = pichr_user["headers"]
    r = pichr_client.patch(
        "/api/v1/auth/me", headers=h, json={"firstName": "New", "username": "renamed_one"}
    )
    assert r.status == 200 and r.json["user"]["firstName"] == "New"
    assert r.json["user"]["username"] == "renamed_one"
    other = pichr_client.signup("taken_name")
    r = pichr_client.patch("/api/v1/auth/me", headers=h, json={"username": "TAKEN_NAME"})
    assert r.status == 409
    r = pichr_client.patch("/api/v1/auth/me", headers=h, json={"password": "new-password-1"})
    assert r.status == 403
    r = pichr_client.patch(
        "/api/v1/auth/me",
        headers=h,
        json={"password": "new-password-1", "currentPassword": pichr_user["password"]},
    )
    assert r.status == 200
    assert (
        pichr_client.post(LOGIN, json={"email": "renamed_one", "password": "new-password-1"}).status
        == 200
    )
    r = pichr_client.patch("/api/v1/auth/me", headers=h, json={"username": "x"})
    assert r.status == 400
    assert other["user"]["username"] == "taken_name"


def test_refresh_rotation_and_reuse_detection(pichr_client, pichr_user):
    first = pichr_user["session"]["refresh_token"]
    r = pichr_client.post("/api/v1/auth/refresh", json={"refresh_token": first})
    assert r.status == 200
    second = r.json["session"]
    assert second["refresh_token"] != first
    new_headers = {"Authorization": f"Bearer {second['access_token']}"}
    assert pichr_client.get("/api/v1/auth/me", headers=new_headers).status == 200
    # Reusing the first token means it was stolen: the whole session ends.
    r = pichr_client.post("/api/v1/auth/refresh", json={"refresh_token": first})
    assert r.status == 401 and r.json["code"] == "refresh_token_reused"
    assert pichr_client.get("/api/v1/auth/me", headers=new_headers).status == 401
    r = pichr_client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert r.status == 401
    r = pichr_client.post("/api/v1/auth/refresh", json={"refresh_token": "made-up"})
    assert r.status == 401
    r = pichr_client.post("/api/v1/auth/refresh", json={"refresh_token": 42})
    assert r.status == 400


def test_logout_revokes_at_once(pichr_client, pichr_user):
    h = pichr_user["headers"]
    assert pichr_client.post("/api/v1/auth/logout", headers=h).status == 204
    assert pichr_client.get("/api/v1/auth/me", headers=h).status == 401
    r = pichr_client.post(
        "/api/v1/auth/refresh", json={"refresh_token": pichr_user["session"]["refresh_token"]}
    )
    assert r.status == 401


def test_an_ended_session_refuses_its_access_token(pichr_client):
    # The token itself is still valid for an hour; the session row decides. Each
    # account answers /me while its session is live, then 401 once it is past its
    # expiry, or revoked (by anything, not only logout).
    from datetime import UTC, datetime, timedelta

    from pichr_appliance.models import Session

    for change in (
        {"expires_at": datetime.now(UTC) - timedelta(seconds=1)},
        {"revoked_at": datetime.now(UTC), "revoked_reason": "admin"},
    ):
        account = pichr_client.signup()
        h = account["headers"]
        me = pichr_client.get("/api/v1/auth/me", headers=h)
        assert me.status == 200 and me.json["user"]["id"] == account["user"]["id"]
        sid = jwt.decode(account["session"]["access_token"], options={"verify_signature": False})
        pichr_client.run(Session.filter(id=sid["sid"]).update(**change))
        r = pichr_client.get("/api/v1/auth/me", headers=h)
        assert r.status == 401 and r.json["code"] == "invalid_token", change


def test_jwt_hardening(pichr_client, pichr_user):
    token = pichr_user["session"]["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    secret = pichr_client.runtime.settings.auth.secret
    # alg none
    none_token = jwt.encode(claims, None, algorithm="none")
    # wrong secret
    forged = jwt.encode(claims, "not-the-secret", algorithm="HS256")
    # expired
    expired = jwt.encode({**claims, "exp": int(time.time()) - 120}, secret, algorithm="HS256")
    # not yet valid
    future = jwt.encode({**claims, "nbf": int(time.time()) + 600}, secret, algorithm="HS256")
    # other algorithm with the same secret
    hs512 = jwt.encode(claims, secret, algorithm="HS512")
    for bad in (none_token, forged, expired, future, hs512):
        r = pichr_client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {bad}"})
        assert r.status == 401, bad


def test_disabled_user_is_locked_out(pichr_client, pichr_user):
    from pichr_appliance.models import User
    from pichr_appliance.services import accounts

    async def disable():
        user = await User.get(id=pichr_user["user"]["id"])
        await accounts.set_disabled(user, True)

    pichr_client.run(disable())
    assert pichr_client.get("/api/v1/auth/me", headers=pichr_user["headers"]).status == 401
    r = pichr_client.post(
        LOGIN, json={"email": pichr_user["user"]["email"], "password": pichr_user["password"]}
    )
    assert r.status == 403 and r.json["code"] == "account_disabled"


def test_deleted_user_token_refused(pichr_client, pichr_user):
    from pichr_appliance.models import User

    pichr_client.run(User.filter(id=pichr_user["user"]["id"]).delete())
    assert pichr_client.get("/api/v1/auth/me", headers=pichr_user["headers"]).status == 401


def test_login_bad_input(pichr_client):
    for payload, field in [
        ({"email": "a@b.co"}, "password"),
        ({"password": "whatever1"}, "email"),
        ({"email": 12, "password": "whatever1"}, "email"),
        ({"email": "a@b.co", "password": None}, "password"),
    ]:
        r = pichr_client.post(LOGIN, json=payload)
        assert r.status == 400, payload
        assert field in r.json["error"]
    json_type = {"Content-Type": "application/json"}
    assert pichr_client.post(LOGIN, content=b"nope", headers=json_type).status == 400
    assert pichr_client.post(LOGIN, content=b"nope").status == 415  # not labelled JSON


def test_refresh_and_logout_bad_input(pichr_client, pichr_user):
    assert pichr_client.post("/api/v1/auth/refresh", json={}).status == 400
    assert pichr_client.post("/api/v1/auth/logout").status == 401
    r = pichr_client.patch(
        "/api/v1/auth/me", headers=pichr_user["headers"], json={"ageConfirmed": "sure"}
    )
    assert r.status == 400 and "ageConfirmed" in r.json["error"]


def test_login_with_an_over_long_username_is_401(pichr_client):
    # Found by the OpenAPI fuzz test: a username longer than the column (32) made the
    # lookup raise (500) instead of answering like any other unknown account.
    r = pichr_client.post("/api/v1/auth/login", json={"email": "x" * 40, "password": "whatever123"})
    assert r.status == 401 and r.json["code"] == "invalid_credentials"
