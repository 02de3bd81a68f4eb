"""Hedge triggers: each rule against an independent pandas / plain-loop computation,
causality (changing the future never moves a past decision) and hysteresis."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from althedge.core.triggers import (
    TriggerInputs,
    calendar_state,
    cross_state,
    drawdown_state,
    evaluate,
    funding_state,
    hysteresis,
    parse_expression,
    parse_trigger,
    realised_vol,
    trend_state,
    vol_ratio_state,
    vol_state,
)
from althedge.errors import InputError


def _walk(n: int = 600, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.03, n)))


def _machine(on: pd.Series, off: pd.Series, hold: int) -> np.ndarray:
    """Independent reference: the hysteresis rule written as a plain loop over pandas rows."""
    state, last, out = False, None, []
    for i, (a, b) in enumerate(zip(on.fillna(False), off.fillna(False), strict=True)):
        free = last is None or i - last >= hold
        if free and not state and a and not b:
            state, last = True, i
        elif free and state and b and not a:
            state, last = False, i
        out.append(state)
    return np.array(out)


def test_trend_matches_pandas_rolling_mean_with_band() -> None:
    p = pd.Series(_walk())
    ma = p.rolling(50).mean()
    expected = _machine(p < ma * 0.98, p > ma * 1.02, hold=5)
    got = trend_state(p.to_numpy(), 50, band=0.02, min_hold=5)
    np.testing.assert_array_equal(got, expected)
    assert got[:49].sum() == 0  # no average yet: off
    assert 0 < got.mean() < 1


def test_cross_matches_pandas() -> None:
    p = pd.Series(_walk(seed=3))
    f, s = p.rolling(20).mean(), p.rolling(60).mean()
    np.testing.assert_array_equal(cross_state(p.to_numpy(), 20, 60), _machine(f < s, f > s, 0))


def test_drawdown_trigger_hand_example() -> None:
    # high 100 → 89 (−11 %: on at −10 %) → low 80 → 84 (+5 % rebound: off) → new high 84
    v = np.array([100, 95, 89, 85, 80, 83, 84, 90, 76, 70])
    got = drawdown_state(v, 0.10, 0.05)
    # after the rebound the high restarts at 84; 90 raises it; 76 is −15.6 %: on again
    assert got.tolist() == [False, False, True, True, True, True, False, False, True, True]


def test_drawdown_trigger_matches_a_pandas_loop() -> None:
    v = pd.Series(_walk(seed=11))
    expected, state, hi, lo, last = [], False, -np.inf, np.inf, -99
    for i, x in v.items():
        if state:
            lo = min(lo, x)
            if i - last >= 4 and x >= lo * 1.08:
                state, last, hi = False, i, x
        else:
            hi = max(hi, x)
            if i - last >= 4 and x <= hi * 0.85:
                state, last, lo = True, i, x
        expected.append(state)
    np.testing.assert_array_equal(drawdown_state(v.to_numpy(), 0.15, 0.08, 4), expected)


def test_vol_and_vol_ratio_match_pandas_rolling_std() -> None:
    rng = np.random.default_rng(5)
    r = pd.Series(np.r_[np.nan, rng.normal(0, 0.02, 300), rng.normal(0, 0.06, 100),
                        rng.normal(0, 0.02, 200)])
    vol = r.rolling(30).std() * np.sqrt(365)
    np.testing.assert_allclose(realised_vol(r.to_numpy(), 30, 365), vol, rtol=1e-9)
    got = vol_state(r.to_numpy(), 30, 0.8, 0.6, 365, min_hold=3)
    np.testing.assert_array_equal(got, _machine(vol > 0.8, vol < 0.6, 3))
    assert got[300:420].any() and not got[:300].any()  # on in the turbulent stretch
    ratio = r.rolling(10).std() / r.rolling(60).std()
    np.testing.assert_array_equal(vol_ratio_state(r.to_numpy(), 10, 60, 1.5, 1.0),
                                  _machine(ratio > 1.5, ratio < 1.0, 0))


def test_funding_and_backwardation_match_pandas() -> None:
    rng = np.random.default_rng(2)
    rate = pd.Series(rng.normal(0.00005, 0.0002, 400))
    m = rate.rolling(7).mean()
    np.testing.assert_array_equal(funding_state(rate.to_numpy(), 7, 1e-4, 5e-5),
                                  _machine(m >= 1e-4, m < 5e-5, 0))
    np.testing.assert_array_equal(funding_state(rate.to_numpy(), 7, 0.0, 0.0, below=True),
                                  _machine(m <= 0.0, m > 0.0, 0))


def test_calendar_windows_are_inclusive_utc_dates() -> None:
    idx = pd.date_range("2022-04-29", periods=6 * 24, freq="h")
    spec = parse_trigger("calendar:2022-05-01..2022-05-02+2022-05-04..2022-05-04")
    got = calendar_state(idx, spec.windows)
    day = idx.strftime("%Y-%m-%d")
    np.testing.assert_array_equal(got, np.isin(day, ["2022-05-01", "2022-05-02", "2022-05-04"]))


def test_hysteresis_stops_flapping_and_min_hold_is_respected() -> None:
    # a price zig-zagging ±0.5 % around a flat average: no band flaps, a 1 % band never trades
    p = np.r_[np.full(20, 100.0), np.tile([99.5, 100.5], 50)]
    flappy = trend_state(p, 20, band=0.0)
    calm = trend_state(p, 20, band=0.01)
    assert np.count_nonzero(np.diff(flappy.astype(int))) > 50
    assert not calm.any()
    held = hysteresis(np.tile([True, False], 20), np.tile([False, True], 20), min_hold=5)
    switches = np.flatnonzero(np.diff(held.astype(int)) != 0) + 1
    assert np.all(np.diff(np.r_[0, switches]) >= 5)


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=60, max_value=390), st.integers(min_value=0, max_value=10_000))
def test_changing_the_future_does_not_move_past_decisions(cut: int, seed: int) -> None:
    idx = pd.date_range("2021-01-01", periods=400, freq="D")
    p, v = _walk(400, seed), _walk(400, seed + 1)
    rate = np.random.default_rng(seed).normal(0.0001, 0.0002, 400)
    expr = parse_expression("trend:50 or cross:10/40 or drawdown:10/5 or vol:60 or "
                            "volratio:1.3 or funding:1 or backwardation or "
                            "calendar:2021-03-01..2021-03-10 or ptrend:30")
    base = evaluate(expr, TriggerInputs(idx, p, v, rate))
    p2, v2, r2 = p.copy(), v.copy(), rate.copy()
    p2[cut:] *= 0.3
    v2[cut:] *= 3.0
    r2[cut:] = -0.01
    moved = evaluate(expr, TriggerInputs(idx, p2, v2, r2))
    for name, st_ in base.parts.items():
        np.testing.assert_array_equal(st_[:cut], moved.parts[name][:cut], err_msg=name)


def test_expression_combines_with_or_and_and_hold() -> None:
    expr = parse_expression("trend:200 and drawdown:10 hold 7")
    assert [p.name for p in expr.parts] == ["trend:200/1", "drawdown:10/5"]
    assert expr.op == "and" and expr.hold_days == 7
    idx = pd.date_range("2020-01-01", periods=300, freq="D")
    p = np.r_[np.linspace(100, 200, 250), np.linspace(200, 120, 50)]
    x = TriggerInputs(idx, p, p)
    both = evaluate(expr, x)
    np.testing.assert_array_equal(both.on, both.parts["trend:200/1"] & both.parts["drawdown:10/5"])
    either = evaluate(parse_expression("trend:200 or drawdown:10"), x)
    assert either.on.sum() >= both.on.sum() > 0
    assert "200-day average" in either.reasons["trend:200/1"]


def test_hourly_bars_scale_windows_to_days() -> None:
    daily = pd.Series(_walk(120, 9), index=pd.date_range("2024-01-01", periods=120, freq="D"))
    hourly = daily.resample("h").ffill()
    expr = parse_expression("trend:20 hold 0")
    d = evaluate(expr, TriggerInputs(pd.DatetimeIndex(daily.index), daily.to_numpy(),
                                     daily.to_numpy()))
    h = evaluate(expr, TriggerInputs(pd.DatetimeIndex(hourly.index), hourly.to_numpy(),
                                     hourly.to_numpy(), bars_per_day=24))
    # a 20-day average of hourly bars is a 480-bar average: it lags the daily one a little
    assert abs(h.on[::24].mean() - d.on.mean()) < 0.1


@pytest.mark.parametrize("bad", ["nope:3", "trend:x", "trend:1", "cross:200/50",
                                 "drawdown:150", "vol:50/80", "volratio:0.5",
                                 "calendar:2022-05-02..2022-05-01", "calendar:2022-05-01",
                                 "trend:200 or cross:5/9 and vol:50", ""])
def test_bad_triggers_name_the_fix(bad: str) -> None:
    with pytest.raises(InputError) as err:
        parse_expression(bad)
    msg = str(err.value)
    assert "\n" not in msg and ("e.g." in msg or "use one of" in msg)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=200),
       st.integers(min_value=0, max_value=12))
def test_hysteresis_invariants(signals: list[tuple[bool, bool]], hold: int) -> None:
    on_sig = np.array([a for a, _ in signals])
    off_sig = np.array([b for _, b in signals])
    state = hysteresis(on_sig, off_sig, hold)
    prev = np.r_[False, state[:-1]]
    turned_on = state & ~prev
    turned_off = ~state & prev
    # a switch happens only where its own signal (and not the other) says so
    assert np.all(on_sig[turned_on] & ~off_sig[turned_on])
    assert np.all(off_sig[turned_off] & ~on_sig[turned_off])
    # switches are at least `hold` bars apart
    switches = np.flatnonzero(turned_on | turned_off)
    assert np.all(np.diff(switches) >= max(hold, 1))
