"""The first hour of a newcomer (issue 19): commands that say what is wrong instead of
quietly doing the wrong thing, and limits a developer does not trip over."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from pichr_appliance.testing import LiveServer


def cli(*args: str, cwd: Path, stdin: str | None = None, env: dict | None = None):
    """Run ``python -m pichr_appliance ARGS`` in ``cwd`` without a terminal."""
    return subprocess.run(
        [sys.executable, "-m", "pichr_appliance", *args],
        cwd=cwd,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        env={**os.environ, "PICHR_AUTH__ARGON2_TIME_COST": "1",
             "PICHR_AUTH__ARGON2_MEMORY_KIB": "64", **(env or {})},
    )  # fmt: skip


def test_a_command_in_another_folder_refuses_to_make_a_new_data_dir(tmp_path):
    answer = cli("user", "list", cwd=tmp_path)
    assert answer.returncode != 0
    assert "no pichr-appliance data directory at" in answer.stderr
    assert str(tmp_path / "pichr-data") in answer.stderr
    assert "--data-dir" in answer.stderr and "PICHR_DATA_DIR" in answer.stderr
    assert not (tmp_path / "pichr-data").exists()


def test_migrate_makes_the_data_dir_and_then_commands_work(tmp_path):
    assert cli("migrate", cwd=tmp_path).returncode == 0
    listed = cli("user", "list", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr


def test_user_create_without_a_terminal_generates_and_prints_the_password(tmp_path):
    assert cli("migrate", cwd=tmp_path).returncode == 0
    made = cli("user", "create", "--email", "a@example.com", "--username", "ann",
               "--json", cwd=tmp_path)  # fmt: skip
    assert made.returncode == 0, made.stderr
    password = json.loads(made.stdout)["generatedPassword"]
    assert len(password) >= 20
    # The CLI above used the data directory's SQLite file: the server must too, whatever
    # database the suite runs on (PICHR_TEST_DATABASE=postgres).
    data = tmp_path / "pichr-data"
    server = LiveServer(data, env={"PICHR_DATABASE__URL": f"sqlite://{data}/pichr.sqlite3"})
    server.start()
    try:
        login = httpx.post(f"{server.url}/api/v1/auth/login",
                           json={"email": "ann", "password": password})  # fmt: skip
        assert login.status_code == 200
    finally:
        server.stop()


def test_user_create_reads_the_password_from_stdin(tmp_path):
    assert cli("migrate", cwd=tmp_path).returncode == 0
    made = cli("user", "create", "--email", "b@example.com", "--username", "bob",
               "--password-stdin", cwd=tmp_path, stdin="a long enough password\n")  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "shown only now" not in made.stdout
    empty = cli("user", "create", "--email", "c@example.com", "--username", "cat",
                "--password-stdin", cwd=tmp_path, stdin="")  # fmt: skip
    assert empty.returncode != 0 and "held no password" in empty.stderr


def test_sharex_refuses_without_an_address_then_uses_the_running_server(tmp_path):
    assert cli("migrate", cwd=tmp_path).returncode == 0
    assert cli("user", "create", "--email", "d@example.com", "--username", "dan",
               "--password", "a long enough password", cwd=tmp_path).returncode == 0  # fmt: skip
    refused = cli("integrations", "sharex", "--user", "dan", cwd=tmp_path)
    assert refused.returncode != 0
    assert "server.public_url" in refused.stderr and "serve" in refused.stderr
    data = tmp_path / "pichr-data"  # SQLite, as the CLI commands use (see above)
    server = LiveServer(data, env={"PICHR_DATABASE__URL": f"sqlite://{data}/pichr.sqlite3"})
    server.start()
    try:
        made = cli("integrations", "sharex", "--user", "dan", cwd=tmp_path)
        assert made.returncode == 0, made.stderr
        assert json.loads(made.stdout)["RequestURL"] == f"{server.url}/api/v1/upload"
        assert f"serving {server.url}" in server.output()
        assert "no admin account yet" in server.output()
    finally:
        server.stop()
    assert not (tmp_path / "pichr-data" / "serve.json").exists()
    configured = cli("integrations", "sharex", "--user", "dan", "-s",
                     "server.public_url=https://img.example.com", cwd=tmp_path)  # fmt: skip
    assert json.loads(configured.stdout)["RequestURL"] == "https://img.example.com/api/v1/upload"


def test_serve_logs_in_order(tmp_path):
    server = LiveServer(tmp_path / "data").start()
    try:
        log = server.output()
    finally:
        server.stop()
    assert "Tortoise-ORM shutdown" not in log.split("serving")[0]
