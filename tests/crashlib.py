"""The seeded crash driver shared by tests/test_crash.py and scripts/crash-test.

One seed: a real ``serve --workers 2``; a few client threads run random operations
(direct, one-request and multipart uploads, deletes, patches, album changes, variant
requests) while a timer ``kill -9``s the whole process group at a random moment; the
server restarts and :func:`check` verifies the invariant; repeat for a few cycles.

What the clients were told (an acknowledgement) is recorded in :class:`Model`; an
operation whose answer never arrived is "unacknowledged" and may have happened or not.
The invariant after every restart:

- every acknowledged upload reads back byte-identical (and its record names the same
  size and sha256); every acknowledged delete stays deleted (404 on the API and /i/);
- nothing half-written is visible: every file the owner lists as ``ready`` serves bytes
  that are exactly one of the bodies the clients sent; no other file serves bytes;
- every unacknowledged upload can be retried to success (after the claim lease);
- ``gc`` leaves database and storage consistent: a second ``gc --dry-run`` finds no
  orphaned object, no record with missing bytes, no stranded upload, no stale temp file.

The same seed gives the same operations and kill delays (thread interleaving and the
server's own timing still vary; a failure prints the seed to rerun).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import random
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from PIL import Image

from pichr_appliance.testing import LiveServer

LEASE = 2  # uploads.receive_lease_seconds: how long a dead request's claim holds
CLIENTS = 3  # client threads per cycle
TIMEOUT = httpx.Timeout(30.0)  # generous: only to detect a hang


class Violation(AssertionError):
    """The invariant does not hold (the message says which part, and for what)."""


def png(rng: random.Random) -> bytes:
    """A small noise PNG from ``rng`` (distinct bytes for every upload)."""
    w, h = rng.randint(16, 160), rng.randint(16, 120)
    buf = io.BytesIO()
    Image.frombytes("RGB", (w, h), rng.randbytes(w * h * 3)).save(buf, "PNG")
    return buf.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Pending:
    """An upload whose answer was lost: how to retry it."""

    kind: str  # direct | multipart | one
    data: bytes
    file_id: str | None = None
    target: str | None = None  # direct: the PUT path; multipart: the part path
    upload_id: str | None = None


@dataclass
class Model:
    """What the clients were told, shared by the client threads (under ``lock``)."""

    files: dict[str, bytes] = field(default_factory=dict)  # acked uploads -> body
    titles: dict[str, set[str]] = field(default_factory=dict)  # acceptable titles
    deleted: set[str] = field(default_factory=set)  # acked deletes
    maybe_deleted: set[str] = field(default_factory=set)  # unacked deletes
    albums: dict[str, dict[str, bool | None]] = field(default_factory=dict)
    # (album, file) pairs with changes in flight, and those whose changes overlapped:
    # the server may have applied them in either order, so the outcome is unknown.
    inflight: dict[tuple[str, str], int] = field(default_factory=dict)
    overlapped: set[tuple[str, str]] = field(default_factory=set)
    pending: list[Pending] = field(default_factory=list)
    sent: dict[str, bytes] = field(default_factory=dict)  # sha256 -> every body sent
    ops: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, name: str) -> None:
        with self.lock:
            self.ops[name] = self.ops.get(name, 0) + 1

    def live(self) -> list[str]:
        with self.lock:
            return [f for f in self.files if f not in self.deleted and f not in self.maybe_deleted]

    def going(self, fid: str) -> bool:
        """Deleted, or being deleted, by another client since it was picked (seed 103:
        a file picked as live was deleted before its album request was answered)."""
        with self.lock:
            return fid in self.deleted or fid in self.maybe_deleted


class Lost(Exception):
    """The server went away mid-request (the kill)."""


class Client:
    """One client thread's HTTP session; 5xx answers are violations at once."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.http = httpx.Client(base_url=url, timeout=TIMEOUT, headers=headers)

    def call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            r = self.http.request(method, path, **kw)
        except httpx.TransportError as exc:
            raise Lost(str(exc)) from exc
        if r.status_code >= 500:
            raise Violation(f"{method} {path}: {r.status_code} {r.text[:300]}")
        return r

    def close(self) -> None:
        self.http.close()


def _path(url: str) -> str:
    u = urlsplit(url)
    return f"{u.path}?{u.query}"


def op_direct(c: Client, m: Model, rng: random.Random) -> None:
    data = png(rng)
    m.sent[sha(data)] = data
    body = {"filename": "d.png", "mime": "image/png", "bytes": len(data)}
    p = c.call("POST", "/api/v1/upload/presign", json=body).json()
    pend = Pending("direct", data, p["fileId"], _path(p["uploadUrl"]))
    try:
        r = c.call("PUT", pend.target, content=data)
    except Lost:
        with m.lock:
            m.pending.append(pend)
        raise
    _acked_upload(m, r, 200, p["fileId"], data)


def op_one(c: Client, m: Model, rng: random.Random) -> None:
    data = png(rng)
    m.sent[sha(data)] = data
    try:
        r = c.call("POST", "/api/v1/upload?filename=o.png", content=data)
    except Lost:
        with m.lock:
            m.pending.append(Pending("one", data))
        raise
    _acked_upload(m, r, 201, r.json().get("id"), data)


def op_multipart(c: Client, m: Model, rng: random.Random) -> None:
    data = png(rng)
    m.sent[sha(data)] = data
    body = {"filename": "m.png", "mime": "image/png", "totalBytes": len(data)}
    r = c.call("POST", "/api/v1/upload/multipart/init", json={**body, "partSize": len(data)})
    init = r.json()
    pend = Pending("multipart", data, init["fileId"], _path(init["partUrls"][0]), init["uploadId"])
    try:
        r = _complete_multipart(c, pend)
    except Lost:
        with m.lock:
            m.pending.append(pend)
        raise
    _acked_upload(m, r, 200, pend.file_id, data)


def _complete_multipart(c: Client, pend: Pending) -> httpx.Response:
    r = c.call("PUT", pend.target, content=pend.data)
    if r.status_code != 200:
        return r
    parts = [{"partNumber": 1, "etag": r.json()["etag"]}]
    done = {"uploadId": pend.upload_id, "fileId": pend.file_id, "parts": parts}
    return c.call("POST", "/api/v1/upload/multipart/complete", json=done)


def _acked_upload(m: Model, r: httpx.Response, want: int, file_id: str, data: bytes) -> None:
    if r.status_code != want:
        raise Violation(f"upload of {file_id}: {r.status_code} {r.text[:300]}")
    with m.lock:
        m.files[file_id] = data
        m.titles[file_id] = {""}


def op_delete(c: Client, m: Model, rng: random.Random) -> None:
    live = m.live()
    if not live:
        return
    fid = rng.choice(live)
    with m.lock:
        m.maybe_deleted.add(fid)
    r = c.call("DELETE", f"/api/v1/files/{fid}")
    if r.status_code != 204:
        raise Violation(f"DELETE {fid}: {r.status_code} {r.text[:300]}")
    with m.lock:
        m.deleted.add(fid)
        m.maybe_deleted.discard(fid)


def op_patch(c: Client, m: Model, rng: random.Random) -> None:
    live = m.live()
    if not live:
        return
    fid, title = rng.choice(live), f"t{rng.randrange(10**6)}"
    with m.lock:
        m.titles[fid].add(title)  # either may hold until the answer arrives
    r = c.call("PATCH", f"/api/v1/files/{fid}", json={"title": title})
    if r.status_code == 404 and m.going(fid):
        return  # another thread deleted it meanwhile
    if r.status_code != 200:
        raise Violation(f"PATCH {fid}: {r.status_code} {r.text[:300]}")
    with m.lock:
        m.titles[fid] = {title} if len(m.titles[fid]) <= 2 else m.titles[fid]


def op_album(c: Client, m: Model, rng: random.Random) -> None:
    live = m.live()
    if not live:
        return
    fid = rng.choice(live)
    with m.lock:
        albums = list(m.albums)
    if not albums or rng.random() < 0.2:
        r = c.call("POST", "/api/v1/albums", json={"title": "a", "fileIds": [fid]})
        if r.status_code == 201:
            with m.lock:
                m.albums[r.json()["id"]] = {fid: True}
        elif not (r.status_code == 400 and m.going(fid)):
            raise Violation(f"POST /albums: {r.status_code} {r.text[:300]}")
        return
    aid = rng.choice(albums)
    pair = (aid, fid)
    with m.lock:
        add = not m.albums[aid].get(fid)
        m.albums[aid][fid] = None  # unknown until answered
        m.inflight[pair] = m.inflight.get(pair, 0) + 1
        if m.inflight[pair] > 1:
            m.overlapped.add(pair)  # seed 151: two clients changed one pair at once
    done = False
    try:
        if add:
            r = c.call("POST", f"/api/v1/albums/{aid}/files", json={"fileIds": [fid]})
        else:
            r = c.call("DELETE", f"/api/v1/albums/{aid}/files/{fid}")
        if r.status_code in (400, 404) and m.going(fid):
            return
        if r.status_code not in (200, 201, 204):
            raise Violation(f"album change {aid}/{fid}: {r.status_code} {r.text[:300]}")
        done = True
    finally:
        with m.lock:
            m.inflight[pair] -= 1
            if done and pair not in m.overlapped:
                m.albums[aid][fid] = add
            if not m.inflight[pair]:
                m.overlapped.discard(pair)


def op_variant(c: Client, m: Model, rng: random.Random) -> None:
    live = m.live()
    if not live:
        return
    fid = rng.choice(live)
    r = c.call("GET", f"/i/{fid}?w={rng.choice([64, 320])}&format={rng.choice(['webp', 'png'])}")
    if r.status_code == 404 and m.going(fid):
        return
    if r.status_code != 200 or not r.content:
        raise Violation(f"variant of {fid}: {r.status_code} {r.text[:300]}")


OPS = [
    (op_direct, 4),
    (op_one, 3),
    (op_multipart, 2),
    (op_delete, 1),
    (op_patch, 2),
    (op_album, 2),
    (op_variant, 2),
]


def client_loop(c: Client, m: Model, rng: random.Random, stop: threading.Event, errors: list):
    """Random operations until the kill (or a violation)."""
    funcs, weights = zip(*OPS, strict=True)
    try:
        while not stop.is_set():
            op = rng.choices(funcs, weights)[0]
            m.count(op.__name__[3:])
            op(c, m, rng)
    except Lost:
        pass
    except Violation as exc:
        errors.append(exc)
    except Exception as exc:  # noqa: BLE001 - a bug of the driver or a bad answer
        errors.append(Violation(f"{type(exc).__name__}: {exc}"))


# ---------------------------------------------------------------- after the restart


def _files(c: Client) -> dict[str, dict]:
    """Every file the owner has (all pages)."""
    out: dict[str, dict] = {}
    while True:
        r = c.call("GET", "/api/v1/files", params={"limit": 100, "offset": len(out)})
        page = r.json()["files"]
        out.update((f["id"], f) for f in page)
        if len(page) < 100:
            return out


def retry(c: Client, m: Model, pend: Pending) -> None:
    """An unacknowledged upload succeeds on retry (once the dead request's claim is out)."""
    deadline = time.monotonic() + LEASE + 15
    while True:
        if pend.kind == "one":
            r, want = c.call("POST", "/api/v1/upload?filename=o.png", content=pend.data), 201
        elif pend.kind == "direct":
            r, want = c.call("PUT", pend.target, content=pend.data), 200
        else:
            r, want = _complete_multipart(c, pend), 200
        code = r.json().get("code") if r.headers.get("content-type", "").startswith("appl") else ""
        if r.status_code == want:
            fid = r.json()["id"] if pend.kind == "one" else pend.file_id
            break
        if (
            r.status_code == 409
            and code == "upload_completed"
            or (pend.kind == "multipart" and r.status_code == 404 and _ready(c, pend.file_id))
        ):
            fid = pend.file_id  # it had completed; only its answer was lost
            break
        if r.status_code != 409 or time.monotonic() > deadline:
            raise Violation(f"retry of {pend.kind} {pend.file_id}: {r.status_code} {r.text[:300]}")
        time.sleep(0.3)
    with m.lock:
        m.files[fid] = pend.data
        m.titles.setdefault(fid, {""})


def _ready(c: Client, fid: str) -> bool:
    r = c.call("GET", f"/api/v1/files/{fid}")
    return r.status_code == 200 and r.json()["status"] == "ready"


def check(c: Client, m: Model) -> dict[str, int]:
    """The invariant, through the API (gc is checked by :func:`check_gc`)."""
    listed = _files(c)
    for fid, data in m.files.items():
        if fid in m.deleted or fid in m.maybe_deleted and fid not in listed:
            continue
        rec = listed.get(fid)
        if rec is None or rec["status"] != "ready":
            raise Violation(f"acknowledged upload {fid} is {rec and rec['status']}")
        if (rec["sha256"], rec["bytes"]) != (sha(data), len(data)):
            raise Violation(f"record of {fid} names other bytes than were uploaded")
        got = c.call("GET", f"/i/{fid}")
        if got.status_code != 200 or got.content != data:
            raise Violation(f"acknowledged upload {fid}: {got.status_code}, bytes differ")
        if rec["title"] not in m.titles.get(fid, {""}):
            raise Violation(f"{fid}: title {rec['title']!r}, acknowledged {m.titles[fid]}")
    for fid in m.deleted:
        if fid in listed or c.call("GET", f"/i/{fid}").status_code != 404:
            raise Violation(f"acknowledged delete of {fid} came back")
    for fid, rec in listed.items():  # nothing half-written, nothing unknown served
        got = c.call("GET", f"/i/{fid}")
        if rec["status"] == "ready":
            if got.status_code != 200 or got.content != m.sent.get(rec["sha256"]):
                raise Violation(f"ready file {fid} serves bytes nobody sent ({got.status_code})")
            if sha(got.content) != rec["sha256"] or len(got.content) != rec["bytes"]:
                raise Violation(f"ready file {fid}: bytes differ from its record")
        elif got.status_code == 200:
            raise Violation(f"{rec['status']} file {fid} serves bytes")
    for aid, members in m.albums.items():
        r = c.call("GET", f"/api/v1/albums/{aid}", params={"limit": 100})
        if r.status_code != 200:
            raise Violation(f"album {aid}: {r.status_code}")
        inside = {f["id"] for f in r.json()["files"]}
        for fid, want in members.items():
            if want is None or fid in m.deleted or fid in m.maybe_deleted:
                continue
            if (fid in inside) != want:
                raise Violation(f"album {aid}: {fid} inside={fid in inside}, acknowledged {want}")
    # The quota: a crash between a record's change and its usage update would leave
    # the owner charged for bytes that are gone (or not charged for ones that stay).
    usage = c.call("GET", "/api/v1/auth/me").json()["user"]["usage"]
    ready = [rec["bytes"] for rec in listed.values() if rec["status"] == "ready"]
    if (usage["bytes"], usage["files"]) != (sum(ready), len(ready)):
        raise Violation(f"usage {usage} but {len(ready)} ready files of {sum(ready)} bytes")
    return {"files": len(listed)}


def gc(server: LiveServer, *args: str) -> dict:
    """``pichr-appliance gc --json`` on the server's data dir and database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PICHR_")}
    env.update({k: v for k, v in server.env.items() if k.startswith("PICHR_")})
    cmd = [server.python, "-m", "pichr_appliance", "gc", "--json", *args]
    r = subprocess.run(
        [*cmd, "--data-dir", str(server.data_dir)], env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    if r.returncode != 0:
        raise Violation(f"gc {args}: exit {r.returncode}: {r.stderr[-2000:]}")
    return json.loads(r.stdout)


def check_gc(server: LiveServer) -> dict:
    """gc, then a dry run that must find nothing left to do."""
    done = gc(server)
    again = gc(server, "--dry-run")
    left = {
        k: again[k] for k in ("orphanedObjects", "missingBytes", "staleTempFiles") if again.get(k)
    }
    if again.get("strandedUploads"):
        left["strandedUploads"] = again["strandedUploads"]
    if left or done.get("missingBytes"):
        raise Violation(f"gc left storage and database apart: {left or done['missingBytes']}")
    return done


# ---------------------------------------------------------------- one seed


def server_env(data: Path) -> dict[str, str]:
    """Short claim leases, no rate limits (the clients are many and fast)."""
    env = {
        "PICHR_UPLOADS__RECEIVE_LEASE_SECONDS": str(LEASE),
        "PICHR_UPLOADS__SWEEP_INTERVAL": "5",
        "PICHR_RATE_LIMITS__ENABLED": "false",
    }
    if not os.environ.get("PICHR_TEST_DATABASE"):
        env["PICHR_DATABASE__URL"] = "sqlite://" + str(data.resolve() / "pichr.sqlite3")
    return env


def kill_hard(server: LiveServer) -> None:
    """kill -9 of the whole process group (main process and workers)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.proc.pid, signal.SIGKILL)
    server.proc.wait(10)


def signup(url: str) -> dict[str, str]:
    body = {"email": "c@example.com", "username": "crasher", "password": "a long password"}
    r = httpx.post(url + "/api/v1/auth/signup", json=body, timeout=TIMEOUT)
    if r.status_code != 201:
        raise Violation(f"signup: {r.status_code} {r.text[:300]}")
    return {"Authorization": "Bearer " + r.json()["session"]["access_token"]}


def run_seed(seed: int, root: Path, cycles: int = 3, log=None) -> dict[str, Any]:
    """``cycles`` x (random operations, kill -9, restart, invariant); returns a summary.

    Raises :class:`Violation` (its message starts with the seed) when the invariant
    breaks."""
    rng = random.Random(seed)
    data = root / f"seed-{seed}" / "data"
    m = Model()
    env = server_env(data)
    server = LiveServer(data, env=env, args=["--workers", "2"]).start()
    try:
        headers = signup(server.url)
        for cycle in range(cycles):
            errors: list[Violation] = []
            stop = threading.Event()
            clients = [Client(server.url, headers) for _ in range(CLIENTS)]
            threads = [
                threading.Thread(
                    target=client_loop, args=(c, m, random.Random(rng.random()), stop, errors)
                )
                for c in clients
            ]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.5, 3.0))  # the random moment
            kill_hard(server)
            killed_at = time.monotonic()
            stop.set()
            for t in threads:
                t.join(60)
            for c in clients:
                c.close()
            if errors:
                raise errors[0]
            # Same env (and database) as before: the restart finds what the kill left.
            server = LiveServer(data, env=server.env, args=["--workers", "2"]).start()
            c = Client(server.url, headers)
            try:
                with m.lock:
                    pending, m.pending = m.pending, []
                for pend in pending:
                    retry(c, m, pend)
                summary = check(c, m)
            finally:
                c.close()
            server.stop()
            # The claims of requests the kill cut run out LEASE s after it: gc then
            # recovers them. Before that, a dry run just after gc could find one run
            # out meanwhile (seed 116), which says nothing about gc.
            time.sleep(max(0.0, killed_at + LEASE + 0.5 - time.monotonic()))
            report = check_gc(server)
            if log:
                log(f"seed {seed} cycle {cycle}: retried {len(pending)}, {summary['files']} "
                    f"files, gc removed {len(report['orphanedObjects'])} orphans")  # fmt: skip
            server = LiveServer(data, env=server.env, args=["--workers", "2"]).start()
    except Violation as exc:
        raise Violation(f"seed {seed}: {exc} (server log: {server.log})") from None
    finally:
        server.stop()
    return {"seed": seed, "ops": dict(m.ops), "files": len(m.files), "deleted": len(m.deleted)}
