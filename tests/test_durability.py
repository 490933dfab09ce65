"""The commit protocol, checked in the system calls of a real ``serve`` (strace -f).

For one direct PUT, one one-request upload, and one multipart part and its complete,
the trace must show, in this order: an fsync of the temp file, its rename onto the
object path, an fsync of the object's folder, an fsync of the SQLite WAL (the commit
that marks it ready), and only then the HTTP answer on the socket
(docs/reliability.md "Commit protocol").
"""

from __future__ import annotations

import io
import os
import re
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from PIL import Image

from pichr_appliance.testing import LiveServer

STRACE = "/usr/bin/strace"
CALLS = "fsync,fdatasync,rename,renameat,renameat2,write,sendto,sendmsg,writev"
LINE = re.compile(r"^(\d+)\s+\S+\s+(.*)$")
FD_PATH = re.compile(r"^\w+\((\d+)<(.*?)>[,)]")
QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')

pytestmark = [pytest.mark.slow]


@pytest.fixture
def strace() -> None:
    """strace is a test requirement (scripts/test installs it): skipped on a developer's
    machine without it, a failure in CI (``CI`` set)."""
    if not os.access(STRACE, os.X_OK):
        message = f"no strace at {STRACE}: apt-get install strace"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@dataclass
class Call:
    """One system call: where it started and ended in the trace, and its text."""

    start: int
    end: int
    name: str
    text: str

    @property
    def fd_path(self) -> str | None:
        """The path strace -y printed for the first (fd) argument."""
        m = FD_PATH.match(self.text)
        return m.group(2) if m else None


def parse_trace(path: Path) -> list[Call]:
    """Calls in trace order; a call split by another thread (unfinished/resumed) is
    joined, keeping the line where it started and the line where it returned."""
    calls: list[Call] = []
    pending: dict[str, tuple[int, str]] = {}
    for index, raw in enumerate(path.read_text(errors="replace").splitlines()):
        m = LINE.match(raw)
        if not m:
            continue
        pid, rest = m.groups()
        if rest.startswith(("+++", "---")):
            continue
        if rest.endswith("<unfinished ...>"):
            pending[pid] = (index, rest[: -len("<unfinished ...>")].rstrip())
            continue
        start = index
        if rest.startswith("<... "):
            begun = pending.pop(pid, None)
            if begun is None:
                continue
            start, head = begun
            rest = head + rest.split("resumed>", 1)[1]
        name = rest.split("(", 1)[0]
        calls.append(Call(start, index, name, rest))
    return calls


def strace_python(tmp_path: Path, trace: Path) -> str:
    """A wrapper 'interpreter' that runs this Python under strace -f."""
    wrapper = tmp_path / "traced-python"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'exec {STRACE} -f -tt -yy -s 48 -o "{trace}" -e trace={CALLS} "{sys.executable}" "$@"\n'
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return str(wrapper)


def noisy_png(side: int = 400) -> bytes:
    """A PNG that does not compress (a body of several chunks)."""
    buf = io.BytesIO()
    Image.effect_noise((side, side), 80).convert("RGB").save(buf, "PNG")
    return buf.getvalue()


def first(calls: list[Call], after: int, test, what: str) -> Call:
    """The first call that starts after line ``after`` and passes ``test``."""
    for call in calls:
        if call.start > after and test(call):
            return call
    raise AssertionError(f"no {what} after trace line {after}")


def check_protocol(calls: list[Call], obj: Path) -> None:
    """Assert fsync(temp) < rename(temp, obj) < fsync(dir) < fsync(WAL) < answer."""
    obj_s = str(obj)
    renames = [c for c in calls if c.name.startswith("rename") and obj_s in QUOTED.findall(c.text)]
    assert len(renames) == 1, f"expected one rename onto {obj}, got {renames}"
    rename = renames[0]
    temp = QUOTED.findall(rename.text)[0]
    assert temp != obj_s
    writes = [c for c in calls if c.name == "write" and c.fd_path == temp and c.end < rename.start]
    assert writes, f"no write to the temp file {temp}"
    syncs = [
        c
        for c in calls
        if c.name in ("fsync", "fdatasync") and c.fd_path == temp and c.end < rename.start
    ]
    assert syncs, f"the temp file {temp} was not fsynced before its rename"
    assert syncs[-1].start > writes[-1].end, "the temp file was written after its fsync"
    folder = first(
        calls,
        rename.end,
        lambda c: c.name in ("fsync", "fdatasync") and c.fd_path == str(obj.parent),
        "fsync of the object's folder",
    )
    answer = first(
        calls,
        rename.end,
        lambda c: (
            c.name in ("write", "sendto", "sendmsg", "writev")
            and "TCP:" in (c.fd_path or "")
            and re.search(r'"HTTP/1\.1 20[01] ', c.text) is not None
        ),
        "HTTP answer",
    )
    assert folder.end < answer.start, "answered before the folder was fsynced"
    wal = first(
        calls,
        folder.end,
        lambda c: c.name in ("fsync", "fdatasync") and (c.fd_path or "").endswith("-wal"),
        "SQLite WAL fsync",
    )
    assert wal.end < answer.start, "answered before the commit that marks it ready was fsynced"


def object_path(data: Path, file_id: str) -> Path:
    found = list((data / "storage").glob(f"uploads/*/{file_id}/*"))
    assert len(found) == 1, found
    return found[0].resolve()


@pytest.mark.timeout(240)
def test_uploads_are_durable_before_they_are_ready_and_answered(strace, tmp_path):
    data = (tmp_path / "data").resolve()
    trace = tmp_path / "serve.trace"
    env = {
        # SQLite whatever PICHR_TEST_DATABASE says: the WAL fsync is what is checked.
        "PICHR_DATABASE__URL": "sqlite://" + str(data / "pichr.sqlite3"),
        "PICHR_STORAGE__MIN_FREE_BYTES": "0",
    }
    server = LiveServer(data, env=env, python=strace_python(tmp_path, trace))
    server.start(timeout=120)
    try:
        body = {"email": "d@example.com", "username": "durable", "password": "a long password"}
        r = httpx.post(server.url + "/api/v1/auth/signup", json=body, timeout=60)
        assert r.status_code == 201, r.text
        auth = {"Authorization": "Bearer " + r.json()["session"]["access_token"]}
        png = noisy_png()
        meta = {"filename": "d.png", "mime": "image/png", "bytes": len(png)}
        p = httpx.post(server.url + "/api/v1/upload/presign", headers=auth, json=meta, timeout=60)
        assert p.status_code == 201, p.text
        put = httpx.put(p.json()["uploadUrl"], content=png, timeout=60)
        assert put.status_code == 200 and put.json()["status"] == "ready", put.text
        direct_id = p.json()["fileId"]
        one = httpx.post(
            server.url + "/api/v1/upload",
            params={"filename": "o.png"},
            headers=auth,
            content=noisy_png(300),
            timeout=60,
        )
        assert one.status_code == 201, one.text
        one_id = one.json()["id"]
        multi_id, multi_upload = multipart_upload(server.url, auth, noisy_png(350))
    finally:
        server.stop()
    calls = parse_trace(trace)
    check_protocol(calls, object_path(data, direct_id))
    check_protocol(calls, object_path(data, one_id))
    # The part went through the protocol too, then the joined object.
    check_protocol(calls, renamed_onto(calls, f"/storage/multipart/{multi_upload}/00001."))
    check_protocol(calls, object_path(data, multi_id))


def multipart_upload(base: str, auth: dict, png: bytes) -> tuple[str, str]:
    """One part (the last part may be small), then complete: (file id, part's key)."""
    init = {"filename": "m.png", "mime": "image/png", "totalBytes": len(png)}
    init["partSize"] = 5 * 1024 * 1024
    r = httpx.post(base + "/api/v1/upload/multipart/init", headers=auth, json=init, timeout=60)
    assert r.status_code == 201, r.text
    m = r.json()
    part = httpx.put(m["partUrls"][0], headers=auth, content=png, timeout=60)
    assert part.status_code == 200, part.text
    done = {
        "uploadId": m["uploadId"],
        "fileId": m["fileId"],
        "r2Key": m["r2Key"],
        "parts": [{"partNumber": 1, "etag": part.json()["etag"]}],
    }
    r = httpx.post(base + "/api/v1/upload/multipart/complete", headers=auth, json=done, timeout=60)
    assert r.status_code == 200, r.text
    return m["fileId"], m["uploadId"]


def renamed_onto(calls: list[Call], fragment: str) -> Path:
    """The destination of the one rename whose target contains ``fragment`` (a part's
    key is random, and the part is gone once the upload completed)."""
    targets = {
        QUOTED.findall(c.text)[1]
        for c in calls
        if c.name.startswith("rename") and len(QUOTED.findall(c.text)) > 1
    }
    found = [t for t in targets if fragment in t]
    assert len(found) == 1, found
    return Path(found[0])


def test_the_order_check_refuses_an_answer_before_the_commit(tmp_path):
    """The parser refuses a trace where the answer comes before the WAL fsync."""
    obj = tmp_path / "storage/uploads/d/f/x.png"
    lines = [
        f'1 00:00:00.1 write(7<{tmp_path}/tmp/t>, "abc", 3) = 3',
        # Another thread's call between the start and the end of the fsync.
        f"1 00:00:00.2 fsync(7<{tmp_path}/tmp/t> <unfinished ...>",
        '3 00:00:00.2 write(11<pipe:[5]>, "y", 1) = 1',
        "1 00:00:00.2 <... fsync resumed>) = 0",
        f'1 00:00:00.3 rename("{tmp_path}/tmp/t", "{obj}") = 0',
        f"1 00:00:00.4 fsync(8<{obj.parent}>) = 0",
        '1 00:00:00.5 sendto(9<TCP:[1->2]>, "HTTP/1.1 200 OK", 15, 0, NULL, 0) = 15',
        f"2 00:00:00.6 fsync(10<{tmp_path}/pichr.sqlite3-wal>) = 0",
    ]
    trace = tmp_path / "t.trace"
    trace.write_text("\n".join(lines) + "\n")
    with pytest.raises(AssertionError, match="before the commit"):
        check_protocol(parse_trace(trace), obj)
    # Reordered (the commit first), the same calls pass.
    lines.insert(6, lines.pop(7))
    trace.write_text("\n".join(lines) + "\n")
    check_protocol(parse_trace(trace), obj)
