"""Soak: mixed load from N clients for T seconds against ``serve --workers W``.

Each client (asyncio, one connection) loops over a weighted mix: uploads of the three
kinds (presign + direct PUT, one-request, multipart init + part + complete), GETs of
originals (bytes checked against what was uploaded) and of variants, API reads (own
list, one file), patches, deletes and album changes. Clients share a few accounts.
Afterwards every surviving file is fetched and its bytes verified by sha256 against
what was uploaded. Printed: requests and status counts per kind, p50/p99 latency per
kind, unexpected answers (5xx but a 503 `overloaded` with Retry-After, connection
errors, wrong bytes), and RSS and open file
descriptors of every server process at the start (after seeding) and at the end.

Loopback only; rate limits are off (the clients are the load, not an abuse).
Usage: .venv/bin/python bench/bench_soak.py [--clients 200] [--seconds 600] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from _common import live_server, process_tree, rss_bytes, signup

ACCOUNTS = 10
WEIGHTS = {
    "direct": 4,
    "one": 3,
    "multipart": 1,
    "original": 12,
    "variant": 5,
    "api": 6,
    "patch": 2,
    "delete": 1,
    "album": 2,
}


def image_pool(n: int, rng: random.Random) -> list[bytes]:
    """``n`` small noise PNGs (2-40 KB), distinct bytes."""
    from PIL import Image

    out = []
    for _ in range(n):
        w, h = rng.randint(24, 120), rng.randint(24, 100)
        buf = io.BytesIO()
        Image.frombytes("RGB", (w, h), rng.randbytes(w * h * 3)).save(buf, "PNG")
        out.append(buf.getvalue())
    return out


class Stats:
    """Status counts and latencies per kind, and what went wrong."""

    def __init__(self) -> None:
        self.status: dict[str, dict[str, int]] = {}
        self.times: dict[str, list[float]] = {}
        self.unexpected: list[str] = []

    def add(self, kind: str, status: int | str, took: float, expected: bool = False) -> None:
        counts = self.status.setdefault(kind, {})
        counts[str(status)] = counts.get(str(status), 0) + 1
        self.times.setdefault(kind, []).append(took)
        if not expected and (isinstance(status, str) or status >= 500):
            self.unexpected.append(f"{kind}: {status}")

    def summary(self) -> dict[str, Any]:
        kinds = {}
        for kind, times in sorted(self.times.items()):
            times = sorted(times)
            kinds[kind] = {
                "requests": len(times),
                "status": self.status[kind],
                "p50_ms": round(times[len(times) // 2] * 1000, 1),
                "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))] * 1000, 1),
            }
        return kinds


class Account:
    """One account's files as the clients know them (uploaded bytes by file id)."""

    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers
        self.files: dict[str, str] = {}  # file id -> sha256 of what was uploaded
        self.deleting: set[str] = set()
        self.albums: list[str] = []

    def live(self) -> list[str]:
        return [f for f in self.files if f not in self.deleting]


async def call(c: httpx.AsyncClient, st: Stats, kind: str, method: str, url: str, **kw):
    """One request, timed and counted; None on a connection error."""
    t0 = time.perf_counter()
    try:
        r = await c.request(method, url, **kw)
    except httpx.HTTPError as exc:
        st.add(kind, type(exc).__name__, time.perf_counter() - t0)
        return None
    took = time.perf_counter() - t0
    if r.status_code == 503 and r.headers.get("retry-after") and _code(r) == "overloaded":
        st.add(kind, "503 overloaded", took, expected=True)  # the stated overload answer
    else:
        st.add(kind, r.status_code, took)
    return r


def _code(r: httpx.Response) -> str | None:
    try:
        return r.json().get("code")
    except ValueError:
        return None


def _path(url: str) -> str:
    u = urlsplit(url)
    return f"{u.path}?{u.query}"


async def upload(c, st: Stats, acc: Account, kind: str, data: bytes) -> None:
    """An upload of ``kind``; the file joins the account's files once acknowledged."""
    h = acc.headers
    if kind == "one":
        r = await call(
            c, st, kind, "POST", "/api/v1/upload?filename=s.png", content=data, headers=h
        )
        fid = r.json()["id"] if r is not None and r.status_code == 201 else None
    elif kind == "direct":
        body = {"filename": "s.png", "mime": "image/png", "bytes": len(data)}
        r = await call(c, st, "presign", "POST", "/api/v1/upload/presign", json=body, headers=h)
        if r is None or r.status_code != 201:
            return
        fid = r.json()["fileId"]
        r = await call(c, st, kind, "PUT", _path(r.json()["uploadUrl"]), content=data)
        fid = fid if r is not None and r.status_code == 200 else None
    else:
        body = {"filename": "s.png", "mime": "image/png", "totalBytes": len(data)}
        body["partSize"] = len(data)
        r = await call(
            c, st, "multipart", "POST", "/api/v1/upload/multipart/init", json=body, headers=h
        )
        if r is None or r.status_code != 201:
            return
        init = r.json()
        r = await call(
            c, st, "multipart", "PUT", _path(init["partUrls"][0]), content=data, headers=h
        )
        if r is None or r.status_code != 200:
            return
        parts = [{"partNumber": 1, "etag": r.json()["etag"]}]
        done = {"uploadId": init["uploadId"], "fileId": init["fileId"], "parts": parts}
        r = await call(
            c, st, "multipart", "POST", "/api/v1/upload/multipart/complete", json=done, headers=h
        )
        fid = init["fileId"] if r is not None and r.status_code == 200 else None
    if fid:
        acc.files[fid] = hashlib.sha256(data).hexdigest()


async def one_op(c, st: Stats, acc: Account, rng: random.Random, pool: list[bytes]) -> None:
    """One operation of the mix."""
    kind = rng.choices(list(WEIGHTS), list(WEIGHTS.values()))[0]
    live = acc.live()
    if kind in ("direct", "one", "multipart") or not live:
        await upload(
            c, st, acc, kind if kind in ("direct", "one") else "multipart", rng.choice(pool)
        )
        return
    fid, h = rng.choice(live), acc.headers
    if kind == "original":
        r = await call(c, st, kind, "GET", f"/i/{fid}")
        served = r is not None and r.status_code == 200
        if served and hashlib.sha256(r.content).hexdigest() != acc.files.get(fid):
            st.unexpected.append(f"original {fid}: bytes differ")
    elif kind == "variant":
        w, fmt = rng.choice([64, 160, 320]), rng.choice(["webp", "jpeg", "png"])
        await call(c, st, kind, "GET", f"/i/{fid}?w={w}&format={fmt}")
    elif kind == "api":
        if rng.random() < 0.5:
            await call(c, st, kind, "GET", "/api/v1/files?limit=20", headers=h)
        else:
            await call(c, st, kind, "GET", f"/api/v1/files/{fid}", headers=h)
    elif kind == "patch":
        body = {"title": f"t{rng.randrange(10**6)}"}
        await call(c, st, kind, "PATCH", f"/api/v1/files/{fid}", json=body, headers=h)
    elif kind == "delete":
        acc.deleting.add(fid)
        r = await call(c, st, kind, "DELETE", f"/api/v1/files/{fid}", headers=h)
        if r is not None and r.status_code == 204:
            acc.files.pop(fid, None)
    elif not acc.albums or rng.random() < 0.1:
        body = {"title": "soak", "fileIds": [fid]}
        r = await call(c, st, "album", "POST", "/api/v1/albums", json=body, headers=h)
        if r is not None and r.status_code == 201:
            acc.albums.append(r.json()["id"])
    else:
        aid = rng.choice(acc.albums)
        body = {"fileIds": [fid]}
        await call(c, st, "album", "POST", f"/api/v1/albums/{aid}/files", json=body, headers=h)


def processes(pid: int) -> list[dict[str, int]]:
    """RSS and open descriptors of every process of the server."""
    out = []
    for p in process_tree(pid):
        try:
            fds = len(os.listdir(f"/proc/{p}/fd"))
        except OSError:
            continue
        out.append({"pid": p, "rss_mb": round(rss_bytes(p) / 2**20, 1), "fds": fds})
    return out


async def drive(
    url: str, clients: int, seconds: float, seed: int
) -> tuple[Stats, list[Account], Any]:
    """Sign up the accounts, seed files, run the clients; returns the stats and accounts."""
    rng = random.Random(seed)
    pool = image_pool(200, rng)
    accounts = [Account(await asyncio.to_thread(signup, url)) for _ in range(ACCOUNTS)]
    st = Stats()
    timeout = httpx.Timeout(60.0)  # generous: only to detect a hang
    async with httpx.AsyncClient(base_url=url, timeout=timeout) as c:
        for acc in accounts:
            for kind in ("direct", "one", "multipart"):
                await upload(c, st, acc, kind, rng.choice(pool))
    deadline = time.monotonic() + seconds

    async def client(n: int) -> None:
        crng, acc = random.Random(rng.random()), accounts[n % ACCOUNTS]
        limits = httpx.Limits(max_connections=1)
        async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as c:
            while time.monotonic() < deadline:
                await one_op(c, st, acc, crng, pool)

    return st, accounts, client


async def verify(url: str, accounts: list[Account]) -> dict[str, int]:
    """Every surviving file's bytes against the sha256 of what was uploaded."""
    out = {"verified": 0, "mismatched": 0}
    async with httpx.AsyncClient(base_url=url, timeout=60) as c:
        for acc in accounts:
            for fid, digest in acc.files.items():
                if fid in acc.deleting:
                    continue  # a delete whose answer was not 204 may or may not have run
                r = await c.get(f"/i/{fid}")
                ok = r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == digest
                out["verified" if ok else "mismatched"] += 1
    return out


def run_soak(clients: int, seconds: float, workers: int = 2, seed: int = 1) -> dict[str, Any]:
    """Start a server, soak it, verify; returns the figures (see the module docstring)."""
    data = Path(tempfile.mkdtemp(prefix="pichr-soak-")) / "data"
    env = {"PICHR_RATE_LIMITS__ENABLED": "false"}
    if not os.environ.get("PICHR_TEST_DATABASE"):
        env["PICHR_DATABASE__URL"] = "sqlite://" + str(data.resolve() / "pichr.sqlite3")
    with live_server(data, env=env, args=["--workers", str(workers)]) as server:

        async def main() -> dict[str, Any]:
            st, accounts, client = await drive(server.url, clients, seconds, seed)
            start = processes(server.proc.pid)
            load0 = os.getloadavg()
            t0 = time.monotonic()
            await asyncio.gather(*(client(n) for n in range(clients)))
            took = time.monotonic() - t0
            checked = await verify(server.url, accounts)
            return {
                "clients": clients,
                "seconds": round(took, 1),
                "workers": workers,
                "requests": sum(len(t) for t in st.times.values()),
                "kinds": st.summary(),
                "unexpected": len(st.unexpected),
                "unexpectedSample": st.unexpected[:20],
                **checked,
                "processesStart": start,
                "processesEnd": processes(server.proc.pid),
                "loadAvgStart": [round(x, 2) for x in load0],
                "loadAvgEnd": [round(x, 2) for x in os.getloadavg()],
            }

        return asyncio.run(main())


def main() -> None:
    """Parse the arguments, soak, print the figures (and JSON with ``--json``)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()
    res = run_soak(args.clients, args.seconds, args.workers, args.seed)
    if args.json:
        print(json.dumps(res, indent=2))
        return
    print(
        f"{res['clients']} clients, {res['seconds']} s, {res['workers']} workers: "
        f"{res['requests']} requests ({res['requests'] / res['seconds']:.0f}/s)"
    )
    print(f"{'kind':10} {'requests':>9} {'p50 ms':>8} {'p99 ms':>8}  statuses")
    for kind, k in res["kinds"].items():
        print(f"{kind:10} {k['requests']:9} {k['p50_ms']:8} {k['p99_ms']:8}  {k['status']}")
    print(f"unexpected: {res['unexpected']} {res['unexpectedSample'][:5]}")
    print(f"bytes verified: {res['verified']} files, mismatched {res['mismatched']}")
    for label in ("processesStart", "processesEnd"):
        print(label, res[label])
    print(f"load average: start {res['loadAvgStart']}, end {res['loadAvgEnd']}")


if __name__ == "__main__":
    main()
