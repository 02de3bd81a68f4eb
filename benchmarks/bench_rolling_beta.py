"""Benchmark: althedge.rolling_beta vs pandas rolling().cov()/var() on the same data.

    python benchmarks/bench_rolling_beta.py                 # 500 assets × 20,000 bars, window 720
    python benchmarks/bench_rolling_beta.py --window 90 --repeat 7

Data: synthetic hourly-like returns (Student-t hedge asset, assets = β·hedge + noise,
fixed seed). Times are the best of --repeat runs after one warm-up run of each; the
result must agree with pandas to 1e-9 (absolute) or the script exits with status 1.
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


def best_time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    result = fn()  # warm-up (page faults, BLAS thread start)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=500)
    parser.add_argument("--bars", type=int, default=20_000)
    parser.add_argument("--window", type=int, default=720)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    rng = np.random.default_rng(2024)
    hedge = rng.standard_t(4, args.bars) * 0.006
    betas = rng.uniform(0.5, 3.0, args.assets)
    assets = hedge[:, None] * betas + rng.normal(0.0, 0.008, (args.bars, args.assets))
    frame = pd.DataFrame(assets)
    series = pd.Series(hedge)

    ours_s, ours = best_time(
        lambda: althedge.rolling_beta(assets, hedge, args.window), args.repeat
    )
    pandas_s, ref = best_time(
        lambda: frame.rolling(args.window).cov(series).div(
            series.rolling(args.window).var(), axis=0
        ),
        args.repeat,
    )
    ref_values = ref.to_numpy()
    same_nan = bool(np.array_equal(np.isnan(ours), np.isnan(ref_values)))
    diff = float(np.nanmax(np.abs(ours - ref_values)))
    print(
        f"rolling beta, {args.assets} assets x {args.bars} bars, window {args.window} "
        f"(python {platform.python_version()}, numpy {np.__version__}, "
        f"pandas {pd.__version__}, {os.cpu_count()} CPUs)"
    )
    print(f"  althedge.rolling_beta : {ours_s * 1e3:9.1f} ms")
    print(f"  pandas rolling cov/var: {pandas_s * 1e3:9.1f} ms")
    print(f"  speed-up              : {pandas_s / ours_s:9.1f} x")
    print(f"  max |difference|      : {diff:9.2e}  (NaN pattern identical: {same_nan})")
    ok = diff <= 1e-9 and same_nan
    if not ok:
        print("FAIL: results differ from pandas by more than 1e-9", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
