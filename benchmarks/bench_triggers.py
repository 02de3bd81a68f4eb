"""Evidence: which hedge triggers keep the upside and cut the crashes, net of costs?

Run from the repository root (about 4 minutes on the 2-CPU box)::

    python benchmarks/bench_triggers.py [--prices ../shared/data] [--out triggers.csv]

Walk-forward on the real shared data (``/work/shared/data``): every alt alone, an
equal-weight basket of all eight and 12 seeded random 3-coin bags (10,000 USD at the
start of each period; a bag runs where all its coins are listed), sized by the plan's
default policy (rolling-OLS beta over 90 days, BTC linear perpetual, leverage 2, weekly
rebalancing, taker fees, 2 bps slippage, funding history), each trigger switching that
hedge on and off, against never hedged (``none``) and always hedged. Three periods:

* **choose** — daily closes 2019-01-01 → 2021-12-31 (the trigger is picked here, by
  the mean rank of the default objective ``return-per-drawdown`` across portfolios);
* **confirm (daily)** — 2022-01-01 → 2025-02-20;
* **confirm (hourly)** — Binance spot hourly 2025-02-21 → 2026-05-16 (data the daily
  set never saw).

Per run it records what an investor keeps: the final value relative to never hedged
(``kept %`` = (1 + R_hedged)/(1 + R_unhedged)), the drawdown on capital committed, the
mean loss over the crash episodes found in the data (relative to the unhedged loss), the
net cost per year (% of the portfolio) and the time hedged. ``docs/backtest.md``,
section "Which triggers work", records the output.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

COINS = ["ADA", "AVAX", "BNB", "DOGE", "DOT", "LINK", "SOL", "XRP"]
RANDOM_BAGS = 12
TRIGGERS = [
    "trend:200", "trend:100", "trend:50", "ptrend:100", "cross:50/200", "drawdown:10/5",
    "drawdown:20/10", "vol:80", "vol:120", "volratio:1.5", "funding:1", "backwardation",
]
COMPARED = ["none", "rolling-ols:90", *[f"rolling-ols:90 when {t}" for t in TRIGGERS]]
PERIODS: dict[str, tuple[str, str | None, str | None]] = {
    # name: (timeframe, start, end)
    "choose 2019-2021 (1d)": ("1d", "2019-01-01", "2021-12-31"),
    "confirm 2022-2025 (1d)": ("1d", "2022-01-01", "2025-02-20"),
    "confirm 2025-2026 (1h)": ("1h", "2025-02-21", None),
}


def _portfolios(src: Any, start: str | None, timeframe: str) -> dict[str, list[dict[str, Any]]]:
    closes = src.closes([*COINS, "BTC"], end=None, timeframe=timeframe).ffill()
    at = closes.loc[pd.Timestamp(start):].iloc[0] if start else closes.iloc[0]
    out = {c: [{"asset": c, "amount": 10_000.0 / float(at[c])}] for c in COINS
           if np.isfinite(at[c])}
    basket = [c for c in COINS if np.isfinite(at[c])]
    out["basket"] = [{"asset": c, "amount": 10_000.0 / len(basket) / float(at[c])}
                     for c in basket]
    # seeded random 3-coin equal-USD bags of the coins listed at the start (same seed, so
    # the same draws, in every period where the coins exist)
    rng = np.random.default_rng(12)
    for k in range(RANDOM_BAGS):
        pick = sorted(rng.choice(COINS, size=3, replace=False))
        if all(c in basket for c in pick):
            out["bag" + str(k) + ":" + "+".join(pick)] = [
                {"asset": c, "amount": 10_000.0 / 3 / float(at[c])} for c in pick]
    return out


def run(prices: Path) -> pd.DataFrame:
    from althedge.config import parse_portfolio
    from althedge.data import open_source
    from althedge.services.backtest import BacktestSettings, parse_policy_list, run_backtest

    src = open_source(prices)
    specs = parse_policy_list(COMPARED)
    rows = []
    for period, (tf, start, end) in PERIODS.items():
        t0 = time.perf_counter()
        for pname, holdings in _portfolios(src, start, tf).items():
            pf = parse_portfolio({"name": pname, "holdings": holdings,
                                  "hedge": {"leverage": 2, "rounding": "none"}})
            settings = BacktestSettings(start=start, end=end, timeframe=tf, rebalance="weekly",
                                        window=90 if tf == "1d" else 90 * 24)
            # on hourly bars the policy's window is in bars: 90 days = 2160 bars
            these = (specs if tf == "1d" else parse_policy_list(
                [c.replace("rolling-ols:90", "rolling-ols:2160") for c in COMPARED]))
            try:
                res = run_backtest(pf, src, these, settings)
            except Exception as exc:  # a coin without enough history in the period
                print(f"  skip {pname} {period}: {exc}", file=sys.stderr)
                continue
            unhedged_eps = [e.unhedged_loss_pct for e in res.episodes]
            for p in res.policies:
                m = p.metrics
                eps = [e.losses_pct[p.name] for e in res.episodes]
                rows.append({
                    "period": period, "portfolio": pname,
                    "policy": p.name.replace("rolling-ols:2160", "rolling-ols:90"),
                    "rank": p.rank, "n": len(res.policies), "score": p.score,
                    "kept_pct": 100 * (1 + m.return_hedged_pct / 100)
                    / (1 + m.return_unhedged_pct / 100),
                    "max_dd_pct": 100 * m.max_drawdown_hedged_committed,
                    "max_dd_unhedged_pct": 100 * m.max_drawdown_unhedged,
                    "crash_loss_pct": float(np.mean(eps)) if eps else np.nan,
                    "crash_loss_unhedged_pct": float(np.mean(unhedged_eps))
                    if unhedged_eps else np.nan,
                    "cost_pct_per_year": m.cost_pct_of_value_per_year,
                    "time_hedged_pct": m.time_hedged_pct, "switches": m.hedge_switches,
                    "liquidations": m.liquidations, "episodes": len(eps),
                    "span": f"{res.start}..{res.end}",
                })
        print(f"  {period}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return pd.DataFrame(rows)


def summarise(df: pd.DataFrame) -> str:
    """Mean over portfolios per period and policy; the choose-then-confirm verdict."""
    agg = df.groupby(["period", "policy"]).agg(
        rank=("rank", "mean"), kept_pct=("kept_pct", "median"), max_dd=("max_dd_pct", "mean"),
        crash=("crash_loss_pct", "mean"), cost=("cost_pct_per_year", "mean"),
        hedged=("time_hedged_pct", "mean"), switches=("switches", "mean"),
        liq=("liquidations", "sum"), portfolios=("portfolio", "nunique"),
    )
    base = df.groupby("period").agg(dd_u=("max_dd_unhedged_pct", "mean"),
                                    crash_u=("crash_loss_unhedged_pct", "mean"))
    lines = []
    periods = list(PERIODS)
    for period in periods:
        if period not in agg.index.get_level_values(0):
            continue
        t = agg.loc[period].sort_values("rank")
        lines.append(f"\n### {period}: unhedged mean max DD {base.loc[period, 'dd_u']:.0f} %, "
                     f"mean crash-episode loss {base.loc[period, 'crash_u']:.1f} %\n")
        lines.append("| policy | mean rank | median kept % | mean max DD % | mean crash loss % "
                     "| net cost %/yr | time hedged % | switches | liquidations |")
        lines.append("|---|---|---|---|---|---|---|---|---|")
        for name, r in t.iterrows():
            lines.append(f"| {name} | {r['rank']:.1f} | {r['kept_pct']:.0f} | {r['max_dd']:.0f} "
                         f"| {r['crash']:.1f} | {r['cost']:.1f} | {r['hedged']:.0f} | "
                         f"{r['switches']:.0f} | {int(r['liq'])} |")
    choose = periods[0]
    triggered = [p for p in agg.loc[choose].index if " when " in p]
    best = agg.loc[choose].loc[triggered, "rank"].idxmin()
    lines.append(f"\nChosen on {choose} (best mean rank among triggers): **{best}**.")
    for period in periods[1:]:
        if period not in agg.index.get_level_values(0):
            continue
        t = agg.loc[period]
        order = t["rank"].rank(method="min")
        lines.append(f"- {period}: {best} ranks {int(order[best])} of {len(t)}; never hedged "
                     f"ranks {int(order['none'])}, always hedged {int(order['rolling-ols:90'])}.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--prices", type=Path,
                    default=Path(__file__).resolve().parents[2] / "shared" / "data")
    ap.add_argument("--out", type=Path, default=None, help="Also write every run as CSV.")
    args = ap.parse_args(argv)
    df = run(args.prices)
    if args.out:
        df.to_csv(args.out, index=False)
    print(summarise(df))


if __name__ == "__main__":
    main()
