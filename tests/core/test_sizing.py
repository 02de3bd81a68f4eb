"""Hedge sizing: the seed's worked examples, rounding edge cases, and properties.

Sources: the seed article's step 2–3 example (V 50,000 USD, β 1.8, BTC 65,000 USD,
1 BTC per contract → H 90,000, Q ≈ 1.38, 1 rounding down, 2 rounding up) and its inverse
ETH example as corrected in docs/domain.md (100 ETH at 3,000 USD → 300,000 USD of
inverse ETH contracts, 30,000 contracts of 10 USD on Binance COIN-M, where ETH
contracts are 10 USD each).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from althedge.core.instruments import ContractType
from althedge.core.sizing import (
    Rounding,
    contracts_exact,
    hedge_notional_usd,
    round_contracts,
    size_hedge,
)
from althedge.errors import InputError


def test_seed_worked_example_linear() -> None:
    down = size_hedge(50_000, 1.8, 65_000, "linear", 1.0, rounding="down")
    assert down.notional_usd == 90_000.0
    assert down.contracts_exact == pytest.approx(90_000 / 65_000, rel=1e-15)
    assert f"{down.contracts_exact:.2f}" == "1.38"
    assert down.contracts == 1.0
    assert down.residual_usd == pytest.approx(25_000.0)  # 90,000 − 1 × 65,000
    assert down.hedge_ratio_achieved == pytest.approx(65_000 / 90_000)
    up = size_hedge(50_000, 1.8, 65_000, ContractType.LINEAR, 1.0, rounding=Rounding.UP)
    assert up.contracts == 2.0
    assert up.residual_usd == pytest.approx(-40_000.0)  # over-hedged by 40,000 USD
    nearest = size_hedge(50_000, 1.8, 65_000, "linear", 1.0, rounding="nearest")
    assert nearest.contracts == 1.0
    exact = size_hedge(50_000, 1.8, 65_000, "linear", 1.0, rounding="none")
    assert exact.contracts == exact.contracts_exact
    assert exact.residual_usd == pytest.approx(0.0, abs=1e-9)
    assert exact.hedge_ratio_achieved == pytest.approx(1.0)


def test_seed_inverse_eth_example_as_corrected() -> None:
    # 100 ETH at 3,000 USD = 300,000 USD; beta 1 to ETH; Binance COIN-M ETH: 10 USD/contract.
    size = size_hedge(100 * 3_000, 1.0, 3_000, "inverse", 10.0)
    assert size.notional_usd == 300_000.0
    assert size.contracts_exact == 30_000.0
    assert size.contracts == 30_000.0
    assert size.residual_usd == 0.0
    assert size.hedge_ratio_achieved == 1.0


def test_inverse_with_coin_collateral_hedges_the_collateral_too() -> None:
    # domain.md: N = H + C·P; 2 BTC of collateral at 60,000 add 120,000 USD of delta.
    q = contracts_exact("inverse", 90_000, 60_000, 100.0, collateral_coin=2.0)
    assert q == pytest.approx((90_000 + 2 * 60_000) / 100)
    size = size_hedge(50_000, 1.8, 60_000, "inverse", 100.0, collateral_coin=2.0)
    assert size.contracts == 2_100.0
    assert size.hedged_notional_usd == pytest.approx(90_000.0)
    assert size.hedge_ratio_achieved == pytest.approx(1.0)
    # a 1x short inverse (C = N/P) is a synthetic dollar: the exact short is 2·H/CS
    assert contracts_exact("inverse", 0.0, 60_000, 100.0, collateral_coin=1.5) == 900.0


def test_inverse_without_collateral_ignores_price() -> None:
    assert contracts_exact("inverse", 90_000, 1.0, 100.0) == 900.0
    assert contracts_exact("inverse", 90_000, 1e6, 100.0) == 900.0


@pytest.mark.parametrize(
    ("exact", "step", "expected_down", "expected_up", "expected_nearest"),
    [
        (0.3, 0.1, 0.3, 0.3, 0.3),  # 0.3/0.1 = 2.9999999999999996 in binary
        (0.7, 0.1, 0.7, 0.7, 0.7),
        (1.0, 0.001, 1.0, 1.0, 1.0),
        (0.009, 0.003, 0.009, 0.009, 0.009),
        (2.0, 1.0, 2.0, 2.0, 2.0),
        (0.35, 0.1, 0.3, 0.4, 0.4),  # half up
        (1.38, 1.0, 1.0, 2.0, 1.0),
    ],
)
def test_rounding_exactly_on_a_step_and_between(
    exact: float, step: float, expected_down: float, expected_up: float, expected_nearest: float
) -> None:
    assert round_contracts(exact, "down", step) == expected_down
    assert round_contracts(exact, "up", step) == expected_up
    assert round_contracts(exact, "nearest", step) == expected_nearest


def test_rounding_result_has_no_binary_noise() -> None:
    assert round_contracts(0.3, "up", 0.1) == 0.3  # not 0.30000000000000004
    assert repr(round_contracts(0.31, "down", 0.1)) == "0.3"


def test_below_minimum() -> None:
    # down: below the minimum → no position, and size_hedge reports it
    assert round_contracts(0.0015, "down", 0.001, 0.002) == 0.0
    assert round_contracts(0.0015, "up", 0.001, 0.002) == 0.002
    assert round_contracts(0.0015, "nearest", 0.001, 0.002) == 0.002  # nearer 0.002 than 0
    assert round_contracts(0.0009, "nearest", 0.001, 0.002) == 0.0  # nearer 0 than 0.002
    assert round_contracts(0.0, "up", 0.001, 0.002) == 0.0  # nothing to hedge stays 0
    size = size_hedge(100, 1.0, 65_000, "linear", 1.0, lot_step=0.001, min_contracts=0.002)
    assert size.contracts == 0.0
    assert size.below_minimum is True
    assert size.residual_usd == pytest.approx(100.0)
    assert size.hedge_ratio_achieved == 0.0
    # exactly on the minimum is allowed
    assert round_contracts(0.002, "down", 0.001, 0.002) == 0.002
    # a minimum that is not a multiple of the step is rounded up to one
    assert round_contracts(0.5, "up", 0.2, 0.5) == 0.6


def test_zero_beta_or_value_is_no_hedge() -> None:
    size = size_hedge(0.0, 1.8, 65_000, "linear", 1.0)
    assert size.contracts == 0.0 and size.notional_usd == 0.0
    assert math.isnan(size.hedge_ratio_achieved)
    assert size.below_minimum is False


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"value_usd": -1.0}, "value_usd"),
        ({"beta": -0.5}, "beta"),
        ({"price_usd": 0.0}, "price_usd"),
        ({"price_usd": -3.0}, "price_usd"),
        ({"contract_size": 0.0}, "contract_size"),
        ({"value_usd": math.nan}, "value_usd"),
        ({"rounding": "sideways"}, "rounding"),
        ({"contract_type": "quanto"}, "contract"),
        ({"lot_step": 0.0}, "lot_step"),
        ({"collateral_coin": 1.0}, "collateral"),  # coin collateral on a linear contract
    ],
)
def test_bad_input_names_the_field(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {
        "value_usd": 50_000.0,
        "beta": 1.8,
        "price_usd": 65_000.0,
        "contract_type": "linear",
        "contract_size": 1.0,
    }
    args.update(kwargs)
    with pytest.raises(InputError, match=f"^{field}"):
        size_hedge(**args)  # type: ignore[arg-type]


def test_hedge_notional() -> None:
    assert hedge_notional_usd(50_000, 1.8) == 90_000.0


steps = st.sampled_from([1.0, 0.1, 0.01, 0.001, 0.5, 0.25, 5.0, 0.003])


@given(
    exact=st.floats(min_value=0.0, max_value=1e6, allow_nan=False),
    step=steps,
    min_steps=st.integers(min_value=0, max_value=20),
)
def test_rounding_never_exceeds_its_limits(exact: float, step: float, min_steps: int) -> None:
    minimum = min_steps * step
    down = round_contracts(exact, "down", step, minimum)
    up = round_contracts(exact, "up", step, minimum)
    near = round_contracts(exact, "nearest", step, minimum)
    tol = 1e-9 * max(1.0, exact)  # "on a step" tolerance of the implementation
    assert down <= exact + tol
    assert up >= exact - tol
    for q in (down, up, near):
        assert q >= 0.0
        k = q / step
        assert abs(k - round(k)) <= 1e-6 * max(1.0, k)  # a multiple of the step
        assert q == 0.0 or q >= minimum - 1e-12  # at least the minimum, or nothing
    assert down <= near + tol and near <= up + tol
    assert up - down <= max(step, minimum) + tol


@given(
    value=st.floats(min_value=1.0, max_value=1e8),
    beta=st.floats(min_value=0.01, max_value=5.0),
    price=st.floats(min_value=1.0, max_value=1e6),
    cs=st.sampled_from([1.0, 0.01, 0.001, 0.1]),
    rounding=st.sampled_from(["down", "up", "nearest", "none"]),
)
def test_linear_hedge_ratio_is_contracts_over_exact(
    value: float, beta: float, price: float, cs: float, rounding: str
) -> None:
    size = size_hedge(value, beta, price, "linear", cs, rounding=rounding, lot_step=0.001)
    assume(size.contracts_exact > 0)
    assert size.hedge_ratio_achieved == pytest.approx(size.contracts / size.contracts_exact)
    assert size.residual_usd == pytest.approx(
        size.notional_usd - size.contracts * cs * price, abs=1e-6 * size.notional_usd
    )


@given(
    value=st.floats(min_value=1.0, max_value=1e8),
    beta=st.floats(min_value=0.01, max_value=5.0),
    price=st.floats(min_value=1.0, max_value=1e6),
    collateral=st.floats(min_value=0.0, max_value=100.0),
)
def test_inverse_exact_size_hedges_portfolio_and_collateral(
    value: float, beta: float, price: float, collateral: float
) -> None:
    size = size_hedge(
        value, beta, price, "inverse", 10.0, collateral_coin=collateral, rounding="none"
    )
    # the short's USD delta Q·CS covers H plus the collateral's C·P
    assert size.contracts * 10.0 == pytest.approx(value * beta + collateral * price)
    assert size.hedge_ratio_achieved == pytest.approx(1.0)


# --- arrays: the same functions broadcast, bit for bit equal to the float path ---------

def _scalar_round(exact: list[float], rounding: str, step: float, minimum: float) -> list[float]:
    return [round_contracts(x, rounding, step, minimum) for x in exact]


def _same_bits(got: np.ndarray, want: list[float]) -> None:
    """Element-wise identical (bit for bit, including the sign of zero)."""
    assert got.dtype == np.float64 and got.shape == (len(want),)
    assert got.tobytes() == np.array(want, dtype=np.float64).tobytes(), (got.tolist(), want)


@settings(max_examples=300, deadline=None)
@given(
    exact=st.lists(st.floats(0, 1e4, allow_nan=False), min_size=1, max_size=20),
    rounding=st.sampled_from(["down", "up", "nearest", "none"]),
    step=st.sampled_from([1.0, 0.1, 0.001, 5.0, 0.25, 0.003, 1e-5]),
    minimum=st.sampled_from([0.0, 1.0, 0.001, 0.3, 0.0025]),
)
def test_array_rounding_equals_core_round_contracts(
    exact: list[float], rounding: str, step: float, minimum: float
) -> None:
    got = round_contracts(np.array(exact), rounding, step, minimum)
    want = _scalar_round(exact, rounding, step, minimum)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    _same_bits(got, want)


@settings(max_examples=300, deadline=None)
@given(
    exact=st.lists(
        st.one_of(
            st.floats(0, 1e18, allow_nan=False),
            # counts on, near and half-way between steps (0.35/0.1 and its noise)
            st.tuples(st.integers(0, 10**6), st.sampled_from([0.0, 0.5, 1e-12, -1e-12]))
            .map(lambda kd: max(0.0, (kd[0] + kd[1]) * 0.1)),
        ),
        min_size=1,
        max_size=12,
    ),
    rounding=st.sampled_from(["down", "up", "nearest"]),
    step=st.one_of(st.sampled_from([0.1, 0.01, 0.2, 0.05]), st.floats(1e-6, 1e3)),
    min_steps=st.floats(0, 5),
)
def test_array_rounding_bitwise_on_any_step_and_huge_counts(
    exact: list[float], rounding: str, step: float, min_steps: float
) -> None:
    """Arbitrary steps (17-digit reprs go through the decimal fallback), counts up to 1e18
    (k·m beyond 2^53 does too), noisy half steps: still the float path bit for bit."""
    minimum = min_steps * step
    _same_bits(
        round_contracts(np.array(exact), rounding, step, minimum),
        _scalar_round(exact, rounding, step, minimum),
    )


@given(
    exact=st.lists(st.floats(0, 100, allow_nan=False), min_size=4, max_size=4),
    rounding=st.sampled_from(["down", "up", "nearest", "none"]),
)
def test_array_steps_and_minimums_broadcast(exact: list[float], rounding: str) -> None:
    steps = np.array([1.0, 0.1, 0.001, 0.1])
    mins = np.array([0.0, 0.3, 0.002, 5.0])
    got = round_contracts(np.array(exact), rounding, steps, mins)
    _same_bits(got, [round_contracts(x, rounding, s, m)
                     for x, s, m in zip(exact, steps, mins, strict=True)])
    grid = round_contracts(np.array(exact)[:, None], rounding, steps[None, :])  # (4, 4)
    assert grid.shape == (4, 4)
    for i, x in enumerate(exact):
        _same_bits(grid[i], [round_contracts(x, rounding, float(s)) for s in steps])


def test_array_rounding_edge_cases_match_the_documented_rules() -> None:
    # the parametrised scalar table above, as arrays (0.3/0.1 on a step, 0.35/0.1 → 0.4)
    x = np.array([0.3, 0.7, 0.35, 1.38, 0.31, 0.0])
    assert round_contracts(x, "down", 0.1).tolist() == [0.3, 0.7, 0.3, 1.3, 0.3, 0.0]
    assert round_contracts(x, "up", 0.1).tolist() == [0.3, 0.7, 0.4, 1.4, 0.4, 0.0]
    assert round_contracts(x, "nearest", 0.1).tolist() == [0.3, 0.7, 0.4, 1.4, 0.3, 0.0]
    # below the minimum: down → 0, up → the minimum, nearest → the nearer of 0 and min
    b = np.array([0.0015, 0.0009, 0.0, 0.002])
    assert round_contracts(b, "down", 0.001, 0.002).tolist() == [0.0, 0.0, 0.0, 0.002]
    assert round_contracts(b, "up", 0.001, 0.002).tolist() == [0.002, 0.002, 0.0, 0.002]
    assert round_contracts(b, "nearest", 0.001, 0.002).tolist() == [0.002, 0.0, 0.0, 0.002]
    assert round_contracts(np.array([0.5]), "up", 0.2, 0.5).tolist() == [0.6]
    # none: unchanged, and a copy (the caller's array is not aliased)
    src = np.array([0.123, 4.5])
    out = round_contracts(src, "none", 0.1)
    assert out.tolist() == [0.123, 4.5] and out is not src


def test_array_contracts_and_notional_broadcast() -> None:
    h = hedge_notional_usd(np.array([50_000.0, 0.0]), np.array([1.8, 2.0]))
    assert h.tolist() == [90_000.0, 0.0]
    q = contracts_exact("linear", h, np.array([[65_000.0], [60_000.0]]), 1.0)
    assert q.shape == (2, 2)
    assert q[0, 0] == contracts_exact("linear", 90_000.0, 65_000.0, 1.0)
    inv = contracts_exact("inverse", np.array([90_000.0, 0.0]), 60_000.0, 100.0,
                          np.array([2.0, 1.5]))
    assert inv.tolist() == [2_100.0, 900.0]  # domain.md: N = H + C·P


@settings(max_examples=200, deadline=None)
@given(
    h=st.floats(0, 1e7), p=st.floats(1, 1e5), cs=st.sampled_from([1.0, 0.01, 100.0, 10.0]),
    c=st.floats(0, 100), ct=st.sampled_from(["linear", "inverse"]),
)
def test_array_contracts_equal_core_contracts_exact(
    h: float, p: float, cs: float, c: float, ct: str
) -> None:
    coll = c if ct == "inverse" else 0.0
    got = contracts_exact(ct, np.array([h, h]), np.array([p, p]), cs, np.array([coll, coll]))
    want = contracts_exact(ct, h, p, cs, coll)
    assert float(got[0]) == pytest.approx(want, rel=1e-12, abs=1e-12)
    _same_bits(got, [want, want])


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: round_contracts(np.array([1.0, -1.0]), "down"), "contracts_exact"),
        (lambda: round_contracts(np.array([1.0, math.nan]), "none"), "contracts_exact"),
        (lambda: round_contracts(np.array([1.0]), "down", np.array([0.1, 0.0])), "lot_step"),
        (lambda: round_contracts(np.array([1.0]), "down", 1.0, np.array([-1.0])),
         "min_contracts"),
        (lambda: contracts_exact("linear", np.array([1.0, math.inf]), 1.0, 1.0), "notional_usd"),
        (lambda: contracts_exact("linear", np.array([1.0]), np.array([0.0]), 1.0), "price_usd"),
        (lambda: contracts_exact("linear", np.array([1.0]), 1.0, 1.0, np.array([1.0])),
         "collateral"),
        (lambda: hedge_notional_usd(np.array([1.0]), np.array([-0.5])), "beta"),
    ],
)
def test_bad_array_input_names_the_field(call: object, field: str) -> None:
    with pytest.raises(InputError, match=f"^{field}") as info:
        call()  # type: ignore[operator]
    assert "\n" not in str(info.value)
