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

Rolling estimators (``rolling_beta``, ``rolling_ewma_beta``, ``rolling_downside_beta``,
``rolling_robust_beta``)
return one value per row: the value at row t uses rows ≤ t only (no look-ahead); a caller
deciding a hedge for the period after t uses the value at t. They return NaN where the
estimate is unavailable instead of raising.
"""

from __future__ import annotations

from althedge.core.beta._common import (
    BETA_METHODS,
    CLASS_DEFAULT_BETAS,
    MIN_OBSERVATIONS,
    BetaEstimate,
    BetaUnavailableError,
    InsufficientHistoryError,
)
from althedge.core.beta.point import (
    class_default_beta,
    conservative_beta,
    downside_beta,
    estimate_beta,
    ewma_beta,
    ewma_lambda,
    min_variance_weights,
    ols_beta,
    robust_beta,
    shrunk_betas,
)
from althedge.core.beta.robust import rolling_robust_beta
from althedge.core.beta.rolling import rolling_beta, rolling_downside_beta, rolling_ewma_beta

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
    "rolling_robust_beta",
    "shrunk_betas",
]
