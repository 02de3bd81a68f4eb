"""Small helpers every lifecycle command shares: venue reads, guards, plan glue.

Money is USD unless a name says otherwise (``_settle``: the settlement currency).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from althedge.core.instruments import ContractType, Instrument
from althedge.errors import AlthedgeError, InputError, JournalError
from althedge.journal import Journal
from althedge.services.hedge.money import USD_LIKE, Money
from althedge.services.hedge.record import HedgeRecord
from althedge.services.hedge.results import Reconciliation
from althedge.venues.limits import Limits
from althedge.venues.protocol import OrderResult, Venue, VenuePosition

if TYPE_CHECKING:
    from althedge.config import PortfolioConfig
    from althedge.data.sources import PriceSource
    from althedge.services.plan import HedgeLeg, HedgePlan

__all__ = [
    "EPS",
    "USD_LIKE",
    "active_record",
    "build_plan",
    "current_limits",
    "fee_usd",
    "held_short",
    "is_simulated",
    "leg_label",
    "need_hedge",
    "persist",
    "plan_leg",
    "portfolio_of",
    "prices_now",
    "record_result",
    "refuse_if_unreconciled",
    "signed",
    "to_usd",
    "venue_balance_settle",
    "venue_balance_usd",
    "venue_now_iso",
    "venue_now_ms",
    "venue_time",
]

#: |journal − venue| contracts tolerated as float noise
EPS = 1e-9


def persist(venue: Venue) -> None:
    """Venues that keep local state (paper) write it now, as an exchange would have it."""
    save = getattr(venue, "save", None)
    if callable(save):
        save()


def fee_usd(result: OrderResult) -> float:
    """Fee paid (USD, positive = cost): a coin fee valued at the order's average price."""
    fee = Money(result.fee.amount, result.fee.currency)
    return fee.to_usd(float(result.average_price or result.price or 0.0)).amount


def signed(position: VenuePosition | None) -> float:
    """Signed contracts of a venue position (+ long, − short)."""
    if position is None or position.contracts <= 0:
        return 0.0
    return float(position.side) * float(position.contracts)


def is_simulated(venue: Venue) -> bool:
    """True for a venue that runs on its own clock on this machine (paper: it moves only
    when :meth:`~althedge.venues.paper.PaperExchange.advance_to` moves it), so waiting for
    it, or for two of its reads to drift apart, is pointless."""
    return callable(getattr(venue, "advance_to", None))


def venue_time(venue: Venue) -> datetime:
    """The venue's clock (UTC): ``now_ms()`` of :class:`AccountReports` (paper: its
    simulated clock; an exchange: ccxt's), else the wall clock."""
    now_ms = getattr(venue, "now_ms", None)
    if callable(now_ms):
        return datetime.fromtimestamp(int(now_ms()) / 1000, UTC)
    return datetime.now(UTC)


def venue_now_iso(venue: Venue) -> str:
    """The venue's clock, ISO 8601 to the second: the time journal rows carry."""
    return venue_time(venue).astimezone(UTC).isoformat(timespec="seconds")


def venue_now_ms(venue: Venue) -> int:
    """The venue's clock in ms since the epoch (the unit of venue timestamps)."""
    return int(venue_time(venue).timestamp() * 1000)


def record_result(journal: Journal, result: OrderResult, *, at: str) -> float:
    """Journal an order's status and fills at ``at`` (the venue's clock, ISO); the
    contracts newly filled."""
    return journal.record_result(
        result.client_order_id,
        status=result.status,
        filled=result.filled_contracts,
        average_price=result.average_price,
        fee_usd=fee_usd(result),
        exchange_order_id=result.exchange_order_id,
        at=at,
        fee_settle=float(result.fee.amount),
    )


def to_usd(instrument: Instrument, amount: float, price: float) -> float:
    """An amount in the instrument's settlement currency in USD (coin × price if inverse)."""
    return amount if instrument.contract_type == ContractType.LINEAR else amount * price


def venue_balance_usd(venue: Venue) -> float | None:
    """Account equity in USD (wallet + margins + unrealised PnL) when the venue reports it."""
    fn = getattr(venue, "equity_usd", None)
    if not callable(fn):
        return None
    try:
        return float(fn())
    except Exception:
        return None


def venue_balance_settle(venue: Venue, currency: str) -> float | None:
    """The venue's balance of ``currency`` (that currency), when it reports one."""
    fn = getattr(venue, "balance", None)
    if not callable(fn):
        return None
    try:
        return float(fn(currency))
    except Exception:
        return None


def held_short(journal: Journal, hedge_id: int, symbol: str | None = None) -> float:
    """Contracts short for ``hedge_id`` (on ``symbol``) by the journal's fills (≥ 0, never −0.0)."""
    return max(-journal.net_contracts(hedge_id, symbol), 0.0) + 0.0


def leg_label(n_legs: int, symbol: str) -> str:
    """`` (SYMBOL)`` naming a leg in a message when the hedge has several, else nothing."""
    return f" ({symbol})" if n_legs > 1 else ""


def active_record(journal: Journal) -> HedgeRecord | None:
    """The open hedge, parsed, or None."""
    row = journal.active_hedge()
    return None if row is None else HedgeRecord.from_row(row)


def need_hedge(journal: Journal, what: str) -> HedgeRecord:
    """The open hedge, else :class:`InputError` naming the command and the fix."""
    hedge = active_record(journal)
    if hedge is None:
        raise InputError(
            f"{what}: no open hedge in the journal; run "
            "`althedge hedge open PORTFOLIO.toml --live` first "
            "(or pass the --data-dir that holds it)"
        )
    return hedge


def refuse_if_restricted(venue: Venue, live: bool) -> None:
    """Live trading where the exchange restricts API orders (MEXC futures): the venue's
    one-line refusal BEFORE anything is journaled or sent."""
    check = getattr(venue, "check_orders_allowed", None)
    if live and callable(check):
        check()


def refuse_if_unreconciled(rec: Reconciliation, what: str, live: bool) -> None:
    """Live trading with a journal/venue difference raises :class:`JournalError`."""
    if live and rec.differences:
        raise JournalError(
            f"{what}: journal and venue disagree ({rec.differences[0]}); nothing was sent. "
            "Resolve it first: `althedge hedge adopt` journals what the venue holds, "
            "`althedge hedge close --venue NAME --orphan` takes it off (see `althedge hedge "
            "status`)"
        )


# --------------------------------------------------------------------------- plan glue


def build_plan(portfolio: PortfolioConfig, source: PriceSource, as_of: date | None) -> HedgePlan:
    from althedge.services.plan import build_plan as _build

    return _build(portfolio, source, as_of)


def current_limits(hedge: HedgeRecord, journaled: PortfolioConfig) -> Limits:
    """The caps in force now: the ``[limits]`` table of the hedge's portfolio file as it
    is today (a cap tightened after the open holds for every later order — read on its
    own, so a file whose other fields no longer validate still tightens), else — the file
    gone or unreadable — the caps journaled at open."""
    import tomllib
    from pathlib import Path

    from althedge.config import LimitsConfig

    path = hedge.portfolio.path
    if path:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
            return Limits.from_config(LimitsConfig.model_validate(data.get("limits") or {}))
        except (AlthedgeError, OSError, ValueError):
            pass
    return Limits.from_config(journaled.limits)


def portfolio_of(hedge: HedgeRecord) -> PortfolioConfig:
    """The portfolio config the hedge was opened with."""
    from althedge.config import parse_portfolio

    return parse_portfolio(dict(hedge.portfolio.config), source="journal")


def plan_leg(plan: HedgePlan, symbol: str, index: int) -> HedgeLeg:
    """The plan's :class:`HedgeLeg` for ``symbol`` (else the one at ``index``, else the primary)."""
    for leg in plan.hedges:
        if leg.instrument == symbol:
            return leg
    return plan.hedges[index] if index < len(plan.hedges) else plan.hedge


def prices_now(
    source: PriceSource, assets: Sequence[str], as_of: date | None, overrides: dict[str, float]
) -> dict[str, float]:
    """Latest close on or before ``as_of`` per asset (USD); ``price_usd`` overrides win."""
    import pandas as pd

    assets = [a for a in assets if a not in overrides]
    if not assets:
        return dict(overrides)

    closes = source.closes(list(assets), end=pd.Timestamp(as_of) if as_of else None)
    if as_of is not None:
        closes = closes.loc[closes.index <= pd.Timestamp(as_of)]
    out: dict[str, float] = {}
    for asset in assets:
        col = closes[asset].dropna() if asset in closes else None
        if col is None or col.empty:
            raise InputError(f"prices: no close for {asset} on or before {as_of}; check --prices")
        out[asset] = float(col.iloc[-1])
    return {**out, **overrides}
