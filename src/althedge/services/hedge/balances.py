"""Balances the journal's hedges do not explain: a deposit, withdrawal or trade outside
althedge.

Per settlement currency C of the hedge (the open one, else the last one closed on this
venue), the journal explains::

    explained_C = balance before the hedge (journaled at open / at adoption, per leg's currency)
                − the adopted position's PnL at adoption (``hedge adopt``: in that balance)
                + collateral the venue took in since (deposits journaled: an exchange's
                  reported transfers, paper auto-funding)
                + hedge PnL of its legs settled in C (fills, any open rest at the mark)
                + funding received − fees paid (in C)

and the venue reports its EQUITY in C (wallet + margins + unrealised PnL: the figure of
:meth:`althedge.venues.ccxt_venue.CcxtVenue.balance` per exchange). Like is compared
with like: both sides hold the open position's PnL at the mark. A difference beyond the
tolerance (a cent, a millionth of the balance, and on an exchange — while a position is
open — a move of :data:`MARK_DRIFT_BPS` of its notional, as the mark and the balance are
two reads a moment apart; the paper venue has one state, so no drift) is listed as *not
explained by any hedge*. A balance is not a risk like a position: it is shown (status
table, ``--json``, an informational ``balance`` alert in ``monitor``) and never changes
the exit code. A venue that cannot answer now (429, timeout) makes the check say so
(:class:`BalanceCheck` ``checked`` False and a one-line ``note``) — never "explained".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from althedge.core.attribution import hedge_pnl_usd
from althedge.core.instruments import ContractType
from althedge.errors import ExchangeError
from althedge.journal import Journal
from althedge.services.hedge.common import USD_LIKE, is_simulated
from althedge.services.hedge.record import HedgeRecord
from althedge.venues.protocol import Venue

__all__ = [
    "BALANCE_TOLERANCE_REL",
    "BALANCE_TOLERANCE_USD",
    "MARK_DRIFT_BPS",
    "BalanceCheck",
    "check_balances",
    "not_checked_now",
    "unexplained_balances",
]

#: differences below max(this USD, this share of the balance) are rounding, not news
BALANCE_TOLERANCE_USD = 0.01
BALANCE_TOLERANCE_REL = 1e-6
#: the mark moves between the read of the mark and the read of the balance (an exchange
#: values the position at its own mark of that moment): this many basis points of the
#: open notional are tolerated too (2 bp of a 90 000 USD short = 18 USD)
MARK_DRIFT_BPS = 2.0


@dataclass
class BalanceCheck:
    """What the balance check found: ``unexplained`` (one entry per currency, see
    :func:`unexplained_balances`), ``checked`` — every settlement currency of the hedge
    was compared — and ``note``, one line saying why not when it could not be (the venue
    did not answer now; no balance journaled before the hedge)."""

    unexplained: list[dict[str, Any]] = field(default_factory=list)
    checked: bool = False
    note: str | None = None


def _reference_hedge(journal: Journal, venue: Venue) -> HedgeRecord | None:
    """The open hedge, else the last one closed on ``venue`` (its money is the account's
    last known state); None when the journal has neither."""
    rows = [r for r in journal.hedges() if r.venue == venue.name and r.status != "abandoned"]
    open_rows = [r for r in rows if r.status == "open"]
    row = open_rows[-1] if open_rows else (rows[-1] if rows else None)
    return None if row is None else HedgeRecord.from_row(row)


def unexplained_balances(journal: Journal, venue: Venue) -> list[dict[str, Any]]:
    """:func:`check_balances`' unexplained list (empty when nothing could be compared)."""
    return check_balances(journal, venue).unexplained


def check_balances(journal: Journal, venue: Venue) -> BalanceCheck:
    """Each settlement currency whose venue balance differs from what the journal's hedge
    explains (see the module docstring), with ``currency``, ``venue_balance_ccy``,
    ``explained_ccy``, ``unexplained_ccy`` (+ = the venue holds more) and
    ``unexplained_usd``. A venue read that fails (after the venue's own retries) gives
    ``checked`` False and a one-line note, never an exception."""
    hedge = _reference_hedge(journal, venue)
    if hedge is None or not callable(getattr(venue, "balance", None)):
        return BalanceCheck()
    try:
        return _compare(journal, venue, hedge)
    except ExchangeError as err:
        return not_checked_now(err)


def not_checked_now(err: ExchangeError) -> BalanceCheck:
    """The check when the venue could not answer now (a 429, a timeout): said in one line,
    nothing taken as explained."""
    return BalanceCheck(checked=False, note=(
        f"balances not checked now ({err}); nothing is taken as explained — the next "
        "command checks again"
    ))


def _compare(journal: Journal, venue: Venue, hedge: HedgeRecord) -> BalanceCheck:
    out: list[dict[str, Any]] = []
    deposits = journal.deposits(hedge.id)
    seen: set[str] = set()
    unread: list[str] = []
    for spec in hedge.legs:
        instrument = venue.instrument(spec.symbol)
        ccy = instrument.settle.upper()
        if ccy in seen:
            continue
        seen.add(ccy)
        if spec.balance_open_settle is None:
            unread.append(ccy)
            continue
        held = float(venue.balance(ccy))
        explained = float(spec.balance_open_settle) + sum(
            float(d["amount"]) for d in deposits if str(d["currency"]).upper() == ccy
        ) - sum(
            float(leg.pnl_open_settle or 0.0) for leg in hedge.legs
            if venue.instrument(leg.symbol).settle.upper() == ccy
        )
        price = 1.0
        open_notional_usd = 0.0
        for leg in hedge.legs:
            inst = venue.instrument(leg.symbol)
            if inst.settle.upper() != ccy:
                continue
            mark = venue.mark_price(leg.symbol)
            linear = inst.contract_type == ContractType.LINEAR
            price = 1.0 if ccy in USD_LIKE else mark
            fills = journal.fills(hedge.id, leg.symbol)
            net = sum(f.signed_amount for f in fills)
            # linear: contracts × coin per contract × mark; inverse: × USD per contract
            open_notional_usd += abs(net) * inst.contract_size * (mark if linear else 1.0)
            if fills:
                pnl_usd = hedge_pnl_usd(inst.contract_type, [f.signed_amount for f in fills],
                                        [f.price for f in fills], inst.contract_size, mark)
                explained += pnl_usd if linear else pnl_usd / mark
            explained -= sum(f.fee_usd if linear else f.fee_settle for f in fills)
            explained += sum(
                float(f["amount_usd"] if linear else (f["amount_settle"] or 0.0))
                for f in journal.funding(hedge.id, leg.symbol)
            )
        diff = held - explained
        # paper: one state, no drift
        drift = 0.0 if is_simulated(venue) else open_notional_usd * MARK_DRIFT_BPS / 10_000 / price
        tolerance = max(BALANCE_TOLERANCE_USD / price, BALANCE_TOLERANCE_REL * abs(held), drift)
        if abs(diff) <= tolerance:
            continue
        out.append({
            "currency": ccy,
            "venue": venue.name,
            "hedge_id": hedge.id,
            "venue_balance_ccy": held + 0.0,
            "explained_ccy": explained + 0.0,
            "unexplained_ccy": diff + 0.0,
            "unexplained_usd": diff * price + 0.0,
            "message": (
                f"{venue.name} holds {held:,.8g} {ccy}; the journal's hedge #{hedge.id} explains "
                f"{explained:,.8g} (balance before it, collateral, hedge PnL, funding, fees): "
                f"{diff:+,.8g} {ccy} not explained by any hedge (a deposit, withdrawal or trade "
                "outside althedge?)"
            ),
        })
    if unread:
        return BalanceCheck(out, checked=False, note=(
            f"balances of {', '.join(unread)} not checked: hedge #{hedge.id} has no balance "
            "journaled from before it (the venue did not answer then)"
        ))
    return BalanceCheck(out, checked=True)
