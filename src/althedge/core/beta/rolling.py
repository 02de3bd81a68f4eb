"""Rolling estimators: one beta per row from rows ≤ t only (see :mod:`althedge.core.beta`)."""

from __future__ import annotations

from typing import Any, overload

import numpy as np
import numpy.typing as npt
import pandas as pd

from althedge.core.beta._common import MIN_OBSERVATIONS
from althedge.core.beta._kernels import (
    _BAND_MIN_COLUMNS,
    _blank_windows,
    _block_size,
    _centred,
    _finish,
    _rolling_beta_blocked,
    _rolling_inputs,
    _round_sums,
    _window_sum,
)
from althedge.core.beta.point import ewma_lambda
from althedge.errors import InputError


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
