"""The estimator registry: one table behind beta_method, the backtest policies and the plan."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from althedge.config import BETA_METHOD_NAMES, parse_portfolio
from althedge.core.beta import BETA_METHODS, robust_beta, rolling_robust_beta
from althedge.core.estimators import ESTIMATOR_NAMES, ESTIMATORS, get_estimator, policy_estimator
from althedge.core.policies import POLICY_KINDS, parse_policy, target_ratios
from althedge.errors import ConfigError, InputError


def _data(seed: int = 5, t: int = 260, n: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_t(3, t) * 0.03
    y = 1.4 * x[:, None] + rng.standard_t(3, (t, n)) * 0.025
    return y, x


def test_every_name_list_derives_from_the_registry() -> None:
    assert ESTIMATOR_NAMES == BETA_METHODS == BETA_METHOD_NAMES
    for e in ESTIMATORS:
        assert e.policy in POLICY_KINDS
        assert policy_estimator(e.policy) is e


@pytest.mark.parametrize("name", ESTIMATOR_NAMES)
def test_every_beta_method_can_be_planned_and_backtested(name: str) -> None:
    cfg = parse_portfolio({"holdings": [{"asset": "SOL", "amount": 1}],
                           "hedge": {"beta_method": name.upper()}})
    assert cfg.hedge.beta_method == name
    est = get_estimator(name)
    spec = parse_policy(est.policy)
    y, x = _data()
    ratios = target_ratios(spec, y, {"BTC": x}).ratios["BTC"]
    assert ratios.shape == y.shape and np.isfinite(ratios[-1]).all()


@pytest.mark.parametrize("name", ["ols", "downside", "robust", "conservative"])
def test_rolling_form_equals_point_estimator_window_by_window(name: str) -> None:
    est = get_estimator(name)
    y, x = _data()
    w = 60
    roll = est.rolling(y, x, w)
    assert np.isnan(roll[: w - 1]).all()
    for t in (w - 1, 150, len(x) - 1):
        for j in range(y.shape[1]):
            point = est.point(y[t - w + 1 : t + 1, j], x[t - w + 1 : t + 1]).beta
            assert roll[t, j] == pytest.approx(point, rel=1e-9, abs=1e-12)


def test_ewma_rolling_last_row_is_the_point_estimate() -> None:
    est = get_estimator("ewma")
    y, x = _data()
    h = 20.0
    lam = 0.5 ** (1 / h)
    roll = est.rolling(y, x, h)
    assert np.isnan(roll[:40]).all()  # two half-lives of warm-up
    # independent: pandas' exponentially weighted moments
    xs = pd.Series(x)
    for j in range(y.shape[1]):
        ys = pd.Series(y[:, j])
        pandas_beta = ys.ewm(halflife=h).cov(xs) / xs.ewm(halflife=h).var()
        assert roll[-1, j] == pytest.approx(pandas_beta.iloc[-1], rel=1e-9)
        assert roll[-1, j] == pytest.approx(est.point(y[:, j], x, lam=lam).beta, rel=1e-9)


def test_rolling_robust_matches_robust_beta_and_skips_windows_with_nan() -> None:
    y, x = _data(seed=8, n=2)
    y[100, 1] = np.nan
    w = 40
    roll = np.asarray(rolling_robust_beta(y, x, w))
    assert np.isnan(roll[100 : 100 + w, 1]).all() and np.isfinite(roll[100 + w, 1])
    assert np.isfinite(roll[100 : 100 + w, 0]).all()
    t = 100 + w
    assert roll[t, 1] == pytest.approx(robust_beta(y[t - w + 1 : t + 1, 1],
                                                   x[t - w + 1 : t + 1]).beta, rel=1e-9)
    # an outlier moves OLS much more than the Huber estimate
    y_out = y[:, 0].copy()
    y_out[200] = 2.0
    ols = get_estimator("ols").rolling(y_out[:, None], x, w)[220, 0]
    hub = np.asarray(rolling_robust_beta(y_out, x, w))[220]
    clean = np.asarray(rolling_robust_beta(y[:, 0], x, w))[220]
    assert abs(hub - clean) < abs(ols - clean)


def test_unknown_method_names_the_registry() -> None:
    with pytest.raises(InputError, match="robust"):
        get_estimator("magic")
    with pytest.raises(ConfigError, match=r"beta_method.*conservative"):
        parse_portfolio({"holdings": [{"asset": "SOL", "amount": 1}],
                         "hedge": {"beta_method": "magic"}})
