"""core.margin's one model of a liquidation's outcome and its table of exchange methods."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from althedge.core.margin import (
    MARGIN_METHODS,
    forfeited_margin,
    liquidation_method,
    liquidation_outcome,
    margin_method,
)
from althedge.errors import InputError

amounts = st.floats(min_value=0.0, max_value=1e6)
prices = st.floats(min_value=1.0, max_value=1e6)


def test_forfeited_margin_broadcasts_and_never_charges_a_negative_balance() -> None:
    got = forfeited_margin(np.array([-5.0, 0.0, 2.5]))
    assert got.tolist() == [0.0, 0.0, 2.5]
    assert forfeited_margin(3.0) == 3.0


def test_linear_loses_its_usd_margin() -> None:
    out = liquidation_outcome("linear", "isolated", 1_200.0, price_then=60_000.0,
                              price_now=75_000.0)
    assert (out.margin_lost, out.collateral_kept, out.change_usd) == (1_200.0, 0.0, -1_200.0)


def test_inverse_margin_coin_bought_at_open_is_lost_at_that_price() -> None:
    out = liquidation_outcome("inverse", "isolated", 0.02, price_then=50_000.0,
                              price_now=90_000.0)
    assert out.change_usd == pytest.approx(-0.02 * 50_000.0)


def test_inverse_isolated_keeps_the_collateral_not_behind_the_position() -> None:
    # 1 BTC held, 0.25 BTC posted as isolated margin: 0.75 BTC survive at the new price
    out = liquidation_outcome("inverse", "isolated", 0.25, collateral_coin=1.0,
                              price_then=40_000.0, price_now=60_000.0)
    assert out.margin_lost == 0.25 and out.collateral_kept == 0.75
    assert out.change_usd == pytest.approx(0.75 * 60_000.0 - 40_000.0)


def test_inverse_cross_puts_all_the_collateral_behind_the_position() -> None:
    out = liquidation_outcome("inverse", "cross", 0.25, collateral_coin=1.0,
                              price_then=40_000.0, price_now=60_000.0)
    assert out.margin_lost == 1.0 and out.collateral_kept == 0.0
    assert out.change_usd == pytest.approx(-40_000.0)


@given(margin=amounts, c=amounts, p0=prices, p1=prices)
def test_cross_never_loses_less_than_isolated(margin: float, c: float, p0: float,
                                              p1: float) -> None:
    iso = liquidation_outcome("inverse", "isolated", margin, collateral_coin=c,
                              price_then=p0, price_now=p1)
    cross = liquidation_outcome("inverse", "cross", margin, collateral_coin=c,
                                price_then=p0, price_now=p1)
    assert cross.margin_lost >= iso.margin_lost
    assert cross.change_usd <= iso.change_usd + 1e-6 * max(1.0, c * p1)


@pytest.mark.parametrize("exchange", ["binance", "bybit", "okx", "deribit"])
@pytest.mark.parametrize("contract", ["linear", "inverse"])
def test_every_exchange_label_has_a_method(exchange: str, contract: str) -> None:
    label = liquidation_method(exchange, contract)
    assert margin_method(label) is margin_method(label.replace("-isolated", "-cross"))
    assert margin_method(label).mm_at_entry is (exchange == "bybit")


def test_unknown_method_names_the_field() -> None:
    with pytest.raises(InputError, match="method"):
        margin_method("kraken-isolated")
    assert set(MARGIN_METHODS) >= {"binance-usdm", "bybit-inverse", "generic"}
