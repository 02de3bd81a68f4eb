"""Hedge lifecycle: open, status, rebalance, close — against any :class:`Venue`, journaled.

Every command starts with :func:`reconcile`: orders the journal left unfinished
(``intent``/``sent``/``open``) are looked up at the venue **by client order id** —
never re-sent — and their fills recorded; the journal's net position is compared
with the venue's position and with the venue's open orders, and every difference
is reported before anything else happens.

Sending an order is three journaled steps::

    intent row (client order id fixed)  →  venue.place_order  →  result + fills

A crash between any two leaves a state the next command reconciles: an ``intent``
the venue never saw becomes ``not_sent``; one it did see gets its fills. Because
client order ids are deterministic — a planned order's from the hedge's key and the
order's sequence number, a fallback's from the planned order's id
(:func:`althedge.venues.protocol.client_order_id`) — retrying the same step can
never create a second order. The order loop itself (limit, poll, cancel, fallback)
is :func:`althedge.venues.execution.execute_order`; the lifecycle journals through
its hooks.

A hedge has one *leg* per hedge asset of the plan (``[hedge] assets``: BTC, or BTC+ETH
with the planner's minimum-variance weights): one short per leg, each through the path
above, legs in turn (primary first). The journal keeps one hedge row whose settings list
the legs; orders, fills and funding carry their symbol, so every per-position step
(reconcile, funding, sizing, attribution) loops over the legs, and the portfolio is
counted once.

Dry run is the default (``live=False``): the exact orders are computed, checked
against the caps (:mod:`althedge.venues.limits`, which refuse live or not) and
returned; nothing is sent and nothing is journaled.

Attribution at close (all USD; ``fees_usd`` is negative, a cost)::

    portfolio_pnl_usd = Σ_i amount_i · (P_i,close − P_i,open)
    hedge_pnl_usd     = Σ_fills −signed_contracts · CS · price            (linear)
                      = P · Σ_fills signed_contracts · CS / price          (inverse, coin at P)
    funding_usd       = Σ funding received (negative = paid)  (inverse: coin × P)
    fees_usd          = −Σ fees paid                            (inverse: coin × P)
    collateral_usd    = Σ coin held or deposited as margin × (P − P_then)  (inverse; 0 linear)
    net_usd           = the sum of the five            (hedge … collateral summed over legs)

P is the closing mark. ``net_usd`` equals the change in total value (holdings at
market + the venue account's USD equity − collateral brought in at its price then)
exactly; the result carries both (``total_value_change_usd``, ``unexplained_usd``)
when the venue reports its equity (paper does).

Test-only hook: when the environment variable ``ALTHEDGE_TEST_CRASH_AFTER`` names
one of :data:`CRASH_POINTS`, the process calls ``os._exit(77)`` at that point. It
exists so the crash-safety tests can kill a real process between two steps; never
set it in normal use.
"""

from __future__ import annotations

import math
import operator
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from functools import reduce
from typing import Any, Literal

from althedge.core.instruments import ContractType, Instrument
from althedge.core.margin import maintenance_margin
from althedge.core.pnl import position_value_coin, position_value_usd
from althedge.errors import AlthedgeError, ExchangeError, InputError, JournalError
from althedge.journal import OPEN_STATUSES, HedgeRow, Journal, now_iso
from althedge.venues.execution import execute_order, limit_price_at_offset, round_to_step
from althedge.venues.limits import Limits, check_leverage, check_order, order_notional_usd
from althedge.venues.protocol import (
    OrderRequest,
    OrderResult,
    Venue,
    VenuePosition,
    client_order_id,
)

__all__ = [
    "CRASH_ENV",
    "CRASH_POINTS",
    "Alert",
    "AlertThresholds",
    "CloseResult",
    "ExecutionSettings",
    "HedgeStatus",
    "LegStatus",
    "LifecycleResult",
    "Reconciliation",
    "close_hedge",
    "hedge_status",
    "open_hedge",
    "plan_orders",
    "rebalance_hedge",
    "reconcile",
    "status_alerts",
]

CRASH_ENV = "ALTHEDGE_TEST_CRASH_AFTER"
#: Named points where the test-only crash hook may fire (in the order they happen).
CRASH_POINTS = (
    "hedge_recorded",
    "leverage_set",
    "intent",
    "sent",
    "recorded",
    "leg_placed",
    "closed_orders",
)
USD_LIKE = frozenset({"", "USD", "USDT", "USDC", "BUSD", "FDUSD"})
#: |journal − venue| contracts tolerated as float noise
_EPS = 1e-9

#: default warning thresholds (status warnings and monitor alerts)
BETA_DRIFT_WARN_PCT = 10.0
LIQUIDATION_WARN_PCT = 30.0
CORRELATION_WARN = 0.5
#: basis is only shown when the spot close is at most this many days from the venue's date
STALE_SPOT_DAYS = 3


def _persist(venue: Venue) -> None:
    """Venues that keep local state (paper) write it now, as an exchange would have it."""
    save = getattr(venue, "save", None)
    if callable(save):
        save()


def _crash_point(name: str) -> None:
    """Test-only: ``os._exit(77)`` when ``$ALTHEDGE_TEST_CRASH_AFTER == name``."""
    if os.environ.get(CRASH_ENV) == name:
        os._exit(77)


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class ExecutionSettings:
    """How orders are worked.

    ``offset_bps``: limit price distance from mark in basis points, on the passive
    side (sell at mark·(1+o), buy at mark·(1−o)); negative crosses the spread.
    ``timeout_s``: how long a limit order may work before the ``fallback``:
    ``"market"`` (cancel, send the rest at market), ``"reprice"`` (cancel, re-send the
    rest as a limit at the new mark, up to ``max_reprices`` times, then market) or
    ``"cancel"`` (leave the rest unfilled; rebalance later).
    """

    order_type: Literal["limit", "market"] = "limit"
    offset_bps: float = 0.0
    timeout_s: float = 30.0
    poll_s: float = 1.0
    fallback: Literal["market", "reprice", "cancel"] = "market"
    max_reprices: int = 3

    def __post_init__(self) -> None:
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


# --------------------------------------------------------------------------- results


@dataclass
class Reconciliation:
    """What the start-of-command check found. ``differences`` are unresolved mismatches."""

    differences: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    journal_contracts: float | None = None
    venue_contracts: float | None = None
    #: signed venue contracts per symbol checked (every leg; the open's symbols)
    venue_positions: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.differences

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "differences": list(self.differences),
            "resolved": list(self.resolved),
            "journal_contracts": self.journal_contracts,
            "venue_contracts": self.venue_contracts,
        }


@dataclass
class LifecycleResult:
    """Outcome of open/rebalance (and the order part of close)."""

    action: str
    live: bool
    venue: str
    symbol: str
    as_of: str
    orders: list[dict[str, Any]]
    executed: list[dict[str, Any]]
    reconciliation: Reconciliation
    hedge_id: int | None = None
    target_contracts: float | None = None
    current_contracts: float | None = None
    drift_pct: float | None = None
    threshold_pct: float | None = None
    message: str = ""
    plan: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    #: one entry per leg (symbol, hedge asset, target, held, drift); primary first
    legs: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "live": self.live,
            "dry_run": not self.live,
            "venue": self.venue,
            "symbol": self.symbol,
            "as_of": self.as_of,
            "hedge_id": self.hedge_id,
            "target_contracts": self.target_contracts,
            "current_contracts": self.current_contracts,
            "drift_pct": self.drift_pct,
            "threshold_pct": self.threshold_pct,
            "orders": self.orders,
            "executed": self.executed,
            "message": self.message,
            "reconciliation": self.reconciliation.to_dict(),
            "warnings": list(self.warnings),
            "plan": self.plan,
            "legs": [dict(leg) for leg in self.legs],
        }


@dataclass
class CloseResult:
    """Close outcome and the attribution (USD; fees negative)."""

    result: LifecycleResult
    portfolio_pnl_usd: float
    hedge_pnl_usd: float
    funding_usd: float
    fees_usd: float
    net_usd: float
    total_value_open_usd: float | None
    total_value_close_usd: float | None
    estimated: bool
    collateral_usd: float = 0.0

    @property
    def total_value_change_usd(self) -> float | None:
        if self.total_value_open_usd is None or self.total_value_close_usd is None:
            return None
        return self.total_value_close_usd - self.total_value_open_usd

    def to_dict(self) -> dict[str, Any]:
        change = self.total_value_change_usd
        out = self.result.to_dict()
        out.update(
            {
                "portfolio_pnl_usd": self.portfolio_pnl_usd,
                "hedge_pnl_usd": self.hedge_pnl_usd,
                "funding_usd": self.funding_usd,
                "fees_usd": self.fees_usd,
                "collateral_usd": self.collateral_usd,
                "net_usd": self.net_usd,
                "total_value_open_usd": self.total_value_open_usd,
                "total_value_close_usd": self.total_value_close_usd,
                "total_value_change_usd": change,
                "unexplained_usd": None if change is None else change - self.net_usd,
                "estimated": self.estimated,
            }
        )
        return out


@dataclass
class LegStatus:
    """One leg of the hedge now: the short on one contract (USD figures; fees negative)."""

    symbol: str
    hedge_asset: str = ""
    contracts: float = 0.0
    target_contracts: float = 0.0
    drift_pct: float | None = None
    hedge_notional_usd: float = 0.0  # face value of the short, USD
    collateral_coin: float = 0.0
    net_hedge_notional_usd: float = 0.0  # short face − collateral × mark, USD
    entry_price: float | None = None
    mark_price: float | None = None
    spot_price: float | None = None
    basis: float | None = None
    unrealised_pnl_usd: float = 0.0
    realised_pnl_usd: float = 0.0
    funding_usd: float = 0.0
    fees_usd: float = 0.0
    funding_rate: float | None = None
    funding_interval_hours: float | None = None
    margin_ratio: float | None = None
    liquidation_price: float | None = None
    liquidation_distance_pct: float | None = None
    leverage: float | None = None
    margin_mode: str | None = None
    basis_note: str = ""


#: HedgeStatus figures that are the sum of the legs' (money); the others are the primary's
_SUMMED = (
    "hedge_notional_usd",
    "net_hedge_notional_usd",
    "unrealised_pnl_usd",
    "realised_pnl_usd",
    "funding_usd",
    "fees_usd",
)
#: HedgeStatus figures taken from the primary (first) leg: they are per symbol
_PRIMARY = (
    "symbol",
    "contracts",
    "target_contracts",
    "collateral_coin",
    "drift_pct",
    "entry_price",
    "mark_price",
    "spot_price",
    "basis",
    "funding_rate",
    "funding_interval_hours",
    "margin_ratio",
    "liquidation_price",
    "liquidation_distance_pct",
    "leverage",
    "margin_mode",
)


@dataclass
class HedgeStatus:
    """Portfolio vs hedge now (``hedge_id`` None when no hedge is open).

    With several legs the portfolio figures appear once, the money figures
    (:data:`_SUMMED`) are summed over ``legs`` and the per-symbol ones
    (:data:`_PRIMARY`) are the primary leg's; ``legs`` has each leg's own.
    """

    reconciliation: Reconciliation
    hedge_id: int | None = None
    venue: str = ""
    symbol: str = ""
    as_of: str = ""
    portfolio_value_usd: float | None = None
    portfolio_pnl_usd: float | None = None
    current_beta: float | None = None
    target_beta: float | None = None
    beta_drift_pct: float | None = None
    correlation: float | None = None
    contracts: float | None = None
    target_contracts: float | None = None
    hedge_notional_usd: float | None = None  # face value of the short, USD
    collateral_coin: float = 0.0  # inverse: coin collateral whose long delta offsets the short
    net_hedge_notional_usd: float | None = None  # short face − collateral × mark, USD
    hedge_ratio_achieved: float | None = None  # net hedge / (V · β now)
    drift_pct: float | None = None
    entry_price: float | None = None
    mark_price: float | None = None
    spot_price: float | None = None
    basis: float | None = None
    unrealised_pnl_usd: float | None = None
    realised_pnl_usd: float | None = None
    funding_usd: float | None = None
    fees_usd: float | None = None
    funding_rate: float | None = None
    funding_interval_hours: float | None = None
    margin_ratio: float | None = None
    liquidation_price: float | None = None
    liquidation_distance_pct: float | None = None
    leverage: float | None = None
    margin_mode: str | None = None
    warnings: list[str] = field(default_factory=list)
    legs: list[LegStatus] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for leg in out["legs"]:
            leg.pop("basis_note", None)
        out["reconciliation"] = self.reconciliation.to_dict()
        out["open"] = self.hedge_id is not None
        return out


# --------------------------------------------------------------------------- helpers


def _fee_usd(result: OrderResult) -> float:
    """Fee paid (USD): settlement-currency fee, coin fees converted at the average price."""
    amount = result.fee.amount
    if not amount:
        return 0.0
    if result.fee.currency.upper() in USD_LIKE:
        return float(amount)
    return float(amount) * float(result.average_price or result.price or 0.0)


def _signed(position: VenuePosition | None) -> float:
    """Signed contracts of a venue position (+ long, − short)."""
    if position is None or position.contracts <= 0:
        return 0.0
    return float(position.side) * float(position.contracts)


def _record(journal: Journal, result: OrderResult) -> float:
    return journal.record_result(
        result.client_order_id,
        status=result.status,
        filled=result.filled_contracts,
        average_price=result.average_price,
        fee_usd=_fee_usd(result),
        exchange_order_id=result.exchange_order_id,
        at=now_iso(),
        fee_settle=float(result.fee.amount),
    )


def _to_usd(instrument: Instrument, amount: float, price: float) -> float:
    return amount if instrument.contract_type == ContractType.LINEAR else amount * price


def _hedge_key(hedge: HedgeRow) -> str:
    return str(hedge.settings.get("hedge_key") or f"{hedge.id}:{hedge.opened_at}")


def _leg_specs(hedge: HedgeRow) -> list[dict[str, Any]]:
    """The hedge's legs as opened (primary first): symbol, hedge asset, leverage, margin
    mode, settlement balance and mark at open. A one-leg hedge journaled before legs
    existed has them in its top-level settings."""
    legs = hedge.settings.get("legs")
    if legs:
        return [dict(leg) for leg in legs]
    s = hedge.settings
    return [
        {
            "symbol": hedge.symbol,
            "hedge_asset": s.get("hedge_asset", ""),
            "leverage": s.get("leverage", 1.0),
            "margin_mode": s.get("margin_mode"),
            "balance_open_settle": s.get("balance_open_settle"),
            "mark_open": s.get("mark_open"),
        }
    ]


def _leg_symbols(hedge: HedgeRow) -> list[str]:
    return [str(leg["symbol"]) for leg in _leg_specs(hedge)]


@dataclass
class _LiveLeg:
    """One leg of the open hedge as the venue has it now."""

    spec: dict[str, Any]
    instrument: Instrument
    mark: float
    current: float  # contracts short at the venue now

    @property
    def symbol(self) -> str:
        return str(self.spec["symbol"])


def _live_legs(venue: Venue, hedge: HedgeRow) -> list[_LiveLeg]:
    return [
        _LiveLeg(
            spec=spec,
            instrument=venue.instrument(spec["symbol"]),
            mark=venue.mark_price(spec["symbol"]),
            current=max(-_signed(venue.position(spec["symbol"])), 0.0),
        )
        for spec in _leg_specs(hedge)
    ]


def _plan_leg(plan: Any, symbol: str, index: int) -> Any:
    """The plan's :class:`HedgeLeg` for ``symbol`` (else the one at ``index``, else the primary)."""
    for leg in plan.hedges:
        if leg.instrument == symbol:
            return leg
    return plan.hedges[index] if index < len(plan.hedges) else plan.hedge


def _leg_label(n_legs: int, symbol: str) -> str:
    """`` (SYMBOL)`` naming a leg in a message when the hedge has several, else nothing."""
    return f" ({symbol})" if n_legs > 1 else ""


def plan_orders(
    *,
    hedge_key: str,
    first_step: int,
    purpose: str,
    instrument: Instrument,
    current_short: float,
    target_short: float,
    mark_price: float,
    execution: ExecutionSettings,
    limits: Limits,
    leverage: float | None = None,
    close_all: bool = False,
) -> list[OrderRequest]:
    """The orders that take the short from ``current_short`` to ``target_short`` contracts.

    Growing the short: a sell, never reduce-only. Shrinking: a reduce-only buy.
    Sizes are floored to the lot step; a change below the exchange minimum sends
    nothing (``close_all`` buys back the whole position whatever its size). Every
    order is checked against the caps (:func:`althedge.venues.limits.check_order`),
    which raise :class:`LimitExceededError` — dry run or not.
    """
    delta = target_short - current_short
    if close_all:
        delta = -current_short
    size = abs(delta) if close_all else round_to_step(abs(delta), instrument.lot_step)
    if size <= _EPS or (not close_all and size < instrument.min_contracts - _EPS):
        return []
    side: Literal["buy", "sell"] = "sell" if delta > 0 else "buy"
    if execution.order_type == "limit":
        price: float | None = limit_price_at_offset(
            side, mark_price, execution.offset_bps, instrument.tick_size
        )
    else:
        price = None
    order = OrderRequest(
        symbol=instrument.symbol,
        side=side,
        contracts=size,
        order_type=execution.order_type,
        client_order_id=client_order_id(hedge_key, first_step, purpose),
        price=price,
        reduce_only=side == "buy",
    )
    check_order(
        limits,
        order,
        instrument,
        price or mark_price,
        position_contracts=max(current_short, 0.0),
        leverage=leverage,
    )
    return [order]


def _order_view(order: OrderRequest, instrument: Instrument, mark: float) -> dict[str, Any]:
    d = order.to_dict()
    d["notional_usd"] = order_notional_usd(instrument, order.contracts, order.price or mark)
    d["reference_price"] = order.price or mark
    return d


# --------------------------------------------------------------------------- reconcile


def reconcile(
    journal: Journal, venue: Venue, symbol: str | Sequence[str] | None = None
) -> Reconciliation:
    """Bring the journal up to date with the venue and report what differs.

    1. Each order the journal left unfinished is fetched by client order id: its
       fills are recorded; one the venue never received becomes ``not_sent``.
    2. Working orders at the venue that the journal does not know are reported.
    3. The journal's net position (sum of fills) is compared with the venue's, for
       every leg of the open hedge (or, with none open, for ``symbol``/each symbol).
    Writes a ``reconcile`` event when anything was found.
    """
    rec = Reconciliation()
    hedge = journal.active_hedge()
    wanted = [symbol] if isinstance(symbol, str) else list(symbol or [])
    legs = _leg_symbols(hedge) if hedge is not None else []
    symbols = set(wanted) | set(legs)
    for order in journal.orders(statuses=OPEN_STATUSES):
        if order.venue != venue.name:
            continue
        symbols.add(order.symbol)
        remote = venue.fetch_order(order.symbol, order.client_order_id)
        if remote is None:
            if order.status == "intent":
                journal.mark_status(order.client_order_id, "not_sent", at=now_iso())
                rec.resolved.append(
                    f"order {order.client_order_id} ({order.side} {order.amount:g}) was journaled "
                    "but never reached the venue; marked not_sent (it will not be re-sent)"
                )
            else:
                rec.differences.append(
                    f"order {order.client_order_id} is '{order.status}' in the journal but "
                    "unknown to the venue"
                )
            continue
        added = _record(journal, remote)
        if remote.status != order.status or added > _EPS:
            rec.resolved.append(
                f"order {order.client_order_id} ({order.side} {order.amount:g}): "
                f"journal '{order.status}' → venue '{remote.status}', "
                f"{remote.filled_contracts:g} filled"
                + (f" ({added:g} newly recorded)" if added > _EPS else "")
            )
    known = {o.client_order_id for o in journal.orders()}
    if hedge is not None:
        for sym in legs:
            _import_liquidations(journal, venue, hedge, sym, known, rec)
        _sync_deposits(journal, venue, hedge)
    for sym in sorted(symbols):
        for remote in venue.open_orders(sym):
            if remote.client_order_id not in known:
                rec.differences.append(
                    f"venue has a working order {remote.client_order_id} ({remote.side} "
                    f"{remote.contracts:g} {sym}) that the journal does not know"
                )
    if hedge is not None:
        for i, sym in enumerate(legs):
            held = journal.net_contracts(hedge.id, sym)
            pos = rec.venue_positions[sym] = _signed(venue.position(sym))
            if i == 0:
                rec.journal_contracts, rec.venue_contracts = held, pos
            if abs(held - pos) > 1e-6:
                rec.differences.append(
                    f"position on {sym}: journal {held:+g} contracts, "
                    f"venue {pos:+g}; check the exchange before trading"
                )
    else:
        for i, sym in enumerate(wanted):
            pos = rec.venue_positions[sym] = _signed(venue.position(sym))
            if i == 0:
                rec.venue_contracts, rec.journal_contracts = pos, 0.0
            if abs(pos) > _EPS:
                rec.differences.append(
                    f"venue holds {pos:+g} contracts of {sym} that no open hedge in the "
                    "journal accounts for"
                )
    if rec.differences or rec.resolved:
        journal.record_event(hedge.id if hedge else None, "reconcile", rec.to_dict(), at=now_iso())
    return rec


def _import_liquidations(
    journal: Journal,
    venue: Venue,
    hedge: HedgeRow,
    symbol: str,
    known: set[str],
    rec: Reconciliation,
) -> None:
    """Journal forced closes (liquidations) the venue reports and the journal lacks.

    Uses the venue's optional ``fills_for(symbol)`` (paper has it); each liquidation
    fill becomes an order with purpose ``liquidation`` and its fill, plus an alert.
    """
    fills_for = getattr(venue, "fills_for", None)
    if not callable(fills_for):
        return
    for fill in fills_for(symbol):
        if not getattr(fill, "liquidation", False) or fill.client_order_id in known:
            continue
        at = now_iso()
        journal.record_intent(
            hedge_id=hedge.id,
            client_order_id=fill.client_order_id,
            venue=venue.name,
            symbol=fill.symbol,
            side=fill.side,
            amount=fill.contracts,
            order_type="market",
            price=fill.price,
            reduce_only=True,
            purpose="liquidation",
            at=at,
        )
        journal.record_result(
            fill.client_order_id,
            status="filled",
            filled=fill.contracts,
            average_price=fill.price,
            fee_usd=float(fill.fee.amount)
            * (1.0 if fill.fee.currency.upper() in USD_LIKE else fill.price),
            exchange_order_id=fill.trade_id,
            at=at,
            fee_settle=float(fill.fee.amount),
        )
        known.add(fill.client_order_id)
        message = (
            f"the venue liquidated the hedge: {fill.side} {fill.contracts:g} {fill.symbol} "
            f"at {fill.price:,.2f}; run `althedge hedge close` for the attribution"
        )
        journal.record_alert(
            hedge.id, kind="liquidated", severity="critical", message=message, at=at
        )
        rec.resolved.append(message)


# --------------------------------------------------------------------------- execution


def _execute(
    journal: Journal,
    venue: Venue,
    hedge: HedgeRow,
    instrument: Instrument,
    order: OrderRequest,
    *,
    purpose: str,
    execution: ExecutionSettings,
    sleep: Callable[[float], None] = time.sleep,
) -> list[dict[str, Any]]:
    """Work ``order`` through :func:`~althedge.venues.execution.execute_order`, journaled.

    Every child order (the planned one and each fallback) is three journaled steps:
    its ``intent`` row before it is sent (crash point ``intent``), ``sent`` once the
    venue has it (``sent``), then its status and fills (``recorded``); later answers
    (polls, the cancel) are recorded as they come. A rejection raises
    :class:`ExchangeError` after it is journaled.
    """
    seen: set[str] = set()

    def before_send(req: OrderRequest) -> None:
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
            at=now_iso(),
        )
        _crash_point("intent")

    def on_not_sent(req: OrderRequest) -> None:
        _persist(venue)
        journal.mark_status(req.client_order_id, "not_sent", at=now_iso())

    def on_order(res: OrderResult) -> None:
        _persist(venue)
        if res.client_order_id in seen:
            _record(journal, res)
            return
        seen.add(res.client_order_id)
        journal.mark_status(res.client_order_id, "sent", at=now_iso())
        _crash_point("sent")
        _record(journal, res)
        _sync_deposits(journal, venue, hedge)
        _crash_point("recorded")

    # a simulated venue (paper) only moves when its clock does: waiting is pointless
    simulated = callable(getattr(venue, "advance_to", None))
    report = execute_order(
        venue,
        order,
        offset_bps=execution.offset_bps,
        timeout_s=0.0 if simulated else execution.timeout_s,
        fallback="none" if execution.fallback == "cancel" else execution.fallback,
        poll_interval_s=execution.poll_s,
        max_reprices=execution.max_reprices,
        sleep=sleep,
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


@dataclass
class _Resize:
    """What rebalance and close both start from: the open hedge, checked and settled."""

    rec: Reconciliation
    hedge: HedgeRow
    working: list[str]  # our working orders, cancelled first (live) or named (dry run)
    execution: ExecutionSettings
    portfolio: Any
    legs: list[_LiveLeg]
    planned: int = 0  # orders planned so far in this command (client id steps taken)

    def orders(
        self, journal: Journal, purpose: str, leg: _LiveLeg, target: float, **kw: Any
    ) -> list[OrderRequest]:
        """:func:`plan_orders` taking ``leg`` from its current short to ``target``; each
        planned order takes the next journal step (legs planned in turn never share one)."""
        orders = plan_orders(
            hedge_key=_hedge_key(self.hedge),
            first_step=journal.order_count(self.hedge.id) + self.planned,
            purpose=purpose,
            instrument=leg.instrument,
            current_short=leg.current,
            target_short=target,
            mark_price=leg.mark,
            execution=self.execution,
            limits=Limits.from_config(self.portfolio.limits),
            **kw,
        )
        self.planned += len(orders)
        return orders


def _start_resize(
    journal: Journal,
    venue: Venue,
    what: str,
    *,
    live: bool,
    rec: Reconciliation | None,
    execution: ExecutionSettings | None,
) -> _Resize:
    """Reconcile (unless done), need an open hedge, refuse live trading on a difference,
    cancel our working orders, then read each leg's instrument, mark and current short."""
    rec = rec if rec is not None else reconcile(journal, venue)
    hedge = _need_hedge(journal, what)
    _refuse_if_unreconciled(rec, what, live)
    working = _cancel_working(journal, venue, hedge, live)
    stored = hedge.settings.get("execution") or {}
    return _Resize(
        rec=rec,
        hedge=hedge,
        working=working,
        execution=execution or ExecutionSettings(**stored),
        portfolio=_portfolio_from_hedge(hedge),
        legs=_live_legs(venue, hedge),
    )


def _execute_all(
    journal: Journal,
    venue: Venue,
    hedge: HedgeRow,
    instrument: Instrument,
    orders: Sequence[OrderRequest],
    *,
    purpose: str,
    execution: ExecutionSettings,
) -> list[dict[str, Any]]:
    """:func:`_execute` each planned order in turn; every child order's final state."""
    executed: list[dict[str, Any]] = []
    for order in orders:
        executed.extend(
            _execute(journal, venue, hedge, instrument, order, purpose=purpose, execution=execution)
        )
    return executed


def _cancel_working(journal: Journal, venue: Venue, hedge: HedgeRow, live: bool) -> list[str]:
    """Our orders still working at the venue (e.g. left by a crash mid-execution).

    Live: cancel each, record its final fills, so the resize that follows sizes
    against a position that can no longer change under it (nothing doubled).
    Dry run: only name them. Returns one line per order.
    """
    lines: list[str] = []
    for order in journal.orders(hedge.id, ["open", "partially_filled"]):
        lines.append(
            f"working order {order.client_order_id} ({order.side} {order.amount:g}, "
            f"{order.filled:g} filled) "
            + ("cancelled first" if live else "would be cancelled first")
        )
        if not live:
            continue
        venue.cancel_order(order.symbol, order.client_order_id)
        _persist(venue)
        final = venue.fetch_order(order.symbol, order.client_order_id)
        if final is not None:
            _record(journal, final)
        if final is None or not final.is_final:
            journal.mark_status(order.client_order_id, "canceled", at=now_iso())
    return lines


def _sync_funding(journal: Journal, venue: Venue, hedge: HedgeRow, instrument: Instrument) -> None:
    """Record funding payments the venue reports on ``instrument`` (one leg) since the
    hedge opened (idempotent)."""
    fetch = getattr(venue, "funding_payments", None) or getattr(venue, "funding_history", None)
    if fetch is None:
        return
    try:
        payments = fetch(instrument.symbol)
    except TypeError:
        return
    for p in payments or []:
        amount_usd = _to_usd(instrument, float(p.amount), float(p.mark_price))
        journal.record_funding(
            hedge.id,
            at=str(p.timestamp_ms),
            amount_usd=amount_usd,
            rate=float(p.rate),
            mark_price=float(p.mark_price),
            amount_settle=float(p.amount),
            symbol=instrument.symbol,
        )


def _sync_funding_all(journal: Journal, venue: Venue, hedge: HedgeRow) -> None:
    for symbol in _leg_symbols(hedge):
        _sync_funding(journal, venue, hedge, venue.instrument(symbol))


def _coin_price(venue: Venue, hedge: HedgeRow, currency: str) -> float:
    """USD price of a deposited coin: the mark of the leg settled in it (else the primary's)."""
    symbols = _leg_symbols(hedge)
    for symbol in symbols:
        if venue.instrument(symbol).settle.upper() == currency:
            return venue.mark_price(symbol)
    return venue.mark_price(symbols[0])


def _sync_deposits(journal: Journal, venue: Venue, hedge: HedgeRow) -> None:
    """Record collateral the venue account took in (paper auto-funding) since last seen.

    ``venue.deposits`` (optional; paper has it) is cumulative over the account's life;
    the journal keeps each increase with the USD price at the time (USD-like 1, a coin
    at the mark of the leg settled in it), so the attribution can value the collateral
    exactly.
    """
    current = getattr(venue, "deposits", None)
    if not isinstance(current, dict):
        return
    seen: dict[str, float] = {}
    for d in journal.deposits():
        seen[d["currency"]] = seen.get(d["currency"], 0.0) + float(d["amount"])
    for ccy, total in current.items():
        delta = float(total) - seen.get(str(ccy).upper(), 0.0)
        if delta > 1e-12:
            ccy_up = str(ccy).upper()
            price = 1.0 if ccy_up in USD_LIKE else _coin_price(venue, hedge, ccy_up)
            journal.record_deposit(
                hedge.id, currency=str(ccy), amount=delta, price_usd=price, at=now_iso()
            )


# --------------------------------------------------------------------------- plan glue


def _build_plan(portfolio: Any, source: Any, as_of: date | None) -> Any:
    from althedge.services.plan import build_plan

    return build_plan(portfolio, source, as_of)


def _portfolio_from_hedge(hedge: HedgeRow) -> Any:
    from althedge.config import parse_portfolio

    return parse_portfolio(dict(hedge.portfolio["config"]), source="journal")


def _prices_now(
    source: Any, assets: Sequence[str], as_of: date | None, overrides: dict[str, float]
) -> dict[str, float]:
    """Latest close on or before ``as_of`` per asset (USD); ``price_usd`` overrides win."""
    import pandas as pd

    assets = [a for a in assets if a not in overrides]
    if not assets:
        return dict(overrides)

    closes = source.closes(list(assets), end=pd.Timestamp(as_of) if as_of else None)
    if as_of is not None:
        closes = closes.loc[closes.index <= pd.Timestamp(as_of)]
    out: dict[str, float] = {}
    for asset in assets:
        col = closes[asset].dropna() if asset in closes else None
        if col is None or col.empty:
            raise InputError(f"prices: no close for {asset} on or before {as_of}; check --prices")
        out[asset] = float(col.iloc[-1])
    return {**out, **overrides}


def _venue_balance_usd(venue: Venue) -> float | None:
    """Account equity in USD (wallet + margins + unrealised PnL) when the venue reports it."""
    fn = getattr(venue, "equity_usd", None)
    if not callable(fn):
        return None
    try:
        return float(fn())
    except Exception:
        return None


def _venue_balance_settle(venue: Venue, currency: str) -> float | None:
    fn = getattr(venue, "balance", None)
    if not callable(fn):
        return None
    try:
        return float(fn(currency))
    except Exception:
        return None


def _need_hedge(journal: Journal, what: str) -> HedgeRow:
    hedge = journal.active_hedge()
    if hedge is None:
        raise InputError(
            f"{what}: no open hedge in the journal; run "
            "`althedge hedge open PORTFOLIO.toml --live` first "
            "(or pass the --data-dir that holds it)"
        )
    return hedge


def _refuse_if_unreconciled(rec: Reconciliation, what: str, live: bool) -> None:
    if live and rec.differences:
        raise JournalError(
            f"{what}: journal and venue disagree ({rec.differences[0]}); "
            "resolve it (see `althedge hedge status`) before trading"
        )


def _held_short(journal: Journal, hedge_id: int, symbol: str | None = None) -> float:
    """Contracts short for ``hedge_id`` (on ``symbol``) by the journal's fills (≥ 0, never −0.0)."""
    return max(-journal.net_contracts(hedge_id, symbol), 0.0) + 0.0


# --------------------------------------------------------------------------- open


def open_hedge(
    journal: Journal,
    venue: Venue,
    portfolio: Any,
    source: Any,
    *,
    as_of: date | None = None,
    live: bool = False,
    execution: ExecutionSettings | None = None,
    portfolio_path: str | None = None,
    extra_settings: dict[str, Any] | None = None,
    rec: Reconciliation | None = None,
) -> LifecycleResult:
    """Plan the hedge for ``portfolio`` and place the short — one per leg of the plan
    (``[hedge] assets``), primary first — only when ``live``."""
    execution = execution or ExecutionSettings()
    plan = _build_plan(portfolio, source, as_of)
    symbols = [leg.instrument for leg in plan.hedges]
    if rec is None:
        rec = reconcile(journal, venue, symbols)
    else:  # the caller reconciled (and reported) already; add the check for these symbols
        extra = reconcile(journal, venue, symbols)
        rec.differences += [d for d in extra.differences if d not in rec.differences]
        rec.resolved += extra.resolved
    existing = journal.active_hedge()
    if existing is not None:
        raise InputError(
            f"hedge open: hedge #{existing.id} on {existing.venue} {existing.symbol} is already "
            "open; use `althedge hedge rebalance` or `althedge hedge close`"
        )
    _refuse_if_unreconciled(rec, "hedge open", live)
    limits = Limits.from_config(portfolio.limits)
    key = journal.next_hedge_key()
    legs = _open_legs(venue, plan, rec, key, execution, limits)
    primary = legs[0]
    plan_dict = plan.to_dict()
    result = LifecycleResult(
        action="open",
        live=live,
        venue=venue.name,
        symbol=primary.symbol,
        as_of=str(plan.as_of),
        orders=[_order_view(o, leg.instrument, leg.mark) for leg in legs for o in leg.orders],
        executed=[],
        reconciliation=rec,
        target_contracts=primary.target,
        current_contracts=0.0,
        plan=plan_dict,
        warnings=list(plan.warnings),
        legs=[leg.view() for leg in legs],
    )
    if not any(leg.orders for leg in legs):
        result.message = (
            f"target {' + '.join(f'{leg.target:g}' for leg in legs)} contracts is below the "
            "minimum order; nothing to open"
        )
        return result
    if not live:
        result.message = "dry run: nothing sent; pass --live to place these orders"
        return result
    hedge_id = _record_open(
        journal, venue, portfolio, plan, legs, key, execution, portfolio_path, extra_settings
    )
    result.hedge_id = hedge_id
    _crash_point("hedge_recorded")
    for leg in legs:
        venue.set_leverage(leg.symbol, float(leg.plan_leg.leverage), str(leg.plan_leg.margin_mode))
    _persist(venue)
    _crash_point("leverage_set")
    for leg in legs:
        result.executed += _execute_all(
            journal,
            venue,
            journal.hedge(hedge_id),
            leg.instrument,
            leg.orders,
            purpose="open",
            execution=execution,
        )
        _crash_point("leg_placed")
    for view in result.legs:
        view["current_contracts"] = _held_short(journal, hedge_id, view["symbol"])
    result.current_contracts = result.legs[0]["current_contracts"]
    result.message = f"hedge #{hedge_id} opened: " + ", ".join(
        f"short {v['current_contracts']:g} {v['symbol']}" for v in result.legs
    )
    return result


@dataclass
class _OpenLeg:
    """A leg of the plan being opened: its instrument, mark, target and orders."""

    plan_leg: Any  # althedge.services.plan.HedgeLeg
    instrument: Instrument
    mark: float
    target: float
    orders: list[OrderRequest]

    @property
    def symbol(self) -> str:
        return str(self.plan_leg.instrument)

    def view(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "hedge_asset": self.plan_leg.hedge_asset,
            "target_contracts": self.target,
            "current_contracts": 0.0,
        }


def _open_legs(
    venue: Venue,
    plan: Any,
    rec: Reconciliation,
    key: str,
    execution: ExecutionSettings,
    limits: Limits,
) -> list[_OpenLeg]:
    """Each plan leg's orders (checked against the caps); client ids take steps 0, 1, …"""
    legs: list[_OpenLeg] = []
    step = 0
    for plan_leg in plan.hedges:
        check_leverage(limits, float(plan_leg.leverage))
        symbol = plan_leg.instrument
        instrument = venue.instrument(symbol)
        mark = venue.mark_price(symbol)
        target = float(plan_leg.contracts)
        orders = plan_orders(
            hedge_key=key,
            first_step=step,
            purpose="open",
            instrument=instrument,
            current_short=max(-rec.venue_positions.get(symbol, 0.0), 0.0),
            target_short=target,
            mark_price=mark,
            execution=execution,
            limits=limits,
            leverage=float(plan_leg.leverage),
        )
        step += len(orders)
        legs.append(_OpenLeg(plan_leg, instrument, mark, target, orders))
    return legs


def _record_open(
    journal: Journal,
    venue: Venue,
    portfolio: Any,
    plan: Any,
    legs: Sequence[_OpenLeg],
    key: str,
    execution: ExecutionSettings,
    portfolio_path: str | None,
    extra_settings: dict[str, Any] | None,
) -> int:
    """Write the hedge row (every leg in its settings) and its plan: one transaction."""
    leg = legs[0].plan_leg
    prices = {h.asset: float(h.price_usd) for h in plan.holdings}
    specs = [
        {
            "symbol": o.symbol,
            "hedge_asset": o.plan_leg.hedge_asset,
            "leverage": float(o.plan_leg.leverage),
            "margin_mode": str(o.plan_leg.margin_mode),
            "exchange": o.plan_leg.exchange,
            "balance_open_settle": _venue_balance_settle(venue, o.instrument.settle),
            "mark_open": o.mark,
        }
        for o in legs
    ]
    settings = {
        "hedge_key": key,
        "leverage": float(leg.leverage),
        "margin_mode": str(leg.margin_mode),
        "execution": asdict(execution),
        "exchange": leg.exchange,
        "balance_open_usd": _venue_balance_usd(venue),
        "balance_open_settle": specs[0]["balance_open_settle"],
        "mark_open": legs[0].mark,
        "hedge_asset": leg.hedge_asset,
        "legs": specs,
        **(extra_settings or {}),
    }
    return journal.create_hedge(
        venue=venue.name,
        symbol=legs[0].symbol,
        opened_at=now_iso(),
        portfolio={
            "config": portfolio.model_dump(mode="json", by_alias=True),
            "path": portfolio_path,
            "as_of": str(plan.as_of),
            "prices_open": prices,
            "amounts": {h.asset: float(h.amount) for h in plan.holdings},
            "value_open_usd": sum(float(h.amount) * prices[h.asset] for h in plan.holdings),
            "beta_open": float(plan.portfolio_beta),
            "correlation_open": float(plan.portfolio_correlation),
        },
        settings=settings,
        plan=plan.to_dict(),
    )


# --------------------------------------------------------------------------- status


def _realised_and_fees(
    journal: Journal, hedge: HedgeRow, instrument: Instrument, mark: float
) -> tuple[float, float]:
    """(hedge PnL in USD marked at ``mark`` incl. any open remainder, fees paid in USD) of
    the leg on ``instrument``."""
    fills = journal.fills(hedge.id, instrument.symbol)
    cs = instrument.contract_size
    fees = sum(f.fee_usd for f in fills)
    net = sum(f.signed_amount for f in fills)
    if instrument.contract_type == ContractType.LINEAR:
        cash = sum(-f.signed_amount * cs * f.price for f in fills)
        return cash + net * cs * mark, fees
    coin = sum(f.signed_amount * cs / f.price for f in fills) - net * cs / mark
    return coin * mark, fees


def _attribution(
    journal: Journal,
    hedge: HedgeRow,
    instrument: Instrument,
    mark: float,
    spec: dict[str, Any],
    deposits: Sequence[dict[str, Any]],
) -> dict[str, float]:
    """One leg's hedge PnL, funding, fees (negative) and collateral revaluation, USD at
    ``mark``.

    Linear: everything is already USD. Inverse: the account is held in the coin, so
    each coin amount (PnL, funding, fees) is valued at the closing mark, and the coin
    the account held before the hedge (``spec``) plus the coin deposited as margin
    (``deposits``, this leg's) gains or loses ``amount × (P_close − P_then)`` — the
    collateral's own long delta.
    """
    symbol = instrument.symbol
    hedge_pnl, fees_usd = _realised_and_fees(journal, hedge, instrument, mark)
    if instrument.contract_type == ContractType.LINEAR:
        return {
            "hedge_pnl_usd": hedge_pnl,
            "funding_usd": journal.funding_total_usd(hedge.id, symbol),
            "fees_usd": -fees_usd,
            "collateral_usd": 0.0,
        }
    funding_coin = sum(
        float(f["amount_settle"] or 0.0) for f in journal.funding(hedge.id, symbol)
    )
    fees_coin = sum(f.fee_settle for f in journal.fills(hedge.id, symbol))
    collateral = 0.0
    held = spec.get("balance_open_settle")
    mark_open = spec.get("mark_open")
    if held and mark_open:
        collateral += float(held) * (mark - float(mark_open))
    for d in deposits:
        if d["currency"] not in USD_LIKE:
            collateral += float(d["amount"]) * (mark - float(d["price_usd"]))
    return {
        "hedge_pnl_usd": hedge_pnl,
        "funding_usd": funding_coin * mark,
        "fees_usd": -fees_coin * mark,
        "collateral_usd": collateral,
    }


def _attribution_all(
    journal: Journal, hedge: HedgeRow, legs: Sequence[_LiveLeg]
) -> dict[str, float]:
    """:func:`_attribution` summed over the legs. A coin deposit belongs to the leg settled
    in that coin (one no leg settles in, to the primary)."""
    deposits = journal.deposits(hedge.id)
    settles = [leg.instrument.settle.upper() for leg in legs]
    parts = []
    for i, leg in enumerate(legs):
        own = [
            d for d in deposits
            if d["currency"] == settles[i] or (i == 0 and d["currency"] not in settles)
        ]
        parts.append(_attribution(journal, hedge, leg.instrument, leg.mark, leg.spec, own))
    return {k: reduce(operator.add, (p[k] for p in parts)) for k in parts[0]}


def hedge_status(
    journal: Journal,
    venue: Venue,
    source: Any,
    *,
    as_of: date | None = None,
    rec: Reconciliation | None = None,
) -> HedgeStatus:
    """Portfolio vs hedge now: beta (now vs at open), ratio achieved, PnL, funding, margin —
    the portfolio once, each leg in ``legs`` (see :class:`HedgeStatus` for the totals)."""
    rec = rec if rec is not None else reconcile(journal, venue)
    hedge = journal.active_hedge()
    status = HedgeStatus(reconciliation=rec)
    if hedge is None:
        status.warnings.extend(rec.differences)
        return status
    portfolio = _portfolio_from_hedge(hedge)
    plan = _build_plan(portfolio, source, as_of)
    amounts: dict[str, float] = hedge.portfolio["amounts"]
    prices_open: dict[str, float] = hedge.portfolio["prices_open"]
    prices_now = {h.asset: float(h.price_usd) for h in plan.holdings}
    value_now = sum(amounts[a] * prices_now.get(a, prices_open[a]) for a in amounts)
    beta_now = float(plan.portfolio_beta)
    beta_open = float(hedge.portfolio["beta_open"])
    status.legs = [
        _leg_status(journal, venue, hedge, _plan_leg(plan, spec["symbol"], i), spec, plan.as_of)
        for i, spec in enumerate(_leg_specs(hedge))
    ]
    status.hedge_id = hedge.id
    status.venue = hedge.venue
    status.as_of = str(plan.as_of)
    status.portfolio_value_usd = value_now
    status.portfolio_pnl_usd = value_now - float(hedge.portfolio["value_open_usd"])
    status.current_beta = beta_now
    status.target_beta = beta_open
    status.beta_drift_pct = (beta_now / beta_open - 1.0) * 100.0 if beta_open else None
    status.correlation = float(plan.portfolio_correlation)
    for name in _PRIMARY:
        setattr(status, name, getattr(status.legs[0], name))
    for name in _SUMMED:
        setattr(status, name, reduce(operator.add, (getattr(leg, name) for leg in status.legs)))
    # the hedge wanted: V·β with one leg; V·Σ leg betas (the minimum-variance mix) with more
    leg_beta = beta_now if len(plan.hedges) == 1 else sum(float(h.beta) for h in plan.hedges)
    wanted = value_now * leg_beta
    net = status.net_hedge_notional_usd
    status.hedge_ratio_achieved = net / wanted if wanted > 0 and net is not None else None
    notes = list(dict.fromkeys(leg.basis_note for leg in status.legs if leg.basis_note))
    status.warnings = _warnings(status) + notes + list(rec.differences)
    return status


def _leg_status(
    journal: Journal,
    venue: Venue,
    hedge: HedgeRow,
    plan_leg: Any,
    spec: dict[str, Any],
    plan_as_of: Any,
) -> LegStatus:
    """One leg's figures now (funding synced first)."""
    symbol = str(spec["symbol"])
    instrument = venue.instrument(symbol)
    mark = venue.mark_price(symbol)
    _sync_funding(journal, venue, hedge, instrument)
    position = venue.position(symbol)
    contracts = max(-_signed(position), 0.0)
    leg = LegStatus(symbol=symbol, hedge_asset=str(spec.get("hedge_asset") or ""))
    leg.contracts = contracts
    leg.target_contracts = target = float(plan_leg.contracts)
    leg.hedge_notional_usd = float(
        order_notional_usd(instrument, contracts, mark) if contracts > 0 else 0.0
    )
    # inverse with coin collateral: the collateral's own long delta offsets part of the
    # short (the plan sized the contracts as H + C·P), so the hedge in force is the net
    leg.collateral_coin = float(plan_leg.collateral_coin) if instrument.is_inverse else 0.0
    leg.net_hedge_notional_usd = leg.hedge_notional_usd - leg.collateral_coin * mark
    leg.drift_pct = (contracts / target - 1.0) * 100.0 if target > 0 else None
    leg.mark_price = mark
    _leg_basis(leg, venue, float(plan_leg.hedge_price_usd), plan_as_of)
    pnl, fees = _realised_and_fees(journal, hedge, instrument, mark)
    if position is not None and contracts > 0:
        leg.entry_price = position.entry_price
        leg.unrealised_pnl_usd = _to_usd(instrument, position.unrealised_pnl, mark)
        leg.realised_pnl_usd = pnl - leg.unrealised_pnl_usd
        leg.leverage = position.leverage
        leg.margin_mode = position.margin_mode
        liq = position.liquidation_price
        if liq is not None and math.isfinite(liq) and liq > 0:
            leg.liquidation_price = liq
            leg.liquidation_distance_pct = (liq / mark - 1.0) * 100.0
        leg.margin_ratio = _margin_ratio(instrument, position, mark)
    else:
        leg.unrealised_pnl_usd = 0.0
        leg.realised_pnl_usd = pnl
    leg.fees_usd = -fees
    leg.funding_usd = journal.funding_total_usd(hedge.id, symbol)
    leg.funding_rate, leg.funding_interval_hours = venue.funding_rate(symbol)
    return leg


def _leg_basis(leg: LegStatus, venue: Venue, spot: float, plan_as_of: Any) -> None:
    """Spot and basis (mark/spot − 1) of a leg; no basis when the spot close is stale."""
    leg.spot_price = spot
    venue_day = getattr(venue, "today", None)
    venue_day = venue_day if isinstance(venue_day, date) else date.today()
    try:
        spot_age = abs((venue_day - date.fromisoformat(str(plan_as_of)[:10])).days)
    except ValueError:
        spot_age = 0
    if spot_age > STALE_SPOT_DAYS:
        leg.basis = None
        leg.basis_note = (
            f"basis: not shown; the spot price is from {plan_as_of}, {spot_age} days before "
            "the venue's date (pass --prices with current data)"
        )
    else:
        mark = leg.mark_price or 0.0
        leg.basis = mark / spot - 1.0 if spot > 0 else None


def _margin_ratio(instrument: Instrument, position: VenuePosition, mark: float) -> float | None:
    """Maintenance margin / margin balance (Binance's "margin ratio"; liquidation at 100 %)."""
    if position.isolated_margin is None:
        return None
    # the tier is chosen by the notional in the tier's unit: USD linear, coin inverse
    value = position_value_coin if instrument.is_inverse else position_value_usd
    notional = float(value(instrument.contract_type, position.contracts,
                           instrument.contract_size, mark))
    try:
        tier = instrument.tier_for_notional(notional)
    except AlthedgeError:
        return None
    maintenance = float(maintenance_margin(
        instrument.contract_type, position.contracts, instrument.contract_size, mark,
        tier.mmr, tier.maint_amount, mmr_per_coin=tier.mmr_per_coin,
    ))
    balance = float(position.isolated_margin) + float(position.unrealised_pnl)
    if balance <= 0:
        return math.inf
    return maintenance / balance


@dataclass(frozen=True)
class AlertThresholds:
    """Warning/alert limits: beta drift %, rally-to-liquidation %, minimum correlation."""

    beta_drift_pct: float = BETA_DRIFT_WARN_PCT
    liquidation_distance_pct: float = LIQUIDATION_WARN_PCT
    min_correlation: float = CORRELATION_WARN


@dataclass(frozen=True)
class Alert:
    kind: str
    severity: str  # "warning" | "critical"
    message: str
    symbol: str = ""  # the leg a per-symbol alert is about, when the hedge has several

    def to_dict(self) -> dict[str, str]:
        out = {"kind": self.kind, "severity": self.severity, "message": self.message}
        if self.symbol:
            out["symbol"] = self.symbol
        return out


def status_alerts(s: HedgeStatus, thresholds: AlertThresholds | None = None) -> list[Alert]:
    """The hedge's health rules, shared by ``hedge status`` warnings and the monitor's alerts.

    ``beta_drift`` |β now / β at open − 1| × 100 above the limit; ``liquidation`` the
    rally that reaches the liquidation price below the limit (%); ``funding`` the rate
    is negative (the short pays); ``correlation`` below the minimum. The two per-symbol
    rules (liquidation, funding) are checked on every leg; with several legs their
    alerts name the leg (``symbol``).
    """
    t = thresholds or AlertThresholds()
    out: list[Alert] = []
    d = s.beta_drift_pct
    if d is not None and abs(d) > t.beta_drift_pct:
        out.append(
            Alert(
                "beta_drift",
                "warning",
                f"beta drift: portfolio beta {s.current_beta:.2f} vs {s.target_beta:.2f} at open "
                f"({d:+.1f}%, limit {t.beta_drift_pct:g}%); consider `althedge hedge rebalance`",
            )
        )
    for leg in _legs_of(s):
        out += _leg_alerts(leg, t, len(s.legs))
    c = s.correlation
    if c is not None and c < t.min_correlation:
        out.append(
            Alert(
                "correlation",
                "warning",
                f"correlation: portfolio vs hedge asset {c:.2f} is below "
                f"{t.min_correlation:g}; the beta hedge is less reliable",
            )
        )
    return out


def _legs_of(s: HedgeStatus) -> Sequence[LegStatus | HedgeStatus]:
    """The legs to check per symbol: ``s.legs``, or ``s`` itself when it has none."""
    return s.legs or [s]


def _leg_alerts(leg: LegStatus | HedgeStatus, t: AlertThresholds, n_legs: int) -> list[Alert]:
    """``liquidation`` and ``funding`` for one leg (named when there are several)."""
    label = _leg_label(n_legs, leg.symbol)
    symbol = leg.symbol if n_legs > 1 else ""
    out: list[Alert] = []
    liq = leg.liquidation_distance_pct
    if liq is not None and liq < t.liquidation_distance_pct:
        out.append(
            Alert(
                "liquidation",
                "critical",
                f"liquidation{label}: a {liq:.1f}% rally reaches the liquidation price "
                f"{leg.liquidation_price:,.2f} (limit {t.liquidation_distance_pct:g}%); "
                "add margin or lower leverage",
                symbol,
            )
        )
    flat = leg.contracts is not None and leg.contracts <= 0  # a leg holding nothing pays none
    if leg.funding_rate is not None and leg.funding_rate < 0 and not flat:
        out.append(
            Alert(
                "funding",
                "warning",
                f"funding{label}: rate {leg.funding_rate * 100:.4f}% per "
                f"{leg.funding_interval_hours:g} h is negative; the short hedge is paying funding",
                symbol,
            )
        )
    return out


def _warnings(s: HedgeStatus) -> list[str]:
    out = [a.message for a in status_alerts(s)]
    for leg in _legs_of(s):
        if leg.margin_ratio is not None and leg.margin_ratio > 0.8:
            label = _leg_label(len(s.legs), leg.symbol)
            out.append(f"margin ratio{label} {leg.margin_ratio:.0%}: close to liquidation (100%)")
    return out


# --------------------------------------------------------------------------- rebalance


def rebalance_hedge(
    journal: Journal,
    venue: Venue,
    source: Any,
    *,
    threshold_pct: float = 10.0,
    as_of: date | None = None,
    live: bool = False,
    execution: ExecutionSettings | None = None,
    rec: Reconciliation | None = None,
) -> LifecycleResult:
    """Resize each leg's short to the current plan when it is off by more than
    ``threshold_pct`` % (legs independently).

    Drift = |contracts held / contracts targeted − 1| × 100. Shrinking is reduce-only.
    """
    if not (math.isfinite(threshold_pct) and threshold_pct >= 0):
        raise InputError(f"--threshold: must be a percentage >= 0, got {threshold_pct}")
    r = _start_resize(journal, venue, "hedge rebalance", live=live, rec=rec, execution=execution)
    hedge = r.hedge
    plan = _build_plan(r.portfolio, source, as_of)
    views = [
        _drift_view(leg, float(_plan_leg(plan, leg.symbol, i).contracts))
        for i, leg in enumerate(r.legs)
    ]
    result = LifecycleResult(
        action="rebalance",
        live=live,
        venue=venue.name,
        symbol=hedge.symbol,
        as_of=str(plan.as_of),
        orders=[],
        executed=[],
        reconciliation=r.rec,
        hedge_id=hedge.id,
        target_contracts=views[0]["target_contracts"],
        current_contracts=views[0]["current_contracts"],
        drift_pct=views[0]["drift_pct"],
        threshold_pct=threshold_pct,
        plan=plan.to_dict(),
        warnings=list(plan.warnings) + r.working,
        legs=views,
    )
    if all(v["drift_pct"] <= threshold_pct for v in views):
        result.message = (
            "within threshold: "
            + "; ".join(
                f"{_leg_prefix(views, v)}{v['current_contracts']:g} held vs "
                f"{v['target_contracts']:g} targeted ({v['drift_pct']:.1f}% ≤ {threshold_pct:g}%)"
                for v in views
            )
            + "; nothing to do"
        )
        return result
    orders = [
        r.orders(
            journal,
            "rebalance",
            leg,
            v["target_contracts"],
            leverage=float(leg.spec.get("leverage") or 1.0),
        )
        if v["drift_pct"] > threshold_pct
        else []
        for leg, v in zip(r.legs, views, strict=True)
    ]
    result.orders = [
        _order_view(o, leg.instrument, leg.mark)
        for leg, leg_orders in zip(r.legs, orders, strict=True)
        for o in leg_orders
    ]
    if not result.orders:
        result.message = "the change is below the exchange's minimum order; nothing to do"
        return result
    if not live:
        result.message = "dry run: nothing sent; pass --live to place these orders"
        return result
    journal.record_plan(hedge.id, plan.to_dict(), at=now_iso(), purpose="rebalance")
    for leg, leg_orders in zip(r.legs, orders, strict=True):
        result.executed += _execute_all(
            journal, venue, hedge, leg.instrument, leg_orders,
            purpose="rebalance", execution=r.execution,
        )
    for v in views:
        v["current_contracts"] = _held_short(journal, hedge.id, v["symbol"])
    result.current_contracts = views[0]["current_contracts"]
    result.message = "rebalanced: " + ", ".join(
        f"short {v['current_contracts']:g} {v['symbol']}" for v in views
    )
    return result


def _drift_view(leg: _LiveLeg, target: float) -> dict[str, Any]:
    """A leg's held vs targeted contracts and drift (%; inf for a target of 0 with a short)."""
    if target > 0:
        drift = abs(leg.current / target - 1.0) * 100.0
    else:
        drift = 0.0 if leg.current <= _EPS else math.inf
    return {
        "symbol": leg.symbol,
        "hedge_asset": leg.spec.get("hedge_asset") or "",
        "target_contracts": target,
        "current_contracts": leg.current,
        "drift_pct": drift,
    }


def _leg_prefix(views: Sequence[dict[str, Any]], view: dict[str, Any]) -> str:
    return f"{view['symbol']} " if len(views) > 1 else ""


# --------------------------------------------------------------------------- close


def close_hedge(
    journal: Journal,
    venue: Venue,
    source: Any,
    *,
    as_of: date | None = None,
    live: bool = False,
    execution: ExecutionSettings | None = None,
    rec: Reconciliation | None = None,
) -> CloseResult:
    """Buy every leg's short back (reduce-only) and attribute the result: the portfolio
    once, hedge PnL, funding, fees and coin collateral summed over the legs.

    Dry run: the buy-back orders and an attribution *estimated* at the current marks.
    """
    r = _start_resize(journal, venue, "hedge close", live=live, rec=rec, execution=execution)
    hedge = r.hedge
    orders = [r.orders(journal, "close", leg, 0.0, close_all=True) for leg in r.legs]
    amounts: dict[str, float] = hedge.portfolio["amounts"]
    overrides = {h.asset: float(h.price_usd) for h in r.portfolio.holdings if h.price_usd}
    prices_now = _prices_now(source, list(amounts), as_of, overrides)
    result = LifecycleResult(
        action="close",
        live=live,
        venue=venue.name,
        symbol=hedge.symbol,
        as_of=str(as_of or ""),
        orders=[
            _order_view(o, leg.instrument, leg.mark)
            for leg, leg_orders in zip(r.legs, orders, strict=True)
            for o in leg_orders
        ],
        executed=[],
        reconciliation=r.rec,
        hedge_id=hedge.id,
        target_contracts=0.0,
        current_contracts=r.legs[0].current,
        warnings=r.working,
        legs=[_drift_view(leg, 0.0) | {"drift_pct": None} for leg in r.legs],
    )
    _sync_funding_all(journal, venue, hedge)
    if live:
        for leg, leg_orders in zip(r.legs, orders, strict=True):
            result.executed += _execute_all(
                journal, venue, hedge, leg.instrument, leg_orders,
                purpose="close", execution=r.execution,
            )
        _crash_point("closed_orders")
        _sync_funding_all(journal, venue, hedge)
        _check_closed(journal, hedge, result)
    else:
        result.message = "dry run: nothing sent; attribution estimated at the current mark"
    prices_open: dict[str, float] = hedge.portfolio["prices_open"]
    value_open = sum(amounts[a] * prices_open[a] for a in amounts)
    value_close = sum(amounts[a] * prices_now[a] for a in amounts)
    a = _attribution_all(journal, hedge, r.legs)
    balance_open = hedge.settings.get("balance_open_usd")
    balance_close = _venue_balance_usd(venue) if live else None
    brought_in = sum(float(d["amount"]) * float(d["price_usd"]) for d in journal.deposits(hedge.id))
    portfolio_pnl = value_close - value_open
    close = CloseResult(
        result=result,
        portfolio_pnl_usd=portfolio_pnl,
        hedge_pnl_usd=a["hedge_pnl_usd"],
        funding_usd=a["funding_usd"],
        fees_usd=a["fees_usd"],
        collateral_usd=a["collateral_usd"],
        net_usd=portfolio_pnl
        + a["hedge_pnl_usd"]
        + a["funding_usd"]
        + a["fees_usd"]
        + a["collateral_usd"],
        total_value_open_usd=None
        if balance_open is None
        else value_open + float(balance_open) + brought_in,
        total_value_close_usd=None if balance_close is None else value_close + balance_close,
        estimated=not live,
    )
    if live:
        journal.finish_hedge(hedge.id, status="closed", at=now_iso(), attribution=close.to_dict())
        result.message = f"hedge #{hedge.id} closed"
    return close


def _check_closed(journal: Journal, hedge: HedgeRow, result: LifecycleResult) -> None:
    """After the buy-back: every leg flat by the journal, else :class:`ExchangeError`."""
    for view in result.legs:
        left = view["current_contracts"] = _held_short(journal, hedge.id, view["symbol"])
        if left > _EPS:
            raise ExchangeError(
                f"hedge close: {left:g} contracts of {view['symbol']} are still open after the "
                "buy-back; run `althedge hedge close --live` again"
            )
    result.current_contracts = result.legs[0]["current_contracts"]
