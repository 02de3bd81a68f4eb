"""An amount with its currency, at the boundary where venue amounts enter the journal.

Venues report fees, funding and balances in the settlement currency (USD(T) for a
linear contract, the coin for an inverse one); the journal keeps USD beside the
settlement amount. :class:`Money` carries the currency with the amount until it is
converted, so a coin amount is never added to a USD one by mistake (NautilusTrader's
``Money`` is the model). The vectorised core stays on plain floats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from althedge.core.currencies import USD_LIKE
from althedge.errors import InputError

__all__ = ["USD_LIKE", "Money"]


@dataclass(frozen=True)
class Money:
    """``amount`` of ``currency`` (upper case). Adding or subtracting needs the same
    currency; :meth:`to_usd` converts at a USD price per unit."""

    amount: float
    currency: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "currency", str(self.currency).upper())
        object.__setattr__(self, "amount", float(self.amount))
        if not math.isfinite(self.amount):
            raise InputError(f"amount: must be finite, got {self.amount} {self.currency}")

    @classmethod
    def usd(cls, amount: float) -> Money:
        return cls(amount, "USD")

    @property
    def is_usd(self) -> bool:
        """True for a USD-like currency (USD, USDT, USDC, …)."""
        return self.currency in USD_LIKE

    def to_usd(self, price_usd: float) -> Money:
        """In USD: USD-like one for one, else ``amount × price_usd`` (USD per unit)."""
        if self.is_usd:
            return Money(self.amount, "USD")
        if not (math.isfinite(price_usd) and price_usd >= 0):
            raise InputError(
                f"price: a USD price >= 0 is needed to value {self.currency}, got {price_usd}"
            )
        return Money(self.amount * float(price_usd), "USD")

    def _same(self, other: Money) -> None:
        if other.currency != self.currency and not (self.is_usd and other.is_usd):
            raise InputError(
                f"currency: cannot combine {self.currency} with {other.currency}; "
                "convert with to_usd first"
            )

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __float__(self) -> float:
        return self.amount

    def __str__(self) -> str:
        return f"{self.amount:,.8g} {self.currency}"
