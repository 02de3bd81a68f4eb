"""Order planning, execution and reconciliation of the lifecycle, against a scripted venue.

The venue here is a small in-memory implementation of the Venue protocol whose
behaviour each test scripts (fill now, fill partly, time out while placing,
reject). The functions under test (plan_orders, reconcile, the executor and the
journal) are the real ones.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from althedge.core.instruments import ContractType, Instrument, Side, get_instrument
from althedge.errors import ExchangeError, LimitExceededError
from althedge.journal import Journal
from althedge.services.hedge import (
    ExecutionSettings,
    HedgeRecord,
    JournaledExecutor,
    plan_orders,
    reconcile,
)
from althedge.venues.limits import Limits
from althedge.venues.protocol import Fee, OrderRequest, OrderResult, VenuePosition

BTC = get_instrument("binance", "BTC/USDT:USDT")


class ScriptedVenue:
    """In-memory venue. ``mode``: fill | partial | rest | timeout_after_accept | reject."""

    name = "scripted"

    def __init__(self, mode: str = "fill", price: float = 50_000.0) -> None:
        self.mode = mode
        self.price = price
        self.orders: dict[str, OrderResult] = {}
        self.position_signed = 0.0
        self.placed: list[str] = []
        self.leverage: tuple[float, str] | None = None
        self.notices: list[str] = []

    def instrument(self, symbol: str) -> Instrument:
        return BTC

    def mark_price(self, symbol: str) -> float:
        return self.price

    def funding_rate(self, symbol: str) -> tuple[float, float]:
        return (0.0001, 8.0)

    def set_leverage(self, symbol: str, leverage: float, margin_mode: str) -> None:
        self.leverage = (leverage, margin_mode)

    def use_margin_mode(self, symbol: str, margin_mode: str) -> None:
        self.margin_mode = margin_mode

    def below_minimum(
        self, symbol: str, contracts: float, price: float | None = None
    ) -> str | None:
        return None

    def _fill(self, order: OrderRequest, qty: float, status: str) -> OrderResult:
        sign = -1.0 if order.side == "sell" else 1.0
        self.position_signed += sign * qty
        return OrderResult(
            client_order_id=order.client_order_id,
            exchange_order_id=f"x{len(self.orders)}",
            symbol=order.symbol,
            side=order.side,
            order_type=order.order_type,
            contracts=order.contracts,
            status=status,  # type: ignore[arg-type]
            filled_contracts=qty,
            average_price=order.price or self.price,
            price=order.price,
            fee=Fee(qty * self.price * 0.0004, "USDT"),
            reduce_only=order.reduce_only,
        )

    def place_order(self, order: OrderRequest) -> OrderResult:
        if order.client_order_id in self.orders:  # idempotent
            return self.orders[order.client_order_id]
        self.placed.append(order.client_order_id)
        mode = self.mode
        if mode == "reject":
            res = replace(self._fill(order, 0.0, "rejected"), average_price=None)
        elif mode == "partial" and order.order_type == "limit":
            res = self._fill(order, round(order.contracts * 0.4, 3), "partially_filled")
        elif mode == "rest" and order.order_type == "limit":
            res = replace(self._fill(order, 0.0, "open"), average_price=None)
        else:
            res = self._fill(order, order.contracts, "filled")
        self.orders[order.client_order_id] = res
        if mode == "timeout_after_accept":
            self.mode = "fill"
            raise ExchangeError("binance: place order timed out")
        return res

    def fetch_order(self, symbol: str, client_order_id: str) -> OrderResult | None:
        return self.orders.get(client_order_id)

    def cancel_order(self, symbol: str, client_order_id: str) -> None:
        o = self.orders[client_order_id]
        if not o.is_final:
            self.orders[client_order_id] = replace(o, status="canceled")

    def open_orders(self, symbol: str) -> list[OrderResult]:
        return [o for o in self.orders.values() if not o.is_final]

    def position(self, symbol: str) -> VenuePosition | None:
        if abs(self.position_signed) < 1e-12:
            return None
        return VenuePosition(
            symbol=symbol,
            side=Side.SHORT if self.position_signed < 0 else Side.LONG,
            contracts=abs(self.position_signed),
            entry_price=self.price,
            contract_type=ContractType.LINEAR,
            margin_mode="isolated",
            leverage=2.0,
            liquidation_price=None,
            unrealised_pnl=0.0,
            isolated_margin=None,
        )


def _journal_with_hedge(tmp_path: Path) -> tuple[Journal, int]:
    j = Journal(tmp_path / "journal.sqlite")
    hid = j.create_hedge(
        venue="scripted",
        symbol=BTC.symbol,
        opened_at="2024-01-01",
        portfolio={},
        settings={"hedge_key": "k1"},
    )
    return j, hid


def _run(
    j: Journal, hid: int, venue: ScriptedVenue, order: OrderRequest, **settings: object
) -> list[dict[str, Any]]:
    """The lifecycle's executor on ``order`` for hedge ``hid``, without real waiting."""
    executor = JournaledExecutor(
        j,
        venue,
        HedgeRecord.from_row(j.hedge(hid)),
        ExecutionSettings(**settings),  # type: ignore[arg-type]
        sleep=lambda s: None,
    )
    return executor.execute(order, purpose="open")


def _plan(current: float, target: float, **kw: object) -> list[OrderRequest]:
    args: dict[str, object] = dict(
        hedge_key="k1",
        first_step=0,
        purpose="open",
        instrument=BTC,
        current_short=current,
        target_short=target,
        mark_price=50_000.0,
        execution=ExecutionSettings(),
        limits=Limits(),
    )
    args.update(kw)
    return plan_orders(**args)  # type: ignore[arg-type]


def test_growing_the_short_is_a_sell_and_shrinking_a_reduce_only_buy() -> None:
    (sell,) = _plan(0.0, 1.2345)
    assert (sell.side, sell.reduce_only, sell.contracts) == ("sell", False, pytest.approx(1.234))
    (buy,) = _plan(1.5, 1.0)
    assert (buy.side, buy.reduce_only, buy.contracts) == ("buy", True, pytest.approx(0.5))


def test_limit_price_offset_is_on_the_passive_side_and_on_the_tick() -> None:
    ex = ExecutionSettings(offset_bps=10.0)
    (sell,) = _plan(0.0, 1.0, execution=ex)
    (buy,) = _plan(1.0, 0.0, execution=ex)
    assert sell.price == pytest.approx(50_050.0) and buy.price == pytest.approx(49_950.0)
    (odd,) = _plan(0.0, 1.0, execution=ExecutionSettings(offset_bps=0.333), mark_price=50_000.04)
    assert (
        odd.price is not None
        and abs(odd.price / BTC.tick_size - round(odd.price / BTC.tick_size)) < 1e-6
    )


def test_change_below_the_minimum_sends_nothing_but_close_all_does() -> None:
    assert _plan(1.0, 1.0004) == []
    (close,) = _plan(0.0004, 0.0, close_all=True)
    assert close.contracts == pytest.approx(0.0004) and close.reduce_only


def test_caps_refuse_growing_orders_but_not_reduce_only() -> None:
    with pytest.raises(LimitExceededError, match="max_contracts"):
        _plan(0.0, 3.0, limits=Limits(max_contracts=2.0))
    with pytest.raises(LimitExceededError, match="max_notional_usd"):
        _plan(1.0, 3.0, limits=Limits(max_notional_usd=100_000.0))
    with pytest.raises(LimitExceededError, match="max_leverage"):
        _plan(0.0, 1.0, leverage=20.0)
    assert _plan(3.0, 0.0, limits=Limits(max_contracts=1.0), close_all=True)


def test_client_order_ids_are_deterministic() -> None:
    assert _plan(0.0, 1.0)[0].client_order_id == _plan(0.0, 1.0)[0].client_order_id
    assert _plan(0.0, 1.0)[0].client_order_id != _plan(0.0, 1.0, first_step=1)[0].client_order_id


def test_partial_fill_then_timeout_falls_back_to_market(tmp_path: Path) -> None:
    j, hid = _journal_with_hedge(tmp_path)
    venue = ScriptedVenue("partial")
    (order,) = _plan(0.0, 1.0)
    done = _run(j, hid, venue, order, timeout_s=0.0)
    assert [d["status"] for d in done] == ["canceled", "filled"]
    assert [d["order_type"] for d in done] == ["limit", "market"]
    assert j.net_contracts(hid) == pytest.approx(-1.0)
    assert venue.position_signed == pytest.approx(-1.0)
    assert len(j.fills(hid)) == 2


def test_resting_order_with_cancel_fallback_leaves_remainder(tmp_path: Path) -> None:
    j, hid = _journal_with_hedge(tmp_path)
    venue = ScriptedVenue("rest")
    (order,) = _plan(0.0, 1.0)
    done = _run(j, hid, venue, order, timeout_s=0.0, fallback="cancel")
    assert [d["status"] for d in done] == ["canceled"]
    assert j.net_contracts(hid) == 0.0 and venue.open_orders(BTC.symbol) == []


def test_timeout_while_placing_is_looked_up_not_resent(tmp_path: Path) -> None:
    j, hid = _journal_with_hedge(tmp_path)
    venue = ScriptedVenue("timeout_after_accept")
    (order,) = _plan(0.0, 1.0)
    _run(j, hid, venue, order, timeout_s=0.0)
    assert venue.placed == [order.client_order_id]  # sent once
    assert j.order(order.client_order_id).status == "filled"  # type: ignore[union-attr]
    assert j.net_contracts(hid) == pytest.approx(-1.0)


def test_rejection_is_an_exchange_error_and_journaled(tmp_path: Path) -> None:
    j, hid = _journal_with_hedge(tmp_path)
    (order,) = _plan(0.0, 1.0)
    with pytest.raises(ExchangeError, match="rejected"):
        _run(j, hid, ScriptedVenue("reject"), order, timeout_s=0.0)
    assert j.order(order.client_order_id).status == "rejected"  # type: ignore[union-attr]


def test_reconcile_resolves_intents_and_reports_differences(tmp_path: Path) -> None:
    j, hid = _journal_with_hedge(tmp_path)
    venue = ScriptedVenue("fill")
    (o1,) = _plan(0.0, 1.0)
    (o2,) = _plan(0.0, 0.5, first_step=1)
    for o in (o1, o2):
        j.record_intent(
            hedge_id=hid,
            client_order_id=o.client_order_id,
            venue="scripted",
            symbol=o.symbol,
            side=o.side,
            amount=o.contracts,
            order_type=o.order_type,
            price=o.price,
            reduce_only=o.reduce_only,
            purpose="open",
            at="t",
        )
    venue.place_order(o1)  # the crash happened after o1 was sent, before its result was recorded
    rec = reconcile(j, venue)
    assert rec.ok, rec.differences
    assert j.order(o1.client_order_id).status == "filled"  # type: ignore[union-attr]
    assert j.order(o2.client_order_id).status == "not_sent"  # type: ignore[union-attr]
    assert venue.placed == [o1.client_order_id]  # nothing re-sent
    assert rec.journal_contracts == pytest.approx(-1.0) == rec.venue_contracts
    # a second reconcile finds nothing new (idempotent)
    again = reconcile(j, venue)
    assert again.ok and again.resolved == []
    assert j.net_contracts(hid) == pytest.approx(-1.0)
    # someone trades on the account behind our back
    venue.position_signed -= 0.25
    venue.orders["stranger"] = replace(
        venue.orders[o1.client_order_id], client_order_id="stranger", status="open"
    )
    rec = reconcile(j, venue)
    assert len(rec.differences) == 2
    assert any("stranger" in d for d in rec.differences)
    assert any("journal -1" in d and "venue -1.25" in d for d in rec.differences)
    assert j.events()[-1]["kind"] == "reconcile"


def test_a_venue_that_never_fills_does_not_loop_forever(tmp_path: Path) -> None:
    j, hid = _journal_with_hedge(tmp_path)
    venue = ScriptedVenue("rest")
    venue.place_order = _never_fills(venue)  # type: ignore[method-assign]
    (order,) = _plan(0.0, 1.0)
    done = _run(j, hid, venue, order, timeout_s=0.0, fallback="reprice", max_reprices=2)
    assert 3 <= len(done) <= 6
    assert {d["status"] for d in done} == {"canceled"}
    assert len({d["client_order_id"] for d in done}) == len(done)  # a new id for each attempt
    assert j.net_contracts(hid) == 0.0


def _never_fills(venue: ScriptedVenue):  # type: ignore[no-untyped-def]
    def place(order: OrderRequest) -> OrderResult:
        res = replace(venue._fill(order, 0.0, "open"), average_price=None)
        venue.orders[order.client_order_id] = res
        venue.placed.append(order.client_order_id)
        return res

    return place


def test_every_child_order_is_journaled_as_intent_before_the_venue_sees_it(
    tmp_path: Path,
) -> None:
    j, hid = _journal_with_hedge(tmp_path)
    venue = ScriptedVenue("rest")  # limits rest, the market fallback fills
    place = venue.place_order
    at_send: list[str | None] = []

    def checked(order: OrderRequest) -> OrderResult:
        row = j.order(order.client_order_id)
        at_send.append(None if row is None else row.status)
        return place(order)

    venue.place_order = checked  # type: ignore[method-assign]
    (order,) = _plan(0.0, 1.0)
    done = _run(j, hid, venue, order, timeout_s=0.0, fallback="reprice", max_reprices=1)
    assert [d["order_type"] for d in done] == ["limit", "limit", "market"]
    assert at_send == ["intent", "intent", "intent"]
    rows = j.orders(hid)
    assert [o.client_order_id for o in rows] == [d["client_order_id"] for d in done]
    assert [o.status for o in rows] == ["canceled", "canceled", "filled"]
    assert rows[0].client_order_id == order.client_order_id  # the planned order, as planned
    assert rows[0].price == order.price
    assert j.net_contracts(hid) == pytest.approx(-1.0) == venue.position_signed
