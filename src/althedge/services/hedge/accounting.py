"""Accounting of a hedge from the journal: hedge PnL, funding, fees and collateral
revaluation per leg, in USD at a mark (see docs/lifecycle.md for the identity)."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from functools import reduce
from typing import Any

from althedge.core.instruments import ContractType, Instrument
from althedge.journal import Journal
from althedge.services.hedge.common import USD_LIKE
from althedge.services.hedge.orders import LiveLeg
from althedge.services.hedge.record import HedgeRecord, LegRecord

__all__ = ["attribution", "leg_attribution", "realised_and_fees"]


def realised_and_fees(
    journal: Journal, hedge: HedgeRecord, instrument: Instrument, mark: float
) -> tuple[float, float]:
    """(hedge PnL in USD marked at ``mark`` incl. any open remainder, fees paid in USD) of
    the leg on ``instrument``."""
    fills = journal.fills(hedge.id, instrument.symbol)
    cs = instrument.contract_size
    fees = sum(f.fee_usd for f in fills)
    net = sum(f.signed_amount for f in fills)
    if instrument.contract_type == ContractType.LINEAR:
        cash = sum(-f.signed_amount * cs * f.price for f in fills)
        return cash + net * cs * mark, fees
    coin = sum(f.signed_amount * cs / f.price for f in fills) - net * cs / mark
    return coin * mark, fees


def leg_attribution(
    journal: Journal,
    hedge: HedgeRecord,
    instrument: Instrument,
    mark: float,
    spec: LegRecord,
    deposits: Sequence[dict[str, Any]],
) -> dict[str, float]:
    """One leg's hedge PnL, funding, fees (negative) and collateral revaluation, USD at
    ``mark``.

    Linear: everything is already USD. Inverse: the account is held in the coin, so
    each coin amount (PnL, funding, fees) is valued at the closing mark, and the coin
    the account held before the hedge (``spec``) plus the coin deposited as margin
    (``deposits``, this leg's) gains or loses ``amount × (P_close − P_then)`` — the
    collateral's own long delta.
    """
    symbol = instrument.symbol
    hedge_pnl, fees_usd = realised_and_fees(journal, hedge, instrument, mark)
    if instrument.contract_type == ContractType.LINEAR:
        return {
            "hedge_pnl_usd": hedge_pnl,
            "funding_usd": journal.funding_total_usd(hedge.id, symbol),
            "fees_usd": -fees_usd,
            "collateral_usd": 0.0,
        }
    funding_coin = sum(
        float(f["amount_settle"] or 0.0) for f in journal.funding(hedge.id, symbol)
    )
    fees_coin = sum(f.fee_settle for f in journal.fills(hedge.id, symbol))
    collateral = 0.0
    held = spec.balance_open_settle
    mark_open = spec.mark_open
    if held and mark_open:
        collateral += float(held) * (mark - float(mark_open))
    for d in deposits:
        if d["currency"] not in USD_LIKE:
            collateral += float(d["amount"]) * (mark - float(d["price_usd"]))
    return {
        "hedge_pnl_usd": hedge_pnl,
        "funding_usd": funding_coin * mark,
        "fees_usd": -fees_coin * mark,
        "collateral_usd": collateral,
    }


def attribution(
    journal: Journal, hedge: HedgeRecord, legs: Sequence[LiveLeg]
) -> dict[str, float]:
    """:func:`leg_attribution` summed over the legs. A coin deposit belongs to the leg settled
    in that coin (one no leg settles in, to the primary)."""
    deposits = journal.deposits(hedge.id)
    settles = [leg.instrument.settle.upper() for leg in legs]
    parts = []
    for i, leg in enumerate(legs):
        own = [
            d for d in deposits
            if d["currency"] == settles[i] or (i == 0 and d["currency"] not in settles)
        ]
        parts.append(leg_attribution(journal, hedge, leg.instrument, leg.mark, leg.spec, own))
    return {k: reduce(operator.add, (p[k] for p in parts)) for k in parts[0]}
