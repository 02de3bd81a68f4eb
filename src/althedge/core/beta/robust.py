"""Rolling Huber M-estimate of beta (the rolling form of :func:`point.robust_beta`).

Each window is fitted exactly as :func:`althedge.core.beta.robust_beta` fits it (start
from OLS, iteratively reweighted least squares with weights min(1, k·s/|e|), s = MAD of
the residuals / 0.6745, k = 1.345, stop when β moves by less than tol·(1 + |β|)), but
many windows at once: a chunk of S windows is an (S, window) view per column, so memory
is O(S·window) per column, never T × N × window.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from althedge.core.beta._common import _HUBER_K, _MAD_TO_SIGMA, MIN_OBSERVATIONS, FloatArray
from althedge.core.beta._kernels import _finish, _rolling_inputs

__all__ = ["rolling_robust_beta"]

#: Windows fitted together per column (memory S × window floats per array).
_CHUNK_WINDOWS = 2048


def _wls(y: FloatArray, x: FloatArray, w: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Row-wise weighted least squares of y on (1, x): (beta, alpha), each (S,)."""
    sw = w.sum(axis=1)
    mx = (w * x).sum(axis=1) / sw
    my = (w * y).sum(axis=1) / sw
    dx = x - mx[:, None]
    sxx = (w * dx * dx).sum(axis=1)
    sxy = (w * dx * (y - my[:, None])).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        beta = np.where(sxx > 0, sxy / sxx, np.nan)
    return beta, my - beta * mx


def _huber_windows(
    y: FloatArray, x: FloatArray, k: float, max_iter: int, tol: float
) -> FloatArray:
    """Huber beta of each row of (S, w) windows ``y`` on ``x`` (no NaN inside)."""
    w = np.ones_like(x)
    b, a = _wls(y, x, w)
    active = np.isfinite(b)
    for _ in range(max_iter):
        if not active.any():
            break
        e = y - a[:, None] - b[:, None] * x
        med = np.median(e, axis=1)
        s = np.median(np.abs(e - med[:, None]), axis=1) / _MAD_TO_SIGMA
        active &= s > 0  # most rows fit exactly: the current fit is the answer
        with np.errstate(divide="ignore", invalid="ignore"):
            u = np.abs(e) / (k * s[:, None])
        w_new = np.where(u <= 1.0, 1.0, 1.0 / np.maximum(u, 1.0))
        w = np.where(active[:, None], w_new, w)
        b_new, a_new = _wls(y, x, w)
        moved = np.abs(b_new - b) > tol * (1.0 + np.abs(b))
        b = np.where(active, b_new, b)
        a = np.where(active, a_new, a)
        active &= moved
    return b


def rolling_robust_beta(
    asset_returns: Any,
    hedge_returns: Any,
    window: int,
    *,
    k: float = _HUBER_K,
    max_iter: int = 100,
    tol: float = 1e-10,
    min_observations: int = MIN_OBSERVATIONS,
) -> Any:
    """Huber M-estimate of beta over a trailing window of ``window`` rows, every row.

    Row t equals :func:`althedge.core.beta.robust_beta` on rows t−window+1 … t (rows ≤ t
    only). Shapes and NaN rules as :func:`althedge.core.beta.rolling_beta`: the first
    ``window − 1`` rows, windows holding a NaN in either series and flat hedge windows
    are NaN. Cost O(T·window·iterations) per column.
    """
    y, x, one_d, restore = _rolling_inputs(asset_returns, hedge_returns, window)
    w = int(window)
    t, n = y.shape
    out = np.full((t, n), np.nan)
    if t < w or w < max(3, min_observations):
        return _finish(out, one_d, restore)
    xv = np.lib.stride_tricks.sliding_window_view(x, w)
    for j in range(n):
        yv = np.lib.stride_tricks.sliding_window_view(np.ascontiguousarray(y[:, j]), w)
        for s0 in range(0, t - w + 1, _CHUNK_WINDOWS):
            s1 = min(t - w + 1, s0 + _CHUNK_WINDOWS)
            xs, ys = xv[s0:s1], yv[s0:s1]
            ok = np.isfinite(xs).all(axis=1) & np.isfinite(ys).all(axis=1)
            flat = np.ptp(np.where(np.isfinite(xs), xs, 0.0), axis=1) == 0.0
            use = ok & ~flat
            if not use.any():
                continue
            beta = np.full(s1 - s0, np.nan)
            beta[use] = _huber_windows(ys[use], xs[use], k, max_iter, tol)
            out[w - 1 + s0 : w - 1 + s1, j] = beta
    return _finish(out, one_d, restore)
