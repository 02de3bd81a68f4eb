"""Measuring a hedge (``docs/domain.md``, "Measuring a hedge").

* Hedge effectiveness (Ederington 1979, "The Hedging Performance of the New Futures
  Markets", Journal of Finance 34(1)): HE = 1 − Var(hedged)/Var(unhedged), on the
  same (out-of-sample) rows; hedged returns include hedge PnL, funding and fees.
* Annualised volatility: sample standard deviation (ddof = 1) × √(periods per year).
* Maximum drawdown: min_t (E_t / max_{s≤t} E_s − 1), a fraction ≤ 0.
* Worst weeks: the portfolio's compounded return over the calendar weeks in which the
  hedge asset (BTC) did worst — the crashes a hedge is for.

All functions take simple returns per period (fractions, 0.01 = 1%) unless named
otherwise, and drop NaN rows (pairwise where two series are given).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from althedge.errors import InputError

__all__ = [
    "annualised_volatility",
    "hedge_effectiveness",
    "max_drawdown",
    "worst_weeks_return",
]

FloatArray = npt.NDArray[np.float64]


def _series(name: str, values: Any) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim > 1 and arr.size != max(arr.shape):
        raise InputError(f"{name}: expected one series of returns, got shape {arr.shape}")
    return arr.reshape(-1)


def _pairwise(a: Any, b: Any, name_a: str, name_b: str) -> tuple[FloatArray, FloatArray]:
    x = _series(name_a, a)
    y = _series(name_b, b)
    if x.size != y.size:
        raise InputError(
            f"{name_b}: length {y.size} differs from {name_a} length {x.size}; "
            "pass both series on the same dates"
        )
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep]


def hedge_effectiveness(unhedged_returns: Any, hedged_returns: Any) -> float:
    """Ederington hedge effectiveness 1 − Var(hedged)/Var(unhedged) (sample variances).

    1 is a perfect hedge, 0 no reduction, negative a hedge that added risk. Rows where
    either series is NaN are dropped. Raises ``InputError`` with fewer than 2 rows or a
    constant unhedged series.
    """
    u, h = _pairwise(unhedged_returns, hedged_returns, "unhedged_returns", "hedged_returns")
    if u.size < 2:
        raise InputError(
            f"returns: hedge effectiveness needs at least 2 complete rows, got {u.size}; "
            "use a longer period"
        )
    var_u = float(np.var(u, ddof=1))
    if not var_u > 0:
        raise InputError(
            "unhedged_returns: zero variance, so hedge effectiveness is undefined; "
            "use a longer period"
        )
    return 1.0 - float(np.var(h, ddof=1)) / var_u


def annualised_volatility(returns: Any, periods_per_year: float) -> float:
    """Sample standard deviation (ddof = 1) of per-period returns × √periods_per_year.

    ``periods_per_year``: 365 for daily crypto bars (markets never close), 8,760 hourly,
    52 weekly. NaN rows are dropped; fewer than 2 rows give NaN.
    """
    ppy = float(periods_per_year)
    if not (math.isfinite(ppy) and ppy > 0):
        raise InputError(
            f"periods_per_year: must be > 0 (e.g. 365 for daily bars), got {periods_per_year!r}"
        )
    r = _series("returns", returns)
    r = r[np.isfinite(r)]
    if r.size < 2:
        return math.nan
    return float(np.std(r, ddof=1)) * math.sqrt(ppy)


def max_drawdown(
    equity_or_returns: Any, *, kind: Literal["equity", "returns"] = "equity"
) -> float:
    """Maximum drawdown as a fraction ≤ 0 (−0.35 = the value fell 35% from a peak).

    ``kind="equity"`` (default): the values are an equity curve (> 0, e.g. USD value);
    ``kind="returns"``: per-period simple returns, compounded from a starting value of
    1, so a loss in the first period counts. NaN rows are dropped. An empty input gives
    0.0 (no drawdown observed).
    """
    v = _series("equity_or_returns", equity_or_returns)
    v = v[np.isfinite(v)]
    if kind == "returns":
        if np.any(v <= -1.0):
            raise InputError("returns: a return of −100% or less wipes the portfolio out")
        equity = np.concatenate([[1.0], np.cumprod(1.0 + v)])
    elif kind == "equity":
        if np.any(v <= 0):
            raise InputError(
                "equity: values must be > 0; pass kind='returns' if these are returns"
            )
        equity = v
    else:
        raise InputError(f"kind: must be 'equity' or 'returns', got {kind!r}")
    if equity.size == 0:
        return 0.0
    peak = np.maximum.accumulate(equity)
    return float(min(0.0, float(np.min(equity / peak - 1.0))))


def worst_weeks_return(
    portfolio_returns: Any,
    hedge_asset_returns: Any,
    timestamps: Any,
    quantile: float = 0.05,
) -> float:
    """Compounded portfolio return over the worst ``quantile`` of hedge-asset weeks.

    Per-period returns are compounded within calendar weeks (Monday–Sunday, UTC dates;
    rows where either series is NaN are dropped first). The k = max(1, ⌈quantile·W⌉)
    weeks with the lowest hedge-asset return (W weeks in all; ties keep calendar order)
    are selected, and the result is Π(1 + R_p,week) − 1 over them: what the portfolio
    made or lost across the hedge asset's crash weeks. Partial weeks at either end
    count as weeks.
    """
    q = float(quantile)
    if not (0.0 < q <= 1.0):
        raise InputError(f"quantile: must be in (0, 1], e.g. 0.05, got {quantile!r}")
    p = _series("portfolio_returns", portfolio_returns)
    h = _series("hedge_asset_returns", hedge_asset_returns)
    ts = pd.DatetimeIndex(pd.to_datetime(timestamps))
    if not (p.size == h.size == len(ts)):
        raise InputError(
            f"timestamps: {len(ts)} timestamps for {p.size} portfolio and {h.size} hedge "
            "returns; pass one timestamp per row"
        )
    keep = np.isfinite(p) & np.isfinite(h)
    if not keep.any():
        raise InputError("returns: no complete rows of portfolio and hedge-asset returns")
    if ts.tz is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    frame = pd.DataFrame({"p": 1.0 + p[keep], "h": 1.0 + h[keep]}, index=ts[keep])
    week = pd.DatetimeIndex(frame.index).to_period("W-SUN")
    weekly = frame.groupby(week).prod() - 1.0
    k = max(1, math.ceil(q * len(weekly)))
    order = np.argsort(weekly["h"].to_numpy(), kind="stable")[:k]
    return float(np.prod(1.0 + weekly["p"].to_numpy()[order]) - 1.0)
