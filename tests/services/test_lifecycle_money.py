"""Money at the venue/journal boundary: an amount keeps its currency until converted."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from althedge.errors import InputError
from althedge.services.hedge.common import fee_usd
from althedge.services.hedge.money import Money
from althedge.venues.protocol import Fee, OrderResult

amounts = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)


def test_usd_like_currencies_count_one_for_one() -> None:
    assert Money(12.5, "usdt").to_usd(60_000.0) == Money(12.5, "USD")
    assert Money(1.0, "USDC") + Money(2.0, "USDT") == Money(3.0, "USDC")


def test_a_coin_is_valued_at_its_price() -> None:
    assert Money(0.001, "btc").to_usd(65_000.0) == Money(65.0, "USD")


def test_coin_and_usd_do_not_mix() -> None:
    with pytest.raises(InputError, match="currency: cannot combine BTC with USDT"):
        Money(1.0, "BTC") + Money(1.0, "USDT")
    with pytest.raises(InputError, match="amount"):
        Money(math.nan, "USD")
    with pytest.raises(InputError, match="price"):
        Money(1.0, "ETH").to_usd(math.nan)


@given(a=amounts, b=amounts)
def test_sums_and_differences_keep_the_currency(a: float, b: float) -> None:
    total = Money(a, "ETH") + Money(b, "ETH")
    assert total.currency == "ETH" and total.amount == a + b
    assert (total - Money(b, "ETH")).amount == pytest.approx(a, abs=1e-6 * (abs(a) + abs(b) + 1))
    assert (-total).amount == -(a + b)


def _result(fee: Fee, average: float | None) -> OrderResult:
    return OrderResult(
        client_order_id="x", exchange_order_id=None, symbol="BTC/USD:BTC", side="sell",
        order_type="market", contracts=1.0, status="filled", filled_contracts=1.0,
        average_price=average, price=None, fee=fee, reduce_only=False, timestamp_ms=None,
    )


def test_an_orders_fee_in_usd() -> None:
    # a COIN-M taker fee of 0.0000769 BTC on a fill at 65,000 USD costs 4.9985 USD
    assert fee_usd(_result(Fee(0.0000769, "BTC"), 65_000.0)) == pytest.approx(4.9985)
    assert fee_usd(_result(Fee(3.2, "USDT"), 65_000.0)) == 3.2
    assert fee_usd(_result(Fee(0.0, "BTC"), None)) == 0.0
