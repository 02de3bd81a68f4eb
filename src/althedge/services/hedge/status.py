"""``hedge status``: the portfolio vs the hedge now — beta (now vs at open), the ratio
achieved, PnL, funding, margin and liquidation distance, the portfolio once and each
leg in ``legs`` (see :class:`~althedge.services.hedge.results.HedgeStatus`)."""

from __future__ import annotations

import math
import operator
from datetime import date
from functools import reduce
from typing import TYPE_CHECKING

from althedge.core.instruments import Instrument
from althedge.core.margin import maintenance_margin
from althedge.core.margin import margin_ratio as core_margin_ratio
from althedge.core.pnl import position_value_coin, position_value_usd
from althedge.errors import AlthedgeError
from althedge.journal import Journal
from althedge.services.hedge.accounting import realised_and_fees
from althedge.services.hedge.common import (
    active_record,
    build_plan,
    plan_leg,
    portfolio_of,
    signed,
    to_usd,
)
from althedge.services.hedge.health import status_warnings
from althedge.services.hedge.reconcile import reconcile, sync_funding
from althedge.services.hedge.record import HedgeRecord, LegRecord
from althedge.services.hedge.results import (
    PRIMARY_FIELDS,
    SUMMED_FIELDS,
    HedgeStatus,
    LegStatus,
    Reconciliation,
)
from althedge.venues.limits import order_notional_usd
from althedge.venues.protocol import Venue, VenuePosition

if TYPE_CHECKING:
    from althedge.data.sources import PriceSource
    from althedge.services.plan import HedgeLeg

__all__ = ["STALE_SPOT_DAYS", "hedge_status"]

#: basis is only shown when the spot close is at most this many days from the venue's date
STALE_SPOT_DAYS = 3


def hedge_status(
    journal: Journal,
    venue: Venue,
    source: PriceSource,
    *,
    as_of: date | None = None,
    rec: Reconciliation | None = None,
) -> HedgeStatus:
    """Portfolio vs hedge now: beta (now vs at open), ratio achieved, PnL, funding, margin —
    the portfolio once, each leg in ``legs`` (see :class:`HedgeStatus` for the totals)."""
    rec = rec if rec is not None else reconcile(journal, venue)
    hedge = active_record(journal)
    status = HedgeStatus(reconciliation=rec)
    if hedge is None:
        status.warnings.extend(rec.differences)
        return status
    portfolio = portfolio_of(hedge)
    plan = build_plan(portfolio, source, as_of)
    amounts = hedge.portfolio.amounts
    prices_open = hedge.portfolio.prices_open
    prices_now = {h.asset: float(h.price_usd) for h in plan.holdings}
    value_now = sum(amounts[a] * prices_now.get(a, prices_open[a]) for a in amounts)
    beta_now = float(plan.portfolio_beta)
    beta_open = hedge.portfolio.beta_open
    status.legs = [
        leg_status(journal, venue, hedge, plan_leg(plan, spec.symbol, i), spec, plan.as_of)
        for i, spec in enumerate(hedge.legs)
    ]
    status.hedge_id = hedge.id
    status.venue = hedge.venue
    status.as_of = str(plan.as_of)
    status.portfolio_value_usd = value_now
    status.portfolio_pnl_usd = value_now - hedge.portfolio.value_open_usd
    status.current_beta = beta_now
    status.target_beta = beta_open
    status.beta_drift_pct = (beta_now / beta_open - 1.0) * 100.0 if beta_open else None
    status.correlation = float(plan.portfolio_correlation)
    for name in PRIMARY_FIELDS:
        setattr(status, name, getattr(status.legs[0], name))
    for name in SUMMED_FIELDS:
        setattr(status, name, reduce(operator.add, (getattr(leg, name) for leg in status.legs)))
    # the hedge wanted: V·β with one leg; V·Σ leg betas (the minimum-variance mix) with more
    leg_beta = beta_now if len(plan.hedges) == 1 else sum(float(h.beta) for h in plan.hedges)
    wanted = value_now * leg_beta
    net = status.net_hedge_notional_usd
    status.hedge_ratio_achieved = net / wanted if wanted > 0 and net is not None else None
    notes = list(dict.fromkeys(leg.basis_note for leg in status.legs if leg.basis_note))
    deposits_note = getattr(venue, "deposits_note", "")
    if deposits_note:  # the exchange reports no deposits: not available, not zero
        notes.append(str(deposits_note))
    status.warnings = status_warnings(status) + notes + list(rec.differences)
    return status


def leg_status(
    journal: Journal,
    venue: Venue,
    hedge: HedgeRecord,
    planned: HedgeLeg,
    spec: LegRecord,
    plan_as_of: str,
) -> LegStatus:
    """One leg's figures now (funding synced first)."""
    symbol = spec.symbol
    instrument = venue.instrument(symbol)
    mark = venue.mark_price(symbol)
    sync_funding(journal, venue, hedge, instrument)
    position = venue.position(symbol)
    contracts = max(-signed(position), 0.0)
    leg = LegStatus(symbol=symbol, hedge_asset=spec.hedge_asset)
    leg.contracts = contracts
    leg.target_contracts = target = float(planned.contracts)
    leg.hedge_notional_usd = float(
        order_notional_usd(instrument, contracts, mark) if contracts > 0 else 0.0
    )
    # inverse with coin collateral: the collateral's own long delta offsets part of the
    # short (the plan sized the contracts as H + C·P), so the hedge in force is the net
    leg.collateral_coin = float(planned.collateral_coin) if instrument.is_inverse else 0.0
    leg.net_hedge_notional_usd = leg.hedge_notional_usd - leg.collateral_coin * mark
    leg.drift_pct = (contracts / target - 1.0) * 100.0 if target > 0 else None
    leg.mark_price = mark
    leg_basis(leg, venue, float(planned.hedge_price_usd), plan_as_of)
    pnl, fees = realised_and_fees(journal, hedge, instrument, mark)
    if position is not None and contracts > 0:
        leg.entry_price = position.entry_price
        leg.unrealised_pnl_usd = to_usd(instrument, position.unrealised_pnl, mark)
        leg.realised_pnl_usd = pnl - leg.unrealised_pnl_usd
        leg.leverage = position.leverage
        leg.margin_mode = position.margin_mode
        liq = position.liquidation_price
        if liq is not None and math.isfinite(liq) and liq > 0:
            leg.liquidation_price = liq
            leg.liquidation_distance_pct = (liq / mark - 1.0) * 100.0
        leg.margin_ratio = margin_ratio(instrument, position, mark)
    else:
        leg.unrealised_pnl_usd = 0.0
        leg.realised_pnl_usd = pnl
    leg.fees_usd = -fees
    leg.funding_usd = journal.funding_total_usd(hedge.id, symbol)
    leg.funding_rate, leg.funding_interval_hours = venue.funding_rate(symbol)
    return leg


def leg_basis(leg: LegStatus, venue: Venue, spot: float, plan_as_of: str) -> None:
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


def margin_ratio(instrument: Instrument, position: VenuePosition, mark: float) -> float | None:
    """Maintenance margin / margin balance (Binance's "margin ratio"; liquidation at 100 %).

    The exchange's own figures win: its margin ratio (ccxt ``marginRatio`` =
    maintenance ÷ collateral), else its maintenance margin over the margin balance. A
    margin that already contains the unrealised PnL (``margin_includes_pnl``: ccxt's
    ``collateral`` on Binance, Bybit, OKX) is not given the PnL a second time. Only a
    venue reporting neither (paper) gets the maintenance margin from the tier table.
    """
    if position.margin_ratio is not None:
        return float(position.margin_ratio)
    if position.isolated_margin is None:
        return None
    pnl = 0.0 if position.margin_includes_pnl else position.unrealised_pnl
    if position.maintenance_margin is not None:
        return core_margin_ratio(position.maintenance_margin, position.isolated_margin, pnl)
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
    return core_margin_ratio(maintenance, position.isolated_margin, pnl)
