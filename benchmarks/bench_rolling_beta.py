"""Benchmark: althedge.rolling_beta vs pandas rolling().cov()/var() on the same data.

    python benchmarks/bench_rolling_beta.py                 # 500 assets × 20,000 bars, window 720
    python benchmarks/bench_rolling_beta.py --window 90 --repeat 7
    python benchmarks/bench_rolling_beta.py --missing       # late listings and gaps (NaN)
    python benchmarks/bench_rolling_beta.py --frame         # pandas DataFrame/Series in and out

Data: synthetic hourly-like returns (Student-t hedge asset, assets = β·hedge + noise,
fixed seed); ``--missing`` blanks the first 0–5,000 bars of every fifth asset (listed
later) and 200 scattered cells. After one warm-up run of each, the two are timed
alternately --repeat times; the best time of each and the median per-pair speed-up are
printed. numpy's BLAS may use several threads (set OPENBLAS_NUM_THREADS=1 for one core);
pandas uses one. The result must agree with pandas to 1e-9 (absolute) or the script exits 1.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

import althedge


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=500)
    parser.add_argument("--bars", type=int, default=20_000)
    parser.add_argument("--window", type=int, default=720)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--missing", action="store_true", help="NaN gaps and late listings")
    parser.add_argument("--frame", action="store_true", help="pass pandas objects to althedge")
    args = parser.parse_args()

    rng = np.random.default_rng(2024)
    hedge = rng.standard_t(4, args.bars) * 0.006
    betas = rng.uniform(0.5, 3.0, args.assets)
    assets = hedge[:, None] * betas + rng.normal(0.0, 0.008, (args.bars, args.assets))
    if args.missing:
        for j in range(0, args.assets, 5):
            assets[: rng.integers(0, min(5_000, args.bars)), j] = np.nan
        assets[rng.integers(0, args.bars, 200), rng.integers(0, args.assets, 200)] = np.nan
    frame = pd.DataFrame(assets)
    series = pd.Series(hedge)
    ours_in: tuple[Any, Any] = (frame, series) if args.frame else (assets, hedge)

    def ours_fn() -> Any:
        return althedge.rolling_beta(ours_in[0], ours_in[1], args.window)

    def pandas_fn() -> Any:
        return frame.rolling(args.window).cov(series).div(
            series.rolling(args.window).var(), axis=0
        )

    ours, ref = ours_fn(), pandas_fn()  # warm-up (page faults, BLAS threads)
    # Interleave the two so a change in machine load hits both; report the best time of
    # each and the median of the per-pair speed-ups.
    ours_times, pandas_times = [], []
    for _ in range(args.repeat):
        t_ours, ours = timed(ours_fn)
        t_pandas, ref = timed(pandas_fn)
        ours_times.append(t_ours)
        pandas_times.append(t_pandas)
    ours_s, pandas_s = min(ours_times), min(pandas_times)
    ratios = sorted(p / o for p, o in zip(pandas_times, ours_times, strict=True))
    median_ratio = ratios[len(ratios) // 2]
    ref_values = ref.to_numpy()
    ours = np.asarray(ours)
    same_nan = bool(np.array_equal(np.isnan(ours), np.isnan(ref_values)))
    diff = float(np.nanmax(np.abs(ours - ref_values)))
    print(
        f"rolling beta, {args.assets} assets x {args.bars} bars, window {args.window}"
        f"{', missing data' if args.missing else ''}{', DataFrame input' if args.frame else ''} "
        f"(python {platform.python_version()}, numpy {np.__version__}, "
        f"pandas {pd.__version__}, {os.cpu_count()} CPUs, "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')})"
    )
    print(f"  althedge.rolling_beta : {ours_s * 1e3:9.1f} ms")
    print(f"  pandas rolling cov/var: {pandas_s * 1e3:9.1f} ms")
    print(
        f"  speed-up              : {pandas_s / ours_s:9.1f} x (best/best), "
        f"{median_ratio:.1f} x (median of {args.repeat} interleaved pairs)"
    )
    print(f"  max |difference|      : {diff:9.2e}  (NaN pattern identical: {same_nan})")
    ok = diff <= 1e-9 and same_nan
    if not ok:
        print("FAIL: results differ from pandas by more than 1e-9", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
