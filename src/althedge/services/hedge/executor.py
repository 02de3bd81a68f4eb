"""The journaled executor: it alone sends, polls and cancels orders for the lifecycle.

Sending an order is three journaled steps::

    intent row (client order id fixed)  →  venue.place_order  →  result + fills

A crash between any two leaves a state the next command reconciles
(:mod:`althedge.services.hedge.reconcile`): an ``intent`` the venue never saw becomes
``not_sent``; one it did see gets its fills. Because client order ids are
deterministic (:func:`althedge.venues.protocol.client_order_id`), retrying the same
step can never create a second order. The order loop itself (limit, poll, cancel,
fallback) is :func:`althedge.venues.execution.execute_order`; the executor journals
through its hooks.

Steps: after each journaled step the lifecycle calls :func:`step` with one of
:data:`STEPS` (in the order they happen). It does nothing unless a hook was
installed with :func:`set_step_hook` (or passed as ``on_step``) — the crash-safety
tests install one that kills the process there (tests/crash_run.py).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from althedge.errors import ExchangeError, InputError, JournalError
from althedge.journal import Journal
from althedge.services.hedge.common import (
    is_simulated,
    persist,
    record_result,
    signed,
    venue_now_iso,
    venue_now_ms,
)
from althedge.services.hedge.reconcile import predates, refuse_taken_id, sync_deposits
from althedge.services.hedge.record import HedgeRecord
from althedge.venues.execution import execute_order
from althedge.venues.limits import Limits, check_order, order_notional_usd, worst_fill_price
from althedge.venues.protocol import OrderRequest, OrderResult, Venue

__all__ = [
    "STEPS",
    "ExecutionSettings",
    "JournaledExecutor",
    "StepHook",
    "set_step_hook",
    "step",
]

StepHook = Callable[[str], None]

#: Named steps of the lifecycle, in the order they happen: the hedge row written, the
#: leverage set, an order's intent journaled, the order at the venue (``sent``), its
#: result journaled, a leg placed, the close's buy-backs done.
STEPS = (
    "hedge_recorded",
    "leverage_set",
    "intent",
    "sent",
    "recorded",
    "leg_placed",
    "closed_orders",
)

_hook: list[StepHook | None] = [None]


def set_step_hook(hook: StepHook | None) -> StepHook | None:
    """Install ``hook`` (called with each step's name; None removes it); the previous one."""
    previous = _hook[0]
    _hook[0] = hook
    return previous


def step(name: str, on_step: StepHook | None = None) -> None:
    """A step of :data:`STEPS` is done: call ``on_step`` or the installed hook, if any."""
    hook = on_step or _hook[0]
    if hook is not None:
        hook(name)


#: ExecutionSettings fields that belong to one command (not reused from the open's record)
ONE_OFF_EXECUTION_FIELDS = ("limit_prices_usd", "limit_prices_buy_usd", "limit_at")


@dataclass(frozen=True)
class ExecutionSettings:
    """How orders are worked.

    ``offset_bps``: limit price distance from mark in basis points, on the passive
    side (sell at mark·(1+o), buy at mark·(1−o)); negative crosses the spread.
    ``timeout_s``: how long a limit order may work before the ``fallback``:
    ``"market"`` (cancel, send the rest at market), ``"reprice"`` (cancel, re-send the
    rest as a limit at the new mark, up to ``max_reprices`` times, then market) or
    ``"cancel"`` (leave the rest unfilled; rebalance later).
    ``limit_prices_usd``: a fixed limit price per hedge asset (``{"BTC": 81572.4}``,
    from ``--limit-at``, e.g. a volume-profile level) used instead of the mark ± offset
    for that asset's limit orders; ``limit_at`` says what it was (``"vah"``, a price).
    ``limit_prices_buy_usd``: the same for buy orders when it differs by side (a
    rebalance may grow one leg and shrink another); empty = ``limit_prices_usd``.
    """

    order_type: Literal["limit", "market"] = "limit"
    offset_bps: float = 0.0
    timeout_s: float = 30.0
    poll_s: float = 1.0
    fallback: Literal["market", "reprice", "cancel"] = "market"
    max_reprices: int = 3
    #: slippage beyond the mark assumed when an order is checked against the caps (bp)
    max_slippage_bps: float = 50.0
    limit_prices_usd: Mapping[str, float] = field(default_factory=dict)
    limit_at: str | None = None
    limit_prices_buy_usd: Mapping[str, float] = field(default_factory=dict)

    def limit_price_usd(self, side: str, asset: str) -> float | None:
        """The ``--limit-at`` price for an order on ``side`` in ``asset``, if one was set."""
        prices = self.limit_prices_buy_usd if side == "buy" and self.limit_prices_buy_usd else (
            self.limit_prices_usd
        )
        return prices.get(asset)

    def __post_init__(self) -> None:
        for asset, px in {**self.limit_prices_usd, **self.limit_prices_buy_usd}.items():
            if not (math.isfinite(px) and px > 0):
                raise InputError(f"--limit-at: the {asset} limit price must be > 0, got {px}")
        if (self.limit_prices_usd or self.limit_prices_buy_usd) and self.order_type != "limit":
            raise InputError("--limit-at: needs --order-type limit")
        if self.order_type not in ("limit", "market"):
            raise InputError(f"--order-type: must be limit or market, got {self.order_type!r}")
        if self.fallback not in ("market", "reprice", "cancel"):
            raise InputError(
                f"--fallback: must be market, reprice or cancel, got {self.fallback!r}"
            )
        if not (math.isfinite(self.offset_bps) and abs(self.offset_bps) < 1000):
            raise InputError(f"--offset-bps: must be within ±1000, got {self.offset_bps}")
        if self.timeout_s < 0 or self.poll_s <= 0:
            raise InputError("--timeout: must be >= 0 seconds (and the poll interval > 0)")



@dataclass
class JournaledExecutor:
    """Sends, polls and cancels ``hedge``'s orders on ``venue``, journaling every step."""

    journal: Journal
    venue: Venue
    hedge: HedgeRecord
    execution: ExecutionSettings = field(default_factory=ExecutionSettings)
    on_step: StepHook | None = None
    sleep: Callable[[float], None] = time.sleep
    #: the caps, checked again just before every order that grows the hedge is sent
    #: (fallbacks and reprices included) against the venue's position at that moment
    limits: Limits | None = None

    def __post_init__(self) -> None:
        # every command builds a new venue: each leg's margin mode comes from the record
        for leg in self.hedge.legs:
            if leg.margin_mode in ("isolated", "cross"):
                self.venue.use_margin_mode(leg.symbol, leg.margin_mode)

    def step(self, name: str) -> None:
        step(name, self.on_step)

    def execute(self, order: OrderRequest, *, purpose: str) -> list[dict[str, Any]]:
        """Work ``order`` through :func:`~althedge.venues.execution.execute_order`, journaled.

        Every child order (the planned one and each fallback) is three journaled steps:
        its ``intent`` row before it is sent (step ``intent``), ``sent`` once the venue
        has it (``sent``), then its status and fills (``recorded``); later answers
        (polls, the cancel) are recorded as they come. A rejection raises
        :class:`ExchangeError` after it is journaled. Returns every child order's final
        state.
        """
        journal, venue, hedge = self.journal, self.venue, self.hedge
        seen: set[str] = set()
        intent_ms: dict[str, int] = {}

        def before_send(req: OrderRequest) -> None:
            self.check_caps(req)
            intent_ms[req.client_order_id] = venue_now_ms(venue)
            journal.record_intent(
                hedge_id=hedge.id,
                client_order_id=req.client_order_id,
                venue=venue.name,
                symbol=req.symbol,
                side=req.side,
                amount=req.contracts,
                order_type=req.order_type,
                price=req.price,
                reduce_only=req.reduce_only,
                purpose=purpose,
                at=venue_now_iso(venue),
            )
            self.step("intent")

        def on_not_sent(req: OrderRequest) -> None:
            persist(venue)
            journal.mark_status(req.client_order_id, "not_sent", at=venue_now_iso(venue))

        def on_order(res: OrderResult) -> None:
            persist(venue)
            if res.client_order_id in seen:
                record_result(journal, res, at=venue_now_iso(venue))
                return
            seen.add(res.client_order_id)
            row = journal.order(res.client_order_id)
            first = row.created_at if row is not None else intent_ms.get(res.client_order_id)
            wall = row.created_wall_ms if row is not None else None
            if predates(res, first, wall):  # the venue answered with someone else's older order
                line = refuse_taken_id(journal, venue, row or res.client_order_id, res,
                                       intent_ms.get(res.client_order_id))
                raise JournalError(
                    f"hedge {purpose}: {line}. Nothing was recorded as this order's result; "
                    "run the command again (`althedge hedge status` shows journal and venue)"
                )
            try:
                journal.mark_status(res.client_order_id, "sent", at=venue_now_iso(venue))
                self.step("sent")
                record_result(journal, res, at=venue_now_iso(venue))
                sync_deposits(journal, venue, hedge)
            except JournalError as exc:  # the order IS at the venue: say so, and the way on
                raise JournalError(
                    f"{exc}. Order {res.client_order_id} ({res.side} {res.contracts:g} "
                    f"{res.symbol}) WAS sent to {venue.name} and its intent is journaled: "
                    "once the journal can be written, any althedge command (e.g. `althedge "
                    "hedge status`) records its result from the venue"
                ) from None
            self.step("recorded")

        # a simulated venue (paper) only moves when its clock does: waiting is pointless
        simulated = is_simulated(venue)
        ex = self.execution
        report = execute_order(
            venue,
            order,
            offset_bps=ex.offset_bps,
            timeout_s=0.0 if simulated else ex.timeout_s,
            fallback="none" if ex.fallback == "cancel" else ex.fallback,
            poll_interval_s=ex.poll_s,
            max_reprices=ex.max_reprices,
            sleep=self.sleep,
            clock=time.monotonic,
            on_order=on_order,
            before_send=before_send,
            on_not_sent=on_not_sent,
            as_planned=True,
        )
        last = report.orders[-1]
        if last.status == "rejected":
            raise ExchangeError(
                f"order {last.client_order_id}: the venue rejected "
                f"{last.side} {last.contracts:g} {last.symbol}; see `hedge status`"
            )
        return [o.to_dict() for o in report.orders]

    def check_caps(self, req: OrderRequest) -> None:
        """Refuse (:class:`LimitExceededError`, nothing journaled or sent) an order that
        would take the hedge past a cap: the TOTAL position after it — what the venue
        holds now on its symbol plus the order, and the hedge's other legs — valued at the
        worst price it can fill at."""
        if self.limits is None or req.reduce_only:
            return
        venue, slip = self.venue, self.execution.max_slippage_bps
        others = 0.0
        for symbol in self.hedge.symbols:
            if symbol == req.symbol:
                continue
            held = max(-signed(venue.position(symbol)), 0.0)
            if held > 0:
                mark = venue.mark_price(symbol)
                others += order_notional_usd(
                    venue.instrument(symbol), held, worst_fill_price("sell", mark, None, slip)
                )
        mark = venue.mark_price(req.symbol)
        check_order(
            self.limits,
            req,
            venue.instrument(req.symbol),
            worst_fill_price(req.side, mark, req.price, slip),
            position_contracts=max(-signed(venue.position(req.symbol)), 0.0)
            if req.side == "sell" else 0.0,
            other_notional_usd=others,
        )

    def execute_all(
        self, orders: Sequence[OrderRequest], *, purpose: str
    ) -> list[dict[str, Any]]:
        """:meth:`execute` each planned order in turn; every child order's final state."""
        executed: list[dict[str, Any]] = []
        for order in orders:
            executed.extend(self.execute(order, purpose=purpose))
        return executed

    def cancel_working(self, live: bool) -> list[str]:
        """Our orders still working at the venue (e.g. left by a crash mid-execution).

        Live: cancel each, record its final fills, so the resize that follows sizes
        against a position that can no longer change under it (nothing doubled).
        Dry run: only name them. Returns one line per order.
        """
        journal, venue = self.journal, self.venue
        lines: list[str] = []
        for order in journal.orders(self.hedge.id, ["open", "partially_filled"]):
            lines.append(
                f"working order {order.client_order_id} ({order.side} {order.amount:g}, "
                f"{order.filled:g} filled) "
                + ("cancelled first" if live else "would be cancelled first")
            )
            if not live:
                continue
            venue.cancel_order(order.symbol, order.client_order_id)
            persist(venue)
            final = venue.fetch_order(order.symbol, order.client_order_id)
            if final is not None:
                record_result(journal, final, at=venue_now_iso(venue))
            if final is None or not final.is_final:
                journal.mark_status(order.client_order_id, "canceled", at=venue_now_iso(venue))
        return lines
