"""A real ``pichr-appliance serve`` process: the guide's first steps, CLI beside it, SIGTERM."""

import os
import subprocess
import sys

import httpx
import pytest

from pichr_appliance.testing import LiveServer

pytestmark = pytest.mark.slow


def cli(data_dir, *args, server=None):
    env = {
        **os.environ,
        "PICHR_AUTH__ARGON2_TIME_COST": "1",
        "PICHR_AUTH__ARGON2_MEMORY_KIB": "64",
        "PICHR_AUTH__ARGON2_PARALLELISM": "1",
    }
    if server is not None and "PICHR_DATABASE__URL" in server.env:
        # The server runs on a throwaway database (PICHR_TEST_DATABASE): use it too.
        env["PICHR_DATABASE__URL"] = server.env["PICHR_DATABASE__URL"]
    return subprocess.run(
        [sys.executable, "-m", "pichr_appliance", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_guide_flow_and_graceful_shutdown(tmp_path, workers):
    data = tmp_path / "data"
    server = LiveServer(data, args=["--workers", str(workers)]).start()
    try:
        api = server.url + "/api/v1"
        health = httpx.get(server.url + "/health").json()
        assert health["status"] == "ok"
        # Step 1 of the guide, as written.
        r = httpx.post(
            f"{api}/auth/signup",
            json={
                "email": "your@email.com",
                "password": "your-secure-password",
                "username": "your_username",
                "firstName": "Your",
                "lastName": "Name",
                "ageConfirmed": True,
            },
        )
        assert r.status_code == 201, r.text
        # Step 2.
        r = httpx.post(
            f"{api}/auth/login",
            json={"email": "your@email.com", "password": "your-secure-password"},
        )
        token = r.json()["session"]["access_token"]
        # Every request may land on another worker: each sees the database.
        for _ in range(6):
            me = httpx.get(f"{api}/auth/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 200 and me.json()["user"]["username"] == "your_username"
        # The CLI works on the same data directory while the server runs.
        out = cli(
            data,
            "user",
            "create",
            "--email",
            "ops@example.com",
            "--username",
            "ops",
            "--password",
            "operator-pass",
            "--role",
            "admin",
            server=server,
        )
        assert out.returncode == 0, out.stderr
        r = httpx.post(f"{api}/auth/login", json={"email": "ops", "password": "operator-pass"})
        assert r.status_code == 200 and r.json()["user"]["role"] == "admin"
        out = cli(data, "user", "disable", "your_username", server=server)
        assert out.returncode == 0, out.stderr
        me = httpx.get(f"{api}/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 401
    finally:
        code = server.stop()
    assert code == 0, server.output()
    log = server.output()
    assert f"serving http://127.0.0.1:{server.port}" in log
    assert "Traceback" not in log


def test_serve_refuses_bad_config_in_one_line(tmp_path):
    out = cli(tmp_path / "d", "serve", "-s", "storage.backend=nowhere")
    assert out.returncode == 1
    assert "storage.backend" in out.stderr and "available: local" in out.stderr
    assert "Traceback" not in out.stderr
