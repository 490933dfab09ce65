"""Serving benchmark: GET /i/{id} of a ~500 KB public JPEG, appliance (1 worker) vs nginx.

Both serve on loopback (127.0.0.1) in the same run; wrk drives each for the same time,
alternating between them for several rounds so that a burst of other work on the
machine hits both, and the median round of each is reported.
Needs nginx and wrk (Debian packages ``nginx`` or ``nginx-light``, and ``wrk``).
Prints requests/s of both and the ratio appliance/nginx (target >= 0.5).

Usage: .venv/bin/python bench/bench_serving.py [--seconds 10] [--connections 32]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import free_port, live_server, noise_jpeg, signup, upload_bytes  # noqa: E402

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
WRK = shutil.which("wrk")


def wrk(url: str, seconds: int, connections: int, threads: int) -> dict[str, float]:
    out = subprocess.run(
        [WRK, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    ).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not rps or "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk failed or saw errors:\n{out}")
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    return {
        "rps": float(rps.group(1)),
        "p50": p50.group(1) if p50 else "?",
        "p99": p99.group(1) if p99 else "?",
    }


def median_round(results: list[dict[str, float]]) -> dict[str, float]:
    """The round with the median requests/s."""
    return sorted(results, key=lambda r: r["rps"])[len(results) // 2]


def start_nginx(root: Path, port: int) -> subprocess.Popen:
    conf = root / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
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
    types {{ image/jpeg jpg; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{ root {root}/www; }}
    }}
}}
""")
    with open(root / "nginx.stderr", "wb") as err:  # the child keeps its own copy
        proc = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(root)], stderr=err)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"nginx exited: {(root / 'nginx.stderr').read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/cat.jpg", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop(proc)
    raise RuntimeError("nginx did not start")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", type=int, default=500_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not WRK or not Path(NGINX).exists():
        sys.exit("needs nginx and wrk: apt-get install -y nginx wrk")
    args.seconds = max(1, min(args.seconds, 120))
    data = noise_jpeg(args.size)
    rounds: dict[str, list[dict[str, float]]] = {"nginx": [], "appliance": []}
    with tempfile.TemporaryDirectory(prefix="pichr-bench-") as tmp:
        root = Path(tmp)
        (root / "www").mkdir()
        (root / "www" / "cat.jpg").write_bytes(data)
        nginx_port = free_port()
        nginx = start_nginx(root, nginx_port)
        try:
            with live_server(root / "data", args=["--workers", "1"]) as server:
                headers = signup(server.url)
                file_id = upload_bytes(server.url, headers, data, "cat.jpg")
                urls = {
                    "appliance": f"{server.url}/i/{file_id}",
                    "nginx": f"http://127.0.0.1:{nginx_port}/cat.jpg",
                }
                for name, url in urls.items():
                    body = httpx.get(url, timeout=10).content
                    assert body == data, f"{name} served other bytes ({len(body)})"
                    wrk(url, 2, args.connections, args.threads)  # warm-up
                for _ in range(max(1, args.rounds)):
                    for name, url in urls.items():
                        rounds[name].append(wrk(url, args.seconds, args.connections, args.threads))
        finally:
            stop(nginx)
    a, n = median_round(rounds["appliance"]), median_round(rounds["nginx"])
    print(
        f"file: {len(data)} bytes; wrk -t{args.threads} -c{args.connections} "
        f"-d{args.seconds}s each, {len(rounds['nginx'])} alternating rounds, loopback"
    )
    for name in ("nginx", "appliance"):
        print(f"  {name} rounds: " + ", ".join(f"{r['rps']:.0f}" for r in rounds[name]))
    print(f"nginx:     {n['rps']:10.0f} req/s  (p50 {n['p50']}, p99 {n['p99']})")
    print(f"appliance: {a['rps']:10.0f} req/s  (p50 {a['p50']}, p99 {a['p99']}; 1 worker)")
    ratio = a["rps"] / n["rps"]
    print(f"ratio:     {ratio:10.2f}  (target >= 0.50: {'met' if ratio >= 0.5 else 'MISSED'})")


if __name__ == "__main__":
    main()
