"""Variant (thumbnail) benchmark on a 12-megapixel JPEG (4000x3000, photo-like).

1. In process: ``pichr_appliance.imaging.make_variant(path, width=256, height=None,
   fit="contain", fmt=..., quality=82)`` for webp and jpeg: the first call, then the
   median of 5 more.
2. Over HTTP (a real server, 1 worker, loopback): upload the JPEG, time the first
   ``GET /i/{id}?w=256`` (made on demand) and then 20 cached ones; the same with
   ``&format=webp``; and 20 GETs of originals: the 12 MP file itself and a separately
   uploaded 256 px wide JPEG (the thumbnail's size class).

Target: first thumbnail < 150 ms.
Usage: .venv/bin/python bench/bench_variant.py [--runs 5] [--requests 20]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image, ImageChops

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import live_server, signup, upload_bytes  # noqa: E402

from pichr_appliance.imaging import make_variant  # noqa: E402

SIZE = (4000, 3000)


def photo_like(size: tuple[int, int]) -> Image.Image:
    """Smooth gradients with grain on top: compresses like a photo, not like flat colour."""
    w, h = size
    lin = Image.linear_gradient("L").resize(size)
    rad = Image.radial_gradient("L").resize(size)
    lin_t = lin.transpose(Image.Transpose.ROTATE_90).resize(size)
    channels = []
    for base, sigma in ((lin, 18), (rad, 24), (lin_t, 30)):
        noise = Image.effect_noise(size, sigma)
        channels.append(
            ImageChops.add(
                ImageChops.multiply(base, Image.new("L", size, 220)), noise, scale=1.6, offset=-30
            )
        )
    return Image.merge("RGB", channels)


def jpeg_bytes(img: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1000, out


def in_process(path: Path, runs: int) -> None:
    print(f"make_variant(width=256, fit=contain, quality=82), {runs} runs after the first:")
    for fmt in ("webp", "jpeg"):

        def make(fmt: str = fmt) -> bytes:
            return make_variant(path, width=256, height=None, fit="contain", fmt=fmt, quality=82)

        first, out = timed(make)
        rest = [timed(make)[0] for _ in range(runs)]
        with Image.open(io.BytesIO(out)) as im:
            dims = im.size
        print(
            f"  {fmt:<5} first {first:7.1f} ms   median {statistics.median(rest):7.1f} ms"
            f"   ({len(out):,} bytes, {dims[0]}x{dims[1]})"
            f"   target < 150 ms: {'met' if first < 150 else 'MISSED'}"
        )


def series(client: httpx.Client, url: str, n: int) -> tuple[list[float], int]:
    times, size = [], 0
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        r.raise_for_status()
        size = len(r.content)
    return times, size


def fmt_series(times: list[float]) -> str:
    return (
        f"median {statistics.median(times):6.2f} ms, min {min(times):6.2f}, max {max(times):6.2f}"
    )


def over_http(data: bytes, small: bytes, requests: int, root: Path) -> None:
    with live_server(root / "data", args=["--workers", "1"]) as server:
        headers = signup(server.url)
        big_id = upload_bytes(server.url, headers, data, "photo.jpg")
        small_id = upload_bytes(server.url, headers, small, "small.jpg")
        print(f"HTTP, 1 worker, keep-alive client; {requests} requests per series:")
        with httpx.Client(timeout=60) as client:
            client.get(f"{server.url}/health")
            for query in ("w=256", "w=256&format=webp"):
                url = f"{server.url}/i/{big_id}?{query}"
                first, r = timed(lambda url=url: client.get(url))
                r.raise_for_status()
                print(
                    f"  GET ?{query:<18} first {first:7.1f} ms ({len(r.content):,} bytes, "
                    f"{r.headers.get('content-type')})"
                    f"   target < 150 ms: {'met' if first < 150 else 'MISSED'}"
                )
                times, _ = series(client, url, requests)
                print(f"  GET ?{query:<18} cached: {fmt_series(times)}")
            times, size = series(client, f"{server.url}/i/{small_id}", requests)
            print(f"  original 256 px JPEG ({size:,} bytes): {fmt_series(times)}")
            times, size = series(client, f"{server.url}/i/{big_id}", requests)
            print(f"  original 12 MP JPEG ({size:,} bytes): {fmt_series(times)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    runs, requests = max(1, min(args.runs, 50)), max(1, min(args.requests, 200))
    img = photo_like(SIZE)
    data = jpeg_bytes(img)
    small = jpeg_bytes(img.resize((256, 192), Image.Resampling.LANCZOS), quality=82)
    print(f"source: {SIZE[0]}x{SIZE[1]} JPEG, {len(data):,} bytes")
    with tempfile.TemporaryDirectory(prefix="pichr-bench-variant-") as tmp:
        root = Path(tmp)
        path = root / "photo.jpg"
        path.write_bytes(data)
        in_process(path, runs)
        over_http(data, small, requests, root)


if __name__ == "__main__":
    main()
