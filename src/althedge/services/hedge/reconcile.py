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

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from althedge.core.instruments import Instrument
from althedge.errors import ExchangeError
from althedge.journal import ID_TAKEN, OPEN_STATUSES, Journal, OrderRow
from althedge.services.hedge.common import (
    EPS,
    USD_LIKE,
    active_record,
    is_simulated,
    record_result,
    signed,
    venue_now_iso,
)
from althedge.services.hedge.money import Money
from althedge.services.hedge.record import HedgeRecord
from althedge.services.hedge.results import Reconciliation
from althedge.venues.protocol import (
    AccountReports,
    Deposit,
    OrderResult,
    Venue,
    VenuePosition,
)

__all__ = [
    "CLOCK_SKEW_MS",
    "LOOKUP_BACKOFF_S",
    "WALL_SLACK_MS",
    "all_positions",
    "import_liquidations",
    "lookup",
    "predates",
    "reconcile",
    "refuse_taken_id",
    "sync_deposits",
    "sync_funding",
    "sync_funding_all",
    "way_out",
]


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
        remote = lookup(venue, order.symbol, order.client_order_id,
                        patient=order.status == "intent")
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
        if predates(remote, order.created_at, order.created_wall_ms):
            rec.resolved.append(refuse_taken_id(journal, venue, order, remote))
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
    listed = all_positions(venue)
    others = sorted({p.symbol for p in listed or []} - set(legs) - set(wanted))
    remember = getattr(venue, "remember_client_ids", None)
    if callable(remember):  # orders come back under the exchange's form of our ids
        remember(known)
    for sym in sorted(symbols | set(others)):
        for remote in venue.open_orders(sym):
            if remote.client_order_id not in known:
                message = (
                    f"venue has a working order {remote.client_order_id} ({remote.side} "
                    f"{remote.contracts:g} {sym}) that the journal does not know; "
                    f"{way_out(venue.name)}"
                )
                rec.differences.append(message)
                rec.orphans.append({
                    "message": message,
                    "kind": "order",
                    "venue": venue.name,
                    "symbol": sym,
                    "client_order_id": remote.client_order_id,
                    "side": remote.side,
                    "contracts": remote.contracts,
                    "price": remote.price,
                })
    if hedge is not None:
        for i, sym in enumerate(legs):
            held = journal.net_contracts(hedge.id, sym)
            pos = rec.venue_positions[sym] = signed(venue.position(sym))
            if abs(held - pos) > 1e-6 and _found_late(journal, venue, hedge, sym, rec):
                held = journal.net_contracts(hedge.id, sym)
            if i == 0:
                rec.journal_contracts, rec.venue_contracts = held, pos
            if abs(held - pos) > 1e-6:
                message = (
                    f"position on {sym}: journal {held:+g} contracts, "
                    f"venue {pos:+g}; check the exchange, then {way_out(venue.name)}"
                )
                rec.differences.append(message)
                _orphan_position(rec, venue, sym, pos - held, journal_contracts=held,
                                 message=message)
    for i, sym in enumerate([*(wanted if hedge is None else []), *others]):
        if sym in legs:
            continue
        pos = rec.venue_positions[sym] = signed(venue.position(sym))
        if i == 0 and hedge is None:
            rec.venue_contracts, rec.journal_contracts = pos, 0.0
        if abs(pos) > EPS:
            message = (
                f"venue {venue.name} holds {pos:+g} contracts of {sym} that no open hedge in "
                f"the journal accounts for; {way_out(venue.name)}"
            )
            rec.differences.append(message)
            _orphan_position(rec, venue, sym, pos, journal_contracts=0.0, message=message)
    _check_balances(journal, venue, hedge, rec)
    if rec.differences or rec.resolved:
        journal.record_event(
            hedge.id if hedge else None, "reconcile", rec.to_dict(), at=venue_now_iso(venue)
        )
    return rec


def _check_balances(
    journal: Journal, venue: Venue, hedge: HedgeRecord | None, rec: Reconciliation
) -> None:
    """The balance check (:func:`althedge.services.hedge.balances.check_balances`), after
    the funding it counts is synced. Information only: a venue that cannot answer now
    never stops a command — the check says so in one line (``checked`` False, a note)."""
    from althedge.services.hedge.balances import check_balances, not_checked_now

    try:
        if hedge is not None and isinstance(venue, AccountReports):
            sync_funding_all(journal, venue, hedge)  # the balance check counts every payment
    except ExchangeError as err:
        found = not_checked_now(err)
    else:
        found = check_balances(journal, venue)
    rec.unexplained_balances = found.unexplained
    rec.unexplained_balances_checked = found.checked
    rec.unexplained_balances_note = found.note


def way_out(venue: str) -> str:
    """What every orphan message ends with: the two ways out, for ``venue``."""
    return (
        f"adopt it into a hedge (`althedge hedge adopt PORTFOLIO.toml --venue {venue}`) or take "
        f"it off (`althedge hedge close --venue {venue} --orphan`); both are dry runs unless "
        "--live"
    )


#: waits (s) between the lookups of an order journaled as an intent that the venue does
#: not know yet: an exchange may index a new order a moment after accepting it, so one
#: "not found" right after a send means "not yet known" (simulated venues: no wait)
LOOKUP_BACKOFF_S: tuple[float, ...] = (0.5, 1.0, 2.0)


def lookup(
    venue: Venue, symbol: str, client_order_id: str, *, patient: bool,
    sleep: Callable[[float], None] = time.sleep,
) -> OrderResult | None:
    """The venue's order with this client id; ``patient``: ask again with backoff
    (:data:`LOOKUP_BACKOFF_S`, a few seconds in all) before concluding it never arrived."""
    found = venue.fetch_order(symbol, client_order_id)
    simulated = is_simulated(venue)
    if found is not None or not patient or simulated:
        return found
    for wait in LOOKUP_BACKOFF_S:
        sleep(wait)
        found = venue.fetch_order(symbol, client_order_id)
        if found is not None:
            return found
    return None


#: a venue order placed more than this (ms) before its intent was journaled is not that
#: intent's order: the machine's and the exchange's clocks may differ a little, a journal
#: restored from an older copy reuses that copy's client ids from long before
CLOCK_SKEW_MS = 300_000


def iso_ms(at: str) -> int | None:
    """An ISO 8601 time of the journal (UTC unless it says otherwise) in ms, or None."""
    from datetime import UTC, datetime

    try:
        t = datetime.fromisoformat(at)
    except (TypeError, ValueError):
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return int(t.timestamp() * 1000)


#: a venue on this machine (paper) and the journal share one clock: an order it placed
#: more than this (ms) before the intent was journaled is not that intent's order
WALL_SLACK_MS = 1_000


def predates(
    remote: OrderResult, intent_at: str | int | None, intent_wall_ms: int | None = None
) -> bool:
    """True when the venue's order was placed before the intent it would answer (by
    more than :data:`CLOCK_SKEW_MS` on the venue's clock, or — a venue on this machine that
    reports ``placed_wall_ms``, the paper venue — by more than :data:`WALL_SLACK_MS` on the
    machine's clock, which the journal kept as ``created_wall_ms``): its client id was
    used by someone else earlier — a journal restored from an older copy, run again at the
    same paper date — and nothing of it is this intent's result. An order without a
    timestamp cannot be told apart and is taken."""
    wall = remote.placed_wall_ms
    if wall is not None and intent_wall_ms is not None and wall < intent_wall_ms - WALL_SLACK_MS:
        return True
    at = iso_ms(intent_at) if isinstance(intent_at, str) else intent_at
    ts = remote.timestamp_ms
    return ts is not None and ts > 0 and at is not None and ts < at - CLOCK_SKEW_MS


def _ms_iso(ms: int | None) -> str:
    from datetime import UTC, datetime

    if ms is None:
        return "?"
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


def refuse_taken_id(
    journal: Journal, venue: Venue, order: OrderRow | str, remote: OrderResult,
    intent_ms: int | None = None,
) -> str:
    """The venue answered for ``order`` with an order placed before it was journaled:
    mark it ``id_taken`` (nothing of the venue's order is recorded as its result), give the
    journal a new id (its later client ids differ from the copy's), and say so (one line)."""
    cid = order if isinstance(order, str) else order.client_order_id
    when = _ms_iso(intent_ms) if isinstance(order, str) else order.created_at
    journal.mark_status(cid, ID_TAKEN, at=venue_now_iso(venue))
    new_id = journal.renew_journal_id()
    wall = (
        f" (by this machine's clock {_ms_iso(remote.placed_wall_ms)})"
        if remote.placed_wall_ms is not None else ""
    )
    return (
        f"client order id {cid} was already used on {venue.name} by an order placed "
        f"{_ms_iso(remote.timestamp_ms)}{wall} ({remote.side} {remote.filled_contracts:g}/"
        f"{remote.contracts:g} {remote.symbol} filled at {remote.average_price or 0:,.2f}), "
        f"before this journal's intent of {when}: this journal looks restored from an "
        "older copy. Nothing of that order was taken as this one's result (marked id_taken); "
        f"the journal has a new id ({new_id[:6]}…), so its next orders get new client ids"
    )


def _found_late(
    journal: Journal, venue: Venue, hedge: HedgeRecord, symbol: str, rec: Reconciliation
) -> bool:
    """Journal and venue differ on ``symbol``: look again for the hedge's orders marked
    ``not_sent`` there — a venue that indexed an order late shows it now; its fills are
    recorded and the difference settles. True when anything was found."""
    found = False
    for order in journal.orders(hedge.id, ["not_sent"]):
        if order.symbol != symbol or order.venue != venue.name:
            continue
        remote = venue.fetch_order(symbol, order.client_order_id)
        if remote is None:
            continue
        if predates(remote, order.created_at, order.created_wall_ms):
            rec.resolved.append(refuse_taken_id(journal, venue, order, remote))
            continue
        added = record_result(journal, remote, at=venue_now_iso(venue))
        rec.resolved.append(
            f"order {order.client_order_id} ({order.side} {order.amount:g}), marked not_sent, "
            f"is at the venue after all ('{remote.status}', {remote.filled_contracts:g} "
            f"filled); recorded" + (f" ({added:g} newly)" if added > EPS else "")
        )
        found = True
    return found


def all_positions(venue: Venue) -> list[VenuePosition] | None:
    """Every open position of the venue account (the optional ``open_positions()``), or
    None when the venue cannot list them (then only the symbols in question are checked)."""
    fn = getattr(venue, "open_positions", None)
    if not callable(fn):
        return None
    return [p for p in fn() if p.contracts > EPS]


def _orphan_position(
    rec: Reconciliation,
    venue: Venue,
    symbol: str,
    unexplained: float,
    *,
    journal_contracts: float,
    message: str,
) -> None:
    """Add an orphan position entry: ``unexplained`` signed contracts on ``symbol``."""
    position = venue.position(symbol)
    entry: dict[str, object] = {
        "message": message,
        "kind": "position",
        "venue": venue.name,
        "symbol": symbol,
        "contracts": unexplained + 0.0,
        "venue_contracts": signed(position) + 0.0,
        "journal_contracts": journal_contracts + 0.0,
    }
    if position is not None:
        entry.update(
            entry_price=position.entry_price,
            leverage=position.leverage,
            margin_mode=position.margin_mode,
            liquidation_price=position.liquidation_price,
        )
    rec.orphans.append(entry)


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
    leg = next((leg for leg in hedge.legs if leg.symbol == instrument.symbol), None)
    since = None if leg is None else leg.opened_ms
    # an adopted leg: a payment at the adoption's very moment is in the balance journaled
    # then (``balance_open_settle``), so it is not this hedge's again
    adopted = leg is not None and leg.pnl_open_settle is not None
    payments = venue.funding_payments(instrument.symbol, since_ms=since)
    rows = []
    for p in payments or []:
        ts = int(p.timestamp_ms)
        if since is not None and (ts < since or (adopted and ts == since)):
            continue
        amount_usd = (
            Money(p.amount, p.currency or instrument.settle).to_usd(float(p.mark_price)).amount
        )
        rows.append({
            "symbol": instrument.symbol,
            "at": str(p.timestamp_ms),
            "amount_usd": amount_usd,
            "rate": float(p.rate),
            "mark_price": float(p.mark_price),
            "amount_settle": float(p.amount),
        })
    journal.record_funding_many(hedge.id, rows)  # only the new ones, one transaction


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
    """Record collateral the venue account took in since last seen.

    A real exchange reports its history (``venue.deposits_since``: transfers into and
    out of the futures account since the hedge opened, each journaled once with the USD
    price when first seen). The paper venue's ``deposits`` is cumulative over the
    account's life; the journal keeps each increase with the USD price at the time
    (USD-like 1, a coin at the mark of the leg settled in it), so the attribution can
    value the collateral exactly.
    """
    history = _deposit_history(venue, hedge)
    if history is not None:
        _record_deposit_history(journal, venue, hedge, history)
        return
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


def _deposit_history(venue: Venue, hedge: HedgeRecord) -> list[Deposit] | None:
    """The venue's deposits since the hedge opened, or None (no history: paper's
    cumulative ``deposits``; an exchange without any; a hedge without an open time)."""
    if not isinstance(venue, AccountReports):
        return None
    opened = [leg.opened_ms for leg in hedge.legs if leg.opened_ms is not None]
    if not opened:
        return None
    settles = [venue.instrument(symbol).settle.upper() for symbol in hedge.symbols]
    return venue.deposits_since(min(opened), settles)


def _record_deposit_history(
    journal: Journal, venue: Venue, hedge: HedgeRecord, history: Sequence[Deposit]
) -> None:
    """Journal each deposit (+) / withdrawal (−) not journaled yet (same time to the
    second, currency and amount), valued at today's price of its currency."""
    seen = {
        (str(d["at"]), str(d["currency"]).upper(), round(float(d["amount"]), 12))
        for d in journal.deposits(hedge.id)
    }
    for dep in history:
        at = datetime.fromtimestamp(dep.timestamp_ms / 1000, UTC).isoformat(timespec="seconds")
        key = (at, dep.currency.upper(), round(dep.amount, 12))
        if key in seen:
            continue
        ccy = dep.currency.upper()
        price = 1.0 if ccy in USD_LIKE else coin_price(venue, hedge, ccy)
        journal.record_deposit(hedge.id, currency=ccy, amount=dep.amount, price_usd=price, at=at)
        seen.add(key)
