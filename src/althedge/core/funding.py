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

import math
from typing import Any

from althedge.core.instruments import ContractType, Side, parse_contract_type, parse_side
from althedge.core.numeric import as_values, positive_values, to_output
from althedge.errors import InputError

__all__ = ["annualised_funding_rate", "funding_payment", "funding_usd_per_year"]


def _interval(interval_hours: float) -> float:
    h = float(interval_hours)
    if not math.isfinite(h) or h <= 0:
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
    q = positive_values("contracts", contracts, zero_ok=True)
    p = positive_values("mark price", mark_price)
    cs = as_values(contract_size)
    value = q * cs * p if ct == ContractType.LINEAR else q * cs / p
    return to_output(-s * value * as_values(rate))


def annualised_funding_rate(rate: Any, interval_hours: float = 8.0) -> Any:
    """Simple annualisation: rate × 24/interval × 365 (a fraction; ×100 for %)."""
    return to_output(as_values(rate) * 24.0 / _interval(interval_hours) * 365.0)


def funding_usd_per_year(
    notional_usd: Any, side: Side | str | int, rate: Any, interval_hours: float = 8.0
) -> Any:
    """Funding RECEIVED per year in USD by a position of ``notional_usd`` at a constant rate.

    = −side·|notional|·annualised rate. A short (side −1) earns when rate > 0.
    """
    s = float(parse_side(side))
    n = abs(as_values(notional_usd))
    return to_output(-s * n * as_values(annualised_funding_rate(rate, interval_hours)))
