"""`althedge levels` through the real console entry, and the levels service on real data."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from althedge.data import open_source
from althedge.services.levels import build_levels, limit_price_for

ROOT = Path(__file__).resolve().parents[2]


def althedge(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "althedge", *args], capture_output=True, text=True, cwd=ROOT
    )


def test_levels_json_on_shared_hourly_data(shared_data: Path, tmp_path: Path) -> None:
    html, png = tmp_path / "l.html", tmp_path / "l.png"
    proc = althedge("levels", "BTC", "--prices", str(shared_data), "--days", "30",
                    "--as-of", "2024-06-01", "--json", "--html", str(html), "--png", str(png))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["timeframe"] == "1h" and out["asset"] == "BTC"
    # 30 days of hourly bars ending on 2024-06-01 23:00 (Binance spot, no gap in that month)
    assert out["window_end"] == "2024-06-01T23:00:00"
    assert out["bars"] == 30 * 24
    # the profile holds exactly the window's volume, independently summed from the file
    raw = pd.read_csv(shared_data / "binance" / "spot_1h" / "BTCUSDT_1h.csv")
    t = pd.to_datetime(raw["datetime"], utc=True).dt.tz_localize(None)
    win = raw[(t > pd.Timestamp("2024-05-02T23:00")) & (t <= pd.Timestamp("2024-06-01T23:00"))]
    assert sum(r["volume"] for r in out["profile"]) == pytest.approx(win["volume"].sum())
    assert out["price_usd"] == pytest.approx(float(win["close"].iloc[-1]))
    assert out["value_area_low_usd"] <= out["poc_usd"] <= out["value_area_high_usd"]
    assert out["short_entry"] is None or out["short_entry"]["price_usd"] > out["price_usd"]
    assert out["buy_back"] is None or out["buy_back"]["price_usd"] < out["price_usd"]
    page = html.read_text()
    assert "levels-chart" in page and "<script src=\"http" not in page  # plotly inlined
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_levels_table_names_the_suggestions() -> None:
    proc = althedge("levels", "ETH")
    assert proc.returncode == 0, proc.stderr
    assert "point of control" in proc.stdout
    assert "SELL limit" in proc.stdout and "BUY limit" in proc.stdout
    assert "daily bars used" in proc.stderr  # bundled hourly files carry closes only


def test_levels_do_not_look_ahead(shared_data: Path, tmp_path: Path) -> None:
    """--as-of D gives the same levels as a copy of the data that ends on D."""
    raw = pd.read_csv(shared_data / "binance" / "spot_1h" / "BTCUSDT_1h.csv")
    t = pd.to_datetime(raw["datetime"], utc=True)
    raw[t < pd.Timestamp("2023-03-11", tz="UTC")].to_csv(tmp_path / "BTC-USD_1h.csv",
                                                         index=False)
    full = build_levels(open_source(shared_data), "BTC", days=20, as_of=date(2023, 3, 10))
    cut = build_levels(open_source(tmp_path), "BTC", days=20)
    a, b = full.to_dict(), cut.to_dict()
    for key in ("poc_usd", "value_area_high_usd", "value_area_low_usd", "atr_usd", "price_usd",
                "short_entry", "buy_back", "hvn_usd", "bars"):
        assert a[key] == b[key], key


def test_limit_at_names_resolve_on_the_passive_side(shared_data: Path) -> None:
    r = build_levels(open_source(shared_data), "BTC", days=30, as_of=date(2024, 6, 1))
    assert limit_price_for(r, "poc", "sell") == r.poc_usd
    assert limit_price_for(r, "VAH", "sell") == r.value_area_high_usd
    assert limit_price_for(r, "val", "buy") == r.value_area_low_usd
    assert limit_price_for(r, "65000.5", "sell") == 65000.5
    above = [p for p in r.hvn_usd if p > r.price_usd]
    if above and (min(above) - r.price_usd) <= 3 * r.atr_usd:
        assert limit_price_for(r, "hvn", "sell") == min(above)
    assert np.isfinite(r.atr_usd) and r.atr_usd > 0


def test_levels_errors_are_one_line() -> None:
    proc = althedge("levels", "NOPE")
    assert proc.returncode == 3
    assert proc.stderr.strip().startswith("error: prices: no 1d data for NOPE")
    assert "Traceback" not in proc.stderr
    proc = althedge("levels", "BTC", "--days", "0")
    assert proc.returncode == 2 and "--days" in proc.stderr


def test_hedge_open_and_close_take_limit_at(shared_data: Path, tmp_path: Path) -> None:
    """--limit-at puts the level into the dry-run order; the live order rests there."""
    home = ["--data-dir", str(tmp_path)]
    at = "2024-06-03"
    level = build_levels(open_source(shared_data), "BTC", as_of=date(2024, 6, 3))
    proc = althedge("hedge", "open", "examples/portfolio.toml", "--at", at, "--prices",
                    str(shared_data), "--limit-at", "vah", "--json", *home)
    assert proc.returncode == 0, proc.stderr
    order = json.loads(proc.stdout)["orders"][0]
    assert order["side"] == "sell" and order["order_type"] == "limit"
    # Binance BTCUSDT perpetual tick 0.1 USD; a sell rounds down to the tick
    assert order["price"] == pytest.approx(np.floor(level.value_area_high_usd * 10) / 10)
    assert "--limit-at vah: sell BTC at" in proc.stderr
    # a numbered price; then live on paper so that a close has something to buy back
    proc = althedge("hedge", "open", "examples/portfolio.toml", "--at", at, "--prices",
                    str(shared_data), "--limit-at", "60000", "--live", "--json", *home)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["orders"][0]["price"] == 60000.0
    assert "through the mark" in proc.stderr  # a sell at 60,000 under a ~68,800 mark
    # a later rebalance works at the mark again: the open's level is not reused
    proc = althedge("hedge", "rebalance", "--threshold", "0", "--at", "2024-06-20", "--json",
                    *home)
    assert proc.returncode == 0, proc.stderr
    resize = json.loads(proc.stdout)["orders"]
    assert resize and all(o["price"] != 60000.0 for o in resize)
    assert all(o["price"] == pytest.approx(o["mark_price_usd"], rel=1e-5) for o in resize)
    close_level = build_levels(open_source(shared_data), "BTC", as_of=date(2024, 6, 20))
    proc = althedge("hedge", "close", "--at", "2024-06-20", "--limit-at", "poc", "--json", *home)
    assert proc.returncode == 0, proc.stderr
    buy = json.loads(proc.stdout)["orders"][0]
    assert buy["side"] == "buy" and buy["reduce_only"]
    assert buy["price"] == pytest.approx(np.ceil(close_level.poc_usd * 10) / 10)
    proc = althedge("hedge", "close", "--at", "2024-06-20", "--limit-at", "support", *home)
    assert proc.returncode == 2 and proc.stderr.startswith("error: --limit-at:")


def test_levels_from_stale_data_are_refused_for_a_real_exchange(shared_data: Path) -> None:
    from althedge.errors import DataError, InputError
    from althedge.services.levels import limit_prices_for_assets

    src = open_source(shared_data)
    # the paper venue at a past date: fine (levels as of that date)
    got = limit_prices_for_assets(src, ["BTC"], "poc", "sell", as_of=date(2024, 6, 3))
    assert got["BTC"] == build_levels(src, "BTC", as_of=date(2024, 6, 3)).poc_usd
    # a real exchange trades today: bars ending years ago give no level
    with pytest.raises(DataError, match=r"--limit-at: the BTC bars .* end on 2024-06-03"):
        limit_prices_for_assets(src, ["BTC"], "poc", "sell", as_of=date(2024, 6, 3),
                                fresh_on=date(2026, 12, 1))
    # a plain price needs one hedge asset
    with pytest.raises(InputError, match="a price applies to one hedge asset"):
        limit_prices_for_assets(src, ["BTC", "ETH"], "65000", "sell")
