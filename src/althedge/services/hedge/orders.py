"""Order planning: the orders that take one leg's short from what is held to a target.

Pure of I/O except reading the venue's instrument, mark and position for a leg
(:func:`live_legs`). Every order is checked against the caps
(:func:`althedge.venues.limits.check_order`) — dry run or not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from althedge.core.instruments import Instrument
from althedge.services.hedge.common import EPS, signed
from althedge.services.hedge.executor import ExecutionSettings
from althedge.services.hedge.record import HedgeRecord, LegRecord
from althedge.venues.execution import (
    limit_price_at_offset,
    round_price_to_tick,
    round_to_step,
)
from althedge.venues.limits import Limits, check_order, order_notional_usd, worst_fill_price
from althedge.venues.protocol import OrderRequest, Venue, client_order_id

__all__ = ["LiveLeg", "drift_view", "live_legs", "order_view", "plan_orders"]


@dataclass
class LiveLeg:
    """One leg of the open hedge as the venue has it now."""

    spec: LegRecord
    instrument: Instrument
    mark: float  # USD
    current: float  # contracts short at the venue now

    @property
    def symbol(self) -> str:
        return self.spec.symbol


def live_legs(venue: Venue, hedge: HedgeRecord) -> list[LiveLeg]:
    """Each leg's instrument, mark and current short at ``venue``, primary first."""
    return [
        LiveLeg(
            spec=spec,
            instrument=venue.instrument(spec.symbol),
            mark=venue.mark_price(spec.symbol),
            current=max(-signed(venue.position(spec.symbol)), 0.0),
        )
        for spec in hedge.legs
    ]


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
    other_notional_usd: float = 0.0,
    instance: str = "",
) -> list[OrderRequest]:
    """The orders that take the short from ``current_short`` to ``target_short`` contracts.

    Growing the short: a sell, never reduce-only. Shrinking: a reduce-only buy.
    Sizes are floored to the lot step; a change below the exchange minimum sends
    nothing (``close_all`` buys back the whole position whatever its size). Every
    order is checked against the caps (:func:`althedge.venues.limits.check_order`),
    which raise :class:`LimitExceededError` — dry run or not — at the worst price the
    order can fill at (:func:`althedge.venues.limits.worst_fill_price`) with the
    hedge's other legs (``other_notional_usd``) counted in. ``instance``: the journal's
    id, part of the client order id (:func:`althedge.venues.protocol.client_order_id`).
    """
    delta = target_short - current_short
    if close_all:
        delta = -current_short
    size = abs(delta) if close_all else round_to_step(abs(delta), instrument.lot_step)
    if size <= EPS or (not close_all and size < instrument.min_contracts - EPS):
        return []
    side: Literal["buy", "sell"] = "sell" if delta > 0 else "buy"
    level = execution.limit_price_usd(side, instrument.base)
    if execution.order_type == "limit" and level is not None:  # --limit-at: a chosen level
        price: float | None = round_price_to_tick(level, instrument.tick_size, side)
    elif execution.order_type == "limit":
        price = limit_price_at_offset(side, mark_price, execution.offset_bps, instrument.tick_size)
    else:
        price = None
    order = OrderRequest(
        symbol=instrument.symbol,
        side=side,
        contracts=size,
        order_type=execution.order_type,
        client_order_id=client_order_id(hedge_key, first_step, purpose, instance),
        price=price,
        reduce_only=side == "buy",
    )
    check_order(
        limits,
        order,
        instrument,
        worst_fill_price(side, mark_price, price, execution.max_slippage_bps),
        position_contracts=max(current_short, 0.0),
        leverage=leverage,
        other_notional_usd=other_notional_usd,
    )
    return [order]


def order_view(order: OrderRequest, instrument: Instrument, mark: float) -> dict[str, Any]:
    d = order.to_dict()
    d["notional_usd"] = order_notional_usd(instrument, order.contracts, order.price or mark)
    d["reference_price"] = order.price or mark
    d["mark_price_usd"] = mark
    return d



def drift_view(leg: LiveLeg, target: float) -> dict[str, Any]:
    """A leg's held vs targeted contracts and drift (%), signed (held/target − 1, + when
    over-hedged) with its absolute value beside it; inf for a target of 0 with a short."""
    if target > 0:
        drift = (leg.current / target - 1.0) * 100.0
    else:
        drift = 0.0 if leg.current <= EPS else math.inf
    return {
        "symbol": leg.symbol,
        "hedge_asset": leg.spec.hedge_asset,
        "target_contracts": target,
        "current_contracts": leg.current,
        "drift_pct": drift,
        "drift_abs_pct": abs(drift),
    }
