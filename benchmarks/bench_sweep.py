"""Sweep scaling: random portfolios × the policy set × years of hourly data on 1, 2, … cores.

Run from the repository root (the issue's scale; hours on a small machine)::

    PYTHONPATH=src python3 benchmarks/bench_sweep.py --portfolios 1000 --years 5 --workers 1,2,all

and at a reduced scale that fits a shared 2-core box (what benchmarks/README.md records)::

    PYTHONPATH=src python3 benchmarks/bench_sweep.py --portfolios 8 --years 5 --workers 1,2

Real data: Binance spot hourly closes of ``--prices`` (``binance/spot_1h``; BTC, ETH and
the alts listed below have hourly bars over the whole span), the last ``--years`` years up
to 2026-05-16; random portfolios of 2–5 of those alts with Dirichlet weights; the policy
set of ``bench_backtest.py sweep`` in hourly bars (10 policies: none, static:1.8,
one-to-one, rolling OLS 30/90 days, EWMA 7/30 days, downside, shrunk, BTC+ETH minimum
variance); daily rebalancing, taker fees, 2 bp slippage, each leg's funding history.

For each worker count the sweep runs on a fresh ``LocalCluster`` (one thread per worker
process) into a fresh folder; it prints the wall time, runs per second, the scaling
efficiency (runs/s on k workers ÷ (k × runs/s on 1)), each worker's peak resident memory
(``getrusage`` max RSS, read from the workers at the end), and what one run costs (task
CPU time ÷ policies, and task wall time as the workers saw it). Every configuration must
produce the same rows (checked; exits 1 otherwise).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

ALTS = ["ADA", "AVAX", "DOGE", "DOT", "LINK", "SOL", "XRP"]
POLICIES = ["none", "static:1.8", "one-to-one", "rolling-ols:720", "rolling-ols:2160",
            "ewma:168", "ewma:720", "downside:720", "shrunk:720", "multi:720"]
LAST = pd.Timestamp("2026-05-16")


def spec(portfolios: int, years: float, prices: Path) -> dict[str, Any]:
    start = LAST - pd.DateOffset(months=round(12 * years))
    return {
        "name": f"bench: {portfolios} portfolios × {len(POLICIES)} policies × {years:g} y hourly",
        "prices": str(prices.resolve()), "timeframe": "1h", "seed": 11,
        "policies": POLICIES,
        "portfolios": {"random": portfolios, "universe": ALTS, "coins": [2, 5],
                       "weighting": "random", "value_usd": 10_000},
        "hedge": {"leverage": 2, "rounding": "none"},
        "settings": {"rebalance": "daily", "window": 720},
        "periods": [{"name": f"{years:g}y", "start": str(start.date()),
                     "end": str(LAST.date())}],
        "summary": {"bootstrap": 200},
    }


def _max_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run(n_workers: int, the_spec: dict[str, Any]) -> tuple[float, pd.DataFrame, list[float]]:
    from dask.distributed import Client, LocalCluster

    from althedge.services.sweep import sweep

    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address="127.0.0.1:0",
                      silence_logs=50) as cluster, \
            Client(cluster) as client, tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        runs = sweep(the_spec, client=client, out=Path(tmp) / "out")
        wall = time.perf_counter() - t0
        rss = sorted(client.run(_max_rss_mb).values())
    return wall, runs, rss


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--portfolios", type=int, default=1000)
    ap.add_argument("--years", type=float, default=5.0)
    ap.add_argument("--workers", default="1,2,all", help="comma-separated counts; all = cores")
    ap.add_argument("--prices", type=Path,
                    default=Path(__file__).resolve().parents[2] / "shared" / "data")
    a = ap.parse_args(argv)
    cores = os.cpu_count() or 1
    counts = list(dict.fromkeys(cores if w == "all" else int(w) for w in a.workers.split(",")))
    the_spec = spec(a.portfolios, a.years, a.prices)
    n_runs = a.portfolios * len(POLICIES)
    print(f"{the_spec['name']}: {n_runs} runs; {cores} cores; load average "
          f"{os.getloadavg()[0]:.1f} at the start")
    base_rate = None
    first: pd.DataFrame | None = None
    metric_cols = ["task_id", "policy", "status", "hedge_effectiveness", "final_value_hedged_usd"]
    for k in counts:
        wall, runs, rss = run(k, the_spec)
        ok = runs[runs["status"] == "ok"]
        rate = len(runs) / wall
        base_rate = base_rate or (rate if k == counts[0] else None)
        eff = rate / (k * base_rate) if base_rate and counts[0] == 1 else float("nan")
        per_task = runs.groupby("task_id")["task_seconds"].first()
        cpu = runs.groupby("task_id")["task_cpu_seconds"].first()
        print(f"  {k} worker(s): wall {wall:7.1f} s, {rate:6.3f} runs/s, scaling efficiency "
              f"{eff:5.2f}; peak RSS per worker {', '.join(f'{m:.0f}' for m in rss)} MB; "
              f"task {per_task.median():.1f} s median ({per_task.min():.1f}–"
              f"{per_task.max():.1f}), CPU {cpu.median():.1f} s median, one run ≈ "
              f"{cpu.median() / len(POLICIES):.2f} CPU s; "
              f"{len(ok)}/{len(runs)} runs ok; load now {os.getloadavg()[0]:.1f}")
        frame = runs[metric_cols].reset_index(drop=True)
        if first is None:
            first = frame
        elif not frame.equals(first):
            print("  ERROR: rows differ from the first configuration", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
