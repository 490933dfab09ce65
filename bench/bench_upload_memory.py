"""Upload memory benchmark: peak RSS of the server while a ~1 GB image streams in.

Starts the appliance (1 worker, loopback), makes a valid ~1 GB image on disk, and PUTs it
from the file with a generator (the client never holds it). A sampler thread reads the
RSS of the server's process tree (manager + worker) every 20 ms. The peak is reported
for two phases: while the body is being sent (the streaming path) and after the last
byte until the response (decoding/verification/storage). Then the same for a multipart
upload (64 MiB parts), if POST /api/v1/upload/multipart/init exists.

Images (``--format``):
- ``png`` (default): a small real PNG with ~1 GB of public ancillary chunks (``bNCh``,
  1 MiB each) before IDAT; ``png-private``: the same with private chunks (``prVt``),
  which Pillow keeps in memory. Both are summed on disk and refused (400
  ``too_much_metadata``) before Pillow opens them.
- ``jpeg``: a small real JPEG with ~15,000 APP15 segments of 65,533 bytes. Pillow keeps
  every APPn segment in memory while opening, so this also measures that.
- ``tiff``: an uncompressed RGB TIFF of about ``--mb`` MB of pixels (1 GB: 333 MP, refused
  from the header by the 100 MP ceiling; ``--mb 290``: 96 MP, decoded).
- ``heic``: a real HEIC padded with a ``free`` box to ``--mb`` MB (1 GB: over
  ``max_buffered_bytes``, refused; ``--mb 60``: read whole and decoded, in the HEIC
  child process, which the RSS of the server tree includes).
- ``webp-anim``: an animated WebP of 640x480 noise frames, about ``--mb`` MB (at most
  60: WebP is read whole, capped at 64 MiB); every frame is decoded.

Target: increase < 64 MB over baseline (files read whole by their decoders cost their
size on top).
Usage: .venv/bin/python bench/bench_upload_memory.py [--format png|...] [--mb 1000]
"""

from __future__ import annotations

import argparse
import io
import struct
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import live_server, signup, tree_rss  # noqa: E402

MB = 1_000_000
MIB = 1 << 20
CHUNK = 1 << 20  # client read size
DEADLINE_S = 900  # the whole run


def small_image(fmt: str) -> bytes:
    from PIL import Image

    img = Image.new("RGB", (64, 48))
    img.putdata([(x * 4 % 256, y * 5 % 256, 90) for y in range(48) for x in range(64)])
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def make_png(path: Path, total: int, ctype: bytes = b"bNCh") -> int:
    base = small_image("PNG")
    sig, ihdr_end = base[:8], 8 + 8 + 13 + 4  # signature, IHDR chunk
    head, rest = base[:ihdr_end], base[ihdr_end:]
    assert sig == b"\x89PNG\r\n\x1a\n"
    payload = b"\x00" * MIB
    chunk = struct.pack(">I", MIB) + ctype + payload
    chunk += struct.pack(">I", zlib.crc32(ctype + payload))
    room = total - len(base)
    n, last = divmod(room, len(chunk))
    with open(path, "wb") as fh:
        fh.write(head)
        for _ in range(n):
            fh.write(chunk)
        if last > 12:
            tail = b"\x00" * (last - 12)
            fh.write(struct.pack(">I", len(tail)) + ctype + tail)
            fh.write(struct.pack(">I", zlib.crc32(ctype + tail)))
        fh.write(rest)
    return path.stat().st_size


def make_png_private(path: Path, total: int) -> int:
    return make_png(path, total, b"prVt")


def make_tiff(path: Path, total: int) -> int:
    side = int((total / 3) ** 0.5)
    strip = side * side * 3
    entries = [(256, 4, 1, side), (257, 4, 1, side), (258, 3, 3, 0),
               (259, 3, 1, 1), (262, 3, 1, 2), (273, 4, 1, 0), (277, 3, 1, 3),
               (278, 4, 1, side), (279, 4, 1, strip)]  # fmt: skip
    ifd_at, bps_at = 8, 8 + 2 + 12 * len(entries) + 4
    data_at = bps_at + 6
    ifd = struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        value = {258: bps_at, 273: data_at}.get(tag, value)
        if typ == 3 and count == 1:
            ifd += struct.pack("<HHIHH", tag, typ, count, value, 0)
        else:
            ifd += struct.pack("<HHII", tag, typ, count, value)
    with open(path, "wb") as fh:
        fh.write(b"II*\x00" + struct.pack("<I", ifd_at) + ifd + b"\x00" * 4)
        fh.write(struct.pack("<HHH", 8, 8, 8))
        row = bytes((x * 7) % 256 for x in range(side * 3))
        rows = row * 64
        for _ in range(side // 64):
            fh.write(rows)
        fh.write(row * (side % 64))
    return path.stat().st_size


def make_heic(path: Path, total: int) -> int:
    import pillow_heif  # the test extras' encoder (the appliance only decodes)
    from PIL import Image

    img = Image.linear_gradient("L").resize((1024, 768)).convert("RGB")
    buf = io.BytesIO()
    pillow_heif.from_pillow(img).save(buf, quality=85)
    data = buf.getvalue()
    pad = max(8, total - len(data))
    with open(path, "wb") as fh:
        fh.write(data)
        fh.write(struct.pack(">I", pad) + b"free")
        left = pad - 8
        while left > 0:
            n = min(left, 64 * MIB)
            fh.write(b"\x00" * n)
            left -= n
    return path.stat().st_size


def make_webp_anim(path: Path, total: int) -> int:
    import os

    from PIL import Image

    total = min(total, 60 * MB)
    frames, size = [], 0
    while size < total:
        frame = Image.frombytes("RGB", (640, 480), os.urandom(640 * 480 * 3))
        buf = io.BytesIO()
        frame.save(buf, format="WEBP", quality=80)
        size += len(buf.getvalue())
        frames.append(frame)
    frames[0].save(
        path, format="WEBP", save_all=True, append_images=frames[1:], duration=40, quality=80
    )
    return path.stat().st_size


MAKERS = {"png": make_png, "png-private": make_png_private, "jpeg": lambda p, t: make_jpeg(p, t),
          "tiff": make_tiff, "heic": make_heic, "webp-anim": make_webp_anim}  # fmt: skip
MIMES = {"png": "image/png", "png-private": "image/png", "jpeg": "image/jpeg",
         "tiff": "image/tiff", "heic": "image/heic", "webp-anim": "image/webp"}  # fmt: skip


def make_jpeg(path: Path, total: int) -> int:
    base = small_image("JPEG")
    payload = b"\x00" * 65533
    segment = b"\xff\xef" + struct.pack(">H", 65535) + payload  # APP15, 65,537 bytes
    room = total - len(base)
    n, last = divmod(room, len(segment))
    with open(path, "wb") as fh:
        fh.write(base[:2])  # SOI
        for _ in range(n):
            fh.write(segment)
        if last > 4:
            fh.write(b"\xff\xef" + struct.pack(">H", last - 2) + b"\x00" * (last - 4))
        fh.write(base[2:])
    return path.stat().st_size


def check_image(path: Path) -> None:
    from PIL import Image

    from pichr_appliance import formats

    Image.MAX_IMAGE_PIXELS = None  # the 1 GB TIFF is over Pillow's own bomb limit
    with open(path, "rb") as fh:
        mime = formats.sniff(fh.read(64))
    with formats.open_image(path, mime) as img:
        if path.stat().st_size < 400 * MB:
            img.load()
        print(f"image: {path.stat().st_size:,} bytes, {img.format} {img.size}, Pillow reads it")


class Sampler:
    """Peak RSS of the server tree, per named phase, sampled every ``interval`` s."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid, self.interval = pid, interval
        self.phase = "idle"
        self.peaks: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        end = time.monotonic() + DEADLINE_S
        while not self._stop.is_set() and time.monotonic() < end:
            rss = tree_rss(self.pid)
            self.peaks[self.phase] = max(self.peaks.get(self.phase, 0), rss)
            self._stop.wait(self.interval)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def file_body(path: Path, start: int, length: int, sampler: Sampler, phase: str) -> Iterator[bytes]:
    sampler.phase = phase + ":send"
    with open(path, "rb") as fh:
        fh.seek(start)
        left = length
        while left > 0:
            data = fh.read(min(CHUNK, left))
            if not data:
                break
            left -= len(data)
            yield data
    sampler.phase = phase + ":process"


def baseline(pid: int) -> int:
    samples = []
    for _ in range(10):
        samples.append(tree_rss(pid))
        time.sleep(0.05)
    return max(samples)


def direct(base: str, headers: dict, path: Path, size: int, mime: str, sampler: Sampler) -> None:
    r = httpx.post(
        f"{base}/api/v1/upload/presign",
        headers=headers,
        timeout=30,
        json={"filename": path.name, "mime": mime, "bytes": size, "visibility": "public"},
    )
    assert r.status_code == 201, r.text
    url = r.json()["uploadUrl"]
    t0 = time.monotonic()
    r = httpx.put(
        url,
        content=file_body(path, 0, size, sampler, "direct"),
        headers={"Content-Length": str(size), "Content-Type": mime},
        timeout=httpx.Timeout(600, connect=10),
    )
    sampler.phase = "idle"
    dt = time.monotonic() - t0
    print(
        f"direct PUT: HTTP {r.status_code} in {dt:.1f}s ({size / MB / dt:.0f} MB/s)"
        + ("" if r.status_code == 200 else f": {r.text[:300]}")
    )


def multipart(
    base: str, headers: dict, path: Path, size: int, mime: str, sampler: Sampler, part_size: int
) -> bool:
    r = httpx.post(
        f"{base}/api/v1/upload/multipart/init",
        headers=headers,
        timeout=30,
        json={
            "filename": path.name,
            "mime": mime,
            "totalBytes": size,
            "partSize": part_size,
            "visibility": "public",
        },
    )
    if r.status_code == 404:
        print("multipart: POST /api/v1/upload/multipart/init answered 404, skipped")
        return False
    assert r.status_code == 201, r.text
    init = r.json()
    part_size = init["partSize"]
    parts = []
    t0 = time.monotonic()
    with httpx.Client(timeout=httpx.Timeout(600, connect=10)) as client:
        for number, url in enumerate(init["partUrls"], start=1):
            start = (number - 1) * part_size
            length = min(part_size, size - start)
            r = client.put(
                url,
                content=file_body(path, start, length, sampler, "multipart"),
                headers={"Content-Length": str(length)},
            )
            sampler.phase = "idle"
            assert r.status_code == 200, r.text
            parts.append({"partNumber": number, "etag": r.json()["etag"]})
        sampler.phase = "multipart:complete"
        r = client.post(
            f"{base}/api/v1/upload/multipart/complete",
            headers=headers,
            json={"uploadId": init["uploadId"], "fileId": init["fileId"], "parts": parts},
        )
        sampler.phase = "idle"
    dt = time.monotonic() - t0
    print(
        f"multipart ({init['partCount']} parts of {part_size:,}): complete HTTP "
        f"{r.status_code} after {dt:.1f}s" + ("" if r.status_code == 200 else f": {r.text[:300]}")
    )
    return True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--format", choices=sorted(MAKERS), default="png")
    parser.add_argument("--mb", type=int, default=1000, help="image size in MB (10^6 bytes)")
    parser.add_argument("--part-mib", type=int, default=64)
    parser.add_argument("--skip-multipart", action="store_true")
    args = parser.parse_args()
    total = max(1, min(args.mb, 2000)) * MB
    mime = MIMES[args.format]
    env = {
        "PICHR_PLANS__FREE__MAX_FILE_BYTES": str(2_000_000_000),
        "PICHR_PLANS__FREE__QUOTA_BYTES": str(10_000_000_000),
        "PICHR_PLANS__FREE__UPLOADS_PER_HOUR": "1000",
        "PICHR_PLANS__FREE__REQUESTS_PER_HOUR": "100000",
    }
    with tempfile.TemporaryDirectory(prefix="pichr-bench-mem-") as tmp:
        root = Path(tmp)
        path = root / f"big.{args.format}"
        t0 = time.monotonic()
        size = MAKERS[args.format](path, total)
        print(f"made {path.name} in {time.monotonic() - t0:.1f}s")
        check_image(path)
        with live_server(root / "data", env=env, args=["--workers", "1"]) as server:
            pid = server.proc.pid
            headers = signup(server.url)
            base_rss = baseline(pid)
            print(
                f"server tree pids: {len(__import__('_common').process_tree(pid))}, "
                f"baseline RSS {base_rss / MIB:.1f} MiB"
            )
            with Sampler(pid) as sampler:
                direct(server.url, headers, path, size, mime, sampler)
                if not args.skip_multipart:
                    multipart(server.url, headers, path, size, mime, sampler, args.part_mib * MIB)
            print(f"{'phase':<22}{'peak RSS MiB':>14}{'increase MiB':>14}  target < 64 MB")
            for phase, peak in sampler.peaks.items():
                inc = (peak - base_rss) / MIB
                verdict = "met" if (peak - base_rss) < 64 * MB else "MISSED"
                print(f"{phase:<22}{peak / MIB:>14.1f}{inc:>14.1f}  {verdict}")


if __name__ == "__main__":
    main()
