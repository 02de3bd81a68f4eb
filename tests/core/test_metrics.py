"""Hedge metrics with hand-computed values (Ederington HE, volatility, drawdown, worst weeks)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from althedge.core.metrics import (
    annualised_return,
    annualised_volatility,
    crash_episodes,
    drawdown_avoided_per_return_given_up,
    hedge_effectiveness,
    max_drawdown,
    objective_score,
    parse_rank_objective,
    time_weighted_returns,
    worst_weeks_return,
)
from althedge.errors import InputError


def test_hedge_effectiveness_hand_computed() -> None:
    # hedged = half of unhedged → variance ÷ 4 → HE = 0.75
    u = [0.01, -0.02, 0.03, 0.0]
    h = [0.005, -0.01, 0.015, 0.0]
    assert hedge_effectiveness(u, h) == pytest.approx(0.75, abs=1e-15)
    # a perfect hedge and a hedge that doubles the risk
    assert hedge_effectiveness(u, [0.001] * 4) == pytest.approx(1.0)
    assert hedge_effectiveness(u, [2 * v for v in u]) == pytest.approx(-3.0)


def test_hedge_effectiveness_drops_nan_pairwise_and_rejects_flat() -> None:
    u = [0.01, np.nan, -0.02, 0.03, 0.0]
    h = [0.005, 0.5, -0.01, 0.015, np.nan]
    # rows 0, 2, 3: var(u) = var([.01,-.02,.03]), hedged exactly half
    assert hedge_effectiveness(u, h) == pytest.approx(0.75)
    with pytest.raises(InputError, match="zero variance"):
        hedge_effectiveness([0.01, 0.01, 0.01], [0.0, 0.01, 0.02])
    with pytest.raises(InputError, match="at least 2"):
        hedge_effectiveness([0.01], [0.0])


def test_annualised_volatility_hand_computed() -> None:
    # returns ±1% alternating: sample sd of [.01,-.01,.01,-.01] = sqrt(4·1e-4/3)
    r = [0.01, -0.01, 0.01, -0.01]
    expected = math.sqrt(4e-4 / 3) * math.sqrt(365)
    assert annualised_volatility(r, 365) == pytest.approx(expected, rel=1e-12)
    assert math.isnan(annualised_volatility([0.01], 365))
    with pytest.raises(InputError, match="periods_per_year"):
        annualised_volatility(r, 0)


def test_max_drawdown_equity_and_returns() -> None:
    assert max_drawdown([100, 120, 90, 130, 65]) == pytest.approx(-0.5)  # 130 → 65
    assert max_drawdown([100, 110, 120]) == 0.0
    # returns compounded from 1: 0.9 → 1.08 → 0.54, peak 1.08 → −50%
    assert max_drawdown([-0.1, 0.2, -0.5], kind="returns") == pytest.approx(-0.5)
    # a first-period loss counts against the starting value
    assert max_drawdown([-0.2], kind="returns") == pytest.approx(-0.2)
    with pytest.raises(InputError, match="kind='returns'"):
        max_drawdown([0.01, -0.02])


def test_worst_weeks_return_hand_computed() -> None:
    # 2024-01-01 is a Monday: three full calendar weeks of daily rows
    ts = pd.date_range("2024-01-01", periods=21, freq="D")
    btc = np.zeros(21)
    port = np.zeros(21)
    btc[0:7] = [-0.05, 0, 0, 0, 0, 0, 0]  # week 1: BTC −5%
    btc[7:14] = [0.02, 0, 0, 0, 0, 0, 0]  # week 2: +2%
    btc[14:21] = [-0.10, 0, 0, 0, 0, 0, -0.10]  # week 3: 0.9·0.9 − 1 = −19% (worst)
    port[14:21] = [-0.05, 0, 0, 0, 0, 0, 0.02]  # portfolio that week: 0.95·1.02 − 1
    port[0:7] = [-0.30, 0, 0, 0, 0, 0, 0]
    # 5% of 3 weeks → 1 week: the worst BTC week is week 3
    assert worst_weeks_return(port, btc, ts) == pytest.approx(0.95 * 1.02 - 1)
    # 50% of 3 weeks → 2 weeks (weeks 3 and 1), compounded
    expected = (0.95 * 1.02) * 0.70 - 1
    assert worst_weeks_return(port, btc, ts, quantile=0.5) == pytest.approx(expected)


def test_worst_weeks_return_checks_lengths() -> None:
    ts = pd.date_range("2024-01-01", periods=3, freq="D")
    with pytest.raises(InputError, match="timestamps"):
        worst_weeks_return([0.0, 0.0], [0.0, 0.0], ts)
    with pytest.raises(InputError, match="quantile"):
        worst_weeks_return([0.0] * 3, [0.0] * 3, ts, quantile=0)


# ------------------------------------------------------------ investor's metrics
def test_time_weighted_returns_do_not_count_deposits_as_gain() -> None:
    # wealth 100 → 120 of which 30 deposited: a loss of 10 on 100; then 120 → 132 (+10 %)
    r = time_weighted_returns([100.0, 120.0, 132.0], [0.0, 30.0, 0.0])
    assert np.isnan(r[0])
    np.testing.assert_allclose(r[1:], [-0.10, 0.10])
    assert max_drawdown(r[1:], kind="returns") == pytest.approx(-0.10)


def test_annualised_return_hand_computed() -> None:
    # +21 % over two periods of a 2-period year: 1.1 · 1.1 = 1.21 → 21 % a year
    assert annualised_return([np.nan, 0.1, 0.1], 2) == pytest.approx(0.21)
    # four quarterly returns compounding to 1.5: 50 % a year
    q = 1.5 ** 0.25 - 1
    assert annualised_return([q] * 4, 4) == pytest.approx(0.5)
    assert annualised_return([-0.5, -0.6], 365) == pytest.approx((0.5 * 0.4) ** 182.5 - 1)


def test_drawdown_avoided_per_return_given_up() -> None:
    # unhedged −60 % drawdown, +200 %; hedged −30 %, +140 %: 30 points bought with 60
    assert drawdown_avoided_per_return_given_up(-0.6, -0.3, 2.0, 1.4) == pytest.approx(0.5)
    assert drawdown_avoided_per_return_given_up(-0.6, -0.3, 2.0, 2.5) == math.inf
    assert drawdown_avoided_per_return_given_up(-0.6, -0.6, 2.0, 2.0) is None


def test_rank_objectives_parse_and_score() -> None:
    assert parse_rank_objective("utility:3") == ("utility", 3.0)
    assert parse_rank_objective("calmar") == ("return-per-drawdown", 2.0)
    for bad in ("sharpe", "utility:-1", "drawdown:2"):
        with pytest.raises(InputError, match="rank-by"):
            parse_rank_objective(bad)
    r = np.array([0.01, -0.02, 0.03, 0.0])
    kw = {"hedge_effectiveness": 0.4, "max_drawdown": -0.25, "returns": r,
          "periods_per_year": 365.0}
    assert objective_score("variance", annual_return=0.1, **kw) == 0.4
    assert objective_score("drawdown", annual_return=0.1, **kw) == -0.25
    assert objective_score("return-per-drawdown", annual_return=0.1, **kw) == pytest.approx(0.4)
    # a losing hedge ranks below every winning one, the smaller loss first
    assert objective_score("return-per-drawdown", annual_return=-0.1, **kw) < -999
    # μ = 0.005·365; deviations ±0.005, ±0.025 → σ² = (0.0013/3)·365; A = 2 → μ − σ²
    u = objective_score("utility", annual_return=0.1, risk_aversion=2.0, **kw)
    assert u == pytest.approx(0.005 * 365 - (0.0013 / 3) * 365)


def test_crash_episodes_against_a_pandas_scan() -> None:
    p = np.r_[np.linspace(100, 120, 30), np.linspace(120, 90, 5), np.linspace(90, 130, 40),
              np.linspace(130, 80, 10), np.linspace(80, 100, 20)]
    found = crash_episodes(p, window=14, min_drop=0.15)
    assert [(i, j) for i, j, _ in found] == [(29, 34), (74, 84)]
    s = pd.Series(p)
    drop = s / s.rolling(14, min_periods=1).max() - 1
    assert found[1][2] == pytest.approx(drop.min())  # the deepest: 130 → 80
    assert found[0][2] == pytest.approx(drop.iloc[:60].min())  # 120 → 90
    assert crash_episodes(p, window=14, min_drop=0.5) == []
