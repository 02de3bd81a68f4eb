"""Funding payments and annualisation (core/funding.py).

Sign rule: Bybit help centre "Funding Fee Calculation" — "When the funding rate is
positive, long position holders pay the short position holders"; funding fee = position
value × funding rate (USDⓈ-M: size × mark price; COIN-M/inverse: size × contract
multiplier / mark price, Binance "Introduction to Binance Futures Funding Rates").
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from althedge.core.funding import annualised_funding_rate, funding_payment, funding_usd_per_year
from althedge.core.instruments import Side
from althedge.errors import InputError


def test_linear_positive_rate_short_receives() -> None:
    # 2 BTC short at mark 65 000, +0.01 % per 8 h → position value 130 000 × 0.0001 = 13 USDT.
    assert funding_payment("linear", Side.SHORT, 2, 1.0, 65_000, 0.0001) == pytest.approx(13.0)
    assert funding_payment("linear", Side.LONG, 2, 1.0, 65_000, 0.0001) == pytest.approx(-13.0)
    # OKX 0.01 BTC contracts: 200 contracts = 2 BTC, same payment
    assert funding_payment("linear", "short", 200, 0.01, 65_000, 0.0001) == pytest.approx(13.0)


def test_inverse_payment_is_in_coin() -> None:
    # 1 000 COIN-M BTCUSD contracts (100 USD) = 100 000 USD = 2 BTC at 50 000; −0.02 % → the
    # short pays 2 × 0.0002 = 0.0004 BTC.
    assert funding_payment("inverse", "short", 1000, 100, 50_000, -0.0002) == pytest.approx(-0.0004)


def test_annualisation() -> None:
    # docs/domain.md: annualised ≈ rate per 8 h × 1 095
    assert annualised_funding_rate(0.0001) == pytest.approx(0.1095)
    assert annualised_funding_rate(0.0001, interval_hours=4) == pytest.approx(0.219)
    assert annualised_funding_rate(0.0001, interval_hours=1) == pytest.approx(0.876)
    # 90 000 USD short at +0.01 %/8 h earns 90 000 × 0.1095 = 9 855 USD a year
    assert funding_usd_per_year(90_000, "short", 0.0001) == pytest.approx(9_855.0)
    assert funding_usd_per_year(-90_000, Side.LONG, 0.0001) == pytest.approx(-9_855.0)
    rates = np.array([0.0001, -0.0001])
    assert funding_usd_per_year(1_000, "short", rates).tolist() == pytest.approx([109.5, -109.5])


def test_bad_input() -> None:
    with pytest.raises(InputError, match="mark price"):
        funding_payment("linear", "long", 1, 1, 0, 0.0001)
    with pytest.raises(InputError, match="contracts"):
        funding_payment("linear", "long", -1, 1, 100, 0.0001)
    with pytest.raises(InputError, match="interval hours"):
        annualised_funding_rate(0.0001, interval_hours=0)


@given(
    q=st.floats(1, 1e6),
    p=st.floats(100, 1e6),
    rate=st.floats(-0.01, 0.01, allow_subnormal=False),  # subnormal rates underflow to 0
    inverse=st.booleans(),
)
def test_longs_and_shorts_net_to_zero_and_sign_follows_rate(
    q: float, p: float, rate: float, inverse: bool
) -> None:
    ct = "inverse" if inverse else "linear"
    long = funding_payment(ct, "long", q, 1.0, p, rate)
    short = funding_payment(ct, "short", q, 1.0, p, rate)
    assert long == -short
    if rate > 0:
        assert short > 0 > long
    elif rate < 0:
        assert long > 0 > short
