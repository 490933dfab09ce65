"""What the commit protocol costs: one-request uploads with ``storage.fsync`` on and off.

Two servers (one worker each, SQLite synchronous=FULL in both) run side by side on
their own data directories; rounds alternate between them so that load from other
processes on the machine falls on both alike. Each round sends ``--count`` one-request
uploads of a fresh noise JPEG per size over ``--concurrency`` connections and reports
uploads/s and the median latency. Figures go to docs/benchmarks.md ("Durability").

Then the storage layer alone (``LocalStorage.put`` of random bytes, no HTTP or image
checks), where the fsync is not hidden behind decoding.

Usage: .venv/bin/python bench/bench_upload_fsync.py [--rounds 3] [--count 40]
       [--concurrency 4] [--storage-only]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import live_server, noise_jpeg, signup  # noqa: E402

from pichr_appliance.storage.local import LocalStorage  # noqa: E402

SIZES = {"500 KB": 500_000, "5 MB": 5_000_000}
ENV = {
    "PICHR_PLANS__FREE__MAX_FILE_BYTES": str(100_000_000),
    "PICHR_PLANS__FREE__QUOTA_BYTES": str(100_000_000_000),
    "PICHR_PLANS__FREE__UPLOADS_PER_HOUR": "100000",
    "PICHR_PLANS__FREE__REQUESTS_PER_HOUR": "1000000",
    "PICHR_STORAGE__MIN_FREE_BYTES": "0",
}


def one_round(base: str, headers: dict, bodies: list[bytes], concurrency: int) -> tuple:
    """Upload every body once; (uploads/s, p50 seconds)."""
    latencies: list[float] = []

    def send(client: httpx.Client, body: bytes) -> None:
        t0 = time.perf_counter()
        r = client.post(
            f"{base}/api/v1/upload", params={"filename": "b.jpg"}, headers=headers, content=body
        )
        if r.status_code != 201:
            raise RuntimeError(f"upload: {r.status_code} {r.text}")
        latencies.append(time.perf_counter() - t0)

    with httpx.Client(timeout=120) as client, ThreadPoolExecutor(concurrency) as pool:
        t0 = time.perf_counter()
        list(pool.map(lambda b: send(client, b), bodies))
        elapsed = time.perf_counter() - t0
    return len(bodies) / elapsed, statistics.median(latencies)


def storage_round(root: Path, body: bytes, fsync: bool, count: int) -> float:
    """The storage layer alone (no HTTP, no image checks): p50 seconds of one put()."""
    settings = SimpleNamespace(storage=SimpleNamespace(fsync=fsync))
    store = LocalStorage(settings, root=root)

    async def run() -> list[float]:
        await store.startup()
        took = []
        for i in range(count):
            t0 = time.perf_counter()
            await store.put(f"bench/{os.urandom(6).hex()}/{i}", one(body))
            took.append(time.perf_counter() - t0)
        return took

    return statistics.median(asyncio.run(run()))


async def one(body: bytes):
    """The body in 256 KiB chunks, as a request stream delivers it."""
    for i in range(0, len(body), 256 * 1024):
        yield body[i : i + 256 * 1024]


def storage_only(root: Path, rounds: int, count: int) -> None:
    """Alternating rounds of LocalStorage.put with fsync on and off; print p50s."""
    print("\nstorage layer alone (LocalStorage.put, sequential):")
    print("| size | fsync | p50 ms (median of rounds) |")
    print("|---|---|---|")
    for label, size in SIZES.items():
        body = os.urandom(size)
        got: dict[bool, list[float]] = {True: [], False: []}
        for n in range(rounds):
            for fsync in (True, False) if n % 2 == 0 else (False, True):
                got[fsync].append(storage_round(root / str(fsync), body, fsync, count))
        for fsync in (True, False):
            p50 = statistics.median(got[fsync]) * 1000
            print(f"| {label} | {str(fsync).lower()} | {p50:.2f} |")


def main() -> None:
    """Alternate rounds between the fsync=true and fsync=false servers; print a table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count", type=int, default=40, help="uploads per round and size")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--storage-only", action="store_true", help="skip the HTTP rounds")
    args = parser.parse_args()
    if args.storage_only:
        with tempfile.TemporaryDirectory(prefix="pichr-bench-fsync-") as tmp:
            storage_only(Path(tmp), args.rounds, args.count)
        return
    # Distinct bodies (a few, reused): duplicate detection must not shortcut anything.
    bodies = {label: [noise_jpeg(size) for _ in range(4)] for label, size in SIZES.items()}
    results: dict[tuple[str, bool], list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="pichr-bench-fsync-") as tmp:
        root = Path(tmp)
        on_env = {**ENV, "PICHR_STORAGE__FSYNC": "true"}
        off_env = {**ENV, "PICHR_STORAGE__FSYNC": "false"}
        with (
            live_server(root / "on", env=on_env, args=["--workers", "1"]) as on,
            live_server(root / "off", env=off_env, args=["--workers", "1"]) as off,
        ):
            servers = {True: (on.url, signup(on.url)), False: (off.url, signup(off.url))}
            for n in range(args.rounds):
                order = (True, False) if n % 2 == 0 else (False, True)
                for label, pool in bodies.items():
                    work = [pool[i % len(pool)] for i in range(args.count)]
                    for fsync in order:
                        base, headers = servers[fsync]
                        got = one_round(base, headers, work, args.concurrency)
                        results.setdefault((label, fsync), []).append(got)
                        print(f"round {n + 1} {label} fsync={fsync}: "
                              f"{got[0]:.1f}/s p50 {got[1] * 1000:.1f} ms", flush=True)  # fmt: skip
    print(f"\n{args.count} uploads x {args.rounds} rounds, concurrency {args.concurrency}")
    print("| size | fsync | uploads/s (median) | p50 ms (median) |")
    print("|---|---|---|---|")
    for (label, fsync), rows in results.items():
        rate = statistics.median(r[0] for r in rows)
        p50 = statistics.median(r[1] for r in rows) * 1000
        print(f"| {label} | {str(fsync).lower()} | {rate:.1f} | {p50:.1f} |")
    with tempfile.TemporaryDirectory(prefix="pichr-bench-fsync-") as tmp:
        storage_only(Path(tmp), args.rounds, args.count)


if __name__ == "__main__":
    main()
