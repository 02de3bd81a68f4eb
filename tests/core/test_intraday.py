"""Intraday (hourly) estimators: against pandas/numpy written here; look-ahead, gaps, listings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from althedge.core.beta import min_variance_weights
from althedge.core.intraday import (
    consecutive_returns,
    period_ids,
    period_moments,
    realized_beta,
    realized_min_variance,
    skip_listing,
)
from althedge.errors import InputError

HOUR = 3_600_000_000_000


def _hours(days: int, start: str = "2022-01-01") -> pd.DatetimeIndex:
    return pd.date_range(start, periods=24 * days, freq="h").as_unit("ns")


def _market(days: int = 40, n: int = 3, seed: int = 7) -> tuple[pd.DatetimeIndex, np.ndarray,
                                                                  np.ndarray, np.ndarray]:
    idx = _hours(days)
    rng = np.random.default_rng(seed)
    btc = rng.normal(0, 0.006, len(idx))
    eth = 0.8 * btc + rng.normal(0, 0.004, len(idx))
    y = 1.3 * btc[:, None] + 0.4 * eth[:, None] + rng.normal(0, 0.005, (len(idx), n))
    return idx, y, btc, eth


def _pandas_window_beta(idx: pd.DatetimeIndex, y: np.ndarray, x: np.ndarray, days: int,
                        lags: int = 0) -> pd.DataFrame:
    """Independent reference: for each day, OLS slope(s) over the bars of the last `days` days."""
    frame = pd.DataFrame(y, index=idx)
    xs = pd.Series(x, index=idx)
    out = {}
    day_index = idx.normalize().unique()
    for d in day_index:
        lo = d - pd.Timedelta(days=days - 1)
        sel = (idx >= lo) & (idx < d + pd.Timedelta(days=1))
        row = []
        for j in frame.columns:
            cols = {"y": frame.loc[sel, j], **{f"x{k}": xs.shift(k)[sel] for k in range(lags + 1)}}
            df = pd.DataFrame(cols).dropna()
            if len(df) < 24:
                row.append(np.nan)
                continue
            var = df["x0"].var(ddof=0)
            cov = sum(((df["y"] - df["y"].mean()) * (df[f"x{k}"] - df[f"x{k}"].mean())).mean()
                      for k in range(lags + 1))
            row.append(cov / var)
        out[d] = row
    return pd.DataFrame.from_dict(out, orient="index")


def test_realized_beta_equals_pandas_window_ols() -> None:
    idx, y, btc, _ = _market(days=20)
    pid, starts = period_ids(idx.asi8)
    got = realized_beta(y, btc, pid, len(starts), window=5)
    ref = _pandas_window_beta(idx, y, btc, 5).to_numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-9)
    assert np.all(np.abs(got[4:] - 1.3 - 0.4 * 0.8) < 0.25)  # near the true beta


def test_dimson_lags_equal_the_sum_of_lagged_slopes() -> None:
    idx, y, btc, _ = _market(days=15)
    y[1:] += 0.5 * btc[:-1, None]  # alts follow BTC one hour late
    pid, starts = period_ids(idx.asi8)
    plain = realized_beta(y, btc, pid, len(starts), window=7)
    dimson = realized_beta(y, btc, pid, len(starts), window=7, lags=1)
    ref = _pandas_window_beta(idx, y, btc, 7, lags=1).to_numpy()
    np.testing.assert_allclose(dimson, ref, rtol=1e-9)
    assert np.nanmean(dimson - plain) == pytest.approx(0.5, abs=0.1)


def test_ewma_form_equals_weighted_moments_written_out() -> None:
    idx, y, btc, _ = _market(days=12, n=1)
    pid, starts = period_ids(idx.asi8)
    hl = 3.0
    got = realized_beta(y, btc, pid, len(starts), halflife=hl)
    day = 9
    age = day - pid[pid <= day]
    w = 0.5 ** (age / hl)
    xx, yy = btc[pid <= day], y[pid <= day, 0]
    mx, my = np.average(xx, weights=w), np.average(yy, weights=w)
    ref = np.sum(w * (xx - mx) * (yy - my)) / np.sum(w * (xx - mx) ** 2)
    assert got[day, 0] == pytest.approx(ref, rel=1e-9)


def test_realized_min_variance_equals_core_min_variance_on_each_window() -> None:
    idx, y, btc, eth = _market(days=20, n=2)
    pid, starts = period_ids(idx.asi8)
    h = np.column_stack([btc, eth])
    got = realized_min_variance(y, h, pid, len(starts), window=6, nonnegative=False)
    for d in (5, 12, 19):
        sel = (pid > d - 6) & (pid <= d)
        for j in range(2):
            ref = min_variance_weights(y[sel, j], h[sel])
            np.testing.assert_allclose(got[d, j], ref, rtol=1e-9)


def test_shrinkage_pulls_the_mix_toward_the_diagonal_solution() -> None:
    idx, y, btc, eth = _market(days=20, n=1)
    pid, starts = period_ids(idx.asi8)
    h = np.column_stack([btc, eth])
    full = realized_min_variance(y, h, pid, len(starts), window=10, shrink=1.0,
                                 nonnegative=False)
    sel = (pid > 9) & (pid <= 19)
    for k in range(2):  # δ = 1: each instrument's own beta
        xk = h[sel, k]
        ref = np.cov(y[sel, 0], xk, ddof=0)[0, 1] / np.var(xk)
        assert full[19, 0, k] == pytest.approx(ref, rel=1e-9)
    with pytest.raises(InputError, match="shrink"):
        realized_min_variance(y, h, pid, len(starts), window=10, shrink=1.5)


@settings(max_examples=25, deadline=None)
@given(cut_day=st.integers(min_value=5, max_value=18), seed=st.integers(0, 10_000))
def test_no_look_ahead(cut_day: int, seed: int) -> None:
    """Perturbing every bar after the end of day `cut_day` leaves rows ≤ cut_day unchanged."""
    idx, y, btc, eth = _market(days=20, n=2, seed=seed)
    pid, starts = period_ids(idx.asi8)
    h = np.column_stack([btc, eth])
    rng = np.random.default_rng(seed + 1)
    y2, h2 = y.copy(), h.copy()
    later = pid > cut_day
    y2[later] = rng.normal(0, 0.1, y2[later].shape)
    h2[later] = rng.normal(0, 0.1, h2[later].shape)
    for kw in ({"window": 4}, {"halflife": 2.0}):
        a = realized_beta(y, h[:, 0], pid, len(starts), lags=1, **kw)  # type: ignore[arg-type]
        b = realized_beta(y2, h2[:, 0], pid, len(starts), lags=1, **kw)  # type: ignore[arg-type]
        np.testing.assert_array_equal(a[: cut_day + 1], b[: cut_day + 1])
        m1 = realized_min_variance(y, h, pid, len(starts), **kw)  # type: ignore[arg-type]
        m2 = realized_min_variance(y2, h2, pid, len(starts), **kw)  # type: ignore[arg-type]
        np.testing.assert_array_equal(m1[: cut_day + 1], m2[: cut_day + 1])


def test_returns_only_across_consecutive_bars() -> None:
    idx = _hours(1)
    keep = np.ones(len(idx), bool)
    keep[[5, 6]] = False  # exchange downtime: two hours missing from the file
    t = idx[keep].asi8
    px = np.linspace(100, 123, len(t))
    r = consecutive_returns(px, t)
    assert np.isnan(r[0]) and np.isnan(r[5])  # row 5 is 07:00, after the gap
    ref = pd.Series(px, index=idx[keep]).pct_change()
    spaced = pd.Series(idx[keep]).diff().to_numpy() == np.timedelta64(1, "h")
    np.testing.assert_allclose(r[spaced], ref.to_numpy()[spaced], rtol=1e-12)
    assert np.isnan(r[~spaced]).all()
    bad = px.copy()
    bad[10] = 0.0
    r2 = consecutive_returns(bad, t)
    assert np.isnan(r2[10]) and np.isnan(r2[11])


def test_gap_drops_bars_not_windows() -> None:
    """A missing bar removes its returns only; the rest of the window still counts."""
    idx, y, btc, _ = _market(days=10, n=1)
    pid, starts = period_ids(idx.asi8)
    y_gap = y.copy()
    y_gap[100:103] = np.nan
    got = realized_beta(y_gap, btc, pid, len(starts), window=5)
    assert np.isfinite(got[4:]).all()
    mom = period_moments(y_gap, btc, pid, len(starts))
    assert mom.n[100 // 24, 0] == 24 - 3


def test_skip_listing_blanks_the_first_hours() -> None:
    idx = _hours(3)
    r = np.full((len(idx), 2), 0.01)
    r[:10, 1] = np.nan  # listed at 10:00
    out = skip_listing(r, idx.asi8, hours=24)
    assert np.isnan(out[:24, 0]).all() and np.isfinite(out[24:, 0]).all()
    assert np.isnan(out[:34, 1]).all() and np.isfinite(out[34:, 1]).all()
    assert np.isfinite(r[:10, 0]).all()  # input untouched


@settings(max_examples=30, deadline=None)
@given(scale=st.floats(0.1, 10.0), shift=st.floats(-0.01, 0.01), seed=st.integers(0, 1000))
def test_realized_beta_scales_with_the_asset_and_ignores_its_drift(
    scale: float, shift: float, seed: int
) -> None:
    """β(c·r_a + k) = c·β(r_a): covariances are linear in the asset, centred on the window."""
    idx, y, btc, _ = _market(days=8, n=1, seed=seed)
    pid, starts = period_ids(idx.asi8)
    base = realized_beta(y, btc, pid, len(starts), window=3)
    moved = realized_beta(scale * y + shift, btc, pid, len(starts), window=3)
    np.testing.assert_allclose(moved, scale * base, rtol=1e-7, atol=1e-10)
