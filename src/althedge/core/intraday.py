"""Betas and BTC+ETH minimum-variance weights from intraday (hourly) returns, decided per period.

A hedge is decided at the end of each *period* (a UTC day by default) from the intraday
returns of the last ``window`` periods — the realized beta of Andersen, Bollerslev,
Diebold & Wu (2006), "Realized Beta: Persistence and Predictability", *Advances in
Econometrics* 20: β = Σ r_a·r_h / Σ r_h² over the intraday returns of the window (here
centred on the window means, i.e. OLS on the intraday returns). All causal: the value for
period p uses bars of periods ≤ p only.

Data rules (the traps of hourly data, ``docs/data.md``):

* returns only across consecutive bars (:func:`consecutive_returns`): a return spanning an
  exchange-downtime gap is dropped, not spread over several bars;
* the first hours after a listing are wild (:func:`skip_listing`);
* pairwise: a bar counts for a column when that column's and the hedge returns are all
  finite; a window with fewer than ``min_observations`` such bars gives NaN.

Estimators (all from per-period moment sums, so memory is O(periods × N × K²) plus one
chunk of columns × bars — never bars × bars nor bars × N × window):

* :func:`realized_beta` — OLS beta of intraday returns over the last ``window`` periods,
  optionally with the Dimson (1979) lead-lag correction ``lags = L``: β = Σ_{k=0..L}
  Cov(r_a,t, r_h,t−k)/Var(r_h) (Dimson, "Risk measurement when shares are subject to
  infrequent trading", *Journal of Financial Economics* 7(2): the sum of the slopes on the
  current and lagged market returns; the simple-slope sum equals the multiple regression
  when the hedge returns are serially uncorrelated);
* :func:`realized_min_variance` — b = Σ_hh⁻¹ Σ_hp from the intraday covariance of
  BTC, ETH and each portfolio, optionally shrunk toward the diagonal
  (Σ_hh* = (1 − δ)·Σ_hh + δ·diag Σ_hh, a Ledoit–Wolf-style target);
* ``halflife`` instead of ``window`` — the EWMA form: each period's moment sums weighted
  0.5^(age/halflife), age in periods (the RiskMetrics recursion on realized moments).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from althedge.errors import InputError

__all__ = [
    "PeriodMoments",
    "centred_moments",
    "consecutive_returns",
    "min_variance_from_moments",
    "period_ids",
    "period_moments",
    "realized_beta",
    "realized_min_variance",
    "skip_listing",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_HOUR_NS = 3_600_000_000_000
_DAY_NS = 24 * _HOUR_NS
#: Columns summed together (the transient per-chunk arrays are bars × chunk × K²).
_CHUNK = 16


def consecutive_returns(
    closes: FloatArray, times_ns: IntArray, bar_ns: int = _HOUR_NS
) -> FloatArray:
    """Simple returns P_t/P_{t−1} − 1 where rows t−1 and t are exactly one bar apart.

    ``closes`` (T,) or (T, N) on the times ``times_ns`` (int64 ns since the epoch, sorted);
    a return across a longer step (a gap in the index), or touching a missing or
    non-positive price, is NaN. Row 0 is NaN, so the result has the shape of ``closes``.
    """
    p = np.asarray(closes, dtype=np.float64)
    t = np.asarray(times_ns, dtype=np.int64)
    if p.shape[0] != t.shape[0]:
        raise InputError(f"times: {t.shape[0]} times for {p.shape[0]} rows of closes")
    good = np.isfinite(p) & (p > 0)
    safe = np.where(good, p, np.nan)
    out = np.full(p.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[1:] = safe[1:] / safe[:-1] - 1.0
    step_ok = np.r_[False, np.diff(t) == bar_ns]
    out[~step_ok] = np.nan
    return out


def skip_listing(returns: FloatArray, times_ns: IntArray, hours: float) -> FloatArray:
    """Returns with each column's first ``hours`` hours after its first finite return blanked.

    A new listing trades wildly for hours (price discovery), which says nothing about its
    beta later. Shape as ``returns``; a copy.
    """
    r = np.array(returns, dtype=np.float64, copy=True)
    t = np.asarray(times_ns, dtype=np.int64)
    r2 = r[:, None] if r.ndim == 1 else r
    if hours <= 0:
        return r
    finite = np.isfinite(r2)
    has = finite.any(axis=0)
    first = np.argmax(finite, axis=0)
    for j in np.flatnonzero(has):
        cut = t[first[j]] + int(hours * _HOUR_NS)
        r2[: int(np.searchsorted(t, cut, side="left")), j] = np.nan
    return r


def period_ids(times_ns: IntArray, period_ns: int = _DAY_NS) -> tuple[IntArray, IntArray]:
    """(period of each row, start time of each period present), periods of ``period_ns``
    counted from the epoch (UTC days by default). Rows must be sorted by time."""
    t = np.asarray(times_ns, dtype=np.int64)
    p = np.floor_divide(t, period_ns)
    starts, ids = np.unique(p, return_inverse=True)
    return ids.astype(np.int64), (starts * period_ns).astype(np.int64)


@dataclass(frozen=True)
class PeriodMoments:
    """Moment sums of pairwise-complete bars, per period (P) and column (N).

    ``n`` (P, N) bars used; ``sy`` (P, N) Σr_a; ``syy`` Σr_a²; ``sx`` (P, N, K) Σr_h,k;
    ``sxx`` (P, N, K, K) Σr_h,k·r_h,l; ``sxy`` (P, N, K) Σr_h,k·r_a. Columns k of the
    hedge returns may be different assets (BTC, ETH) or lags of one (Dimson).
    """

    n: FloatArray
    sy: FloatArray
    syy: FloatArray
    sx: FloatArray
    sxx: FloatArray
    sxy: FloatArray

    def combine(self, window: int | None = None, halflife: float | None = None) -> PeriodMoments:
        """Sums over the last ``window`` periods, or EWMA-weighted with ``halflife`` periods.

        Row p of the result uses rows ≤ p only. Exactly one of the two must be given.
        """
        if (window is None) == (halflife is None):
            raise InputError("window: pass either a window or a half-life in periods")
        fields = (self.n, self.sy, self.syy, self.sx, self.sxx, self.sxy)
        if window is not None:
            w = int(window)
            if w < 1:
                raise InputError(f"window: must be at least 1 period, got {window}")
            out = []
            for a in fields:
                c = np.cumsum(a, axis=0)
                s = c.copy()
                s[w:] = c[w:] - c[:-w]
                out.append(s)
            return PeriodMoments(*out)
        assert halflife is not None
        if not halflife > 0:
            raise InputError(f"halflife: must be > 0 periods, got {halflife}")
        lam = 0.5 ** (1.0 / float(halflife))
        out = []
        for a in fields:
            s = np.empty_like(a)
            acc = np.zeros(a.shape[1:])
            for i in range(a.shape[0]):
                acc = lam * acc + a[i]
                s[i] = acc
            out.append(s)
        return PeriodMoments(*out)


def period_moments(
    asset_returns: FloatArray, hedge_returns: FloatArray, periods: IntArray, n_periods: int
) -> PeriodMoments:
    """Per-period moment sums of the bars where the asset and every hedge column are finite.

    ``asset_returns`` (T, N), ``hedge_returns`` (T, K), ``periods`` (T,) the period of each
    row (0 … n_periods − 1, non-decreasing). Columns are processed in chunks, so the extra
    memory is O(T × chunk × K²).
    """
    y = np.asarray(asset_returns, dtype=np.float64)
    y = y[:, None] if y.ndim == 1 else y
    x = np.asarray(hedge_returns, dtype=np.float64)
    x = x[:, None] if x.ndim == 1 else x
    pid = np.asarray(periods, dtype=np.int64)
    t, n = y.shape
    k = x.shape[1]
    if x.shape[0] != t or pid.shape[0] != t:
        raise InputError(
            f"hedge_returns: expected {t} rows like the asset returns, got {x.shape[0]}"
        )
    x_ok = np.all(np.isfinite(x), axis=1)
    xz = np.where(x_ok[:, None], x, 0.0)
    xx = xz[:, :, None] * xz[:, None, :]  # (T, K, K)
    starts = np.flatnonzero(np.r_[True, pid[1:] != pid[:-1]]) if t else np.zeros(0, np.int64)
    present = pid[starts] if t else np.zeros(0, np.int64)

    def reduce(v: FloatArray) -> FloatArray:
        out = np.zeros((n_periods, *v.shape[1:]))
        if t:
            out[present] = np.add.reduceat(v, starts, axis=0)
        return out

    res_n = np.zeros((n_periods, n))
    res_sy = np.zeros((n_periods, n))
    res_syy = np.zeros((n_periods, n))
    res_sx = np.zeros((n_periods, n, k))
    res_sxx = np.zeros((n_periods, n, k, k))
    res_sxy = np.zeros((n_periods, n, k))
    for lo in range(0, n, _CHUNK):
        hi = min(n, lo + _CHUNK)
        m = (np.isfinite(y[:, lo:hi]) & x_ok[:, None]).astype(np.float64)  # (T, c)
        yz = np.where(m > 0, y[:, lo:hi], 0.0)
        res_n[:, lo:hi] = reduce(m)
        res_sy[:, lo:hi] = reduce(yz)
        res_syy[:, lo:hi] = reduce(yz * yz)
        res_sx[:, lo:hi] = reduce(m[:, :, None] * xz[:, None, :])
        res_sxx[:, lo:hi] = reduce(m[:, :, None, None] * xx[:, None, :, :])
        res_sxy[:, lo:hi] = reduce(yz[:, :, None] * xz[:, None, :])
    return PeriodMoments(res_n, res_sy, res_syy, res_sx, res_sxx, res_sxy)


def _lagged(x: FloatArray, lags: int) -> FloatArray:
    """(T, lags + 1): x_t, x_{t−1}, …, x_{t−lags} (NaN before the start)."""
    out = np.full((x.shape[0], lags + 1), np.nan)
    for k in range(lags + 1):
        out[k:, k] = x[: x.shape[0] - k]
    return out


def centred_moments(m: PeriodMoments) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(C_xx (P,N,K,K), C_xy (P,N,K), n) centred on the window means (sums, not divided)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        inv_n = np.where(m.n > 0, 1.0 / m.n, np.nan)
        cxx = m.sxx - m.sx[..., :, None] * m.sx[..., None, :] * inv_n[..., None, None]
        cxy = m.sxy - m.sx * (m.sy * inv_n)[..., None]
    return cxx, cxy, m.n


def realized_beta(
    asset_returns: FloatArray,
    hedge_returns: FloatArray,
    periods: IntArray,
    n_periods: int,
    *,
    window: int | None = None,
    halflife: float | None = None,
    lags: int = 0,
    min_observations: int = 24,
) -> FloatArray:
    """Beta of each column to the hedge asset from intraday returns, one value per period.

    Row p uses the bars of the last ``window`` periods up to and including p (or every
    period ≤ p with EWMA weights of half-life ``halflife`` periods). ``lags`` > 0 adds the
    Dimson correction: Σ_{k=0..lags} Cov(r_a,t, r_h,t−k) / Var(r_h,t) over bars where
    all lags are known. NaN where fewer than ``min_observations`` bars (effective count
    for EWMA) are complete or the hedge returns are flat. Shape (P, N).
    """
    x = np.asarray(hedge_returns, dtype=np.float64).reshape(-1)
    if lags < 0:
        raise InputError(f"lags: must be ≥ 0, got {lags}")
    mom = period_moments(asset_returns, _lagged(x, lags), periods, n_periods)
    combined = mom.combine(window, halflife)
    cxx, cxy, n = centred_moments(combined)
    var = cxx[..., 0, 0]
    cov = cxy.sum(axis=-1)
    ok = (n >= min_observations) & (var > 1e-12 * np.maximum(combined.sxx[..., 0, 0], 1e-300))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, cov / np.where(ok, var, 1.0), np.nan)


def min_variance_from_moments(
    mom: PeriodMoments, *, shrink: float = 0.0, min_observations: int = 24,
    nonnegative: bool = True,
) -> FloatArray:
    """b = Σ_hh⁻¹ Σ_hp per (period, column) from combined moment sums: (P, N, K).

    ``shrink`` δ ∈ [0, 1] pulls Σ_hh toward its diagonal. ``nonnegative`` gives the
    shorts-only solution (K ≤ 2: a negative weight is dropped and the other instrument
    takes its own beta, 0 if negative) as :func:`althedge.core.beta.min_variance_weights`.
    NaN where too few bars or a singular Σ_hh.
    """
    if not 0.0 <= shrink <= 1.0:
        raise InputError(f"shrink: must be between 0 and 1, got {shrink}")
    cxx, cxy, n = centred_moments(mom)
    k = cxx.shape[-1]
    diag = np.eye(k) * cxx
    s = (1.0 - shrink) * cxx + shrink * diag
    d = np.diagonal(s, axis1=-2, axis2=-1)
    ok = (n >= min_observations) & np.all(d > 0, axis=-1)
    if k == 2:
        det = s[..., 0, 0] * s[..., 1, 1] - s[..., 0, 1] * s[..., 1, 0]
        ok &= np.abs(det) > 1e-12 * d.prod(axis=-1)
    safe = np.where(ok[..., None, None], s, np.eye(k))
    b = np.linalg.solve(safe, np.where(ok[..., None], cxy, 0.0)[..., None])[..., 0]
    if nonnegative and k == 2:
        with np.errstate(invalid="ignore", divide="ignore"):
            alone = np.maximum(cxy / np.where(d > 0, d, np.nan), 0.0)  # each alone
        b0, b1 = b[..., 0], b[..., 1]
        drop0 = (b0 < 0) & (b0 <= b1)
        drop1 = (b1 < 0) & ~drop0
        b = np.stack([np.where(drop0, 0.0, np.where(drop1, alone[..., 0], b0)),
                      np.where(drop1, 0.0, np.where(drop0, alone[..., 1], b1))], axis=-1)
    elif nonnegative:
        b = np.maximum(b, 0.0)
    b[~ok] = np.nan
    return np.asarray(b, dtype=np.float64)


def realized_min_variance(
    asset_returns: FloatArray,
    hedge_returns: FloatArray,
    periods: IntArray,
    n_periods: int,
    *,
    window: int | None = None,
    halflife: float | None = None,
    shrink: float = 0.0,
    min_observations: int = 24,
    nonnegative: bool = True,
) -> FloatArray:
    """Minimum-variance weights on K hedge instruments from intraday covariances, per period.

    ``hedge_returns`` (T, K) (BTC, ETH). Window/EWMA and shrinkage as above; (P, N, K).
    """
    mom = period_moments(asset_returns, hedge_returns, periods, n_periods)
    return min_variance_from_moments(
        mom.combine(window, halflife), shrink=shrink, min_observations=min_observations,
        nonnegative=nonnegative,
    )
