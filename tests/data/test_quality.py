"""Quality checks on the real shared data (real defects), on clean and on corrupted copies."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from althedge.data import bundled_source, open_source
from althedge.data.files import read_ohlcv
from althedge.data.quality import (
    ERROR,
    WARNING,
    Finding,
    check_closes,
    check_series,
    exclude_error_series,
    keep_bars,
    parse_keep_bar,
    require_usable,
    robust_sigma,
)
from althedge.errors import DataQualityError, InputError

# the conftest fixture fails loudly (never skips) when the real data is absent


def kinds(findings: list[Finding], severity: str | None = None) -> set[str]:
    return {f.kind for f in findings if severity is None or f.severity == severity}


def check_file(path: Path) -> list[Finding]:
    return check_series(path.name.split("-")[0], read_ohlcv(path), timeframe="1d")


# --- the real files ---------------------------------------------------------------------------

@pytest.mark.parametrize("sym", ["BTC", "ETH", "BNB", "SOL", "LINK", "XRP", "DOT"])
def test_liquid_real_series_have_no_errors(sym: str, shared_data: Path) -> None:
    findings = check_file(shared_data / "daily" / f"{sym}-USD_1d.csv")
    assert not [f for f in findings if f.severity == ERROR], findings
    if sym in ("BTC", "ETH"):
        # BTC's worst day (2020-03-12, −37 %) and ETH's (−43 %) are genuine and below thresholds.
        assert findings == []


def test_uni_is_another_coin_except_three_days(shared_data: Path) -> None:
    findings = check_file(shared_data / "daily" / "UNI-USD_1d.csv")
    shifts = {f.timestamp for f in findings if f.kind == "level_shift" and f.severity == ERROR}
    # 2022-10-20 0.000038 USD → 2022-10-21 0.598 (Uniswap's price) → back to 0.000232 on 10-24.
    assert {"2022-10-21", "2022-10-24"} <= shifts
    assert "stale" in kinds(findings, ERROR)  # 24 days at 0.00024 USD from 2020-03-20


def test_ton_alternates_between_two_coins(shared_data: Path) -> None:
    findings = check_file(shared_data / "daily" / "TON-USD_1d.csv")
    errs = [f for f in findings if f.severity == ERROR]
    assert any(f.kind == "level_shift" and f.timestamp == "2025-01-03" for f in errs)
    assert any(f.kind == "spike" and f.timestamp == "2025-01-18" for f in errs)


def test_shib_zero_prices_and_rounding(shared_data: Path) -> None:
    findings = check_file(shared_data / "daily" / "SHIB-USD_1d.csv")
    zero = [f for f in findings if f.kind == "non_positive_price"]
    assert zero and zero[0].severity == ERROR and zero[0].timestamp == "2020-08-01"
    assert "217 bar(s)" in zero[0].detail
    assert {"gap", "coarse_prices"} <= kinds(findings, "warning")


def test_avax_listing_gap_and_hourly_gap(shared_data: Path) -> None:
    findings = check_file(shared_data / "daily" / "AVAX-USD_1d.csv")
    gap = [f for f in findings if f.kind == "gap"]
    assert gap and gap[0].severity == "warning" and "69 daily bar(s) missing" in gap[0].detail
    hourly = check_series("BTC", read_ohlcv(shared_data / "hourly" / "BTC-USD_1h.csv"))
    assert [(f.kind, f.timestamp) for f in hourly] == [("gap", "2025-01-02T14:00:00")]


def test_folder_source_refuses_bad_series_and_excludes_on_request(shared_data: Path) -> None:
    src = open_source(shared_data)
    closes = src.closes(["BTC", "SOL", "UNI", "SHIB"], start="2021-01-01")
    with pytest.raises(DataQualityError) as exc:
        require_usable(closes)
    msg = str(exc.value)
    assert "\n" not in msg and ("UNI" in msg or "SHIB" in msg) and "exclude" in msg
    kept, findings = require_usable(closes, exclude=True)
    assert list(kept.columns) == ["BTC", "SOL"]
    assert {f.symbol for f in findings if f.severity == ERROR} == {"UNI", "SHIB"}
    with pytest.raises(DataQualityError, match="UNI"):
        require_usable(src.closes(["UNI", "BTC"]), exclude=True, protect=["UNI"])


def test_bundled_data_has_no_errors() -> None:
    src = bundled_source()
    findings = check_closes(src.closes(src.symbols()))
    assert not [f for f in findings if f.severity == ERROR], findings
    # the genuine extreme days are shown as warnings with their explanation
    doge = [f for f in findings if f.symbol == "DOGE" and f.timestamp == "2021-01-28"]
    assert doge and doge[0].kind == "extreme_move" and "+356%" in doge[0].detail


# --- corrupted copies ------------------------------------------------------------------------

@pytest.fixture()
def btc_copy(tmp_path: Path) -> Path:
    target = tmp_path / "BTC-USD_1d.csv"
    shutil.copy(bundled_source().entry("BTC").file, target)  # type: ignore[arg-type]
    return target


def corrupt(path: Path, edit: Callable[[list[str]], None]) -> list[Finding]:
    lines = path.read_text().splitlines()
    edit(lines)
    path.write_text("\n".join(lines) + "\n")
    return check_file(path)


def _set_close(lines: list[str], i: int, value: str) -> None:
    cells = lines[i].split(",")
    cells[4] = value
    lines[i] = ",".join(cells)


def test_clean_copy_is_clean(btc_copy: Path) -> None:
    assert check_file(btc_copy) == []


def test_corrupted_zero_price(btc_copy: Path) -> None:
    f = corrupt(btc_copy, lambda ls: _set_close(ls, 1000, "0"))
    assert "non_positive_price" in kinds(f, ERROR)


def test_corrupted_spike(btc_copy: Path) -> None:
    def edit(ls: list[str]) -> None:
        _set_close(ls, 1500, str(float(ls[1500].split(",")[4]) * 5))
    f = corrupt(btc_copy, edit)
    spikes = [x for x in f if x.kind == "spike"]
    assert spikes and spikes[0].severity == ERROR
    assert spikes[0].timestamp == btc_copy.read_text().splitlines()[1500].split(",")[0]


def test_corrupted_level_shift(btc_copy: Path) -> None:
    def edit(ls: list[str]) -> None:
        for i in range(2000, len(ls)):
            _set_close(ls, i, str(float(ls[i].split(",")[4]) / 1000))
    assert "level_shift" in kinds(corrupt(btc_copy, edit), ERROR)


def test_corrupted_rows_duplicates_order_stale_gap(btc_copy: Path) -> None:
    def edit(ls: list[str]) -> None:
        ls.insert(50, "garbage,row")                 # unparseable
        ls.insert(100, ls[100].replace(",", ",", 1))  # identical duplicate
        ls[200], ls[201] = ls[201], ls[200]           # unordered
        for i in range(300, 312):                     # 12 identical closes
            _set_close(ls, i, "500.0")
        del ls[400:410]                               # a 10-day gap
    f = corrupt(btc_copy, edit)
    assert {"unparseable", "stale"} <= kinds(f, ERROR)
    assert {"duplicate_timestamp", "unordered", "gap"} <= kinds(f, "warning")


def test_conflicting_duplicate_is_error() -> None:
    idx = pd.DatetimeIndex(["2024-01-01", "2024-01-02", "2024-01-02", "2024-01-03"])
    f = check_series("X", pd.Series([1.0, 1.1, 1.2, 1.15], index=idx))
    assert [(x.kind, x.severity, x.timestamp) for x in f] == [
        ("duplicate_timestamp", "error", "2024-01-02")]


def test_check_closes_trims_listing_nans_and_exclude() -> None:
    idx = pd.date_range("2024-01-01", periods=30, freq="D")
    good = 100 * np.exp(np.cumsum(np.full(30, 0.01)))
    late = np.where(np.arange(30) < 10, np.nan, good)
    bad = good.copy()
    bad[20:] /= 100
    closes = pd.DataFrame({"A": good, "LATE": late, "BAD": bad}, index=idx)
    findings = check_closes(closes)
    assert [(f.symbol, f.kind) for f in findings] == [("BAD", "level_shift")]
    kept, dropped = exclude_error_series(closes, findings)
    assert dropped == ["BAD"] and list(kept.columns) == ["A", "LATE"]
    assert findings[0].to_dict()["severity"] == "error"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-0.3, 0.3), min_size=5, max_size=200), st.floats(1e-6, 1e5))
def test_random_walks_with_moderate_moves_have_no_errors(rets: list[float], p0: float) -> None:
    """A price path whose daily moves stay within ±35 % never gets an error (no false alarms)."""
    rets = [r if abs(r) > 1e-9 else 0.001 for r in rets]  # no stale runs by construction
    prices = p0 * np.exp(np.cumsum(rets))
    idx = pd.date_range("2024-01-01", periods=len(prices), freq="D")
    findings = check_series("X", pd.Series(prices, index=idx))
    assert not [f for f in findings if f.severity == ERROR]


# --- timeframe-aware thresholds, market cross-check, kept bars --------------------------------

def _hourly_walk(sigma: float, n: int = 2000, seed: int = 4) -> pd.Series:
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2022-05-01", periods=n, freq="h")
    return pd.Series(50.0 * np.exp(np.cumsum(rng.normal(0, sigma, n))), index=idx)


def _drop_and_recover(s: pd.Series, at: int, log_move: float) -> pd.Series:
    out = s.copy()
    out.iloc[at] = out.iloc[at] * np.exp(log_move)  # one bar off, the next back on the path
    return out


def test_robust_sigma_ignores_a_bad_print() -> None:
    r = np.random.default_rng(1).normal(0, 0.01, 5000)
    base = robust_sigma(r)
    r[100] = 3.0
    assert base == pytest.approx(0.01, rel=0.05)
    assert robust_sigma(r) == pytest.approx(base, rel=0.01)


def test_spike_threshold_scales_with_the_series_volatility() -> None:
    """The same −26 % reverting hourly bar: a bad print on a calm series, a warning on a wild
    one (30 σ of an hourly σ of 1.2 % is 0.36 in log terms)."""
    calm = check_series("CALM", _drop_and_recover(_hourly_walk(0.003), 1000, -0.30),
                        timeframe="1h")
    wild = check_series("WILD", _drop_and_recover(_hourly_walk(0.012), 1000, -0.30),
                        timeframe="1h")
    assert [f.severity for f in calm if f.kind == "spike"] == [ERROR]
    assert [f.severity for f in wild if f.kind == "spike"] == [WARNING]


def test_market_wide_move_is_not_a_bad_print() -> None:
    """A coin's −26 % hour that the hedge asset shares (−7 %, ~20 σ) is kept as a warning."""
    coin = _drop_and_recover(_hourly_walk(0.003), 1000, -0.30)
    btc = _drop_and_recover(_hourly_walk(0.0035, seed=9), 1000, -0.075)
    alone = check_closes(pd.DataFrame({"COIN": coin}), timeframe="1h")
    together = check_closes(pd.DataFrame({"COIN": coin, "BTC": btc}), timeframe="1h")
    assert [f.severity for f in alone if f.kind == "spike"] == [ERROR]
    spikes = [f for f in together if f.kind == "spike" and f.symbol == "COIN"]
    assert [f.severity for f in spikes] == [WARNING]
    assert "BTC moved" in spikes[0].detail and "market-wide" in spikes[0].detail
    # BTC moving the other way does not excuse the bar
    up = _drop_and_recover(_hourly_walk(0.0035, seed=9), 1000, +0.075)
    against = check_closes(pd.DataFrame({"COIN": coin, "BTC": up}), timeframe="1h")
    assert [f.severity for f in against if f.symbol == "COIN" and f.kind == "spike"] == [ERROR]


def test_terra_hour_on_binance_hourly_data_is_not_refused(shared_data: Path) -> None:
    """2022-05-11 12:00 UTC: SOL −19 %, AVAX −26 %, DOT −19 % in one hour and back the next,
    BTC −7 % (Binance spot klines, ../shared/data/binance/spot_1h). Genuine: no errors, and
    the reverting ones are explained as market-wide."""
    src = open_source(shared_data)
    coins = ["SOL", "AVAX", "LINK", "DOGE", "ADA", "DOT", "XRP", "ATOM", "BTC", "ETH"]
    closes = src.closes(coins, start="2022-04-01", end="2022-06-01", timeframe="1h")
    findings = check_closes(closes, timeframe="1h")
    assert not [f for f in findings if f.severity == ERROR]
    terra = [f for f in findings if f.timestamp == "2022-05-11T12:00:00" and f.kind == "spike"]
    assert {f.symbol for f in terra} >= {"DOT", "XRP", "ATOM"}
    assert all("market-wide" in f.detail for f in terra)
    _, used = require_usable(closes, timeframe="1h")
    assert not [f for f in used if f.severity == ERROR]


def test_parse_keep_bar_forms_and_errors() -> None:
    k = parse_keep_bar("AVAX:Spike@2022-05-11T12:00")
    assert (k.symbol, k.kind, k.timestamp) == ("AVAX", "spike", pd.Timestamp("2022-05-11 12:00"))
    assert parse_keep_bar("spike@2022-05-11 12:00:00Z").symbol is None
    for bad in ["spike", "blip@2022-05-11", "spike@notatime"]:
        with pytest.raises(InputError, match="keep-bar"):
            parse_keep_bar(bad)


def test_kept_bar_becomes_a_warning_and_passes_require_usable() -> None:
    coin = _drop_and_recover(_hourly_walk(0.003), 1000, -0.30)
    frame = pd.DataFrame({"COIN": coin})
    when = coin.index[1000].isoformat()
    with pytest.raises(DataQualityError, match="spike"):
        require_usable(frame, timeframe="1h")
    _, findings = require_usable(frame, timeframe="1h", keep=[f"COIN:spike@{when}"])
    spike = [f for f in findings if f.kind == "spike"]
    assert [f.severity for f in spike] == [WARNING] and "kept by the user" in spike[0].detail
    # a rule for another symbol or time keeps nothing
    other = keep_bars(check_closes(frame, timeframe="1h"), [f"SOL:spike@{when}",
                                                            "spike@2022-05-02T00:00"])
    assert [f.severity for f in other if f.kind == "spike"] == [ERROR]


def test_short_windows_keep_the_fixed_thresholds() -> None:
    """With fewer than 100 returns σ is not trusted: a wild 60-bar window does not raise
    its own spike threshold above the √-scaled one."""
    wild = _drop_and_recover(_hourly_walk(0.03, n=60), 30, -0.30)
    spikes = [f for f in check_series("W", wild, timeframe="1h") if f.kind == "spike"]
    assert [f.severity for f in spikes] == [ERROR]
