"""One formula for a number and for an array (core/numeric.py).

The calculators pass single numbers, which the core computes with Python floats (no numpy
import); the backtester passes arrays. Both must give the same IEEE double, bit for bit,
and refuse the same bad values with the same one-line message.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from althedge.core.basis import annualised_basis, basis
from althedge.core.funding import annualised_funding_rate, funding_payment, funding_usd_per_year
from althedge.core.margin import forfeited_margin, initial_margin, maintenance_margin
from althedge.core.numeric import as_values, maximum, positive_values, to_output
from althedge.core.pnl import (
    inverse_pnl_coin,
    pnl_usd,
    position_value_coin,
    position_value_usd,
)
from althedge.errors import InputError

price = st.floats(min_value=1e-3, max_value=1e7, allow_nan=False, allow_infinity=False)
amount = st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False)
size = st.floats(min_value=1e-6, max_value=1e3, allow_nan=False, allow_infinity=False)
rate = st.floats(min_value=-0.05, max_value=0.05, allow_nan=False, allow_infinity=False)
kind = st.sampled_from(["linear", "inverse"])
side = st.sampled_from(["long", "short"])


def _same(number_result: object, array_result: object) -> None:
    """The number path gives a Python float equal, bit for bit, to the array's element."""
    assert type(number_result) is float
    arr = np.asarray(array_result)
    assert arr.shape == (1,)
    expected = float(arr[0])
    assert number_result == expected or (math.isnan(number_result) and math.isnan(expected))
    assert math.copysign(1.0, number_result) == math.copysign(1.0, expected)


@given(kind, side, amount, size, price, price)
def test_pnl_and_value_are_the_same_for_a_number_and_an_array(
    ct: str, sd: str, q: float, cs: float, ep: float, xp: float
) -> None:
    a = np.array
    _same(pnl_usd(ct, sd, q, cs, ep, xp), pnl_usd(ct, sd, a([q]), a([cs]), a([ep]), a([xp])))
    _same(inverse_pnl_coin(sd, q, cs, ep, xp), inverse_pnl_coin(sd, a([q]), cs, ep, a([xp])))
    _same(position_value_usd(ct, q, cs, xp), position_value_usd(ct, a([q]), cs, xp))
    _same(position_value_coin(ct, q, cs, xp), position_value_coin(ct, q, cs, a([xp])))


@given(kind, side, amount, size, price, rate, st.floats(min_value=1, max_value=125))
def test_margin_and_funding_are_the_same_for_a_number_and_an_array(
    ct: str, sd: str, q: float, cs: float, p: float, r: float, lev: float
) -> None:
    a = np.array
    _same(initial_margin(ct, q, cs, p, lev), initial_margin(ct, a([q]), cs, p, lev))
    _same(maintenance_margin(ct, q, cs, p, 0.005, 50.0, mmr_per_coin=1e-4),
          maintenance_margin(ct, q, cs, a([p]), 0.005, 50.0, mmr_per_coin=1e-4))
    _same(forfeited_margin(r), forfeited_margin(a([r])))
    _same(funding_payment(ct, sd, q, cs, p, r), funding_payment(ct, sd, q, cs, p, a([r])))
    _same(annualised_funding_rate(r, 4.0), annualised_funding_rate(a([r]), 4.0))
    _same(funding_usd_per_year(q * p, sd, r), funding_usd_per_year(a([q * p]), sd, r))
    _same(basis(p, p * (1 + r)), basis(a([p]), p * (1 + r)))
    _same(annualised_basis(p, p * (1 + r), lev), annualised_basis(p, p * (1 + r), a([lev])))


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, -1.0, 0.0])
def test_a_bad_number_is_refused_with_the_same_message_as_in_an_array(bad: float) -> None:
    with pytest.raises(InputError) as one:
        positive_values("entry price", bad)
    with pytest.raises(InputError) as many:
        positive_values("entry price", np.array([1.0, bad]))
    assert str(one.value).startswith("entry price: must be a finite number > 0, got ")
    assert str(many.value).startswith("entry price: must be a finite number > 0, got ")
    assert "\n" not in str(one.value)


def test_zero_is_allowed_where_asked_and_a_fix_is_named() -> None:
    assert positive_values("contracts", 0, zero_ok=True) == 0.0
    with pytest.raises(InputError, match=r"^expiry: must be a finite number of days > 0, got "
                       r"-2\.0; pass a future date$"):
        annualised_basis(100.0, 101.0, -2.0)


def test_numbers_stay_floats_and_arrays_stay_arrays() -> None:
    assert type(as_values(3)) is float and type(as_values(np.float64(2.5))) is float
    assert isinstance(as_values([1, 2]), np.ndarray)
    assert type(to_output(np.array(2.0))) is float
    assert isinstance(to_output(np.array([2.0])), np.ndarray)
    assert maximum(-1.0, 0.0) == 0.0 and math.isnan(maximum(math.nan, 0.0))
    assert math.isnan(maximum(0.0, math.nan))
    assert list(maximum(np.array([-1.0, 3.0]), 0.0)) == [0.0, 3.0]
