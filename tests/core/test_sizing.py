"""Hedge sizing: the seed's worked examples, rounding edge cases, and properties.

Sources: the seed article's step 2–3 example (V 50,000 USD, β 1.8, BTC 65,000 USD,
1 BTC per contract → H 90,000, Q ≈ 1.38, 1 rounding down, 2 rounding up) and its inverse
ETH example as corrected in docs/domain.md (100 ETH at 3,000 USD → 300,000 USD of
inverse ETH contracts, 30,000 contracts of 10 USD on Binance COIN-M, where ETH
contracts are 10 USD each).
"""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given
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
