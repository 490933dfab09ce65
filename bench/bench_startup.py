"""Start-up: ``serve`` to the first ``/health`` 200, and ``--version``, side by side.

Measures, in alternating rounds so that a busy moment hits every candidate alike:

- the Python install (``.venv/bin/pichr-appliance``) and, when it exists, the single
  binary (``dist/pichr-appliance``, or ``--binary PATH``): ``serve`` on a new data
  directory (first start: migrations, secret) and again on that same directory
  (a restart), wall time to the first ``GET /health`` 200 and the CPU seconds the
  process tree had used by then;
- a bare Sanic app (one JSON route, same worker count) as the floor of what Sanic's
  start-up costs here;
- ``--version`` of each command.

    .venv/bin/python bench/bench_startup.py [--rounds 5] [--workers 1] [--binary PATH]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BARE_APP, free_port, time_to_health, version_seconds  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def summary(values: list[float]) -> str:
    """Median (min-max)."""
    return f"{statistics.median(values):.2f} s ({min(values):.2f}-{max(values):.2f})"


def main() -> None:
    """Run the rounds and print one line per case."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--binary", default=str(ROOT / "dist" / "pichr-appliance"))
    args = parser.parse_args()

    commands = {"python install": str(Path(sys.executable).parent / "pichr-appliance")}
    if Path(args.binary).is_file():
        commands["binary"] = args.binary
    else:
        print(f"(no binary at {args.binary}: build it with packaging/build-binary.sh)")
    results: dict[str, list[tuple[float, float]]] = {}
    versions: dict[str, list[float]] = {name: [] for name in commands}
    with tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp) / "bare.py"
        bare.write_text(BARE_APP)
        env = {**os.environ, "PICHR_RATE_LIMITS__ENABLED": "false"}
        env.pop("PICHR_DATABASE__URL", None)
        for round_no in range(args.rounds):
            for name, command in commands.items():
                data = Path(tmp) / f"{name.replace(' ', '-')}-{round_no}"
                for kind in ("first start", "restart"):
                    port = free_port()
                    argv = [command, "serve", "--data-dir", str(data), "--port", str(port)]
                    argv += ["--workers", str(args.workers)]
                    results.setdefault(f"{name}, {kind}", []).append(
                        time_to_health(argv, port, env)
                    )
                versions[name].append(version_seconds(command))
            port = free_port()
            argv = [sys.executable, str(bare), str(port), str(args.workers)]
            results.setdefault("bare Sanic app", []).append(time_to_health(argv, port, env))
    load = os.getloadavg()
    print(f"{args.rounds} rounds, --workers {args.workers}, {os.cpu_count()} CPUs, ")
    print(f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"{'case':32} {'first /health 200':24} {'CPU by then':24}")
    for case, pairs in results.items():
        walls, cpus = [p[0] for p in pairs], [p[1] for p in pairs]
        print(f"{case:32} {summary(walls):24} {summary(cpus):24}")
    for name, values in versions.items():
        print(f"{name + ' --version':32} {summary(values):24}")


if __name__ == "__main__":
    main()
