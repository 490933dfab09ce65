"""pichr-auth-proxy through the real app: the test client's socket peer is 127.0.0.1."""

import pytest
from pichr_auth_proxy import ACTIVE_NAME, auth_proxy_config

from pichr_appliance import hookimpl
from pichr_appliance.config import ConfigError
from pichr_appliance.models import AuditEntry, User
from pichr_appliance.services import accounts
from pichr_appliance.testing import make_settings

ENABLED = {
    "enabled": True,
    "groups_admin": ["admins"],
    "groups_moderator": ["mods", "helpers"],
}
TRUSTED = {"server": {"trusted_proxies": ["127.0.0.1/32"]}, "plugin": {"auth_proxy": ENABLED}}
UNTRUSTED = {"server": {"trusted_proxies": []}, "plugin": {"auth_proxy": ENABLED}}
ELSEWHERE = {"server": {"trusted_proxies": ["10.0.0.0/8"]}, "plugin": {"auth_proxy": ENABLED}}


class Signups:
    """Records user_created events."""

    def __init__(self):
        self.names = []

    @hookimpl
    def user_created(self, runtime, user):
        self.names.append(user.username)


def me(client, **headers):
    return client.get("/api/v1/auth/me", headers=headers)


def proxied(user="alice", email="alice@example.com", groups=None):
    h = {"Remote-User": user, "Remote-Email": email}
    if groups is not None:
        h["Remote-Groups"] = groups
    return h


@pytest.mark.parametrize("pichr_overrides", [TRUSTED])
@pytest.mark.parametrize("pichr_plugins", [[Signups()]])
def test_trusted_proxy_signs_in_creates_and_maps_roles(pichr_client, pichr_plugins):
    signups = pichr_plugins[0]
    r = pichr_client.get("/api/v1/auth/me", headers=proxied(groups="staff, mods"))
    assert r.status == 200, r.text
    user = r.json["user"]
    assert (user["username"], user["email"], user["role"]) == (
        "alice",
        "alice@example.com",
        "moderator",
    )
    assert signups.names == ["alice"]
    # Moderator routes open, admin routes not.
    mod = proxied(groups="mods")
    assert pichr_client.get("/api/v1/moderation/queue", headers=mod).status == 200
    assert pichr_client.get("/api/v1/admin/users", headers=mod).status == 403
    # The proxy's groups change: the role follows on the next request, audited.
    r = pichr_client.get("/api/v1/admin/users", headers=proxied(groups="admins,mods"))
    assert r.status == 200
    assert me(pichr_client, **proxied(groups="")).json["user"]["role"] == "user"
    assert signups.names == ["alice"]  # created once
    changes = pichr_client.run(
        AuditEntry.filter(action="set_role", actor_label="auth-proxy").values_list(
            "data", flat=True
        )
    )
    assert [(c["from"], c["to"]) for c in changes] == [("moderator", "admin"), ("admin", "user")]
    # The account has no password: it cannot sign in around the proxy.
    r = pichr_client.post(
        "/api/v1/auth/login", json={"login": "alice", "password": "anything at all"}
    )
    assert r.status in (400, 401) and "session" not in (r.json or {})
    # Uploads are the user's own.
    f = pichr_client.upload({"headers": proxied(groups="")})
    assert f["ownerId"] == user["id"]


@pytest.mark.parametrize("pichr_overrides", [TRUSTED])
def test_cross_site_pages_cannot_ride_on_the_proxy_login(pichr_client):
    # The browser sends the proxy's session cookie with a forged cross-site request,
    # and the proxy adds the identity headers: the core must refuse it (403).
    for forged in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        r = pichr_client.post(
            "/api/v1/albums", json={"title": "forged"}, headers={**proxied(), **forged}
        )
        assert r.status == 403 and r.json["code"] == "cross_site_request", r.text
    # A form-encoded body is not JSON, whatever it holds.
    r = pichr_client.post(
        "/api/v1/albums",
        content=b'{"title": "forged"}',
        headers={**proxied(), "Content-Type": "text/plain"},
    )
    assert r.status == 415
    # Same-site pages and header-less clients (curl, scripts) keep working.
    own = pichr_client.runtime.settings.public_url
    for fine in ({}, {"Origin": own}, {"Sec-Fetch-Site": "same-origin"}):
        r = pichr_client.post(
            "/api/v1/albums", json={"title": "mine"}, headers={**proxied(), **fine}
        )
        assert r.status == 201, (fine, r.text)


@pytest.mark.parametrize("pichr_overrides", [TRUSTED])
def test_disabled_accounts_are_refused(pichr_client):
    assert me(pichr_client, **proxied()).status == 200
    user = pichr_client.run(User.get(username="alice"))
    pichr_client.run(accounts.set_disabled(user, True))
    r = me(pichr_client, **proxied())
    assert r.status == 403 and r.json["code"] == "account_disabled"


@pytest.mark.parametrize("pichr_overrides", [TRUSTED])
def test_without_headers_other_credentials_still_work(pichr_client, pichr_user):
    r = me(pichr_client, **pichr_user["headers"])
    assert r.status == 200 and r.json["user"]["id"] == pichr_user["user"]["id"]
    assert me(pichr_client).status == 401


@pytest.mark.parametrize(
    "pichr_overrides",
    [
        TRUSTED | {"plugin": {"auth_proxy": {"enabled": True, "user_header": "X-Auth-User"}}},
    ],
)
def test_header_names_are_configurable_and_roles_optional(pichr_client):
    assert me(pichr_client, **{"Remote-User": "bob"}).status == 401  # not the header now
    r = me(pichr_client, **{"X-Auth-User": "bob", "Remote-Groups": "admins"})
    assert r.status == 200
    # No group mapping configured: the proxy does not manage roles, email is made up.
    assert r.json["user"]["role"] == "user"
    assert r.json["user"]["email"] == "bob@users.invalid"


@pytest.mark.parametrize("pichr_overrides", [UNTRUSTED, ELSEWHERE])
def test_untrusted_peer_headers_are_ignored(pichr_client, pichr_user):
    spoof = {
        **proxied(groups="admins"),
        "X-Forwarded-For": "10.1.2.3",
        "Forwarded": "for=10.1.2.3",
    }
    assert me(pichr_client, **spoof).status == 401  # anonymous
    assert pichr_client.run(User.filter(username="alice").exists()) is False
    # Headers next to a real token change nothing either.
    r = me(pichr_client, **spoof, **pichr_user["headers"])
    assert r.status == 200 and r.json["user"]["username"] == pichr_user["user"]["username"]
    assert r.json["user"]["role"] == "user"


@pytest.mark.parametrize("pichr_overrides", [TRUSTED])
def test_spoofing_attempts_through_the_proxy(pichr_client, pichr_user):
    # A client's own Remote-User that the proxy appended to instead of replacing.
    r = pichr_client.get(
        "/api/v1/auth/me", headers=[("Remote-User", "mallory"), ("Remote-User", "alice")]
    )
    assert r.status == 401 and r.json["code"] == "invalid_remote_user"
    # Underscore twins of the header are other headers, not Remote-User.
    assert me(pichr_client, **{"Remote_User": "alice"}).status == 401
    assert pichr_client.run(User.filter(username="alice").exists()) is False
    # Names that are not usernames are refused, not mangled into someone else's.
    for bad in ("alice smith", "../admin", "al", "x" * 40, "al\u00efce".encode("latin-1")):
        r = me(pichr_client, **{"Remote-User": bad})
        assert r.status == 401 and r.json["code"] == "invalid_remote_user", bad
    # Naming an existing local account (it has a password) does not sign in as it: the
    # proxy follows only links it made or an operator made (test_pre_hijacking.py).
    r = me(pichr_client, **{"Remote-User": pichr_user["user"]["username"].upper()})
    assert r.status == 409 and r.json["code"] == "account_not_linked"


@pytest.mark.parametrize("pichr_overrides", [TRUSTED])
def test_email_taken_by_another_account_is_a_conflict(pichr_client, pichr_user):
    r = me(pichr_client, **proxied(user="carol", email=pichr_user["user"]["email"]))
    assert r.status == 409 and r.json["code"] == "account_conflict"


@pytest.mark.parametrize(
    "pichr_overrides",
    [{"server": {"trusted_proxies": ["127.0.0.1/32"]}}],
)
def test_inert_until_enabled(pichr_client):
    assert not pichr_client.runtime.pm.has_plugin(ACTIVE_NAME)
    # Only the built-in Bearer authentication answers actor_from_request.
    impls = pichr_client.runtime.pm.hook.actor_from_request.get_hookimpls()
    assert [i.plugin_name for i in impls] == ["pichr_appliance.defaults.auth"]
    assert me(pichr_client, **proxied()).status == 401


@pytest.mark.parametrize(
    "section, key",
    [
        ({"enabled": 1}, "plugin.auth_proxy.enabled"),
        ({"user_header": ""}, "plugin.auth_proxy.user_header"),
        ({"groups_admin": [1]}, "plugin.auth_proxy.groups_admin"),
        ({"group_admins": ["x"]}, "group_admins"),
    ],
)
def test_bad_settings_name_the_key(tmp_path, section, key):
    with pytest.raises(ConfigError, match=key):
        auth_proxy_config(make_settings(tmp_path / "d", {"plugin": {"auth_proxy": section}}))
