"""Liquidation formulas of the guide's other exchanges, against their own documents.

* MEXC, "Liquidation in Futures" (blog.mexc.fm/liquidation-in-futures-2): long LP =
  (MM − PM + EP·Q)/Q with MM = EP·Q·MMR at entry; worked example 0.1 BTC long at 50 000,
  25×, MMR 0.4 % → MM 20, PM 200, LP 48 200.
* Hyperliquid docs, "Liquidations": liq_price = price − side·margin_available/position_size/
  (1 − l·side), l = 1/maintenance leverage (= MMR, "Margin tiers": half the initial rate at
  max leverage), margin_available = isolated margin − maintenance margin.
* WEEX help centre, "WEEX Futures Pro: Estimated liquidation price": long LP = mark −
  (value − MM)/(Q·(1 − MMR)), short LP = mark − (value − MM)/(−Q·(1 + MMR)).
* BingX publishes the condition only (help centre "Perpetual Futures Forced Liquidation
  Rules"): the generic form, labelled generic.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from althedge.core.instruments import get_instrument
from althedge.core.margin import liquidation_method, liquidation_price


def test_mexc_worked_example_long() -> None:
    liq = liquidation_price("mexc", "linear", "long", 0.1, 1.0, 50_000, leverage=25, mmr=0.004)
    assert liq.method == "mexc-isolated"
    assert liq.liquidation_price == pytest.approx(48_200.0, abs=1e-6)


def test_mexc_short_mirror_of_the_published_form() -> None:
    # short LP = (EP·Q − MM + PM)/Q = (5000 − 20 + 200)/0.1 = 51 800
    liq = liquidation_price("mexc", "linear", "short", 0.1, 1.0, 50_000, leverage=25, mmr=0.004)
    assert liq.liquidation_price == pytest.approx(51_800.0, abs=1e-6)


def test_mexc_contract_units_scale_like_coin() -> None:
    """1 000 MEXC BTC_USDT contracts of 0.0001 BTC are the same 0.1 BTC position."""
    inst = get_instrument("mexc", "BTC/USDT:USDT")
    a = liquidation_price("mexc", "linear", "short", 1_000, inst.contract_size, 50_000,
                          leverage=25, mmr=0.004)
    assert a.liquidation_price == pytest.approx(51_800.0, rel=1e-12)


def _hyperliquid_doc_form(side: int, price: float, size: float, isolated: float,
                          mmr: float) -> float:
    margin_available = isolated - size * price * mmr
    return price - side * margin_available / size / (1 - mmr * side)


@given(
    side=st.sampled_from([1, -1]),
    size=st.floats(0.001, 50.0),
    entry=st.floats(1_000.0, 200_000.0),
    leverage=st.floats(1.0, 40.0),
)
def test_hyperliquid_equals_its_documented_formula(side: int, size: float, entry: float,
                                                   leverage: float) -> None:
    inst = get_instrument("hyperliquid", "BTC/USDC:USDC")
    liq = liquidation_price("hyperliquid", "linear", side, size, 1.0, entry,
                            leverage=leverage, tiers=inst.tiers)
    expected = _hyperliquid_doc_form(side, entry, size, size * entry / leverage, 1 / 80)
    if side == 1 and expected <= entry * 1e-9:  # a 1× long: never liquidated (0 up to rounding)
        assert liq.liquidation_price == pytest.approx(0.0, abs=entry * 1e-9)
    else:
        assert liq.liquidation_price == pytest.approx(expected, rel=1e-9)
    assert liq.method == "hyperliquid-isolated"


def test_hyperliquid_tiers_follow_the_margin_tiers_page() -> None:
    btc = get_instrument("hyperliquid", "BTC/USDC:USDC")
    assert [t.max_leverage for t in btc.tiers] == [40, 20]
    assert btc.tiers[0].mmr == pytest.approx(0.0125)  # half of 1/40
    assert btc.tiers[1].mmr == pytest.approx(0.025)
    # deduction_1 = 150 M × (2.5 % − 1.25 %)
    assert btc.tiers[1].maint_amount == pytest.approx(1_875_000.0)
    assert btc.funding_interval_hours == 1.0
    assert btc.quote == "USDC" and btc.settle == "USDC"


@pytest.mark.parametrize("side", [1, -1])
def test_weex_equals_its_published_mark_form(side: int) -> None:
    q, ep, lev, mmr, mark = 0.5, 60_000.0, 10.0, 0.005, 61_000.0
    margin = q * ep / lev
    value = margin + side * q * (mark - ep)
    mm = q * mark * mmr
    net = side * q
    expected = mark - (value - mm) / (net * (1 - side * mmr))
    liq = liquidation_price("weex", "linear", side, q, 1.0, ep, leverage=lev, mmr=mmr)
    assert liq.liquidation_price == pytest.approx(expected, rel=1e-12)
    assert liq.method == "weex-isolated"


def test_bingx_is_labelled_generic() -> None:
    assert liquidation_method("bingx", "linear") == "generic-isolated"
    assert liquidation_method("bingx", "inverse") == "generic-isolated"
    assert liquidation_method("mexc", "inverse") == "generic-isolated"


def test_bingx_inverse_one_x_short_is_never_liquidated() -> None:
    inst = get_instrument("bingx", "BTC/USD:BTC")
    liq = liquidation_price("bingx", "inverse", "short", 900, inst.contract_size, 65_000,
                            leverage=1, tiers=inst.tiers)
    assert math.isinf(liq.liquidation_price)


@pytest.mark.parametrize(
    ("exchange", "symbol", "cs", "lot"),
    [
        ("bingx", "BTC/USDT:USDT", 1.0, 0.0001),
        ("bingx", "BTC/USD:BTC", 100.0, 1.0),
        ("mexc", "BTC/USDT:USDT", 0.0001, 1.0),
        ("weex", "BTC/USDT:USDT", 1.0, 0.0001),
        ("hyperliquid", "BTC/USDC:USDC", 1.0, 0.00001),
        ("hyperliquid", "ETH/USDC:USDC", 1.0, 0.0001),
    ],
)
def test_builtin_rows(exchange: str, symbol: str, cs: float, lot: float) -> None:
    inst = get_instrument(exchange, symbol)
    assert inst.contract_size == cs
    assert inst.lot_step == lot
    assert inst.is_perpetual
