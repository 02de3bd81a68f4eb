"""Value and PnL of linear and inverse positions (core/pnl.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from althedge.core.instruments import ContractType, Side
from althedge.core.pnl import (
    Position,
    average_entry_price,
    inverse_pnl_coin,
    inverse_pnl_usd,
    linear_pnl_usd,
    pnl_usd,
    position_value_coin,
    position_value_usd,
    roe_pct,
)
from althedge.errors import InputError

prices = st.floats(min_value=100.0, max_value=1_000_000.0)
sizes = st.floats(min_value=1.0, max_value=1_000_000.0)


# --- published examples -------------------------------------------------------------


def test_bybit_usdt_pnl_examples() -> None:
    # Bybit help centre "P&L calculations (USDT Contract)": long 0.2 BTC at 7 000, last price
    # 7 500 → +100 USDT; short 0.4 BTC at 6 000, last 5 000 → +400 USDT. Exact.
    assert linear_pnl_usd(Side.LONG, 0.2, 1, 7000, 7500) == pytest.approx(100.0, abs=1e-9)
    assert linear_pnl_usd("short", 0.4, 1, 6000, 5000) == pytest.approx(400.0, abs=1e-9)
    # Same page: 0.5 @ 5 000 then 0.3 @ 6 000 → average entry 4 300 / 0.8 = 5 375. Exact.
    assert average_entry_price("linear", [0.5, 0.3], [5000, 6000]) == pytest.approx(5375.0)


def test_bybit_inverse_pnl_examples() -> None:
    # Bybit help centre "P&L calculations (Inverse Contracts)": long 1 000 BTCUSD (1 USD each)
    # at 5 000, last price 5 500 → 0.01819 BTC. The page rounds 1/5000 − 1/5500 to
    # 0.00001819 (1 satoshi) before × 1 000, so the tolerance is 1 000 × 1e-8 = 1e-5 BTC.
    assert inverse_pnl_coin(Side.LONG, 1000, 1, 5000, 5500) == pytest.approx(0.01819, abs=1e-5)
    # exact value of the published formula
    assert inverse_pnl_coin(Side.LONG, 1000, 1, 5000, 5500) == pytest.approx(1000 / 55_000)
    # Same page: 1 000 @ 5 000 then 2 000 @ 6 000 → AEP 3 000 / 0.53333334 = 5 625.00 (harmonic).
    assert average_entry_price("inverse", [1000, 2000], [5000, 6000]) == pytest.approx(5625.0)


def test_seed_inverse_example_corrected() -> None:
    # docs/domain.md: 100 ETH falling 3 000 → 2 500 loses 50 000 USD; the full hedge is
    # 300 000 USD of inverse ETH = 30 000 contracts of 10 USD, which gains 50 000 USD.
    spot_loss = 100 * (2500 - 3000)
    hedge = pnl_usd("inverse", "short", 30_000, 10, 3000, 2500)
    assert spot_loss == -50_000
    assert hedge == pytest.approx(50_000.0, rel=1e-12)
    # and the coin PnL behind it: 300 000·(1/2500 − 1/3000) = 20 ETH
    assert inverse_pnl_coin("short", 30_000, 10, 3000, 2500) == pytest.approx(20.0)


def test_position_values() -> None:
    # Binance COIN-M FAQ: 100 BTCUSD contracts (100 USD) at mark 25 000 → 0.4 BTC notional.
    assert position_value_coin("inverse", 100, 100, 25_000) == pytest.approx(0.4)
    assert position_value_usd("inverse", 100, 100, 25_000) == 10_000
    assert position_value_usd("linear", 2, 0.01, 50_000) == pytest.approx(1_000)
    assert position_value_coin("linear", 2, 0.01, 50_000) == pytest.approx(0.02)
    out = position_value_usd("linear", np.array([1.0, 2.0]), 1.0, np.array([10.0, 20.0]))
    assert isinstance(out, np.ndarray) and out.tolist() == [10.0, 40.0]


def test_roe_binance_margin_page_forms() -> None:
    # Binance FAQ "How to Calculate the Margin Requirement": USDⓈ-M ROE = side·(P/EP − 1)·L,
    # COIN-M ROE = side·(1 − EP/P)·L.
    assert roe_pct("linear", "long", 10_000, 11_000, 10) == pytest.approx(100.0)
    assert roe_pct("inverse", "short", 10_000, 8_000, 5) == pytest.approx(125.0)
    with pytest.raises(InputError, match="leverage"):
        roe_pct("linear", "long", 1, 2, 0)


def test_arrays_broadcast() -> None:
    exit_prices = np.array([40_000.0, 50_000.0, 60_000.0])
    out = pnl_usd("linear", Side.SHORT, 2, 1.0, 50_000, exit_prices)
    assert out.tolist() == [20_000.0, 0.0, -20_000.0]
    coin = inverse_pnl_coin(Side.LONG, 100, 100, 50_000, exit_prices)
    assert coin.shape == (3,) and coin[1] == 0.0


def test_bad_input_is_an_input_error() -> None:
    with pytest.raises(InputError, match="exit price"):
        inverse_pnl_coin("long", 1, 1, 100, 0)
    with pytest.raises(InputError, match="side"):
        linear_pnl_usd("up", 1, 1, 100, 110)
    with pytest.raises(InputError, match="contracts"):
        Position(ContractType.LINEAR, Side.LONG, -1, 1, 100)
    with pytest.raises(InputError, match="cannot reduce"):
        Position(ContractType.LINEAR, Side.LONG, 1, 1, 100).reduce(2, 100)
    with pytest.raises(InputError, match="fills"):
        average_entry_price("inverse", [1, 2], [100])


# --- Position -----------------------------------------------------------------------


def test_position_add_reduce_realises_in_settlement_currency() -> None:
    pos = Position(ContractType.INVERSE, Side.LONG, 1000, 1, 5000).add(2000, 6000)
    assert pos.entry_price == pytest.approx(5625.0)  # Bybit AEP example above
    half = pos.reduce(1500, 7500)
    assert half.contracts == 1500 and half.entry_price == pos.entry_price
    assert half.realised_pnl == pytest.approx(1500 * (1 / 5625 - 1 / 7500))
    closed = half.reduce(1500, 7500)
    assert closed.contracts == 0
    # the whole round trip equals the sum of the two fills' own PnL (harmonic entry)
    direct = inverse_pnl_coin("long", 1000, 1, 5000, 7500) + inverse_pnl_coin(
        "long", 2000, 1, 6000, 7500
    )
    assert closed.realised_pnl == pytest.approx(direct, rel=1e-12)
    assert closed.unrealised_pnl(1.0) == 0.0


def test_position_linear_short() -> None:
    pos = Position("linear", "short", 0.4, 1.0, 6000)  # type: ignore[arg-type]
    assert pos.unrealised_pnl(5000) == pytest.approx(400.0)
    assert pos.add(0, 1).contracts == 0.4
    assert Position("linear", "short", 0, 1.0, 0).add(1, 10).entry_price == 10  # type: ignore[arg-type]


# --- properties ---------------------------------------------------------------------


@given(q=sizes, cs=st.sampled_from([1.0, 10.0, 100.0]), ep=prices, p=prices)
def test_inverse_long_and_short_pnl_are_opposite(q: float, cs: float, ep: float, p: float) -> None:
    long = inverse_pnl_coin(Side.LONG, q, cs, ep, p)
    short = inverse_pnl_coin(Side.SHORT, q, cs, ep, p)
    assert long == -short
    assert inverse_pnl_usd(Side.LONG, q, cs, ep, p) == -inverse_pnl_usd(Side.SHORT, q, cs, ep, p)
    # a short inverse position's USD PnL is linear in P: Q·CS·(1 − P/EP)
    assert inverse_pnl_usd(Side.SHORT, q, cs, ep, p) == pytest.approx(
        q * cs * (1 - p / ep), rel=1e-9, abs=1e-9
    )


@given(
    fills=st.lists(st.tuples(sizes, prices), min_size=1, max_size=6),
    p=prices,
    ctype=st.sampled_from(list(ContractType)),
)
def test_average_entry_makes_pnl_additive(
    fills: list[tuple[float, float]], p: float, ctype: ContractType
) -> None:
    qs = [f[0] for f in fills]
    ps = [f[1] for f in fills]
    ep = average_entry_price(ctype, qs, ps)
    assert min(ps) * (1 - 1e-12) <= ep <= max(ps) * (1 + 1e-12)
    total = pnl_usd(ctype, Side.LONG, sum(qs), 1.0, ep, p)
    parts = sum(pnl_usd(ctype, Side.LONG, q, 1.0, e, p) for q, e in fills)
    scale = sum(qs) * max(*ps, p)
    assert total == pytest.approx(parts, rel=1e-8, abs=1e-12 * scale)


def test_real_ccxt_binance_position_row() -> None:
    # A raw ccxt position row from Binance USDⓈ-M (BTC/USDT:USDT, 2025-05-03T18:48:24Z),
    # quoted in a public project's source comment (repository not identified by our search):
    # contracts 0.05, contractSize 1, entryPrice 96117, markPrice 96125.9 →
    # unrealizedPnl 0.445, notional 4806.295. Exact to the printed decimals.
    assert linear_pnl_usd("long", 0.05, 1, 96_117, 96_125.9) == pytest.approx(0.445, abs=1e-9)
    assert position_value_usd("linear", 0.05, 1, 96_125.9) == pytest.approx(4806.295, abs=1e-9)
