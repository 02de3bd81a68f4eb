"""Shared pieces of the beta estimators: constants, errors, the estimate record and
the weighted least-squares fit (private to :mod:`althedge.core.beta`)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from althedge.errors import InputError

FloatArray = npt.NDArray[np.float64]

BETA_METHODS = ("ols", "ewma", "downside", "shrunk", "robust", "conservative")

#: Fewest complete rows a point estimate accepts by default (OLS needs n − 2 > 0
#: degrees of freedom for its standard error). Callers wanting a sturdier estimate
#: pass a larger ``min_observations``.
MIN_OBSERVATIONS = 3

#: Seed article's class table (beta to BTC): large-cap L1 1.2–1.8, mid-cap DeFi/utility
#: 1.5–2.5, low-cap speculative above 3.0 (no upper bound given).
CLASS_DEFAULT_BETAS: dict[str, tuple[float, float]] = {
    "l1": (1.2, 1.8),
    "defi": (1.5, 2.5),
    "lowcap": (3.0, math.inf),
}

# The value used when a beta is assumed: the midpoint of the class range, and the
# published lower bound 3.0 for low caps (whose range is open-ended).
_CLASS_DEFAULT_VALUE = {"l1": 1.5, "defi": 2.0, "lowcap": 3.0}

_HUBER_K = 1.345
_MAD_TO_SIGMA = 0.6744897501960817  # Φ⁻¹(0.75)


class BetaUnavailableError(InputError):
    """No beta can be measured from the data given (too short, or a flat hedge asset)."""


class InsufficientHistoryError(BetaUnavailableError):
    """Fewer complete return rows than the estimator needs."""

    def __init__(self, message: str, observations: int, required: int) -> None:
        super().__init__(message)
        self.observations = observations
        self.required = required


@dataclass(frozen=True)
class BetaEstimate:
    """One beta estimate.

    ``beta`` (dimensionless), ``alpha`` (per period, same unit as the returns),
    ``correlation`` ρ, ``r_squared``, ``std_error`` of β, ``observations`` (rows used),
    ``method`` (one of :data:`BETA_METHODS`).
    """

    beta: float
    alpha: float
    correlation: float
    r_squared: float
    std_error: float
    observations: int
    method: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ----------------------------------------------------------------------------- helpers


def _vector(name: str, values: Any) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise InputError(f"{name}: expected one series of returns, got shape {arr.shape}")
    return arr


def _pair(asset_returns: Any, hedge_returns: Any) -> tuple[FloatArray, FloatArray]:
    """Pairwise-complete (asset, hedge) float arrays; aligns pandas inputs on their index."""
    y, x = _aligned(asset_returns, hedge_returns)
    keep = np.isfinite(x) & np.isfinite(y)
    return y[keep], x[keep]


def _aligned(asset_returns: Any, hedge_returns: Any) -> tuple[FloatArray, FloatArray]:
    """(asset, hedge) float arrays of equal length, NaNs kept; pandas aligned on the index."""
    if (
        isinstance(asset_returns, pd.Series)
        and isinstance(hedge_returns, pd.Series)
        and not asset_returns.index.equals(hedge_returns.index)
    ):
        hedge_returns = hedge_returns.reindex(asset_returns.index)
    y = _vector("asset_returns", asset_returns)
    x = _vector("hedge_returns", hedge_returns)
    if x.shape[0] != y.shape[0]:
        raise InputError(
            f"hedge_returns: length {x.shape[0]} differs from asset_returns length "
            f"{y.shape[0]}; pass returns on the same dates"
        )
    return y, x


def _require(n: int, required: int, method: str) -> None:
    if n < required:
        raise InsufficientHistoryError(
            f"returns: {method} beta needs at least {required} complete rows of asset and "
            f"hedge returns, got {n}; use a longer lookback or an assumed class beta",
            observations=n,
            required=required,
        )


def _flat_hedge(method: str) -> BetaUnavailableError:
    return BetaUnavailableError(
        f"hedge_returns: the hedge asset's returns have zero variance in the window, so "
        f"the {method} beta is undefined; use a longer lookback or an assumed class beta"
    )


def _weighted_fit(
    y: FloatArray, x: FloatArray, w: FloatArray, method: str
) -> tuple[float, float, float, float, float]:
    """Weighted least squares of y on (1, x): beta, alpha, ρ, R², std error of beta.

    Homoscedastic errors, fixed weights: Var(β̂) = σ²·Σw²(x−x̄)²/(Σw(x−x̄)²)², with
    σ² = Σw e²/Σw · n_eff/(n_eff − 2), n_eff = (Σw)²/Σw². With w = 1 this is plain OLS.
    """
    sw = float(w.sum())
    mx = float(w @ x) / sw
    my = float(w @ y) / sw
    dx = x - mx
    dy = y - my
    sxx = float(w @ (dx * dx))
    syy = float(w @ (dy * dy))
    sxy = float(w @ (dx * dy))
    if not sxx > 0.0 or float(np.ptp(x)) == 0.0:
        raise _flat_hedge(method)
    beta = sxy / sxx
    alpha = my - beta * mx
    # a constant asset: correlation undefined (beta is 0)
    corr = max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy))) if syy > 0.0 else math.nan
    resid = dy - beta * dx
    n_eff = sw * sw / float(w @ w)
    if n_eff > 2.0:
        sigma2 = float(w @ (resid * resid)) / sw * n_eff / (n_eff - 2.0)
        std_error = math.sqrt(sigma2 * float((w * w) @ (dx * dx))) / sxx
    else:
        std_error = math.nan
    r2 = corr * corr if math.isfinite(corr) else 0.0
    return beta, alpha, corr, r2, std_error


