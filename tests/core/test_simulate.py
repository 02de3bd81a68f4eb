"""Walk-forward hedge simulation: exact identities, engine agreement, margin on the path."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from althedge.core.instruments import ContractType, Side
from althedge.core.margin import liquidation_price
from althedge.core.simulate import LegSpec, simulate_leg
from althedge.core.sizing import contracts_exact, round_contracts
from althedge.errors import InputError


def _paths(seed: int, t: int = 400, n: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    r_h = rng.normal(0.0, 0.03, t)
    r_h[0] = 0.0
    price = 30_000.0 * np.cumprod(1 + r_h)
    r_p = 1.5 * r_h[:, None] + rng.normal(0.0, 0.02, (t, n))
    r_p[0] = 0.0
    value = 50_000.0 * np.cumprod(1 + r_p, axis=0)
    beta = np.abs(rng.normal(1.5, 0.4, (t, n)))
    return value, price, beta


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), cs=st.sampled_from([1.0, 0.01, 0.001]))
def test_linear_hedged_return_is_rp_minus_lagged_beta_rh(seed: int, cs: float) -> None:
    """Zero costs, fractional contracts, every-bar rebalance: r_hedged = r_p − β_{t−1}·r_h."""
    value, price, beta = _paths(seed)
    res = simulate_leg(LegSpec(contract_size=cs), value, beta, price)
    hedged = (np.diff(value, axis=0) + res.net_pnl_usd[1:]) / value[:-1]
    # independent numpy computation of the identity
    r_p = value[1:] / value[:-1] - 1
    r_h = price[1:] / price[:-1] - 1
    expected = r_p - beta[:-1] * r_h[:, None]
    np.testing.assert_allclose(hedged, expected, rtol=0, atol=1e-12)


def test_identity_holds_in_the_walk_engine_too() -> None:
    value, price, beta = _paths(7)
    res = simulate_leg(LegSpec(), value, beta, price, force_loop=True)
    hedged = (np.diff(value, axis=0) + res.net_pnl_usd[1:]) / value[:-1]
    expected = (value[1:] / value[:-1] - 1) - beta[:-1] * (price[1:] / price[:-1] - 1)[:, None]
    np.testing.assert_allclose(hedged, expected, rtol=0, atol=1e-12)
    assert res.meta["engine"] == "walk"


@pytest.mark.parametrize("rounding", ["none", "down", "nearest", "up"])
def test_closed_form_and_walk_agree_with_costs_funding_and_weekly_rebalancing(
    rounding: str,
) -> None:
    value, price, beta = _paths(11)
    t = price.size
    due = np.arange(t) % 7 == 0
    rate = np.full(t, 0.0003)
    spec = LegSpec(contract_size=0.01, rounding=rounding, lot_step=1.0, min_contracts=1.0,
                   fee_rate=0.0005, slippage_bps=2.0)
    a = simulate_leg(spec, value, beta, price, funding_rate=rate, rebalance_due=due)
    b = simulate_leg(spec, value, beta, price, funding_rate=rate, rebalance_due=due,
                     force_loop=True)
    assert a.meta["engine"] == "closed-form" and b.meta["engine"] == "walk"
    for name in ("contracts", "hedge_pnl_usd", "funding_usd", "fees_usd", "slippage_usd",
                 "traded_usd"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-12, atol=1e-6)
    np.testing.assert_array_equal(a.rebalanced, b.rebalanced)
    # held constant between due bars, traded only on due bars
    assert not a.rebalanced[~due].any()
    if rounding != "none":
        np.testing.assert_array_equal(a.contracts, np.round(a.contracts))


def test_costs_are_charged_on_traded_notional() -> None:
    price = np.array([100.0, 110.0, 100.0])
    value = np.array([1000.0, 1000.0, 1000.0])
    beta = np.array([1.0, 2.0, 2.0])
    res = simulate_leg(LegSpec(fee_rate=0.001, slippage_bps=10.0), value, beta, price)
    # bar 0: short 10 coin (1000 USD); bar 1: 2000/110 = 18.18 coin, traded 8.18 × 110 = 900;
    # bar 2: 2000/100 = 20 coin, traded 1.818 × 100 = 181.8 USD
    traded = [1000.0, 900.0, (20.0 - 2000.0 / 110.0) * 100.0]
    np.testing.assert_allclose(res.traded_usd[:, 0], traded, rtol=1e-12)
    np.testing.assert_allclose(res.fees_usd[:, 0], np.array(traded) * 0.001, rtol=1e-12)
    np.testing.assert_allclose(res.slippage_usd[:, 0], np.array(traded) * 0.001, rtol=1e-12)
    # bar 1 PnL of the 10-coin short: −10·(110 − 100) = −100
    assert res.hedge_pnl_usd[1, 0] == pytest.approx(-100.0)


def test_funding_positive_rate_pays_the_short() -> None:
    price = np.full(4, 20_000.0)
    value = np.full(4, 40_000.0)
    res = simulate_leg(LegSpec(), value, np.ones(4), price, funding_rate=np.full(4, 0.0001))
    # 2 BTC short × 20,000 × 0.0001 = 4 USD received per bar after the first
    np.testing.assert_allclose(res.funding_usd[:, 0], [0.0, 4.0, 4.0, 4.0])


def test_threshold_rebalances_only_on_drift() -> None:
    price = np.array([100.0, 100.0, 100.0, 100.0])
    value = np.array([1000.0, 1050.0, 1150.0, 1160.0])
    spec = LegSpec(threshold=0.10)
    res = simulate_leg(spec, value, np.ones(4), price)
    # 1000 hedged; 1050 is 4.8 % off → hold; 1150 is 13 % off → trade; 1160 is 0.9 % off
    assert res.rebalanced[:, 0].tolist() == [True, False, True, False]
    np.testing.assert_allclose(res.contracts[:, 0], [10.0, 10.0, 11.5, 11.5])


def test_min_trade_skips_small_adjustments() -> None:
    price = np.full(3, 100.0)
    value = np.array([1000.0, 1020.0, 1300.0])
    res = simulate_leg(LegSpec(min_trade_usd=50.0), value, np.ones(3), price)
    assert res.rebalanced[:, 0].tolist() == [True, False, True]


def test_liquidation_bar_matches_core_liquidation_price() -> None:
    """The walk liquidates on the first close at/above the exchange's liquidation price."""
    ep = 50_000.0
    lev = 5.0
    price = np.array([ep, 52_000, 55_000, 58_000, 59_750, 60_500, 61_000, 62_000])
    value = np.full(price.size, 100_000.0)
    beta = np.array([1.0] + [np.nan] * (price.size - 1))  # open once, then hold
    due = np.zeros(price.size, dtype=bool)
    due[0] = True
    spec = LegSpec(leverage=lev, mmr=0.004)
    res = simulate_leg(spec, value, beta, price, rebalance_due=due)
    q = 100_000.0 / ep
    liq = liquidation_price("binance", "linear", Side.SHORT, q, 1.0, ep, leverage=lev, mmr=0.004)
    first = int(np.argmax(price >= liq.liquidation_price))
    assert res.liquidated[:, 0].tolist() == [i == first for i in range(price.size)]
    assert res.contracts[first, 0] == 0.0 and res.contracts[first - 1, 0] == pytest.approx(q)
    # the whole initial margin (20,000 USD) is gone: account is 0 after the liquidation
    assert res.deposits_usd[0, 0] == pytest.approx(20_000.0)
    assert res.account_usd[first, 0] == pytest.approx(0.0)
    assert res.net_pnl_usd[: first + 1, 0].sum() == pytest.approx(-20_000.0)
    # the margin-call warning came before the liquidation
    assert res.margin_call[:first, 0].any()


def test_top_up_prevents_the_liquidation() -> None:
    price = np.array([50_000.0, 55_000, 58_000, 60_000, 62_000, 64_000])
    value = np.full(price.size, 100_000.0)
    beta = np.array([1.0] + [np.nan] * (price.size - 1))
    due = np.zeros(price.size, dtype=bool)
    due[0] = True
    plain = simulate_leg(LegSpec(leverage=5.0), value, beta, price, rebalance_due=due)
    topped = simulate_leg(LegSpec(leverage=5.0, top_up=True), value, beta, price,
                          rebalance_due=due)
    assert plain.liquidated.any()
    assert not topped.liquidated.any()
    assert topped.deposits_usd[1:].sum() > 0


def test_inverse_hedge_tracks_the_coin_balance_delta() -> None:
    """Inverse short with coin collateral: the account's USD delta is −H after sizing."""
    price = np.array([50_000.0, 45_000.0, 40_000.0, 44_000.0])
    value = np.full(price.size, 100_000.0)
    spec = LegSpec(contract_type=ContractType.INVERSE, contract_size=100.0, leverage=2.0)
    res = simulate_leg(spec, value, np.ones(price.size), price)
    # hedged delta (short contracts' USD value minus the coin balance's) equals H each bar
    np.testing.assert_allclose(res.hedged_notional_usd[:, 0], 100_000.0, rtol=1e-9)
    # account USD value moves with −(value of the hedge) over a bar: ≈ −ΔP/P·H
    r_h = price[1:] / price[:-1] - 1
    np.testing.assert_allclose(res.net_pnl_usd[1:, 0], -100_000.0 * r_h, rtol=1e-9)
    # inverse at 2x with coin collateral: short notional N = H + C·P = 2·C·P
    coll = res.account_usd[0, 0]
    assert res.contracts[0, 0] * 100.0 == pytest.approx(100_000.0 + coll)
    assert res.contracts[0, 0] * 100.0 / coll == pytest.approx(2.0)


def test_dated_roll_closes_and_reopens_without_fake_pnl() -> None:
    spot = np.full(5, 100.0)
    fut_exit = np.array([102.0, 101.0, 100.0, 102.0, 101.5])  # expiry converges at bar 2
    fut_entry = np.array([102.0, 101.0, 102.5, 102.0, 101.5])  # roll into the next at bar 2
    value = np.full(5, 1000.0)
    spec = LegSpec(fee_rate=0.001)
    res = simulate_leg(spec, value, np.ones(5), fut_exit, entry_price_usd=fut_entry,
                       spot_usd=spot, rebalance_due=np.array([True, False, False, False, False]))
    q = 1000.0 / 102.0
    np.testing.assert_allclose(res.contracts[:, 0], q)
    # the short earns the basis convergence 102 → 100 and nothing from the roll jump
    assert res.hedge_pnl_usd[1:3, 0].sum() == pytest.approx(q * 2.0)
    assert res.hedge_pnl_usd[3, 0] == pytest.approx(q * 0.5)
    assert res.fees_usd[2, 0] == pytest.approx(2 * q * 102.5 * 0.001)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    rounding=st.sampled_from(["down", "up", "nearest", "none"]),
    step=st.sampled_from([1.0, 0.1, 0.001, 5.0]),
    minimum=st.sampled_from([0.0, 1.0, 0.001, 0.3]),
    cs=st.sampled_from([1.0, 0.01, 0.001]),
    force_loop=st.booleans(),
)
def test_simulated_contracts_are_core_sizing_on_every_decision_bar(
    seed: int, rounding: str, step: float, minimum: float, cs: float, force_loop: bool
) -> None:
    """Both engines size with core.sizing: Q = round_contracts(contracts_exact(β·V, P, CS))."""
    value, price, beta = _paths(seed, t=60)
    due = np.arange(60) % 7 == 0
    spec = LegSpec(contract_size=cs, rounding=rounding, lot_step=step, min_contracts=minimum)
    res = simulate_leg(spec, value, beta, price, rebalance_due=due, force_loop=force_loop)
    for t in np.flatnonzero(due):
        for j in range(value.shape[1]):
            exact = contracts_exact("linear", float(beta[t, j] * value[t, j]), price[t], cs)
            want = round_contracts(exact, rounding, step, minimum)
            assert res.contracts[t, j] == want  # bit for bit: one formula, one place


def test_bad_inputs_raise_one_line_errors() -> None:
    with pytest.raises(InputError, match="leverage"):
        LegSpec(contract_type="inverse", leverage=1.0)
    with pytest.raises(InputError, match="price_usd"):
        simulate_leg(LegSpec(), np.ones(3), np.ones(3), np.array([1.0, math.nan, 1.0]))
    with pytest.raises(InputError, match="negative"):
        simulate_leg(LegSpec(), np.ones(3), -np.ones(3), np.ones(3))


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    ct=st.sampled_from(["linear", "inverse"]),
    lev=st.sampled_from([None, 2.0, 5.0, 20.0]),
    top_up=st.booleans(),
    threshold=st.sampled_from([None, 0.05, 0.2]),
    rounding=st.sampled_from(["none", "down", "nearest"]),
)
def test_walk_bookkeeping_identity(
    seed: int, ct: str, lev: float | None, top_up: bool, threshold: float | None, rounding: str
) -> None:
    """Account value changes by exactly the net hedge PnL plus deposits, every bar."""
    value, price, beta = _paths(seed, t=150)
    cs = 0.001 if ct == "linear" else 100.0
    spec = LegSpec(contract_type=ct, contract_size=cs, rounding=rounding, lot_step=1.0,
                   fee_rate=0.0005, slippage_bps=3.0, threshold=threshold, leverage=lev,
                   top_up=top_up)
    due = np.arange(price.size) % 5 == 0
    res = simulate_leg(spec, value, beta, price, funding_rate=np.full(price.size, 2e-4),
                       rebalance_due=due, force_loop=True)
    d_account = np.diff(res.account_usd, axis=0)
    np.testing.assert_allclose(d_account, res.net_pnl_usd[1:] + res.deposits_usd[1:],
                               rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(res.account_usd[0], res.net_pnl_usd[0] + res.deposits_usd[0],
                               rtol=1e-9, atol=1e-6)
    assert (res.contracts >= 0).all() and (res.fees_usd >= 0).all()
    assert not res.rebalanced[~due].any()
    assert (res.liquidated.sum(axis=0) <= due.sum()).all()
    if lev is None:
        assert not res.liquidated.any() and res.deposits_usd.sum() == 0
