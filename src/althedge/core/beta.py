"""Beta of an asset (or portfolio) to a hedge asset: point estimators and rolling versions.

All inputs are *simple returns* on one regular grid (``docs/domain.md``: r_t = P_t/P_{t−1} − 1),
the asset's first, the hedge asset's (BTC, ETH) second. Estimators:

* ``ols``: β = Cov(r_a, r_h)/Var(r_h) with alpha, correlation ρ, R² = ρ², the standard
  error of β (homoscedastic OLS: sqrt(SSR/(n−2)/Σ(r_h − r̄_h)²)) and the number of
  observations.
* ``ewma``: exponentially weighted moments, weight λ^age (RiskMetrics Technical Document,
  J.P. Morgan/Reuters 1996: λ = 0.94 for daily data); a half-life h gives λ = 0.5^(1/h).
  Moments are centred on the weighted means (as pandas ``ewm(adjust=True).cov()``).
* ``downside``: Ang, Chen & Xing (2006), "Downside Risk", Review of Financial Studies
  19(4): β⁻ = Cov(r_a, r_h | r_h < μ_h)/Var(r_h | r_h < μ_h), μ_h the window mean of
  r_h — i.e. OLS on the rows where the hedge asset is below its mean.
* ``shrunk``: Vasicek (1973), "A Note on Using Cross-Sectional Information in Bayesian
  Estimation of Security Betas", Journal of Finance 28(5): β_i* = w_i·β_i + (1 − w_i)·β̄,
  w_i = σ²_β/(σ²_β + se_i²), β̄ and σ²_β the cross-section mean and variance of the betas
  of the universe given (not shrinkage toward 1).
* ``robust``: Huber M-estimator (Huber 1964; tuning constant k = 1.345) by iteratively
  reweighted least squares, scale = MAD of residuals / 0.6745.
* ``conservative``: the larger of the ``ols`` and ``downside`` betas.
* Several hedge instruments: minimum-variance weights b = Σ_hh⁻¹ Σ_hp.

Missing data: rows where either series is NaN (or ±inf) are dropped pairwise.
Too little data: the point estimators raise :class:`InsufficientHistoryError` (an
``InputError``) when fewer than ``min_observations`` complete rows remain, and
:class:`BetaUnavailableError` when the hedge returns have zero variance — the planner
catches :class:`BetaUnavailableError` (the base of both) and falls back to the class
defaults of :func:`class_default_beta`, labelled *assumed*.

Rolling estimators (``rolling_beta``, ``rolling_ewma_beta``, ``rolling_downside_beta``)
return one value per row: the value at row t uses rows ≤ t only (no look-ahead); a caller
deciding a hedge for the period after t uses the value at t. They return NaN where the
estimate is unavailable instead of raising.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, overload

import numpy as np
import numpy.typing as npt
import pandas as pd

from althedge.errors import InputError

__all__ = [
    "BETA_METHODS",
    "CLASS_DEFAULT_BETAS",
    "MIN_OBSERVATIONS",
    "BetaEstimate",
    "BetaUnavailableError",
    "InsufficientHistoryError",
    "class_default_beta",
    "conservative_beta",
    "downside_beta",
    "estimate_beta",
    "ewma_beta",
    "ewma_lambda",
    "min_variance_weights",
    "ols_beta",
    "robust_beta",
    "rolling_beta",
    "rolling_downside_beta",
    "rolling_ewma_beta",
    "shrunk_betas",
]

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


# ----------------------------------------------------------------------- point estimators


def ols_beta(
    asset_returns: Any, hedge_returns: Any, *, min_observations: int = MIN_OBSERVATIONS
) -> BetaEstimate:
    """OLS beta β = Cov(r_a, r_h)/Var(r_h) of ``asset_returns`` on ``hedge_returns``.

    Returns alpha (per period), correlation, R², standard error of β and the number of
    pairwise-complete rows used. Raises :class:`InsufficientHistoryError` below
    ``min_observations`` rows (at least 3) and :class:`BetaUnavailableError` for a flat
    hedge asset.
    """
    y, x = _pair(asset_returns, hedge_returns)
    _require(y.size, max(3, min_observations), "ols")
    b, a, rho, r2, se = _weighted_fit(y, x, np.ones_like(x), "ols")
    return BetaEstimate(b, a, rho, r2, se, int(y.size), "ols")


def ewma_lambda(lam: float | None = None, halflife: float | None = None) -> float:
    """Decay factor λ from either λ itself (0 < λ < 1) or a half-life in periods (λ = 0.5^(1/h))."""
    if halflife is not None:
        h = float(halflife)
        if not (math.isfinite(h) and h > 0):
            raise InputError(f"halflife: must be > 0 periods, got {halflife!r}")
        return float(0.5 ** (1.0 / h))
    value = 0.94 if lam is None else float(lam)
    if not (0.0 < value < 1.0):
        raise InputError(f"lam: EWMA decay must be between 0 and 1 (e.g. 0.94), got {lam!r}")
    return value


def ewma_beta(
    asset_returns: Any,
    hedge_returns: Any,
    lam: float = 0.94,
    *,
    halflife: float | None = None,
    min_observations: int = MIN_OBSERVATIONS,
) -> BetaEstimate:
    """EWMA beta: moments weighted λ^age (age 0 = last row); RiskMetrics λ = 0.94 daily.

    ``halflife`` (periods), when given, overrides ``lam``. Weights decay with the row
    position, also across rows dropped for missing data (as pandas ``ignore_na=False``),
    so the result equals the last row of :func:`rolling_ewma_beta` and of pandas
    ``ewm(alpha=1−λ).cov()/var()``. ``observations`` counts the rows used, not the
    effective sample size.
    """
    decay = ewma_lambda(lam, halflife)
    yy, xx = _aligned(asset_returns, hedge_returns)
    keep = np.isfinite(xx) & np.isfinite(yy)
    age = (xx.size - 1 - np.arange(xx.size))[keep]
    y, x = yy[keep], xx[keep]
    _require(y.size, max(3, min_observations), "ewma")
    w = decay ** age.astype(np.float64)
    b, a, rho, r2, se = _weighted_fit(y, x, w, "ewma")
    return BetaEstimate(b, a, rho, r2, se, int(y.size), "ewma")


def downside_beta(
    asset_returns: Any, hedge_returns: Any, *, min_observations: int = MIN_OBSERVATIONS
) -> BetaEstimate:
    """Ang–Chen–Xing downside beta: OLS on the rows where r_h < mean(r_h).

    The mean is taken over all complete rows of the window; ``observations`` is the
    number of rows below it (those the estimate uses).
    """
    y, x = _pair(asset_returns, hedge_returns)
    _require(y.size, max(3, min_observations), "downside")
    down = x < x.mean()
    _require(int(down.sum()), 3, "downside (rows with the hedge asset below its mean)")
    b, a, rho, r2, se = _weighted_fit(y[down], x[down], np.ones(int(down.sum())), "downside")
    return BetaEstimate(b, a, rho, r2, se, int(down.sum()), "downside")


def robust_beta(
    asset_returns: Any,
    hedge_returns: Any,
    *,
    k: float = _HUBER_K,
    max_iter: int = 100,
    tol: float = 1e-10,
    min_observations: int = MIN_OBSERVATIONS,
) -> BetaEstimate:
    """Huber M-estimate of beta by iteratively reweighted least squares.

    Start from OLS; at each step the residual scale s is the median absolute deviation
    of the residuals / 0.6745, and each row's weight is min(1, k·s/|e|) (k = 1.345,
    95% efficiency under normal errors). Stops when β changes by less than
    ``tol``·(1 + |β|). Correlation/R² and the standard error are those of the final
    weighted fit (an approximation for the standard error).
    """
    y, x = _pair(asset_returns, hedge_returns)
    _require(y.size, max(3, min_observations), "robust")
    w = np.ones_like(x)
    b, a, rho, r2, se = _weighted_fit(y, x, w, "robust")
    for _ in range(max_iter):
        e = y - a - b * x
        s = float(np.median(np.abs(e - np.median(e)))) / _MAD_TO_SIGMA
        if not s > 0.0:
            break  # most rows fit exactly: the current fit is the answer
        u = np.abs(e) / (k * s)
        w = np.where(u <= 1.0, 1.0, 1.0 / np.maximum(u, 1.0))
        b_new, a, rho, r2, se = _weighted_fit(y, x, w, "robust")
        done = abs(b_new - b) <= tol * (1.0 + abs(b))
        b = b_new
        if done:
            break
    return BetaEstimate(b, a, rho, r2, se, int(y.size), "robust")


def conservative_beta(
    asset_returns: Any, hedge_returns: Any, *, min_observations: int = MIN_OBSERVATIONS
) -> BetaEstimate:
    """The larger of the OLS and downside betas (the other statistics come with it).

    Raises when either cannot be measured: a conservative estimate must not quietly
    become the normal one.
    """
    normal = ols_beta(asset_returns, hedge_returns, min_observations=min_observations)
    down = downside_beta(asset_returns, hedge_returns, min_observations=min_observations)
    pick = down if down.beta > normal.beta else normal
    return BetaEstimate(
        pick.beta,
        pick.alpha,
        pick.correlation,
        pick.r_squared,
        pick.std_error,
        pick.observations,
        "conservative",
    )


def shrunk_betas(
    betas: Any,
    std_errors: Any,
    prior_mean: float | None = None,
    prior_variance: float | None = None,
) -> FloatArray:
    """Vasicek (1973) shrinkage of a cross-section of betas.

    β_i* = w_i·β_i + (1 − w_i)·β̄ with w_i = σ²_β/(σ²_β + se_i²), where β̄ is
    ``prior_mean`` or the cross-section mean of the finite betas given (the alt universe,
    not 1) and σ²_β is ``prior_variance`` or their cross-section variance (ddof = 1).
    NaN betas stay NaN and are left out of the prior; a beta with a NaN or zero standard
    error is kept as it is (w = 1). With fewer than two betas and no prior variance,
    the betas are returned unchanged.
    """
    b = np.asarray(betas, dtype=np.float64).reshape(-1)
    se = np.asarray(std_errors, dtype=np.float64).reshape(-1)
    if b.shape != se.shape:
        raise InputError(
            f"std_errors: {se.size} values for {b.size} betas; pass one standard error per beta"
        )
    if np.any(se[np.isfinite(se)] < 0):
        raise InputError("std_errors: standard errors must be ≥ 0")
    ok = np.isfinite(b)
    mean = float(b[ok].mean()) if prior_mean is None and ok.any() else prior_mean
    if prior_variance is None:
        if ok.sum() < 2:
            return b.copy()
        var = float(b[ok].var(ddof=1))
    else:
        var = float(prior_variance)
        if not (math.isfinite(var) and var >= 0):
            raise InputError(f"prior_variance: must be ≥ 0, got {prior_variance!r}")
    if mean is None:
        return b.copy()
    se2 = np.where(np.isfinite(se), se * se, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(se2 > 0, var / (var + se2), 1.0)
    return np.asarray(w * b + (1.0 - w) * float(mean), dtype=np.float64)


def min_variance_weights(
    portfolio_returns: Any,
    hedge_returns: Any,
    *,
    min_observations: int = MIN_OBSERVATIONS,
    nonnegative: bool = False,
) -> FloatArray:
    """Minimum-variance hedge weights b = Σ_hh⁻¹ Σ_hp for K hedge instruments.

    ``portfolio_returns`` has shape (T,), ``hedge_returns`` (T, K); b_k is the USD short
    in instrument k per USD of portfolio (so H_k = V·b_k). Rows with any NaN are
    dropped. ``nonnegative=True`` gives the minimum-variance weights among shorts only
    (b ≥ 0): the most negative instrument is dropped and the rest refitted until none is
    negative — the exact constrained optimum for K ≤ 2 (BTC+ETH: a negative ETH weight
    means hedging with BTC alone at its own OLS beta). Raises
    :class:`InsufficientHistoryError` with fewer than max(min_observations, K + 2) rows
    and :class:`BetaUnavailableError` when the hedge instruments are (nearly) collinear.
    """
    p = _vector("portfolio_returns", portfolio_returns)
    h = np.asarray(hedge_returns, dtype=np.float64)
    if h.ndim == 1:
        h = h[:, None]
    if h.ndim != 2 or h.shape[0] != p.shape[0]:
        raise InputError(
            f"hedge_returns: expected shape ({p.shape[0]}, K), got {h.shape}; "
            "pass one column per hedge instrument on the portfolio's dates"
        )
    keep = np.isfinite(p) & np.all(np.isfinite(h), axis=1)
    p, h = p[keep], h[keep]
    k = h.shape[1]
    _require(p.size, max(min_observations, k + 2), "minimum-variance")
    hc = h - h.mean(axis=0)
    pc = p - p.mean()
    s_hh = hc.T @ hc
    s_hp = hc.T @ pc
    if np.any(np.diag(s_hh) <= 0) or np.linalg.cond(s_hh) > 1e12:
        raise BetaUnavailableError(
            "hedge_returns: the hedge instruments' returns are flat or collinear in the "
            "window, so minimum-variance weights are undefined; hedge with one instrument"
        )
    b = np.asarray(np.linalg.solve(s_hh, s_hp), dtype=np.float64)
    active = np.ones(k, dtype=bool)
    while nonnegative and np.any(b < 0):
        active[int(np.argmin(b))] = False  # drop the most negative, refit the others
        b = np.zeros(k)
        if active.any():
            sub = np.ix_(active, active)
            b[active] = np.linalg.solve(s_hh[sub], s_hp[active])
    return b


def class_default_beta(asset_class: str) -> float:
    """Beta assumed for a holding of ``asset_class`` when its history is too short.

    Seed table: ``l1`` 1.2–1.8 → 1.5, ``defi`` 1.5–2.5 → 2.0 (midpoints), ``lowcap``
    above 3.0 → 3.0 (the published bound). Always label the result *assumed*.
    """
    key = str(asset_class).strip().lower().replace("-", "").replace("_", "")
    if key not in _CLASS_DEFAULT_VALUE:
        raise InputError(
            f"class: unknown asset class {asset_class!r}; use one of l1, defi, lowcap"
        )
    return _CLASS_DEFAULT_VALUE[key]


def estimate_beta(
    asset_returns: Any,
    hedge_returns: Any,
    method: str = "ols",
    *,
    lam: float = 0.94,
    halflife: float | None = None,
    min_observations: int = MIN_OBSERVATIONS,
) -> BetaEstimate:
    """Dispatch to the single-asset estimator named ``method`` (see :data:`BETA_METHODS`).

    ``shrunk`` needs the cross-section: estimate OLS betas for every asset, then call
    :func:`shrunk_betas`; here it returns the OLS estimate (not yet shrunk).
    """
    name = str(method).strip().lower()
    if name in ("ols", "shrunk"):
        return ols_beta(asset_returns, hedge_returns, min_observations=min_observations)
    if name == "ewma":
        return ewma_beta(
            asset_returns, hedge_returns, lam, halflife=halflife, min_observations=min_observations
        )
    if name == "downside":
        return downside_beta(asset_returns, hedge_returns, min_observations=min_observations)
    if name == "robust":
        return robust_beta(asset_returns, hedge_returns, min_observations=min_observations)
    if name == "conservative":
        return conservative_beta(asset_returns, hedge_returns, min_observations=min_observations)
    raise InputError(
        f"beta_method: unknown method {method!r}; use one of {', '.join(BETA_METHODS)}"
    )


# ---------------------------------------------------------------------------- rolling


def _rolling_inputs(
    asset_returns: Any, hedge_returns: Any, window: int | None
) -> tuple[FloatArray, FloatArray, bool, Any]:
    """(y as T×N, x as T, whether the input was 1-D, a function restoring pandas shape)."""
    if window is not None and (isinstance(window, bool) or int(window) != window or window < 2):
        raise InputError(f"window: must be an integer ≥ 2 rows, got {window!r}")
    restore: Any = None
    if isinstance(asset_returns, pd.DataFrame | pd.Series):
        index = asset_returns.index
        if isinstance(hedge_returns, pd.Series | pd.DataFrame) and not hedge_returns.index.equals(
            index
        ):
            hedge_returns = hedge_returns.reindex(index)
        if isinstance(asset_returns, pd.DataFrame):
            columns = asset_returns.columns

            def restore(values: FloatArray) -> Any:
                # the values are ours: no copy (pandas ≥ 3 copies by default)
                return pd.DataFrame(values, index=index, columns=columns, copy=False)

        else:
            name = asset_returns.name

            def restore(values: FloatArray) -> Any:
                return pd.Series(values, index=index, name=name, copy=False)

    y = np.asarray(asset_returns, dtype=np.float64)
    x = np.asarray(hedge_returns, dtype=np.float64)
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 1:
        raise InputError(f"hedge_returns: expected one series, got shape {x.shape}")
    one_d = y.ndim == 1
    if one_d:
        y = y[:, None]
    if y.ndim != 2 or y.shape[0] != x.shape[0]:
        raise InputError(
            f"asset_returns: expected shape ({x.shape[0]},) or ({x.shape[0]}, N) to match "
            f"hedge_returns, got {y.shape}"
        )
    return y, x, one_d, restore


def _finish(out: FloatArray, one_d: bool, restore: Any) -> Any:
    res = out[:, 0] if one_d else out
    return restore(res) if restore is not None else res


def _window_sum(v: FloatArray, w: int) -> FloatArray:
    """Sums over the trailing ``w`` rows, for rows ≥ w − 1 (earlier rows hold partial sums).

    Prefix sums restart every ``w`` rows (blocks); a window spans at most two blocks, so
    its sum is (suffix of the previous block) + (prefix of the current one). Every
    difference involves at most one block's worth of terms, so the rounding error is
    that of summing ~w numbers — it does not grow with the length of the series, unlike
    a single global cumulative sum.
    """
    t = v.shape[0]
    nb = -(-t // w)
    pad = nb * w - t
    if pad:
        v = np.concatenate([v, np.zeros((pad, *v.shape[1:]), dtype=np.float64)])
    p = v.reshape((nb, w, *v.shape[1:])).cumsum(axis=1)
    if nb > 1:
        p[1:] += p[:-1, -1:] - p[:-1]
    return p.reshape((nb * w, *v.shape[1:]))[:t]


def _centred(values: FloatArray, valid: npt.NDArray[np.bool_], upto: int) -> FloatArray:
    """Values minus their column mean over the valid rows among the first ``upto``, 0 where
    invalid. Covariances are shift-invariant; centring keeps the moment sums free of
    cancellation, and taking the reference from the first rows only keeps every later
    result independent (to the last bit) of rows after it."""
    head = slice(0, max(1, upto))
    filled = np.where(valid[head], values[head], 0.0)
    count = valid[head].sum(axis=0)
    mean = filled.sum(axis=0) / np.maximum(count, 1)
    return np.where(valid, values - mean, 0.0)


_CHUNK_COLUMNS = 64
#: From this many columns the rolling downside beta sums windows by one BLAS product per
#: chunk of windows (measured: 5× faster at 300 columns, on par at 16, slower below).
_BAND_MIN_COLUMNS = 16


def _block_size(w: int) -> int:
    """Block length b (a divisor of the window) for the blocked rolling beta.

    The main product costs 2·(2b + 2) flops per output value, the per-block bookkeeping
    (Python iterations, small products, window sums carried between blocks) shrinks as
    b grows; b ≈ 6 measured best for 500 × 20,000 with windows 90 and 720. Every window
    has a divisor ≤ 16 (b = 1 for primes above 16, still O(T·N)).
    """
    divisors = [b for b in range(1, 17) if w % b == 0]
    return min(divisors, key=lambda b: (abs(b - 6), -b))


#: Bytes of the per-chain working copy in ``_rolling_beta_blocked``: small enough to
#: stay in a core's L2 cache while its two products read it.
_STORE_BYTES = 1 << 20


def _round_sums(y: FloatArray, xc: FloatArray, w: int) -> FloatArray:
    """[Σy, Σy·xc] over each complete round of ``w`` rows (rows r·w … r·w + w − 1):
    shape (T // w, 2, N). ``einsum`` streams y once; a BLAS product with two output
    rows would first copy (pack) y and measured nearly twice as slow."""
    t, n = y.shape
    rounds = t // w
    sums = np.empty((rounds, 2, w))
    sums[:, 0] = 1.0
    sums[:, 1] = xc[: rounds * w].reshape(rounds, w)
    out: FloatArray = np.einsum("rkw,rwn->rkn", sums, y[: rounds * w].reshape(rounds, w, n))
    return out


def _rolling_beta_blocked(
    y: FloatArray,
    xc: FloatArray,
    mx: FloatArray,
    inv: FloatArray,
    w: int,
    b: int,
    rounds_sums: FloatArray,
) -> FloatArray:
    """β for rows ≥ w − 1 of C-contiguous (T, N) ``y`` (no NaN) against centred hedge
    returns ``xc``; ``mx`` the window mean of ``xc``, ``inv`` = 1/den (0 where flat),
    ``rounds_sums`` = :func:`_round_sums`. Rows < w − 1 of the result are garbage.

    Rows are cut in blocks of b (b divides w, q = w/b). With M_k = [Σy, Σy·xc] over the
    w rows before block k (rows (k−q)·b … k·b − 1), the window ending at row
    t = k·b + j has sums M_k − Σ_{i≤j} Y_{k−q,i}·(1, xc) + Σ_{i≤j} Y_{k,i}·(1, xc), and
    β_t = (S_xy − x̄_t·S_y)/den_t is linear in them: output block k is one small product
    K_k @ [Y_{k−q}; M_k; Y_k] with K_k (b × (2b + 2)) holding the per-row weights.
    Blocks are processed by chain (k mod q), each chain's blocks copied once into a
    small store laid out [M; Y] per block so the product reads [Y_{k−q}; M_k; Y_k] in
    place. M_{k+1} = M_k − (1, xc)·Y_{k−q} + (1, xc)·Y_k comes from two more rows of the
    same product, giving the next chain's M; chain 0's M_k (k = r·q) is the sum over the
    whole previous round of w rows (``rounds_sums``). So each M is carried over at most
    q blocks from an exact round sum (no error build-up over long series), y is read from
    memory twice (round sums, chain copies) and the result written once.
    """
    t, n = y.shape
    q = w // b
    nbf = t // b  # whole blocks
    tail = t - nbf * b
    nb = nbf + (1 if tail else 0)
    pad = nb * b - t

    def blocks(v: FloatArray) -> FloatArray:
        return (np.concatenate([v, np.zeros(pad)]) if pad else v).reshape(nb, b)

    x3 = blocks(xc)
    inv3 = blocks(inv)[q:]
    mxi3 = blocks(mx * inv)[q:]
    lower = np.tri(b, b, 0)  # [j, i] = 1 where i ≤ j: rows inside the partial sums
    wide = 2 * b + 2
    # K[k − q] = [−(xc·inv − x̄·inv) of Y_{k−q} | −x̄/den, 1/den | xc·inv − x̄·inv of Y_k]
    # (rows 0 … b − 1), then two rows giving M_{k+1} = M_k − (1, xc)·Y_{k−q} + (1, xc)·Y_k
    kmat = np.zeros((nb - q, b + 2, wide))
    kp = kmat[:, :b, :b]
    np.multiply(x3[:-q, None, :], inv3[:, :, None], out=kp)
    kp -= mxi3[:, :, None]
    np.multiply(kp, -lower, out=kp)
    np.negative(mxi3, out=kmat[:, :b, b])
    kmat[:, :b, b + 1] = inv3
    kc = kmat[:, :b, b + 2 :]
    np.multiply(x3[q:, None, :], inv3[:, :, None], out=kc)
    kc -= mxi3[:, :, None]
    kc *= lower
    kmat[:, b, :b] = -1.0
    np.negative(x3[:-q], out=kmat[:, b + 1, :b])
    kmat[:, b, b] = 1.0
    kmat[:, b + 1, b + 1] = 1.0
    kmat[:, b, b + 2 :] = 1.0
    kmat[:, b + 1, b + 2 :] = x3[q:]
    rows = b + 2
    # the result, two spare rows after it; ext[k] = block k's rows and the next two rows,
    # where chain c's product leaves M_{k+1} for chain c + 1 to pick up (and overwrite)
    buf = np.empty((nb * b + 2, n))
    item = buf.itemsize
    out3 = buf[: nb * b].reshape(nb, b, n)
    ext = np.lib.stride_tricks.as_strided(
        buf, shape=(nb, rows, n), strides=(b * n * item, n * item, item)
    )
    # with b = 1 the second spare row would fall on block k + 2: keep M aside instead
    spill = b >= 2
    m_cur = np.empty((0 if spill else -(-nb // q), 2, n))
    m_next = np.empty_like(m_cur)
    y3 = y[: nbf * b].reshape(nbf, b, n)
    ytail = np.zeros((b, n))
    ytail[:tail] = y[nbf * b :]
    seg = max(2, _STORE_BYTES // (rows * n * item))  # store slots (rounds) per fill
    store = np.empty((seg * rows, n))
    # slot i − 1's Y, slot i's M and Y: [Y_{k−q}; M_k; Y_k] in place
    views = np.lib.stride_tricks.as_strided(
        store[2:], shape=(seg - 1, wide, n), strides=(rows * n * item, n * item, item)
    )
    # rounds in segments that fit the store; within a segment chain c needs chain c − 1's
    # M, so chains go in order (segment-major keeps the rows just written in cache)
    for r0 in range(1, (nb - 1) // q + 1, seg - 1):
        for c in range(min(q, nb - q)):
            last = (nb - 1 - c) // q  # last round of chain c (block c + last·q)
            if r0 > last:
                break
            r1 = min(last, r0 + seg - 2)  # output rounds r0 … r1, slots rounds r0 − 1 … r1
            cnt = r1 - r0 + 2
            k0, k1 = c + r0 * q, c + r1 * q
            st3 = store[: cnt * rows].reshape(cnt, rows, n)
            if k1 < nbf:
                st3[:, 2:] = y3[k0 - q : k1 + 1 : q]
            else:
                st3[:-1, 2:] = y3[k0 - q : k1 : q]
                st3[-1, 2:] = ytail
            if c == 0:  # M_{r·q}: the whole previous round
                st3[1:, :2] = rounds_sums[r0 - 1 : r1]
            elif spill:  # left by chain c − 1 in the first two rows of these blocks
                st3[1:, :2] = ext[k0 : k1 + 1 : q, :2]
            else:
                st3[1:, :2] = m_cur[r0 : r1 + 1]
            kk = slice(k0 - q, k1 - q + 1, q)
            if c + 1 == q:
                np.matmul(kmat[kk, :b], views[: cnt - 1], out=out3[k0 : k1 + 1 : q])
            elif spill:
                np.matmul(kmat[kk], views[: cnt - 1], out=ext[k0 : k1 + 1 : q])
            else:
                np.matmul(kmat[kk, :b], views[: cnt - 1], out=out3[k0 : k1 + 1 : q])
                np.matmul(kmat[kk, b:], views[: cnt - 1], out=m_next[r0 : r1 + 1])
            m_cur, m_next = m_next, m_cur
    out = buf[:t]
    first = rounds_sums[0]  # the window of rows 0 … w − 1
    out[w - 1] = (first[1] - mx[w - 1] * first[0]) * inv[w - 1]
    return out


def _blank_windows(out: FloatArray, bad: npt.NDArray[np.bool_], w: int) -> None:
    """Set ``out[t, j]`` to NaN wherever rows t − w + 1 … t of column j hold a ``bad`` cell.

    A run of bad cells i0 … i1 − 1 in column j blanks rows i0 … i1 + w − 2 of it; runs
    are found from the 0/1 transitions of the columns that have a bad cell, and each is
    written as one slice. Cost O(T·columns with a bad cell + cells blanked); with very
    many runs a window count over the whole mask is used instead.
    """
    t = out.shape[0]
    hit = np.flatnonzero(bad.any(axis=0))
    if hit.size == 0:
        return
    sub = bad[:, hit].view(np.int8)
    zero = np.zeros((1, hit.size), dtype=np.int8)
    edge = np.diff(sub, axis=0, prepend=zero, append=zero) != 0
    at, which = np.divmod(np.flatnonzero(edge), hit.size)
    if at.size > 2 * 4096:
        out[_window_sum(bad.astype(np.float64), w) > 0.5] = np.nan
        return
    order = np.lexsort((at, which))  # by column, then row: start, stop, start, stop, …
    at, which = at[order], which[order]
    cols = hit[which[::2]].tolist()
    for j, start, stop in zip(cols, at[::2].tolist(), at[1::2].tolist(), strict=True):
        out[start : min(t, stop + w - 1), j] = np.nan


@overload
def rolling_beta(asset_returns: pd.DataFrame, hedge_returns: Any, window: int) -> pd.DataFrame: ...
@overload
def rolling_beta(asset_returns: pd.Series, hedge_returns: Any, window: int) -> pd.Series: ...
@overload
def rolling_beta(asset_returns: Any, hedge_returns: Any, window: int) -> Any: ...
def rolling_beta(asset_returns: Any, hedge_returns: Any, window: int) -> Any:
    """OLS beta over a trailing window of ``window`` rows, for every row and column.

    ``asset_returns``: shape (T,) or (T, N) — array, Series or DataFrame;
    ``hedge_returns``: shape (T,). Returns the same shape (and pandas type, index and
    columns when given pandas; a pandas hedge series is aligned on the asset's index).
    Row t holds Cov(r_a, r_h)/Var(r_h) over rows t−window+1 … t (rows ≤ t only); the first
    ``window − 1`` rows, windows containing a NaN in either series, and windows where the
    hedge returns are flat are NaN — the same as pandas
    ``asset.rolling(window).cov(hedge) / hedge.rolling(window).var()``.

    β_t = (S_xy − x̄_t·S_y)/den_t with S_y, S_xy the window sums of y and y·xc (xc the
    hedge returns centred on their first window's mean), x̄_t and den_t = Σ(xc − x̄_t)²
    shared by all assets. Cost O(T·N), memory O(T·N): the hedge's window moments come
    from block-restarted cumulative sums (``_window_sum``); the asset side, linear in
    the returns, is small blocked matrix products (``_rolling_beta_blocked``).
    """
    y, x, one_d, restore = _rolling_inputs(asset_returns, hedge_returns, window)
    w = int(window)
    t, n = y.shape
    if t < w or n == 0:
        return _finish(np.full((t, n), np.nan), one_d, restore)
    x_ok = np.isfinite(x)
    xc = _centred(x, x_ok, w)
    sx = _window_sum(xc, w)
    sxx = _window_sum(xc * xc, w)
    mean_x = sx / w
    den = sxx - sx * mean_x
    # flat hedge windows: the variance is within rounding of zero
    flat = den <= 64.0 * np.finfo(np.float64).eps * w * np.maximum(sxx, np.finfo(np.float64).tiny)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_den = np.where(flat, 0.0, 1.0 / np.where(flat, 1.0, den))
    if not (y.flags.c_contiguous or y.flags.f_contiguous):
        y = np.ascontiguousarray(y)
    sums = _round_sums(y, xc, w)
    # a NaN/inf anywhere in y makes a round sum non-finite; only the rows after the last
    # whole round are checked separately
    y_bad: npt.NDArray[np.bool_] | None = None
    if not (np.isfinite(sums).all() and np.isfinite(y[sums.shape[0] * w :]).all()):
        y_bad = ~np.isfinite(y)
        y = y.copy(order="K")
        np.copyto(y, 0.0, where=y_bad)
        sums = _round_sums(y, xc, w)
    out = _rolling_beta_blocked(y, xc, mean_x, inv_den, w, _block_size(w), sums)
    if y_bad is not None:
        _blank_windows(out, y_bad, w)
    if not x_ok.all():
        out[_window_sum((~x_ok).astype(np.float64), w) > 0.5] = np.nan
    if flat.any():
        out[flat] = np.nan
    out[: w - 1] = np.nan
    return _finish(out, one_d, restore)


def rolling_ewma_beta(
    asset_returns: Any,
    hedge_returns: Any,
    halflife: float | None = None,
    *,
    lam: float | None = None,
    min_periods: int = 2,
) -> Any:
    """EWMA beta at every row: weights λ^age over rows ≤ t (λ from ``halflife`` or ``lam``).

    Shapes as :func:`rolling_beta`. Moments are centred on the weighted means; rows where
    either series is missing add no observation but the weights still decay, so on
    complete data the result equals pandas
    ``asset.ewm(halflife=h).cov(hedge) / hedge.ewm(halflife=h).var()``. Rows with fewer
    than ``min_periods`` observations so far are NaN (pass a warm-up such as the
    half-life to avoid early noise). Cost O(T·N) in a loop over rows.
    """
    if halflife is None and lam is None:
        raise InputError("halflife: pass the EWMA half-life in periods (or lam)")
    decay = ewma_lambda(lam, halflife)
    y, x, one_d, restore = _rolling_inputs(asset_returns, hedge_returns, None)
    t, n = y.shape
    ok = np.isfinite(y) & np.isfinite(x)[:, None]
    head = max(2, min_periods)
    xc = _centred(np.broadcast_to(x[:, None], (t, n)), ok, head)
    yc = _centred(y, ok, head)
    sw = np.zeros(n)
    sx = np.zeros(n)
    sy = np.zeros(n)
    sxx = np.zeros(n)
    sxy = np.zeros(n)
    count = np.zeros(n)
    out = np.full((t, n), np.nan)
    for i in range(t):
        o = ok[i]
        xi = xc[i]
        yi = yc[i]
        sw *= decay
        sx *= decay
        sy *= decay
        sxx *= decay
        sxy *= decay
        sw += o
        sx += xi
        sy += yi
        sxx += xi * xi
        sxy += xi * yi
        count += o
        with np.errstate(divide="ignore", invalid="ignore"):
            mx = sx / sw
            var = sxx - sx * mx
            cov = sxy - sy * mx
            row = np.where(
                (count >= max(2, min_periods)) & (var > 64.0 * np.finfo(np.float64).eps * sxx),
                cov / var,
                np.nan,
            )
        out[i] = row
    return _finish(out, one_d, restore)


def rolling_downside_beta(
    asset_returns: Any,
    hedge_returns: Any,
    window: int,
    *,
    min_observations: int = MIN_OBSERVATIONS,
) -> Any:
    """Ang–Chen–Xing downside beta over a trailing window of ``window`` rows, every row.

    In each window, the rows where the hedge return is below the window's mean hedge
    return are selected and β⁻ = Cov/Var on them (as :func:`downside_beta` on that
    window). Shapes and NaN rules as :func:`rolling_beta`; also NaN when fewer than
    ``min_observations`` rows are below the mean. Cost O(T·window·N) (the threshold
    moves with the window): per chunk of windows one matrix product over a band of rows
    (many columns) or a windowed einsum (few columns).
    """
    y, x, one_d, restore = _rolling_inputs(asset_returns, hedge_returns, window)
    w = int(window)
    t, n = y.shape
    out = np.full((t, n), np.nan)
    if t < w:
        return _finish(out, one_d, restore)
    x_ok = np.isfinite(x)
    xc = _centred(x, x_ok, w)
    y_ok = np.isfinite(y)
    yc = _centred(y, y_ok, w)
    bad = ~y_ok | ~x_ok[:, None]
    bad_window = _window_sum(bad.astype(np.float64), w)[w - 1 :] > 0.5 if bad.any() else None
    xv = np.lib.stride_tricks.sliding_window_view(xc, w)  # (T−w+1, w), a view
    yv = np.lib.stride_tricks.sliding_window_view(yc, w, axis=0)  # (T−w+1, N, w), a view
    tiny = np.finfo(np.float64).tiny
    # S windows at a time: their selected rows lie in a band of S + w − 1 rows, so both
    # sums for every asset are ONE matrix product (BLAS) of a (2S × band) weight matrix
    # with that band of returns; S ≤ w keeps the zeros outside the windows at most half
    # the work, and the weight matrix within 2M values (16 MB).
    step = max(1, min(w, int((np.sqrt(w * w + 4e6) - w) / 4)))
    band = np.arange(w)
    for s0 in range(0, t - w + 1, step):
        s1 = min(t - w + 1, s0 + step)
        size = s1 - s0
        xw = xv[s0:s1]
        d = xw - xw.mean(axis=1, keepdims=True)
        m = (d < 0).astype(np.float64)
        md = m * d
        nd = m.sum(axis=1)
        sx = md.sum(axis=1)
        sxx = (md * d).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            var = sxx - sx * sx / nd
            usable = (nd >= max(3, min_observations)) & (
                var > 64.0 * np.finfo(np.float64).eps * np.maximum(sxx, tiny)
            )
            inv = np.where(usable, 1.0 / var, np.nan)
            mean_x = sx / nd
        if n >= _BAND_MIN_COLUMNS:
            weights = np.zeros((2 * size, size + w - 1))
            rows = np.arange(size)[:, None]
            weights[rows, rows + band] = m
            weights[size + rows, rows + band] = md
            sums = weights @ yc[s0 : s1 + w - 1]  # (2S, N): Σ m·y, then Σ m·d·y
            sy, sxy = sums[:size], sums[size:]
        else:  # few columns: the band's zeros would cost more than BLAS saves
            ywin = yv[s0:s1]
            sy = np.einsum("tj,tnj->tn", m, ywin)
            sxy = np.einsum("tj,tnj->tn", md, ywin)
        beta = (sxy - sy * mean_x[:, None]) * inv[:, None]
        if bad_window is not None:
            beta[bad_window[s0:s1]] = np.nan
        out[w - 1 + s0 : w - 1 + s1] = beta
    return _finish(out, one_d, restore)
