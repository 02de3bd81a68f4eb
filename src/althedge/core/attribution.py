"""Attribution of a hedge leg's result: fills → hedge PnL, funding, fees, collateral.

Pure money math (plain values and arrays in, floats out), no I/O. Units and signs
(docs/domain.md): prices in USD; ``signed_contracts`` + bought / − sold; amounts
"in settlement" are USD(T) for a linear contract and coin for an inverse one.

* hedge PnL, linear  (USD):  Σ −q·CS·p  + (Σq)·CS·P      (the open rest marked at P)
* hedge PnL, inverse (coin): Σ  q·CS/p  − (Σq)·CS/P      (× P for USD)
* funding received (USD):    Σ funding in settlement     (inverse: × P)
* fees paid (USD, + = cost): Σ fees in settlement         (inverse: × P)
* collateral revaluation (USD, inverse only): Σ coin_i · (P − p_i) for the coin the
  account held at open and each coin deposit, each at its price then.

P is the mark the leg is valued at (the closing mark at close). The leg's net is
``hedge_pnl_usd + funding_received_usd − fees_paid_usd + collateral_usd``; with the
portfolio's PnL it equals the change in total account value (docs/lifecycle.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from althedge.core.instruments import ContractType, parse_contract_type
from althedge.errors import InputError

__all__ = [
    "LegAttribution",
    "collateral_revaluation_usd",
    "hedge_pnl_usd",
    "leg_attribution",
]

ArrayLike = npt.ArrayLike


def _arr(name: str, values: ArrayLike) -> npt.NDArray[np.float64]:
    a = np.asarray(values, dtype=float).reshape(-1)
    if not np.all(np.isfinite(a)):
        raise InputError(f"{name}: every value must be finite")
    return a


def hedge_pnl_usd(
    contract_type: ContractType | str,
    signed_contracts: ArrayLike,
    fill_prices: ArrayLike,
    contract_size: float,
    mark: float,
) -> float:
    """PnL (USD) of the fills, any open remainder marked at ``mark`` (USD).

    Linear: Σ −q·CS·p + (Σq)·CS·P. Inverse: (Σ q·CS/p − (Σq)·CS/P) coin × P.
    """
    ct = parse_contract_type(contract_type)
    q = _arr("signed contracts", signed_contracts)
    p = _arr("fill prices", fill_prices)
    if q.shape != p.shape:
        raise InputError("fills: one price per fill")
    if np.any(p <= 0) or not mark > 0:
        raise InputError("prices: fill prices and the mark must be > 0")
    cs = float(contract_size)
    net = float(q.sum())
    if ct == ContractType.LINEAR:
        return float(np.sum(-q * cs * p)) + net * cs * float(mark)
    coin = float(np.sum(q * cs / p)) - net * cs / float(mark)
    return coin * float(mark)


def collateral_revaluation_usd(
    amounts_coin: ArrayLike, prices_then_usd: ArrayLike, mark: float
) -> float:
    """Σ amount_i · (P − p_i) (USD): what coin collateral gained since it was held/brought."""
    a = _arr("collateral amounts", amounts_coin)
    p = _arr("collateral prices", prices_then_usd)
    if a.shape != p.shape:
        raise InputError("collateral: one price per amount")
    return float(np.sum(a * (float(mark) - p)))


@dataclass(frozen=True)
class LegAttribution:
    """One leg's parts, USD: PnL, funding (+ received), fees (+ paid), collateral."""

    hedge_pnl_usd: float
    funding_received_usd: float
    fees_paid_usd: float
    collateral_usd: float

    @property
    def net_usd(self) -> float:
        """hedge PnL + funding received − fees paid + collateral revaluation (USD)."""
        return (
            self.hedge_pnl_usd + self.funding_received_usd - self.fees_paid_usd
            + self.collateral_usd
        )

    def __add__(self, other: LegAttribution) -> LegAttribution:
        return LegAttribution(
            self.hedge_pnl_usd + other.hedge_pnl_usd,
            self.funding_received_usd + other.funding_received_usd,
            self.fees_paid_usd + other.fees_paid_usd,
            self.collateral_usd + other.collateral_usd,
        )


def leg_attribution(
    contract_type: ContractType | str,
    *,
    signed_contracts: ArrayLike,
    fill_prices: ArrayLike,
    contract_size: float,
    mark: float,
    funding_settle: ArrayLike = (),
    fees_settle: ArrayLike = (),
    collateral_coin: ArrayLike = (),
    collateral_prices_usd: ArrayLike = (),
) -> LegAttribution:
    """A leg's attribution at ``mark``: fills, funding received and fees paid (each in
    the settlement currency), coin collateral with its USD price then (inverse only;
    ignored for linear, whose account is already in USD)."""
    ct = parse_contract_type(contract_type)
    pnl = hedge_pnl_usd(ct, signed_contracts, fill_prices, contract_size, mark)
    funding = float(_arr("funding", funding_settle).sum())
    fees = float(_arr("fees", fees_settle).sum())
    if ct == ContractType.LINEAR:
        return LegAttribution(pnl, funding, fees, 0.0)
    m = float(mark)
    return LegAttribution(
        pnl,
        funding * m,
        fees * m,
        collateral_revaluation_usd(collateral_coin, collateral_prices_usd, m),
    )
