"""Beta estimators against independent numpy/pandas computations, on synthetic and real data.

Independent references: ``np.polyfit`` / ``np.linalg.lstsq`` (OLS, weighted LS),
``np.corrcoef``, pandas ``rolling().cov()/var()`` and ``ewm().cov()/var()``.
Real data: /work/shared/data/daily (Yahoo Finance closes, see its README).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from althedge import rolling_beta as public_rolling_beta
from althedge.core.beta import (
    CLASS_DEFAULT_BETAS,
    BetaUnavailableError,
    InsufficientHistoryError,
    class_default_beta,
    conservative_beta,
    downside_beta,
    estimate_beta,
    ewma_beta,
    ewma_lambda,
    min_variance_weights,
    ols_beta,
    robust_beta,
    rolling_beta,
    rolling_downside_beta,
    rolling_ewma_beta,
    shrunk_betas,
)
from althedge.core.returns import simple_returns
from althedge.errors import InputError


def synthetic(t: int = 400, n: int = 3, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_t(4, t) * 0.03 + 0.001
    betas = np.linspace(0.8, 2.5, n)
    y = x[:, None] * betas + rng.normal(0.0005, 0.02, (t, n))
    return y, x


def lstsq_fit(y: np.ndarray, x: np.ndarray, w: np.ndarray | None = None) -> tuple[float, float]:
    """(beta, alpha) of y on (1, x) by numpy least squares (weighted when w is given)."""
    a = np.column_stack([np.ones_like(x), x])
    if w is not None:
        s = np.sqrt(w)
        a, y = a * s[:, None], y * s
    coef = np.linalg.lstsq(a, y, rcond=None)[0]
    return float(coef[1]), float(coef[0])


def load_returns(shared_data: Path, symbols: list[str]) -> pd.DataFrame:
    closes = {
        sym: pd.read_csv(
            shared_data / "daily" / f"{sym}-USD_1d.csv", index_col="datetime", parse_dates=True
        )["close"]
        for sym in symbols
    }
    frame = pd.DataFrame(closes).dropna()
    return simple_returns(frame)


# ------------------------------------------------------------------------------- OLS


def test_ols_matches_numpy_lstsq_and_textbook_statistics() -> None:
    y, x = synthetic()
    est = ols_beta(y[:, 1], x)
    beta, alpha = lstsq_fit(y[:, 1], x)
    assert est.beta == pytest.approx(beta, abs=1e-12)
    assert est.alpha == pytest.approx(alpha, abs=1e-12)
    assert est.correlation == pytest.approx(np.corrcoef(x, y[:, 1])[0, 1], abs=1e-12)
    assert est.r_squared == pytest.approx(est.correlation**2, abs=1e-15)
    # standard error: sqrt(s² · [(XᵀX)⁻¹]_11), s² = SSR/(n − 2)
    a = np.column_stack([np.ones_like(x), x])
    resid = y[:, 1] - a @ np.array([alpha, beta])
    s2 = resid @ resid / (x.size - 2)
    se = np.sqrt(s2 * np.linalg.inv(a.T @ a)[1, 1])
    assert est.std_error == pytest.approx(se, rel=1e-10)
    assert est.observations == x.size
    assert est.method == "ols"


def test_ols_on_real_sol_vs_btc_last_90_days(shared_data: Path) -> None:
    r = load_returns(shared_data, ["SOL", "BTC"]).iloc[-90:]
    assert len(r) == 90
    est = ols_beta(r["SOL"], r["BTC"])
    slope, intercept = np.polyfit(r["BTC"].to_numpy(), r["SOL"].to_numpy(), 1)
    assert est.beta == pytest.approx(slope, abs=1e-9)
    assert est.alpha == pytest.approx(intercept, abs=1e-9)
    assert est.observations == 90
    assert 0.5 < est.beta < 3.0  # SOL is a high-beta L1 in this period
    # and the rolling estimator's last row is the same number
    roll = rolling_beta(r["SOL"], r["BTC"], 90)
    assert roll.iloc[-1] == pytest.approx(slope, abs=1e-9)


def test_nan_rows_are_dropped_pairwise() -> None:
    y, x = synthetic()
    y1 = y[:, 0].copy()
    x1 = x.copy()
    y1[[3, 50]] = np.nan
    x1[[10, 50, 77]] = np.nan
    keep = np.isfinite(y1) & np.isfinite(x1)
    est = ols_beta(y1, x1)
    assert est.observations == int(keep.sum()) == x.size - 4
    assert est.beta == pytest.approx(lstsq_fit(y1[keep], x1[keep])[0], abs=1e-12)


def test_too_few_observations_and_flat_hedge_raise() -> None:
    with pytest.raises(InsufficientHistoryError, match="at least 3") as info:
        ols_beta([0.01, 0.02], [0.01, np.nan])
    assert info.value.observations == 1 and info.value.required == 3
    assert isinstance(info.value, InputError)  # exit code 2 in the CLI
    with pytest.raises(InsufficientHistoryError):
        ols_beta(np.ones(50), np.ones(50), min_observations=60)
    with pytest.raises(BetaUnavailableError, match="zero variance"):
        ols_beta([0.01, 0.02, 0.03, 0.0], [0.01, 0.01, 0.01, 0.01])
    with pytest.raises(InputError, match="length"):
        ols_beta([0.01, 0.02, 0.03], [0.01, 0.02])


@settings(max_examples=60, deadline=None)
@given(
    a=st.floats(min_value=-5, max_value=5),
    c=st.floats(min_value=-0.01, max_value=0.01),
    seed=st.integers(0, 1000),
)
def test_beta_of_an_exact_linear_function_is_its_slope(a: float, c: float, seed: int) -> None:
    x = np.random.default_rng(seed).normal(0, 0.03, 60)
    est = ols_beta(a * x + c, x)
    assert est.beta == pytest.approx(a, abs=1e-9)
    assert est.alpha == pytest.approx(c, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(k=st.floats(min_value=0.01, max_value=100), seed=st.integers(0, 1000))
def test_scaling_invariance(k: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.03, 80)
    y = 1.4 * x + rng.normal(0, 0.02, 80)
    base = ols_beta(y, x)
    assert ols_beta(k * y, x).beta == pytest.approx(k * base.beta, rel=1e-9)
    assert ols_beta(y, k * x).beta == pytest.approx(base.beta / k, rel=1e-9)
    assert ols_beta(k * y, x).correlation == pytest.approx(base.correlation, abs=1e-12)


# ----------------------------------------------------------------------- other estimators


def test_ewma_matches_weighted_least_squares_and_pandas() -> None:
    y, x = synthetic(300)
    lam = 0.94
    est = ewma_beta(y[:, 2], x, lam)
    w = lam ** np.arange(x.size - 1, -1, -1, dtype=float)  # most recent row weight 1
    beta, alpha = lstsq_fit(y[:, 2], x, w)
    assert est.beta == pytest.approx(beta, abs=1e-12)
    assert est.alpha == pytest.approx(alpha, abs=1e-12)
    ys, xs = pd.Series(y[:, 2]), pd.Series(x)
    ref = ys.ewm(alpha=1 - lam).cov(xs) / xs.ewm(alpha=1 - lam).var()
    assert est.beta == pytest.approx(ref.iloc[-1], abs=1e-9)
    assert est.method == "ewma"


def test_ewma_halflife() -> None:
    assert ewma_lambda(halflife=11.2) == pytest.approx(0.5 ** (1 / 11.2))
    assert ewma_lambda() == 0.94
    y, x = synthetic(200)
    a = ewma_beta(y[:, 0], x, halflife=20)
    b = ewma_beta(y[:, 0], x, 0.5 ** (1 / 20))
    assert a.beta == pytest.approx(b.beta, abs=1e-14)
    with pytest.raises(InputError, match="halflife"):
        ewma_beta(y[:, 0], x, halflife=0)
    with pytest.raises(InputError, match="lam"):
        ewma_beta(y[:, 0], x, 1.0)


def test_downside_beta_is_ols_on_rows_below_the_hedge_mean() -> None:
    y, x = synthetic(500)
    est = downside_beta(y[:, 1], x)
    down = x < x.mean()
    slope = np.polyfit(x[down], y[down, 1], 1)[0]
    assert est.beta == pytest.approx(slope, abs=1e-10)
    assert est.observations == int(down.sum())


def test_downside_differs_when_crashes_are_steeper() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(0, 0.03, 2000)
    y = np.where(x < 0, 2.5 * x, 1.0 * x) + rng.normal(0, 0.005, 2000)
    assert downside_beta(y, x).beta > ols_beta(y, x).beta + 0.3
    cons = conservative_beta(y, x)
    assert cons.beta == downside_beta(y, x).beta
    assert cons.method == "conservative"
    # the other way round the conservative beta is the OLS one
    y2 = np.where(x < 0, 0.5 * x, 2.0 * x)
    assert conservative_beta(y2, x).beta == ols_beta(y2, x).beta


def test_robust_beta_resists_outliers_and_is_a_huber_fixed_point() -> None:
    rng = np.random.default_rng(11)
    x = rng.normal(0, 0.03, 300)
    y = 1.5 * x + rng.normal(0, 0.01, 300)
    y[:6] += 0.8  # six absurd prints (e.g. a bad tick)
    ols = ols_beta(y, x)
    rob = robust_beta(y, x)
    assert abs(rob.beta - 1.5) < 0.1
    assert abs(rob.beta - 1.5) < abs(ols.beta - 1.5) / 2
    # independent check: Huber weights from the final residuals reproduce the fit
    e = y - rob.alpha - rob.beta * x
    s = np.median(np.abs(e - np.median(e))) / 0.6744897501960817
    u = np.abs(e) / (1.345 * s)
    w = np.where(u <= 1, 1.0, 1.0 / u)
    assert lstsq_fit(y, x, w)[0] == pytest.approx(rob.beta, abs=1e-8)


def test_shrunk_betas_hand_computed() -> None:
    # mean 2, cross-section variance 1: w = 1/(1 + se²)
    out = shrunk_betas([1.0, 2.0, 3.0], [0.1, 0.5, 1.0])
    w1 = 1 / 1.01
    assert out[0] == pytest.approx(w1 * 1 + (1 - w1) * 2, abs=1e-15)
    assert out[1] == pytest.approx(2.0)
    assert out[2] == pytest.approx(0.5 * 3 + 0.5 * 2)
    # toward a given prior mean (not toward 1 unless asked)
    out2 = shrunk_betas([1.0, 3.0], [1.0, 1.0], prior_mean=1.0, prior_variance=1.0)
    assert list(out2) == pytest.approx([1.0, 2.0])
    # NaN betas pass through and stay out of the prior
    out3 = shrunk_betas([1.0, np.nan, 3.0], [0.0, 1.0, 0.0])
    assert out3[0] == 1.0 and np.isnan(out3[1]) and out3[2] == 3.0
    with pytest.raises(InputError, match="std_errors"):
        shrunk_betas([1.0, 2.0], [0.1])


def test_min_variance_weights_equal_multiple_regression_slopes() -> None:
    rng = np.random.default_rng(5)
    btc = rng.normal(0, 0.03, 500)
    eth = 0.8 * btc + rng.normal(0, 0.02, 500)
    port = 0.9 * btc + 0.6 * eth + rng.normal(0, 0.01, 500)
    b = min_variance_weights(port, np.column_stack([btc, eth]))
    a = np.column_stack([np.ones(500), btc, eth])
    ref = np.linalg.lstsq(a, port, rcond=None)[0][1:]
    np.testing.assert_allclose(b, ref, atol=1e-12)
    # one instrument: the OLS beta
    assert min_variance_weights(port, btc)[0] == pytest.approx(ols_beta(port, btc).beta)
    with pytest.raises(BetaUnavailableError, match="collinear"):
        min_variance_weights(port, np.column_stack([btc, 2 * btc]))


def test_class_defaults() -> None:
    assert CLASS_DEFAULT_BETAS["l1"] == (1.2, 1.8)
    assert class_default_beta("l1") == 1.5
    assert class_default_beta("DeFi") == 2.0
    assert class_default_beta("lowcap") == 3.0
    for cls, (lo, hi) in CLASS_DEFAULT_BETAS.items():
        assert lo <= class_default_beta(cls) <= hi
    with pytest.raises(InputError, match="class"):
        class_default_beta("meme")


def test_estimate_beta_dispatch() -> None:
    y, x = synthetic()
    assert estimate_beta(y[:, 0], x, "downside").beta == downside_beta(y[:, 0], x).beta
    assert estimate_beta(y[:, 0], x, "ewma", halflife=10).method == "ewma"
    with pytest.raises(InputError, match="beta_method"):
        estimate_beta(y[:, 0], x, "magic")


# ---------------------------------------------------------------------------- rolling


@pytest.mark.parametrize(
    ("window", "rtol"),
    # blocked paths (b = window ≤ 32, b = 30 | 90, b = 32 | 128) and the fallback (97 is
    # prime); two-row windows give ill-conditioned betas in the hundreds, where pandas
    # itself is only good to ~1e-11 relative
    [(2, 1e-9), (20, 0), (30, 0), (90, 0), (97, 0), (128, 0)],
)
def test_rolling_beta_matches_pandas(window: int, rtol: float) -> None:
    y, x = synthetic(700, 5)
    y[100, 2] = np.nan
    x[400] = np.nan
    frame, hedge = pd.DataFrame(y, columns=list("abcde")), pd.Series(x)
    ours = rolling_beta(frame, hedge, window)
    ref = frame.rolling(window).cov(hedge).div(hedge.rolling(window).var(), axis=0)
    assert isinstance(ours, pd.DataFrame)
    assert list(ours.columns) == list("abcde") and ours.index.equals(frame.index)
    np.testing.assert_array_equal(ours.isna().to_numpy(), ref.isna().to_numpy())
    np.testing.assert_allclose(ours.to_numpy(), ref.to_numpy(), atol=1e-9, rtol=rtol)
    assert ours.iloc[: window - 1].isna().all().all()


def test_rolling_beta_arrays_1d_and_public_name() -> None:
    y, x = synthetic(300, 1)
    out = public_rolling_beta(y[:, 0], x, 60)
    assert isinstance(out, np.ndarray) and out.shape == (300,)
    for t in (59, 150, 299):
        assert out[t] == pytest.approx(ols_beta(y[t - 59 : t + 1, 0], x[t - 59 : t + 1]).beta)
    assert np.isnan(out[:59]).all()
    with pytest.raises(InputError, match="window"):
        rolling_beta(y[:, 0], x, 1)


def test_rolling_beta_has_no_look_ahead() -> None:
    y, x = synthetic(400, 2)
    before = rolling_beta(y, x, 50)
    y2, x2 = y.copy(), x.copy()
    y2[300:] = 9.0
    x2[300:] = -3.0
    after = rolling_beta(y2, x2, 50)
    np.testing.assert_array_equal(before[:300], after[:300])


def test_rolling_beta_flat_hedge_window_is_nan() -> None:
    x = np.r_[np.full(40, 0.01), np.random.default_rng(1).normal(0, 0.02, 60)]
    y = 2 * x
    out = rolling_beta(y, x, 20)
    assert np.isnan(out[:40]).all()
    assert out[60:] == pytest.approx(2.0)


def test_rolling_beta_real_data_matches_pandas(shared_data: Path) -> None:
    r = load_returns(shared_data, ["BTC", "ETH", "SOL", "ADA", "DOGE"])
    alts = r[["ETH", "SOL", "ADA", "DOGE"]]
    ours = rolling_beta(alts, r["BTC"], 90)
    ref = alts.rolling(90).cov(r["BTC"]).div(r["BTC"].rolling(90).var(), axis=0)
    np.testing.assert_allclose(ours.to_numpy(), ref.to_numpy(), atol=1e-9, rtol=0)


def pandas_rolling_beta(y: np.ndarray, x: np.ndarray, window: int) -> np.ndarray:
    frame, hedge = pd.DataFrame(y), pd.Series(x)
    ref = frame.rolling(window).cov(hedge).div(hedge.rolling(window).var(), axis=0)
    return np.asarray(ref.to_numpy(), dtype=np.float64)


@pytest.mark.parametrize(
    ("t", "window"),
    # block sizes b = 1 (17, 97: prime), b = window (5, 6), b = 8 (16), b = 6 (90, 720);
    # lengths that are not multiples of the block or the window, and shorter than 2 windows
    [(700, 17), (701, 97), (333, 5), (250, 6), (401, 16), (1000, 90), (1500, 720), (100, 90)],
)
def test_rolling_beta_matches_pandas_on_odd_shapes_and_missing_data(t: int, window: int) -> None:
    rng = np.random.default_rng(t + window)
    x = rng.standard_t(4, t) * 0.03 + 0.002
    y = x[:, None] * np.linspace(0.5, 3.0, 7) + rng.normal(0.001, 0.02, (t, 7))
    y[: t // 3, 1] = np.nan  # listed later
    y[t // 2, 2] = np.nan
    y[t // 2 + 3, 2] = np.nan  # two gaps closer than a window: one merged run
    y[-1, 3] = np.nan  # the last row
    y[: t // 2 : 7, 4] = np.nan  # many short gaps
    x[(2 * t) // 3] = np.nan  # the hedge missing: every column
    ours = rolling_beta(y, x, window)
    ref = pandas_rolling_beta(y, x, window)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
    np.testing.assert_allclose(ours, ref, atol=1e-9, rtol=0)
    assert np.isfinite(ours[window - 1 :, 0][: (2 * t) // 3 - window + 1]).all()


def test_rolling_beta_infinite_returns_blank_their_windows_like_nan() -> None:
    y, x = synthetic(300, 3)
    y_inf, y_nan = y.copy(), y.copy()
    y_inf[100, 1], y_nan[100, 1] = np.inf, np.nan
    y_inf[200, 2], y_nan[200, 2] = -np.inf, np.nan
    ours = rolling_beta(y_inf, x, 30)
    np.testing.assert_array_equal(ours, rolling_beta(y_nan, x, 30))
    assert np.isnan(ours[100:130, 1]).all() and np.isfinite(ours[130:, 1]).all()
    np.testing.assert_allclose(ours, pandas_rolling_beta(y_nan, x, 30), atol=1e-9, rtol=0)


def test_rolling_beta_many_scattered_gaps_match_pandas() -> None:
    # more gaps than the run-by-run blanking handles: the window-count path
    rng = np.random.default_rng(3)
    y, x = synthetic(3000, 40)
    y[rng.random(y.shape) < 0.1] = np.nan
    ours = rolling_beta(y, x, 8)
    ref = pandas_rolling_beta(y, x, 8)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
    np.testing.assert_allclose(ours, ref, atol=1e-9, rtol=0)


def test_rolling_beta_degenerate_shapes() -> None:
    y, x = synthetic(120, 3)
    assert rolling_beta(np.empty((120, 0)), x, 10).shape == (120, 0)
    assert np.isnan(rolling_beta(y[:9], x[:9], 10)).all()  # shorter than the window
    exact = rolling_beta(y[:10], x[:10], 10)  # exactly one window
    assert np.isnan(exact[:9]).all()
    assert exact[9, 0] == pytest.approx(ols_beta(y[:10, 0], x[:10]).beta, abs=1e-12)
    y[:, 1] = np.nan
    out = rolling_beta(y, x, 30)
    assert np.isnan(out[:, 1]).all() and np.isfinite(out[29:, [0, 2]]).all()
    assert np.isnan(rolling_beta(y, np.full(120, np.nan), 30)).all()


def test_rolling_beta_memory_layouts_agree() -> None:
    y, x = synthetic(900, 6)
    y[50:80, 2] = np.nan
    c_order = rolling_beta(y, x, 90)
    f_order = rolling_beta(np.asfortranarray(y), x, 90)
    strided = rolling_beta(np.repeat(y, 2, axis=1)[:, ::2], x, 90)  # neither C nor F
    frame = rolling_beta(pd.DataFrame(y), pd.Series(x), 90)
    for other in (f_order, strided, frame.to_numpy()):
        np.testing.assert_array_equal(np.isnan(other), np.isnan(c_order))
        np.testing.assert_allclose(other, c_order, atol=1e-12, rtol=0)


@pytest.mark.parametrize("window", [16, 17, 48, 90])
def test_rolling_beta_has_no_look_ahead_for_every_block_layout(window: int) -> None:
    y, x = synthetic(611, 3)
    y[30, 1] = np.nan
    before = rolling_beta(y, x, window)
    y2, x2 = y.copy(), x.copy()
    y2[400:] = 9.0
    y2[500, 2] = np.nan
    x2[400:] = -3.0
    after = rolling_beta(y2, x2, window)
    np.testing.assert_array_equal(before[:400], after[:400])


def test_rolling_beta_error_does_not_grow_over_a_long_series() -> None:
    # 200,000 rows of returns with a large common drift: the window sums are carried
    # between blocks, restarted from exact sums every window, so late rows stay as exact
    # as early ones
    rng = np.random.default_rng(11)
    t = 200_000
    x = rng.normal(0.05, 0.01, t)
    y = 1.7 * x[:, None] + rng.normal(0.03, 0.01, (t, 2))
    ours = rolling_beta(y, x, 90)
    for s in (0, t // 2, t - 90):
        xs, ys = x[s : s + 90], y[s : s + 90]
        xd = xs - xs.mean()
        exact = (xd @ (ys - ys.mean(axis=0))) / (xd @ xd)
        np.testing.assert_allclose(ours[s + 89], exact, rtol=0, atol=1e-10)


def test_rolling_ewma_beta_matches_pandas_and_point_estimate() -> None:
    y, x = synthetic(500, 3)
    frame, hedge = pd.DataFrame(y), pd.Series(x)
    ours = rolling_ewma_beta(frame, hedge, halflife=15)
    ref = frame.ewm(halflife=15).cov(hedge).div(hedge.ewm(halflife=15).var(), axis=0)
    np.testing.assert_allclose(ours.to_numpy()[1:], ref.to_numpy()[1:], rtol=1e-9, atol=1e-9)
    assert ours.iloc[-1, 1] == pytest.approx(ewma_beta(y[:, 1], x, halflife=15).beta, abs=1e-9)
    warm = rolling_ewma_beta(y[:, 0], x, halflife=15, min_periods=30)
    assert np.isnan(warm[:29]).all() and np.isfinite(warm[29:]).all()


def test_rolling_downside_beta_matches_point_estimate_per_window() -> None:
    y, x = synthetic(300, 2)
    y[120, 1] = np.nan
    out = rolling_downside_beta(y, x, 60)
    assert np.isnan(out[:59]).all()
    for t in (59, 100, 150, 299):
        for j in (0, 1):
            sl = slice(t - 59, t + 1)
            if np.isnan(y[sl, j]).any():
                assert np.isnan(out[t, j])
            else:
                assert out[t, j] == pytest.approx(downside_beta(y[sl, j], x[sl]).beta, abs=1e-9)
    assert np.isnan(out[150, 1])  # the window holding the NaN


def test_rolling_downside_beta_band_product_matches_per_window_and_few_column_path() -> None:
    # ≥ 16 columns take the BLAS band product, fewer the windowed einsum: both must give
    # the point estimate of every window, and the same numbers as each other
    y, x = synthetic(400, 20)
    y[210, 7] = np.nan
    y[5, 3] = np.inf
    wide = rolling_downside_beta(y, x, 60)
    narrow = np.hstack([rolling_downside_beta(y[:, j : j + 4], x, 60) for j in range(0, 20, 4)])
    np.testing.assert_array_equal(np.isnan(wide), np.isnan(narrow))
    np.testing.assert_allclose(wide, narrow, rtol=1e-12, atol=1e-12)
    for t in (59, 64, 209, 260, 399):
        sl = slice(t - 59, t + 1)
        for j in (0, 3, 7, 19):
            if not np.isfinite(y[sl, j]).all():
                assert np.isnan(wide[t, j])
            else:
                assert wide[t, j] == pytest.approx(downside_beta(y[sl, j], x[sl]).beta, abs=1e-9)
    assert np.isnan(wide[210:270, 7]).all() and np.isfinite(wide[270:, 7]).all()
