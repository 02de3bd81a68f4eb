"""Funding per leg: each settlement at its own time, from the leg's own history (issue 13)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from althedge.config import parse_portfolio
from althedge.data import bundled_source, open_source
from althedge.data.files import read_funding_events
from althedge.services.backtest import BacktestSettings, run_backtest
from althedge.services.costs import (
    FundingHistory,
    find_funding_history,
    funding_per_bar,
    mark_high_per_bar,
)


def _events(start: str, days: int, seed: int = 2) -> pd.Series:
    idx = pd.date_range(start, periods=3 * days, freq="8h")
    return pd.Series(np.random.default_rng(seed).normal(1e-4, 2e-4, len(idx)), index=idx)


def test_hourly_bars_take_each_settlement_in_the_bar_where_it_falls() -> None:
    ev = _events("2024-01-01", 10)
    idx = pd.date_range("2024-01-02", periods=24 * 5, freq="h")
    rates, missing, used = funding_per_bar([FundingHistory(ev, "x")], idx, pd.Timedelta("1h"),
                                           assumed_8h=0.0)
    assert missing == 0 and used == ["x"]
    # independent: the bar opening at h holds the position through h + 1 h
    ref = np.array([ev[(ev.index > t) & (ev.index <= t + pd.Timedelta("1h"))].sum()
                    for t in idx])
    np.testing.assert_allclose(rates, ref, rtol=1e-12, atol=1e-18)
    assert (rates != 0).sum() == 15  # three payments a day, not 24 daily-mean slices
    hit = idx[rates != 0]
    assert set(hit.hour) == {7, 15, 23}  # bars ending at 08:00, 16:00, 00:00


def test_daily_bars_sum_the_three_settlements_and_gaps_use_the_assumed_rate() -> None:
    ev = _events("2024-01-01", 10)
    idx = pd.date_range("2023-12-28", periods=20, freq="D")
    rates, missing, _ = funding_per_bar([FundingHistory(ev, "x")], idx, pd.Timedelta("1D"),
                                        assumed_8h=0.0003)
    day = pd.Timestamp("2024-01-03")
    i = int(idx.get_loc(day))
    expected = ev[(ev.index > day) & (ev.index <= day + pd.Timedelta("1D"))]
    assert len(expected) == 3 and rates[i] == pytest.approx(expected.sum(), rel=1e-12)
    assert rates[0] == pytest.approx(0.0009)  # 2023-12-28: before the history, 3 × assumed
    assert missing == int((idx + pd.Timedelta("1D") <= ev.index[0] - pd.Timedelta("8h")).sum()
                          + (idx + pd.Timedelta("1D") > ev.index[-1]).sum())


def test_eth_pays_its_own_funding_in_the_bundled_data() -> None:
    src = bundled_source()
    hist = find_funding_history(src.root, "binance", "ETH", "linear")
    assert [h.label for h in hist] == ["ETHUSDT_funding_8h.parquet"]
    raw = pd.read_parquet(Path(str(src.root)) / "ETHUSDT_funding_8h.parquet")
    np.testing.assert_array_equal(hist[0].events.to_numpy(), raw["funding_rate"].to_numpy())
    assert hist[0].events.index[0] == pd.Timestamp("2019-11-27 08:00")


def test_bybit_and_inverse_histories_cover_their_years(shared_data: Path) -> None:
    bybit = find_funding_history(shared_data, "bybit", "BTC", "linear")
    assert [h.label for h in bybit] == ["bybit/funding_8h/BTCUSDT_funding.csv",
                                        "binance/funding_8h/BTCUSDT_funding.csv"]
    days = pd.date_range("2022-06-01", "2024-06-01", freq="D")
    rates, missing, used = funding_per_bar(bybit, days, pd.Timedelta("1D"), 0.0)
    assert missing == 0 and used == [h.label for h in bybit]
    byb = read_funding_events(shared_data / "bybit" / "funding_8h" / "BTCUSDT_funding.csv")
    d = pd.Timestamp("2022-06-10")
    assert rates[days.get_loc(d)] == pytest.approx(
        byb[(byb.index > d) & (byb.index <= d + pd.Timedelta("1D"))].sum(), rel=1e-12)
    inverse = find_funding_history(shared_data, "binance", "BTC", "inverse")
    assert [h.label.split("/")[-1] for h in inverse] == [
        "BITMEX_XBTUSD_funding.csv", "DERIBIT_BTC-PERPETUAL_funding_1h.csv"]
    span = pd.date_range("2020-01-01", "2021-12-31", freq="D")
    rates, missing, used = funding_per_bar(inverse, span, pd.Timedelta("1D"), 0.0001)
    assert len(used) == 2  # BitMEX to 2020-11, Deribit to 2021-02-25
    assert missing == int((span + pd.Timedelta("1D") > pd.Timestamp("2021-02-25 11:00")).sum())
    assert find_funding_history(shared_data, "binance", "ETH", "inverse") == []


def test_backtest_eth_leg_uses_eth_funding_not_btc() -> None:
    cfg = parse_portfolio({
        "holdings": [{"asset": "SOL", "amount": 100}, {"asset": "LINK", "amount": 800}],
        "hedge": {"assets": ["BTC", "ETH"], "exchange": "binance", "leverage": 2},
    })
    res = run_backtest(cfg, bundled_source(), ["multi:60"],
                       BacktestSettings(start="2023-01-01", end="2024-06-30"))
    assert any("ETH linear settlements from ETHUSDT_funding_8h.parquet" in w
               for w in res.warnings)
    assert not any("BTC's used as a proxy" in w for w in res.warnings)


def test_shared_folder_backtest_reads_settlements(shared_data: Path) -> None:
    cfg = parse_portfolio({"holdings": [{"asset": "SOL", "amount": 100}],
                           "hedge": {"exchange": "binance"}})
    res = run_backtest(cfg, open_source(shared_data), ["rolling-ols:30"],
                       BacktestSettings(start="2023-01-01", end="2023-03-31", timeframe="1h",
                                        window=720, rebalance="daily"))
    assert any("binance/funding_8h/BTCUSDT_funding.csv" in w for w in res.warnings)


def test_mark_high_per_bar_from_binance_mark_candles(shared_data: Path) -> None:
    """Daily bars take the highest hourly mark high of the day (pandas resample here);
    hourly bars the candle's own high; never below the close."""
    f = pd.read_csv(shared_data / "binance" / "mark_1h" / "BTCUSDT_mark_1h.csv")
    f.index = pd.to_datetime(f["datetime"], utc=True).dt.tz_localize(None)
    days = pd.date_range("2022-05-01", "2022-05-31", freq="D")
    close = np.full(len(days), 1.0)
    marked = mark_high_per_bar(shared_data, "BTC", days, pd.Timedelta("1D"), close)
    assert marked is not None
    got, n = marked
    ref = f["high"].resample("D").max().reindex(days).to_numpy()
    assert n == len(days)
    np.testing.assert_allclose(got, ref, rtol=0)
    hours = pd.date_range("2022-05-11 10:00", periods=5, freq="h")
    hourly = mark_high_per_bar(shared_data, "BTC", hours, pd.Timedelta("1h"),
                                 np.full(5, 1e9))
    assert hourly is not None and (hourly[0] == 1e9).all()  # the close wins when above the mark
    assert mark_high_per_bar(shared_data, "SOL", days, pd.Timedelta("1D"), close) is None


def test_backtest_checks_liquidation_on_the_mark(shared_data: Path) -> None:
    cfg = parse_portfolio({"holdings": [{"asset": "SOL", "amount": 100}],
                           "hedge": {"exchange": "binance", "leverage": 5}})
    res = run_backtest(cfg, open_source(shared_data), ["rolling-ols:30"],
                       BacktestSettings(start="2023-01-01", end="2023-06-30"))
    assert any("checked against Binance's mark price on" in w for w in res.warnings)
