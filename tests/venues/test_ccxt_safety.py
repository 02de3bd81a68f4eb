"""Real-money safety of the ccxt adapter, on a real ccxt.binanceusdm talking to a local
server that answers like Binance USDⓈ-M (shapes: Binance derivatives API docs, "New
Order", "Query Order", "Error Codes", "Get Current Position Mode").

Each test is one behaviour of issue 9: never two orders for one intent, transient
errors, hedge position mode, exchange minimums, error meanings, whole-number leverage.
"""

from __future__ import annotations

from typing import Any

import pytest

from althedge.errors import (
    BelowExchangeMinimumError,
    ExchangeError,
    OrderOutcomeUnknownError,
)
from althedge.venues.execution import execute_order
from althedge.venues.protocol import OrderRequest, client_order_id

SYMBOL = "BTC/USDT:USDT"


def _order(**kw: Any) -> OrderRequest:
    base: dict[str, Any] = dict(
        symbol=SYMBOL,
        side="sell",
        contracts=0.0104,
        order_type="limit",
        price=90_000.07,
        client_order_id=client_order_id("plan-safety", 0, "open"),
    )
    base.update(kw)
    return OrderRequest(**base)


def _lookups_fail_after_first(fake: Any, failure: tuple[int, Any]) -> None:
    """GET /fapi/v1/order answers normally once (the pre-send lookup), then ``failure``."""
    real = fake.server.routes[("GET", "/fapi/v1/order")]
    seen: list[int] = []

    def handler(r: Any) -> Any:
        seen.append(1)
        return real(r) if len(seen) == 1 else failure

    fake.server.route("GET", "/fapi/v1/order", handler)


@pytest.mark.parametrize(
    "failure",
    [
        (429, {"code": -1003, "msg": "Too many requests; current limit is 2400 per minute."}),
        (503, {"code": -1001, "msg": "Internal error; unable to process your request."}),
    ],
    ids=["rate-limited", "unavailable"],
)
def test_create_timeout_then_failed_lookups_is_outcome_unknown_and_never_resent(
    binance_venue: Any, fake_binance: Any, failure: tuple[int, Any]
) -> None:
    """The exchange took the order, the reply timed out, every lookup failed: before, the
    order was re-sent (Binance keeps client ids unique only among OPEN orders, so a
    filled first order let the second one through: a double short)."""
    fake_binance.fill_on_create = 1.0  # filled at once: the id is free again at Binance
    srv = fake_binance.server
    srv.delay_next("POST", "/fapi/v1/order", 1.6)  # client timeout 1.0 s
    _lookups_fail_after_first(fake_binance, failure)
    with pytest.raises(OrderOutcomeUnknownError) as info:
        binance_venue.place_order(_order())
    msg = str(info.value)
    assert len(srv.calls("POST", "/fapi/v1/order")) == 1
    assert len(fake_binance.orders) == 1
    assert "\n" not in msg and "nothing was re-sent" in msg and "hedge status" in msg
    assert info.value.exit_code == 4


def test_outcome_unknown_is_not_reported_as_not_sent_by_execution(
    binance_venue: Any, fake_binance: Any
) -> None:
    srv = fake_binance.server
    srv.delay_next("POST", "/fapi/v1/order", 1.6)
    _lookups_fail_after_first(fake_binance, (503, {"code": -1001, "msg": "Internal error"}))
    not_sent: list[str] = []
    with pytest.raises(OrderOutcomeUnknownError):
        execute_order(
            binance_venue, _order(), as_planned=True, sleep=lambda _s: None,
            on_not_sent=lambda o: not_sent.append(o.client_order_id),
        )
    assert not_sent == []  # the intent stays open for reconciliation
    assert len(srv.calls("POST", "/fapi/v1/order")) == 1


def test_one_transient_poll_error_does_not_abandon_the_working_order(
    binance_venue: Any, fake_binance: Any
) -> None:
    """A 503 while polling is retried (backoff) and the order is worked to its fill."""
    fake_binance.fill_per_poll = 1.0
    real = fake_binance.server.routes[("GET", "/fapi/v1/order")]
    calls: list[int] = []

    def flaky(r: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:  # pre-send lookup, first poll fine, then one failure
            return 503, {"code": -1001, "msg": "Internal error"}
        return real(r)

    fake_binance.server.route("GET", "/fapi/v1/order", flaky)
    report = execute_order(
        binance_venue, _order(contracts=0.01), as_planned=True, timeout_s=5.0,
        poll_interval_s=0.0, sleep=lambda _s: None,
    )
    assert report.complete and report.orders[-1].status == "filled"
    assert len(fake_binance.server.calls("POST", "/fapi/v1/order")) == 1


def test_polls_that_keep_failing_cancel_the_working_order_and_say_so(
    binance_venue: Any, fake_binance: Any
) -> None:
    """Before: one timeout while polling ended the command with the limit still resting."""
    real = fake_binance.server.routes[("GET", "/fapi/v1/order")]
    calls: list[int] = []

    def down(r: Any) -> Any:
        calls.append(1)
        if 2 <= len(calls) <= 5:  # the poll and its 3 retries fail
            return 503, {"code": -1001, "msg": "Internal error"}
        return real(r)

    fake_binance.server.route("GET", "/fapi/v1/order", down)
    with pytest.raises(ExchangeError) as info:
        execute_order(
            binance_venue, _order(), as_planned=True, timeout_s=5.0, poll_interval_s=0.0,
            sleep=lambda _s: None,
        )
    (o,) = fake_binance.orders.values()
    assert o["status"] == "CANCELED", str(info.value)
    assert "cancelled" in str(info.value) and "\n" not in str(info.value)


def test_hedge_mode_orders_carry_the_short_position_side(
    binance_venue: Any, fake_binance: Any
) -> None:
    """Binance hedge mode: every order names positionSide; reduceOnly is refused there."""
    fake_binance.dual_side = True
    binance_venue.place_order(_order())
    binance_venue.place_order(
        _order(side="buy", reduce_only=True, client_order_id=client_order_id("p", 1, "close"))
    )
    opened, closed = (c.params for c in fake_binance.server.calls("POST", "/fapi/v1/order"))
    assert opened["positionSide"] == "SHORT" and opened["side"] == "SELL"
    assert closed["positionSide"] == "SHORT" and closed["side"] == "BUY"
    assert "reduceOnly" not in opened and "reduceOnly" not in closed


def test_one_way_mode_orders_carry_no_position_side(
    binance_venue: Any, fake_binance: Any
) -> None:
    binance_venue.place_order(_order(reduce_only=True))
    (call,) = fake_binance.server.calls("POST", "/fapi/v1/order")
    assert "positionSide" not in call.params and call.params["reduceOnly"] == "true"


def test_order_below_minimum_notional_is_refused_before_sending(
    binance_venue: Any, fake_binance: Any
) -> None:
    """BTCUSDT MIN_NOTIONAL 100 USDT: 0.001 BTC at 90,000 = 90 USDT is refused here."""
    with pytest.raises(BelowExchangeMinimumError, match="below the exchange minimum of 100"):
        binance_venue.place_order(_order(contracts=0.001))
    assert fake_binance.server.calls("POST", "/fapi/v1/order") == []
    assert binance_venue.below_minimum(SYMBOL, 0.001, 90_000.0) is not None
    assert binance_venue.below_minimum(SYMBOL, 0.002, 90_000.0) is None


def test_invalid_client_id_is_not_mistaken_for_a_duplicate(
    binance_venue: Any, fake_binance: Any
) -> None:
    """-4015 means "Client order id is not valid", not "duplicate": no lookup-and-return."""
    fake_binance.reject_create = (400, {"code": -4015, "msg": "Client order id is not valid."})
    with pytest.raises(ExchangeError, match="client order id is not valid"):
        binance_venue.place_order(_order())
    gets = fake_binance.server.calls("GET", "/fapi/v1/order")
    assert len(gets) == 1  # the pre-send lookup only


def test_fractional_leverage_is_sent_whole_and_said(
    binance_venue: Any, fake_binance: Any
) -> None:
    binance_venue.set_leverage(SYMBOL, 2.5, "isolated")
    (call,) = fake_binance.server.calls("POST", "/fapi/v1/leverage")
    assert call.params["leverage"] == "2"
    assert binance_venue.notices == [
        "leverage 2.5 rounded down to 2 (Binance USDⓈ-M futures takes whole numbers)"
    ]
