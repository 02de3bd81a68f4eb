"""Volume profile, value area, nodes, ATR and suggested levels (core.volume_profile).

References: value area = 70 % of volume grown from the POC toward the larger neighbour
(CBOT Market Profile handbook; Steidlmayer & Koy 1986); ATR = Wilder (1978), first value
the mean of the first n true ranges, then (ATR·(n−1) + TR)/n.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from althedge.core.volume_profile import (
    average_true_range,
    resolve_limit_at,
    suggest_levels,
    volume_profile,
)
from althedge.errors import InputError


def test_one_bar_spreads_its_volume_evenly_over_its_range() -> None:
    # one bar 100..200 with 1,000 units, 10 bins of 10 USD: 100 units each (not at the close)
    p = volume_profile([200.0], [100.0], [1000.0], bins=10)
    np.testing.assert_allclose(p.volume, np.full(10, 100.0))
    np.testing.assert_allclose(p.bin_edges_usd, np.linspace(100, 200, 11))


def test_two_bars_overlap_hand_computed() -> None:
    # bar A 100..200 (1,000), bar B 150..200 (500); 4 bins of 25 USD:
    # A gives 250 per bin; B gives 250 to each of the two top bins
    p = volume_profile([200.0, 200.0], [100.0, 150.0], [1000.0, 500.0], bins=4)
    np.testing.assert_allclose(p.volume, [250.0, 250.0, 500.0, 500.0])
    # POC: first of the two 500 bins (centre 162.5); value area 70 % of 1,500 = 1,050:
    # POC 500 → above 500 (1,000) → below 250 (1,250 ≥ 1,050): 150..200 → 125..200
    assert p.poc_usd == pytest.approx(162.5)
    assert p.value_area_low_usd == pytest.approx(125.0)
    assert p.value_area_high_usd == pytest.approx(200.0)
    assert p.value_area_volume_pct == pytest.approx(100 * 1250 / 1500)


def test_a_flat_bar_lands_in_the_bin_holding_its_price() -> None:
    p = volume_profile([100.0, 200.0, 130.0], [100.0, 100.0, 130.0], [0.0, 10.0, 7.0], bins=10)
    # 130 is in [130, 140): bin 3 gets 1 (from the ranged bar) + 7
    assert p.volume[3] == pytest.approx(8.0)
    assert p.total_volume == pytest.approx(17.0)


def test_nodes_find_two_peaks_and_the_valley_between() -> None:
    # volume clustered at 110 and 190, little at 150
    highs = [112.0] * 20 + [192.0] * 20 + [180.0]
    lows = [108.0] * 20 + [188.0] * 20 + [120.0]
    vols = [10.0] * 40 + [5.0]
    p = volume_profile(highs, lows, vols, bins=20)
    assert len(p.hvn_usd) == 2
    assert p.hvn_usd[0] < 120 < 180 < p.hvn_usd[1]
    assert any(120 < x < 180 for x in p.lvn_usd)


def test_wilder_atr_hand_computed() -> None:
    h = [10.0, 11.0, 12.0, 11.5, 13.0]
    lo = [9.0, 9.5, 10.5, 10.0, 11.0]
    c = [9.5, 10.5, 11.5, 10.5, 12.5]
    # TR: 1.0, max(1.5, 1.5, 0)=1.5, max(1.5, 1.5, 0)=1.5, max(1.5, 0, 1.5)=1.5, max(2, 2.5, .5)=2.5
    # period 3: first ATR = (1 + 1.5 + 1.5)/3 = 4/3; then (4/3·2 + 1.5)/3; then (…·2 + 2.5)/3
    a = 4 / 3
    a = (a * 2 + 1.5) / 3
    a = (a * 2 + 2.5) / 3
    assert average_true_range(h, lo, c, period=3) == pytest.approx(a)
    assert math.isnan(average_true_range(h[:2], lo[:2], c[:2], period=3))


def test_bad_inputs_are_input_errors() -> None:
    with pytest.raises(InputError, match="bins"):
        volume_profile([2.0], [1.0], [1.0], bins=2)
    with pytest.raises(InputError, match="no bar"):
        volume_profile([2.0], [1.0], [0.0])
    with pytest.raises(InputError, match="high < low"):
        volume_profile([1.0], [2.0], [1.0])
    p = volume_profile([200.0], [100.0], [1.0], bins=10)
    with pytest.raises(InputError, match="--limit-at"):
        resolve_limit_at("resistance", "sell", p, 150.0, 5.0)
    with pytest.raises(InputError, match="--limit-at"):
        resolve_limit_at("-5", "sell", p, 150.0, 5.0)


bars = st.lists(
    st.tuples(
        st.floats(10.0, 1e5), st.one_of(st.just(0.0), st.floats(1e-6, 0.2)), st.floats(0.0, 1e6)
    ),
    min_size=1, max_size=60,
).filter(lambda rows: sum(v for _, _, v in rows) > 1e-3)


@settings(max_examples=150, deadline=None)
@given(bars, st.integers(3, 80), st.floats(1.0, 100.0))
def test_profile_properties(rows: list[tuple[float, float, float]], nbins: int,
                            va: float) -> None:
    low = np.array([r[0] for r in rows])
    high = low * (1 + np.array([r[1] for r in rows]))
    vol = np.array([r[2] for r in rows])
    p = volume_profile(high, low, vol, bins=nbins, value_area_pct=va)
    # volume is conserved and never negative
    assert p.total_volume == pytest.approx(vol.sum(), rel=1e-9)
    assert (p.volume >= 0).all()
    # the value area holds the POC and at least the share asked for
    assert p.value_area_low_usd <= p.poc_usd <= p.value_area_high_usd
    assert p.value_area_volume_pct >= va - 1e-6
    assert p.bin_edges_usd[0] == pytest.approx(low.min())
    assert p.bin_edges_usd[-1] >= high.max() - 1e-9 * high.max()
    # scaling every price scales the levels and leaves the volumes
    q = volume_profile(high * 3, low * 3, vol, bins=nbins, value_area_pct=va)
    # (the POC moves with the prices; among bins tied within float noise any may win)
    near_max = p.bin_centers_usd[p.volume >= p.volume.max() * (1 - 1e-6)]
    assert np.isclose(q.poc_usd, 3 * near_max, rtol=1e-9).any()
    np.testing.assert_allclose(q.volume, p.volume, rtol=1e-6, atol=1e-6 * vol.sum())


@settings(max_examples=100, deadline=None)
@given(bars, st.floats(0.0, 1.0), st.floats(0.1, 10.0))
def test_suggestions_sit_on_the_passive_side_within_reach(
    rows: list[tuple[float, float, float]], where: float, max_atr: float
) -> None:
    low = np.array([r[0] for r in rows])
    high = low * (1 + np.array([r[1] for r in rows]))
    vol = np.array([r[2] for r in rows])
    p = volume_profile(high, low, vol, bins=30)
    price = low.min() + where * (high.max() - low.min()) + 1e-6
    atr = max((high.max() - low.min()) / 10, 1e-6)
    s = suggest_levels(p, price, atr, max_atr)
    if s.short_entry is not None:
        assert s.short_entry.price_usd > price
        assert s.short_entry.distance_atr <= max_atr + 1e-9
    if s.buy_back is not None:
        assert s.buy_back.price_usd < price
        assert s.buy_back.distance_atr <= max_atr + 1e-9
    # nothing nearer was skipped: every candidate above the price is at or beyond the pick
    cands = [p.value_area_high_usd, p.value_area_low_usd, p.poc_usd, *p.hvn_usd]
    near_above = [c for c in cands if price < c <= price + max_atr * atr]
    if near_above:
        assert s.short_entry is not None
        assert s.short_entry.price_usd == pytest.approx(min(near_above))
