"""Walk-forward evidence: daily vs hourly (realized) hedge estimators on the shared Binance data.

Protocol (issue 13): equal-dollar baskets of coins bought on ``--bought`` and held;
Binance hourly spot closes from ``<data>/binance/spot_1h``; the hedge is decided at each
daily close (00:00 UTC, the close of the 23:00 hourly bar) from data up to that close and
held one day; HE = 1 − Var(hedged)/Var(unhedged) of the daily returns.
``--costs`` charges taker fee + slippage on the daily change of each short (USD traded)
and the funding of each leg from its own 8-hourly settlements (Binance BTC/ETH USDⓈ-M),
each settlement on the day it falls in.

Many portfolios: every 3-, 4- and 5-coin basket of the coins with hourly data from
2020-09 (``--universe``); choose on ``--train`` years, confirm on ``--test`` years.

Run:  PYTHONPATH=src python3 benchmarks/walkforward_hourly.py --data ../shared/data
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from althedge.core.beta import rolling_beta
from althedge.core.intraday import (
    centred_moments,
    consecutive_returns,
    period_ids,
    period_moments,
    realized_beta,
    skip_listing,
)
from althedge.core.intraday import min_variance_from_moments as mv_from
from althedge.core.policies import rolling_min_variance_weights

EXAMPLE = ("SOL", "AVAX", "LINK", "DOGE", "ADA")
UNIVERSE = ("SOL", "AVAX", "LINK", "DOGE", "ADA", "XRP", "DOT", "BNB")


def load_hourly(data: Path, coins: tuple[str, ...]) -> pd.DataFrame:
    cols = {}
    for c in coins:
        f = data / "binance" / "spot_1h" / f"{c}USDT_1h.csv"
        d = pd.read_csv(f, usecols=["datetime", "close"])
        idx = pd.to_datetime(d["datetime"], utc=True).dt.tz_localize(None)
        cols[c] = pd.Series(d["close"].to_numpy(dtype=float), index=idx)
    out = pd.DataFrame(cols).sort_index()
    out.index = pd.DatetimeIndex(out.index).as_unit("ns")
    return out


def load_funding(data: Path, asset: str) -> pd.Series:
    d = pd.read_csv(data / "binance" / "funding_8h" / f"{asset}USDT_funding.csv")
    idx = pd.to_datetime(d["datetime"], utc=True).dt.tz_localize(None)
    return pd.Series(d["funding_rate"].to_numpy(dtype=float), index=idx)


Policy = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]


def evaluate(
    h: pd.DataFrame, coins: tuple[str, ...], bought: str, policies: dict[str, Policy],
    start: str, end: str, funding: dict[str, pd.Series], costs: bool,
) -> dict[str, dict[str, float]]:
    """Metrics per policy for one basket."""
    h = h.loc[:, [*coins, "BTC", "ETH"]]
    h = h.loc[h.index >= pd.Timestamp(bought) - pd.Timedelta(days=400)]
    first = h.loc[pd.Timestamp(bought):].iloc[0]
    amounts = (1.0 / first[list(coins)]).to_numpy()
    times = h.index.asi8
    held = h[list(coins)].to_numpy()
    v = held @ amounts  # NaN where a coin misses the bar
    r_assets = skip_listing(consecutive_returns(held, times), times, 72)
    r_v = consecutive_returns(v, times)
    r_v[~np.all(np.isfinite(r_assets), axis=1)] = np.nan
    r_b = consecutive_returns(h["BTC"].to_numpy(), times)
    r_e = consecutive_returns(h["ETH"].to_numpy(), times)
    pid, starts = period_ids(times)
    days = pd.DatetimeIndex(starts)
    # daily closes: last hourly close of each day (ffill within the day's bars)
    daily = h.assign(V=v).ffill().groupby(pid).last()
    daily.index = days
    inputs = {"r_v": r_v, "r_b": r_b, "r_e": r_e, "pid": pid, "n": np.int64(len(days)),
              "daily": daily.to_numpy(), "cols": np.array(list(daily.columns))}
    dcol = {c: i for i, c in enumerate(daily.columns)}
    dr = daily.to_numpy()[1:] / daily.to_numpy()[:-1] - 1
    dr = np.vstack([np.full((1, dr.shape[1]), np.nan), dr])
    span = (days >= pd.Timestamp(start)) & (days <= pd.Timestamp(end))
    out: dict[str, dict[str, float]] = {}
    fund = {a: s.groupby(s.index.normalize()).sum().reindex(days).fillna(0.0).to_numpy()
            for a, s in funding.items()}
    for name, pol in policies.items():
        ratios = pol(inputs)  # per day, decided at that day's close
        hedged = dr[:, dcol["V"]].copy()
        traded = np.zeros(len(days))
        fcost = np.zeros(len(days))
        for a, b in ratios.items():
            b = pd.Series(b).ffill().fillna(0.0).to_numpy()
            b_prev = np.r_[0.0, b[:-1]]  # decided at the previous close
            hedged -= b_prev * dr[:, dcol[a]]
            traded += np.abs(np.diff(np.r_[0.0, b]))
            fcost -= b_prev * fund[a]  # short receives positive funding
        cost = traded * (0.0005 + 0.0002) if costs else 0.0 * traded
        net = hedged - (cost + fcost if costs else 0.0)
        u = dr[span, dcol["V"]]
        x = net[span]
        ok = np.isfinite(u) & np.isfinite(x)
        he = 1 - np.var(x[ok]) / np.var(u[ok])
        eq = np.cumprod(1 + x[ok])
        dd = float(np.max(1 - eq / np.maximum.accumulate(eq)))
        wk = pd.Series(x[ok], index=days[span][ok]).resample("W").apply(
            lambda s: np.prod(1 + s) - 1)
        years = ok.sum() / 365.0
        out[name] = {
            "he": float(he), "dd": dd, "worst_week": float(wk.min()),
            "turnover": float(traded[span].sum() / years),
            "cost_yr": float((cost[span].sum() + (fcost[span].sum() if costs else 0)) / years),
        }
    return out


def policy_set() -> dict[str, Policy]:
    def daily_ols(w: int) -> Policy:
        def f(i: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            d, c = i["daily"], list(i["cols"])
            r = np.vstack([np.full((1, d.shape[1]), np.nan), d[1:] / d[:-1] - 1])
            b = rolling_beta(r[:, c.index("V")], r[:, c.index("BTC")], w)
            return {"BTC": np.maximum(b, 0)}
        return f

    def daily_multi(w: int) -> Policy:
        def f(i: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            d, c = i["daily"], list(i["cols"])
            r = np.vstack([np.full((1, d.shape[1]), np.nan), d[1:] / d[:-1] - 1])
            hedges = r[:, [c.index("BTC"), c.index("ETH")]]
            b = rolling_min_variance_weights(r[:, c.index("V")], hedges, w)[:, 0, :]
            b0, b1 = b[:, 0], b[:, 1]
            return {"BTC": np.maximum(b0, 0), "ETH": np.maximum(b1, 0)}
        return f

    def look_ahead(w: int) -> Policy:
        """Reference no causal policy can use: daily BTC+ETH minimum variance on a ``w``-day
        window centred on the day hedged (uses future returns)."""
        def f(i: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            d, c = i["daily"], list(i["cols"])
            r = np.vstack([np.full((1, d.shape[1]), np.nan), d[1:] / d[:-1] - 1])
            hedges = r[:, [c.index("BTC"), c.index("ETH")]]
            b = rolling_min_variance_weights(r[:, c.index("V")], hedges, w)[:, 0, :]
            # row d + 1 + w//2 ends the window centred on day d + 1, hedged by ratio[d]
            shift = 1 + w // 2
            b = np.vstack([b[shift:], np.full((shift, 2), np.nan)])
            return {"BTC": np.maximum(b[:, 0], 0), "ETH": np.maximum(b[:, 1], 0)}
        return f

    def hourly_beta(w: int | None, hl: float | None, lags: int = 0) -> Policy:
        def f(i: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            b = realized_beta(i["r_v"], i["r_b"], i["pid"], int(i["n"]), window=w,
                              halflife=hl, lags=lags)
            return {"BTC": np.maximum(b[:, 0], 0)}
        return f

    def hourly_multi(
        w: int | None, hl: float | None, shrink: float = 0.0, lags: int = 0
    ) -> Policy:
        def f(i: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            x = np.column_stack([i["r_b"], i["r_e"]])
            mom = period_moments(i["r_v"], x, i["pid"], int(i["n"])).combine(w, hl)
            b = mv_from(mom, shrink=shrink)[:, 0, :]
            if lags:
                # Dimson: add the slopes on lagged BTC/ETH returns (same mix)
                for k in range(1, lags + 1):
                    xl = np.vstack([np.full((k, 2), np.nan), x[:-k]])
                    both = np.column_stack([x, xl])
                    m2 = period_moments(i["r_v"], both, i["pid"], int(i["n"])).combine(w, hl)
                    cxx, cxy, _ = centred_moments(m2)
                    # covariance of y with lagged hedges, projected with the same Σ_hh⁻¹
                    s = cxx[:, 0, :2, :2]
                    s = np.where(np.isfinite(s), s, np.eye(2))
                    extra = np.linalg.solve(s, cxy[:, 0, 2:, None])[..., 0]
                    b = b + extra
            return {"BTC": np.maximum(b[:, 0], 0), "ETH": np.maximum(b[:, 1], 0)}
        return f

    return {
        "look-ahead reference (not causal)": look_ahead(30),
        "daily rolling-ols:90": daily_ols(90),
        "daily multi:90": daily_multi(90),
        "hourly beta 30d": hourly_beta(30, None),
        "hourly beta 30d dimson1": hourly_beta(30, None, 1),
        "hourly beta ewma hl10d": hourly_beta(None, 10.0),
        "hourly multi 30d": hourly_multi(30, None),
        "hourly multi 14d": hourly_multi(14, None),
        "hourly multi 60d": hourly_multi(60, None),
        "hourly multi ewma hl10d": hourly_multi(None, 10.0),
        "hourly multi ewma hl20d": hourly_multi(None, 20.0),
        "hourly multi 30d shrink0.3": hourly_multi(30, None, 0.3),
        "hourly multi ewma hl10d dimson1": hourly_multi(None, 10.0, 0.0, 1),
        "hourly multi 30d dimson1": hourly_multi(30, None, 0.0, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--costs", action="store_true")
    ap.add_argument("--baskets", choices=["example", "all"], default="example")
    ap.add_argument("--bought", default="2021-01-01")
    ap.add_argument("--train", default="2021-04-15:2023-06-30")
    ap.add_argument("--test", default="2023-07-01:2025-12-31")
    a = ap.parse_args(argv)
    data = Path(a.data)
    h = load_hourly(data, tuple(dict.fromkeys([*UNIVERSE, "BTC", "ETH"])))
    funding = {x: load_funding(data, x) for x in ("BTC", "ETH")}
    pols = policy_set()
    baskets = [EXAMPLE] if a.baskets == "example" else [
        c for k in (3, 4, 5) for c in itertools.combinations(UNIVERSE, k)]
    spans = {"full": ("2021-04-15", "2025-12-31"),
             "train": tuple(a.train.split(":")), "test": tuple(a.test.split(":"))}
    rows = []
    for bk in baskets:
        for sname, (s0, s1) in spans.items():
            res = evaluate(h, bk, a.bought, pols, s0, s1, funding, a.costs)
            for pname, m in res.items():
                rows.append({"basket": "+".join(bk), "span": sname, "policy": pname, **m})
    df = pd.DataFrame(rows)
    metrics = ["he", "dd", "worst_week", "turnover", "cost_yr"]
    summary = df.groupby(["span", "policy"])[metrics].median()
    with pd.option_context("display.width", 200, "display.float_format", "{:.3f}".format):
        print(f"{len(baskets)} basket(s), costs={'on' if a.costs else 'off'}; medians over baskets")
        for sname in spans:
            print(f"\n[{sname}]")
            print(summary.loc[sname].sort_values("he", ascending=False).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
