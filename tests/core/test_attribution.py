"""core.attribution: hedge PnL, funding, fees and collateral revaluation of a leg.

Reference values are computed by hand from the definitions in docs/domain.md
(linear PnL = side·Q·CS·(P − EP) USD; inverse PnL = side·Q·CS·(1/EP − 1/P) coin),
the same formulas Binance's and Bybit's PnL pages give (see core/pnl.py).
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from althedge.core.attribution import (
    LegAttribution,
    collateral_revaluation_usd,
    hedge_pnl_usd,
    leg_attribution,
)
from althedge.core.margin import margin_ratio
from althedge.core.pnl import pnl_usd
from althedge.errors import InputError

prices = st.floats(min_value=100.0, max_value=200_000.0)
sizes = st.floats(min_value=0.001, max_value=100.0)


def test_linear_short_round_trip_by_hand() -> None:
    # sell 2 BTC-contracts (CS 1 coin) at 60 000, buy back at 54 000: +12 000 USD
    assert hedge_pnl_usd("linear", [-2.0, 2.0], [60_000.0, 54_000.0], 1.0, 50_000.0) == 12_000.0


def test_open_remainder_is_marked() -> None:
    # short 2 at 60 000, still open, marked at 63 000: −6 000 USD
    assert hedge_pnl_usd("linear", [-2.0], [60_000.0], 1.0, 63_000.0) == pytest.approx(-6_000.0)


def test_inverse_short_by_hand() -> None:
    # short 100 contracts of 100 USD at 50 000, bought back at 40 000:
    # 10 000·(1/40 000 − 1/50 000) = 0.05 BTC, worth 0.05·40 000 = 2 000 USD at the mark
    pnl = hedge_pnl_usd("inverse", [-100.0, 100.0], [50_000.0, 40_000.0], 100.0, 40_000.0)
    assert pnl == pytest.approx(2_000.0)


@given(q=sizes, ep=prices, p=prices)
def test_single_fill_equals_core_pnl(q: float, ep: float, p: float) -> None:
    """One sell, marked at p: the same number as core.pnl's short PnL (USD at p)."""
    for ct, cs in (("linear", 0.001), ("inverse", 100.0)):
        got = hedge_pnl_usd(ct, [-q], [ep], cs, p)
        want = float(pnl_usd(ct, "short", q, cs, ep, p))
        assert got == pytest.approx(want, rel=1e-9, abs=1e-9)


@given(q=sizes, p0=prices, p1=prices)
def test_one_x_inverse_short_on_its_coin_is_flat_in_usd(q: float, p0: float, p1: float) -> None:
    """A 1× inverse short backed by exactly its face value in coin is delta-neutral in
    USD: hedge PnL + collateral revaluation = 0 at any price."""
    cs = 100.0
    coin = q * cs / p0
    a = leg_attribution("inverse", signed_contracts=[-q], fill_prices=[p0], contract_size=cs,
                        mark=p1, collateral_coin=[coin], collateral_prices_usd=[p0])
    assert a.hedge_pnl_usd + a.collateral_usd == pytest.approx(0.0, abs=1e-6 * q * cs)


def test_inverse_funding_and_fees_are_coin_at_the_mark() -> None:
    a = leg_attribution("inverse", signed_contracts=[], fill_prices=[], contract_size=100.0,
                        mark=30_000.0, funding_settle=[0.001, -0.0002], fees_settle=[0.0005])
    assert a.funding_received_usd == pytest.approx(0.0008 * 30_000.0)
    assert a.fees_paid_usd == pytest.approx(15.0)
    assert a.net_usd == pytest.approx(24.0 - 15.0)


def test_linear_ignores_collateral_and_sums_usd() -> None:
    a = leg_attribution("linear", signed_contracts=[-1.0], fill_prices=[100.0],
                        contract_size=1.0, mark=100.0, funding_settle=[3.0, -1.0],
                        fees_settle=[0.5], collateral_coin=[1.0], collateral_prices_usd=[1.0])
    assert a == LegAttribution(0.0, 2.0, 0.5, 0.0)
    assert (a + a).fees_paid_usd == 1.0


def test_collateral_revaluation_by_hand() -> None:
    assert collateral_revaluation_usd([0.5, 0.25], [60_000.0, 40_000.0], 50_000.0) == (
        pytest.approx(0.5 * -10_000.0 + 0.25 * 10_000.0)
    )


def test_bad_input_names_the_field() -> None:
    with pytest.raises(InputError, match="one price per fill"):
        hedge_pnl_usd("linear", [1.0, 2.0], [1.0], 1.0, 1.0)
    with pytest.raises(InputError, match="finite"):
        hedge_pnl_usd("linear", [math.nan], [1.0], 1.0, 1.0)


def test_margin_ratio() -> None:
    # Binance FAQ "What Is the Margin Ratio": MM / (margin + unrealised PnL)
    assert margin_ratio(50.0, 1_000.0, -500.0) == pytest.approx(0.1)
    assert margin_ratio(50.0, 100.0, -100.0) == math.inf
