"""Simple and portfolio returns, with hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from althedge.core.returns import portfolio_returns, simple_returns, value_weights
from althedge.errors import InputError


def test_simple_returns_hand_computed() -> None:
    r = simple_returns([100.0, 110.0, 99.0, 99.0])
    np.testing.assert_allclose(r, [0.10, -0.10, 0.0], atol=1e-15)


def test_simple_returns_pandas_keeps_labels() -> None:
    idx = pd.date_range("2024-01-01", periods=3, freq="D")
    frame = pd.DataFrame({"BTC": [50.0, 55.0, 44.0], "SOL": [10.0, 10.0, 12.5]}, index=idx)
    r = simple_returns(frame)
    assert isinstance(r, pd.DataFrame)
    assert list(r.columns) == ["BTC", "SOL"] and r.index.equals(idx[1:])
    np.testing.assert_allclose(r.to_numpy(), [[0.1, 0.0], [-0.2, 0.25]], atol=1e-15)
    s = simple_returns(frame["SOL"])
    assert isinstance(s, pd.Series) and s.name == "SOL"


def test_bad_prices_give_nan_not_minus_100_percent() -> None:
    r = simple_returns([100.0, 0.0, 50.0, np.nan, 60.0, 66.0])
    assert np.isnan(r[:4]).all()  # every return touching the 0 or the NaN
    assert r[4] == pytest.approx(0.1)


def test_portfolio_returns_weighted_sum() -> None:
    # 60% SOL (+10%), 40% ADA (−5%) → +4%
    r = np.array([[0.10, -0.05], [0.0, 0.02]])
    w = value_weights([600.0, 400.0])
    np.testing.assert_allclose(w, [0.6, 0.4])
    np.testing.assert_allclose(portfolio_returns(r, w), [0.04, 0.008], atol=1e-15)


def test_portfolio_returns_nan_handling_and_pandas() -> None:
    r = pd.DataFrame({"a": [0.1, np.nan], "b": [0.2, 0.3], "c": [np.nan, np.nan]})
    out = portfolio_returns(r, [0.5, 0.5, 0.0])  # zero-weight asset ignored
    assert isinstance(out, pd.Series)
    assert out.iloc[0] == pytest.approx(0.15)
    assert np.isnan(out.iloc[1])  # a held asset is missing that day


def test_bad_weights() -> None:
    with pytest.raises(InputError, match="weights"):
        portfolio_returns(np.zeros((3, 2)), [1.0])
    with pytest.raises(InputError, match="values_usd"):
        value_weights([0.0, 0.0])
    with pytest.raises(InputError, match="values_usd"):
        value_weights([-1.0, 2.0])
