"""The admin command line, through click's runner (same process, real database)."""

import json

import pytest
from click.testing import CliRunner

from pichr_appliance.cli import cli

FAST = [
    "-s",
    "auth.argon2_time_cost=1",
    "-s",
    "auth.argon2_memory_kib=64",
    "-s",
    "auth.argon2_parallelism=1",
]


@pytest.fixture
def run(tmp_path, monkeypatch):
    for name in list(__import__("os").environ):
        if name.startswith("PICHR_"):
            monkeypatch.delenv(name)
    data = str(tmp_path / "data")

    def invoke(*args, input=None):
        result = CliRunner().invoke(
            cli, [*args, "--data-dir", data, *FAST], input=input, catch_exceptions=False
        )
        return result

    assert invoke("migrate").exit_code == 0  # commands other than serve/migrate need one
    return invoke


def test_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and "0.1.0" in result.output


def test_user_lifecycle(run):
    r = run(
        "user",
        "create",
        "--email",
        "Admin@Example.com",
        "--username",
        "boss",
        "--password",
        "long-password",
        "--role",
        "admin",
        "--plan",
        "pro",
        "--json",
    )
    assert r.exit_code == 0, r.output
    created = json.loads(r.output)
    assert created["role"] == "admin" and created["plan"] == "pro"
    assert created["email"] == "admin@example.com"

    r = run(
        "user",
        "create",
        "--email",
        "admin@example.com",
        "--username",
        "other",
        "--password",
        "long-password",
    )
    assert r.exit_code == 1 and "already exists" in r.output and "Traceback" not in r.output

    r = run(
        "user",
        "create",
        "--email",
        "p@example.com",
        "--username",
        "prompted",
        input="prompted-pass\nprompted-pass\n",
    )
    assert r.exit_code == 0, r.output

    r = run("user", "list", "--json")
    users = json.loads(r.output)["users"]
    assert [u["username"] for u in users] == ["boss", "prompted"]
    assert "boss" in run("user", "list").output

    assert run("user", "set-role", "prompted", "moderator").exit_code == 0
    assert run("user", "set-plan", "prompted", "enterprise").exit_code == 0
    r = run("user", "set-plan", "prompted", "platinum")
    assert r.exit_code == 1 and "plan" in r.output
    r = run("user", "set-role", "prompted", "king")
    assert r.exit_code == 2
    assert run("user", "disable", "prompted").exit_code == 0
    users = {u["username"]: u for u in json.loads(run("user", "list", "--json").output)["users"]}
    assert users["prompted"]["role"] == "moderator"
    assert users["prompted"]["plan"] == "enterprise"
    assert users["prompted"]["disabled"] is True
    assert run("user", "enable", "p@example.com").exit_code == 0
    r = run("user", "reset-password", "prompted", "--password", "another-pass")
    assert r.exit_code == 0, r.output
    r = run("user", "reset-password", "prompted", "--password", "short")
    assert r.exit_code == 1 and "password" in r.output
    assert run("user", "delete", "prompted", "--yes").exit_code == 0
    r = run("user", "delete", "prompted", "--yes")
    assert r.exit_code == 1 and "not found" in r.output
    users = json.loads(run("user", "list", "--json").output)["users"]
    assert [u["username"] for u in users] == ["boss"]


def test_config_show_masks_secrets(run, tmp_path):
    cfg = tmp_path / "c.toml"
    secret = "super-secret-value-of-at-least-32-bytes"
    cfg.write_text(f'[auth]\nsecret = "{secret}"\n[server]\nport = 9999\n')
    r = run("config", "show", "--config", str(cfg))
    assert r.exit_code == 0
    shown = json.loads(r.output)
    assert shown["auth"]["secret"] == "***" and shown["server"]["port"] == 9999
    assert "super-secret-value" not in r.output


def test_invalid_config_is_one_line(run):
    r = run("config", "show", "-s", "server.port=notaport")
    assert r.exit_code == 1
    assert "server.port" in r.output and "Traceback" not in r.output


def test_migrate(run, tmp_path):
    r = run("migrate")
    assert r.exit_code == 0 and "migrations applied" in r.output
    assert (tmp_path / "data" / "pichr.sqlite3").exists()
    assert (tmp_path / "data" / "secret.key").exists()


def test_long_account_names_are_not_found_not_a_crash(run):
    # Found by the OpenAPI fuzz test: an id lookup longer than the column raised
    # Tortoise's ValidationError; an email is often longer than an id.
    r = run("user", "disable", "someone.with.a.rather.long.address@example-company.com")
    assert r.exit_code == 1 and "not found" in r.output
    r = run("user", "disable", "u" * 60)
    assert r.exit_code == 1 and "not found" in r.output


def test_cli_modules_import_only_common():
    """No import loop: command modules share cli/common.py, which imports none of them;
    only cli/__init__.py assembles the groups."""
    import ast
    from pathlib import Path

    import pichr_appliance.cli as package

    folder = Path(package.__file__).parent
    for path in folder.glob("*.py"):
        if path.name == "__init__.py":
            continue
        siblings = {
            node.module
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ImportFrom) and node.level == 1
        }
        allowed = set() if path.name == "common.py" else {"common"}
        assert siblings <= allowed, f"{path.name} imports {siblings - allowed}"
