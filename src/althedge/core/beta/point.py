"""Point estimators of beta over one window of returns (see :mod:`althedge.core.beta`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from althedge.core.beta._common import (
    _CLASS_DEFAULT_VALUE,
    _HUBER_K,
    _MAD_TO_SIGMA,
    BETA_METHODS,
    MIN_OBSERVATIONS,
    BetaEstimate,
    BetaUnavailableError,
    FloatArray,
    _aligned,
    _pair,
    _require,
    _vector,
    _weighted_fit,
)
from althedge.errors import InputError


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


