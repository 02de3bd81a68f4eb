"""Limit-at-offset execution with a timeout and a fallback, for any :class:`Venue`.

``execute_order(venue, order, offset_bps, timeout_s, fallback)`` — the one order
loop of althedge (``venue.execute`` on both venues and the hedge lifecycle use it):

1. price a limit order at ``offset_bps`` from the mark, on the passive side:
   a sell at ``mark·(1 + offset/10⁴)``, a buy at ``mark·(1 − offset/10⁴)``
   (a negative offset crosses the spread), rounded to the tick toward the fill
   (a sell down, a buy up) — or, with ``as_planned=True``, send ``order`` exactly
   as given (the lifecycle planned, capped and showed that order);
2. place it (idempotent by client order id) and poll ``fetch_order`` until it is
   final or ``timeout_s`` has passed (a market order is polled at least once).
   A placement that fails is never re-sent blindly: the venue is asked whether it
   got the order (``on_not_sent`` is told when it did not, then the error raised);
3. on timeout cancel it, read its final fill (still working after the cancel =
   ``canceled``), and for the remainder apply ``fallback``: ``"market"`` (a market
   order), ``"reprice"`` (a new limit at the new mark, up to ``max_reprices``
   times, then market) or ``"none"`` (stop; the report shows the unfilled
   remainder). A market order is the last attempt; a rejected order ends the
   execution (the report shows it); a remainder below the exchange minimum is not
   sent.

Every follow-up order gets a deterministic client id derived from the original
(``client_order_id(original_id, n, "reprice"|"market")``, n = 1, 2, … — see
:func:`althedge.venues.protocol.client_order_id`), so re-running the same execution
after a crash finds the orders already sent instead of sending them again.
Partial fills accumulate; ``reduce_only`` is carried to every child order.

Hooks, for a caller that journals (the lifecycle): ``before_send(order)`` runs
before every placement (write the intent first), ``on_order(result)`` with every
result observed (placed, polled, after the cancel), ``on_not_sent(order)`` when the
venue confirms a failed placement never arrived.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Literal, NoReturn

from althedge.errors import ExchangeError, InputError, OrderOutcomeUnknownError
from althedge.venues.protocol import Fee, OrderRequest, OrderResult, Venue, client_order_id

__all__ = [
    "FALLBACKS",
    "ExecutesOrders",
    "ExecutionReport",
    "Fallback",
    "execute_order",
    "limit_price_at_offset",
    "round_price_to_tick",
    "round_to_step",
]

Fallback = Literal["market", "reprice", "none"]
FALLBACKS: tuple[str, ...] = ("market", "reprice", "none")
#: contracts below this are float noise
_EPS = 1e-9


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


def round_to_step(x: float, step: float) -> float:
    """``x`` floored to a multiple of ``step`` (contracts to the lot step); ``step <= 0``: as is."""
    if step <= 0:
        return x
    return round(math.floor(x / step + 1e-9) * step, 12)


def round_price_to_tick(price: float, tick: float, side: str) -> float:
    """Round to the tick, toward the fill: a sell down, a buy up (exact decimals)."""
    if tick <= 0:
        return price
    n = price / tick
    n = math.floor(n + 1e-9) if side == "sell" else math.ceil(n - 1e-9)
    decimals = max(0, -Decimal(str(tick)).as_tuple().exponent)  # type: ignore[operator]
    return round(n * tick, decimals)


def limit_price_at_offset(side: str, mark: float, offset_bps: float, tick: float = 0.0) -> float:
    """Passive-side limit price: sell ``mark·(1+o)``, buy ``mark·(1−o)``, ``o = offset_bps/10⁴``.

    With ``tick > 0`` the price is rounded to the tick toward the fill
    (:func:`round_price_to_tick`).
    """
    o = offset_bps / 10_000.0
    price = mark * (1.0 + o) if side == "sell" else mark * (1.0 - o)
    return round_price_to_tick(price, tick, side)


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
    before_send: Callable[[OrderRequest], None] | None = None,
    on_not_sent: Callable[[OrderRequest], None] | None = None,
    as_planned: bool = False,
) -> ExecutionReport:
    """Fill ``order.contracts`` on ``venue``; see the module docstring.

    ``order.order_type``/``price`` are ignored (the price comes from the mark and
    ``offset_bps``) unless ``order.order_type == "market"``, which is sent as is, or
    ``as_planned`` is set, which sends ``order`` (type, price, size) as is first.
    ``before_send`` runs before every placement, ``on_order`` with every order
    result observed, ``on_not_sent`` when a failed placement never reached the venue.
    """
    if fallback not in FALLBACKS:
        raise InputError(f"fallback: must be one of {', '.join(FALLBACKS)}, got {fallback!r}")
    if timeout_s < 0:
        raise InputError(f"timeout_s: must be >= 0, got {timeout_s}")
    inst = venue.instrument(order.symbol)
    report = ExecutionReport(requested_contracts=order.contracts)
    notify = on_order or (lambda _r: None)

    def send(req: OrderRequest) -> OrderResult:
        if before_send is not None:
            before_send(req)
        try:
            res = venue.place_order(req)
        except OrderOutcomeUnknownError:
            raise  # the venue could not tell: the intent stays open for reconciliation
        except ExchangeError:
            # never re-send blindly: ask the venue whether it got the order
            found = venue.fetch_order(req.symbol, req.client_order_id)
            if found is None:
                if on_not_sent is not None:
                    on_not_sent(req)
                raise
            notify(found)
            if found.status == "rejected":
                raise  # the venue's own reason, one line
            return found
        notify(res)
        return res

    def abandon(req: OrderRequest, err: ExchangeError) -> NoReturn:
        """The order cannot be read (after the venue's retries): cancel it, then stop."""
        try:
            venue.cancel_order(req.symbol, req.client_order_id)
            final = venue.fetch_order(req.symbol, req.client_order_id)
        except ExchangeError:
            raise ExchangeError(
                f"{venue.name}: order {req.client_order_id} could not be read or cancelled "
                f"({err}); it may still be working — cancel it on the exchange, then run "
                "'althedge hedge status' to reconcile"
            ) from None
        if final is not None:
            notify(final if final.is_final else replace(final, status="canceled"))
        raise ExchangeError(
            f"{venue.name}: order {req.client_order_id} could not be read ({err}); it was "
            "cancelled; run 'althedge hedge status' to reconcile, then retry"
        ) from None

    def work(req: OrderRequest) -> OrderResult:
        res = send(req)
        deadline = clock() + timeout_s
        polled = False
        while not res.is_final:
            left = deadline - clock()
            if left <= 0 and (polled or req.order_type != "market"):
                break
            sleep(min(poll_interval_s, left) if left > 0 else poll_interval_s)
            polled = True
            try:
                got = venue.fetch_order(req.symbol, req.client_order_id)
            except ExchangeError as err:
                abandon(req, err)
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
            if not res.is_final:  # we cancelled it: nothing more fills
                res = replace(res, status="canceled")
            notify(res)
        return res

    def limit_at_mark(contracts: float, cid: str) -> OrderRequest:
        mark = venue.mark_price(order.symbol)
        return replace(
            order,
            contracts=contracts,
            order_type="limit",
            price=limit_price_at_offset(order.side, mark, offset_bps, inst.tick_size),
            client_order_id=cid,
        )

    if as_planned or order.order_type == "market":
        req = order
    else:
        size = round_to_step(order.contracts, inst.lot_step)
        if size <= _EPS or size < inst.min_contracts:
            return report
        req = limit_at_mark(size, order.client_order_id)
    follow_ups = 0
    while True:
        res = work(req)
        report.orders.append(res)
        if res.status == "rejected" or req.order_type == "market" or fallback == "none":
            return report
        remaining = round_to_step(report.remaining_contracts, inst.lot_step)
        if remaining <= _EPS or remaining < inst.min_contracts:
            return report
        follow_ups += 1
        if fallback == "reprice" and follow_ups <= max_reprices:
            req = limit_at_mark(
                remaining, client_order_id(order.client_order_id, follow_ups, "reprice")
            )
        else:
            req = replace(
                order,
                contracts=remaining,
                order_type="market",
                price=None,
                post_only=False,
                client_order_id=client_order_id(order.client_order_id, follow_ups, "market"),
            )


class ExecutesOrders:
    """Mixin giving a venue ``execute(...)``: :func:`execute_order` on the venue's own clock.

    A venue supplies ``_execution_clock()`` → ``(sleep, clock)``: real time for an
    exchange, a simulated clock for paper (so a paper execution never waits).
    """

    def _execution_clock(self) -> tuple[Callable[[float], None], Callable[[], float]]:
        return time.sleep, time.monotonic

    def execute(
        self,
        order: OrderRequest,
        offset_bps: float = 2.0,
        timeout_s: float = 30.0,
        fallback: Fallback | str = "market",
        *,
        poll_interval_s: float = 1.0,
        max_reprices: int = 3,
        on_order: Callable[[OrderResult], None] | None = None,
    ) -> ExecutionReport:
        """Limit at ``offset_bps`` from mark, poll until ``timeout_s``, then ``fallback``.

        See :func:`althedge.venues.execution.execute_order`.
        """
        sleep, clock = self._execution_clock()
        return execute_order(
            self,  # type: ignore[arg-type]  # the class mixing this in is the Venue
            order,
            offset_bps=offset_bps,
            timeout_s=timeout_s,
            fallback=fallback,
            poll_interval_s=poll_interval_s,
            max_reprices=max_reprices,
            sleep=sleep,
            clock=clock,
            on_order=on_order,
        )
