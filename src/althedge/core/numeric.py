"""One formula for a number and for an array: numpy is imported only when an array comes in.

The core's formulas (PnL, margin, funding, basis, sizing) serve two callers: the
calculators (``althedge calc …``), which pass single numbers and must answer at once, and
the backtester, which passes numpy arrays. Each formula is written once with operators
that mean the same on a Python float and on a float array (``+ − × ÷``, ``abs``); these
helpers turn an input into a float (a number in) or a float array (anything else),
validate it, and give a float back when every input was a number. A float computed here
is bit-for-bit the float64 numpy computes (both are IEEE doubles).

``np`` below is numpy, imported on first use: importing a core module costs nothing
until an array is actually handled (the CLI's start-up target, benchmarks/README.md).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from althedge.core.lazy import LazyModule
from althedge.errors import InputError

__all__ = [
    "any_true", "as_values", "is_number", "maximum", "np", "positive_values", "to_output",
]


if TYPE_CHECKING:
    import numpy as np
else:
    np = LazyModule("numpy")


def is_number(x: Any) -> bool:
    """True for a single Python number (``bool``, ``int``, ``float`` and numpy's float64,
    which subclasses float); False for arrays, lists, pandas objects and anything else."""
    return isinstance(x, int | float)


def as_values(x: Any) -> Any:
    """``x`` as a float (a number) or a float64 numpy array (anything else)."""
    if is_number(x):
        return float(x)
    return np.asarray(x, dtype=float)


def to_output(x: Any) -> Any:
    """A formula's result as returned to callers: a float for a number or a 0-d array,
    else the float array."""
    if is_number(x):
        return float(x)
    arr = np.asarray(x, dtype=float)
    return float(arr) if arr.ndim == 0 else arr


def positive_values(
    name: str, value: Any, *, zero_ok: bool = False, what: str = "number", fix: str = ""
) -> Any:
    """:func:`as_values` of ``value``, refused with one line naming ``name`` unless every
    element is finite and > 0 (≥ 0 with ``zero_ok``)."""
    v = as_values(value)
    if isinstance(v, float):
        bad = not math.isfinite(v) or (v < 0 if zero_ok else v <= 0)
    else:
        bad = bool(np.any(~np.isfinite(v) | ((v < 0) if zero_ok else (v <= 0))))
    if bad:
        need = ">= 0" if zero_ok else "> 0"
        hint = f"; {fix}" if fix else ""
        raise InputError(f"{name}: must be a finite {what} {need}, got {value!r}{hint}")
    return v


def maximum(a: Any, b: Any) -> Any:
    """Element-wise larger of ``a`` and ``b`` (numpy's ``maximum``: NaN wins)."""
    if is_number(a) and is_number(b):
        x, y = float(a), float(b)
        # numpy keeps the second of two equal values (maximum(-0.0, 0.0) is 0.0)
        return x if (x > y or math.isnan(x)) else y
    return np.maximum(as_values(a), as_values(b))


def any_true(condition: Any) -> bool:
    """True when ``condition`` (a comparison of numbers or of arrays) holds anywhere."""
    if isinstance(condition, bool):
        return condition
    return bool(np.any(condition))
