"""``hedge open``: plan the hedge and place one short per leg, primary first.

Dry run (the default) computes the exact orders, checks them against the caps and
returns them; nothing is sent and nothing is journaled. Live: the hedge row (every
leg in its settings, the plan beside it) is written first, then each leg's leverage
is set and its orders are worked by the :class:`JournaledExecutor`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Any

from althedge.core.instruments import Instrument
from althedge.errors import InputError
from althedge.journal import Journal
from althedge.services.hedge.common import (
    EPS,
    active_record,
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
from althedge.services.hedge.common import (
    plan_leg as journaled_plan_leg,
)
from althedge.services.hedge.executor import ExecutionSettings, JournaledExecutor, StepHook
from althedge.services.hedge.orders import order_view, plan_orders
from althedge.services.hedge.reconcile import reconcile
from althedge.services.hedge.record import HedgeRecord, LegRecord, settings_for_open
from althedge.services.hedge.results import LifecycleResult, Reconciliation
from althedge.venues.execution import round_to_step
from althedge.venues.limits import (
    Limits,
    check_leverage,
    order_notional_usd,
    worst_fill_price,
)
from althedge.venues.protocol import OrderRequest, Venue, client_order_id

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
    existing = active_record(journal)
    if existing is not None:
        return _resume_open(
            journal, venue, existing, portfolio, plan, rec,
            live=live, execution=execution, on_step=on_step,
        )
    refuse_if_unreconciled(rec, "hedge open", live)
    refuse_if_restricted(venue, live)
    key = journal.next_hedge_key()
    limits = Limits.from_config(portfolio.limits)
    legs = _open_legs(venue, plan, rec, key, execution, limits, journal.journal_id())
    result = _open_result(venue, plan, rec, legs, live=live)
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
    return _send_legs(journal, venue, executor, hedge.id, legs, result,
                      lead=f"hedge #{hedge.id} opened")


def _open_result(
    venue: Venue,
    plan: HedgePlan,
    rec: Reconciliation,
    legs: Sequence[_OpenLeg],
    *,
    live: bool,
    hedge_id: int | None = None,
    held: Mapping[str, float] | None = None,
    warnings: Sequence[str] = (),
) -> LifecycleResult:
    """The open's result before anything is sent: each leg's orders, target and held."""
    held = held or {}
    return LifecycleResult(
        action="open",
        live=live,
        venue=venue.name,
        symbol=legs[0].symbol,
        as_of=str(plan.as_of),
        orders=[order_view(o, leg.instrument, leg.mark) for leg in legs for o in leg.orders],
        executed=[],
        reconciliation=rec,
        hedge_id=hedge_id,
        target_contracts=legs[0].target,
        current_contracts=held.get(legs[0].symbol, 0.0),
        plan=plan.to_dict(),
        warnings=list(plan.warnings) + list(warnings),
        legs=[{**leg.view(), "current_contracts": held.get(leg.symbol, 0.0)} for leg in legs],
    )


def _send_legs(
    journal: Journal,
    venue: Venue,
    executor: JournaledExecutor,
    hedge_id: int,
    legs: Sequence[_OpenLeg],
    result: LifecycleResult,
    *,
    lead: str,
) -> LifecycleResult:
    """Set each leg's leverage (legs with an order), then work each leg's orders through
    the journaled executor, primary first; the result says what is held after."""
    for leg in legs:
        if leg.orders:
            venue.set_leverage(
                leg.symbol, float(leg.plan_leg.leverage), str(leg.plan_leg.margin_mode)
            )
    result.warnings += [n for n in venue.notices if n not in result.warnings]
    persist(venue)
    executor.step("leverage_set")
    for leg in legs:
        result.executed += executor.execute_all(leg.orders, purpose="open")
        executor.step("leg_placed")
    for view in result.legs:
        view["current_contracts"] = held_short(journal, hedge_id, view["symbol"])
    result.current_contracts = result.legs[0]["current_contracts"]
    result.message = f"{lead}: " + ", ".join(
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
    instance: str,
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
            instance=instance,
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
    pnl_open: Mapping[str, float] | None = None,
) -> HedgeRecord:
    """Write the hedge row (every leg in its settings) and its plan: one transaction.
    ``pnl_open``: per symbol, an adopted position's PnL at this moment's mark (settlement
    currency; in the balance read now — :class:`LegRecord` ``pnl_open_settle``)."""
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
            pnl_open_settle=None if pnl_open is None else pnl_open.get(o.symbol),
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


# --------------------------------------------------------------------------- resume


def _resume_open(
    journal: Journal,
    venue: Venue,
    hedge: HedgeRecord,
    portfolio: PortfolioConfig,
    plan: HedgePlan,
    rec: Reconciliation,
    *,
    live: bool,
    execution: ExecutionSettings,
    on_step: StepHook | None,
) -> LifecycleResult:
    """``hedge open`` again while its hedge is open: an open that a crash (or a refused
    order) left below its journaled target is completed — the same portfolio, venue and
    legs only; anything else, or an open already complete, is refused naming
    ``hedge rebalance`` / ``hedge close``.

    Reconciled first (each pending intent looked up by client id, its fills recorded);
    each leg's missing contracts (journaled open target − held) are then sent under the
    SAME client id the open derived for that leg when it never reached the venue (no
    row, or ``not_sent``: idempotent should it show up after all), else under a new one.
    Our orders still working are cancelled first (their fills recorded).
    """
    what = (
        f"hedge #{hedge.id} on {hedge.venue} {' + '.join(hedge.symbols)} "
        f"(opened at {hedge.opened_at})"
    )
    symbols = [str(leg.instrument) for leg in plan.hedges]
    if venue.name != hedge.venue or symbols != hedge.symbols or not _same_portfolio(
        hedge, portfolio
    ):
        raise InputError(
            f"hedge open: {what} is open for another portfolio, plan or venue; resize it "
            "with `althedge hedge rebalance` or take it off with `althedge hedge close` "
            "before opening another"
        )
    targets = _open_targets(journal, hedge)
    later = [o for o in journal.orders(hedge.id) if o.purpose != "open"]
    held = {leg.symbol: held_short(journal, hedge.id, leg.symbol) for leg in hedge.legs}
    instruments = {leg.symbol: venue.instrument(leg.symbol) for leg in hedge.legs}
    missing = {
        sym: round_to_step(max(targets.get(sym, 0.0) - held[sym], 0.0), inst.lot_step)
        for sym, inst in instruments.items()
    }
    incomplete = [
        sym for sym, m in missing.items() if m > EPS and m >= instruments[sym].min_contracts - EPS
    ]
    if later or not targets or not incomplete:
        raise InputError(
            f"hedge open: {what} is already open"
            + ("" if later or not targets else " and at its target")
            + "; use `althedge hedge rebalance` to resize it or `althedge hedge close`"
        )
    refuse_if_unreconciled(rec, "hedge open", live)
    limits = Limits.from_config(portfolio.limits)
    executor = JournaledExecutor(journal, venue, hedge, execution, on_step=on_step,
                                 limits=limits)
    working = executor.cancel_working(live)
    if live and working:
        held = {sym: held_short(journal, hedge.id, sym) for sym in held}
    marks = {sym: venue.mark_price(sym) for sym in instruments}
    original = _original_ids(journal, hedge, instruments, targets)
    legs: list[_OpenLeg] = []
    planned = 0
    others = 0.0
    for i, spec in enumerate(hedge.legs):
        sym = spec.symbol
        check_leverage(limits, float(spec.leverage))
        cid = original.get(sym)
        first_step = journal.order_count(hedge.id) + planned
        orders = plan_orders(
            hedge_key=hedge.key,
            first_step=first_step,
            purpose="open" if cid is not None else "resume",
            instrument=instruments[sym],
            current_short=held[sym],
            target_short=targets.get(sym, 0.0),
            mark_price=marks[sym],
            execution=execution,
            limits=limits,
            leverage=float(spec.leverage),
            other_notional_usd=others,
            instance=journal.journal_id(),
        )
        if cid is not None:  # never reached the venue: sent under the open's own id
            orders = [replace(o, client_order_id=cid) for o in orders]
        planned += len(orders)
        after = held[sym] + sum(o.contracts if o.side == "sell" else -o.contracts for o in orders)
        others += order_notional_usd(
            instruments[sym], max(after, 0.0),
            worst_fill_price("sell", marks[sym], None, execution.max_slippage_bps),
        )
        legs.append(_OpenLeg(journaled_plan_leg(plan, sym, i), instruments[sym], marks[sym],
                             targets.get(sym, 0.0), orders))
    result = _open_result(venue, plan, rec, legs, live=live, hedge_id=hedge.id, held=held,
                          warnings=working)
    lead = f"resuming hedge #{hedge.id} opened at {hedge.opened_at}"
    if not live:
        result.message = (
            f"{lead}: " + ", ".join(
                f"{v['symbol']} held {v['current_contracts']:g} of {v['target_contracts']:g}"
                for v in result.legs
            ) + "; dry run: nothing sent; pass --live to complete it with these orders"
        )
        return result
    return _send_legs(journal, venue, executor, hedge.id, legs, result,
                      lead=f"{lead}, completed")


def _same_portfolio(hedge: HedgeRecord, portfolio: PortfolioConfig) -> bool:
    """The portfolio file describes the hedge's portfolio (its ``[limits]`` aside: the
    caps are read from the file as it is now on every command)."""
    now = portfolio.model_dump(mode="json", by_alias=True)
    then = dict(hedge.portfolio.config)
    now.pop("limits", None)
    then.pop("limits", None)
    return bool(now == then)


def _open_targets(journal: Journal, hedge: HedgeRecord) -> dict[str, float]:
    """Contracts short per leg that the hedge's open planned (its journaled plan)."""
    for p in journal.plans(hedge.id):
        if p["purpose"] != "open":
            continue
        plan = p["plan"]
        legs = plan.get("hedges") or ([plan["hedge"]] if plan.get("hedge") else [])
        return {str(leg["instrument"]): float(leg["contracts"]) for leg in legs}
    return {}


def _original_ids(
    journal: Journal,
    hedge: HedgeRecord,
    instruments: Mapping[str, Instrument],
    targets: Mapping[str, float],
) -> dict[str, str]:
    """Per leg whose open order never reached the venue, the client id the open derived
    for it: its ``not_sent`` row's, or — no row — the one the open (and its dry run)
    would send, step by step over the legs that had an order."""
    rows = [o for o in journal.orders(hedge.id) if o.purpose == "open"]
    out: dict[str, str] = {}
    step = 0
    for spec in hedge.legs:
        inst = instruments[spec.symbol]
        size = round_to_step(targets.get(spec.symbol, 0.0), inst.lot_step)
        has_order = size > EPS and size >= inst.min_contracts - EPS
        mine = [o for o in rows if o.symbol == spec.symbol]
        if not mine and has_order:
            out[spec.symbol] = client_order_id(hedge.key, step, "open", journal.journal_id())
        elif mine and mine[0].status == "not_sent" and mine[0].filled <= EPS and all(
            o.status in ("not_sent",) for o in mine
        ):
            out[spec.symbol] = mine[0].client_order_id
        step += int(has_order)
    return out
