"""What serve, backup and doctor leave on disk is readable by the service user only."""

import json
import os
import stat
import subprocess
import sys

import httpx
import pytest

from pichr_appliance.testing import LiveServer, sample_image_bytes


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def cli(data, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PICHR_")}
    cmd = [sys.executable, "-m", "pichr_appliance", *args, "--data-dir", str(data)]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_serve_backup_and_doctor_keep_the_data_private(tmp_path):
    old = os.umask(0o022)  # the usual umask: what a service inherits on most systems
    try:
        data = tmp_path / "data"
        # SQLite even in the PostgreSQL run: the files under test are the SQLite
        # database's, and backup/doctor below read this data directory's database.
        sqlite = {"PICHR_DATABASE__URL": "sqlite://" + str(data.resolve() / "pichr.sqlite3")}
        server = LiveServer(data, env=sqlite).start()
        try:
            base = server.url + "/api/v1"
            body = {"email": "p@example.com", "username": "perm", "password": "a long password"}
            r = httpx.post(base + "/auth/signup", json=body)
            assert r.status_code == 201, r.text
            auth = {"Authorization": "Bearer " + r.json()["session"]["access_token"]}
            png = sample_image_bytes("PNG")
            r = httpx.post(base + "/upload?filename=a.png", headers=auth, content=png)
            assert r.status_code in (200, 201), r.text
        finally:
            server.stop()
        assert mode(data) == 0o700
        private = [p for p in data.rglob("*") if p.is_file()]
        names = {p.name for p in private}
        assert {"pichr.sqlite3", "secret.key", "ratelimit.sqlite3"} <= names, names
        assert any("storage" in p.parts for p in private)  # the stored image
        loose = {str(p.relative_to(data)): oct(mode(p)) for p in private if mode(p) & 0o077}
        assert not loose, loose
        dirs = {str(p.relative_to(data)): oct(mode(p)) for p in data.rglob("*") if p.is_dir()}
        assert not {d: m for d, m in dirs.items() if int(m, 8) & 0o077}, dirs

        archive = tmp_path / "backup.tar.gz"
        done = cli(data, "backup", str(archive))
        assert done.returncode == 0, done.stderr
        assert mode(archive) == 0o600

        report = cli(data, "doctor", "--json")
        checks = json.loads(report.stdout)["checks"]
        mine = [c for c in checks if c["name"] == "data directory"]
        assert mine and all(c["status"] == "ok" for c in mine), mine
    finally:
        os.umask(old)
