"""Journal vs venue: bring the journal up to date and report what differs.

Every lifecycle command starts here. Orders the journal left unfinished
(``intent``/``sent``/``open``) are looked up at the venue **by client order id** —
never re-sent — and their fills recorded; forced closes (liquidations) the venue
reports are imported; the journal's net position per leg is compared with the
venue's, and working orders the journal does not know are reported. Funding
payments and collateral deposits are synced here too (:func:`sync_funding`,
:func:`sync_deposits`).
"""

from __future__ import annotations

from collections.abc import Sequence

from althedge.core.instruments import Instrument
from althedge.journal import OPEN_STATUSES, Journal
from althedge.services.hedge.common import (
    EPS,
    USD_LIKE,
    active_record,
    record_result,
    signed,
    venue_now_iso,
)
from althedge.services.hedge.money import Money
from althedge.services.hedge.record import HedgeRecord
from althedge.services.hedge.results import Reconciliation
from althedge.venues.protocol import AccountReports, Venue

__all__ = ["import_liquidations", "reconcile", "sync_deposits", "sync_funding", "sync_funding_all"]


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
    hedge = active_record(journal)
    wanted = [symbol] if isinstance(symbol, str) else list(symbol or [])
    legs = hedge.symbols if hedge is not None else []
    symbols = set(wanted) | set(legs)
    for order in journal.orders(statuses=OPEN_STATUSES):
        if order.venue != venue.name:
            continue
        symbols.add(order.symbol)
        remote = venue.fetch_order(order.symbol, order.client_order_id)
        if remote is None:
            if order.status == "intent":
                journal.mark_status(order.client_order_id, "not_sent", at=venue_now_iso(venue))
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
        added = record_result(journal, remote, at=venue_now_iso(venue))
        if remote.status != order.status or added > EPS:
            rec.resolved.append(
                f"order {order.client_order_id} ({order.side} {order.amount:g}): "
                f"journal '{order.status}' → venue '{remote.status}', "
                f"{remote.filled_contracts:g} filled"
                + (f" ({added:g} newly recorded)" if added > EPS else "")
            )
    known = {o.client_order_id for o in journal.orders()}
    if hedge is not None:
        for sym in legs:
            import_liquidations(journal, venue, hedge, sym, known, rec)
        sync_deposits(journal, venue, hedge)
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
            pos = rec.venue_positions[sym] = signed(venue.position(sym))
            if i == 0:
                rec.journal_contracts, rec.venue_contracts = held, pos
            if abs(held - pos) > 1e-6:
                rec.differences.append(
                    f"position on {sym}: journal {held:+g} contracts, "
                    f"venue {pos:+g}; check the exchange before trading"
                )
    else:
        for i, sym in enumerate(wanted):
            pos = rec.venue_positions[sym] = signed(venue.position(sym))
            if i == 0:
                rec.venue_contracts, rec.journal_contracts = pos, 0.0
            if abs(pos) > EPS:
                rec.differences.append(
                    f"venue holds {pos:+g} contracts of {sym} that no open hedge in the "
                    "journal accounts for"
                )
    if rec.differences or rec.resolved:
        journal.record_event(
            hedge.id if hedge else None, "reconcile", rec.to_dict(), at=venue_now_iso(venue)
        )
    return rec


def import_liquidations(
    journal: Journal,
    venue: Venue,
    hedge: HedgeRecord,
    symbol: str,
    known: set[str],
    rec: Reconciliation,
) -> None:
    """Journal forced closes (liquidations) the venue reports and the journal lacks.

    Uses the venue's ``fills_for(symbol, since_ms)`` (:class:`AccountReports`; a real
    exchange reports its liquidations there) since the leg opened; each liquidation
    fill becomes an order with purpose ``liquidation`` and its fill, plus an alert.
    """
    if not isinstance(venue, AccountReports):
        return
    since = next((leg.opened_ms for leg in hedge.legs if leg.symbol == symbol), None)
    for fill in venue.fills_for(symbol, since_ms=since):
        if not getattr(fill, "liquidation", False) or fill.client_order_id in known:
            continue
        at = venue_now_iso(venue)
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
            fee_usd=Money(fill.fee.amount, fill.fee.currency).to_usd(fill.price).amount,
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



def sync_funding(
    journal: Journal, venue: Venue, hedge: HedgeRecord, instrument: Instrument
) -> None:
    """Record the funding payments the venue reports on ``instrument`` (one leg) since
    the leg opened, by the venue's clock (idempotent).

    The venue's account may have held the same contract for an earlier hedge: its
    payments before this leg opened (``LegRecord.opened_ms``) belong to that hedge. A
    leg journaled before ``opened_ms`` existed takes every payment the venue reports.
    """
    if not isinstance(venue, AccountReports):
        return
    since = next(
        (leg.opened_ms for leg in hedge.legs if leg.symbol == instrument.symbol), None
    )
    payments = venue.funding_payments(instrument.symbol, since_ms=since)
    for p in payments or []:
        if since is not None and int(p.timestamp_ms) < since:
            continue
        amount_usd = (
            Money(p.amount, p.currency or instrument.settle).to_usd(float(p.mark_price)).amount
        )
        journal.record_funding(
            hedge.id,
            at=str(p.timestamp_ms),
            amount_usd=amount_usd,
            rate=float(p.rate),
            mark_price=float(p.mark_price),
            amount_settle=float(p.amount),
            symbol=instrument.symbol,
        )


def sync_funding_all(journal: Journal, venue: Venue, hedge: HedgeRecord) -> None:
    for symbol in hedge.symbols:
        sync_funding(journal, venue, hedge, venue.instrument(symbol))


def coin_price(venue: Venue, hedge: HedgeRecord, currency: str) -> float:
    """USD price of a deposited coin: the mark of the leg settled in it (else the primary's)."""
    symbols = hedge.symbols
    for symbol in symbols:
        if venue.instrument(symbol).settle.upper() == currency:
            return venue.mark_price(symbol)
    return venue.mark_price(symbols[0])


def sync_deposits(journal: Journal, venue: Venue, hedge: HedgeRecord) -> None:
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
            price = 1.0 if ccy_up in USD_LIKE else coin_price(venue, hedge, ccy_up)
            journal.record_deposit(
                hedge.id, currency=str(ccy), amount=delta, price_usd=price, at=venue_now_iso(venue)
            )


