"""Serving benchmark: GET /i/{id} of a 500 KB public JPEG, appliance (1 worker) vs nginx.

Both serve on loopback in the same run; wrk drives each for the same time. Needs
nginx and wrk (Debian packages ``nginx-light`` and ``wrk``). Prints requests/s of
both and the ratio. Usage: python bench/bench_serving.py [--seconds 10] [--connections 32]
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pichr_appliance.testing import LiveServer, free_port  # noqa: E402


def jpeg_of(size: int) -> bytes:
    """A JPEG of roughly ``size`` bytes (noise compresses badly, as photos do)."""
    side = 300
    while True:
        img = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=85)
        if buf.tell() >= size:
            return buf.getvalue()
        side += 40


def wrk(url: str, seconds: int, connections: int) -> float:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", url],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match or "Non-2xx" in out:
        raise RuntimeError(f"wrk failed:\n{out}")
    return float(match.group(1))


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
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{ root {root}/www; }}
    }}
}}
""")
    proc = subprocess.Popen([shutil.which("nginx") or "/usr/sbin/nginx", "-c", str(conf)])
    for _ in range(50):
        try:
            httpx.get(f"http://127.0.0.1:{port}/cat.jpg", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("nginx did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    data = jpeg_of(500_000)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "www").mkdir()
        (root / "www" / "cat.jpg").write_bytes(data)
        nginx_port = free_port()
        nginx = start_nginx(root, nginx_port)
        server = LiveServer(root / "data").start()
        try:
            api = server.url + "/api/v1"
            s = httpx.post(
                f"{api}/auth/signup",
                json={
                    "email": "b@example.com",
                    "password": "bench-password",
                    "username": "bench",
                    "ageConfirmed": True,
                },
            ).json()
            h = {"Authorization": f"Bearer {s['session']['access_token']}"}
            p = httpx.post(
                f"{api}/upload/presign",
                headers=h,
                json={
                    "filename": "cat.jpg",
                    "mime": "image/jpeg",
                    "bytes": len(data),
                    "visibility": "public",
                },
            ).json()
            assert httpx.put(p["uploadUrl"], content=data).status_code == 200
            image_url = f"{server.url}/i/{p['fileId']}"
            assert httpx.get(image_url).content == data
            nginx_url = f"http://127.0.0.1:{nginx_port}/cat.jpg"
            wrk(image_url, 2, args.connections)  # warm-up
            wrk(nginx_url, 2, args.connections)
            appliance_rps = wrk(image_url, args.seconds, args.connections)
            nginx_rps = wrk(nginx_url, args.seconds, args.connections)
        finally:
            server.stop()
            nginx.terminate()
            nginx.wait(10)
    print(f"file: {len(data)} bytes, {args.connections} connections, {args.seconds}s each")
    print(f"nginx:     {nginx_rps:10.0f} req/s")
    print(f"appliance: {appliance_rps:10.0f} req/s (1 worker)")
    print(f"ratio:     {appliance_rps / nginx_rps:10.2f} (target >= 0.50)")


if __name__ == "__main__":
    main()
