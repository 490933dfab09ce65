"""Every row of issue 18's table in one run: the appliance beside nginx and a bare Sanic app.

Each row alternates rounds between the appliance and its reference (A B, then B A, ...)
so that a burst of other work on the machine falls on both, and prints the median of
the per-round ratios (appliance / reference) with their min-max, the target, and the
1-minute load average when the row finished. Rows are printed as they finish; the
heading names the machine (CPU model, cores, kernel) and the load average.

Servers, all on loopback and started only for the rows selected: the appliance
(``serve --workers 1``, and ``--workers 2`` for the 2-versus-2 row) with the plans'
hourly limits raised through ``-s`` (the load is the benchmark, not an abuse); nginx
with 1 and 2 worker processes serving the same bytes from disk (``sendfile on``) and
accepting PUTs to disk (``dav_methods PUT``); a bare Sanic app answering the same JSON.
HTTP GET rows use wrk (``-t2``, 32 connections unless the row says otherwise); the
upload rows use bench/_loadgen.py (8 asyncio clients, distinct bytes per request) for
both sides. Start-up rows time ``serve`` (a restart: data directory already migrated)
and the bare app to their first ``/health`` 200, and ``pichr-appliance --version``.

Needs nginx and wrk (``apt-get install -y nginx-light wrk``).

Usage: .venv/bin/python bench/run_all.py [--rounds 3] [--seconds 3]
       [--only ROW[,ROW]] [--markdown] [--list]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    BARE_APP,
    free_port,
    have_nginx_and_wrk,
    live_server,
    load_average,
    machine,
    noise_jpeg,
    signup,
    start_nginx,
    stop,
    time_to_health,
    upload_bytes,
    version_seconds,
    wrk,
)
from _loadgen import upload_load  # noqa: E402

BIG = 514_000  # the 514 KB JPEG
SMALL = 31_000  # and its 31 KB one
UPLOAD_CLIENTS = 8
LIMITS = [
    "plans.anonymous.requests_per_hour=1000000000",
    "plans.free.requests_per_hour=1000000000",
    "plans.free.uploads_per_hour=1000000000",
    "plans.free.max_file_bytes=100000000",
    "plans.free.quota_bytes=1000000000000",
    "storage.min_free_bytes=0",
]


@dataclass
class Result:
    """Per-round figures of one row: appliance, reference, and what they mean."""

    appliance: list[float]
    reference: list[float]
    unit: str
    note: str = ""
    passed: bool | None = None  # set by the row when the verdict is not a plain ratio


@dataclass
class Row:
    """One line of the table: its ``--only`` name, what it measures, and its target."""

    name: str
    case: str
    reference: str
    target: str
    check: Callable[[float, Result], bool | None]  # (median ratio, result) -> met; None: info
    run: Callable[[Lab], Result]


class Lab:
    """The servers and files the selected rows need, started on first use and stopped
    (every process, workers included) on :meth:`close`."""

    def __init__(self, root: Path, rounds: int, seconds: int) -> None:
        self.root, self.rounds, self.seconds = root, rounds, seconds
        self.www = root / "www"
        self.www.mkdir()
        self._stack = contextlib.ExitStack()
        self._appliances: dict[int, tuple[str, dict[str, str]]] = {}
        self._nginx: dict[int, str] = {}
        self._files: dict[str, tuple[str, bytes]] = {}
        self._bare: str | None = None
        self._bare_bytes: str | None = None

    def close(self) -> None:
        """Stop everything started."""
        self._stack.close()

    def appliance(self, workers: int = 1) -> tuple[str, dict[str, str]]:
        """(base URL, auth headers of an account) of ``serve --workers N``."""
        if workers not in self._appliances:
            args = ["--workers", str(workers)]
            for setting in LIMITS:
                args += ["-s", setting]
            server = self._stack.enter_context(
                live_server(self.root / f"data-{workers}", args=args)
            )
            self._appliances[workers] = (server.url, signup(server.url))
        return self._appliances[workers]

    def nginx(self, workers: int = 1) -> str:
        """Base URL of an nginx with ``workers`` processes serving :attr:`www`."""
        if workers not in self._nginx:
            root = self.root / f"nginx-{workers}"
            root.mkdir()
            (root / "www").symlink_to(self.www)
            (self.www / "health.txt").write_text("ok")
            port = free_port()
            proc = start_nginx(root, port, workers, probe="/health.txt")
            self._stack.callback(stop, proc)
            self._nginx[workers] = f"http://127.0.0.1:{port}"
        return self._nginx[workers]

    def image(self, size: int, workers: int = 1) -> tuple[str, bytes]:
        """(file id, bytes) of a public noise JPEG of about ``size`` bytes, uploaded to
        the appliance with ``workers`` workers and written to nginx's root too."""
        key = f"{size}-{workers}"
        if key not in self._files:
            data = noise_jpeg(size)
            base, headers = self.appliance(workers)
            file_id = upload_bytes(base, headers, data, f"img{size}.jpg")
            (self.www / f"img{size}-{workers}.jpg").write_bytes(data)
            self._files[key] = (file_id, data)
        return self._files[key]

    def bare(self, document: dict) -> str:
        """Base URL of the bare Sanic app (1 worker) answering ``document`` at /json."""
        if self._bare is None:
            doc = self.root / "bare.json"
            doc.write_text(json.dumps(document))
            app = self.root / "bare.py"
            app.write_text(BARE_APP)
            port = free_port()
            argv = [sys.executable, str(app), str(port), "1", str(doc)]
            self._stack.enter_context(_process(argv, port))
            self._bare = f"http://127.0.0.1:{port}"
        return self._bare

    def bare_bytes(self) -> str:
        """Base URL of a bare Sanic app (1 worker) answering the files of :attr:`www`
        from memory at /bytes/{name}."""
        if self._bare_bytes is None:
            app = self.root / "bare.py"
            app.write_text(BARE_APP)
            port = free_port()
            argv = [sys.executable, str(app), str(port), "1", "-", str(self.www)]
            self._stack.enter_context(_process(argv, port))
            self._bare_bytes = f"http://127.0.0.1:{port}"
        return self._bare_bytes

    def alternate(self, appliance: Callable[[], float], reference: Callable[[], float]):
        """Run both ``rounds`` times, the order flipped every round; per-round lists."""
        got: tuple[list[float], list[float]] = ([], [])
        for n in range(self.rounds):
            order = ((0, appliance), (1, reference))
            for side, fn in order if n % 2 == 0 else reversed(order):
                got[side].append(fn())
        return got


@contextlib.contextmanager
def _process(argv: list[str], port: int):
    """A server subprocess, waited for until /health answers; killed (with its group)."""
    import signal
    import subprocess
    import time

    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{argv} did not start")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _same_bytes(urls: list[str], expected: bytes | None = None) -> bytes:
    """GET every URL; all must answer 200 with the same body (``expected`` if given)."""
    bodies = []
    for url in urls:
        r = httpx.get(url, timeout=30)
        r.raise_for_status()
        bodies.append(r.content)
    first = expected if expected is not None else bodies[0]
    for url, body in zip(urls, bodies, strict=True):
        if body != first:
            raise RuntimeError(f"{url} answered other bytes ({len(body)} vs {len(first)})")
    return first


def _rps_rows(lab: Lab, urls: tuple[str, str], connections: int = 32) -> Result:
    """wrk requests/s of the appliance URL and the reference URL, alternating."""
    for url in urls:
        wrk(url, 1, connections)  # warm-up: caches, connections, the JIT of nothing
    a, r = lab.alternate(
        lambda: wrk(urls[0], lab.seconds, connections)["rps"],
        lambda: wrk(urls[1], lab.seconds, connections)["rps"],
    )
    return Result(a, r, "req/s")


def _same_bytes_rps(lab: Lab, urls: tuple[str, str], data: bytes, note: str) -> Result:
    """Both URLs checked to answer ``data``, then their requests/s side by side."""
    _same_bytes(list(urls), data)
    result = _rps_rows(lab, urls)
    result.note = note
    return result


def serving(size: int, workers: int) -> Callable[[Lab], Result]:
    """The ``GET /i/{id}`` row for an image of ``size`` bytes and ``workers`` each."""

    def run(lab: Lab) -> Result:
        file_id, data = lab.image(size, workers)
        base, _ = lab.appliance(workers)
        urls = (f"{base}/i/{file_id}", f"{lab.nginx(workers)}/img{size}-{workers}.jpg")
        return _same_bytes_rps(lab, urls, data, f"{len(data):,} B")

    return run


def ceiling(size: int) -> Callable[[Lab], Result]:
    """Not the appliance: a bare Sanic handler answering the same image bytes from
    memory against nginx, i.e. the best ratio a Sanic application can reach here."""

    def run(lab: Lab) -> Result:
        _, data = lab.image(size, 1)
        urls = (f"{lab.bare_bytes()}/bytes/img{size}-1.jpg", f"{lab.nginx(1)}/img{size}-1.jpg")
        return _same_bytes_rps(lab, urls, data, f"{len(data):,} B; bare Sanic in that column")

    return run


def variant(lab: Lab) -> Result:
    """A cached ``?w=256`` variant of the 514 KB JPEG against nginx serving its bytes."""
    file_id, _ = lab.image(BIG)
    base, _ = lab.appliance()
    url = f"{base}/i/{file_id}?w=256"
    body = _same_bytes([url, url])  # the first makes it, the second is the cached one
    (lab.www / "variant.jpg").write_bytes(body)
    urls = (url, f"{lab.nginx()}/variant.jpg")
    _same_bytes(list(urls), body)
    result = _rps_rows(lab, urls)
    result.note = f"{len(body):,} B"
    return result


def file_api(lab: Lab) -> Result:
    """Anonymous ``GET /api/v1/files/{id}`` of a public file against a bare Sanic handler
    answering the same JSON."""
    file_id, _ = lab.image(SMALL)
    base, _ = lab.appliance()
    url = f"{base}/api/v1/files/{file_id}"
    r = httpx.get(url, timeout=30)
    r.raise_for_status()
    bare = f"{lab.bare(r.json())}/json"
    if httpx.get(bare, timeout=30).json() != r.json():
        raise RuntimeError("the bare app answers other JSON")
    result = _rps_rows(lab, (url, bare))
    result.note = f"{len(r.content):,} B JSON"
    return result


def p99(connections: int) -> Callable[[Lab], Result]:
    """p99 latency of ``GET /i/{id}`` 514 KB at ``connections``, 1 worker each; wrk's
    time-outs (2 s) are counted, not fatal."""

    def run(lab: Lab) -> Result:
        file_id, data = lab.image(BIG)
        base, _ = lab.appliance()
        urls = (f"{base}/i/{file_id}", f"{lab.nginx()}/img{BIG}-1.jpg")
        _same_bytes(list(urls), data)
        timeouts = [0, 0]

        def measure(side: int) -> float:
            got = wrk(urls[side], lab.seconds, connections, allow_errors=True)
            timeouts[side] += got["errors"]["timeout"]
            return got["p99"]

        for url in urls:
            wrk(url, 1, connections, allow_errors=True)  # warm-up
        a, r = lab.alternate(lambda: measure(0), lambda: measure(1))
        note = f"time-outs: appliance {timeouts[0]}, nginx {timeouts[1]}"
        return Result(a, r, "ms p99", note, passed=timeouts[0] == 0)

    return run


def upload(size: int) -> Callable[[Lab], Result]:
    """One-request uploads of a ``size``-byte JPEG from 8 clients against nginx writing
    PUT bodies to disk, both driven by the same client."""

    def run(lab: Lab) -> Result:
        data = noise_jpeg(size)
        base, headers = lab.appliance()
        nginx = lab.nginx()

        def appliance() -> float:
            path = lambda c, n: "/api/v1/upload?filename=bench.jpg"  # noqa: E731
            return upload_load(base, "POST", path, data, UPLOAD_CLIENTS, lab.seconds, headers)[0]

        def reference() -> float:
            path = lambda c, n: f"/up/{c}.jpg"  # noqa: E731 - one file per client, rewritten
            return upload_load(nginx, "PUT", path, data, UPLOAD_CLIENTS, lab.seconds)[0]

        appliance(), reference()  # warm-up (and a check that both accept the body)
        a, r = lab.alternate(appliance, reference)
        return Result(a, r, "uploads/s", f"{len(data):,} B, {UPLOAD_CLIENTS} clients")

    return run


def startup(lab: Lab) -> Result:
    """``serve --workers 1`` (a restart) and the bare Sanic app to the first /health 200."""
    command = str(Path(sys.executable).parent / "pichr-appliance")
    data = lab.root / "data-startup"
    env = {k: v for k, v in os.environ.items() if k != "PICHR_DATABASE__URL"}
    app = lab.root / "bare-startup.py"
    app.write_text(BARE_APP)

    def serve() -> float:
        port = free_port()
        argv = [command, "serve", "--data-dir", str(data), "--port", str(port), "--workers", "1"]
        return time_to_health(argv, port, env)[0]

    def bare() -> float:
        port = free_port()
        return time_to_health([sys.executable, str(app), str(port), "1"], port, env)[0]

    serve()  # the first start (migrations, secret): not what a restart costs
    a, r = lab.alternate(serve, bare)
    return Result(a, r, "s", "restart; bare Sanic app as reference", passed=_med(a) < 1.2)


def version(lab: Lab) -> Result:
    """``pichr-appliance --version`` against the interpreter's own start (``-c pass``)."""
    import subprocess
    import time

    command = str(Path(sys.executable).parent / "pichr-appliance")

    def interpreter() -> float:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        return time.perf_counter() - t0

    a, r = lab.alternate(lambda: version_seconds(command), interpreter)
    return Result(a, r, "s", "reference: python -c pass", passed=_med(a) < 0.2)


def _at_least(target: float) -> Callable[[float, Result], bool]:
    return lambda ratio, result: ratio >= target


def _given(ratio: float, result: Result) -> bool:
    return bool(result.passed)


def _informative(ratio: float, result: Result) -> None:
    return None  # a reference point, not a target


def _p99_check(ratio: float, result: Result) -> bool:
    return ratio <= 5 and bool(result.passed)


ROWS = [
    Row("i-514k", "GET /i/{id} 514 KB, 1 worker", "nginx 1 worker", "≥ 0.7",
        _at_least(0.7), serving(BIG, 1)),
    Row("i-514k-2w", "GET /i/{id} 514 KB, 2 workers", "nginx 2 workers", "≥ 0.9",
        _at_least(0.9), serving(BIG, 2)),
    Row("i-31k", "GET /i/{id} 31 KB", "nginx", "≥ 0.35", _at_least(0.35), serving(SMALL, 1)),
    Row("variant", "cached ?w=256 variant", "nginx, same bytes", "≥ 0.35",
        _at_least(0.35), variant),
    Row("sanic-514k", "bare Sanic handler, 514 KB from memory", "nginx 1 worker",
        "— (Sanic's own ceiling)", _informative, ceiling(BIG)),
    Row("sanic-31k", "bare Sanic handler, 31 KB from memory", "nginx 1 worker",
        "— (Sanic's own ceiling)", _informative, ceiling(SMALL)),
    Row("files-api", "GET /api/v1/files/{id}", "bare Sanic JSON handler", "≥ 0.4",
        _at_least(0.4), file_api),
    Row("p99-32", "p99 514 KB, 32 connections", "nginx p99", "≤ 5×, no time-outs",
        _p99_check, p99(32)),
    Row("p99-128", "p99 514 KB, 128 connections", "nginx p99", "≤ 5×, no time-outs",
        _p99_check, p99(128)),
    Row("upload-500k", "one-request upload 500 KB, 8 clients", "nginx PUT to disk", "≥ 0.25",
        _at_least(0.25), upload(500_000)),
    Row("upload-5m", "upload 5 MB, 8 clients", "nginx PUT to disk", "≥ 0.3",
        _at_least(0.3), upload(5_000_000)),
    Row("startup", "serve to first /health 200", "bare Sanic app start", "< 1.2 s",
        _given, startup),
    Row("version", "pichr-appliance --version", "python -c pass", "< 0.2 s", _given, version),
]  # fmt: skip
BY_NAME = {row.name: row for row in ROWS}


def _med(values: list[float]) -> float:
    return statistics.median(values)


def _span(values: list[float], digits: int) -> str:
    """``median (min–max)`` with ``digits`` decimals."""
    return f"{_med(values):,.{digits}f} ({min(values):,.{digits}f}–{max(values):,.{digits}f})"


def format_row(row: Row, result: Result, markdown: bool) -> str:
    """One printed line: case, both sides, ratio median (min–max), target, verdict."""
    ratios = [a / r for a, r in zip(result.appliance, result.reference, strict=True)]
    ratio = _med(ratios)
    digits = 0 if result.unit in ("req/s",) else 1 if result.unit != "s" else 2
    cells = [
        row.name,
        row.case,
        row.reference,
        f"{_span(result.appliance, digits)} {result.unit}",
        f"{_span(result.reference, digits)} {result.unit}",
        _span(ratios, 2),
        row.target,
        {True: "met", False: "MISSED", None: "info"}[row.check(ratio, result)],
        f"{os.getloadavg()[0]:.2f}",
        result.note,
    ]
    if markdown:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"
    return "  ".join(c.ljust(w) for c, w in zip(cells, WIDTHS, strict=True)).rstrip()


HEADER = [
    "row", "case", "reference", "appliance", "reference figure", "ratio (min–max)",
    "target", "verdict", "load", "note",
]  # fmt: skip
WIDTHS = [11, 36, 24, 32, 32, 18, 18, 7, 5, 0]  # text mode; Markdown needs none


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; ``--only`` names are checked here, before anything starts."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per row")
    parser.add_argument("--seconds", type=int, default=5, help="seconds per load run")
    parser.add_argument("--only", default="", help="ROW[,ROW]: run these rows (see --list)")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--list", action="store_true", help="print the row names and exit")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        parser.error(f"unknown row {', '.join(unknown)}; rows: {', '.join(BY_NAME)}")
    args.rows = [BY_NAME[n] for n in names] if names else ROWS
    args.rounds = max(1, args.rounds)
    args.seconds = max(1, min(args.seconds, 120))
    return args


def main(argv: list[str] | None = None) -> None:
    """Run the selected rows and print each as it finishes."""
    args = parse_args(argv)
    if args.list:
        for row in ROWS:
            print(f"{row.name:12} {row.case}  (target {row.target})")
        return
    if not have_nginx_and_wrk():
        sys.exit("needs nginx and wrk: apt-get install -y nginx-light wrk")
    print(f"machine: {machine()}")
    print(f"load average at the start: {load_average()}")
    print(f"{args.rounds} alternating rounds of {args.seconds:g} s per row, loopback\n")
    if args.markdown:
        print("| " + " | ".join(HEADER) + " |")
        print("|" + "---|" * len(HEADER))
    else:
        print("  ".join(h.ljust(w) for h, w in zip(HEADER, WIDTHS, strict=True)).rstrip())
    with tempfile.TemporaryDirectory(prefix="pichr-run-all-") as tmp:
        lab = Lab(Path(tmp), args.rounds, args.seconds)
        try:
            for row in args.rows:
                print(format_row(row, row.run(lab), args.markdown), flush=True)
        finally:
            lab.close()
    print(f"\nload average at the end: {load_average()}")


if __name__ == "__main__":
    main()
