"""bench/run_all.py's command line: it starts, names its rows, refuses unknown ones;
and the wrk output it reads is parsed as wrk prints it. No server and no timing here:
the benchmark itself is run by hand (docs/benchmarks.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN_ALL = ROOT / "bench" / "run_all.py"

WRK_OUTPUT = """\
Running 3s test @ http://127.0.0.1:8000/i/x
  2 threads and 128 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   120.50ms  300.10ms   1.99s    92.00%
    Req/Sec     1.20k   300.00     2.00k    70.00%
  Latency Distribution
     50%  812.00us
     75%   20.00ms
     90%   40.00ms
     99%    1.20s
  7200 requests in 3.00s, 3.50GB read
  Socket errors: connect 0, read 1, write 0, timeout 12
Requests/sec:   2400.00
Transfer/sec:      1.17GB
"""


def run_all(*args: str) -> subprocess.CompletedProcess:
    """bench/run_all.py with ``args``, as a user runs it."""
    return subprocess.run(
        [sys.executable, str(RUN_ALL), *args], capture_output=True, text=True, timeout=60
    )


def test_help_names_the_options():
    got = run_all("--help")
    assert got.returncode == 0, got.stderr
    for option in ("--rounds", "--seconds", "--only", "--markdown", "--list"):
        assert option in got.stdout


def test_list_names_every_row_of_the_issue_table():
    got = run_all("--list")
    assert got.returncode == 0, got.stderr
    names = [line.split()[0] for line in got.stdout.splitlines() if line.strip()]
    assert names == [
        "i-514k", "i-514k-2w", "i-31k", "variant", "sanic-514k", "sanic-31k", "files-api",
        "p99-32", "p99-128", "upload-500k", "upload-5m", "startup", "version",
    ]  # fmt: skip


def test_only_refuses_an_unknown_row_before_starting_anything():
    got = run_all("--only", "i-31k,nope")
    assert got.returncode == 2
    assert "unknown row nope" in got.stderr
    assert "i-514k" in got.stderr  # the message lists the rows there are
    assert "machine:" not in got.stdout  # nothing ran


def test_wrk_output_is_read_with_its_units_and_time_outs():
    sys.path.insert(0, str(ROOT / "bench"))
    from _common import parse_wrk

    got = parse_wrk(WRK_OUTPUT)
    assert got["rps"] == 2400.0
    assert got["p50"] == 0.812
    assert got["p99"] == 1200.0
    assert got["errors"] == {"connect": 0, "read": 1, "write": 0, "timeout": 12, "non2xx": 0}
    assert parse_wrk("unable to connect to 127.0.0.1:1 Connection refused") is None
