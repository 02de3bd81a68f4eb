"""Simple returns and portfolio returns on a regular grid (``docs/domain.md``, "Returns and beta").

* r_t = P_t / P_{t−1} − 1 (simple, not log, returns: they aggregate across assets);
* portfolio return r_p,t = Σ_i w_i·r_i,t with weights w_i = USD value of holding i /
  total USD value (buy-and-hold weights from the current values).

A price that is missing, non-finite or ≤ 0 makes the returns that touch it NaN (a
zero price in the data is a defect, not a −100% return); the data layer's quality
checks report such prices, and the beta estimators drop NaN rows pairwise.
"""

from __future__ import annotations

from typing import Any, overload

import numpy as np
import numpy.typing as npt
import pandas as pd

from althedge.errors import InputError

__all__ = ["portfolio_returns", "simple_returns", "value_weights"]

FloatArray = npt.NDArray[np.float64]


@overload
def simple_returns(prices: pd.DataFrame) -> pd.DataFrame: ...
@overload
def simple_returns(prices: pd.Series) -> pd.Series: ...
@overload
def simple_returns(prices: Any) -> FloatArray: ...
def simple_returns(prices: Any) -> Any:
    """Simple returns P_t/P_{t−1} − 1 along the first axis; the first row is dropped.

    Arrays (T,) or (T, N) give arrays (T−1,) / (T−1, N); a Series/DataFrame gives the
    same type indexed by the later date of each pair. Returns touching a missing or
    non-positive price are NaN.
    """
    if isinstance(prices, pd.DataFrame | pd.Series):
        values = simple_returns(prices.to_numpy(dtype=np.float64))
        index = prices.index[1:]
        if isinstance(prices, pd.DataFrame):
            return pd.DataFrame(values, index=index, columns=prices.columns)
        return pd.Series(values, index=index, name=prices.name)
    p = np.asarray(prices, dtype=np.float64)
    if p.ndim not in (1, 2):
        raise InputError(f"prices: expected shape (T,) or (T, N), got {p.shape}")
    good = np.isfinite(p) & (p > 0)
    safe = np.where(good, p, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = safe[1:] / safe[:-1] - 1.0
    return np.asarray(r, dtype=np.float64)


def value_weights(values_usd: Any) -> FloatArray:
    """Portfolio weights w_i = value_i / Σ value (USD values, ≥ 0, total > 0)."""
    v = np.asarray(values_usd, dtype=np.float64).reshape(-1)
    if v.size == 0 or not np.all(np.isfinite(v)) or np.any(v < 0) or v.sum() <= 0:
        raise InputError(
            "values_usd: holding values must be finite, ≥ 0 and not all zero; check amounts "
            "and prices"
        )
    return np.asarray(v / v.sum(), dtype=np.float64)


@overload
def portfolio_returns(asset_returns: pd.DataFrame, weights: Any) -> pd.Series: ...
@overload
def portfolio_returns(asset_returns: Any, weights: Any) -> FloatArray: ...
def portfolio_returns(asset_returns: Any, weights: Any) -> Any:
    """Portfolio returns Σ_i w_i·r_i,t for returns of shape (T, N) and weights (N,).

    Weights are used as given (pass :func:`value_weights` of the current USD values
    for the buy-and-hold portfolio). A row is NaN when an asset with a non-zero weight
    has a NaN return that day; assets with zero weight are ignored. A DataFrame gives a
    Series on the same index.
    """
    if isinstance(asset_returns, pd.DataFrame):
        values = portfolio_returns(asset_returns.to_numpy(dtype=np.float64), weights)
        return pd.Series(values, index=asset_returns.index, name="portfolio")
    r = np.asarray(asset_returns, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if r.ndim == 1:
        r = r[:, None]
    if r.ndim != 2 or r.shape[1] != w.size:
        raise InputError(
            f"weights: {w.size} weights for returns of shape {r.shape}; pass one weight per asset"
        )
    if not np.all(np.isfinite(w)):
        raise InputError("weights: must be finite numbers")
    used = w != 0
    return np.asarray(r[:, used] @ w[used], dtype=np.float64)
