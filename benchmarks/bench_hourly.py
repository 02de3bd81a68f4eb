"""Hourly estimates at scale and `althedge plan` on hourly data (issue 13).

Part 1 (default): 300 coins × 5 years of hourly returns (43,800 bars), 30-day window —
* ``rolling_beta`` over 720 hourly bars at every bar (the per-bar rolling OLS);
* ``realized_beta`` decided per day from the hourly returns of the last 30 days;
* ``realized_min_variance`` on BTC and ETH, same window;
* the daily sweep for comparison: ``rolling_beta`` on 1,825 daily bars, window 90.
Prints wall time (best of ``--repeat``) and the peak memory the call allocated beyond its
inputs (``tracemalloc``; numpy reports its buffers to it), and checks one column against
a direct computation.

Part 2 (``--plan``): ``build_plan`` with ``sampling = "1h"`` for a 20-coin portfolio on the
bundled data — the bundled hourly series of the 8 alts copied under 20 names into a
temporary folder (so the work is that of 20 coins), timed in-process and through the
console script.

Run:  OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python3 benchmarks/bench_hourly.py
      PYTHONPATH=src python3 benchmarks/bench_hourly.py --plan
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np


def _measure(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    best = float("inf")
    out: Any = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return best, peak / 2**20, out


def estimates(coins: int, years: int, window_days: int, repeat: int) -> int:
    from althedge.core.beta import rolling_beta
    from althedge.core.intraday import period_ids, realized_beta, realized_min_variance

    bars = years * 365 * 24
    rng = np.random.default_rng(13)
    btc = rng.standard_t(4, bars) * 0.005
    eth = 0.8 * btc + rng.standard_t(4, bars) * 0.003
    beta = rng.uniform(0.5, 2.5, coins)
    y = btc[:, None] * beta + rng.standard_t(4, (bars, coins)) * 0.006
    times = (np.arange(bars, dtype=np.int64) + 1_600_000_000 // 3600) * 3_600_000_000_000
    pid, starts = period_ids(times)
    days = len(starts)
    h = np.column_stack([btc, eth])
    d_y = (1 + y).reshape(-1, 24, coins).prod(axis=1) - 1
    d_x = (1 + btc).reshape(-1, 24).prod(axis=1) - 1
    print(f"{coins} coins × {bars:,} hourly bars ({years} y), window {window_days} days; "
          f"input {y.nbytes / 2**20:.0f} MB; best of {repeat}")
    rows = [
        (f"rolling_beta, {window_days * 24} hourly bars, every bar",
         lambda: rolling_beta(y, btc, window_days * 24)),
        (f"realized_beta, {window_days} days, per day",
         lambda: realized_beta(y, btc, pid, days, window=window_days)),
        (f"realized_beta, EWMA half-life {window_days // 3} days, per day",
         lambda: realized_beta(y, btc, pid, days, halflife=window_days / 3)),
        (f"realized_min_variance BTC+ETH, {window_days} days, per day",
         lambda: realized_min_variance(y, h, pid, days, window=window_days)),
        (f"daily sweep: rolling_beta on {len(d_x):,} daily bars, window 90",
         lambda: rolling_beta(d_y, d_x, 90)),
    ]
    results = {}
    for label, fn in rows:
        sec, peak, out = _measure(fn, repeat)
        results[label] = out
        print(f"  {label:<58} {sec:7.2f} s   peak +{peak:6.0f} MB")
    # correctness: one coin's realized beta on the last day against numpy
    rb = results[rows[1][0]]
    sel = pid > days - 1 - window_days
    ref = np.cov(y[sel, 7], btc[sel], ddof=0)[0, 1] / np.var(btc[sel])
    err = abs(rb[-1, 7] - ref)
    print(f"  check: realized β of coin 7 on the last day {rb[-1, 7]:.6f} vs numpy {ref:.6f}")
    return 0 if err < 1e-9 else 1


def plan(repeat: int) -> int:
    from althedge.config import parse_portfolio
    from althedge.data import bundled_source, open_source
    from althedge.services.plan import build_plan

    src = bundled_source()
    alts = ["SOL", "AVAX", "LINK", "DOGE", "ADA", "XRP", "DOT", "BNB"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for a in ("BTC", "ETH"):
            shutil.copy(src.entry(a).file, folder / f"{a}-USD_1d.csv")  # type: ignore[arg-type]
            shutil.copy(src.entry(a, "1h").file,  # type: ignore[arg-type]
                        folder / f"{a}-USD_1h.parquet")
        names = [f"C{i:02d}" for i in range(1, 21)]
        for i, name in enumerate(names):
            a = alts[i % len(alts)]
            shutil.copy(src.entry(a).file, folder / f"{name}-USD_1d.csv")  # type: ignore[arg-type]
            shutil.copy(src.entry(a, "1h").file,  # type: ignore[arg-type]
                        folder / f"{name}-USD_1h.parquet")
        holdings = "\n".join(f'[[holdings]]\nasset = "{n}"\namount = 100\n' for n in names)
        toml = folder / "p20.toml"
        toml.write_text(f'name = "20 coins"\n{holdings}\n[hedge]\nsampling = "1h"\n'
                        'lookback_days = 90\n', encoding="utf-8")
        cfg = parse_portfolio({"holdings": [{"asset": n, "amount": 100} for n in names],
                               "hedge": {"sampling": "1h", "lookback_days": 90}})
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            p = build_plan(cfg, open_source(folder), date(2025, 2, 20))
            best = min(best, time.perf_counter() - t0)
        assert p.sampling == "1h" and len(p.holdings) == 20
        print(f"build_plan, 20 coins, hourly 90 days (fresh source each time): {best:.2f} s")
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
        cli = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "althedge", "plan", str(toml), "--prices",
                            str(folder), "--json"], check=True, capture_output=True, env=env)
            cli = min(cli, time.perf_counter() - t0)
        print(f"`althedge plan --json`, same, whole process (imports included): {cli:.2f} s")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--coins", type=int, default=300)
    ap.add_argument("--years", type=int, default=5)
    ap.add_argument("--window-days", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--plan", action="store_true", help="time the 20-coin hourly plan instead")
    a = ap.parse_args()
    if a.plan:
        return plan(a.repeat)
    return estimates(a.coins, a.years, a.window_days, a.repeat)


if __name__ == "__main__":
    sys.exit(main())
