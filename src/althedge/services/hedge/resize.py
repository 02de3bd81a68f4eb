"""What rebalance and close both start from: the open hedge, reconciled and settled."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from althedge.journal import Journal
from althedge.services.hedge.common import (
    current_limits,
    need_hedge,
    portfolio_of,
    refuse_if_restricted,
    refuse_if_unreconciled,
)
from althedge.services.hedge.executor import (
    ONE_OFF_EXECUTION_FIELDS,
    ExecutionSettings,
    JournaledExecutor,
    StepHook,
)
from althedge.services.hedge.orders import LiveLeg, live_legs, plan_orders
from althedge.services.hedge.reconcile import reconcile
from althedge.services.hedge.record import HedgeRecord
from althedge.services.hedge.results import Reconciliation
from althedge.venues.limits import Limits, order_notional_usd, worst_fill_price
from althedge.venues.protocol import OrderRequest, Venue

if TYPE_CHECKING:
    from althedge.config import PortfolioConfig

__all__ = ["Resize", "start_resize"]


@dataclass
class Resize:
    """The open hedge checked and settled: the reconciliation, our working orders
    (cancelled first live, named in a dry run), the executor and each leg now."""

    rec: Reconciliation
    hedge: HedgeRecord
    working: list[str]
    executor: JournaledExecutor
    portfolio: PortfolioConfig
    legs: list[LiveLeg]
    planned: int = 0  # orders planned so far in this command (client id steps taken)
    #: contracts short per leg after the orders planned so far (the total cap sums them)
    after: dict[str, float] = field(default_factory=dict)
    #: the caps in force: the portfolio file's as it is now (else as journaled at open)
    limits: Limits = field(default_factory=Limits)

    def orders(
        self,
        purpose: str,
        leg: LiveLeg,
        target: float,
        *,
        leverage: float | None = None,
        close_all: bool = False,
    ) -> list[OrderRequest]:
        """:func:`plan_orders` taking ``leg`` from its current short to ``target``; each
        planned order takes the next journal step (legs planned in turn never share one)."""
        slip = self.executor.execution.max_slippage_bps
        others = sum(
            order_notional_usd(
                other.instrument, self.after.get(other.symbol, other.current),
                worst_fill_price("sell", other.mark, None, slip),
            )
            for other in self.legs
            if other.symbol != leg.symbol
        )
        orders = plan_orders(
            hedge_key=self.hedge.key,
            first_step=self.executor.journal.order_count(self.hedge.id) + self.planned,
            purpose=purpose,
            instrument=leg.instrument,
            current_short=leg.current,
            target_short=target,
            mark_price=leg.mark,
            execution=self.executor.execution,
            limits=self.limits,
            leverage=leverage,
            close_all=close_all,
            other_notional_usd=others,
        )
        self.planned += len(orders)
        self.after[leg.symbol] = leg.current + sum(
            o.contracts if o.side == "sell" else -o.contracts for o in orders
        )
        return orders


def start_resize(
    journal: Journal,
    venue: Venue,
    what: str,
    *,
    live: bool,
    rec: Reconciliation | None,
    execution: ExecutionSettings | None,
    on_step: StepHook | None = None,
) -> Resize:
    """Reconcile (unless done), need an open hedge, refuse live trading on a difference,
    cancel our working orders, then read each leg's instrument, mark and current short."""
    rec = rec if rec is not None else reconcile(journal, venue)
    hedge = need_hedge(journal, what)
    refuse_if_unreconciled(rec, what, live)
    refuse_if_restricted(venue, live)
    # the open's way of working orders, minus its one-off --limit-at price (a level of
    # that day, not of a later rebalance or close)
    kept = {k: v for k, v in hedge.execution.items() if k not in ONE_OFF_EXECUTION_FIELDS}
    executor = JournaledExecutor(
        journal, venue, hedge, execution or ExecutionSettings(**kept), on_step=on_step,
    )
    portfolio = portfolio_of(hedge)
    limits = current_limits(hedge, portfolio)
    executor.limits = limits
    working = executor.cancel_working(live)
    return Resize(
        rec=rec,
        hedge=hedge,
        working=working,
        executor=executor,
        portfolio=portfolio,
        legs=live_legs(venue, hedge),
        limits=limits,
    )
