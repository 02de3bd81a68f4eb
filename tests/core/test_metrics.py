"""Hedge metrics with hand-computed values (Ederington HE, volatility, drawdown, worst weeks)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from althedge.core.metrics import (
    annualised_volatility,
    hedge_effectiveness,
    max_drawdown,
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
