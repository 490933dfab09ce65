"""Faults through a real server: a killed server mid-upload leaves nothing stranded."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

from pichr_appliance.testing import LiveServer

LEASE = 2  # uploads.receive_lease_seconds in these tests


def noisy_png(side: int = 300) -> bytes:
    """A PNG that does not compress (a body that takes a few chunks)."""
    buf = io.BytesIO()
    Image.effect_noise((side, side), 80).convert("RGB").save(buf, "PNG")
    return buf.getvalue()


def server_env(data: Path) -> dict[str, str]:
    return {
        # SQLite whatever PICHR_TEST_DATABASE says: the test reads the upload rows.
        "PICHR_DATABASE__URL": "sqlite://" + str(data.resolve() / "pichr.sqlite3"),
        "PICHR_UPLOADS__RECEIVE_LEASE_SECONDS": str(LEASE),
        "PICHR_UPLOADS__SWEEP_INTERVAL": "5",
    }


def db_rows(data: Path, sql: str, *args) -> list:
    con = sqlite3.connect(data / "pichr.sqlite3", timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def wait_for(check, timeout: float = 20.0, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {check}")


def signup(server: LiveServer) -> dict[str, str]:
    body = {"email": "k@example.com", "username": "killer", "password": "a long password"}
    r = httpx.post(server.url + "/api/v1/auth/signup", json=body)
    assert r.status_code == 201, r.text
    return {"Authorization": "Bearer " + r.json()["session"]["access_token"]}


def start_body(port: int, head: bytes, part: bytes) -> socket.socket:
    """Send a request head and the first part of its body, then hold the socket."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(head + part)
    return sock


def kill_hard(server: LiveServer) -> None:
    """kill -9 of the whole process group (main process and workers)."""
    os.killpg(server.proc.pid, signal.SIGKILL)
    server.proc.wait(10)


def temp_files(data: Path, prefix: str) -> list[Path]:
    return [p for p in (data / "tmp").glob(f"{prefix}*")] if (data / "tmp").is_dir() else []


@pytest.mark.timeout(120)
def test_a_killed_direct_put_can_be_retried_and_its_temp_bytes_go(tmp_path):
    data = tmp_path / "data"
    png = noisy_png()
    server = LiveServer(data, env=server_env(data), args=["--workers", "2"]).start()
    socks = []
    try:
        auth = signup(server)
        body = {"filename": "n.png", "mime": "image/png", "bytes": len(png)}
        p = httpx.post(server.url + "/api/v1/upload/presign", headers=auth, json=body).json()
        url = urlsplit(p["uploadUrl"])
        target = f"{url.path}?{url.query}"
        head = (f"PUT {target} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(png)}\r\n\r\n").encode()
        socks.append(start_body(server.port, head, png[: len(png) // 2]))
        wait_for(lambda: temp_files(data, p["uploadId"]))
        row = db_rows(data, "SELECT status, claimed_by FROM uploads WHERE id = ?", p["uploadId"])
        assert row[0][0] == "receiving" and row[0][1]
        # While its request lives, the claim holds: a second PUT is refused.
        r = httpx.put(server.url + target, content=png)
        assert r.status_code == 409 and r.json()["code"] == "upload_in_progress"
        kill_hard(server)
    finally:
        for s in socks:
            s.close()
        server.stop()
    assert temp_files(data, p["uploadId"])  # the dead request's half body

    again = LiveServer(data, env=server_env(data)).start()
    try:
        # Until the dead request's claim runs out a retry may get 409; then it succeeds.
        def retry():
            r = httpx.put(again.url + target, content=png)
            assert r.status_code in (200, 409), r.text
            return r if r.status_code == 200 else None

        r = wait_for(retry, timeout=LEASE + 10, step=0.5)
        assert r.json()["status"] == "ready"
        got = httpx.get(f"{again.url}/i/{p['fileId']}")
        assert got.status_code == 200 and got.content == png
        # The sweeper (at start and every 5 s) removes the dead request's temp bytes.
        wait_for(lambda: not temp_files(data, p["uploadId"]), timeout=15)
    finally:
        again.stop()
    row = db_rows(data, "SELECT status, claimed_by FROM uploads WHERE id = ?", p["uploadId"])
    assert row == [("completed", None)]


@pytest.mark.timeout(120)
def test_a_killed_one_request_upload_leaves_no_pending_record(tmp_path):
    data = tmp_path / "data"
    png = noisy_png()
    server = LiveServer(data, env=server_env(data)).start()
    sock = None
    try:
        auth = signup(server)["Authorization"]
        head = (
            f"POST /api/v1/upload?filename=n.png HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: {auth}\r\nContent-Length: {len(png)}\r\n\r\n"
        ).encode()
        sock = start_body(server.port, head, png[: len(png) // 2])
        rows = wait_for(
            lambda: db_rows(
                data, "SELECT id, file_id, one_step FROM uploads WHERE status = ?", "receiving"
            )
        )
        upload_id, file_id, one_step = rows[0]
        assert one_step
        kill_hard(server)
    finally:
        if sock:
            sock.close()
        server.stop()
    assert db_rows(data, "SELECT status FROM files WHERE id = ?", file_id) == [("pending",)]

    # gc --dry-run names the dead upload and its temp file, and changes nothing.
    time.sleep(LEASE + 0.5)  # the claim runs out
    env = {k: v for k, v in os.environ.items() if not k.startswith("PICHR_")}
    env.update(server_env(data))
    cmd = [sys.executable, "-m", "pichr_appliance", "gc", "--dry-run", "--json"]
    r = subprocess.run(
        [*cmd, "--data-dir", str(data)], env=env, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["strandedUploads"] == 1
    assert [Path(t["path"]).name.split("-")[0] for t in report["staleTempFiles"]] == [upload_id]
    assert report["staleTempBytes"] > 0
    assert temp_files(data, upload_id)

    again = LiveServer(data, env=server_env(data)).start()
    try:
        # The first sweep at start discards the upload, its pending file and its bytes.
        wait_for(lambda: not db_rows(data, "SELECT id FROM files WHERE id = ?", file_id))
        wait_for(lambda: not temp_files(data, upload_id))
        assert not db_rows(data, "SELECT id FROM uploads WHERE id = ?", upload_id)
    finally:
        again.stop()


def _past(seconds: float = 1):
    from datetime import UTC, datetime, timedelta

    return datetime.now(UTC) - timedelta(seconds=seconds)


def test_a_multipart_complete_left_receiving_is_given_back(pichr_client, pichr_user):
    """A complete whose process died: parts, abort and complete work again once its
    claim has run out (the sweeper gives it back; complete takes it over directly)."""
    from pichr_appliance.models import Upload
    from pichr_appliance.services import sweeper

    png = noisy_png(120)
    h = pichr_user["headers"]
    body = {"filename": "m.png", "mime": "image/png", "totalBytes": len(png), "partSize": len(png)}
    m = pichr_client.post("/api/v1/upload/multipart/init", headers=h, json=body).json
    part = urlsplit(m["partUrls"][0])
    r = pichr_client.put(f"{part.path}?{part.query}", content=png)
    assert r.status == 200
    etag = r.json["etag"]
    uid = m["uploadId"]
    # A live claim held elsewhere: parts and complete are refused.
    live = _past(-60)
    pichr_client.run(
        Upload.filter(id=uid).update(status="receiving", claimed_by="x:1:a", claimed_until=live)
    )
    assert pichr_client.put(f"{part.path}?{part.query}", content=png).status == 409
    done = {"uploadId": uid, "fileId": m["fileId"], "parts": [{"partNumber": 1, "etag": etag}]}
    r = pichr_client.post("/api/v1/upload/multipart/complete", headers=h, json=done)
    assert r.status == 409 and r.json["code"] == "upload_in_progress"
    # Its holder died: the claim runs out, the sweeper gives the upload back.
    pichr_client.run(Upload.filter(id=uid).update(claimed_until=_past()))
    swept = pichr_client.run(sweeper.sweep(pichr_client.runtime))
    assert swept["strandedUploads"] == 1
    upload = pichr_client.run(Upload.get(id=uid))
    assert (upload.status, upload.claimed_by, upload.claimed_until) == ("pending", None, None)
    assert pichr_client.put(f"{part.path}?{part.query}", content=png).status == 200
    # Expired again (no sweep): complete takes it over at once.
    pichr_client.run(
        Upload.filter(id=uid).update(status="receiving", claimed_by="x:1:a", claimed_until=None)
    )
    r = pichr_client.post("/api/v1/upload/multipart/complete", headers=h, json=done)
    assert r.status == 200, r.text
    assert pichr_client.get(f"/i/{m['fileId']}").content == png


def test_stale_temp_files_of_storage_and_uploads(pichr_client):
    """A body whose upload no live claim holds goes at once; storage's own temp files
    (a part being written) go once untouched for TEMP_MAX_AGE."""
    from pichr_appliance.services import sweeper

    rt = pichr_client.runtime
    tmp = rt.settings.data_path / "tmp"
    tmp.mkdir(exist_ok=True)
    dead = tmp / "upl_dead-0a0b"
    dead.write_bytes(b"x" * 10)
    fresh = rt.storage.tmp / "fresh"
    fresh.write_bytes(b"y")
    old = rt.storage.tmp / "old"
    old.write_bytes(b"zz")
    os.utime(old, (0, 0))
    stale = pichr_client.run(sweeper.stale_temp_files(rt))
    assert sorted((p.name, n) for p, n in stale) == [("old", 2), ("upl_dead-0a0b", 10)]
    assert pichr_client.run(sweeper.sweep_temp(rt)) == 2
    assert fresh.exists() and not dead.exists() and not old.exists()


def test_a_claim_taken_over_after_it_ran_out(pichr_client, pichr_user):
    """Two requests never both hold an upload: the second takes it only once the first's
    claim has run out, and the first then finds it lost (and cannot complete it)."""
    from pichr_appliance.errors import ApiError
    from pichr_appliance.models import Upload
    from pichr_appliance.services import claims

    h = pichr_user["headers"]
    body = {"filename": "c.png", "mime": "image/png", "bytes": 10}
    p = pichr_client.post("/api/v1/upload/presign", headers=h, json=body).json
    upload = pichr_client.run(Upload.get(id=p["uploadId"]))
    first, second = claims.Claim(upload, 30), claims.Claim(upload, 30)
    pichr_client.run(first.take("busy"))
    with pytest.raises(ApiError) as exc:
        pichr_client.run(second.take("busy"))
    assert exc.value.status == 409 and exc.value.code == "upload_in_progress"
    pichr_client.run(Upload.filter(id=upload.id).update(claimed_until=_past()))
    pichr_client.run(second.take("busy"))
    assert pichr_client.run(first.renew()) is False and first.lost
    pichr_client.run(first.release())  # not first's to give back
    row = pichr_client.run(Upload.get(id=upload.id))
    assert row.status == "receiving" and row.claimed_by == second.token
    assert pichr_client.run(second.renew()) is True


# ---------------------------------------------------------------- slow clients


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory):
    """A real server with short limits: 1 s of silence, 2 s for a whole request head."""
    data = tmp_path_factory.mktemp("slow") / "data"
    env = {
        **server_env(data),
        "PICHR_SERVER__REQUEST_TIMEOUT": "1",
        "PICHR_SERVER__HEADER_TIMEOUT": "2",
    }
    server = LiveServer(data, env=env).start()
    try:
        yield server
    finally:
        server.stop()


def read_answer(sock: socket.socket, wait: float) -> tuple[bytes, bool, float]:
    """What the server sends until it closes (or ``wait`` passes), whether it closed,
    and when."""
    t0, chunks = time.monotonic(), []
    sock.settimeout(0.2)
    while time.monotonic() - t0 < wait:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        if not chunk:
            return b"".join(chunks), True, time.monotonic() - t0
        chunks.append(chunk)
    return b"".join(chunks), False, time.monotonic() - t0


def test_a_client_trickling_its_headers_is_cut_off(slow_server):
    """A byte every 0.3 s keeps under the 1 s silence limit, but the head must be
    complete within 2 s of its first byte."""
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", slow_server.port), timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        answer, closed = b"", False
        sock.settimeout(0.3)
        for n in range(40):
            try:
                sock.sendall(b"X-Slow-%d: y\r\n" % n)
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            if not chunk:
                closed = True
                break
            answer += chunk
        elapsed = time.monotonic() - t0
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b'"code":"request_timeout"' in answer
    assert elapsed < 5, elapsed
    del closed


def test_a_connection_that_never_speaks_is_closed(slow_server):
    with socket.create_connection(("127.0.0.1", slow_server.port), timeout=10) as sock:
        answer, closed, elapsed = read_answer(sock, 8)
    assert closed and answer == b"" and elapsed < 4, elapsed


def test_a_stalled_upload_body_is_cut_at_the_request_timeout(slow_server):
    """The handler of a streamed body runs while it arrives: Sanic alone would wait for
    the response timeout (60 s). The upload can be retried at once."""
    png = noisy_png(120)
    auth = {"Authorization": "Bearer " + signup_as(slow_server, "stall")}
    body = {"filename": "s.png", "mime": "image/png", "bytes": len(png)}
    p = httpx.post(slow_server.url + "/api/v1/upload/presign", headers=auth, json=body).json()
    url = urlsplit(p["uploadUrl"])
    target = f"{url.path}?{url.query}"
    head = f"PUT {target} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(png)}\r\n\r\n".encode()
    with start_body(slow_server.port, head, png[:1000]) as sock:
        answer, closed, elapsed = read_answer(sock, 10)
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert answer.endswith(b'"code":"request_timeout"}') and closed
    assert elapsed < 4, elapsed
    r = httpx.put(slow_server.url + target, content=png)
    assert r.status_code == 200, r.text
    assert not temp_files(slow_server.data_dir, p["uploadId"])


def test_timeouts_are_not_logged_as_internal_errors(slow_server):
    # Runs after the tests above (same module server).
    with socket.create_connection(("127.0.0.1", slow_server.port), timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        answer, _, _ = read_answer(sock, 6)
    assert answer.startswith(b"HTTP/1.1 408")
    out = slow_server.output()
    assert "unhandled error" not in out and "Traceback" not in out, out[-3000:]


def signup_as(server: LiveServer, name: str) -> str:
    body = {"email": f"{name}@example.com", "username": name, "password": "a long password"}
    r = httpx.post(server.url + "/api/v1/auth/signup", json=body)
    assert r.status_code == 201, r.text
    return r.json()["session"]["access_token"]


class SlowRoute:
    from pichr_appliance import hookimpl

    @hookimpl
    def register_routes(self, runtime):
        import asyncio

        from sanic.response import json as json_response

        async def slow(request):
            await asyncio.sleep(3)
            return json_response({"late": True})

        return [("/slow", slow, ["GET"])]


@pytest.mark.parametrize("pichr_plugins", [[SlowRoute()]])
@pytest.mark.parametrize("pichr_overrides", [{"server": {"response_timeout": 1}}])
def test_a_response_timeout_answers_503_response_timeout(pichr_client, caplog):
    r = pichr_client.get("/-/SlowRoute/slow")
    assert r.status == 503, r.text
    assert r.json["code"] == "response_timeout" and "requestId" not in r.text
    assert r.headers["retry-after"] == "5"
    assert not [rec for rec in caplog.records if rec.levelname == "ERROR"]


# ---------------------------------------------------------------- disk space


def test_below_the_reserve_uploads_get_507_and_the_rest_works(tmp_path):
    """storage.min_free_bytes above the real free space: every way to upload answers 507
    before any byte is stored; reads, login, PATCH and DELETE keep working; /health
    says the disk is full (503)."""
    data = tmp_path / "data"
    png = noisy_png(120)
    server = LiveServer(data, env=server_env(data)).start()
    try:
        token = signup_as(server, "full")
        auth = {"Authorization": "Bearer " + token}
        api = server.url + "/api/v1"
        r = httpx.post(f"{api}/upload?filename=a.png", headers=auth, content=png)
        assert r.status_code == 201, r.text
        kept = r.json()["id"]
        body = {"filename": "b.png", "mime": "image/png", "bytes": len(png)}
        pending = httpx.post(f"{api}/upload/presign", headers=auth, json=body).json()
    finally:
        server.stop()

    env = {**server_env(data), "PICHR_STORAGE__MIN_FREE_BYTES": str(10**18)}
    full = LiveServer(data, env=env).start(ready_statuses=(503,))
    try:
        api = full.url + "/api/v1"
        h = httpx.get(full.url + "/health")
        assert h.status_code == 503 and h.json()["disk"] == "full"
        assert h.json()["database"] == h.json()["storage"] == "ok"
        assert "disk full" in h.json()["error"]

        def refused(r):
            assert r.status_code == 507, r.text
            assert r.json()["code"] == "insufficient_storage"
            assert r.headers["retry-after"] == "60"

        refused(httpx.post(f"{api}/upload/presign", headers=auth, json=body))
        refused(httpx.post(f"{api}/upload?filename=c.png", headers=auth, content=png))
        url = urlsplit(pending["uploadUrl"])
        refused(httpx.put(f"{full.url}{url.path}?{url.query}", content=png))
        multi = {
            "filename": "m.png",
            "mime": "image/png",
            "totalBytes": len(png),
            "partSize": 10**6,
        }
        refused(httpx.post(f"{api}/upload/multipart/init", headers=auth, json=multi))
        assert not temp_files(data, "")  # nothing was written
        # Reads, login, changes and deletes work.
        assert httpx.get(f"{full.url}/i/{kept}").content == png
        login = {"email": "full@example.com", "password": "a long password"}
        r = httpx.post(f"{api}/auth/login", json=login)
        assert r.status_code == 200, r.text
        r = httpx.patch(f"{api}/files/{kept}", headers=auth, json={"title": "still"})
        assert r.status_code == 200 and r.json()["title"] == "still"
        assert httpx.delete(f"{api}/files/{kept}", headers=auth).status_code in (200, 204)
        assert httpx.get(f"{full.url}/i/{kept}").status_code in (404, 410)
    finally:
        full.stop()
    out = full.output()
    assert "unhandled error" not in out and "Traceback" not in out, out[-3000:]
    # The refused PUT left its upload retryable.
    row = db_rows(data, "SELECT status FROM uploads WHERE id = ?", pending["uploadId"])
    assert row == [("pending",)]


def test_health_and_doctor_say_low_and_full(pichr_client):
    import shutil

    from pichr_appliance.services import diskspace, doctor

    settings = pichr_client.runtime.settings
    free = diskspace.free_bytes(settings)
    assert shutil.disk_usage(settings.data_path).free >= free
    settings.storage.min_free_bytes = int(free / 1.5)  # free < 2 x reserve
    r = pichr_client.get("/health")
    assert r.status == 200 and r.json["disk"] == "low" and r.json["status"] == "ok"
    (check,) = doctor.check_disk(settings)
    assert check.status == "warn" and "min_free_bytes" in check.message
    settings.storage.min_free_bytes = free * 4
    r = pichr_client.get("/health")
    assert r.status == 503 and r.json["disk"] == "full" and r.json["status"] == "unavailable"
    (check,) = doctor.check_disk(settings)
    assert check.status == "fail" and "uploads are refused (507)" in check.message
    assert "gc" in check.fix and "min_free_bytes" in check.fix
    settings.storage.min_free_bytes = 0  # disabled
    assert pichr_client.get("/health").json["disk"] == "ok"


@pytest.fixture
def small_filesystem(tmp_path):
    """A 24 MiB tmpfs mounted for the test (root only), unmounted afterwards."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mnt)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(path: Path, leave: int) -> Path:
    """Fill the filesystem of ``path`` until ``leave`` bytes are free."""
    import shutil

    filler = path / "filler"
    with open(filler, "wb") as fh:
        while (free := shutil.disk_usage(path).free) > leave:
            fh.write(b"\0" * min(1 << 20, free - leave))
            fh.flush()
    return filler


@pytest.mark.timeout(120)
def test_a_disk_that_fills_mid_upload_answers_507_with_nothing_half_written(
    small_filesystem,
):
    """ENOSPC while the body is written (reserve off, so the disk really fills): 507,
    the temp file is gone, the file is not visible, the upload can be retried once
    there is room again; a one-request upload leaves no record."""
    data = small_filesystem / "data"
    env = {**server_env(data), "PICHR_STORAGE__MIN_FREE_BYTES": "0"}
    png = noisy_png(400)  # ~480 KB
    server = LiveServer(data, env=env).start()
    try:
        auth = {"Authorization": "Bearer " + signup_as(server, "enospc")}
        api = server.url + "/api/v1"
        body = {"filename": "e.png", "mime": "image/png", "bytes": len(png)}
        p = httpx.post(f"{api}/upload/presign", headers=auth, json=body).json()
        url = urlsplit(p["uploadUrl"])
        target = f"{server.url}{url.path}?{url.query}"
        # Half the body while there is room (the free-space check passes), then the
        # disk fills, then the rest: the write fails with ENOSPC.
        half = len(png) // 2
        head = f"PUT {url.path}?{url.query} HTTP/1.1\r\nHost: x\r\n"
        head += f"Content-Length: {len(png)}\r\n\r\n"
        with start_body(server.port, head.encode(), png[:half]) as sock:
            wait_for(lambda: temp_files(data, p["uploadId"]))
            filler = fill(small_filesystem, 20_000)
            sock.sendall(png[half:])
            answer, _, _ = read_answer(sock, 10)
        assert answer.startswith(b"HTTP/1.1 507"), answer
        assert answer.endswith(b'"code":"insufficient_storage"}'), answer
        assert not temp_files(data, "")
        assert not list((data / "storage" / ".tmp").iterdir())
        assert httpx.get(f"{server.url}/i/{p['fileId']}").status_code == 404
        # With no room for the declared size, uploads are refused before any byte.
        r = httpx.post(f"{api}/upload?filename=o.png", headers=auth, content=png)
        assert r.status_code == 507, r.text
        assert not temp_files(data, "")
        filler.unlink()
        r = httpx.put(target, content=png)
        assert r.status_code == 200, r.text
        assert httpx.get(f"{server.url}/i/{p['fileId']}").content == png
    finally:
        server.stop()
    out = server.output()
    assert "unhandled error" not in out, out[-3000:]
    rows = db_rows(data, "SELECT status FROM files")
    assert rows == [("ready",)]  # the one-request upload left nothing


def test_disk_full_errors_are_507_wherever_they_come_from():
    import errno

    from tortoise.exceptions import OperationalError

    from pichr_appliance.errors import as_api_error

    class Req:
        method, path, id = "POST", "/api/v1/auth/login", "r1"

    for exc in (
        OSError(errno.ENOSPC, "No space left on device"),
        OperationalError("database or disk is full"),
    ):
        err = as_api_error(Req(), exc)
        assert (err.status, err.code) == (507, "insufficient_storage")
    assert as_api_error(Req(), OSError(errno.EACCES, "denied")).status == 500
