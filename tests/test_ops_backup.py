"""``backup`` of a running appliance, ``restore`` into an empty data directory."""

import json
import os
import subprocess
import sys
import tarfile
from urllib.parse import urlsplit

import httpx
import pytest

from pichr_appliance.testing import LiveServer, sample_image_bytes

pytestmark = pytest.mark.slow

FAST = {
    "PICHR_AUTH__ARGON2_TIME_COST": "1",
    "PICHR_AUTH__ARGON2_MEMORY_KIB": "64",
    "PICHR_AUTH__ARGON2_PARALLELISM": "1",
}


def cli(data_dir, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PICHR_")} | FAST
    return subprocess.run(
        [sys.executable, "-m", "pichr_appliance", *args, "--data-dir", str(data_dir)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip


def sqlite_in(data_dir):
    return {"PICHR_DATABASE__URL": f"sqlite://{data_dir / 'pichr.sqlite3'}"}


def upload(api, headers, data, **fields):
    body = {"filename": "p.png", "mime": "image/png", "bytes": len(data), **fields}
    r = httpx.post(f"{api}/upload/presign", headers=headers, json=body)
    assert r.status_code == 201, r.text
    url = r.json()["uploadUrl"]
    r = httpx.put(url, content=data)
    assert r.status_code == 200, r.text
    return r.json()["fileId"]


def test_backup_while_serving_and_restore_into_an_empty_directory(tmp_path):
    # backup covers SQLite appliances: whatever PICHR_TEST_DATABASE says.
    original = LiveServer(tmp_path / "original", env=sqlite_in(tmp_path / "original")).start()
    try:
        api = original.url + "/api/v1"
        r = httpx.post(
            f"{api}/auth/signup",
            json={"email": "o@example.com", "password": "long-password", "username": "owner",
                  "firstName": "O", "lastName": "W", "ageConfirmed": True},
        )  # fmt: skip
        assert r.status_code == 201, r.text
        token = r.json()["session"]["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        images = {}
        for i, fmt in enumerate(["PNG", "JPEG", "GIF", "WEBP"]):
            data = sample_image_bytes(fmt, size=(50 + i, 40), color=(30 * i, 60, 90))
            mime = f"image/{fmt.lower()}"
            visibility = "private" if i == 1 else "public"
            fid = upload(api, headers, data, mime=mime, visibility=visibility)
            images[fid] = (data, visibility)
        first = next(iter(images))
        variant = httpx.get(f"{original.url}/i/{first}?w=64")  # a variant to back up too
        assert variant.status_code == 200

        # Both kinds of backup while the server runs.
        out = cli(tmp_path / "original", "backup", str(tmp_path / "bk"), "--json")
        assert out.returncode == 0, out.stderr
        summary = json.loads(out.stdout)
        assert summary["counts"]["files"] == 4 and summary["counts"]["users"] == 1
        assert summary["counts"]["objects"] == 5 and summary["missing"] == []
        out = cli(tmp_path / "original", "backup", str(tmp_path / "bk.tar.gz"))
        assert out.returncode == 0, out.stderr
        # The server is still fine, and an upload after the backup is not in it.
        later = upload(api, headers, sample_image_bytes("PNG", size=(77, 77)))
    finally:
        assert original.stop() == 0, original.output()

    manifest = json.loads((tmp_path / "bk" / "manifest.json").read_text())
    assert manifest["format"] == "pichr-appliance-backup" and manifest["formatVersion"] == 1
    assert all(len(o["sha256"]) == 64 for o in manifest["objects"].values())
    with tarfile.open(tmp_path / "bk.tar.gz") as archive:
        assert "manifest.json" in archive.getnames()

    for source, target in [("bk", "restored"), ("bk.tar.gz", "restored-from-tar")]:
        out = cli(tmp_path / target, "restore", str(tmp_path / source))
        assert out.returncode == 0, out.stderr
        assert "4 files, 5 objects" in out.stdout
        server = LiveServer(tmp_path / target, env=sqlite_in(tmp_path / target)).start()
        try:
            for fid, (data, visibility) in images.items():
                h = headers if visibility == "private" else {}
                r = httpx.get(f"{server.url}/i/{fid}", headers=h)
                assert r.status_code == 200 and r.content == data, fid
            # Same anon key: supabase-js clients made for the original keep working.
            anon = (tmp_path / "original" / "supabase-anon.key").read_text()
            assert (tmp_path / target / "supabase-anon.key").read_text() == anon
            assert oct((tmp_path / target / "supabase-anon.key").stat().st_mode & 0o777) == "0o600"
            # Same secret: the session from before the backup still works.
            me = httpx.get(f"{server.url}/api/v1/auth/me", headers=headers)
            assert me.status_code == 200 and me.json()["user"]["username"] == "owner"
            assert httpx.get(f"{server.url}/i/{later}").status_code == 404
            r = httpx.post(
                f"{server.url}/api/v1/auth/login",
                json={"email": "owner", "password": "long-password"},
            )
            assert r.status_code == 200
        finally:
            assert server.stop() == 0, server.output()


def test_restore_refuses_non_empty_targets_and_damaged_backups(tmp_path):
    data = tmp_path / "data"
    assert cli(data, "migrate").returncode == 0
    out = cli(
        data, "user", "create", "--email", "a@example.com", "--username", "admin",
        "--password", "long-password",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    pic = tmp_path / "pics"
    pic.mkdir()
    (pic / "a.png").write_bytes(sample_image_bytes("PNG"))
    assert cli(data, "import", str(pic), "--user", "admin").returncode == 0
    assert cli(data, "backup", str(tmp_path / "bk")).returncode == 0

    out = cli(data, "backup", str(tmp_path / "bk"))
    assert out.returncode == 1 and "not empty" in out.stderr

    out = cli(data, "restore", str(tmp_path / "bk"))
    assert out.returncode == 1 and "--force" in out.stderr and "Traceback" not in out.stderr
    out = cli(data, "restore", str(tmp_path / "bk"), "--force")
    assert out.returncode == 0, out.stderr

    # Restored with --force over itself: the import journal came back too.
    out = cli(data, "import", str(pic), "--user", "admin")
    assert "imported 0, already there 1" in out.stdout

    objects = list((tmp_path / "bk" / "storage").rglob("*.png"))
    objects[0].write_bytes(b"tampered")
    out = cli(tmp_path / "fresh", "restore", str(tmp_path / "bk"))
    assert out.returncode == 1 and "does not match its checksum" in out.stderr
    assert not (tmp_path / "fresh" / "pichr.sqlite3").exists()  # verified before writing

    (tmp_path / "bk" / "manifest.json").unlink()
    out = cli(tmp_path / "fresh", "restore", str(tmp_path / "bk"))
    assert out.returncode == 1 and "did not finish" in out.stderr


def test_restored_objects_keep_their_keys(tmp_path):
    """Keys are part of the data (r2Key): a restore puts each object where it was."""
    data = tmp_path / "data"
    assert cli(data, "migrate").returncode == 0
    cli(data, "user", "create", "--email", "a@example.com", "--username", "admin",
        "--password", "long-password", "--role", "admin")  # fmt: skip
    pic = tmp_path / "pics"
    pic.mkdir()
    (pic / "one.png").write_bytes(sample_image_bytes("PNG"))
    assert cli(data, "import", str(pic)).returncode == 0
    assert cli(data, "backup", str(tmp_path / "bk.tar")).returncode == 0
    assert cli(tmp_path / "copy", "restore", str(tmp_path / "bk.tar")).returncode == 0
    before = sorted(p.relative_to(data).as_posix() for p in (data / "storage").rglob("*.png"))
    after = sorted(
        p.relative_to(tmp_path / "copy").as_posix()
        for p in (tmp_path / "copy" / "storage").rglob("*.png")
    )
    assert before == after and len(before) == 1
    assert urlsplit("http://x/" + before[0]).path.startswith("/storage/uploads/")
