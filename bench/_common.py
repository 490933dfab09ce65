"""Shared helpers for the benchmark scripts (not tests): a live server, an account, uploads.

Loopback only. Every server started here is stopped, and any worker process left behind
is killed, by :func:`live_server`.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from pichr_appliance.testing import LiveServer, free_port  # noqa: E402,F401


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (psutil when present, else /proc)."""
    try:
        import psutil

        proc = psutil.Process(pid)
        return [pid] + [c.pid for c in proc.children(recursive=True)]
    except ImportError:
        pass
    except Exception:  # the process is gone
        return []
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def rss_bytes(pid: int) -> int:
    """Resident set size of one process (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_rss(pid: int) -> int:
    return sum(rss_bytes(p) for p in process_tree(pid))


@contextlib.contextmanager
def live_server(
    data_dir: Path, env: dict[str, str] | None = None, args: list[str] | None = None
) -> Iterator[LiveServer]:
    """A started ``pichr-appliance serve``; stopped (and its workers killed) on exit."""
    server = LiveServer(data_dir, env=env, args=args)
    server.start(timeout=60)
    pids: list[int] = []
    try:
        pids = process_tree(server.proc.pid)
        yield server
    finally:
        pids = list(dict.fromkeys(pids + process_tree(server.proc.pid)))
        server.stop()
        for pid in pids:  # workers that outlived their manager
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if Path(f"/proc/{pid}").exists() and pid != os.getpid():
                    os.kill(pid, 9)


def signup(base: str) -> dict[str, str]:
    """A new account; returns request headers carrying its access token."""
    name = f"bench_{uuid.uuid4().hex[:10]}"
    r = httpx.post(
        f"{base}/api/v1/auth/signup",
        json={
            "email": f"{name}@example.com",
            "password": "bench-password-123",
            "username": name,
            "firstName": "Bench",
            "lastName": "Mark",
            "ageConfirmed": True,
        },
        timeout=30,
    )
    r.raise_for_status()
    token = r.json()["session"]["access_token"]
    return {"Authorization": f"Bearer {token}"}


def presign(
    base: str,
    headers: dict[str, str],
    nbytes: int,
    filename: str = "bench.jpg",
    mime: str = "image/jpeg",
) -> dict[str, Any]:
    r = httpx.post(
        f"{base}/api/v1/upload/presign",
        headers=headers,
        json={"filename": filename, "mime": mime, "bytes": nbytes, "visibility": "public"},
        timeout=30,
    )
    if r.status_code != 201:
        raise RuntimeError(f"presign: {r.status_code} {r.text}")
    return r.json()


def upload_bytes(
    base: str, headers: dict[str, str], data: bytes, filename: str = "bench.jpg"
) -> str:
    """Presign + direct PUT of ``data`` (a JPEG); returns the file id."""
    p = presign(base, headers, len(data), filename)
    r = httpx.put(p["uploadUrl"], content=data, timeout=120)
    if r.status_code != 200:
        raise RuntimeError(f"PUT: {r.status_code} {r.text}")
    return p["fileId"]


def noise_jpeg(size: int) -> bytes:
    """A JPEG of roughly ``size`` bytes (noise compresses badly, as photos do)."""
    from PIL import Image

    side = 300
    for _ in range(200):
        img = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=85)
        if buf.tell() >= size:
            return buf.getvalue()
        side += 20
    raise RuntimeError("could not reach the requested size")
