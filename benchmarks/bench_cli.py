"""How fast does the CLI answer? Start-up of `althedge --help`, a sub-command's help, a usage
error and a calculator, as CPU seconds (user + sys) of the whole process, median of N runs.

    PYTHONPATH=src python3 benchmarks/bench_cli.py [--runs 7] [--importtime]

Baselines in the same table: ``python -c pass`` (the interpreter) and ``import typer`` (click
and typer: the floor of any sub-command; typer is pinned below 0.26, whose pydantic-based
parameter layer cost ~0.15 s more). ``--importtime``
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
    ("import typer", ["-c", "import typer"]),
    ("althedge --help", ["-m", "althedge", "--help"]),
    ("althedge -h", ["-m", "althedge", "-h"]),
    ("althedge calc pnl --help", ["-m", "althedge", "calc", "pnl", "--help"]),
    ("althedge plan --help", ["-m", "althedge", "plan", "--help"]),
    ("althedge hedge open --help", ["-m", "althedge", "hedge", "open", "--help"]),
    ("usage error (calc pnl --bogus)", ["-m", "althedge", "calc", "pnl", "--bogus"]),
    ("usage error (hedge open, no portfolio)", ["-m", "althedge", "hedge", "open"]),
    ("althedge calc hedge (seed example)",
     ["-m", "althedge", "calc", "hedge", "--value", "50000", "--beta", "1.8", "--price",
      "65000", "--contract-size", "1"]),
    ("althedge calc pnl (inverse, with ROE)",
     ["-m", "althedge", "calc", "pnl", "--contract", "inverse", "--side", "short",
      "--contracts", "100", "--contract-size", "100", "--entry", "50000", "--exit", "45000",
      "--leverage", "5"]),
    ("althedge calc liquidation (tiers)",
     ["-m", "althedge", "calc", "liquidation", "--exchange", "binance", "--symbol",
      "BTC/USDT:USDT", "--side", "short", "--contracts", "1", "--entry", "60000",
      "--leverage", "5"]),
    ("althedge calc funding --json",
     ["-m", "althedge", "calc", "funding", "--contract", "linear", "--contracts", "1",
      "--contract-size", "1", "--mark", "60000", "--rate", "0.0001", "--json"]),
    ("althedge calc basis",
     ["-m", "althedge", "calc", "basis", "--spot", "60000", "--futures", "61000",
      "--expiry", "2027-03-26"]),
]


#: as an installed althedge runs: bytecode cached (some machines set PYTHONDONTWRITEBYTECODE,
#: which recompiles every althedge module on each start, ~0.05 s more)
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _cpu_of(args: list[str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, *args], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False, env=_ENV)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def _importtime(args: list[str], top: int = 10) -> None:
    proc = subprocess.run([sys.executable, "-X", "importtime", *args], capture_output=True,
                          text=True, check=False, env=_ENV)
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
    for _, args in CASES:
        _cpu_of(args)  # warm-up: writes the bytecode cache of the modules this case imports
    for label, args in CASES:
        cpu, wall = zip(*(_cpu_of(args) for _ in range(opts.runs)), strict=True)
        print(f"{label:40s} {statistics.median(cpu):15.3f} {statistics.median(wall):16.3f}")
    if opts.importtime:
        _importtime(["-m", "althedge", "--help"])
        _importtime(["-m", "althedge", "calc", "pnl", "--help"])


if __name__ == "__main__":
    main()
