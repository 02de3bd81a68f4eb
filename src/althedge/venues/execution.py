"""Limit-at-offset execution with a timeout and a fallback, for any :class:`Venue`.

``execute_order(venue, order, offset_bps, timeout_s, fallback)``:

1. price a limit order at ``offset_bps`` from the mark, on the passive side:
   a sell at ``mark·(1 + offset/10⁴)``, a buy at ``mark·(1 − offset/10⁴)``
   (a negative offset crosses the spread);
2. place it (idempotent by client order id) and poll ``fetch_order`` until it is
   final or ``timeout_s`` has passed;
3. on timeout cancel it, read its final fill, and for the remainder apply
   ``fallback``: ``"market"`` (a market order), ``"reprice"`` (a new limit at the
   new mark, up to ``max_reprices`` times, then market) or ``"none"`` (stop; the
   report shows the unfilled remainder).

Every follow-up order gets a deterministic client id derived from the original
(:func:`althedge.venues.protocol.client_order_id`), so re-running the same execution
after a crash finds the orders already sent instead of sending them again.
Partial fills accumulate; ``reduce_only`` is carried to every child order.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

from althedge.errors import ExchangeError, InputError
from althedge.venues.protocol import Fee, OrderRequest, OrderResult, Venue, client_order_id

__all__ = ["FALLBACKS", "ExecutionReport", "Fallback", "execute_order", "limit_price_at_offset"]

Fallback = Literal["market", "reprice", "none"]
FALLBACKS: tuple[str, ...] = ("market", "reprice", "none")


@dataclass
class ExecutionReport:
    """Outcome of one execution: every order it sent and the combined fill.

    ``average_price`` is the contract-weighted average of the child orders' average
    prices (for an inverse contract the exact average entry is harmonic; the
    position's entry price reported by the venue is authoritative).
    """

    requested_contracts: float
    orders: list[OrderResult] = field(default_factory=list)

    @property
    def filled_contracts(self) -> float:
        return sum(o.filled_contracts for o in self.orders)

    @property
    def remaining_contracts(self) -> float:
        return max(self.requested_contracts - self.filled_contracts, 0.0)

    @property
    def average_price(self) -> float | None:
        filled = [(o.filled_contracts, o.average_price) for o in self.orders if o.filled_contracts]
        total = sum(q for q, _ in filled)
        if not total:
            return None
        return sum(q * (p or 0.0) for q, p in filled) / total

    @property
    def fees(self) -> list[Fee]:
        return [o.fee for o in self.orders if o.fee.amount]

    @property
    def complete(self) -> bool:
        return self.remaining_contracts <= 1e-12


def limit_price_at_offset(side: str, mark: float, offset_bps: float) -> float:
    """Passive-side limit price: sell ``mark·(1+o)``, buy ``mark·(1−o)``, ``o = offset_bps/10⁴``."""
    o = offset_bps / 10_000.0
    return mark * (1.0 + o) if side == "sell" else mark * (1.0 - o)


def _round_down(contracts: float, step: float) -> float:
    if step <= 0:
        return contracts
    n = int(contracts / step + 1e-9)
    return round(n * step, 12)


def execute_order(
    venue: Venue,
    order: OrderRequest,
    *,
    offset_bps: float = 2.0,
    timeout_s: float = 30.0,
    fallback: Fallback | str = "market",
    poll_interval_s: float = 1.0,
    max_reprices: int = 3,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_order: Callable[[OrderResult], None] | None = None,
) -> ExecutionReport:
    """Fill ``order.contracts`` on ``venue``; see the module docstring.

    ``order.order_type``/``price`` are ignored (the price comes from the mark and
    ``offset_bps``) unless ``order.order_type == "market"``, which is sent as is.
    ``on_order`` is called with every order result observed (for the journal).
    """
    if fallback not in FALLBACKS:
        raise InputError(f"fallback: must be one of {', '.join(FALLBACKS)}, got {fallback!r}")
    if timeout_s < 0:
        raise InputError(f"timeout_s: must be >= 0, got {timeout_s}")
    inst = venue.instrument(order.symbol)
    report = ExecutionReport(requested_contracts=order.contracts)
    notify = on_order or (lambda _r: None)

    def run_one(req: OrderRequest, deadline: float | None) -> OrderResult:
        res = venue.place_order(req)
        notify(res)
        while not res.is_final and (deadline is None or clock() < deadline):
            sleep(poll_interval_s)
            got = venue.fetch_order(req.symbol, req.client_order_id)
            if got is None:
                raise ExchangeError(
                    f"{venue.name}: order {req.client_order_id} vanished after placement; "
                    "run 'althedge hedge status' to reconcile"
                )
            res = got
            notify(res)
        if not res.is_final:
            venue.cancel_order(req.symbol, req.client_order_id)
            got = venue.fetch_order(req.symbol, req.client_order_id)
            res = got if got is not None else res
            notify(res)
        return res

    if order.order_type == "market":
        res = run_one(order, clock() + max(timeout_s, poll_interval_s))
        report.orders.append(res)
        return report

    attempt = 0
    cid = order.client_order_id
    while True:
        remaining = _round_down(report.remaining_contracts, inst.lot_step)
        if remaining <= 0 or remaining < inst.min_contracts:
            return report
        mark = venue.mark_price(order.symbol)
        req = replace(
            order,
            contracts=remaining,
            order_type="limit",
            price=limit_price_at_offset(order.side, mark, offset_bps),
            client_order_id=cid,
        )
        report.orders.append(run_one(req, clock() + timeout_s))
        remaining = _round_down(report.remaining_contracts, inst.lot_step)
        if remaining <= 0 or remaining < inst.min_contracts or fallback == "none":
            return report
        attempt += 1
        if fallback == "reprice" and attempt <= max_reprices:
            cid = client_order_id(order.client_order_id, attempt, "reprice")
            continue
        mreq = replace(
            order,
            contracts=remaining,
            order_type="market",
            price=None,
            post_only=False,
            client_order_id=client_order_id(order.client_order_id, attempt, "market"),
        )
        report.orders.append(run_one(mreq, clock() + max(timeout_s, poll_interval_s)))
        return report
