"""Bundled and folder sources: layouts, timestamp formats, bad rows never crash."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from althedge.data import FileSource, PriceSource, bundled_source, open_source
from althedge.data.files import parse_file_name, parse_timestamps, read_ohlcv
from althedge.errors import DataError, InputError


def test_bundled_source_closes_and_funding() -> None:
    src = bundled_source()
    assert isinstance(src, PriceSource)
    assert {"BTC", "ETH", "SOL"} <= set(src.symbols())
    closes = src.closes(["BTC", "sol"], start="2024-01-01", end="2024-01-31")
    assert list(closes.columns) == ["BTC", "SOL"]
    assert len(closes) == 31
    assert closes.index.tz is None and closes.index.dtype == "datetime64[ns]"
    assert (closes.index.hour == 0).all()
    # BTC closed 2024-01-01 at about 44,167 USD (Yahoo BTC-USD).
    assert closes.loc["2024-01-01", "BTC"] == pytest.approx(44167.33, rel=1e-4)
    funding = src.funding_rates("BTC", start="2024-01-01", end="2024-01-10")
    assert len(funding) == 10 and funding.abs().max() < 0.01
    assert src.funding_rates("SOL").empty


def test_open_source_defaults_to_bundled_and_unknown_asset_is_clear() -> None:
    src = open_source()
    assert src.name == "bundled"
    with pytest.raises(DataError, match="no 1d data for NOPE"):
        src.closes(["NOPE"])
    with pytest.raises(InputError, match="timeframe"):
        src.closes(["BTC"], timeframe="5m")


def test_shared_folder_layout_daily_hourly_funding(shared_data: Path) -> None:
    src = open_source(shared_data)
    assert "UNI" in src.symbols() and "SOL" in src.symbols("1h")
    # BTC-USD_1d.csv wins over BTCUSDT-binance_1d.csv
    assert isinstance(src, FileSource)
    assert src.entry("BTC").file.name == "BTC-USD_1d.csv"
    hourly = src.closes(["BTC", "ETH"], timeframe="1h", start="2024-11-16 00:00",
                        end="2024-11-16 05:00")
    assert len(hourly) == 6 and (np.diff(hourly.index.asi8) == 3_600 * 10**9).all()
    assert not src.funding_rates("BTC").empty


def test_flat_folder_of_exports(tmp_path: Path) -> None:
    ms = pd.date_range("2024-01-01", periods=5, freq="D").asi8 // 10**6
    pd.DataFrame({"Timestamp": ms, "Open": 1.0, "High": 2.0, "Low": 0.5, "Close": [1, 2, 3, 4, 5]}
                 ).to_csv(tmp_path / "SOLUSDT.csv", index=False)
    pd.DataFrame({"DATE": ["2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"], "close": [10.0, 11.0]}
                 ).to_csv(tmp_path / "eth_1d.csv", index=False)
    idx = pd.date_range("2024-01-01", periods=3, freq="h")
    pd.DataFrame({"close": [1.0, 2.0, 3.0]}, index=idx).to_parquet(tmp_path / "BTC_USDT-1h.parquet")
    (tmp_path / "notes.txt").write_text("not data")
    src = open_source(tmp_path)
    assert src.symbols() == ["ETH", "SOL"]
    c = src.closes(["SOL", "ETH"])
    assert c.loc["2024-01-03", "SOL"] == 3 and np.isnan(c.loc["2024-01-03", "ETH"])
    assert src.closes(["BTC"], timeframe="1h")["BTC"].tolist() == [1.0, 2.0, 3.0]


def test_unparseable_rows_do_not_crash(tmp_path: Path) -> None:
    f = tmp_path / "ADA-USD_1d.csv"
    f.write_text("datetime,close\n2024-01-01,1.0\nnot-a-date,2.0\n2024-01-03,abc\n2024-01-04,\n"
                 "2024-01-05,-1\n2024-01-02,1.5\n")
    raw = read_ohlcv(f)
    assert len(raw) == 6
    assert raw["parse_error"].tolist()[1].startswith("time 'not-a-date'")
    assert "close 'abc' is not a number" in raw["parse_error"].tolist()[2]
    assert raw["parse_error"].tolist()[3] == ""  # empty close is missing, not unparseable
    close = FileSource(tmp_path).closes(["ADA"])["ADA"]
    assert list(close.index.strftime("%d")) == ["01", "02", "04", "05"]
    assert close.iloc[1] == 1.5 and np.isnan(close.iloc[2]) and np.isnan(close.iloc[3])


def test_timestamp_units_inferred() -> None:
    expected = pd.Timestamp("2024-03-01")
    for v in (1709251200, 1709251200000, 1709251200000000, "2024-03-01",
              "2024-03-01 00:00:00+00:00", "2024-03-01T01:00:00+01:00"):
        assert parse_timestamps([v])[0] == expected, v


def test_file_names() -> None:
    e = parse_file_name("BTCUSDT-binance_1d.csv")
    assert e is not None and (e.asset, e.timeframe, e.exact) == ("BTC", "1d", False)
    e = parse_file_name("sol_usdt_1h.parquet")
    assert e is not None and (e.asset, e.timeframe) == ("SOL", "1h")
    e = parse_file_name("BTCUSDT_funding_daily.csv")
    assert e is not None and (e.asset, e.kind) == ("BTC", "funding")
    e = parse_file_name("DOGE-USD.csv", "hourly")
    assert e is not None and e.timeframe == "1h"
    assert parse_file_name("README.md") is None


def test_missing_folder_and_bad_columns(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        open_source(tmp_path / "nope")
    (tmp_path / "X.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="close"):
        FileSource(tmp_path).closes(["X"])


_cells = st.text(alphabet="0123456789-:.,TZ abcé\"", max_size=24)


@settings(max_examples=60, deadline=None)
@given(st.lists(_cells, min_size=0, max_size=8))
def test_garbage_rows_never_crash_and_are_reported(tmp_path_factory: pytest.TempPathFactory,
                                                   junk: list[str]) -> None:
    """Any junk mixed into a valid file: read_ohlcv does not raise, every valid row is kept and
    every junk line is either a valid row by chance or reported (never silently lost)."""
    from althedge.data.quality import check_series

    folder = tmp_path_factory.mktemp("junk")
    good = [f"2024-01-{d:02d},{100 + d}" for d in range(1, 11)]
    junk = [j.replace("\n", " ") for j in junk if j.strip()]
    f = folder / "X.csv"
    f.write_text("datetime,close\n" + "\n".join(good + junk) + "\n")
    raw = read_ohlcv(f)
    assert len(raw) >= len(good) and len(raw) <= len(good) + len(junk)
    ok = raw[raw["parse_error"] == ""]
    for d in range(1, 11):
        assert pd.Timestamp(f"2024-01-{d:02d}") in ok.index
    findings = check_series("X", raw)  # never raises either
    if (raw["parse_error"] != "").any():
        assert any(x.kind == "unparseable" for x in findings)
