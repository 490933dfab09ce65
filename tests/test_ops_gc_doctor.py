"""``gc`` and ``doctor`` on real data directories."""

import asyncio
import json
import os
import sqlite3
from datetime import timedelta

import pytest
from click.testing import CliRunner

from pichr_appliance.cli import cli
from pichr_appliance.testing import FAST_HASHING, make_settings, sample_image_bytes

FAST = [f"-s auth.{k}={v}".split(" ", 1) for k, v in FAST_HASHING.items()]
FAST = [part for pair in FAST for part in pair]


@pytest.fixture
def clean_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("PICHR_"):
            monkeypatch.delenv(name)


def invoke(data, *args):
    return CliRunner().invoke(cli, [*args, "--data-dir", str(data), *FAST], catch_exceptions=False)


def populate(settings, tmp_path):
    """Four files of one user: kept, expired, bytes deleted, a removed one whose bytes
    are gone too; a stale upload; an orphaned object and an orphaned variant."""
    from pichr_appliance.models import File, Upload, User
    from pichr_appliance.runtime import open_runtime
    from pichr_appliance.services import accounts, ingest, uploads
    from pichr_appliance.timeutil import utcnow

    async def go():
        async with open_runtime(settings) as rt:
            user = await accounts.create_user(
                settings, rt.passwords, email="o@example.com", username="owner",
                password="long-password",
            )  # fmt: skip
            ids = []
            for i in range(4):
                path = tmp_path / f"f{i}.png"
                path.write_bytes(sample_image_bytes("PNG", size=(30 + i, 20)))
                ids.append((await ingest.upload_local_file(rt, user, path)).id)
            kept, expired, lost, removed = ids
            await File.filter(id=expired).update(expires_at=utcnow() - timedelta(hours=1))
            for fid in (lost, removed):
                await rt.storage.delete((await File.get(id=fid)).storage_key)
            await File.filter(id=removed).update(status="removed", removed_at=utcnow())
            stale = await uploads.presign(
                rt, user, {"filename": "x.png", "mime": "image/png", "bytes": 10}
            )
            await Upload.filter(id=stale["uploadId"]).update(expires_at=utcnow() - timedelta(1))
            await rt.storage.put_file("uploads/2020-01-01/file_gone/x.png", tmp_path / "f0.png")
            await rt.storage.put_file(f"variants/{expired}x/w64.webp", tmp_path / "f0.png")
            await rt.storage.put_file(f"variants/{kept}/w64.webp", tmp_path / "f0.png")
            usage = (await User.get(id=user.id)).usage_files
            return {"kept": kept, "expired": expired, "lost": lost, "removed": removed,
                    "stale": stale["fileId"], "usage": usage}  # fmt: skip

    return asyncio.run(go())


def rows(settings, sql):
    con = sqlite3.connect(settings.data_path / "pichr.sqlite3")
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_gc_dry_run_then_real_run(tmp_path, clean_env):
    # SQLite whatever PICHR_TEST_DATABASE says: the commands below find it by --data-dir.
    url = f"sqlite://{tmp_path / 'data' / 'pichr.sqlite3'}"
    settings = make_settings(tmp_path / "data", {"database": {"url": url}})
    ids = populate(settings, tmp_path)
    assert ids["usage"] == 4

    r = invoke(settings.data_path, "gc", "--dry-run", "--json")
    assert r.exit_code == 0, r.output
    dry = json.loads(r.output)
    assert dry["dryRun"] and dry["expiredFiles"] == 1 and dry["staleUploads"] == 1
    assert sorted(dry["orphanedObjects"]) == [
        "uploads/2020-01-01/file_gone/x.png",
        f"variants/{ids['expired']}x/w64.webp",
    ]
    assert {m["id"] for m in dry["missingBytes"]} == {ids["lost"], ids["removed"]}
    # Nothing changed.
    assert rows(settings, "SELECT COUNT(*) FROM files")[0][0] == 5
    assert (settings.storage_path / "uploads/2020-01-01/file_gone/x.png").exists()

    r = invoke(settings.data_path, "gc")
    assert r.exit_code == 0, r.output
    assert "expired files: removed 1" in r.output
    assert "orphaned objects: removed 2" in r.output
    assert f"{ids['lost']} (ready)" in r.output and "marked failed" in r.output
    assert not (settings.storage_path / "uploads/2020-01-01/file_gone/x.png").exists()
    assert (settings.storage_path / f"variants/{ids['kept']}/w64.webp").exists()
    status = dict(rows(settings, "SELECT id, status FROM files"))
    assert ids["expired"] not in status and ids["stale"] not in status
    assert status[ids["lost"]] == "failed" and status[ids["kept"]] == "ready"
    purged = rows(settings, f"SELECT purged_at FROM files WHERE id = '{ids['removed']}'")
    assert purged[0][0] is not None
    # The quota no longer counts the expired file nor the ones whose bytes are gone.
    assert rows(settings, "SELECT usage_files FROM users")[0][0] == 1

    r = invoke(settings.data_path, "gc", "--json")
    again = json.loads(r.output)
    assert again["expiredFiles"] == again["staleUploads"] == 0
    assert again["orphanedObjects"] == [] and again["missingBytes"] == []
    # The kept file is still served from its bytes.
    key = rows(settings, f"SELECT storage_key FROM files WHERE id = '{ids['kept']}'")[0][0]
    assert (settings.storage_path / key).exists()


def test_doctor_on_a_healthy_directory(tmp_path, clean_env):
    data = tmp_path / "data"
    assert invoke(data, "migrate").exit_code == 0
    os.chmod(data, 0o750)
    r = invoke(data, "doctor", "--json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    assert report["status"] == "ok"
    names = {c["name"] for c in report["checks"] if c["status"] == "ok"}
    assert {"config", "data directory", "disk", "database", "migrations", "plugins"} <= names
    assert {"storage", "rate limits"} <= names
    assert not list((data / "storage").rglob("doctor*"))  # the probe was cleaned up


def test_doctor_tells_what_to_fix(tmp_path, clean_env):
    data = tmp_path / "data"
    assert invoke(data, "migrate").exit_code == 0
    os.chmod(data, 0o777)
    os.chmod(data / "secret.key", 0o644)
    r = invoke(data, "doctor", "-s", "server.host=0.0.0.0")
    assert r.exit_code == 1
    assert "[FAIL] data directory" in r.output and f"chmod 700 {data}" in r.output
    assert f"chmod 600 {data / 'secret.key'}" in r.output
    assert "server.public_url" in r.output
    assert "overall: fail" in r.output

    # A database that is not one any more.
    os.chmod(data, 0o750)
    os.chmod(data / "secret.key", 0o600)
    for suffix in ("-wal", "-shm"):
        (data / f"pichr.sqlite3{suffix}").unlink(missing_ok=True)
    with open(data / "pichr.sqlite3", "r+b") as fh:
        fh.seek(0)
        fh.write(b"this is no longer a database" * 200)
    r = invoke(data, "doctor", "--json")
    assert r.exit_code == 1
    report = json.loads(r.output)
    db = [c for c in report["checks"] if c["name"] == "database"]
    assert db and db[0]["status"] == "fail" and db[0]["fix"]


def test_doctor_on_a_missing_directory_creates_nothing(tmp_path, clean_env):
    data = tmp_path / "nowhere"
    r = invoke(data, "doctor")
    assert r.exit_code == 1
    assert "does not exist" in r.output and "pichr-appliance migrate" in r.output
    assert not data.exists()


def test_doctor_reports_a_broken_setting(tmp_path, clean_env):
    r = invoke(tmp_path / "d", "doctor", "-s", "server.port=notaport")
    assert r.exit_code == 1 and "server.port" in r.output and "Traceback" not in r.output


def test_doctor_reports_an_unknown_backend(tmp_path, clean_env):
    data = tmp_path / "data"
    assert invoke(data, "migrate").exit_code == 0
    r = invoke(data, "doctor", "-s", "storage.backend=nowhere", "--json")
    assert r.exit_code == 1
    storage = [c for c in json.loads(r.output)["checks"] if c["name"] == "storage"]
    assert storage[0]["status"] == "fail" and "available: local" in storage[0]["message"]
