"""Shared helpers for the benchmark scripts (not tests): a live server, an account, uploads,
the reference servers (nginx, a bare Sanic app), wrk, start-up timing and the machine.

Loopback only. Every server started here is stopped, and any worker process left behind
is killed, by :func:`live_server`.
"""

from __future__ import annotations

import contextlib
import io
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
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

    side = 100  # grows by 20 px: the same images as before for sizes above ~70 KB
    for _ in range(210):
        img = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=85)
        if buf.tell() >= size:
            return buf.getvalue()
        side += 20
    raise RuntimeError("could not reach the requested size")


# --- reference servers and load tools (nginx, wrk, a bare Sanic app) -------------------

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
WRK = shutil.which("wrk")

# The floor of what Sanic costs here: one process, the same worker count, a /health
# route, a /json route answering the JSON document in argv[3] (when given, else "-")
# the way a handler does, serialised per request, and /bytes/{name} answering a file of
# the folder in argv[4] (when given) from memory, as a handler returning bytes does.
BARE_APP = textwrap.dedent(
    """
    import json as _json
    import os
    import sys
    from sanic import Sanic, json, raw

    app = Sanic("bare")
    DOC = _json.loads(open(sys.argv[3]).read()) if sys.argv[3:4] not in ([], ["-"]) else {}
    FILES = sys.argv[4] if len(sys.argv) > 4 else None
    LOADED = {}

    @app.get("/health")
    async def health(request):
        return json({"status": "ok"})

    @app.get("/json")
    async def document(request):
        return json(DOC)

    @app.get("/bytes/<name:str>")
    async def data(request, name):
        if name not in LOADED:
            LOADED[name] = open(os.path.join(FILES, os.path.basename(name)), "rb").read()
        return raw(LOADED[name], content_type="image/jpeg")

    if __name__ == "__main__":
        app.run(host="127.0.0.1", port=int(sys.argv[1]), workers=int(sys.argv[2]),
                motd=False, access_log=False)
    """
)

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    """A wrk duration (``812.00us``, ``9.5ms``, ``1.2s``) in milliseconds."""
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        raise ValueError(f"not a wrk duration: {text}")
    return float(m.group(1)) * _UNITS_MS[m.group(2)]


def wrk(
    url: str, seconds: int, connections: int, threads: int = 2, allow_errors: bool = False
) -> dict[str, Any]:
    """One wrk run: requests/s, p50/p99 in ms and the error counts wrk printed.

    Raises on any error or non-2xx answer unless ``allow_errors`` (the p99 rows report
    time-outs instead of failing on them).
    """
    threads = max(1, min(threads, connections))
    out = subprocess.run(
        [WRK, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    ).stdout
    got = parse_wrk(out)
    if got is None or (not allow_errors and any(got["errors"].values())):
        raise RuntimeError(f"wrk failed or saw errors:\n{out}")
    return got


def parse_wrk(out: str) -> dict[str, Any] | None:
    """requests/s, p50/p99 (ms) and error counts from wrk's ``--latency`` output; None
    when it has no requests/s line."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not rps:
        return None
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    kinds = ("connect", "read", "write", "timeout")
    values = map(int, errors.groups()) if errors else (0, 0, 0, 0)
    counts = dict(zip(kinds, values, strict=True))
    counts["non2xx"] = int(non2xx.group(1)) if non2xx else 0
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    return {
        "rps": float(rps.group(1)),
        "p50": _ms(p50.group(1)) if p50 else float("nan"),
        "p99": _ms(p99.group(1)) if p99 else float("nan"),
        "errors": counts,
    }


def nginx_conf(root: Path, port: int, workers: int = 1) -> str:
    """An nginx serving ``root/www`` with sendfile, and accepting PUTs to ``/up/``."""
    return f"""
worker_processes {workers};
daemon off;
user root;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    types {{ image/jpeg jpg; application/json json; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{ root {root}/www; }}
        # The upload reference: the body written to disk (a temp file, then renamed).
        location /up/ {{
            root {root}/www;
            dav_methods PUT;
            create_full_put_path on;
            client_max_body_size 0;
        }}
    }}
}}
"""


def start_nginx(root: Path, port: int, workers: int = 1, probe: str = "/") -> subprocess.Popen:
    """nginx with :func:`nginx_conf` in ``root`` (``root/www`` must exist); waits until
    ``probe`` answers 200."""
    conf = root / "nginx.conf"
    conf.write_text(nginx_conf(root, port, workers))
    with open(root / "nginx.stderr", "wb") as err:  # the child keeps its own copy
        proc = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(root)], stderr=err)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"nginx exited: {(root / 'nginx.stderr').read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}{probe}", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop(proc)
    raise RuntimeError("nginx did not start")


def stop(proc: subprocess.Popen) -> None:
    """Terminate ``proc`` (nginx's master stops its workers), killing it after 10 s."""
    from pichr_appliance.testing import terminate

    terminate(proc)


def have_nginx_and_wrk() -> bool:
    """Whether the reference tools are installed (``apt-get install nginx-light wrk``)."""
    return bool(WRK) and Path(NGINX).exists()


# --- start-up timing --------------------------------------------------------------------

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of ``pids`` (and their waited-for children), from /proc."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return total / TICKS


def time_to_health(argv: list[str], port: int, env: dict[str, str]) -> tuple[float, float]:
    """Start ``argv``, poll /health until 200; (wall seconds, CPU seconds); then stop it."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        with httpx.Client(timeout=1.0) as client:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"{argv[0]} exited with {proc.returncode}")
                try:
                    if client.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                        wall = time.perf_counter() - t0
                        break
                except httpx.HTTPError:
                    pass
                if time.perf_counter() - t0 > 120:
                    raise RuntimeError(f"{argv[0]}: no /health answer within 120 s")
                time.sleep(0.01)
        return wall, cpu_seconds(process_tree(proc.pid))
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def version_seconds(command: str) -> float:
    """Wall time of ``command --version``."""
    t0 = time.perf_counter()
    subprocess.run([command, "--version"], check=True, capture_output=True)
    return time.perf_counter() - t0


# --- the machine ------------------------------------------------------------------------


def machine() -> str:
    """CPU model, cores and kernel, for the heading of a result."""
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{model}, {os.cpu_count()} cores, Linux {platform.release()}"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(f"{v:.2f}" for v in os.getloadavg())
