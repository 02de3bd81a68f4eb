"""Measuring a hedge (``docs/domain.md``, "Measuring a hedge").

* Hedge effectiveness (Ederington 1979, "The Hedging Performance of the New Futures
  Markets", Journal of Finance 34(1)): HE = 1 − Var(hedged)/Var(unhedged), on the
  same (out-of-sample) rows; hedged returns include hedge PnL, funding and fees.
* Annualised volatility: sample standard deviation (ddof = 1) × √(periods per year).
* Maximum drawdown: min_t (E_t / max_{s≤t} E_s − 1), a fraction ≤ 0.
* Worst weeks: the portfolio's compounded return over the calendar weeks in which the
  hedge asset (BTC) did worst — the crashes a hedge is for.
* What an investor keeps: time-weighted returns of holdings + margin account (deposits
  are capital, not profit), annual return, drawdown avoided per point of return given up,
  the ranking objectives (``variance``, ``drawdown``, ``return-per-drawdown``,
  ``utility[:A]``) and the crash episodes of a price series.

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
    "DEFAULT_RANK_BY",
    "RANK_OBJECTIVES",
    "annualised_return",
    "annualised_volatility",
    "crash_episodes",
    "drawdown_avoided_per_return_given_up",
    "hedge_effectiveness",
    "max_drawdown",
    "objective_score",
    "parse_rank_objective",
    "time_weighted_returns",
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


# --------------------------------------------------------------- investor's metrics
RANK_OBJECTIVES = ("variance", "drawdown", "return-per-drawdown", "utility")
#: The ranking an investor would pick by default: what is kept per unit of the worst fall.
DEFAULT_RANK_BY = "return-per-drawdown"
DEFAULT_RISK_AVERSION = 2.0


def time_weighted_returns(
    wealth_usd: Any, deposits_usd: Any
) -> FloatArray:
    """Per-period returns of an account that receives deposits, deposits not counted as gain.

    r_t = (W_t − D_t − W_{t−1}) / W_{t−1}, with W_t the value after bar ``t`` (USD) and
    D_t the capital added during bar ``t`` (USD, ≥ 0). Row 0 is NaN. Compounding these
    returns gives the time-weighted return: deposits are capital, not profit, so a
    drawdown measured on it never "recovers" by fresh money and never reaches −100 %
    unless the whole account (holdings and margin) is lost.
    """
    w = _series("wealth_usd", wealth_usd)
    d = _series("deposits_usd", deposits_usd)
    if w.size != d.size:
        raise InputError(f"deposits_usd: length {d.size} differs from wealth_usd length {w.size}")
    out = np.full(w.size, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[1:] = (w[1:] - d[1:] - w[:-1]) / w[:-1]
    return out


def annualised_return(returns: Any, periods_per_year: float) -> float:
    """Compound annual growth rate of per-period simple returns (NaN rows dropped)."""
    r = _series("returns", returns)
    r = r[np.isfinite(r)]
    if r.size == 0:
        return math.nan
    growth = float(np.prod(1.0 + r))
    if growth <= 0:
        return -1.0
    return float(growth ** (float(periods_per_year) / r.size) - 1.0)


def drawdown_avoided_per_return_given_up(
    max_drawdown_unhedged: float,
    max_drawdown_hedged: float,
    return_unhedged: float,
    return_hedged: float,
) -> float | None:
    """Percentage points of maximum drawdown avoided per point of total return given up.

    (MDD_hedged − MDD_unhedged) / (R_unhedged − R_hedged), drawdowns ≤ 0 and returns as
    fractions. > 0: the hedge bought drawdown with return (higher is better value);
    ``inf`` when it avoided drawdown and gave up no return; None when it neither avoided
    drawdown nor kept return (nothing to divide) or when both are zero.
    """
    avoided = max_drawdown_hedged - max_drawdown_unhedged
    given_up = return_unhedged - return_hedged
    if given_up > 0:
        return avoided / given_up
    if avoided > 0:
        return math.inf
    return None


def parse_rank_objective(text: str) -> tuple[str, float]:
    """``variance`` | ``drawdown`` | ``return-per-drawdown`` | ``utility[:A]`` → (kind, A)."""
    raw = str(text).strip().lower()
    kind, _, arg = raw.partition(":")
    kind = {"he": "variance", "dd": "drawdown", "calmar": "return-per-drawdown",
            "return/drawdown": "return-per-drawdown"}.get(kind, kind)
    if kind not in RANK_OBJECTIVES:
        raise InputError(
            f"rank-by: unknown objective {text!r}; use variance, drawdown, "
            "return-per-drawdown or utility[:RISK_AVERSION] (e.g. utility:2)"
        )
    a = DEFAULT_RISK_AVERSION
    if arg:
        if kind != "utility":
            raise InputError(f"rank-by: {kind} takes no parameter; pass it as plain {kind}")
        try:
            a = float(arg)
        except ValueError:
            a = math.nan
        if not (math.isfinite(a) and a >= 0):
            raise InputError(f"rank-by: risk aversion must be a number ≥ 0, got {arg!r}; "
                             "e.g. utility:2")
    return kind, a


def objective_score(
    kind: str,
    *,
    hedge_effectiveness: float,
    max_drawdown: float,
    annual_return: float,
    returns: Any,
    periods_per_year: float,
    risk_aversion: float = DEFAULT_RISK_AVERSION,
) -> float:
    """Score to rank hedges by (higher is better).

    * ``variance``: hedge effectiveness;
    * ``drawdown``: the maximum drawdown (≤ 0; the shallowest wins);
    * ``return-per-drawdown``: annual return / |max drawdown| when the annual return is
      > 0; a loss-making hedge scores its annual return minus 1000 instead, so it ranks
      below every profitable one and the smaller loss first;
    * ``utility``: mean-variance certainty equivalent μ − A·σ²/2 of the annualised
      arithmetic mean μ and variance σ² of the per-period returns (A: risk aversion).
    """
    if kind == "variance":
        return hedge_effectiveness
    if kind == "drawdown":
        return max_drawdown
    if kind == "return-per-drawdown":
        if not annual_return > 0:
            return annual_return - 1000.0
        return annual_return / max(abs(max_drawdown), 1e-12)
    if kind == "utility":
        r = _series("returns", returns)
        r = r[np.isfinite(r)]
        if r.size < 2:
            return math.nan
        mu = float(np.mean(r)) * periods_per_year
        var = float(np.var(r, ddof=1)) * periods_per_year
        return mu - risk_aversion * var / 2.0
    raise InputError(f"rank-by: unknown objective {kind!r}")


def crash_episodes(
    prices: Any,
    window: int,
    min_drop: float = 0.15,
    max_episodes: int = 12,
) -> list[tuple[int, int, float]]:
    """Sharpest falls of a price series: (peak row, trough row, drop ≤ 0), in time order.

    For every row t the drop from the highest close of the previous ``window`` rows
    (t included) is d_t = P_t / max(P_{t−window+1..t}) − 1. The deepest d_t is taken as
    an episode's trough and its window's high as the peak; rows within ``window`` of that
    episode are then excluded and the next deepest is taken, while d ≤ −``min_drop``, at
    most ``max_episodes`` times.
    """
    p = _series("prices", prices)
    n = p.size
    w = int(window)
    if w < 2:
        raise InputError(f"window: must be at least 2 rows, got {window}")
    if n == 0:
        return []
    high = pd.Series(p).rolling(w, min_periods=1).max().to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        drop = p / high - 1.0
    drop = np.where(np.isfinite(drop), drop, 0.0)
    free = np.ones(n, dtype=bool)
    out: list[tuple[int, int, float]] = []
    while len(out) < max_episodes:
        cand = np.where(free, drop, 0.0)
        t = int(np.argmin(cand))
        if not cand[t] <= -min_drop:
            break
        lo = max(0, t - w + 1)
        peak = lo + int(np.nanargmax(p[lo : t + 1]))
        out.append((peak, t, float(cand[t])))
        free[max(0, peak - w) : min(n, t + w)] = False
    return sorted(out)
