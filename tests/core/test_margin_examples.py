"""Margin and liquidation prices against numbers published by the exchanges (core/margin.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from althedge.core.instruments import get_instrument
from althedge.core.margin import (
    bankruptcy_price,
    cross_liquidation_price,
    initial_margin,
    liquidation_method,
    liquidation_price,
    maintenance_margin,
    margin_left,
    short_rally_to_liquidation_pct,
)
from althedge.errors import ImpossiblePositionError, InputError

# --- Binance COIN-M ------------------------------------------------------------------


def test_binance_coinm_calculator_example_with_tier_at_liquidation() -> None:
    # Source: Binance developer forum thread "Coin-margined futures liquidation price
    # calculation help" (dev.binance.vision/t/6292): wallet 101 BTC, long 100 000 BTCUSD
    # contracts (100 USD, 10 000 000 USD) at 45 000; "The Binance Calculator is calculating
    # the Liquidation Price as $33,599.40". Single position, so cross == isolated. The tier
    # at the liquidation price (10 000 000/33 599 ≈ 298 BTC) is MMR 12.5 %, cum 11.605 BTC
    # (Binance COIN-M liquidation FAQ). Tolerance: 0.1 USD (one price tick; the calculator
    # shows 2 decimals of a value it rounds to the tick).
    tiers = get_instrument("binance", "BTC/USD:BTC").tiers
    liq = liquidation_price(
        "binance", "inverse", "long", 100_000, 100, 45_000, wallet_balance=101, tiers=tiers
    )
    assert liq.liquidation_price == pytest.approx(33_599.40, abs=0.1)
    assert liq.method == "binance-coinm-isolated"
    assert (liq.mmr, liq.maint_amount) == (0.125, pytest.approx(11.605))
    assert liq.tier_index == 6
    # the entry notional (222 BTC) is in the same tier here; the cross variant agrees
    cross = cross_liquidation_price(
        "binance", "inverse", "long", 100_000, 100, 45_000, wallet_balance=101, tiers=tiers
    )
    assert cross.liquidation_price == pytest.approx(liq.liquidation_price)
    assert cross.method == "binance-coinm-cross"


def test_binance_coinm_maintenance_margin_example() -> None:
    # Binance FAQ "How to Calculate Liquidation Price of COIN-M Futures Contracts": 100
    # BTCUSD contracts at mark 25 000 → 0.4 BTC notional, level 1 → MM = 0.4 × 0.4 % − 0
    # = 0.0016 BTC. Exact.
    assert maintenance_margin("inverse", 100, 100, 25_000, 0.004, 0) == pytest.approx(0.0016)


# --- Binance USDⓈ-M ------------------------------------------------------------------


def test_binance_usdm_recomputes_when_the_result_lands_in_another_tier() -> None:
    # Binance FAQ "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts":
    # isolated LP = (WB + cum − side·Q·EP)/(Q·MMR − side·Q), with the MMR/cum of the tier
    # holding the notional AT the liquidation price; "if the result falls in another tier,
    # recompute with that tier". Short 0.95 BTC at 50 000 (47 500 USDT, tier 1) at 10×:
    tiers = get_instrument("binance", "BTC/USDT:USDT").tiers
    wb = 0.95 * 50_000 / 10
    naive = (wb + 0 + 0.95 * 50_000) / (0.95 * 0.004 + 0.95)  # with tier 1 (0.4 %, cum 0)
    assert naive * 0.95 > 50_000  # ... lands in tier 2, so Binance says recompute
    expected = (wb + 50 + 0.95 * 50_000) / (0.95 * 0.005 + 0.95)  # tier 2: 0.5 %, cum 50
    liq = liquidation_price(
        "binance", "linear", "short", 0.95, 1, 50_000, leverage=10, tiers=tiers
    )
    assert liq.tier_index == 1 and liq.mmr == 0.005 and liq.maint_amount == 50
    assert liq.liquidation_price == pytest.approx(expected, rel=1e-12)
    assert liq.method == "binance-usdm-isolated"


def test_binance_usdm_closed_form_and_mmr_override() -> None:
    # 1 BTC long at 10 000 with 1 000 USDT isolated, MMR 0.4 %:
    # LP = (1 000 + 0 − 10 000)/(0.004 − 1) = 9 036.14…
    liq = liquidation_price("binance", "linear", "long", 1, 1, 10_000, wallet_balance=1_000,
                            mmr=0.004)
    assert liq.liquidation_price == pytest.approx(9_000 / 0.996)
    assert liq.bankruptcy_price == pytest.approx(9_000)
    assert liq.tier_index is None
    assert liq.move_to_liquidation_pct == pytest.approx((9_000 / 0.996 / 10_000 - 1) * 100)


# --- Bybit ---------------------------------------------------------------------------


def test_bybit_usdt_isolated_example() -> None:
    # Bybit help centre "Liquidation Price (USDT Contract)", Example 1: long 1 BTC at
    # 20 000 USDT, 50×, MMR 0.5 %: IM = 400, MM = 100, LP = 20 000 − (400 − 100) = 19 700.
    liq = liquidation_price("bybit", "linear", "long", 1, 1, 20_000, leverage=50, mmr=0.005)
    assert liq.liquidation_price == pytest.approx(19_700.0, abs=1e-9)
    assert liq.wallet_balance == pytest.approx(400.0)
    assert liq.maintenance_margin == pytest.approx(100.0)
    assert liq.method == "bybit-usdt-isolated"
    # same formula for the short side: EP + (IM − MM)/size
    short = liquidation_price("bybit", "linear", "short", 1, 1, 20_000, leverage=50, mmr=0.005)
    assert short.liquidation_price == pytest.approx(20_300.0)


def test_bybit_bankruptcy_price_example() -> None:
    # Bybit help centre "Bankruptcy Price (USDT Contract)": 1 BTC long at 10 000 USDT, 50×
    # → 10 000 × (1 − 2 %) = 9 800 USDT. Exact.
    wb = initial_margin("linear", 1, 1, 10_000, 50)
    assert bankruptcy_price("linear", "long", 1, 1, 10_000, wb) == pytest.approx(9_800.0)
    assert bankruptcy_price("linear", "short", 1, 1, 10_000, wb) == pytest.approx(10_200.0)


def test_bybit_inverse_isolated_example() -> None:
    # Bybit help centre "Liquidation Price Calculation under Isolated Mode (Unified Trading
    # Account)", inverse example: 60 000 USD of BTCUSD at 50 000, 10×, MMR 0.5 %:
    # position value 60 000/50 000 = 1.2 BTC, initial margin 1.2/10 = 0.12 BTC (published).
    # The page's current long formula LP = Q(1 + MMR)/(Q/EP + Q/EP/L + extra + deduction)
    # gives 60 000 × 1.005 / 1.32 = 45 681.82 (the page's own final figure was not
    # available to us; this checks the implementation against the published formula).
    assert initial_margin("inverse", 60_000, 1, 50_000, 10) == pytest.approx(0.12)
    liq = liquidation_price("bybit", "inverse", "long", 60_000, 1, 50_000, leverage=10,
                            mmr=0.005)
    assert liq.liquidation_price == pytest.approx(60_000 * 1.005 / 1.32)
    assert liq.method == "bybit-inverse-isolated"
    short = liquidation_price("bybit", "inverse", "short", 60_000, 1, 50_000, leverage=10,
                              mmr=0.005)
    assert short.liquidation_price == pytest.approx(60_000 * 0.995 / (1.2 - 0.12))


# --- generic, table, errors ------------------------------------------------------------


def test_generic_label_for_okx() -> None:
    assert liquidation_method("okx", "linear") == "generic-isolated"
    okx = get_instrument("okx", "BTC/USD:BTC")
    liq = liquidation_price("okx", "inverse", "short", 100, 100, 50_000, leverage=5,
                            tiers=okx.tiers)
    # generic = Binance COIN-M form with cum 0: LP = EP(1 − MMR)/(1 − 1/L)
    assert liq.liquidation_price == pytest.approx(50_000 * (1 - okx.tiers[0].mmr) / 0.8)


def test_deribit_maintenance_margin_published_examples() -> None:
    # Deribit support, "Linear Perpetual" (BTC_USDC at 100 000 USD): MM = 1 % + size in BTC
    # × 0.005 %; 25 BTC → 1.125 % → 0.28125 BTC = 28 125 USDC (exact figures on the page).
    mm = maintenance_margin("linear", 25, 1.0, 100_000, 0.01, mmr_per_coin=0.00005)
    assert mm == pytest.approx(28_125.0, rel=1e-12)
    # The same rule for the inverse BTC-PERPETUAL: 2 500 000 USD at 100 000 = 25 BTC →
    # 0.28125 BTC (size in coin measured at the price).
    mm_coin = maintenance_margin("inverse", 250_000, 10.0, 100_000, 0.01, mmr_per_coin=0.00005)
    assert mm_coin == pytest.approx(0.28125, rel=1e-12)
    btc = get_instrument("deribit", "BTC/USD:BTC").tiers[0]
    eth = get_instrument("deribit", "ETH/USD:ETH").tiers[0]
    # Deribit support, "11 January 2022": BTC 1 % + 0.005 %/BTC, ETH 1 % + 0.0004 %/ETH
    assert (btc.mmr, btc.mmr_per_coin) == (0.01, 0.00005)
    assert (eth.mmr, eth.mmr_per_coin) == (0.01, 0.000004)


@pytest.mark.parametrize("side", ["short", "long"])
def test_deribit_inverse_liquidation_solves_the_size_dependent_rule(side: str) -> None:
    assert liquidation_method("deribit", "inverse") == "deribit-isolated"
    inst = get_instrument("deribit", "BTC/USD:BTC")
    q, cs, ep, lev = 20_000, 10.0, 50_000.0, 5.0  # 200 000 USD = 4 BTC at entry
    liq = liquidation_price("deribit", "inverse", side, q, cs, ep, leverage=lev,
                            tiers=inst.tiers)
    n = q * cs
    wb = n / ep / lev
    s = 1.0 if side == "long" else -1.0
    k, m0 = 0.00005, 0.01
    # independent check: margin balance − MM as a function of the price, root by numpy
    roots = np.roots([k, m0 + s, -(wb + s * n / ep)])  # in X = N/P, coin
    x = [r.real for r in roots if abs(r.imag) < 1e-12 and r.real > 0]
    expected = [n / r for r in x if (n / r > ep) == (s < 0)]
    assert liq.liquidation_price == pytest.approx(expected[0], rel=1e-12)
    lp = liq.liquidation_price
    left = wb + s * n * (1 / ep - 1 / lp)
    assert left == pytest.approx((m0 + k * n / lp) * n / lp, rel=1e-10)
    assert liq.mmr == pytest.approx(m0 + k * n / lp, rel=1e-12)
    assert liq.method == "deribit-isolated"
    # the per-coin increase brings liquidation nearer than a flat 1 %
    flat = liquidation_price("okx", "inverse", side, q, cs, ep, leverage=lev, mmr=m0)
    assert abs(lp - ep) < abs(flat.liquidation_price - ep)


@pytest.mark.parametrize("lev", range(1, 11))
def test_short_rally_table_matches_closed_forms(lev: int) -> None:
    # docs/futures-math.md: linear (1 + 1/L)/(1 + MMR) − 1; inverse (1 − MMR)/(1 − 1/L) − 1
    lin = liquidation_price("binance", "linear", "short", 1, 1, 40_000, leverage=lev, mmr=0.005)
    inv = liquidation_price("binance", "inverse", "short", 10, 100, 40_000, leverage=lev,
                            mmr=0.005)
    assert lin.move_to_liquidation_pct == pytest.approx(
        short_rally_to_liquidation_pct("linear", lev, 0.005)
    )
    if lev == 1:
        assert math.isinf(inv.liquidation_price) and inv.never_liquidated
        assert math.isinf(short_rally_to_liquidation_pct("inverse", 1, 0.005))
    else:
        assert inv.move_to_liquidation_pct == pytest.approx(
            short_rally_to_liquidation_pct("inverse", lev, 0.005)
        )
        # docs/domain.md: the rally that liquidates a short is larger for inverse
        assert inv.move_to_liquidation_pct > lin.move_to_liquidation_pct


def test_short_rally_known_values() -> None:
    assert short_rally_to_liquidation_pct("linear", 2, 0.005) == pytest.approx(49.2537, abs=1e-4)
    assert short_rally_to_liquidation_pct("inverse", 2, 0.005) == pytest.approx(99.0)
    assert short_rally_to_liquidation_pct("inverse", 10, 0.005) == pytest.approx(10.5556,
                                                                                 abs=1e-4)


def test_long_at_1x_linear_is_never_liquidated() -> None:
    liq = liquidation_price("binance", "linear", "long", 1, 1, 100, leverage=1, mmr=0.005)
    assert liq.liquidation_price == 0.0 and liq.never_liquidated
    assert liq.move_to_liquidation_pct == -100.0


def test_impossible_input_is_rejected() -> None:
    with pytest.raises(InputError, match="leverage"):
        liquidation_price("binance", "linear", "long", 1, 1, 100, leverage=0, mmr=0.005)
    with pytest.raises(InputError, match="exactly one"):
        liquidation_price("binance", "linear", "long", 1, 1, 100, leverage=2,
                          wallet_balance=50, mmr=0.005)
    with pytest.raises(InputError, match="exactly one"):
        liquidation_price("binance", "linear", "long", 1, 1, 100, mmr=0.005)
    with pytest.raises(InputError, match="contracts"):
        liquidation_price("binance", "linear", "long", -1, 1, 100, leverage=2, mmr=0.005)
    with pytest.raises(InputError, match="mmr"):
        liquidation_price("binance", "linear", "long", 1, 1, 100, leverage=2)
    with pytest.raises(InputError, match="mmr"):
        liquidation_price("binance", "linear", "long", 1, 1, 100, leverage=2, mmr=1.5)
    with pytest.raises(InputError, match="exchange"):
        liquidation_price("kraken", "linear", "long", 1, 1, 100, leverage=2, mmr=0.005)
    # 250× with MMR 0.5 %: margin 0.4 % < maintenance 0.5 % at entry
    with pytest.raises(ImpossiblePositionError, match="below the maintenance margin"):
        liquidation_price("binance", "linear", "short", 1, 1, 100, leverage=250, mmr=0.005)
    with pytest.raises(ImpossiblePositionError, match="below the maintenance margin"):
        liquidation_price("bybit", "inverse", "long", 100, 1, 100, wallet_balance=1e-6,
                          mmr=0.005)
    with pytest.raises(InputError, match="largest tier"):
        liquidation_price("binance", "linear", "long", 20_000, 1, 50_000, leverage=1,
                          tiers=get_instrument("binance", "BTC/USDT:USDT").tiers)
    with pytest.raises(ImpossiblePositionError, match="wallet balance"):
        cross_liquidation_price("binance", "linear", "long", 1, 1, 100, wallet_balance=10,
                                mmr=0.005, other_maintenance_margin=20)


def test_cross_uses_wallet_minus_other_maintenance_plus_pnl() -> None:
    iso = liquidation_price("binance", "linear", "long", 1, 1, 10_000, wallet_balance=900,
                            mmr=0.004)
    cross = cross_liquidation_price("binance", "linear", "long", 1, 1, 10_000,
                                    wallet_balance=1_000, mmr=0.004,
                                    other_maintenance_margin=150, other_unrealised_pnl=50)
    assert cross.liquidation_price == pytest.approx(iso.liquidation_price)
    assert margin_left("linear", "long", 1, 1, 10_000, 900, cross.liquidation_price) == (
        pytest.approx(cross.maintenance_margin)
    )


def test_real_ccxt_binance_row_maintenance_margin() -> None:
    # Same raw ccxt Binance USDⓈ-M row as in test_pnl: notional 4 806.295 USDT at mark
    # 96 125.9, maintenanceMarginPercentage 0.004, maintenanceMargin 19.22518 — tier 1 of
    # the built-in BTCUSDT table. Exact to the printed decimals.
    tier = get_instrument("binance", "BTC/USDT:USDT").tier_for_notional(4806.295)
    assert tier.mmr == 0.004
    mm = maintenance_margin("linear", 0.05, 1, 96_125.9, tier.mmr, tier.maint_amount)
    assert mm == pytest.approx(19.22518, abs=1e-9)


# Binance USDⓈ-M FAQ worked example ("How to Calculate Liquidation Price of USDⓈ-M Futures
# Contracts"): wallet 1 535 443.01 USDT; BTCUSDT long 109.488 at 32 481.98 (mark
# 31 967.27, MMR 2.5 %, cum 16 300); ETHUSDT long 3 683.979 at 1 456.84 (mark 1 335.18,
# MMR 10 %, cum 135 365). Published results, rounded to 0.01 (tolerance 0.005): isolated
# 18 778.73 (BTC) and 1 114.78 (ETH); cross 26 316.89 (BTC) and 1 153.26 (ETH). The same
# numbers are the reference cases of freqtrade's tests/exchange/test_binance.py
# ("From calc example").
WB_FAQ = 1_535_443.01


def test_binance_usdm_faq_isolated_with_builtin_tiers() -> None:
    btc = liquidation_price("binance", "linear", "long", 109.488, 1, 32_481.98,
                            wallet_balance=WB_FAQ,
                            tiers=get_instrument("binance", "BTC/USDT:USDT").tiers)
    assert btc.liquidation_price == pytest.approx(18_778.73, abs=0.005)
    assert (btc.mmr, btc.maint_amount) == (0.025, 16_300)  # tier chosen at the liq. price
    eth = liquidation_price("binance", "linear", "long", 3_683.979, 1, 1_456.84,
                            wallet_balance=WB_FAQ,
                            tiers=get_instrument("binance", "ETH/USDT:USDT").tiers)
    assert eth.liquidation_price == pytest.approx(1_114.78, abs=0.005)
    assert (eth.mmr, eth.maint_amount) == (0.10, 135_365)


def test_binance_usdm_faq_cross() -> None:
    btc_q, btc_ep, btc_mark = 109.488, 32_481.98, 31_967.27
    eth_q, eth_ep, eth_mark = 3_683.979, 1_456.84, 1_335.18
    tmm_btc = maintenance_margin("linear", btc_q, 1, btc_mark, 0.025, 16_300)
    tmm_eth = maintenance_margin("linear", eth_q, 1, eth_mark, 0.10, 135_365)
    upnl_btc = btc_q * (btc_mark - btc_ep)
    upnl_eth = eth_q * (eth_mark - eth_ep)
    btc = cross_liquidation_price("binance", "linear", "long", btc_q, 1, btc_ep, WB_FAQ,
                                  mmr=0.025, maint_amount=16_300,
                                  other_maintenance_margin=tmm_eth,
                                  other_unrealised_pnl=upnl_eth)
    eth = cross_liquidation_price("binance", "linear", "long", eth_q, 1, eth_ep, WB_FAQ,
                                  mmr=0.10, maint_amount=135_365,
                                  other_maintenance_margin=tmm_btc,
                                  other_unrealised_pnl=upnl_btc)
    assert btc.liquidation_price == pytest.approx(26_316.89, abs=0.005)
    assert eth.liquidation_price == pytest.approx(1_153.26, abs=0.005)
    assert btc.method == "binance-usdm-cross"
