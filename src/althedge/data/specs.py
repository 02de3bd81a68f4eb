"""ccxt market structures → the core's :class:`Instrument`.

The translation lives in :mod:`althedge.exchanges.markets` (one place, shared with the
venues); this module re-exports it for the data layer's callers.
"""

from __future__ import annotations

from althedge.exchanges.markets import (
    DECIMAL_PLACES,
    TICK_SIZE,
    funding_interval_from_market,
    instrument_from_market,
    tiers_from_ccxt,
)

__all__ = [
    "DECIMAL_PLACES",
    "TICK_SIZE",
    "funding_interval_from_market",
    "instrument_from_market",
    "tiers_from_ccxt",
]
