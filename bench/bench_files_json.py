"""req/s of ``GET /api/v1/files/{id}`` against a bare Sanic handler answering the same JSON.

Usage: ``python bench/bench_files_json.py [--seconds 5] [--connections 16]`` (needs ``wrk``).
One worker each, loopback only; every server started here is stopped. Prints one line
per target and the ratio. The server is ``python -m pichr_appliance``, which imports the
checkout of the current directory first: run it from the checkout to measure
(``cd /work/main && python /path/to/bench/bench_files_json.py`` measures main).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import free_port, live_server, noise_jpeg, signup, upload_bytes  # noqa: E402

# The bench measures the endpoint, not the hourly API-call limits.
ENV = {"PICHR_RATE_LIMITS__ENABLED": "false"}

BARE = """
import sys
from sanic import Sanic
from sanic.response import json
app = Sanic("bare")
app.config.ACCESS_LOG = False
BODY = {body}
@app.get("/api/v1/files/<file_id:str>")
async def get(request, file_id):
    return json(BODY)
app.run(host="127.0.0.1", port={port}, single_process=True, access_log=False, motd=False)
"""


def wrk(url: str, seconds: int, connections: int, headers: dict[str, str]) -> float:
    """Requests per second that ``wrk`` measured (2 threads)."""
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", url]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"errors during the run:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def bare_server(body: dict) -> tuple[subprocess.Popen, str]:
    """A bare Sanic app answering ``body`` on the same route."""
    port = free_port()
    code = BARE.format(body=repr(body), port=port)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(url + "/api/v1/files/x", timeout=1)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("bare server did not start")


def main() -> None:
    """Measure the appliance, then the bare handler, and print both and the ratio."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=16)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        with live_server(Path(tmp) / "data", env=ENV, args=["--workers", "1"]) as server:
            auth = signup(server.url)
            file_id = upload_bytes(server.url, auth, noise_jpeg(20_000))
            url = f"{server.url}/api/v1/files/{file_id}"
            body = httpx.get(url).json()
            results = {
                "appliance anonymous": wrk(url, args.seconds, args.connections, {}),
                "appliance owner": wrk(url, args.seconds, args.connections, auth),
            }
        proc, base = bare_server(body)
        try:
            results["bare sanic"] = wrk(
                f"{base}/api/v1/files/{file_id}", args.seconds, args.connections, {}
            )
        finally:
            proc.kill()
            proc.wait()
    bare = results["bare sanic"]
    for name, rate in results.items():
        print(f"{name:22s} {rate:9.0f} req/s  {rate / bare:5.3f} of bare")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
