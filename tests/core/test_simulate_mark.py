"""Liquidation against the mark price (issue 13): the bar found by the walk is the first one
whose highest mark reaches the exchange's liquidation price (core.margin)."""

from __future__ import annotations

import numpy as np
import pytest

from althedge.core.instruments import Side
from althedge.core.margin import liquidation_price
from althedge.core.simulate import LegSpec, simulate_leg
from althedge.errors import InputError

EP, LEV, MMR = 50_000.0, 5.0, 0.004


def _path() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    close = np.array([EP, 52_000, 55_000, 56_000, 57_000, 58_000, 59_000, 60_500, 62_000])
    value = np.full(close.size, 100_000.0)
    beta = np.array([1.0] + [np.nan] * (close.size - 1))  # open once, then hold
    due = np.zeros(close.size, dtype=bool)
    due[0] = True
    return close, value, beta, due


def test_mark_high_through_the_liquidation_price_liquidates_that_bar() -> None:
    close, value, beta, due = _path()
    q = 100_000.0 / EP
    liq = liquidation_price("binance", "linear", Side.SHORT, q, 1.0, EP, leverage=LEV,
                            mmr=MMR).liquidation_price
    by_close = int(np.argmax(close >= liq))
    mark = close * 1.001
    mark[3] = liq * 1.0005  # a wick of the mark above the liquidation price, close below
    assert close[3] < liq and by_close > 3
    spec = LegSpec(leverage=LEV, mmr=MMR)
    plain = simulate_leg(spec, value, beta, close, rebalance_due=due)
    marked = simulate_leg(spec, value, beta, close, rebalance_due=due, mark_usd=mark)
    assert int(np.argmax(plain.liquidated[:, 0])) == by_close
    first = int(np.argmax(mark >= liq))
    assert marked.liquidated[:, 0].tolist() == [i == first for i in range(close.size)]
    assert marked.account_usd[first, 0] == pytest.approx(0.0)
    # a mark that stays below the liquidation price changes nothing
    calm = simulate_leg(spec, value, beta, close, rebalance_due=due,
                        mark_usd=np.minimum(close * 1.001, liq * 0.999))
    np.testing.assert_array_equal(calm.liquidated, plain.liquidated)


def test_mark_must_be_finite_positive() -> None:
    close, value, beta, due = _path()
    bad = close.copy()
    bad[2] = np.nan
    with pytest.raises(InputError, match="mark_usd"):
        simulate_leg(LegSpec(leverage=LEV), value, beta, close, rebalance_due=due,
                     mark_usd=bad)
