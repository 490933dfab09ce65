"""``/auth/v1`` (the GoTrue subset supabase-js uses) at the HTTP level: shapes, errors,
the anon key, usernames, rotation and scopes. Every answer is also held to its declared
model by the suite's response checker. The real client runs in test_gotrue_js.py."""

from __future__ import annotations

import json
import stat

import jwt
import pytest
from click.testing import CliRunner

from pichr_appliance import hookimpl
from pichr_appliance.cli import cli
from pichr_appliance.config import load_settings
from pichr_appliance.models import User
from pichr_appliance.services import accounts
from pichr_appliance.testing import make_settings

PASSWORD = "correct horse battery"
CLIENT_EXPIRY_MARGIN = 90  # seconds: supabase-js drops a session this long before expiry
TOKEN_KEYS = {
    "access_token", "token_type", "expires_in", "expires_at", "refresh_token", "user",
    "weak_password",
}  # fmt: skip
USER_KEYS = {
    "id", "aud", "role", "email", "phone", "email_confirmed_at", "confirmed_at",
    "last_sign_in_at", "app_metadata", "user_metadata", "identities", "created_at",
    "updated_at", "is_anonymous",
}  # fmt: skip


class GoTrue:
    """Requests as supabase-js makes them: ``apikey`` always, the anon key as Bearer on
    ``/signup`` and ``/token``, the user's token on ``/user`` and ``/logout``."""

    def __init__(self, client):
        self.client = client
        self.key = client.runtime.settings.auth.supabase_anon_key
        self.anon = {
            "apikey": self.key,
            "Authorization": f"Bearer {self.key}",
            "X-Client-Info": "supabase-js-node/2.109.0",
            "X-Supabase-Api-Version": "2024-01-01",
        }

    def as_user(self, token: str) -> dict[str, str]:
        return {**self.anon, "Authorization": f"Bearer {token}"}

    def signup(self, email: str = "ann@example.com", password: str = PASSWORD, **body):
        return self.client.post(
            "/auth/v1/signup",
            headers=self.anon,
            json={"email": email, "password": password, **body},
        )

    def password(self, email: str, password: str = PASSWORD):
        body = {"email": email, "password": password, "gotrue_meta_security": {}}
        return self.client.post("/auth/v1/token?grant_type=password", headers=self.anon, json=body)

    def refresh(self, refresh_token: str):
        return self.client.post(
            "/auth/v1/token?grant_type=refresh_token",
            headers=self.anon,
            json={"refresh_token": refresh_token},
        )

    def user(self, token: str):
        return self.client.get("/auth/v1/user", headers=self.as_user(token))

    def update(self, token: str, **body):
        return self.client.put("/auth/v1/user", headers=self.as_user(token), json=body)

    def logout(self, token: str, scope: str = "global"):
        return self.client.post(f"/auth/v1/logout?scope={scope}", headers=self.as_user(token))


@pytest.fixture
def gotrue(pichr_client):
    return GoTrue(pichr_client)


def assert_error(r, status: int, code: str) -> dict:
    """An error as the client parses it: the code in ``code`` (with the API-version
    header) and ``error_code``, the message in ``msg`` and ``message``."""
    assert r.status == status, r.text
    body = r.json
    assert body["code"] == body["error_code"] == code, body
    assert body["msg"] == body["message"] == body["error"] and body["msg"], body
    assert r.headers["x-supabase-api-version"] == "2024-01-01"
    return body


# --- the anon key -------------------------------------------------------------


def test_anon_key_is_generated_once_privately_and_shown_by_config_show(tmp_path):
    settings = make_settings(tmp_path / "data")
    key_file = tmp_path / "data" / "supabase-anon.key"
    key = settings.auth.supabase_anon_key
    assert len(key) >= 32 and key == key_file.read_text().strip()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert make_settings(tmp_path / "data").auth.supabase_anon_key == key  # kept
    result = CliRunner().invoke(cli, ["config", "show", "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["auth"]["supabase_anon_key"] == key  # not masked
    # Before the first start, config show makes it (to copy into a client).
    fresh = CliRunner().invoke(cli, ["config", "show", "--data-dir", str(tmp_path / "new")])
    shown = json.loads(fresh.output)["auth"]["supabase_anon_key"]
    assert shown == (tmp_path / "new" / "supabase-anon.key").read_text().strip()


def test_anon_key_from_the_environment_wins_and_is_checked(tmp_path):
    env = {"PICHR_AUTH__SUPABASE_ANON_KEY": "my-public-anon-key.v1"}
    settings = load_settings(data_dir=tmp_path / "d", environ=env)
    assert settings.auth.supabase_anon_key == "my-public-anon-key.v1"
    with pytest.raises(Exception, match="auth.supabase_anon_key"):
        load_settings(data_dir=tmp_path / "d", environ={"PICHR_AUTH__SUPABASE_ANON_KEY": "a b"})


def test_apikey_is_required_and_checked_on_every_route(gotrue, pichr_client):
    token = gotrue.signup().json["access_token"]
    calls = [
        ("post", "/auth/v1/signup", {"email": "b@example.com", "password": PASSWORD}),
        ("post", "/auth/v1/token?grant_type=password", {"email": "x@y.zz", "password": "p"}),
        ("get", "/auth/v1/user", None),
        ("put", "/auth/v1/user", {"data": {}}),
        ("post", "/auth/v1/logout?scope=local", None),
    ]
    for method, path, body in calls:
        kw = {"json": body} if body is not None else {}
        bare = {"Authorization": f"Bearer {token}"}
        assert_error(pichr_client.request(method, path, headers=bare, **kw), 401, "no_api_key")
        # A different last character, whatever the generated key ends with.
        wrong = {**bare, "apikey": gotrue.key[:-1] + ("y" if gotrue.key.endswith("x") else "x")}
        assert_error(
            pichr_client.request(method, path, headers=wrong, **kw), 401, "invalid_api_key"
        )
    assert gotrue.user(token).status == 200  # nothing above signed it out


def test_the_bearer_on_signup_and_token_is_not_read(gotrue, pichr_client):
    # supabase-js sends the anon key as a Bearer token there; anything else too.
    headers = {"apikey": gotrue.key, "Authorization": "Bearer not-a-user-token"}
    body = {"email": "c@example.com", "password": PASSWORD}
    assert pichr_client.post("/auth/v1/signup", headers=headers, json=body).status == 200
    r = pichr_client.post("/auth/v1/token?grant_type=password", headers=headers, json=body)
    assert r.status == 200, r.text


# --- signup and the session shape ----------------------------------------------


def test_signup_answers_a_session_the_client_keeps_and_api_v1_accepts(gotrue, pichr_client):
    r = gotrue.signup("Ann.Lee+pics@Example.com", data={"theme": "dark", "first_name": "Ann"})
    assert r.status == 200, r.text
    assert r.headers["x-supabase-api-version"] == "2024-01-01"
    session = r.json
    assert set(session) == TOKEN_KEYS and session["token_type"] == "bearer"
    assert session["weak_password"] is None
    assert session["expires_in"] == 3600 > 10 * CLIENT_EXPIRY_MARGIN
    claims = jwt.decode(session["access_token"], options={"verify_signature": False})
    assert session["expires_at"] == claims["exp"]
    user = session["user"]
    assert set(user) == USER_KEYS
    assert (user["aud"], user["role"], user["phone"], user["is_anonymous"]) == (
        "authenticated", "authenticated", "", False,
    )  # fmt: skip
    assert user["email"] == "ann.lee+pics@example.com" and user["id"].startswith("usr_")
    assert user["app_metadata"] == {
        "provider": "email", "providers": ["email"], "role": "user", "plan": "free",
    }  # fmt: skip
    assert user["user_metadata"] == {
        "theme": "dark", "username": "ann_lee_pics", "first_name": "Ann", "last_name": "",
        "age_confirmed": False,
    }  # fmt: skip
    assert user["email_confirmed_at"] == user["created_at"] and user["last_sign_in_at"]
    [identity] = user["identities"]
    assert identity["provider"] == "email" and identity["user_id"] == user["id"]
    # One account store: the same account and token on /api/v1.
    bearer = {"Authorization": f"Bearer {session['access_token']}"}
    me = pichr_client.get("/api/v1/auth/me", headers=bearer)
    assert me.status == 200, me.text
    assert me.json["user"]["id"] == user["id"] and me.json["user"]["username"] == "ann_lee_pics"
    assert me.json["user"]["firstName"] == "Ann"
    login = pichr_client.post(
        "/api/v1/auth/login", json={"email": "ann_lee_pics", "password": PASSWORD}
    )
    assert login.status == 200 and login.json["user"]["id"] == user["id"]


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("jane.doe@example.com", "jane_doe"),
        ("jo@example.com", "jo_user"),
        ("x@example.com", "x_user"),
        ("__@example.com", "user"),
        ("élodie@example.com", "lodie"),
        ("a-very-long-local-part-that-goes-on@example.com", "a_very_long_local_part_t"),
        ("o'brien+tag@example.com", "o_brien_tag"),
    ],
)
def test_usernames_derived_from_the_email(email, expected):
    assert accounts.username_from_email(email) == expected
    accounts.check_username(expected)


def test_a_taken_username_gets_a_suffix_and_data_username_is_used(gotrue):
    first = gotrue.signup("sam@example.com").json["user"]["user_metadata"]["username"]
    second = gotrue.signup("sam@example.org").json["user"]["user_metadata"]["username"]
    assert first == "sam" and second.startswith("sam_") and len(second) == len("sam_") + 4
    chosen = gotrue.signup("other@example.com", data={"username": "Picked_Name"})
    assert chosen.json["user"]["user_metadata"]["username"] == "Picked_Name"
    taken = gotrue.signup("third@example.com", data={"username": "picked_name"})
    assert_error(taken, 422, "user_already_exists")
    bad = gotrue.signup("fourth@example.com", data={"username": "no spaces"})
    assert_error(bad, 400, "validation_failed")
    assert_error(gotrue.signup("f@example.com", data={"username": 7}), 400, "validation_failed")


def test_signup_errors(gotrue, pichr_client):
    assert gotrue.signup("dup@example.com").status == 200
    assert_error(gotrue.signup("DUP@example.com"), 422, "user_already_exists")
    weak = assert_error(gotrue.signup("w@example.com", password="short"), 422, "weak_password")
    assert weak["weak_password"] == {"reasons": ["length"]}
    assert_error(gotrue.signup("not-an-email"), 400, "validation_failed")
    assert_error(
        gotrue.signup("m@example.com", data=["not", "an", "object"]), 400, "validation_failed"
    )
    big = {"blob": "x" * 20_000}
    assert_error(gotrue.signup("big@example.com", data=big), 400, "validation_failed")
    phone = pichr_client.post(
        "/auth/v1/signup", headers=gotrue.anon, json={"phone": "+1555", "password": PASSWORD}
    )
    assert_error(phone, 422, "phone_provider_disabled")
    raw = pichr_client.post(
        "/auth/v1/signup",
        headers={**gotrue.anon, "Content-Type": "application/json"},
        content=b"{nope",
    )
    assert_error(raw, 400, "bad_json")
    pichr_client.runtime.settings.auth.allow_signup = False
    assert_error(gotrue.signup("late@example.com"), 422, "signup_disabled")


# --- password grant ------------------------------------------------------------------


def test_password_grant_by_email_or_username_and_one_answer_for_wrong_credentials(gotrue):
    gotrue.signup("pat@example.com")
    for login in ("pat@example.com", "PAT@example.com", "pat"):
        r = gotrue.password(login)
        assert r.status == 200 and set(r.json) == TOKEN_KEYS, r.text
    wrong = assert_error(
        gotrue.password("pat@example.com", "wrong horse"), 400, "invalid_credentials"
    )
    absent = assert_error(gotrue.password("nobody@example.com"), 400, "invalid_credentials")
    assert wrong["msg"] == absent["msg"] == "Invalid login credentials"
    body = {"phone": "+1555", "password": PASSWORD}
    r = gotrue.client.post("/auth/v1/token?grant_type=password", headers=gotrue.anon, json=body)
    assert_error(r, 400, "validation_failed")


def test_unknown_grant_type(gotrue):
    for query in ("?grant_type=pkce", "?grant_type=", ""):
        r = gotrue.client.post(f"/auth/v1/token{query}", headers=gotrue.anon, json={})
        assert_error(r, 400, "validation_failed")


def test_disabled_accounts_are_banned_on_every_route(gotrue, pichr_client):
    session = gotrue.signup("dis@example.com").json

    async def disable():
        await accounts.set_disabled(await User.get(id=session["user"]["id"]), True)

    pichr_client.run(disable())
    assert_error(gotrue.password("dis@example.com"), 403, "user_banned")
    # Disabling revoked the sessions: the refresh token is dead, the access token's
    # session is gone.
    assert_error(gotrue.refresh(session["refresh_token"]), 400, "session_expired")
    assert_error(gotrue.user(session["access_token"]), 403, "session_not_found")


@pytest.mark.parametrize(
    "pichr_overrides", [{"rate_limits": {"login_per_ip_per_hour": 2, "signup_per_ip_per_hour": 2}}]
)
def test_rate_limits_apply_as_on_api_v1(gotrue):
    assert gotrue.signup("r1@example.com").status == 200
    assert gotrue.signup("r2@example.com").status == 200
    limited = assert_error(gotrue.signup("r3@example.com"), 429, "over_request_rate_limit")
    assert limited["remaining"] == 0 and limited["retryAfter"] > 0
    for _ in range(2):
        gotrue.password("r1@example.com", "wrong horse")
    r = gotrue.password("r1@example.com")
    assert_error(r, 429, "over_request_rate_limit")
    assert int(r.headers["retry-after"]) > 0


# --- refresh rotation -------------------------------------------------------------------


def test_refresh_rotates_and_reuse_revokes_the_session(gotrue, pichr_client):
    first = gotrue.signup("rot@example.com").json
    second = gotrue.refresh(first["refresh_token"])
    assert second.status == 200 and set(second.json) == TOKEN_KEYS, second.text
    second = second.json
    assert second["refresh_token"] != first["refresh_token"]
    assert second["user"]["id"] == first["user"]["id"]
    assert gotrue.user(second["access_token"]).status == 200
    # The old token again: someone has a copy. The whole session ends.
    assert_error(gotrue.refresh(first["refresh_token"]), 400, "refresh_token_already_used")
    assert_error(gotrue.refresh(second["refresh_token"]), 400, "session_expired")
    assert_error(gotrue.user(second["access_token"]), 403, "session_not_found")
    v1 = pichr_client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {second['access_token']}"}
    )
    assert v1.status == 401
    assert_error(gotrue.refresh("never-issued"), 400, "refresh_token_not_found")
    assert_error(
        gotrue.client.post("/auth/v1/token?grant_type=refresh_token", headers=gotrue.anon, json={}),
        400,
        "validation_failed",
    )


def test_a_token_from_api_v1_refreshes_here_and_the_other_way(gotrue, pichr_client):
    v1 = pichr_client.signup()
    here = gotrue.refresh(v1["session"]["refresh_token"])
    assert here.status == 200 and here.json["user"]["id"] == v1["user"]["id"]
    back = pichr_client.post(
        "/api/v1/auth/refresh", json={"refresh_token": here.json["refresh_token"]}
    )
    assert back.status == 200, back.text


# --- /user ---------------------------------------------------------------------------------


def test_get_user_errors(gotrue, pichr_client):
    no_token = pichr_client.get("/auth/v1/user", headers={"apikey": gotrue.key})
    assert_error(no_token, 401, "no_authorization")
    assert_error(gotrue.user("garbage"), 403, "bad_jwt")
    forged = jwt.encode(
        {"sub": "usr_x", "sid": "ses_x", "exp": 9999999999, "typ": "access"}, "k" * 32
    )
    assert_error(gotrue.user(forged), 403, "bad_jwt")
    # An API key (pk_) identifies its account here as on /api/v1/auth/me.
    v1 = pichr_client.signup()
    key = pichr_client.post(
        "/api/v1/api-keys", headers=v1["headers"], json={"name": "k", "permissions": ["read"]}
    ).json["key"]
    r = gotrue.user(key)
    assert r.status == 200 and r.json["id"] == v1["user"]["id"]
    assert_error(gotrue.update(key, data={"a": 1}), 403, "session_required")


def test_update_user_metadata_merges_and_profile_keys_change_the_account(gotrue, pichr_client):
    session = gotrue.signup("meta@example.com", data={"a": 1, "b": 2}).json
    token = session["access_token"]
    r = gotrue.update(
        token, data={"b": None, "c": {"nested": True}, "username": "Meta_Man", "last_name": "Man"}
    )
    assert r.status == 200, r.text
    assert set(r.json) == USER_KEYS
    assert r.json["user_metadata"] == {
        "a": 1, "c": {"nested": True}, "username": "Meta_Man", "first_name": "",
        "last_name": "Man", "age_confirmed": False,
    }  # fmt: skip
    assert gotrue.user(token).json["user_metadata"] == r.json["user_metadata"]
    me = pichr_client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).json
    assert me["user"]["username"] == "Meta_Man" and me["user"]["lastName"] == "Man"
    stored = pichr_client.run(User.get(id=session["user"]["id"]))
    assert stored.user_metadata == {"a": 1, "c": {"nested": True}}  # the rest are fields
    assert_error(gotrue.update(token, data={"age_confirmed": "yes"}), 400, "validation_failed")
    other = gotrue.signup("other@example.com").json["access_token"]
    assert_error(gotrue.update(other, data={"username": "meta_man"}), 422, "user_already_exists")


def test_email_and_password_changes_need_the_current_password(gotrue):
    first = gotrue.signup("old@example.com").json
    other = gotrue.password("old@example.com").json  # a second session
    token = first["access_token"]
    assert_error(gotrue.update(token, email="new@example.com"), 400, "reauthentication_needed")
    assert_error(gotrue.update(token, password="a new password"), 400, "reauthentication_needed")
    assert_error(
        gotrue.update(token, password="a new password", current_password="wrong horse"),
        400,
        "invalid_credentials",
    )
    weak = gotrue.update(token, password="short", current_password=PASSWORD)
    assert_error(weak, 422, "weak_password")
    gotrue.signup("taken@example.com")
    taken = gotrue.update(token, email="taken@example.com", current_password=PASSWORD)
    assert_error(taken, 422, "email_exists")
    r = gotrue.update(
        token, email="New@Example.com", password="a new password", current_password=PASSWORD
    )
    assert r.status == 200 and r.json["email"] == "new@example.com", r.text
    assert gotrue.user(token).status == 200  # the session that changed it stays
    assert_error(gotrue.user(other["access_token"]), 403, "session_not_found")
    assert gotrue.password("new@example.com", "a new password").status == 200
    assert_error(gotrue.password("old@example.com", PASSWORD), 400, "invalid_credentials")
    assert_error(gotrue.update(token, phone="+1555"), 422, "phone_provider_disabled")


class HeaderSignIn:
    """A sign-in plugin: ``X-Test-User: <username>`` names the caller."""

    @hookimpl
    async def actor_from_request(self, runtime, request):
        name = request.headers.get("x-test-user")
        return await User.get(username=name) if name else None


@pytest.mark.parametrize("pichr_plugins", [[HeaderSignIn()]])
def test_plugin_sign_in_applies_to_the_user_routes_as_on_api_v1(gotrue, pichr_client):
    session = gotrue.signup("plug@example.com").json
    headers = {"apikey": gotrue.key, "X-Test-User": "plug"}
    r = pichr_client.get("/auth/v1/user", headers=headers)
    assert r.status == 200 and r.json["id"] == session["user"]["id"], r.text
    # The plugin answers before the Bearer header is read, as on /api/v1.
    r = pichr_client.get("/auth/v1/user", headers={**headers, "Authorization": "Bearer junk"})
    assert r.status == 200, r.text
    r = pichr_client.put("/auth/v1/user", headers=headers, json={"data": {"via": "plugin"}})
    assert r.status == 200 and r.json["user_metadata"]["via"] == "plugin", r.text


# --- logout -------------------------------------------------------------------------------


def test_logout_scopes(gotrue):
    gotrue.signup("out@example.com")
    a, b, c = (gotrue.password("out@example.com").json["access_token"] for _ in range(3))
    assert gotrue.logout(a, "others").status == 204
    assert gotrue.user(a).status == 200
    assert_error(gotrue.user(b), 403, "session_not_found")
    d = gotrue.password("out@example.com").json["access_token"]
    assert gotrue.logout(d, "local").status == 204
    assert_error(gotrue.user(d), 403, "session_not_found")
    assert gotrue.user(a).status == 200
    e = gotrue.password("out@example.com").json["access_token"]
    assert gotrue.logout(e, "global").status == 204
    for token in (a, c, e):
        assert_error(gotrue.user(token), 403, "session_not_found")
    f = gotrue.password("out@example.com").json["access_token"]
    assert_error(gotrue.logout(f, "everything"), 400, "validation_failed")
    assert gotrue.user(f).status == 200
    # Signing out again with an ended session: the client ignores 403s here.
    assert_error(gotrue.logout(a), 403, "session_not_found")


# --- the rest of the dialect --------------------------------------------------------------------


def test_unknown_paths_and_methods_answer_in_the_dialect(gotrue, pichr_client):
    assert_error(pichr_client.get("/auth/v1/settings", headers=gotrue.anon), 404, "not_found")
    r = pichr_client.delete("/auth/v1/user", headers=gotrue.anon)
    assert r.status == 405 and r.json["error_code"] == "method_not_allowed"


@pytest.mark.parametrize("pichr_overrides", [{"server": {"cors_origins": ["http://app.example"]}}])
def test_cors_on_the_wire(gotrue, pichr_client):
    asked = "apikey,authorization,content-type,x-client-info,x-supabase-api-version"
    pre = pichr_client.options(
        "/auth/v1/token?grant_type=password",
        headers={
            "Origin": "http://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": asked,
        },
    )
    assert pre.status == 204, pre.text
    allowed = pre.headers["access-control-allow-headers"].split(", ")
    assert allowed == asked.split(",")
    real = pichr_client.post(
        "/auth/v1/token?grant_type=password",
        headers={**gotrue.anon, "Origin": "http://app.example"},
        json={"email": "wrong@example.com", "password": "x" * 8},
    )
    assert real.headers["access-control-allow-origin"] == "http://app.example"
    assert "X-Supabase-Api-Version" in real.headers["access-control-expose-headers"]
