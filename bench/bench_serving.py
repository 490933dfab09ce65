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
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    free_port,
    have_nginx_and_wrk,
    live_server,
    noise_jpeg,
    signup,
    start_nginx,
    stop,
    upload_bytes,
    wrk,
)


def median_round(results: list[dict[str, float]]) -> dict[str, float]:
    """The round with the median requests/s."""
    return sorted(results, key=lambda r: r["rps"])[len(results) // 2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", type=int, default=500_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not have_nginx_and_wrk():
        sys.exit("needs nginx and wrk: apt-get install -y nginx wrk")
    args.seconds = max(1, min(args.seconds, 120))
    data = noise_jpeg(args.size)
    rounds: dict[str, list[dict[str, float]]] = {"nginx": [], "appliance": []}
    with tempfile.TemporaryDirectory(prefix="pichr-bench-") as tmp:
        root = Path(tmp)
        (root / "www").mkdir()
        (root / "www" / "cat.jpg").write_bytes(data)
        nginx_port = free_port()
        nginx = start_nginx(root, nginx_port, probe="/cat.jpg")
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
    for label, r in (("nginx:    ", n), ("appliance:", a)):
        print(f"{label} {r['rps']:10.0f} req/s  (p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms)")
    ratio = a["rps"] / n["rps"]
    print(f"ratio:     {ratio:10.2f}  (target >= 0.50: {'met' if ratio >= 0.5 else 'MISSED'})")


if __name__ == "__main__":
    main()
