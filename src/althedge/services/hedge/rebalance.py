"""``hedge rebalance``: resize each leg's short to the current plan when it has drifted.

Drift = (contracts held / contracts targeted − 1) × 100, signed (+ over-hedged), per
leg; a leg whose ``drift_abs_pct`` is within the
threshold is left alone. Shrinking is reduce-only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from althedge.errors import InputError
from althedge.journal import Journal
from althedge.services.hedge.common import build_plan, held_short, plan_leg, venue_now_iso
from althedge.services.hedge.executor import ExecutionSettings, StepHook
from althedge.services.hedge.orders import drift_view, order_view
from althedge.services.hedge.resize import start_resize
from althedge.services.hedge.results import LifecycleResult, Reconciliation
from althedge.venues.protocol import Venue

if TYPE_CHECKING:
    from althedge.data.sources import PriceSource

__all__ = ["rebalance_hedge"]


def rebalance_hedge(
    journal: Journal,
    venue: Venue,
    source: PriceSource,
    *,
    threshold_pct: float = 10.0,
    as_of: date | None = None,
    live: bool = False,
    execution: ExecutionSettings | None = None,
    rec: Reconciliation | None = None,
    on_step: StepHook | None = None,
) -> LifecycleResult:
    """Resize each leg's short to the current plan when it is off by more than
    ``threshold_pct`` % (legs independently)."""
    if not (math.isfinite(threshold_pct) and threshold_pct >= 0):
        raise InputError(f"--threshold: must be a percentage >= 0, got {threshold_pct}")
    r = start_resize(
        journal, venue, "hedge rebalance", live=live, rec=rec, execution=execution,
        on_step=on_step,
    )
    hedge = r.hedge
    plan = build_plan(r.portfolio, source, as_of)
    views = [
        drift_view(leg, float(plan_leg(plan, leg.symbol, i).contracts))
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
    if all(v["drift_abs_pct"] <= threshold_pct for v in views):
        result.message = _within_threshold(views, threshold_pct)
        return result
    orders = [
        r.orders("rebalance", leg, v["target_contracts"], leverage=leg.spec.leverage)
        if v["drift_abs_pct"] > threshold_pct
        else []
        for leg, v in zip(r.legs, views, strict=True)
    ]
    skipped: list[str] = []
    for i, (leg, leg_orders) in enumerate(zip(r.legs, orders, strict=True)):
        for o in list(leg_orders):
            why = None if o.reduce_only else venue.below_minimum(o.symbol, o.contracts, leg.mark)
            if why is not None:  # the exchange would reject it: skipped, said, not sent
                leg_orders.remove(o)
                skipped.append(f"skipped {o.side} {o.contracts:g} {o.symbol}: {why}")
        orders[i] = leg_orders
    result.warnings += skipped
    result.orders = [
        order_view(o, leg.instrument, leg.mark)
        for leg, leg_orders in zip(r.legs, orders, strict=True)
        for o in leg_orders
    ]
    if not result.orders:
        result.message = "the change is below the exchange's minimum order; nothing to do" + (
            f" ({skipped[0]})" if skipped else ""
        )
        return result
    if not live:
        result.message = "dry run: nothing sent; pass --live to place these orders"
        return result

    journal.record_plan(hedge.id, plan.to_dict(), at=venue_now_iso(venue), purpose="rebalance")
    for leg_orders in orders:
        result.executed += r.executor.execute_all(leg_orders, purpose="rebalance")
    for v in views:
        v["current_contracts"] = held_short(journal, hedge.id, v["symbol"])
    result.current_contracts = views[0]["current_contracts"]
    result.message = "rebalanced: " + ", ".join(
        f"short {v['current_contracts']:g} {v['symbol']}" for v in views
    )
    return result


def _within_threshold(views: Sequence[dict[str, Any]], threshold_pct: float) -> str:
    def prefix(v: dict[str, Any]) -> str:
        return f"{v['symbol']} " if len(views) > 1 else ""

    return (
        "within threshold: "
        + "; ".join(
            f"{prefix(v)}{v['current_contracts']:g} held vs "
            f"{v['target_contracts']:g} targeted (|{v['drift_pct']:+z.1f}%| ≤ {threshold_pct:g}%)"
            for v in views
        )
        + "; nothing to do"
    )
