"""``hedge close``: buy every leg's short back (reduce-only) and attribute the result.

Attribution (USD; ``fees_usd`` negative, a cost)::

    portfolio_pnl_usd = Σ_i amount_i · (P_i,close − P_i,open)
    hedge_pnl_usd, funding_usd, fees_usd, collateral_usd   summed over the legs
    net_usd           = the sum of the five

``net_usd`` equals the change in total value (holdings at market + the venue
account's USD equity − collateral brought in at its price then); the result carries
both (``total_value_change_usd``, ``unexplained_usd``) when the venue reports its
equity (paper does). Dry run: the buy-back orders and an attribution *estimated*
at the current marks.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from althedge.errors import ExchangeError
from althedge.journal import Journal
from althedge.services.hedge.accounting import attribution
from althedge.services.hedge.common import (
    EPS,
    held_short,
    prices_now,
    venue_balance_usd,
    venue_now_iso,
)
from althedge.services.hedge.executor import ExecutionSettings, StepHook
from althedge.services.hedge.orders import drift_view, order_view
from althedge.services.hedge.reconcile import sync_funding_all
from althedge.services.hedge.resize import start_resize
from althedge.services.hedge.results import CloseResult, LifecycleResult, Reconciliation
from althedge.venues.protocol import Venue

if TYPE_CHECKING:
    from althedge.data.sources import PriceSource

__all__ = ["close_hedge"]


def close_hedge(
    journal: Journal,
    venue: Venue,
    source: PriceSource,
    *,
    as_of: date | None = None,
    live: bool = False,
    execution: ExecutionSettings | None = None,
    rec: Reconciliation | None = None,
    on_step: StepHook | None = None,
) -> CloseResult:
    """Buy every leg's short back and attribute the result: the portfolio once, hedge
    PnL, funding, fees and coin collateral summed over the legs."""
    r = start_resize(
        journal, venue, "hedge close", live=live, rec=rec, execution=execution, on_step=on_step
    )
    hedge = r.hedge
    orders = [r.orders("close", leg, 0.0, close_all=True) for leg in r.legs]
    amounts = hedge.portfolio.amounts
    overrides = {h.asset: float(h.price_usd) for h in r.portfolio.holdings if h.price_usd}
    prices_close = prices_now(source, list(amounts), as_of, overrides)
    result = LifecycleResult(
        action="close",
        live=live,
        venue=venue.name,
        symbol=hedge.symbol,
        as_of=str(as_of or ""),
        orders=[
            order_view(o, leg.instrument, leg.mark)
            for leg, leg_orders in zip(r.legs, orders, strict=True)
            for o in leg_orders
        ],
        executed=[],
        reconciliation=r.rec,
        hedge_id=hedge.id,
        target_contracts=0.0,
        current_contracts=r.legs[0].current,
        warnings=r.working,
        legs=[
            drift_view(leg, 0.0) | {"drift_pct": None, "drift_abs_pct": None} for leg in r.legs
        ],
    )
    sync_funding_all(journal, venue, hedge)
    if live:
        for leg_orders in orders:
            result.executed += r.executor.execute_all(leg_orders, purpose="close")
        r.executor.step("closed_orders")
        sync_funding_all(journal, venue, hedge)
        _check_closed(journal, hedge.id, result)
    else:
        result.message = "dry run: nothing sent; attribution estimated at the current mark"

    prices_open = hedge.portfolio.prices_open
    value_open = sum(amounts[a] * prices_open[a] for a in amounts)
    value_close = sum(amounts[a] * prices_close[a] for a in amounts)
    a = attribution(journal, hedge, r.legs)
    balance_open = hedge.balance_open_usd
    balance_close = venue_balance_usd(venue) if live else None
    brought_in = sum(float(d["amount"]) * float(d["price_usd"]) for d in journal.deposits(hedge.id))
    portfolio_pnl = value_close - value_open
    close = CloseResult(
        result=result,
        portfolio_pnl_usd=portfolio_pnl,
        hedge_pnl_usd=a.hedge_pnl_usd,
        funding_usd=a.funding_received_usd,
        fees_usd=-a.fees_paid_usd,
        collateral_usd=a.collateral_usd,
        net_usd=portfolio_pnl + a.net_usd,
        total_value_open_usd=None
        if balance_open is None
        else value_open + balance_open + brought_in,
        total_value_close_usd=None if balance_close is None else value_close + balance_close,
        estimated=not live,
    )
    if live:
        journal.finish_hedge(
            hedge.id, status="closed", at=venue_now_iso(venue), attribution=close.to_dict()
        )
        result.message = f"hedge #{hedge.id} closed"
    return close


def _check_closed(journal: Journal, hedge_id: int, result: LifecycleResult) -> None:
    """After the buy-back: every leg flat by the journal, else :class:`ExchangeError`."""
    for view in result.legs:
        left = view["current_contracts"] = held_short(journal, hedge_id, view["symbol"])
        if left > EPS:
            raise ExchangeError(
                f"hedge close: {left:g} contracts of {view['symbol']} are still open after the "
                "buy-back; run `althedge hedge close --live` again"
            )
    result.current_contracts = result.legs[0]["current_contracts"]
