"""Backtest benchmarks and the evidence behind the ``auto`` policy.

Two modes (run from the repository root):

* ``python benchmarks/bench_backtest.py sweep [--coins 300] [--years 5]``
  Speed: a full sweep of N coins × 10 policies × Y years of *hourly* bars (synthetic
  data: BTC and ETH as random walks, each coin β_i·r_BTC + noise), every coin a
  portfolio of its own, all coins simulated at once (vectorised across columns).
  Prints the time of each policy (estimation + walk-forward + metrics).
* ``python benchmarks/bench_backtest.py auto [--prices ../shared/data]``
  Evidence: walk-forward comparison of candidate policies on the real daily data,
  every alt alone and an equal-weight basket, weekly rebalancing, taker fees, 2 bps
  slippage, funding history. The winner is chosen on 2018–2021 and checked on
  2022–2025 (docs/backtest.md records the output).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from althedge.core.metrics import annualised_volatility, hedge_effectiveness
from althedge.core.policies import parse_policy, target_ratios
from althedge.core.simulate import LegSpec, simulate_leg

SWEEP_POLICIES = [
    "none", "static:1.8", "one-to-one", "rolling-ols:720", "rolling-ols:2160", "ewma:168",
    "ewma:720", "downside:720", "shrunk:720", "multi:720",
]

CHUNK = 25

AUTO_CANDIDATES = [
    "one-to-one", "static:1.8", "rolling-ols:30", "rolling-ols:60", "rolling-ols:90",
    "rolling-ols:180", "ewma:10", "ewma:20", "ewma:30", "ewma:60", "downside:90",
    "shrunk:90", "multi:60", "multi:90",
]
AUTO_COINS = ["ADA", "AVAX", "BNB", "DOGE", "DOT", "LINK", "SOL", "XRP"]


def sweep(coins: int, years: float, seed: int = 1) -> None:
    t_len = int(years * 365 * 24)
    rng = np.random.default_rng(seed)
    r_btc = rng.normal(0.0, 0.006, t_len)
    r_eth = 0.8 * r_btc + rng.normal(0.0, 0.004, t_len)
    betas = rng.uniform(0.6, 2.5, coins)
    r = betas * r_btc[:, None] + rng.normal(0.0, 0.006, (t_len, coins))
    r_btc[0] = r_eth[0] = np.nan
    r[0] = np.nan
    btc = 30_000.0 * np.cumprod(1 + np.nan_to_num(r_btc))
    value = 10_000.0 * np.cumprod(1 + np.nan_to_num(r), axis=0)
    idx = pd.date_range("2020-01-01", periods=t_len, freq="h")
    dow = idx.day_of_week.to_numpy()
    due = np.r_[True, dow[1:] != dow[:-1]] & (dow == 0)
    due[0] = True
    funding = np.full(t_len, 0.0001 / 8)
    eth = 2_000.0 * np.cumprod(1 + np.nan_to_num(r_eth))
    spec_leg = LegSpec(contract_size=0.001, rounding="down", lot_step=1.0, fee_rate=0.0005,
                       slippage_bps=2.0)
    print(f"sweep: {coins} coins × {len(SWEEP_POLICIES)} policies × {t_len} hourly bars "
          f"({years:g} years), one core, numpy {np.__version__}")
    total = 0.0
    total_cpu = 0.0
    for name in SWEEP_POLICIES:
        t0 = time.perf_counter()
        c0 = time.process_time()
        spec = parse_policy(name)
        tg = target_ratios(spec, r, {"BTC": r_btc, "ETH": r_eth})
        start = tg.first_valid
        ratios = {a: pd.DataFrame(x).ffill().to_numpy() for a, x in tg.ratios.items()}
        he: list[float] = []
        vol: list[float] = []
        # simulate in blocks of columns: ~10 MB arrays stay in the allocator's heap
        for lo in range(0, coins, CHUNK):
            hi = min(coins, lo + CHUNK)
            v = value[:, lo:hi]
            net = np.zeros((t_len, hi - lo))
            for asset, ratio in ratios.items():
                price = btc if asset == "BTC" else eth
                res = simulate_leg(spec_leg, v, ratio[:, lo:hi], price, funding_rate=funding,
                                   rebalance_due=due)
                net += res.net_pnl_usd
            hedged = (np.diff(v, axis=0) + net[1:]) / v[:-1]
            unhedged = v[1:] / v[:-1] - 1
            for j in range(hi - lo):
                he.append(hedge_effectiveness(unhedged[start:, j], hedged[start:, j]))
                vol.append(annualised_volatility(hedged[start:, j], 8760))
        dt = time.perf_counter() - t0
        dc = time.process_time() - c0
        total += dt
        total_cpu += dc
        print(f"  {name:18s} wall {dt:6.2f} s  cpu {dc:6.2f} s   median HE {np.median(he):6.3f}"
              f"   median vol {np.median(vol):.2f}")
    print(f"total wall {total:.1f} s, cpu {total_cpu:.1f} s")
    # the path-dependent engine (margin, threshold) on the same data, one policy
    t0 = time.perf_counter()
    c0 = time.process_time()
    tg = target_ratios(parse_policy("rolling-ols:720"), r, {"BTC": r_btc})
    margin_leg = LegSpec(contract_size=0.001, rounding="down", fee_rate=0.0005, leverage=3.0,
                         threshold=0.1, top_up=True)
    ratio = pd.DataFrame(tg.ratios["BTC"]).ffill().to_numpy()
    # the walk loops over bars, so it runs on all columns at once (no column blocks)
    simulate_leg(margin_leg, value, ratio, btc, funding_rate=funding)
    print(f"  path-dependent walk (leverage 3, threshold 10 %, top-up), rolling-ols:720, "
          f"{coins} coins: "
          f"wall {time.perf_counter() - t0:.2f} s, cpu {time.process_time() - c0:.2f} s")


def auto(prices: Path) -> None:
    from althedge.config import parse_portfolio
    from althedge.data import open_source
    from althedge.services.backtest import BacktestSettings, run_backtest

    src = open_source(prices)
    closes = src.closes([*AUTO_COINS, "BTC", "ETH"], timeframe="1d")
    portfolios: dict[str, list[dict[str, object]]] = {
        c: [{"asset": c, "amount": 10_000.0 / float(closes[c].dropna().iloc[0])}]
        for c in AUTO_COINS
    }
    first = max(closes[c].first_valid_index() for c in AUTO_COINS)
    portfolios["basket"] = [
        {"asset": c, "amount": 10_000.0 / float(closes.ffill().loc[first, c])} for c in AUTO_COINS
    ]
    periods = {"2018-2021": (None, "2021-12-31"), "2022-2025": ("2022-01-01", None)}
    rows = []
    for pname, holdings in portfolios.items():
        pf = parse_portfolio({"name": pname, "holdings": holdings, "hedge": {"leverage": 2}})
        for period, (start, end) in periods.items():
            settings = BacktestSettings(start=start, end=end, window=180, rebalance="weekly",
                                        rounding="none")
            try:
                res = run_backtest(pf, src, AUTO_CANDIDATES, settings)
            except Exception as exc:  # a coin without enough history in the period
                print(f"  skip {pname} {period}: {exc}", file=sys.stderr)
                continue
            for p in res.policies:
                rows.append({"portfolio": pname, "period": period, "policy": p.name,
                             "he": p.metrics["hedge_effectiveness"],
                             "cost_pct_yr": p.metrics["cost_pct_of_value_per_year"],
                             "span": f"{res.start}..{res.end}"})
    df = pd.DataFrame(rows)
    table = df.pivot_table(index="policy", columns="period", values="he", aggfunc="mean")
    table["portfolios"] = df.groupby("policy")["portfolio"].nunique()
    wins = (
        df.loc[df.groupby(["portfolio", "period"])["he"].idxmax()]
        .groupby(["policy", "period"]).size().unstack(fill_value=0)
    )
    table = table.join(wins.add_prefix("wins "), how="left").fillna(0)
    table = table.sort_values("2018-2021", ascending=False)
    pd.set_option("display.width", 200)
    print("mean out-of-sample hedge effectiveness over", df["portfolio"].nunique(),
          "portfolios (each alt alone + equal-weight basket), weekly rebalancing, fees, funding")
    print(table.round(3).to_string())
    spans = df.groupby("period")["span"].agg(lambda s: sorted(set(s))[0])
    print("example spans:", spans.to_dict())
    best = table["2018-2021"].idxmax()
    print(f"winner on 2018-2021: {best}; its 2022-2025 rank: "
          f"{int(table['2022-2025'].rank(ascending=False)[best])} of {len(table)}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("sweep")
    s.add_argument("--coins", type=int, default=300)
    s.add_argument("--years", type=float, default=5.0)
    a = sub.add_parser("auto")
    a.add_argument("--prices", type=Path, default=Path(__file__).resolve().parents[2]
                   / "shared" / "data")
    args = ap.parse_args(argv)
    if args.mode == "sweep":
        sweep(args.coins, args.years)
    else:
        auto(args.prices)


if __name__ == "__main__":
    main()
