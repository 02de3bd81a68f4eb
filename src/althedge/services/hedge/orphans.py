"""The way out for what the venue holds and no open hedge explains (an *orphan*).

:func:`adopt_orphans` (``hedge adopt``) journals a venue short as a hedge: with no hedge
open, a new hedge for the portfolio whose legs are the shorts held (each leg's fill
recorded at the venue's entry price, purpose ``adopt``, nothing sent); with a hedge
open whose legs differ from the venue, one adjustment fill per leg that brings the
journal to the venue (the venue is the truth about what is held).

:func:`close_orphans` (``hedge close --venue … --orphan``) takes orphans off: a
reduce-only order for each orphan position's unexplained contracts, and a cancel for
each working order the journal does not know. The orders are journaled (intent before
send) under a bookkeeping row of status ``abandoned``, so a crash mid-way is
reconciled like any other.

Both are dry runs unless ``live``: they return what they would do and change nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from althedge.core.attribution import hedge_pnl_usd
from althedge.core.instruments import ContractType, Instrument
from althedge.errors import InputError
from althedge.journal import Journal
from althedge.services.hedge.common import (
    EPS,
    USD_LIKE,
    active_record,
    build_plan,
    persist,
    venue_now_iso,
)
from althedge.services.hedge.executor import ExecutionSettings, JournaledExecutor, StepHook
from althedge.services.hedge.open import _OpenLeg, _record_open
from althedge.services.hedge.orders import order_view
from althedge.services.hedge.reconcile import reconcile
from althedge.services.hedge.record import HedgeRecord
from althedge.services.hedge.results import LifecycleResult, Reconciliation
from althedge.venues.protocol import OrderRequest, Venue, client_order_id

if TYPE_CHECKING:
    from althedge.config import PortfolioConfig
    from althedge.data.sources import PriceSource

__all__ = ["adopt_orphans", "close_orphans"]


def _positions(rec: Reconciliation, symbols: Sequence[str] | None) -> list[dict[str, Any]]:
    found = [o for o in rec.orphans if o["kind"] == "position"]
    if symbols:
        unknown = sorted(set(symbols) - {o["symbol"] for o in found})
        if unknown:
            raise InputError(
                f"--symbol: the venue holds no orphan position on {', '.join(unknown)}; "
                "run `althedge hedge status --venue NAME` to see what it holds"
            )
        found = [o for o in found if o["symbol"] in symbols]
    return found


def adopt_orphans(
    journal: Journal,
    venue: Venue,
    portfolio: PortfolioConfig | None,
    source: PriceSource,
    *,
    as_of: date | None = None,
    symbols: Sequence[str] | None = None,
    live: bool = False,
    portfolio_path: str | None = None,
    extra_settings: Mapping[str, Any] | None = None,
    rec: Reconciliation | None = None,
) -> LifecycleResult:
    """Journal the venue's orphan shorts as a hedge (see the module docstring)."""
    rec = rec if rec is not None else reconcile(journal, venue)
    orphans = _positions(rec, symbols)
    hedge = active_record(journal)
    result = LifecycleResult(
        action="adopt", live=live, venue=venue.name, symbol="", as_of=str(as_of or ""),
        orders=[], executed=[], reconciliation=rec,
        hedge_id=None if hedge is None else hedge.id,
    )
    if not orphans:
        result.message = "nothing to adopt: every venue position is explained by the journal"
        return result
    if hedge is not None:
        return _adjust_open(journal, venue, hedge, orphans, result, live)
    longs = [o for o in orphans if o["contracts"] > 0]
    if longs:
        raise InputError(
            f"hedge adopt: the venue holds a long of {longs[0]['contracts']:+g} contracts on "
            f"{longs[0]['symbol']}; a hedge is a short, so it cannot be adopted; take it off "
            "with `althedge hedge close --venue NAME --orphan` (or pass --symbol for the shorts)"
        )
    if portfolio is None:
        raise InputError(
            "hedge adopt: no hedge is open, so the adopted short needs its portfolio; "
            "pass PORTFOLIO.toml (the file the hedge was for)"
        )
    plan = build_plan(portfolio, source, as_of)
    by_symbol = {leg.instrument: leg for leg in plan.hedges}
    legs: list[_OpenLeg] = []
    for o in orphans:
        planned = by_symbol.get(o["symbol"])
        if planned is None:
            raise InputError(
                f"hedge adopt: {o['symbol']} is not a hedge leg of the portfolio's plan "
                f"({', '.join(by_symbol)}); check [hedge] in the portfolio file, or take the "
                "position off with `althedge hedge close --venue NAME --orphan`"
            )
        legs.append(
            _OpenLeg(planned, venue.instrument(o["symbol"]), venue.mark_price(o["symbol"]),
                     float(planned.contracts), [])
        )
    result.symbol = legs[0].symbol
    result.target_contracts = legs[0].target
    result.current_contracts = -float(orphans[0]["contracts"]) + 0.0
    result.legs = [
        leg.view() | {"current_contracts": -float(o["contracts"]) + 0.0}
        for leg, o in zip(legs, orphans, strict=True)
    ]
    result.plan = plan.to_dict()
    lines = [
        f"short {-o['contracts']:g} {o['symbol']} at entry {o.get('entry_price') or 0:,.2f}"
        for o in orphans
    ]
    if not live:
        result.message = (
            "dry run: would adopt " + "; ".join(lines) + " as a new hedge (nothing is sent); "
            "pass --live to journal it"
        )
        return result
    _deposits_before(journal, venue, orphans[0]["symbol"])
    key = journal.next_hedge_key()
    record = _record_open(
        journal, venue, portfolio, plan, legs, key, ExecutionSettings(), portfolio_path,
        {**(extra_settings or {}), "adopted": True},
        pnl_open={leg.symbol: _pnl_settle(leg.instrument, float(o["contracts"]),
                                         float(o.get("entry_price") or 0.0), leg.mark)
                  for leg, o in zip(legs, orphans, strict=True)},
    )
    for step, o in enumerate(orphans):
        _record_adjustment(journal, venue, record, o["symbol"], float(o["contracts"]),
                           float(o.get("entry_price") or 0.0), step=step)
    journal.record_event(record.id, "adopt", {"positions": orphans}, at=venue_now_iso(venue))
    result.hedge_id = record.id
    result.message = f"hedge #{record.id} adopted: " + "; ".join(lines)
    return result


def _pnl_settle(instrument: Instrument, signed_contracts: float, entry: float,
                mark: float) -> float:
    """The PnL at ``mark`` of ``signed_contracts`` entered at ``entry`` — the adoption fill
    — in the settlement currency (USD linear, coin inverse): the balance read at adoption
    already holds it (the exchange's unrealised PnL), so the balance check takes it out."""
    if entry <= 0 or mark <= 0:
        return 0.0
    pnl_usd = hedge_pnl_usd(instrument.contract_type, [signed_contracts], [entry],
                            instrument.contract_size, mark)
    return pnl_usd if instrument.contract_type == ContractType.LINEAR else pnl_usd / mark


def _deposits_before(journal: Journal, venue: Venue, symbol: str) -> None:
    """Collateral the venue account took in before the adoption belongs to no hedge:
    journal it without one, so the adopted hedge's attribution does not count it."""
    current = getattr(venue, "deposits", None)
    if not isinstance(current, dict):
        return
    seen: dict[str, float] = {}
    for d in journal.deposits():
        seen[d["currency"]] = seen.get(d["currency"], 0.0) + float(d["amount"])
    for ccy, total in current.items():
        ccy_up = str(ccy).upper()
        delta = float(total) - seen.get(ccy_up, 0.0)
        if delta > 1e-12:
            price = 1.0 if ccy_up in USD_LIKE else venue.mark_price(symbol)
            journal.record_deposit(None, currency=ccy_up, amount=delta, price_usd=price,
                                   at=venue_now_iso(venue))


def _adjust_open(
    journal: Journal,
    venue: Venue,
    hedge: HedgeRecord,
    orphans: Sequence[dict[str, Any]],
    result: LifecycleResult,
    live: bool,
) -> LifecycleResult:
    """A hedge is open: record one adjustment fill per leg so the journal equals the venue."""
    legs = set(hedge.symbols)
    foreign = [o for o in orphans if o["symbol"] not in legs]
    if foreign:
        raise InputError(
            f"hedge adopt: hedge #{hedge.id} is open on {', '.join(hedge.symbols)}; the position "
            f"on {foreign[0]['symbol']} is not one of its legs. Take it off with "
            "`althedge hedge close --venue NAME --orphan --symbol "
            f"{foreign[0]['symbol']}` (or close the hedge first)"
        )
    result.symbol = hedge.symbol
    lines = [
        f"{o['symbol']}: journal {o['journal_contracts']:+g} → venue {o['venue_contracts']:+g} "
        f"contracts (adjustment {o['contracts']:+g})"
        for o in orphans
    ]
    if not live:
        result.message = (
            f"dry run: would adjust hedge #{hedge.id} to the venue: " + "; ".join(lines)
            + "; pass --live to journal it"
        )
        return result
    for o in orphans:
        held, pos, delta = o["journal_contracts"], o["venue_contracts"], o["contracts"]
        entry = float(o.get("entry_price") or 0.0)
        mark = venue.mark_price(o["symbol"])
        price = mark
        # growing: the price that makes the journal's average the venue's entry price
        if abs(pos) > abs(held) and held * pos >= 0 and entry > 0:
            avg = _journal_average(journal, hedge.id, o["symbol"])
            implied = (entry * abs(pos) - avg * abs(held)) / abs(delta)
            price = implied if implied > 0 else entry
        _record_adjustment(journal, venue, hedge, o["symbol"], delta, price,
                           step=journal.order_count(hedge.id))
    journal.record_event(hedge.id, "adopt", {"adjustments": list(orphans)},
                         at=venue_now_iso(venue))
    result.message = f"hedge #{hedge.id} adjusted to the venue: " + "; ".join(lines)
    return result


def _journal_average(journal: Journal, hedge_id: int, symbol: str) -> float:
    """Average price (USD) of the journal's net short on ``symbol`` from its sells."""
    sells = [f for f in journal.fills(hedge_id, symbol) if f.side == "sell"]
    qty = sum(f.amount for f in sells)
    return sum(f.amount * f.price for f in sells) / qty if qty > 0 else 0.0


def _record_adjustment(
    journal: Journal,
    venue: Venue,
    hedge: HedgeRecord,
    symbol: str,
    signed_contracts: float,
    price: float,
    *,
    step: int,
) -> None:
    """One filled ``adopt`` order of ``signed_contracts`` (− sells) at ``price``; nothing sent."""
    at = venue_now_iso(venue)
    cid = client_order_id(hedge.key, step, "adopt", journal.journal_id())
    side = "sell" if signed_contracts < 0 else "buy"
    amount = abs(signed_contracts)
    journal.record_intent(
        hedge_id=hedge.id, client_order_id=cid, venue=venue.name, symbol=symbol, side=side,
        amount=amount, order_type="market", price=price, reduce_only=side == "buy",
        purpose="adopt", at=at,
    )
    journal.record_result(cid, status="filled", filled=amount, average_price=price,
                          fee_usd=0.0, exchange_order_id=None, at=at)


def close_orphans(
    journal: Journal,
    venue: Venue,
    *,
    symbols: Sequence[str] | None = None,
    live: bool = False,
    execution: ExecutionSettings | None = None,
    rec: Reconciliation | None = None,
    on_step: StepHook | None = None,
) -> LifecycleResult:
    """Take the venue's orphans off: reduce-only orders for the unexplained contracts and
    cancels for unknown working orders (see the module docstring)."""
    rec = rec if rec is not None else reconcile(journal, venue)
    positions = _positions(rec, symbols)
    strays = [
        o for o in rec.orphans
        if o["kind"] == "order" and (not symbols or o["symbol"] in symbols)
    ]
    result = LifecycleResult(
        action="close_orphan", live=live, venue=venue.name,
        symbol=positions[0]["symbol"] if positions else "", as_of="",
        orders=[], executed=[], reconciliation=rec,
    )
    takeable: list[dict[str, Any]] = []
    for o in positions:
        held, pos = float(o["journal_contracts"]), float(o["venue_contracts"])
        if held and (held * pos < 0 or abs(pos) < abs(held)):
            raise InputError(
                f"hedge close --orphan: the journal holds {held:+g} contracts of {o['symbol']} "
                f"and the venue {pos:+g}; there is nothing extra to take off. Bring the journal "
                "to the venue with `althedge hedge adopt --venue NAME --live`"
            )
        takeable.append(o)
    if not takeable and not strays:
        result.message = "no orphans: every venue position and order is explained by the journal"
        return result
    execution = execution or ExecutionSettings(order_type="market")
    key = f"{journal.installation_id()}:orphan:{len(journal.hedges()) + 1}"
    orders: list[OrderRequest] = []
    marks: dict[str, float] = {}
    for step, o in enumerate(takeable):
        symbol = o["symbol"]
        instrument = venue.instrument(symbol)
        marks[symbol] = venue.mark_price(symbol)
        orders.append(
            OrderRequest(
                symbol=symbol,
                side="buy" if o["contracts"] < 0 else "sell",
                contracts=abs(float(o["contracts"])),
                order_type="market",
                client_order_id=client_order_id(key, step, "orphan", journal.journal_id()),
                reduce_only=True,
            )
        )
        result.orders.append(order_view(orders[-1], instrument, marks[symbol]))
    cancel_lines = [
        f"working order {o['client_order_id']} ({o['side']} {o['contracts']:g} {o['symbol']}) "
        + ("cancelled" if live else "would be cancelled")
        for o in strays
    ]
    result.warnings = cancel_lines
    if not live:
        result.message = "dry run: nothing sent; pass --live to take these orphans off"
        return result
    for o in strays:
        venue.cancel_order(o["symbol"], o["client_order_id"])
        persist(venue)
    if orders:
        at = venue_now_iso(venue)
        row_id = journal.create_orphan_row(
            venue=venue.name, symbol=orders[0].symbol, at=at,
            settings={"hedge_key": key, "orphan_close": True,
                      "legs": [{"symbol": o.symbol} for o in orders]},
        )
        record = HedgeRecord.from_row(journal.hedge(row_id))
        executor = JournaledExecutor(journal, venue, record, execution, on_step=on_step)
        result.hedge_id = row_id
        result.executed = executor.execute_all(orders, purpose="orphan")
        journal.finish_hedge(row_id, status="abandoned", at=venue_now_iso(venue),
                             attribution=None)
    left = [p for p in (venue.position(o.symbol) for o in orders) if p is not None
            and p.contracts > EPS]
    result.message = (
        "orphans taken off: " + ", ".join(f"{o.side} {o.contracts:g} {o.symbol}" for o in orders)
        if not left else
        f"{left[0].contracts:g} contracts of {left[0].symbol} are still open; run the command again"
    )
    if strays:
        result.message += f"; {len(strays)} unknown working order(s) cancelled"
    return result
