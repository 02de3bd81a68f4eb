"""``hedge open``: plan the hedge and place one short per leg, primary first.

Dry run (the default) computes the exact orders, checks them against the caps and
returns them; nothing is sent and nothing is journaled. Live: the hedge row (every
leg in its settings, the plan beside it) is written first, then each leg's leverage
is set and its orders are worked by the :class:`JournaledExecutor`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from althedge.core.instruments import Instrument
from althedge.errors import InputError
from althedge.journal import Journal
from althedge.services.hedge.common import (
    build_plan,
    held_short,
    persist,
    refuse_if_restricted,
    refuse_if_unreconciled,
    venue_balance_settle,
    venue_balance_usd,
    venue_now_iso,
    venue_now_ms,
)
from althedge.services.hedge.executor import ExecutionSettings, JournaledExecutor, StepHook
from althedge.services.hedge.orders import order_view, plan_orders
from althedge.services.hedge.reconcile import reconcile
from althedge.services.hedge.record import HedgeRecord, LegRecord, settings_for_open
from althedge.services.hedge.results import LifecycleResult, Reconciliation
from althedge.venues.limits import (
    Limits,
    check_leverage,
    order_notional_usd,
    worst_fill_price,
)
from althedge.venues.protocol import OrderRequest, Venue

if TYPE_CHECKING:
    from althedge.config import PortfolioConfig
    from althedge.data.sources import PriceSource
    from althedge.services.plan import HedgeLeg, HedgePlan

__all__ = ["open_hedge"]


def open_hedge(
    journal: Journal,
    venue: Venue,
    portfolio: PortfolioConfig,
    source: PriceSource,
    *,
    as_of: date | None = None,
    live: bool = False,
    execution: ExecutionSettings | None = None,
    portfolio_path: str | None = None,
    extra_settings: Mapping[str, Any] | None = None,
    rec: Reconciliation | None = None,
    on_step: StepHook | None = None,
) -> LifecycleResult:
    """Plan the hedge for ``portfolio`` and place the short — one per leg of the plan
    (``[hedge] assets``), primary first — only when ``live``."""
    execution = execution or ExecutionSettings()
    plan = build_plan(portfolio, source, as_of)
    rec = _reconcile_for(journal, venue, [leg.instrument for leg in plan.hedges], rec)
    existing = journal.active_hedge()
    if existing is not None:
        raise InputError(
            f"hedge open: hedge #{existing.id} on {existing.venue} {existing.symbol} is already "
            "open; use `althedge hedge rebalance` or `althedge hedge close`"
        )
    refuse_if_unreconciled(rec, "hedge open", live)
    refuse_if_restricted(venue, live)
    key = journal.next_hedge_key()
    limits = Limits.from_config(portfolio.limits)
    legs = _open_legs(venue, plan, rec, key, execution, limits)
    result = LifecycleResult(
        action="open",
        live=live,
        venue=venue.name,
        symbol=legs[0].symbol,
        as_of=str(plan.as_of),
        orders=[order_view(o, leg.instrument, leg.mark) for leg in legs for o in leg.orders],
        executed=[],
        reconciliation=rec,
        target_contracts=legs[0].target,
        current_contracts=0.0,
        plan=plan.to_dict(),
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

    hedge = _record_open(journal, venue, portfolio, plan, legs, key, execution,
                         portfolio_path, extra_settings)
    executor = JournaledExecutor(journal, venue, hedge, execution, on_step=on_step,
                                 limits=limits)
    result.hedge_id = hedge.id
    executor.step("hedge_recorded")
    for leg in legs:
        venue.set_leverage(leg.symbol, float(leg.plan_leg.leverage), str(leg.plan_leg.margin_mode))
    result.warnings += [n for n in venue.notices if n not in result.warnings]
    persist(venue)
    executor.step("leverage_set")
    for leg in legs:
        result.executed += executor.execute_all(leg.orders, purpose="open")
        executor.step("leg_placed")
    for view in result.legs:
        view["current_contracts"] = held_short(journal, hedge.id, view["symbol"])
    result.current_contracts = result.legs[0]["current_contracts"]
    result.message = f"hedge #{hedge.id} opened: " + ", ".join(
        f"short {v['current_contracts']:g} {v['symbol']}" for v in result.legs
    )
    return result


def _reconcile_for(
    journal: Journal, venue: Venue, symbols: Sequence[str], rec: Reconciliation | None
) -> Reconciliation:
    """Reconcile for the plan's symbols; when the caller reconciled (and reported)
    already, add only what the check for these symbols finds."""
    if rec is None:
        return reconcile(journal, venue, symbols)
    extra = reconcile(journal, venue, symbols)
    rec.differences += [d for d in extra.differences if d not in rec.differences]
    rec.resolved += extra.resolved
    rec.orphans += [o for o in extra.orphans if o not in rec.orphans]
    rec.venue_positions.update(extra.venue_positions)
    return rec


@dataclass
class _OpenLeg:
    """A leg of the plan being opened: its instrument, mark (USD), target and orders."""

    plan_leg: HedgeLeg
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
    plan: HedgePlan,
    rec: Reconciliation,
    key: str,
    execution: ExecutionSettings,
    limits: Limits,
) -> list[_OpenLeg]:
    """Each plan leg's orders (checked against the caps); client ids take steps 0, 1, …"""
    legs: list[_OpenLeg] = []
    step = 0
    others = 0.0  # USD notional of the legs planned before this one, at their worst price
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
            other_notional_usd=others,
        )
        held = max(-rec.venue_positions.get(symbol, 0.0), 0.0)
        after = held + sum(o.contracts if o.side == "sell" else -o.contracts for o in orders)
        others += order_notional_usd(
            instrument, max(after, 0.0),
            worst_fill_price("sell", mark, None, execution.max_slippage_bps),
        )
        step += len(orders)
        legs.append(_OpenLeg(plan_leg, instrument, mark, target, orders))
    return legs


def _record_open(
    journal: Journal,
    venue: Venue,
    portfolio: PortfolioConfig,
    plan: HedgePlan,
    legs: Sequence[_OpenLeg],
    key: str,
    execution: ExecutionSettings,
    portfolio_path: str | None,
    extra_settings: Mapping[str, Any] | None,
) -> HedgeRecord:
    """Write the hedge row (every leg in its settings) and its plan: one transaction."""
    prices = {h.asset: float(h.price_usd) for h in plan.holdings}
    specs = [
        LegRecord(
            symbol=o.symbol,
            hedge_asset=o.plan_leg.hedge_asset,
            leverage=float(o.plan_leg.leverage),
            margin_mode=str(o.plan_leg.margin_mode),
            exchange=o.plan_leg.exchange,
            balance_open_settle=venue_balance_settle(venue, o.instrument.settle),
            mark_open=o.mark,
            opened_ms=venue_now_ms(venue),
        )
        for o in legs
    ]
    hedge_id = journal.create_hedge(
        venue=venue.name,
        symbol=legs[0].symbol,
        opened_at=venue_now_iso(venue),
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
        settings=settings_for_open(
            key=key,
            legs=specs,
            execution=asdict(execution),
            balance_open_usd=venue_balance_usd(venue),
            extra=extra_settings,
        ),
        plan=plan.to_dict(),
    )
    return HedgeRecord.from_row(journal.hedge(hedge_id))
