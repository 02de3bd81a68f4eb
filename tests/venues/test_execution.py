"""execute_order's hooks and rules, on the real PaperExchange.

The journaling caller (the hedge lifecycle) relies on: ``before_send`` before every
placement (so its intent row exists before the venue can know the order),
``on_order`` with every result, ``on_not_sent`` only when the venue confirms it never
got the order, ``as_planned`` sending the planned order untouched, follow-up ids
derived from the original id, and a rejection ending the execution.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from althedge.errors import ExchangeError
from althedge.venues.execution import (
    execute_order,
    limit_price_at_offset,
    round_price_to_tick,
    round_to_step,
)
from althedge.venues.paper import PaperExchange
from althedge.venues.protocol import OrderRequest, OrderResult, client_order_id

LIN = "BTC/USDT:USDT"  # Binance USDⓈ-M: lot 0.001, tick 0.1
MARK = 50_000.0


def paper() -> PaperExchange:
    idx = pd.date_range("2024-01-01", periods=10, freq="D")
    return PaperExchange({"BTC": pd.Series(MARK, index=idx, dtype=float)}, now=idx[0])


def fake_time() -> tuple[list[float], Callable[[], float], Callable[[float], None]]:
    t = [0.0]

    def clock() -> float:
        return t[0]

    def sleep(s: float) -> None:
        t[0] += max(s, 1e-3)

    return t, clock, sleep


class Log:
    """Records the hooks' calls, and what the venue knew when ``before_send`` ran."""

    def __init__(self, venue: PaperExchange) -> None:
        self.venue = venue
        self.events: list[tuple[str, str]] = []
        self.known_at_intent: list[bool] = []

    def before_send(self, req: OrderRequest) -> None:
        self.known_at_intent.append(
            self.venue.fetch_order(req.symbol, req.client_order_id) is not None
        )
        self.events.append(("intent", req.client_order_id))

    def on_order(self, res: OrderResult) -> None:
        self.events.append((res.status, res.client_order_id))

    def on_not_sent(self, req: OrderRequest) -> None:
        self.events.append(("not_sent", req.client_order_id))


def test_intent_hook_runs_before_every_send_and_ids_derive_from_the_original() -> None:
    px = paper()
    log = Log(px)
    _, clock, sleep = fake_time()
    order = OrderRequest(LIN, "sell", 0.5, "limit", "ahhooks", price=1.0)
    report = execute_order(
        px,
        order,
        offset_bps=10,  # above the mark: the limits rest
        timeout_s=3,
        fallback="reprice",
        max_reprices=1,
        sleep=sleep,
        clock=clock,
        before_send=log.before_send,
        on_order=log.on_order,
    )
    cids = [o.client_order_id for o in report.orders]
    assert cids == [
        "ahhooks",
        client_order_id("ahhooks", 1, "reprice"),
        client_order_id("ahhooks", 2, "market"),
    ]
    assert [o.order_type for o in report.orders] == ["limit", "limit", "market"]
    assert [o.status for o in report.orders] == ["canceled", "canceled", "filled"]
    assert report.complete
    # the intent of each child came first, while the venue did not know it yet
    assert log.known_at_intent == [False, False, False]
    for cid in cids:
        seen = [i for i, (_, c) in enumerate(log.events) if c == cid]
        assert log.events[seen[0]] == ("intent", cid)
        assert log.events[seen[-1]][0] in ("canceled", "filled")
    assert ("not_sent", "ahhooks") not in log.events
    # each limit was priced at 10 bp above the mark, on the tick
    assert report.orders[0].price == pytest.approx(MARK * 1.001)


def test_as_planned_sends_the_given_order_untouched() -> None:
    px = paper()
    _, clock, sleep = fake_time()
    planned = OrderRequest(LIN, "sell", 0.3, "limit", "ahplan", price=50_500.0)
    report = execute_order(
        px,
        planned,
        offset_bps=-50,  # ignored for the planned order, used for the follow-up only
        timeout_s=1,
        fallback="reprice",
        max_reprices=1,
        sleep=sleep,
        clock=clock,
        as_planned=True,
    )
    first, second = report.orders
    assert (first.price, first.contracts, first.status) == (50_500.0, 0.3, "canceled")
    assert second.order_type == "limit" and second.status == "filled"
    assert second.price == pytest.approx(MARK * (1 - 0.005))  # crosses: fills at once
    # without as_planned the same order is re-priced from the mark at once
    again = execute_order(paper(), planned, offset_bps=-50, timeout_s=1, sleep=sleep, clock=clock)
    assert again.orders[0].price == pytest.approx(MARK * (1 - 0.005))


def test_a_rejection_ends_the_execution_and_is_reported_not_retried() -> None:
    px = paper()
    log = Log(px)
    reduce = OrderRequest(LIN, "buy", 0.1, "market", "ahrej", reduce_only=True)  # nothing to reduce
    with pytest.raises(ExchangeError, match="reduce-only"):
        execute_order(
            px,
            reduce,
            fallback="market",
            on_order=log.on_order,
            on_not_sent=log.on_not_sent,
            before_send=log.before_send,
        )
    assert log.events == [("intent", "ahrej"), ("rejected", "ahrej")]  # the venue had it
    assert list(px.orders) == ["ahrej"]


class FlakyPaper(PaperExchange):
    """Paper whose next placement fails: before (``lost``) or after (``late``) arriving."""

    failure = "lost"
    calls = 0

    def place_order(self, order: OrderRequest) -> OrderResult:
        self.calls += 1
        if self.failure == "late":
            self.failure = ""
            super().place_order(order)
            raise ExchangeError("paper: place order timed out")
        if self.failure == "lost":
            self.failure = ""
            raise ExchangeError("paper: place order timed out")
        return super().place_order(order)


def _flaky(failure: str) -> FlakyPaper:
    idx = pd.date_range("2024-01-01", periods=10, freq="D")
    px = FlakyPaper({"BTC": pd.Series(MARK, index=idx, dtype=float)}, now=idx[0])
    px.failure = failure
    return px


def test_a_placement_that_never_arrived_is_reported_not_sent_and_raised() -> None:
    px = _flaky("lost")
    log = Log(px)
    with pytest.raises(ExchangeError, match="timed out"):
        execute_order(
            px,
            OrderRequest(LIN, "sell", 0.1, "market", "ahlost"),
            on_order=log.on_order,
            on_not_sent=log.on_not_sent,
        )
    assert log.events == [("not_sent", "ahlost")]
    assert px.calls == 1 and px.orders == {}  # never sent again


def test_a_placement_that_arrived_despite_the_error_is_found_not_resent() -> None:
    px = _flaky("late")
    log = Log(px)
    report = execute_order(
        px,
        OrderRequest(LIN, "sell", 0.1, "market", "ahlate"),
        on_order=log.on_order,
        on_not_sent=log.on_not_sent,
    )
    assert px.calls == 1 and report.complete
    assert log.events == [("filled", "ahlate")]


def test_rounding_helpers() -> None:
    assert round_to_step(1.23456, 0.001) == 1.234
    assert round_to_step(0.3, 0.1) == 0.3  # 0.3/0.1 = 2.9999999999999996 still 3 steps
    assert round_price_to_tick(50_000.07, 0.1, "sell") == 50_000.0
    assert round_price_to_tick(50_000.01, 0.1, "buy") == 50_000.1
    assert limit_price_at_offset("sell", 50_000.0, 10) == pytest.approx(50_050.0)
    assert limit_price_at_offset("buy", 50_000.04, 0.333, 0.1) == 49_998.4  # 49,998.375 up
