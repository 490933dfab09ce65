"""``pichr-appliance import``: the upload pipeline from the shell, resumable."""

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner
from PIL import Image

from pichr_appliance import imaging
from pichr_appliance.cli import cli
from pichr_appliance.security import file_size_and_sha256
from pichr_appliance.testing import make_settings, sample_image_bytes

FAST = {
    "PICHR_AUTH__ARGON2_TIME_COST": "1",
    "PICHR_AUTH__ARGON2_MEMORY_KIB": "64",
    "PICHR_AUTH__ARGON2_PARALLELISM": "1",
}


@pytest.fixture
def run(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith("PICHR_"):
            monkeypatch.delenv(name)
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    data = str(tmp_path / "data")

    def invoke(*args):
        return CliRunner().invoke(cli, [*args, "--data-dir", data], catch_exceptions=False)

    assert invoke("migrate").exit_code == 0
    invoke(
        "user", "create", "--email", "a@example.com", "--username", "admin",
        "--password", "long-password", "--role", "admin",
    )  # fmt: skip
    return invoke


def jpeg_with_gps() -> bytes:
    img = Image.new("RGB", (60, 40), (10, 120, 200))
    exif = Image.Exif()
    exif[imaging.GPS_IFD] = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif.tobytes(), quality=90)
    return buf.getvalue()


def make_folder(root, n):
    """``n`` distinct PNGs in a folder tree, plus a text file that is not imported."""
    (root / "sub").mkdir(parents=True)
    for i in range(n):
        folder = root / "sub" if i % 2 else root
        data = sample_image_bytes("PNG", size=(40 + i, 30), color=(i * 7 % 256, 90, 200))
        (folder / f"img{i:03d}.png").write_bytes(data)
    (root / "notes.txt").write_text("not an image")
    (root / ".hidden.png").write_bytes(sample_image_bytes("PNG"))
    return root


def db_rows(tmp_path, sql):
    import sqlite3

    con = sqlite3.connect(tmp_path / "data" / "pichr.sqlite3")
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_import_runs_the_upload_pipeline(run, tmp_path):
    folder = tmp_path / "pics"
    folder.mkdir()
    (folder / "gps.jpg").write_bytes(jpeg_with_gps())
    (folder / "same.png").write_bytes(sample_image_bytes("PNG"))
    (folder / "same-again.png").write_bytes(sample_image_bytes("PNG"))
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    r = run("import", str(folder), "--album", "Holiday", "--visibility", "unlisted", "--json")
    assert r.exit_code == 1  # one file failed; the rest went in
    out = json.loads(r.output[: r.output.rindex("}") + 1])
    assert out["total"] == 4 and len(out["imported"]) == 3 and len(out["failed"]) == 1
    assert out["failed"][0]["path"].endswith("broken.png")
    by_name = {os.path.basename(i["path"]): i for i in out["imported"]}
    # Duplicate detection of the pipeline: the second copy points at the first.
    # (sorted: same-again.png comes before same.png)
    assert by_name["same.png"]["duplicateOf"] == by_name["same-again.png"]["fileId"]
    assert by_name["same-again.png"]["duplicateOf"] is None
    rows = db_rows(
        tmp_path, "SELECT id, status, visibility, sha256, phash, width FROM files ORDER BY id"
    )
    assert {r[1] for r in rows} == {"ready"} and {r[2] for r in rows} == {"unlisted"}
    assert all(r[3] and r[4] and r[5] for r in rows)
    gps_id = by_name["gps.jpg"]["fileId"]
    key = db_rows(tmp_path, f"SELECT storage_key FROM files WHERE id = '{gps_id}'")[0][0]
    stored = Image.open(tmp_path / "data" / "storage" / key)
    assert imaging.GPS_IFD not in stored.getexif()  # location stripped, as for HTTP uploads
    album = db_rows(tmp_path, "SELECT id FROM albums WHERE title = 'Holiday'")[0][0]
    assert out["albumId"] == album
    assert len(db_rows(tmp_path, f"SELECT 1 FROM album_files WHERE album_id = '{album}'")) == 3
    usage = db_rows(tmp_path, "SELECT usage_files FROM users")[0][0]
    assert usage == 3  # quota accounting as for uploads
    # No half-made records of the failed file.
    assert db_rows(tmp_path, "SELECT COUNT(*) FROM uploads WHERE status != 'completed'")[0][0] == 0


def test_interrupted_import_resumes_without_duplicates(run, tmp_path):
    folder = make_folder(tmp_path / "pics", 7)
    r = run("import", str(folder), "--stop-after", "3", "--album", "All")
    assert r.exit_code == 0, r.output
    assert "imported 3" in r.output and "run the same command again" in r.output
    assert db_rows(tmp_path, "SELECT COUNT(*) FROM files")[0][0] == 3
    r = run("import", str(folder), "--album", "All")
    assert r.exit_code == 0, r.output
    assert "imported 4, already there 3, failed 0 (of 7 files)" in r.output
    r = run("import", str(folder), "--album", "All")
    assert "imported 0, already there 7" in r.output
    rows = db_rows(tmp_path, "SELECT sha256, status, visibility FROM files")
    assert len(rows) == 7 and len({r[0] for r in rows}) == 7
    assert {r[1] for r in rows} == {"ready"} and {r[2] for r in rows} == {"private"}
    assert db_rows(tmp_path, "SELECT COUNT(*) FROM album_files")[0][0] == 7
    assert db_rows(tmp_path, "SELECT COUNT(*) FROM albums")[0][0] == 1


def test_import_resumes_a_file_caught_half_way(tmp_path):
    """The two crash points inside one file, made exactly: records made but bytes not
    processed (imported again, the leftovers discarded), and processed but not
    journalled as done (kept, not imported twice)."""
    from pichr_appliance.models import File, User
    from pichr_appliance.runtime import open_runtime
    from pichr_appliance.services import importer, uploads

    settings = make_settings(tmp_path / "data")
    folder = make_folder(tmp_path / "pics", 2)
    paths = importer.find_images([folder])

    async def scenario():
        async with open_runtime(settings) as rt:
            from pichr_appliance.services import accounts

            user = await accounts.create_user(
                settings, rt.passwords, email="o@example.com", username="owner",
                password="long-password",
            )  # fmt: skip
            journal = importer.journal_for(settings)
            # File 0: crashed after presign (journal says begun, bytes never arrived).
            p0 = paths[0]
            _, sha0 = file_size_and_sha256(p0)
            answer = await uploads.presign(
                rt, user, {"filename": p0.name, "mime": "image/png", "bytes": p0.stat().st_size}
            )
            journal.write(
                {
                    "key": importer.source_key(p0, p0.stat(), sha0, user.id),
                    "state": "begun",
                    "fileId": answer["fileId"],
                    "uploadId": answer["uploadId"],
                }
            )
            # File 1: fully processed, but the crash came before "done" was written.
            first = await importer.run_import(rt, user, [paths[1]])
            done_id = first.imported[0]["fileId"]
            lines = journal.path.read_text().splitlines()
            journal.path.write_text("\n".join(lines[:-1]) + "\n")  # drop the last "done"

            result = await importer.run_import(rt, user, paths)
            assert [os.path.basename(i["path"]) for i in result.imported] == [p0.name]
            assert result.skipped == [{"path": str(paths[1]), "fileId": done_id}]
            assert not await File.filter(id=answer["fileId"]).exists()  # leftovers gone
            assert await File.filter(status="ready").count() == 2
            assert await File.all().count() == 2
            await user.refresh_from_db()
            assert (await User.get(id=user.id)).usage_files == 2

    asyncio.run(scenario())


@pytest.mark.slow
def test_import_killed_with_sigkill_resumes(run, tmp_path):
    folder = make_folder(tmp_path / "pics", 30)
    data = tmp_path / "data"
    journal = data / "import-journal.jsonl"
    cmd = [sys.executable, "-m", "pichr_appliance", "import", str(folder), "--data-dir", str(data)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PICHR_")} | FAST
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = journal.read_text().count('"done"') if journal.exists() else 0
        if done >= 5 or proc.poll() is not None:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = db_rows(tmp_path, "SELECT COUNT(*) FROM files WHERE status = 'ready'")[0][0]
    assert 5 <= before < 30, "the import should have been killed half way"
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    rows = db_rows(tmp_path, "SELECT sha256 FROM files WHERE status = 'ready'")
    assert len(rows) == 30 and len({r[0] for r in rows}) == 30
    assert f"imported {30 - before}, already there {before}," in out.stdout


def test_import_needs_an_owner_when_ambiguous(run, tmp_path):
    run(
        "user", "create", "--email", "b@example.com", "--username", "second",
        "--password", "long-password", "--role", "admin",
    )  # fmt: skip
    folder = make_folder(tmp_path / "pics", 1)
    r = run("import", str(folder))
    assert r.exit_code == 1 and "--user" in r.output
    r = run("import", str(folder), "--user", "second")
    assert r.exit_code == 0 and "imported 1" in r.output
    owner = db_rows(tmp_path, "SELECT u.username FROM files f JOIN users u ON u.id = f.owner_id")
    assert owner == [("second",)]


def test_import_respects_the_plan_quota(run, tmp_path):
    folder = make_folder(tmp_path / "pics", 3)
    r = run("import", str(folder), "-s", "plans.free.quota_bytes=1", "--json")
    assert r.exit_code == 1
    out = json.loads(r.output[: r.output.rindex("}") + 1])
    assert {f["code"] for f in out["failed"]} == {"quota_exceeded"}
    assert db_rows(tmp_path, "SELECT COUNT(*) FROM files")[0][0] == 0
