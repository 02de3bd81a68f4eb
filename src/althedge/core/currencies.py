"""Currencies valued one for one in US dollars.

The ONE definition (docs/domain.md: USDT/USDC are treated as USD), in the core so every
layer may use it: the exchange boundary (balances), the venues (paper equity) and the
hedge accounting (:class:`althedge.services.hedge.money.Money`).
"""

from __future__ import annotations

__all__ = ["USD_LIKE"]

#: currencies valued at 1 USD; "" is a currency a venue did not name, taken as USD
USD_LIKE: frozenset[str] = frozenset({"", "USD", "USDT", "USDC", "BUSD", "FDUSD", "USDE"})
