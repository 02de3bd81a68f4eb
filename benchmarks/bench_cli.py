"""How fast does the CLI answer? Start-up of `althedge --help`, a sub-command's help, a usage
error and a calculator, as CPU seconds (user + sys) of the whole process, median of N runs.

    PYTHONPATH=src python3 benchmarks/bench_cli.py [--runs 7] [--importtime]

Baselines in the same table: ``python -c pass`` (the interpreter) and ``import typer`` with
its pydantic-based parameter layer (the floor of any typer sub-command). ``--importtime``
prints the ten slowest imports of ``althedge --help`` and ``althedge calc pnl --help``
(``python -X importtime``). Results: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

CASES: list[tuple[str, list[str]]] = [
    ("python -c pass (interpreter)", ["-c", "pass"]),
    ("import typer + its pydantic layer", ["-c", "import typer, typer._adapters"]),
    ("althedge --help", ["-m", "althedge", "--help"]),
    ("althedge -h", ["-m", "althedge", "-h"]),
    ("althedge calc pnl --help", ["-m", "althedge", "calc", "pnl", "--help"]),
    ("althedge plan --help", ["-m", "althedge", "plan", "--help"]),
    ("althedge hedge open --help", ["-m", "althedge", "hedge", "open", "--help"]),
    ("usage error (calc pnl --bogus)", ["-m", "althedge", "calc", "pnl", "--bogus"]),
    ("althedge calc hedge (seed example)",
     ["-m", "althedge", "calc", "hedge", "--value", "50000", "--beta", "1.8", "--price",
      "65000", "--contract-size", "1"]),
]


def _cpu_of(args: list[str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, *args], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def _importtime(args: list[str], top: int = 10) -> None:
    proc = subprocess.run([sys.executable, "-X", "importtime", *args], capture_output=True,
                          text=True, check=False)
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cum_us, name = (p.strip() for p in
                                 line.removeprefix("import time:").split("|"))
        rows.append((int(cum_us), int(self_us), name))
    print(f"\nslowest imports (cumulative ms) of: {' '.join(args[2:])}")
    for cum, own, name in sorted(rows, reverse=True)[:top]:
        print(f"  {cum / 1000:7.1f}  (self {own / 1000:5.1f})  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--importtime", action="store_true")
    opts = parser.parse_args()
    print(f"{'case':40s} {'CPU s (median)':>15s} {'wall s (median)':>16s}   load "
          f"{os.getloadavg()[0]:.1f}")
    for label, args in CASES:
        cpu, wall = zip(*(_cpu_of(args) for _ in range(opts.runs)), strict=True)
        print(f"{label:40s} {statistics.median(cpu):15.3f} {statistics.median(wall):16.3f}")
    if opts.importtime:
        _importtime(["-m", "althedge", "--help"])
        _importtime(["-m", "althedge", "calc", "pnl", "--help"])


if __name__ == "__main__":
    main()
