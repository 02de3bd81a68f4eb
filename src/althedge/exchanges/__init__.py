"""The exchange boundary: one profile per exchange, and the one translation to and from ccxt.

Used by BOTH the data sources (:mod:`althedge.data.ccxt_source`) and the venues
(:mod:`althedge.venues.ccxt_venue`):

* :mod:`~althedge.exchanges.profile` — :class:`ExchangeProfile`, the shape of a profile;
* one module per exchange (``binance``, ``bybit``, ``okx``, ``deribit``) building its
  profile: ccxt ids and family, fee schedule, market-load options, client-id
  parameter and uniqueness, order lookup, margin- and position-mode rules, funding
  sign and interval rules, test environment, error codes;
* :mod:`~althedge.exchanges.registry` — :data:`PROFILES`, :func:`profile`;
* :mod:`~althedge.exchanges.markets` — :func:`instrument_from_market` (ccxt market →
  :class:`~althedge.core.instruments.Instrument`) and leverage tiers;
* :mod:`~althedge.exchanges.errors` — :func:`translate_error` (ccxt error → one line);
* :mod:`~althedge.exchanges.factory` — :func:`make_exchange` (a configured ccxt object).

This package imports ccxt only inside functions, and its names below are imported on
first use (PEP 562): reading a profile costs its modules only (the CLI's start-up). It may
import ``althedge.core`` and ``althedge.errors`` only (tests/test_architecture.py).
Adding an exchange: docs/venues.md, "Adding an exchange".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from althedge.core.lazy import lazy_getattr

#: each public name → the submodule that defines it (imported when the name is first read)
_EXPORTS: dict[str, str] = {
    "clean_message": "errors",
    "error_code": "errors",
    "translate_error": "errors",
    "make_exchange": "factory",
    "use_test_environment": "factory",
    "USD_LIKE": "markets",
    "funding_interval_from_market": "markets",
    "instrument_from_market": "markets",
    "interval_hours": "markets",
    "mark_of": "markets",
    "min_notional": "markets",
    "tiers_from_ccxt": "markets",
    "ExchangeProfile": "profile",
    "FeeSchedule": "profile",
    "FundingRules": "profile",
}

__all__ = [
    "PROFILES",
    "SUPPORTED_EXCHANGES",
    "USD_LIKE",
    "ExchangeProfile",
    "FeeSchedule",
    "FundingRules",
    "clean_message",
    "error_code",
    "family_of",
    "fee_schedule",
    "funding_interval_from_market",
    "instrument_from_market",
    "interval_hours",
    "make_exchange",
    "mark_of",
    "min_notional",
    "profile",
    "tiers_from_ccxt",
    "translate_error",
    "use_test_environment",
]

# the registry now (cheap: the profiles are data); its ``profile`` function must win over
# the submodule of the same name, which the profiles' own imports bind on this package
from althedge.exchanges.registry import (  # noqa: E402
    PROFILES,
    SUPPORTED_EXCHANGES,
    family_of,
    fee_schedule,
    profile,
)

if TYPE_CHECKING:
    from althedge.exchanges.errors import clean_message, error_code, translate_error
    from althedge.exchanges.factory import make_exchange, use_test_environment
    from althedge.exchanges.markets import (
        USD_LIKE,
        funding_interval_from_market,
        instrument_from_market,
        interval_hours,
        mark_of,
        min_notional,
        tiers_from_ccxt,
    )
    from althedge.exchanges.profile import ExchangeProfile, FeeSchedule, FundingRules


__getattr__ = lazy_getattr(__name__, {k: f"{__name__}.{m}" for k, m in _EXPORTS.items()})
