"""``pichr-appliance db migrate-to``: a SQLite installation copied into PostgreSQL."""

import asyncio
import os
import subprocess
import sys

import pytest
from pichr_postgres.testing import fetch
from sanic_testing.reusable import ReusableClient

from pichr_appliance.app import create_app
from pichr_appliance.models import AuditEntry
from pichr_appliance.services import audit
from pichr_appliance.testing import ApiClient, free_port, make_settings, migrate, sample_image_bytes

PASSWORD = "correct horse battery"


def cli(*args, data_dir):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PICHR_")}
    return subprocess.run(
        [sys.executable, "-m", "pichr_appliance", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.fixture
def sqlite_installation(tmp_path):
    """A data directory whose SQLite database has a row in every table."""
    data = tmp_path / "data"
    url = f"sqlite://{data / 'pichr.sqlite3'}"
    settings = make_settings(data, {"database": {"url": url}})
    migrate(settings)
    app = create_app(settings, name="sqlite_source")
    with ReusableClient(app, host="127.0.0.1", port=free_port()) as raw:
        c = ApiClient(raw, app)
        alice, bob = c.signup("alice"), c.signup("bob")
        h = alice["headers"]
        first = c.upload(alice, tags=["sea"])
        jpeg = sample_image_bytes("JPEG", size=(90, 60))
        second = c.upload(
            alice, data=jpeg, filename="b.jpg", mime="image/jpeg", visibility="private"
        )
        album_body = {"title": "Trip", "fileIds": [first["id"], second["id"]]}
        album = c.post("/api/v1/albums", headers=h, json=album_body).json
        key_body = {"name": "k", "permissions": ["read"]}
        assert c.post("/api/v1/api-keys", headers=h, json=key_body).status == 201
        body = {
            "filename": "p.png",
            "mime": "image/png",
            "totalBytes": 6_000_000,
            "partSize": 5_242_880,
        }
        init = c.post("/api/v1/upload/multipart/init", headers=h, json=body).json
        part = f"/api/v1/upload/multipart/{init['uploadId']}/parts/2"
        assert c.put(part, headers=h, content=b"x" * 757_120).status == 200
        report = {"fileId": first["id"], "reason": "spam"}
        assert (
            c.post("/api/v1/moderation/report", headers=bob["headers"], json=report).status == 201
        )
        c.run(audit.record(audit.Operator.cli("ops"), "user.create", "user", "x"))
        c.run(audit.record(audit.Operator.cli("ops"), "user.update", "user", "x"))
    return {"data": data, "album": album, "first": first, "second": second, "jpeg": jpeg}


def test_migrate_to_copies_verifies_and_the_appliance_runs_on_it(
    sqlite_installation, fresh_database, tmp_path
):
    data = sqlite_installation["data"]
    out = cli("db", "migrate-to", fresh_database, data_dir=data)
    assert out.returncode == 0, out.stdout + out.stderr
    counts = {
        line.split()[0]: line.split()[1:]
        for line in out.stdout.splitlines()
        if line.endswith(" ok")
    }
    assert counts["users"] == ["2", "2", "ok"]
    assert counts["files"] == ["3", "3", "ok"]  # two ready, one pending multipart
    assert counts["album_files"] == ["2", "2", "ok"] and counts["upload_parts"] == ["1", "1", "ok"]
    assert counts["audit_log"] == ["2", "2", "ok"]
    assert set(counts) >= {"sessions", "refresh_tokens", "api_keys", "uploads", "reports"}
    assert "copying" in out.stdout  # the progress bar
    tables = [line.split()[0] for line in out.stdout.splitlines() if line.endswith(" ok")]
    assert tables.index("users") < tables.index("files") < tables.index("album_files")

    # The same installation, now on PostgreSQL (same storage folder).
    settings = make_settings(data, {"database": {"url": fresh_database}})
    app = create_app(settings, name="pg_after_copy")
    with ReusableClient(app, host="127.0.0.1", port=free_port()) as raw:
        c = ApiClient(raw, app)
        r = c.post("/api/v1/auth/login", json={"email": "alice", "password": PASSWORD})
        assert r.status == 200, r.text
        h = {"Authorization": f"Bearer {r.json['session']['access_token']}"}
        files = c.get("/api/v1/files", headers=h).json
        assert files["total"] == 2
        assert {f["id"] for f in files["files"]} == {
            sqlite_installation["first"]["id"],
            sqlite_installation["second"]["id"],
        }
        second = sqlite_installation["second"]
        assert c.get(f"/i/{second['id']}", headers=h).content == sqlite_installation["jpeg"]
        listed = c.get("/api/v1/files?tag=sea", headers=h).json
        assert [f["id"] for f in listed["files"]] == [sqlite_installation["first"]["id"]]
        album = c.get(f"/api/v1/albums/{sqlite_installation['album']['id']}", headers=h).json
        assert [f["id"] for f in album["files"]] == [
            sqlite_installation["first"]["id"],
            second["id"],
        ]
        # Generated ids continue after the copied ones (sequences were moved).
        third = c.upload({"headers": h})
        r = c.post(
            f"/api/v1/albums/{album['id']}/files", headers=h, json={"fileIds": [third["id"]]}
        )
        assert r.status in (200, 201), r.text
        entry = c.run(audit.record(audit.Operator.cli("ops"), "after.copy"))
        assert entry.id == 3
        assert c.run(AuditEntry.all().count()) == 3
    ids = asyncio.run(fetch(fresh_database, "SELECT id FROM album_files ORDER BY id"))
    assert [r["id"] for r in ids] == [1, 2, 3]


def test_migrate_to_refuses_a_non_empty_target_unless_forced(sqlite_installation, fresh_database):
    data = sqlite_installation["data"]
    assert cli("db", "migrate-to", fresh_database, data_dir=data).returncode == 0
    again = cli("db", "migrate-to", fresh_database, data_dir=data)
    assert again.returncode == 1
    assert "Traceback" not in again.stderr
    message = again.stderr.strip().splitlines()[-1]
    assert message.startswith("Error: pichr-postgres: the target database is not empty (")
    assert "users: 2" in message and "--force" in message

    forced = cli("db", "migrate-to", fresh_database, "--force", data_dir=data)
    assert forced.returncode == 0, forced.stderr
    assert "copied" in forced.stdout and "MISMATCH" not in forced.stdout
    rows = asyncio.run(fetch(fresh_database, "SELECT COUNT(*) AS n FROM users"))
    assert rows[0]["n"] == 2


def test_migrate_to_wants_a_postgres_url(sqlite_installation):
    out = cli("db", "migrate-to", "mysql://x/y", data_dir=sqlite_installation["data"])
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1].startswith("Error: pichr-postgres: the target")


def test_migrate_to_from_another_postgres(tmp_path, migrated_database, fresh_database):
    """The copy is not tied to SQLite: a PostgreSQL source works the same way."""
    data = tmp_path / "pgdata"
    settings = make_settings(data, {"database": {"url": migrated_database}})
    app = create_app(settings, name="pg_source")
    with ReusableClient(app, host="127.0.0.1", port=free_port()) as raw:
        c = ApiClient(raw, app)
        c.upload(c.signup("carol"))
    out = cli(
        "db", "migrate-to", fresh_database, "-s", f"database.url={migrated_database}", data_dir=data
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "files                  1         1  ok" in out.stdout
    rows = asyncio.run(fetch(fresh_database, "SELECT username FROM users"))
    assert [r["username"] for r in rows] == ["carol"]
