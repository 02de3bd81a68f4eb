"""One registry of beta estimators: a name maps to its point estimator and its rolling form.

The portfolio file's ``beta_method`` (:mod:`althedge.config`), the backtest's policy
names (:func:`althedge.core.policies.parse_policy`) and the plan's measurement
(:mod:`althedge.services.plan`) all read this table, so an estimator that can be
planned can also be backtested, under the same name.

Each :class:`Estimator` has

* ``name`` — the ``beta_method`` name (``ols``, ``ewma``, …);
* ``policy`` — the backtest policy kind (``rolling-ols`` for ``ols``; the others keep
  their name) and ``parameter`` — what its number means: ``window`` (rows) or
  ``halflife`` (rows);
* ``point(asset, hedge, lam=…)`` — one estimate over the rows given
  (:class:`althedge.core.beta.BetaEstimate`); ``lam`` is the EWMA decay per row, used by
  ``ewma`` only;
* ``rolling(asset (T,N), hedge (T,), param)`` — the value at every row from rows ≤ t
  only (NaN where unavailable);
* ``cross_section`` — ``shrunk``: the per-holding estimates are shrunk toward the
  cross-section afterwards (Vasicek), so it needs every holding at once.

Sampling (daily or hourly returns) is independent of the estimator: ``ols`` on hourly
returns over N days is the *realized beta*, ``ewma`` on hourly returns its EWMA form
(see :mod:`althedge.core.intraday`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from althedge.core.beta import (
    BetaEstimate,
    conservative_beta,
    downside_beta,
    ewma_beta,
    ols_beta,
    robust_beta,
    rolling_beta,
    rolling_downside_beta,
    rolling_ewma_beta,
    rolling_robust_beta,
)
from althedge.errors import InputError

__all__ = [
    "ESTIMATORS",
    "ESTIMATOR_NAMES",
    "Estimator",
    "get_estimator",
    "policy_estimator",
]

FloatArray = npt.NDArray[np.float64]
PointFn = Callable[..., BetaEstimate]
RollingFn = Callable[[FloatArray, FloatArray, float], FloatArray]


@dataclass(frozen=True)
class Estimator:
    """One beta estimator (see the module docstring)."""

    name: str
    policy: str
    parameter: Literal["window", "halflife"]
    point: PointFn
    rolling: RollingFn
    summary: str
    cross_section: bool = False


def _arr(v: Any) -> FloatArray:
    return np.asarray(v, dtype=np.float64)


def _ols_point(y: Any, x: Any, *, lam: float | None = None) -> BetaEstimate:
    return ols_beta(y, x)


def _ewma_point(y: Any, x: Any, *, lam: float | None = None) -> BetaEstimate:
    return ewma_beta(y, x, 0.94 if lam is None else lam)


def _downside_point(y: Any, x: Any, *, lam: float | None = None) -> BetaEstimate:
    return downside_beta(y, x)


def _robust_point(y: Any, x: Any, *, lam: float | None = None) -> BetaEstimate:
    return robust_beta(y, x)


def _conservative_point(y: Any, x: Any, *, lam: float | None = None) -> BetaEstimate:
    return conservative_beta(y, x)


def _ols_rolling(y: FloatArray, x: FloatArray, window: float) -> FloatArray:
    return _arr(rolling_beta(y, x, int(window)))


def _ewma_rolling(y: FloatArray, x: FloatArray, halflife: float) -> FloatArray:
    out = _arr(rolling_ewma_beta(y, x, halflife))
    out[: max(2, int(np.ceil(2 * halflife)))] = np.nan  # too few effective observations
    return out


def _downside_rolling(y: FloatArray, x: FloatArray, window: float) -> FloatArray:
    return _arr(rolling_downside_beta(y, x, int(window)))


def _robust_rolling(y: FloatArray, x: FloatArray, window: float) -> FloatArray:
    return _arr(rolling_robust_beta(y, x, int(window)))


def _conservative_rolling(y: FloatArray, x: FloatArray, window: float) -> FloatArray:
    a = _ols_rolling(y, x, window)
    b = _downside_rolling(y, x, window)
    # NaN when either is unavailable, as conservative_beta raises then
    return np.where(np.isfinite(a) & np.isfinite(b), np.fmax(a, b), np.nan)


ESTIMATORS: tuple[Estimator, ...] = (
    Estimator("ols", "rolling-ols", "window", _ols_point, _ols_rolling,
              "OLS beta Cov/Var over the window"),
    Estimator("ewma", "ewma", "halflife", _ewma_point, _ewma_rolling,
              "exponentially weighted beta (RiskMetrics)"),
    Estimator("downside", "downside", "window", _downside_point, _downside_rolling,
              "Ang–Chen–Xing downside beta (rows with the hedge asset below its mean)"),
    Estimator("shrunk", "shrunk", "window", _ols_point, _ols_rolling,
              "OLS betas shrunk toward the cross-section (Vasicek)", cross_section=True),
    Estimator("robust", "robust", "window", _robust_point, _robust_rolling,
              "Huber M-estimate (outliers down-weighted)"),
    Estimator("conservative", "conservative", "window", _conservative_point,
              _conservative_rolling, "the larger of the OLS and downside betas"),
)

#: ``beta_method`` names, in the registry's order.
ESTIMATOR_NAMES: tuple[str, ...] = tuple(e.name for e in ESTIMATORS)

_BY_NAME = {e.name: e for e in ESTIMATORS}
_BY_POLICY = {e.policy: e for e in ESTIMATORS}


def get_estimator(name: str) -> Estimator:
    """The estimator called ``name`` (a ``beta_method``); :class:`InputError` naming the
    valid names otherwise."""
    key = str(name).strip().lower()
    if key not in _BY_NAME:
        raise InputError(
            f"beta_method: unknown method {name!r}; use one of {', '.join(ESTIMATOR_NAMES)}"
        )
    return _BY_NAME[key]


def policy_estimator(kind: str) -> Estimator | None:
    """The estimator behind a backtest policy kind (``rolling-ols`` → ``ols``), or None for
    the policies that are not an estimator (none, static, one-to-one, multi, auto)."""
    return _BY_POLICY.get(kind)
