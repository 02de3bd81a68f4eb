"""Basis of a futures price over spot, and its annualisation.

* basis = F/S − 1
* annualised basis (dated contract) = (F/S − 1) · 365 / days to expiry (simple, ACT/365)

Contango (F > S) → positive basis: a short future earns the convergence to spot.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from althedge.core.numeric import as_values, positive_values, to_output

__all__ = ["annualised_basis", "basis", "days_to_expiry"]


def _positive(name: str, value: Any) -> Any:
    return positive_values(name, value, what="price")


def basis(spot: Any, futures: Any) -> Any:
    """F/S − 1 (a fraction; ×100 for %)."""
    return to_output(_positive("futures", futures) / _positive("spot", spot) - 1.0)


def annualised_basis(spot: Any, futures: Any, days_to_expiry: Any) -> Any:
    """(F/S − 1)·365/days; days must be > 0."""
    d = positive_values(
        "expiry", days_to_expiry, what="number of days", fix="pass a future date"
    )
    return to_output(as_values(basis(spot, futures)) * 365.0 / d)


def days_to_expiry(expiry: date | datetime, as_of: date | datetime) -> float:
    """Days (fractional for datetimes) from ``as_of`` to ``expiry``."""
    if isinstance(expiry, datetime) and isinstance(as_of, datetime):
        return (expiry - as_of).total_seconds() / 86400.0
    e = expiry.date() if isinstance(expiry, datetime) else expiry
    a = as_of.date() if isinstance(as_of, datetime) else as_of
    return float((e - a).days)
