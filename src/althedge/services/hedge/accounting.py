"""A hedge's accounting read from the journal: each leg's fills, funding, fees and coin
collateral handed to :mod:`althedge.core.attribution` (the math), USD at a mark."""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce
from typing import Any

from althedge.core.attribution import LegAttribution, hedge_pnl_usd
from althedge.core.attribution import leg_attribution as core_leg_attribution
from althedge.core.instruments import ContractType, Instrument
from althedge.journal import Journal
from althedge.services.hedge.common import USD_LIKE
from althedge.services.hedge.orders import LiveLeg
from althedge.services.hedge.record import HedgeRecord, LegRecord

__all__ = ["attribution", "leg_attribution", "realised_and_fees"]


def realised_and_fees(
    journal: Journal, hedge: HedgeRecord, instrument: Instrument, mark: float
) -> tuple[float, float]:
    """(hedge PnL in USD marked at ``mark`` incl. any open remainder, fees paid in USD,
    positive = cost) of the leg on ``instrument``."""
    fills = journal.fills(hedge.id, instrument.symbol)
    pnl = hedge_pnl_usd(
        instrument.contract_type,
        [f.signed_amount for f in fills],
        [f.price for f in fills],
        instrument.contract_size,
        mark,
    )
    return pnl, sum(f.fee_usd for f in fills)


def leg_attribution(
    journal: Journal,
    hedge: HedgeRecord,
    instrument: Instrument,
    mark: float,
    spec: LegRecord,
    deposits: Sequence[dict[str, Any]],
) -> LegAttribution:
    """One leg's hedge PnL, funding received, fees paid and collateral revaluation, USD
    at ``mark``.

    Linear: everything is already USD (funding and fees as journaled in USD). Inverse:
    the coin amounts (funding, fees) in the settlement coin, and the coin the account
    held before the hedge (``spec``) plus this leg's coin deposits, each at its price
    then — :func:`althedge.core.attribution.leg_attribution` values them at ``mark``.
    """
    symbol = instrument.symbol
    fills = journal.fills(hedge.id, symbol)
    funding = journal.funding(hedge.id, symbol)
    linear = instrument.contract_type == ContractType.LINEAR
    coin: list[float] = []
    prices: list[float] = []
    if not linear:
        if spec.balance_open_settle and spec.mark_open:
            coin.append(spec.balance_open_settle)
            prices.append(spec.mark_open)
        for d in deposits:
            if d["currency"] not in USD_LIKE:
                coin.append(float(d["amount"]))
                prices.append(float(d["price_usd"]))
    return core_leg_attribution(
        instrument.contract_type,
        signed_contracts=[f.signed_amount for f in fills],
        fill_prices=[f.price for f in fills],
        contract_size=instrument.contract_size,
        mark=mark,
        funding_settle=[
            float(f["amount_usd"] if linear else (f["amount_settle"] or 0.0)) for f in funding
        ],
        fees_settle=[f.fee_usd if linear else f.fee_settle for f in fills],
        collateral_coin=coin,
        collateral_prices_usd=prices,
    )


def attribution(journal: Journal, hedge: HedgeRecord, legs: Sequence[LiveLeg]) -> LegAttribution:
    """:func:`leg_attribution` summed over the legs. A coin deposit belongs to the leg
    settled in that coin (one no leg settles in, to the primary)."""
    deposits = journal.deposits(hedge.id)
    settles = [leg.instrument.settle.upper() for leg in legs]
    parts = []
    for i, leg in enumerate(legs):
        own = [
            d for d in deposits
            if d["currency"] == settles[i] or (i == 0 and d["currency"] not in settles)
        ]
        parts.append(leg_attribution(journal, hedge, leg.instrument, leg.mark, leg.spec, own))
    return reduce(LegAttribution.__add__, parts)
