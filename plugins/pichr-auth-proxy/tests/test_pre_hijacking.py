"""Account pre-hijacking: a local account named like a proxy user is never adopted."""

import logging

import pytest
from click.testing import CliRunner
from pichr_auth_proxy import ACTIVE_NAME

from pichr_appliance.cli import cli
from pichr_appliance.models import User

ENABLED = {"enabled": True, "groups_admin": ["admins"]}
TRUSTED = {"server": {"trusted_proxies": ["127.0.0.1/32"]}, "plugin": {"auth_proxy": ENABLED}}
ME = "/api/v1/auth/me"


def ceo(email="ceo@corp.example", groups="admins"):
    return {"Remote-User": "ceo", "Remote-Email": email, "Remote-Groups": groups}


@pytest.mark.parametrize("pichr_overrides", [TRUSTED])
def test_a_local_signup_is_not_adopted_by_the_proxy(pichr_client, caplog):
    # The attacker signs up first, with the name the real CEO has at the proxy.
    attacker = pichr_client.signup(username="ceo", email="mallory@evil.example")
    with caplog.at_level(logging.WARNING, logger="pichr_auth_proxy"):
        r = pichr_client.get(ME, headers=ceo())
    assert r.status == 409 and r.json["code"] == "account_not_linked", r.text
    assert any("not linked" in rec.getMessage() for rec in caplog.records)
    # The attacker's account kept its role: the password login has no admin rights.
    row = pichr_client.run(User.get(id=attacker["user"]["id"]))
    assert row.role == "user" and row.external_id is None
    login = {"email": "ceo", "password": attacker["password"]}
    r = pichr_client.post("/api/v1/auth/login", json=login)
    assert r.status == 200 and r.json["user"]["role"] == "user"


@pytest.mark.parametrize("pichr_overrides", [TRUSTED])
def test_an_account_without_password_but_another_email_is_not_adopted(pichr_client):
    pichr_client.run(
        User.create(id="usr_x", email="other@example.com", username="ceo", username_key="ceo")
    )
    r = pichr_client.get(ME, headers=ceo())
    assert r.status == 409 and r.json["code"] == "account_not_linked"
    assert pichr_client.run(User.get(id="usr_x")).role == "user"


@pytest.mark.parametrize("pichr_overrides", [TRUSTED])
def test_accounts_the_proxy_created_are_linked_and_keep_working(pichr_client):
    r = pichr_client.get(ME, headers=ceo())
    assert r.status == 200 and r.json["user"]["role"] == "admin"
    row = pichr_client.run(User.get(username_key="ceo"))
    assert row.external_id == "auth_proxy:ceo"
    # Even after an admin gave it a password, or the proxy reports a new email.
    row.password_hash = pichr_client.run(pichr_client.runtime.passwords.hash("a new password"))
    pichr_client.run(row.save())
    r = pichr_client.get(ME, headers=ceo(email="ceo@new.example"))
    assert r.status == 200 and r.json["user"]["id"] == row.id


@pytest.mark.parametrize("pichr_overrides", [TRUSTED])
def test_an_unlinked_proxy_era_account_with_the_same_email_is_linked(pichr_client):
    # Created by an older version of the plugin: no password, the proxy's email.
    pichr_client.run(
        User.create(id="usr_old", email="ceo@corp.example", username="ceo", username_key="ceo")
    )
    r = pichr_client.get(ME, headers=ceo())
    assert r.status == 200 and r.json["user"]["id"] == "usr_old"
    assert pichr_client.run(User.get(id="usr_old")).external_id == "auth_proxy:ceo"


@pytest.mark.parametrize("pichr_overrides", [TRUSTED])
def test_operators_link_an_existing_account_explicitly(pichr_client):
    from pichr_auth_proxy.linking import link, unlink

    local = pichr_client.signup(username="ceo", email="ceo@corp.example")
    assert pichr_client.get(ME, headers=ceo()).status == 409
    pichr_client.run(link("ceo"))
    r = pichr_client.get(ME, headers=ceo())
    assert r.status == 200 and r.json["user"]["id"] == local["user"]["id"]
    assert r.json["user"]["role"] == "admin"
    pichr_client.run(unlink("ceo"))
    assert pichr_client.get(ME, headers=ceo()).status == 409


def test_the_link_commands(tmp_path, monkeypatch):
    for name in list(__import__("os").environ):
        if name.startswith("PICHR_"):
            monkeypatch.delenv(name)
    base = ["--data-dir", str(tmp_path / "data"), "-s", "auth.argon2_time_cost=1",
            "-s", "auth.argon2_memory_kib=64"]  # fmt: skip

    def invoke(*args):
        return CliRunner().invoke(cli, [*args, *base], catch_exceptions=False)

    assert invoke("migrate").exit_code == 0

    made = invoke("user", "create", "--email", "boss@corp.example", "--username", "boss",
                  "--password", "a long password")  # fmt: skip
    assert made.exit_code == 0, made.output
    result = invoke("auth-proxy", "link", "boss", "--remote-user", "TheBoss")
    assert result.exit_code == 0, result.output
    assert "auth_proxy:theboss" in result.output
    assert invoke("auth-proxy", "link", "nobody").exit_code != 0
    result = invoke("auth-proxy", "unlink", "boss")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("pichr_overrides", [TRUSTED])
def test_startup_warns_when_local_signup_is_on_beside_the_proxy(pichr_client, caplog):
    from pichr_auth_proxy import startup

    pichr_client.runtime.pm.unregister(name=ACTIVE_NAME)
    with caplog.at_level(logging.WARNING, logger="pichr_auth_proxy"):
        startup(pichr_client.runtime)
    assert any("allow_signup" in rec.getMessage() for rec in caplog.records)
