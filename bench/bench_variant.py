"""Variant (thumbnail) benchmark on a 12-megapixel JPEG (4000x3000, photo-like).

1. In process: ``pichr_appliance.imaging.make_variant(path, width=256, height=None,
   fit="contain", fmt=..., quality=82)`` for webp and jpeg: the first call, then the
   median of 5 more.
2. Over HTTP (a real server, 1 worker, loopback): upload the JPEG, time the first
   ``GET /i/{id}?w=256`` (made on demand) and then 20 cached ones; the same with
   ``&format=webp``; and 20 GETs of originals: the 12 MP file itself and a separately
   uploaded 256 px wide JPEG (the thumbnail's size class).

3. HEIC and animated WebP (issue 16): the same photo as a 12 MP HEIC (encoded with the
   test extras' pillow-heif; the appliance decodes with pi-heif): ``make_variant`` to
   256 px, and over HTTP the first ``?w=256&format=auto`` and the first rendition a
   Chromium ``Accept`` gets on ``/i/{id}`` (full size bounded to 1920 px, AVIF), then
   cached; an animated WebP (48 frames of 480x360) to an animated 256 px WebP variant.

4. ``--storm`` (issue 15): 200 GETs with distinct (w, h, fit, format) on one ~3 MB
   JPEG and on a PNG, 8 at a time, anonymous, against ``serve --workers 1``: variants
   made (files on disk) and their MB, status counts, the worker's RSS before, at its
   peak (sampled every 0.1 s) and 10 s after. Run it on main with
   ``PYTHONPATH=/work/main`` to measure the code before the change.

Target: first thumbnail < 150 ms.
Usage: .venv/bin/python bench/bench_variant.py [--runs 5] [--requests 20] [--skip-photo]
       .venv/bin/python bench/bench_variant.py --storm
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
from _common import live_server, process_tree, rss_bytes, signup, upload_bytes  # noqa: E402

from pichr_appliance.imaging import AnimationBudget, make_variant  # noqa: E402

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


CHROMIUM = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"


def heic_bytes(img: Image.Image) -> bytes:
    import pillow_heif

    buf = io.BytesIO()
    pillow_heif.from_pillow(img).save(buf, quality=85)
    return buf.getvalue()


def animated_webp() -> bytes:
    base = photo_like((480, 360))
    frames = [base.rotate(i * 7.5) for i in range(48)]
    buf = io.BytesIO()
    frames[0].save(buf, format="WEBP", save_all=True, append_images=frames[1:], duration=40,
                   quality=80)  # fmt: skip
    return buf.getvalue()


def new_formats(heic: bytes, anim: bytes, runs: int, requests: int, root: Path) -> None:
    cases = (("heic", heic, "image/heic", "jpeg"), ("heic", heic, "image/heic", "webp"),
             ("webp-anim", anim, "image/webp", "webp"))  # fmt: skip
    print(f"make_variant(width=256), {runs} runs after the first:")
    for name, data, mime, fmt in cases:
        path = root / name
        path.write_bytes(data)

        def make(path=path, mime=mime, fmt=fmt) -> bytes:
            return make_variant(path, width=256, height=None, fit="contain", fmt=fmt,
                                quality=82, mime=mime, animation=AnimationBudget())  # fmt: skip

        first, out = timed(make)
        rest = [timed(make)[0] for _ in range(runs)]
        with Image.open(io.BytesIO(out)) as im:
            dims, frames = im.size, getattr(im, "n_frames", 1)
        print(f"  {name:<9} -> {fmt:<4} first {first:7.1f} ms   median "
              f"{statistics.median(rest):7.1f} ms   ({len(out):,} bytes, {dims[0]}x{dims[1]}, "
              f"{frames} frame{'s' if frames > 1 else ''})")  # fmt: skip
    with live_server(root / "data", args=["--workers", "1"]) as server:
        headers = signup(server.url)
        ids = {}
        for name, data in (("heic", heic), ("webp-anim", anim)):
            r = httpx.post(f"{server.url}/api/v1/upload?filename={name}", content=data,
                           headers=headers, timeout=120)  # fmt: skip
            r.raise_for_status()
            ids[name] = r.json()["id"]
        with httpx.Client(timeout=120, headers={"Accept": CHROMIUM}) as client:
            for name, query in (("heic", "?w=256&format=auto"), ("heic", ""),
                                ("webp-anim", "?w=256&format=auto")):  # fmt: skip
                url = f"{server.url}/i/{ids[name]}{query}"
                first, r = timed(lambda url=url: client.get(url))
                r.raise_for_status()
                label = f"{name} {query or '(rendition)'}"
                print(f"  GET {label:<30} first {first:7.1f} ms ({len(r.content):,} bytes, "
                      f"{r.headers.get('content-type')})")  # fmt: skip
                times, _ = series(client, url, requests)
                print(f"  GET {label:<30} cached: {fmt_series(times)}")


def storm_queries(n: int) -> list[str]:
    """``n`` distinct (w, h, fit, format) combinations, as the issue's client sent."""
    import itertools

    combos = itertools.product(range(40, 2000, 37), range(40, 2000, 53),
                               ("cover", "contain"), ("webp", "avif", "jpeg", "png"))  # fmt: skip
    out = [f"w={w}&h={h}&fit={f}&format={x}" for w, h, f, x in combos]
    step = max(1, len(out) // n)
    return out[::step][:n]


def storm(root: Path, sources: dict[str, tuple[bytes, str]], n: int = 200) -> None:
    """The variant storm of issue 15 on each source; prints one line per source."""
    import threading
    from collections import Counter
    from concurrent.futures import ThreadPoolExecutor

    with live_server(root / "storm", args=["--workers", "1"]) as server:
        headers = signup(server.url)
        worker = max(process_tree(server.proc.pid)[1:] or [server.proc.pid], key=rss_bytes)
        for name, (data, filename) in sources.items():
            r = httpx.post(f"{server.url}/api/v1/upload?filename={filename}", content=data,
                           headers=headers, timeout=300)  # fmt: skip
            r.raise_for_status()
            file_id = r.json()["id"]
            before, peak, done = rss_bytes(worker), [0], threading.Event()

            def sample(done=done, peak=peak) -> None:
                while not done.wait(0.1):
                    peak[0] = max(peak[0], rss_bytes(worker))

            sampler = threading.Thread(target=sample)
            sampler.start()
            start = time.perf_counter()

            def get(query: str, file_id=file_id) -> int:
                try:
                    return httpx.get(f"{server.url}/i/{file_id}?{query}", timeout=300).status_code
                except httpx.HTTPError:
                    return 0  # a hang or a dropped connection

            with ThreadPoolExecutor(8) as pool:
                statuses = Counter(pool.map(get, storm_queries(n)))
            took = time.perf_counter() - start
            time.sleep(10)
            done.set()
            sampler.join()
            files = list((root / "storm").rglob(f"variants/{file_id}/*"))
            mb = sum(f.stat().st_size for f in files) / 1e6
            print(f"  {name:<5} {len(data) / 1e6:4.1f} MB: {len(files)} variants, {mb:.1f} MB; "
                  f"{dict(sorted(statuses.items()))} in {took:.0f} s; worker RSS "
                  f"{before / 1e6:.0f} MB before, {peak[0] / 1e6:.0f} MB peak, "
                  f"{rss_bytes(worker) / 1e6:.0f} MB 10 s after")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--skip-photo", action="store_true", help="only HEIC, animated WebP")
    parser.add_argument("--storm", action="store_true", help="only the variant storm")
    args = parser.parse_args()
    if args.storm:
        img = photo_like((2800, 2100))
        png = io.BytesIO()
        img.resize((1400, 1050)).save(png, "PNG")
        with tempfile.TemporaryDirectory(prefix="pichr-bench-storm-") as tmp:
            storm(Path(tmp), {"jpeg": (jpeg_bytes(img, 95), "storm.jpg"),
                              "png": (png.getvalue(), "storm.png")})  # fmt: skip
        return
    runs, requests = max(1, min(args.runs, 50)), max(1, min(args.requests, 200))
    img = photo_like(SIZE)
    data = jpeg_bytes(img)
    small = jpeg_bytes(img.resize((256, 192), Image.Resampling.LANCZOS), quality=82)
    print(f"source: {SIZE[0]}x{SIZE[1]} JPEG, {len(data):,} bytes")
    with tempfile.TemporaryDirectory(prefix="pichr-bench-variant-") as tmp:
        root = Path(tmp)
        path = root / "photo.jpg"
        path.write_bytes(data)
        if not args.skip_photo:
            in_process(path, runs)
            over_http(data, small, requests, root)
        heic, anim = heic_bytes(img), animated_webp()
        print(f"sources: {SIZE[0]}x{SIZE[1]} HEIC {len(heic):,} bytes; animated WebP "
              f"480x360x48 {len(anim):,} bytes")  # fmt: skip
        new_formats(heic, anim, runs, requests, root)


if __name__ == "__main__":
    main()
