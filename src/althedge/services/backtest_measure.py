"""Measuring compared hedges: the investor's metrics, the ranking, the crash episodes.

Wires the per-bar leg results of :mod:`althedge.core.simulate` to the formulas of
:mod:`althedge.core.metrics` (no formula here) and builds the typed records of
:mod:`althedge.services.backtest_results`. Used by :func:`althedge.services.backtest.
run_backtest`; method and bases: ``docs/backtest.md`` ("Metrics", "Ranking", "Crash
episodes").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from althedge.core import metrics as mc
from althedge.core.simulate import LegResult
from althedge.services.backtest_results import Episode, PolicyMetrics, PolicyResult, YearCosts

__all__ = ["KNOWN_EPISODES", "episode_name", "episodes", "policy_metrics", "rank", "stamp"]

#: Names given to crash episodes whose fall (peak → trough) contains one of these UTC
#: dates. The episodes themselves are found in the data (core ``crash_episodes``).
KNOWN_EPISODES: tuple[tuple[str, str], ...] = (
    ("2020-03-12", "COVID crash"),
    ("2021-01-11", "2021-01 correction"),
    ("2021-05-19", "2021-05-19 crash"),
    ("2021-06-21", "2021-06 China mining ban"),
    ("2021-12-04", "2021-12-04 flash crash"),
    ("2022-01-21", "2022-01 sell-off"),
    ("2022-05-09", "Terra/LUNA collapse (2022-05)"),
    ("2022-06-13", "Celsius/3AC (2022-06)"),
    ("2022-11-09", "FTX collapse (2022-11)"),
    ("2023-08-17", "2023-08-17 drop"),
    ("2024-03-19", "2024-03 correction"),
    ("2024-08-05", "yen carry unwind (2024-08-05)"),
    ("2025-02-03", "2025-02 tariff shock"),
    ("2025-02-26", "2025-02/03 correction"),
    ("2025-03-10", "2025-03 correction"),
    ("2025-04-07", "2025-04 tariff crash"),
    ("2025-10-10", "2025-10-10 liquidation cascade"),
    ("2025-11-20", "2025-11 correction"),
    ("2026-02-05", "2026-02 sell-off"),
)
_EPISODE_WINDOW_DAYS = 14
_EPISODE_MIN_DROP = 0.15


def stamp(ts: pd.Timestamp, timeframe: str) -> str:
    """A bar's time as written in results: the date on daily bars, ISO 8601 on hourly."""
    return str(ts.date()) if timeframe == "1d" else ts.isoformat()


def _finite_or(x: float, default: float) -> float:
    return x if isinstance(x, int | float) and math.isfinite(x) else default


def _leg_total(legs: dict[str, LegResult], name: str) -> np.ndarray:
    """Sum of one per-bar LegResult field over the legs (first column), USD."""
    return np.asarray(sum(getattr(res, name)[:, 0] for res in legs.values()), dtype=float)


def _costs_by_year(
    idx: pd.DatetimeIndex, funding_received: np.ndarray, fees: np.ndarray, slip: np.ndarray
) -> dict[str, YearCosts]:
    """Funding received, fees and slippage paid, by calendar year (USD)."""
    frame = pd.DataFrame({"f": funding_received, "fee": fees, "s": slip}, index=idx)
    return {
        str(year): YearCosts(float(g["f"].sum()) + 0.0, float(g["fee"].sum()),
                             float(g["s"].sum()))
        for year, g in frame.groupby(idx.year)
    }


def policy_metrics(
    v: np.ndarray,
    net: np.ndarray,
    legs: dict[str, LegResult],
    r_u: np.ndarray,
    r_hedge_asset: np.ndarray,
    idx: pd.DatetimeIndex,
    periods: float,
    *,
    min_rally_pct: float = math.inf,
    basis_usd: float = 0.0,
) -> tuple[PolicyMetrics, dict[str, np.ndarray]]:
    """Hedged vs unhedged metrics (core.metrics) and the per-bar series for the report.

    Bases, each named: hedge effectiveness and volatility on r_p + hedge PnL / V (the
    hedge judged against the holdings it protects); ``max_drawdown_hedged`` on holdings +
    cumulative hedge PnL (schema 1; −100 % once the hedge has lost more than the
    holdings); the investor's basis — all capital committed: holdings + hedge PnL + every
    margin deposit, the deposits counted as cash set aside from the start — for the
    table's drawdown, the annual return and the ranking; ``max_drawdown_hedged_wealth``
    on the time-weighted return of holdings + margin account (deposits as new capital).
    """
    equity_h = v + np.cumsum(net)
    r_hd = np.r_[np.nan, r_u[1:] + net[1:] / v[:-1]]  # (ΔV + hedge) / V_{t−1}
    u, h, x = r_u[1:], r_hd[1:], r_hedge_asset[1:]
    ts = idx[1:]
    funding_recv = _leg_total(legs, "funding_usd")  # + = received by the short
    fees = _leg_total(legs, "fees_usd")
    slip = _leg_total(legs, "slippage_usd")
    traded = _leg_total(legs, "traded_usd")
    deposits = _leg_total(legs, "deposits_usd")
    account = _leg_total(legs, "account_usd")
    hedged = _leg_total(legs, "hedged_notional_usd") > 0
    rebalanced = np.any([res.rebalanced[:, 0] for res in legs.values()], axis=0)
    calls = np.any([res.margin_call[:, 0] for res in legs.values()], axis=0)
    liquidated = np.any([res.liquidated[:, 0] for res in legs.values()], axis=0)
    years = max((idx[-1] - idx[0]).total_seconds() / (365.0 * 86400.0), 1e-9)
    avg_v = float(np.mean(v))
    # the investor's wealth: holdings + margin account; deposits are capital, not return
    r_w = mc.time_weighted_returns(v + account, deposits)
    r_w = np.where(np.isfinite(r_w), np.maximum(r_w, -0.999999), np.nan)
    # all capital committed: holdings + every margin deposit, set aside from the start
    committed = np.maximum(equity_h + deposits.sum(), 1e-9)
    r_c = np.r_[np.nan, committed[1:] / committed[:-1] - 1.0]
    zero = np.flatnonzero(equity_h <= 0)
    cost_net = float(fees.sum() + slip.sum() - funding_recv.sum())
    ret_u = float(100.0 * (v[-1] / v[0] - 1))
    ret_h = float(100.0 * (equity_h[-1] / v[0] - 1))
    dd_u = float(mc.max_drawdown(v))
    dd_w = float(mc.max_drawdown(r_w[1:], kind="returns"))
    dd_c = float(mc.max_drawdown(committed))
    capital = float(v[0] + deposits.sum())
    m = PolicyMetrics(
        hedge_effectiveness=float(mc.hedge_effectiveness(u, h)),
        vol_unhedged=float(mc.annualised_volatility(u, periods)),
        vol_hedged=float(mc.annualised_volatility(h, periods)),
        max_drawdown_unhedged=dd_u,
        # USD equity of holdings + hedge PnL (deposits excluded); if the hedge's losses
        # ever exceed the holdings' value the drawdown is −100 %
        max_drawdown_hedged=float(mc.max_drawdown(np.maximum(equity_h, 1e-9))),
        max_drawdown_hedged_committed=dd_c,
        max_drawdown_hedged_wealth=dd_w,
        # the same hedge re-sized to the portfolio every bar: compounded hedged returns
        max_drawdown_hedged_compounded=float(mc.max_drawdown(h, kind="returns")),
        max_drawdown_unhedged_compounded=float(mc.max_drawdown(u, kind="returns")),
        equity_touches_zero_on=str(idx[zero[0]].date()) if zero.size else None,
        worst_weeks_return_unhedged=float(mc.worst_weeks_return(u, x, ts)),
        worst_weeks_return_hedged=float(mc.worst_weeks_return(h, x, ts)),
        funding_received_usd=float(funding_recv.sum()) + 0.0,  # no "-0"
        fees_paid_usd=float(fees.sum()),
        slippage_paid_usd=float(slip.sum()),
        cost_per_year_usd=cost_net / years,
        cost_pct_of_value_per_year=100.0 * cost_net / years / avg_v if avg_v > 0 else None,
        costs_by_year=_costs_by_year(idx, funding_recv, fees, slip),
        hedge_pnl_usd=float(_leg_total(legs, "hedge_pnl_usd").sum()),
        net_hedge_pnl_usd=float(net.sum()),
        final_value_unhedged_usd=float(v[-1]),
        final_value_hedged_usd=float(equity_h[-1]),
        return_unhedged_pct=ret_u,
        return_hedged_pct=ret_h,
        annual_return_unhedged_pct=100.0 * mc.annualised_return(u, periods),
        annual_return_hedged_pct=100.0 * mc.annualised_return(r_c[1:], periods),
        capital_committed_usd=capital,
        return_on_capital_committed_pct=100.0 * (equity_h[-1] - v[0]) / capital,
        margin_peak_usd=float(account.max()),
        margin_avg_usd=float(account.mean()),
        drawdown_avoided_pct=100.0 * (dd_c - dd_u),
        return_given_up_pct=ret_u - ret_h,
        drawdown_avoided_per_return_given_up=mc.drawdown_avoided_per_return_given_up(
            dd_u, dd_c, ret_u / 100.0, ret_h / 100.0),
        time_hedged_pct=100.0 * float(hedged.mean()),
        hedge_switches=int(np.count_nonzero(hedged[1:] != hedged[:-1]) + int(hedged[0])),
        turnover_usd=float(traded.sum()),
        turnover_per_year=float(traded.sum()) / years / avg_v if avg_v > 0 else None,
        rebalances=int(rebalanced.sum()),
        margin_calls=int(calls.sum()),
        liquidations=int(sum(int(res.liquidated[:, 0].sum()) for res in legs.values())),
        liquidation_loss_usd=float(_leg_total(legs, "liquidation_loss_usd").sum()),
        collateral_deposited_usd=float(deposits.sum()),
        years=years,
        min_rally_to_liquidation_pct=min_rally_pct,
        basis_usd=basis_usd,
    )
    extra = {
        "equity_hedged_usd": equity_h,
        "wealth_hedged_usd": v + account,
        "margin_account_usd": account,
        "return_unhedged": r_u,
        "return_hedged": r_hd,
        "return_wealth_hedged": r_w,
        "committed_hedged_usd": committed,
        "return_committed_hedged": r_c,
        "funding_received_usd": funding_recv,
        "funding_cost_usd": -funding_recv,  # deprecated series name (+ = paid)
        "fees_usd": fees,
        "slippage_usd": slip,
        "traded_usd": traded,
        "hedged": hedged,
        "rebalanced": rebalanced,
        "margin_call": calls,
        "liquidated": liquidated,
    }
    return m, extra


def rank(
    results: Sequence[PolicyResult], objective: tuple[str, float], periods: float
) -> list[PolicyResult]:
    """Score every result by the objective (core ``objective_score``) and return them
    best first with ``rank`` (1 = best) and ``score`` set; ties: the lower net cost."""
    kind, aversion = objective
    scored = [
        replace(r, score=mc.objective_score(
            kind, hedge_effectiveness=r.metrics.hedge_effectiveness,
            max_drawdown=r.metrics.max_drawdown_hedged_committed,
            annual_return=r.metrics.annual_return_hedged_pct / 100.0,
            returns=r.series["return_committed_hedged"].to_numpy(), periods_per_year=periods,
            risk_aversion=aversion,
        ))
        for r in results
    ]
    order = sorted(scored, key=lambda r: (-_finite_or(r.score, -math.inf),
                                          r.metrics.cost_net_paid_usd))
    return [replace(r, rank=k) for k, r in enumerate(order, start=1)]


def episode_name(peak: pd.Timestamp, trough: pd.Timestamp) -> str:
    lo, hi = peak.normalize(), trough.normalize() + pd.Timedelta(days=2)
    for day, label in KNOWN_EPISODES:
        if lo <= pd.Timestamp(day) <= hi:
            return label
    return f"{peak.date()} → {trough.date()} fall"


def episodes(
    results: Sequence[PolicyResult],
    price: np.ndarray,
    value_usd: np.ndarray,
    idx: pd.DatetimeIndex,
    bars_per_day: float,
) -> list[Episode]:
    """The hedge asset's sharpest falls (core ``crash_episodes``: the deepest drop from a
    14-day high, ≥ 15 %, non-overlapping) and what each hedge lost in them.

    ``price``: the hedge asset's closes, ``value_usd``: the holdings' value, both over the
    evaluated span ``idx``.
    """
    timeframe = "1d" if bars_per_day == 1 else "1h"
    v = value_usd
    found = mc.crash_episodes(price, round(_EPISODE_WINDOW_DAYS * bars_per_day),
                              _EPISODE_MIN_DROP)
    out = []
    for i, j, drop in found:
        losses, at_start, share = {}, {}, {}
        for r in results:
            eq = r.series["equity_hedged_usd"].to_numpy()
            hedged = r.series["hedged"].to_numpy(dtype=bool)
            losses[r.name] = 100.0 * (eq[j] - eq[i]) / v[i]
            at_start[r.name] = bool(hedged[i])
            share[r.name] = 100.0 * float(hedged[i:j].mean()) if j > i else 0.0
        out.append(Episode(
            name=episode_name(idx[i], idx[j]), peak=stamp(idx[i], timeframe),
            trough=stamp(idx[j], timeframe), hedge_asset_drop_pct=100.0 * drop,
            unhedged_loss_pct=100.0 * (v[j] / v[i] - 1.0), losses_pct=losses,
            hedged_at_start=at_start, hedged_share_pct=share,
        ))
    return out
