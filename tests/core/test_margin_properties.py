"""Hypothesis properties of the liquidation formulas (core/margin.py), every exchange."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from althedge.core.instruments import BUILTIN_INSTRUMENTS, ContractType, Instrument
from althedge.core.margin import liquidation_price, maintenance_margin, margin_left

EXCHANGES = ("binance", "bybit", "okx", "deribit")
PERPS = [i for i in BUILTIN_INSTRUMENTS if i.is_perpetual]

exchange_st = st.sampled_from(EXCHANGES)
ctype_st = st.sampled_from(list(ContractType))
side_st = st.sampled_from(["long", "short"])
price_st = st.floats(min_value=100.0, max_value=200_000.0)
contracts_st = st.floats(min_value=1.0, max_value=1_000.0)
mmr_st = st.floats(min_value=0.001, max_value=0.05)


def _max_lev(mmr: float) -> float:
    return 0.95 / mmr  # keeps the initial margin above maintenance at entry


@given(ex=exchange_st, ct=ctype_st, side=side_st, q=contracts_st, ep=price_st, mmr=mmr_st,
       frac=st.floats(0.0, 1.0))
def test_long_below_short_above_and_margin_left_equals_maintenance(
    ex: str, ct: ContractType, side: str, q: float, ep: float, mmr: float, frac: float
) -> None:
    lev = 1.0 + frac * (_max_lev(mmr) - 1.0)
    liq = liquidation_price(ex, ct, side, q, 10.0, ep, leverage=lev, mmr=mmr)
    lp = liq.liquidation_price
    if side == "long":
        assert lp < ep
    else:
        assert lp > ep
    # bankruptcy is beyond liquidation
    if side == "long":
        assert liq.bankruptcy_price <= lp or lp == 0.0
    else:
        assert liq.bankruptcy_price >= lp
    if 0 < lp < math.inf:
        left = margin_left(ct, side, q, 10.0, ep, liq.wallet_balance, lp)
        assert left == pytest.approx(liq.maintenance_margin, rel=1e-7, abs=1e-9)
        if liq.method != "bybit-usdt-isolated":  # Bybit USDT: MM on the entry value
            assert left == pytest.approx(
                maintenance_margin(ct, q, 10.0, lp, mmr, 0.0), rel=1e-7, abs=1e-9
            )


@settings(max_examples=60)
@given(inst=st.sampled_from(PERPS), side=side_st, ep=price_st,
       notional=st.floats(min_value=100.0, max_value=2_000_000.0), frac=st.floats(0.0, 1.0))
def test_with_builtin_tiers_margin_left_equals_maintenance_of_the_chosen_tier(
    inst: Instrument, side: str, ep: float, notional: float, frac: float
) -> None:
    q = notional / (ep * inst.contract_size) if not inst.is_inverse else (
        notional / inst.contract_size)
    lev = 1.0 + frac * (0.9 / inst.tiers[0].mmr - 1.0)
    entry_value = notional if not inst.is_inverse else notional / ep
    assume(entry_value <= inst.tiers[-1].cap)  # beyond the table the exchange refuses it
    tier = next(t for t in inst.tiers if entry_value <= t.cap)
    size_coin = q * inst.contract_size / (ep if inst.is_inverse else 1.0)
    rate_at_entry = tier.mmr + tier.mmr_per_coin * size_coin  # Deribit grows with size
    assume(1.0 / lev > rate_at_entry * 1.05)
    liq = liquidation_price(inst.exchange, inst.contract_type, side, q, inst.contract_size, ep,
                            leverage=lev, tiers=inst.tiers)
    lp = liq.liquidation_price
    assert (lp < ep) if side == "long" else (lp > ep)
    if 0 < lp < math.inf:
        left = margin_left(inst.contract_type, side, q, inst.contract_size, ep,
                           liq.wallet_balance, lp)
        assert left == pytest.approx(liq.maintenance_margin, rel=1e-7, abs=1e-9)
        if not liq.method.startswith("bybit"):
            # Binance/generic: the tier is the one holding the notional at the liq. price
            n = q * inst.contract_size
            at_lp = n * lp if not inst.is_inverse else n / lp
            chosen = inst.tiers[liq.tier_index or 0]
            assert chosen.floor * (1 - 1e-9) <= at_lp or liq.tier_index == 0
            assert at_lp <= chosen.cap * (1 + 1e-9) or chosen is inst.tiers[-1]


@given(inst=st.sampled_from([i for i in BUILTIN_INSTRUMENTS if i.is_inverse]), ep=price_st,
       usd=st.floats(min_value=10.0, max_value=5_000_000.0))
def test_one_x_short_inverse_is_never_liquidated(inst: Instrument, ep: float, usd: float) -> None:
    q = max(1.0, round(usd / inst.contract_size))
    assume(q * inst.contract_size / ep <= inst.tiers[-1].cap)
    liq = liquidation_price(inst.exchange, "inverse", "short", q, inst.contract_size, ep,
                            leverage=1, tiers=inst.tiers)
    assert math.isinf(liq.liquidation_price) and liq.never_liquidated
    assert math.isinf(liq.bankruptcy_price)


@given(ex=exchange_st, ct=ctype_st, side=side_st, q=contracts_st, ep=price_st, mmr=mmr_st,
       a=st.floats(0.0, 1.0), b=st.floats(0.0, 1.0), tiered=st.booleans())
def test_raising_leverage_never_moves_liquidation_further_away(
    ex: str, ct: ContractType, side: str, q: float, ep: float, mmr: float, a: float, b: float,
    tiered: bool,
) -> None:
    lo, hi = sorted((a, b))
    if tiered:
        found = [i for i in PERPS if i.exchange == ex and i.contract_type == ct]
        assume(found)  # Deribit has no linear contract in the table
        inst = found[0]
        mmr_arg, tiers, cs = None, inst.tiers, inst.contract_size
        top = 0.9 / max(t.mmr for t in inst.tiers[:3])
        q = min(q, 5.0) if ct == ContractType.LINEAR else q
    else:
        mmr_arg, tiers, cs, top = mmr, None, 10.0, _max_lev(mmr)
    lev_lo = 1.0 + lo * (top - 1.0)
    lev_hi = 1.0 + hi * (top - 1.0)
    try:
        l_lo = liquidation_price(ex, ct, side, q, cs, ep, leverage=lev_lo, mmr=mmr_arg,
                                 tiers=tiers).liquidation_price
        l_hi = liquidation_price(ex, ct, side, q, cs, ep, leverage=lev_hi, mmr=mmr_arg,
                                 tiers=tiers).liquidation_price
    except Exception as exc:  # only "already below maintenance" may be refused
        assert type(exc).__name__ == "ImpossiblePositionError"
        return
    if side == "long":
        assert l_hi >= l_lo * (1 - 1e-12)
    else:
        assert l_hi <= l_lo * (1 + 1e-12) or math.isinf(l_lo)
