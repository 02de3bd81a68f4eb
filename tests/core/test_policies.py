"""Hedge policies: parsing, no look-ahead, agreement with the core point estimators."""

from __future__ import annotations

import numpy as np
import pytest

from althedge.core.beta import class_default_beta, min_variance_weights, ols_beta
from althedge.core.policies import (
    AUTO_POLICY,
    parse_policy,
    rolling_beta_std_error,
    rolling_min_variance_weights,
    target_ratios,
)
from althedge.errors import InputError


def _returns(seed: int = 3, t: int = 300, n: int = 4) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    btc = rng.normal(0, 0.03, t)
    eth = 0.8 * btc + rng.normal(0, 0.02, t)
    y = 1.2 * btc[:, None] + 0.5 * eth[:, None] + rng.normal(0, 0.02, (t, n))
    btc[0] = eth[0] = np.nan
    y[0] = np.nan
    return y, {"BTC": btc, "ETH": eth}


@pytest.mark.parametrize(
    ("text", "kind", "name"),
    [
        ("none", "none", "none"),
        ("static:1.8", "static", "static:1.8"),
        ("static", "static", "static"),
        ("one-to-one", "one-to-one", "one-to-one"),
        ("rolling-ols", "rolling-ols", "rolling-ols:90"),
        ("rolling-ols:30", "rolling-ols", "rolling-ols:30"),
        ("EWMA:14", "ewma", "ewma:14"),
        ("downside", "downside", "downside:90"),
        ("shrunk:60", "shrunk", "shrunk:60"),
        ("multi", "multi", "multi:90"),
        ("robust:60", "robust", "robust:60"),
        ("conservative", "conservative", "conservative:90"),
    ],
)
def test_parse_policy(text: str, kind: str, name: str) -> None:
    spec = parse_policy(text)
    assert (spec.kind, spec.name) == (kind, name)


def test_auto_is_the_documented_winner() -> None:
    spec = parse_policy("auto")
    winner = parse_policy(AUTO_POLICY)
    assert spec.name == "auto" and spec.resolved_from == winner.name
    assert (spec.kind, spec.window, spec.halflife) == (winner.kind, winner.window, winner.halflife)


@pytest.mark.parametrize("bad", ["magic", "static:x", "static:-1", "rolling-ols:2", "ewma:0",
                                 "none:3", "auto:5", "rolling-ols:7.5"])
def test_bad_policies_are_input_errors(bad: str) -> None:
    with pytest.raises(InputError, match="policy"):
        parse_policy(bad)


@pytest.mark.parametrize(
    "name", ["rolling-ols:40", "ewma:10", "downside:40", "shrunk:40", "multi:40", "static:1.8",
             "robust:40", "conservative:40"]
)
def test_no_look_ahead(name: str) -> None:
    """Changing rows after t never changes the ratio decided at t."""
    y, h = _returns()
    spec = parse_policy(name)
    base = target_ratios(spec, y, h)
    cut = 200
    y2 = y.copy()
    h2 = {k: v.copy() for k, v in h.items()}
    rng = np.random.default_rng(99)
    y2[cut + 1 :] = rng.normal(0, 0.2, y2[cut + 1 :].shape)
    h2["BTC"][cut + 1 :] = rng.normal(0, 0.2, h2["BTC"][cut + 1 :].shape)
    h2["ETH"][cut + 1 :] = rng.normal(0, 0.2, h2["ETH"][cut + 1 :].shape)
    moved = target_ratios(spec, y2, h2)
    for asset, ratio in base.ratios.items():
        np.testing.assert_allclose(ratio[: cut + 1], moved.ratios[asset][: cut + 1],
                                   rtol=1e-9, atol=1e-12, equal_nan=True)
        assert np.isfinite(ratio[cut]).all()
        assert (ratio[np.isfinite(ratio)] >= 0).all()


def test_rolling_ols_targets_and_std_error_match_core_ols() -> None:
    y, h = _returns()
    w = 50
    res = target_ratios(parse_policy(f"rolling-ols:{w}"), y, h, with_std_error=True)
    assert res.std_error is not None
    for t in (w, 120, 299):
        for j in range(y.shape[1]):
            est = ols_beta(y[t - w + 1 : t + 1, j], h["BTC"][t - w + 1 : t + 1])
            assert res.ratios["BTC"][t, j] == pytest.approx(max(est.beta, 0.0), rel=1e-9)
            assert res.std_error[t, j] == pytest.approx(est.std_error, rel=1e-7)
    # the first window includes row 0 (NaN) → no estimate
    assert np.isnan(res.ratios["BTC"][:w]).all()
    se = rolling_beta_std_error(y[:, 0], h["BTC"], w)
    assert se.shape == (y.shape[0],)


def test_rolling_min_variance_matches_core_window_by_window() -> None:
    y, h = _returns()
    w = 60
    hh = np.column_stack([h["BTC"], h["ETH"]])
    b = rolling_min_variance_weights(y, hh, w)
    for t in (w, 150, 299):
        for j in range(y.shape[1]):
            ref = min_variance_weights(y[t - w + 1 : t + 1, j], hh[t - w + 1 : t + 1])
            np.testing.assert_allclose(b[t, j], ref, rtol=1e-8, atol=1e-12)
    assert np.isnan(b[: w]).all()


def test_shorts_only_minimum_variance_point_and_rolling_agree() -> None:
    # portfolios that load negatively on ETH (given BTC) on part of the sample: the free
    # minimum-variance mix wants a long ETH leg there
    rng = np.random.default_rng(11)
    t, w = 400, 60
    btc = rng.normal(0, 0.03, t)
    eth = 0.8 * btc + rng.normal(0, 0.02, t)
    load = np.where(np.arange(t) < 200, 0.6, -0.4)
    y = (1.5 * btc + load * eth)[:, None] + rng.normal(0, 0.01, (t, 3)) * [1, 2, 3]
    hh = np.column_stack([btc, eth])
    free = min_variance_weights(y[300:360, 0], hh[300:360])
    assert free[1] < 0 < free[0]
    only = min_variance_weights(y[300:360, 0], hh[300:360], nonnegative=True)
    # ETH dropped; BTC at its own OLS beta — the constrained optimum for two instruments
    assert only[1] == 0.0
    assert only[0] == pytest.approx(ols_beta(y[300:360, 0], btc[300:360]).beta, rel=1e-12)
    # an all-positive mix is left as it is
    np.testing.assert_array_equal(
        min_variance_weights(y[:60, 0], hh[:60], nonnegative=True),
        min_variance_weights(y[:60, 0], hh[:60]),
    )
    targets = target_ratios(parse_policy(f"multi:{w}"), y, {"BTC": btc, "ETH": eth})
    assert any("negative" in n for n in targets.notes)
    for row in (w - 1, 150, 230, 300, 399):
        for j in range(3):
            ref = min_variance_weights(y[row - w + 1 : row + 1, j], hh[row - w + 1 : row + 1],
                                       nonnegative=True)
            got = [targets.ratios["BTC"][row, j], targets.ratios["ETH"][row, j]]
            np.testing.assert_allclose(got, ref, rtol=1e-8, atol=1e-12)


def test_static_class_table_is_value_weighted() -> None:
    y, h = _returns(n=1)
    t = y.shape[0]
    weights = np.tile([0.25, 0.75], (t, 1))
    res = target_ratios(parse_policy("static"), y, h, asset_weights=weights,
                        asset_classes=["l1", "lowcap"])
    want = 0.25 * class_default_beta("l1") + 0.75 * class_default_beta("lowcap")
    np.testing.assert_allclose(res.ratios["BTC"], want)
    assert res.assumed
    with pytest.raises(InputError, match="class"):
        target_ratios(parse_policy("static"), y, h, asset_weights=weights,
                      asset_classes=["l1", None])


def test_shrunk_pulls_betas_toward_the_cross_section_mean() -> None:
    y, h = _returns(n=6)
    w = 40
    raw = target_ratios(parse_policy(f"rolling-ols:{w}"), y, h).ratios["BTC"]
    shr = target_ratios(parse_policy(f"shrunk:{w}"), y, h).ratios["BTC"]
    rows = slice(w, None)
    spread_raw = np.nanstd(raw[rows], axis=1)
    spread_shr = np.nanstd(shr[rows], axis=1)
    assert (spread_shr <= spread_raw + 1e-12).all()
    assert (spread_shr < spread_raw).mean() > 0.9
