"""Do volume-profile limit orders beat market orders for the hedge? Evidence on real data.

    python benchmarks/bench_levels.py                       # ../shared/data, BTC and ETH
    python benchmarks/bench_levels.py --prices DIR --days 30 --max-atr 3 --wait-hours 24

Every day at 00:00 UTC from 2020-01-01 to the end of the data, for BTC and ETH
(Binance USDⓈ-M **perpetual** hourly bars, the hedge instrument), the levels are
computed exactly as ``althedge levels`` does (``services.levels.build_levels`` with
``--as-of`` the previous day: data up to the decision only). Then two orders are
compared with a market order at the decision price P0 (the last close):

* **short entry** — a SELL limit at the suggested resistance L > P0. Filled if the
  price trades *through* it (an hourly high > L; a touch is not counted: a resting
  order may stand behind the queue) within ``--wait-hours``. Otherwise the hedge is
  sold at market at the close P_w after the wait.
* **buy-back** — a BUY limit at the suggested support S < P0, filled if a low < S;
  otherwise bought at market at P_w.

Both end with the same position at P0's time + wait, so against selling (buying) at
market at P0 the difference per unit of notional is, in bp of P0:
filled: ``±(L − P0)/P0`` (price improvement, + maker instead of taker fee); missed:
``±(P_w − P0)/P0`` (the unhedged move while waiting: negative when the market moved
away). Fees: Binance USDⓈ-M VIP 0, maker 0.0200 %, taker 0.0500 %
(https://www.binance.com/en/fee/futureFee). Days with no level within ``--max-atr``
ATRs count as a market order (difference 0) and are reported separately.

A **placebo** tells whether the *profile* adds anything beyond "a passive limit some
distance away": the same orders with the distances (in ATRs) shuffled across days
(20 permutations, seeded). If the levels carry information, they beat the placebo.
Prints a markdown table (docs/levels.md) and exits 0; it checks nothing but its inputs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from althedge.data.files import clean_ohlcv, read_ohlcv  # noqa: E402
from althedge.data.sources import FileSource  # noqa: E402
from althedge.services.levels import build_levels  # noqa: E402

MAKER_FEE, TAKER_FEE = 0.0002, 0.0005


def _source(prices: Path, asset: str) -> tuple[FileSource, pd.DataFrame]:
    """A FileSource over the perpetual's hourly file (named as the CLI expects)."""
    perp = prices / "binance" / "perp_1h" / f"{asset}USDT_perp_1h.csv"
    folder = Path(tempfile.mkdtemp(prefix="bench-levels-"))
    (folder / f"{asset}-USD_1h.csv").symlink_to(perp)
    return FileSource(folder), clean_ohlcv(read_ohlcv(perp))


def _outcome(side: str, level: float | None, p0: float, future: pd.DataFrame,
             wait_h: int) -> tuple[bool | None, float]:
    """(filled?, difference vs market at P0 in bp, fees included). None: no level."""
    window = future.iloc[:wait_h]
    pw = float(window["close"].iloc[-1])
    if level is None:
        return None, 0.0
    if side == "sell":
        filled = bool((window["high"] > level).any())
        diff = (level - p0) / p0 + (TAKER_FEE - MAKER_FEE) if filled else (pw - p0) / p0
    else:
        filled = bool((window["low"] < level).any())
        diff = (p0 - level) / p0 + (TAKER_FEE - MAKER_FEE) if filled else (p0 - pw) / p0
    return filled, 1e4 * diff


def run(prices: Path, asset: str, days: int, max_atr: float, wait_h: int,
        start: date) -> pd.DataFrame:
    source, bars = _source(prices, asset)
    last = bars.index.max().date() - timedelta(days=2)
    rows = []
    d = max(start, bars.index.min().date() + timedelta(days=days + 1))
    while d <= last:
        rep = build_levels(source, asset, days=days, timeframe="1h", max_distance_atr=max_atr,
                           as_of=d)
        t0 = pd.Timestamp(rep.window_end)
        future = bars.loc[bars.index > t0].dropna(subset=["high", "low", "close"])
        if len(future) >= wait_h and rep.bars >= 24 * days * 0.9:
            p0 = rep.price_usd
            sell = rep.short_entry["price_usd"] if rep.short_entry else None
            buy = rep.buy_back["price_usd"] if rep.buy_back else None
            fs, ds = _outcome("sell", sell, p0, future, wait_h)
            fb, db = _outcome("buy", buy, p0, future, wait_h)
            pw = float(future["close"].iloc[wait_h - 1])
            rows.append({"day": d, "p0": p0, "atr": rep.atr_usd, "pw": pw,
                         "sell_atr": (sell - p0) / rep.atr_usd if sell else np.nan,
                         "buy_atr": (p0 - buy) / rep.atr_usd if buy else np.nan,
                         "sell_filled": fs, "sell_bp": ds, "buy_filled": fb, "buy_bp": db,
                         "hi": future["high"].iloc[:wait_h].to_numpy(),
                         "lo": future["low"].iloc[:wait_h].to_numpy()})
        d += timedelta(days=1)
    return pd.DataFrame(rows)


def placebo(frame: pd.DataFrame, side: str, n: int = 20, seed: int = 7) -> float:
    """Mean bp of the same orders with the distances (ATRs) shuffled across days."""
    rng = np.random.default_rng(seed)
    dist = frame[f"{side}_atr"].to_numpy()
    means = []
    for _ in range(n):
        shuffled = rng.permutation(dist)
        out = []
        for k, row in enumerate(frame.itertuples()):
            a = shuffled[k]
            if not np.isfinite(a):
                out.append(0.0)
                continue
            if side == "sell":
                lvl = row.p0 + a * row.atr
                filled = bool((row.hi > lvl).any())
                diff = (lvl - row.p0) / row.p0 + (TAKER_FEE - MAKER_FEE) if filled else (
                    row.pw - row.p0) / row.p0
            else:
                lvl = row.p0 - a * row.atr
                filled = bool((row.lo < lvl).any())
                diff = (row.p0 - lvl) / row.p0 + (TAKER_FEE - MAKER_FEE) if filled else (
                    row.p0 - row.pw) / row.p0
            out.append(1e4 * diff)
        means.append(float(np.mean(out)))
    return float(np.mean(means))


def summarise(asset: str, frame: pd.DataFrame, side: str) -> dict[str, object]:
    has = frame[f"{side}_filled"].notna()
    sub = frame[has]
    filled = sub[f"{side}_filled"].astype(bool)
    bp = frame[f"{side}_bp"].to_numpy()
    se = float(np.std(bp, ddof=1) / np.sqrt(len(bp)))
    return {
        "asset": asset, "order": "sell (entry)" if side == "sell" else "buy (buy-back)",
        "days": len(frame), "with level": f"{100 * has.mean():.0f} %",
        "median distance": f"{sub[f'{side}_atr'].median():.1f} ATR",
        "filled ≤ wait": f"{100 * filled.mean():.0f} %",
        "gain when filled": f"{sub.loc[filled, f'{side}_bp'].mean():+.1f} bp",
        "cost when missed": f"{sub.loc[~filled, f'{side}_bp'].mean():+.1f} bp",
        "worst 5 % missed": f"{np.percentile(sub.loc[~filled, f'{side}_bp'], 5):+.0f} bp"
        if (~filled).any() else "—",
        "net vs market": f"{bp.mean():+.1f} ± {1.96 * se:.1f} bp",
        "placebo (shuffled)": f"{placebo(frame, side):+.1f} bp",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prices", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--max-atr", type=float, default=3.0)
    ap.add_argument("--wait-hours", type=int, default=24)
    ap.add_argument("--start", default="2020-01-01")
    ap.add_argument("--assets", default="BTC,ETH")
    args = ap.parse_args()
    t0 = time.perf_counter()
    lines = []
    for asset in args.assets.split(","):
        frame = run(args.prices, asset, args.days, args.max_atr, args.wait_hours,
                    date.fromisoformat(args.start))
        for side in ("sell", "buy"):
            lines.append(summarise(asset, frame, side))
    cols = list(lines[0])
    print(f"levels from {args.days} days of 1h perpetual bars, within {args.max_atr:g} ATR, "
          f"wait {args.wait_hours} h, from {args.start}; + = better than a market order")
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for row in lines:
        print("| " + " | ".join(str(row[c]) for c in cols) + " |")
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
