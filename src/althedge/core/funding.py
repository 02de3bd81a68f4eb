"""Perpetual funding: payment per interval and annualisation.

Sign convention (Binance, Bybit, OKX, Deribit alike): a positive rate means longs pay
shorts. Functions here return the amount RECEIVED by the position (negative = paid).

* Linear:  payment = −side·Q·CS·P_mark·rate   (USD)
* Inverse: payment = −side·Q·CS/P_mark·rate   (coin)
* Annualised rate = rate × (24 / interval hours) × 365  (8 h → × 1 095).

Sources: Binance FAQ "Introduction to Binance Futures Funding Rates" (funding amount =
position value × funding rate; position value = mark price × size for USDⓈ-M,
size × contract multiplier / mark price for COIN-M); Bybit help centre "Funding Fee
Calculation" (same).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from althedge.core.instruments import ContractType, Side, parse_contract_type, parse_side
from althedge.errors import InputError

__all__ = ["annualised_funding_rate", "funding_payment", "funding_usd_per_year"]


def _out(x: Any) -> Any:
    arr = np.asarray(x, dtype=float)
    return float(arr) if arr.ndim == 0 else arr


def _interval(interval_hours: float) -> float:
    h = float(interval_hours)
    if not np.isfinite(h) or h <= 0:
        raise InputError(f"interval hours: must be > 0 hours, got {interval_hours!r}")
    return h


def funding_payment(
    contract_type: ContractType | str,
    side: Side | str | int,
    contracts: Any,
    contract_size: Any,
    mark_price: Any,
    rate: Any,
) -> Any:
    """Funding RECEIVED by the position for one interval (negative = paid).

    USD for linear (Q·CS·P·rate), coin for inverse (Q·CS/P·rate); rate > 0: longs pay.
    """
    ct = parse_contract_type(contract_type)
    s = float(parse_side(side))
    q = np.asarray(contracts, dtype=float)
    if np.any(q < 0) or not np.all(np.isfinite(q)):
        raise InputError(f"contracts: must be a finite number >= 0, got {contracts!r}")
    p = np.asarray(mark_price, dtype=float)
    if np.any(~np.isfinite(p) | (p <= 0)):
        raise InputError(f"mark price: must be a finite number > 0, got {mark_price!r}")
    cs = np.asarray(contract_size, dtype=float)
    value = q * cs * p if ct == ContractType.LINEAR else q * cs / p
    return _out(-s * value * np.asarray(rate, dtype=float))


def annualised_funding_rate(rate: Any, interval_hours: float = 8.0) -> Any:
    """Simple annualisation: rate × 24/interval × 365 (a fraction; ×100 for %)."""
    return _out(np.asarray(rate, dtype=float) * 24.0 / _interval(interval_hours) * 365.0)


def funding_usd_per_year(
    notional_usd: Any, side: Side | str | int, rate: Any, interval_hours: float = 8.0
) -> Any:
    """Funding RECEIVED per year in USD by a position of ``notional_usd`` at a constant rate.

    = −side·|notional|·annualised rate. A short (side −1) earns when rate > 0.
    """
    s = float(parse_side(side))
    n = np.abs(np.asarray(notional_usd, dtype=float))
    return _out(-s * n * np.asarray(annualised_funding_rate(rate, interval_hours), dtype=float))
