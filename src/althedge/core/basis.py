"""Basis of a futures price over spot, and its annualisation.

* basis = F/S − 1
* annualised basis (dated contract) = (F/S − 1) · 365 / days to expiry (simple, ACT/365)

Contango (F > S) → positive basis: a short future earns the convergence to spot.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import numpy as np

from althedge.errors import InputError

__all__ = ["annualised_basis", "basis", "days_to_expiry"]


def _out(x: Any) -> Any:
    arr = np.asarray(x, dtype=float)
    return float(arr) if arr.ndim == 0 else arr


def _positive(name: str, value: Any) -> Any:
    arr = np.asarray(value, dtype=float)
    if np.any(~np.isfinite(arr) | (arr <= 0)):
        raise InputError(f"{name}: must be a finite price > 0, got {value!r}")
    return arr


def basis(spot: Any, futures: Any) -> Any:
    """F/S − 1 (a fraction; ×100 for %)."""
    return _out(_positive("futures", futures) / _positive("spot", spot) - 1.0)


def annualised_basis(spot: Any, futures: Any, days_to_expiry: Any) -> Any:
    """(F/S − 1)·365/days; days must be > 0."""
    d = np.asarray(days_to_expiry, dtype=float)
    if np.any(~np.isfinite(d) | (d <= 0)):
        raise InputError(
            f"expiry: days to expiry must be > 0, got {days_to_expiry!r}; pass a future date"
        )
    return _out(np.asarray(basis(spot, futures), dtype=float) * 365.0 / d)


def days_to_expiry(expiry: date | datetime, as_of: date | datetime) -> float:
    """Days (fractional for datetimes) from ``as_of`` to ``expiry``."""
    if isinstance(expiry, datetime) and isinstance(as_of, datetime):
        return (expiry - as_of).total_seconds() / 86400.0
    e = expiry.date() if isinstance(expiry, datetime) else expiry
    a = as_of.date() if isinstance(as_of, datetime) else as_of
    return float((e - a).days)
