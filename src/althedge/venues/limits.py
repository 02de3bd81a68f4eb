"""Safety caps checked before any order is sent, live or dry run.

A cap refuses an order that would leave the position larger than configured:

* ``max_contracts`` — contracts of the instrument in the resulting position;
* ``max_notional_usd`` — its USD notional at the reference price (linear
  Q·CS·P, inverse Q·CS; :func:`althedge.core.pnl.position_value_usd`);
* ``max_leverage`` — the leverage set on the position.

The notional is checked at the *worst* price the order can fill at
(:func:`worst_fill_price`: the limit price or the mark, whichever is further, moved by
``slippage_bps`` against the order — a crossing limit or a market fallback fills near
the mark, never at the limit) and on the *total* position after the order, all legs of
a hedge together (``other_notional_usd``) as well as per symbol.

Orders with ``reduce_only=True`` only ever shrink the position, so they are never
refused by a size cap: a user must always be able to take a hedge off.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from althedge.core.instruments import Instrument
from althedge.core.pnl import position_value_usd
from althedge.errors import InputError, LimitExceededError
from althedge.venues.protocol import OrderRequest

__all__ = [
    "DEFAULT_SLIPPAGE_BPS",
    "Limits",
    "check_leverage",
    "check_order",
    "order_notional_usd",
    "worst_fill_price",
]

#: slippage assumed beyond the mark when checking a cap (bp); generous on purpose
DEFAULT_SLIPPAGE_BPS = 50.0


def worst_fill_price(
    side: str, mark_usd: float, limit_usd: float | None = None,
    slippage_bps: float = DEFAULT_SLIPPAGE_BPS,
) -> float:
    """The price an order can fill at that gives the largest position value: for a sell
    the higher of its limit and the mark, plus ``slippage_bps``; for a buy the lower,
    minus it (USD per coin)."""
    ref = limit_usd if limit_usd is not None and limit_usd > 0 else mark_usd
    if side == "sell":
        return max(ref, mark_usd) * (1.0 + slippage_bps / 1e4)
    return min(ref, mark_usd) * max(1.0 - slippage_bps / 1e4, 0.0)


@dataclass(frozen=True)
class Limits:
    """Caps; defaults mirror ``althedge.config.LimitsConfig``."""

    max_notional_usd: float = 1_000_000.0
    max_contracts: float = 100_000.0
    max_leverage: float = 10.0

    def __post_init__(self) -> None:
        for name in ("max_notional_usd", "max_contracts", "max_leverage"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and v > 0 and not math.isnan(v)):
                raise InputError(f"limits.{name}: must be > 0, got {v!r}")

    @classmethod
    def from_config(cls, cfg: Any) -> Limits:
        """From any object with the three attributes (e.g. ``PortfolioConfig.limits``)."""
        return cls(
            max_notional_usd=float(cfg.max_notional_usd),
            max_contracts=float(cfg.max_contracts),
            max_leverage=float(cfg.max_leverage),
        )


def order_notional_usd(instrument: Instrument, contracts: float, price_usd: float) -> float:
    """USD notional of ``contracts`` at ``price_usd`` (linear Q·CS·P, inverse Q·CS)."""
    return float(
        position_value_usd(instrument.contract_type, contracts, instrument.contract_size, price_usd)
    )


def check_leverage(limits: Limits, leverage: float) -> None:
    """Raise :class:`LimitExceededError` when ``leverage`` exceeds ``limits.max_leverage``."""
    if leverage > limits.max_leverage:
        raise LimitExceededError(
            f"leverage: {leverage:g}x exceeds limits.max_leverage {limits.max_leverage:g}x; "
            "lower hedge.leverage or raise the cap in the portfolio file"
        )


def check_order(
    limits: Limits,
    order: OrderRequest,
    instrument: Instrument,
    price_usd: float,
    *,
    position_contracts: float = 0.0,
    leverage: float | None = None,
    other_notional_usd: float = 0.0,
) -> None:
    """Refuse ``order`` when the resulting position would break a cap.

    ``position_contracts`` is the current position in the order's direction of
    growth (≥ 0; the hedge's current short for a sell). ``price_usd`` is the
    price to value it at — :func:`worst_fill_price` for a check that holds.
    ``other_notional_usd``: the USD notional of the hedge's other legs, so the cap
    holds for the hedge as a whole too. Reduce-only orders pass the size caps (see the
    module docstring); the leverage cap applies to every order.
    """
    if leverage is not None:
        check_leverage(limits, leverage)
    if order.reduce_only:
        return
    total = max(position_contracts, 0.0) + order.contracts
    if total > limits.max_contracts:
        raise LimitExceededError(
            f"contracts: {total:g} {order.symbol} contracts would exceed limits.max_contracts "
            f"{limits.max_contracts:g}; reduce the hedge or raise the cap in the portfolio file"
        )
    notional = order_notional_usd(instrument, total, price_usd)
    if notional > limits.max_notional_usd:
        raise LimitExceededError(
            f"notional: {notional:,.0f} USD on {order.symbol} would exceed "
            f"limits.max_notional_usd {limits.max_notional_usd:,.0f}; reduce the hedge or "
            "raise the cap in the portfolio file"
        )
    if other_notional_usd > 0 and notional + other_notional_usd > limits.max_notional_usd:
        raise LimitExceededError(
            f"notional: {notional + other_notional_usd:,.0f} USD across the hedge's legs "
            f"({notional:,.0f} on {order.symbol}) would exceed limits.max_notional_usd "
            f"{limits.max_notional_usd:,.0f}; reduce the hedge or raise the cap in the "
            "portfolio file"
        )
