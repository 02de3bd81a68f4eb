"""`hedge.sampling = "1h"`: the plan measures betas from hourly returns (issue 13)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from althedge.config import parse_portfolio
from althedge.data import bundled_source, open_source
from althedge.errors import ConfigError, DataQualityError
from althedge.services.plan import build_plan


def _portfolio(**hedge: object) -> dict:
    return {
        "holdings": [
            {"asset": "SOL", "amount": 120, "class": "l1"},
            {"asset": "AVAX", "amount": 400, "class": "l1"},
            {"asset": "LINK", "amount": 500, "class": "defi"},
        ],
        "hedge": {"exchange": "binance", "contract": "linear", **hedge},
    }


def _hourly_close(asset: str) -> pd.Series:
    """Independent read of the bundled Parquet file (pandas only)."""
    path = Path(__file__).resolve().parents[2] / "src" / "althedge" / "bundled"
    f = pd.read_parquet(path / f"{asset}-USD_1h.parquet")
    return pd.Series(f["close"].to_numpy(dtype=float), index=pd.DatetimeIndex(f["timestamp"]))


def test_hourly_betas_match_pandas_ols_on_consecutive_bars() -> None:
    cfg = parse_portfolio(_portfolio(sampling="1h", lookback_days=30))
    plan = build_plan(cfg, bundled_source(), date(2024, 8, 5))
    assert plan.sampling == "1h" and plan.to_dict()["sampling"] == "1h"
    btc = _hourly_close("BTC")
    lo, hi = pd.Timestamp("2024-07-07 00:00"), pd.Timestamp("2024-08-05 23:00")
    for line in plan.holdings:
        frame = pd.DataFrame({"a": _hourly_close(line.asset), "b": btc}).loc[lo - pd.Timedelta(
            hours=1): hi]
        step_ok = frame.index.to_series().diff() == pd.Timedelta(hours=1)
        r = frame.pct_change(fill_method=None)[step_ok].loc[lo:].dropna()
        expected = np.cov(r["a"], r["b"], ddof=1)[0, 1] / np.var(r["b"], ddof=1)
        assert line.beta_source == "measured"
        assert line.observations == len(r)
        assert 0.95 * 30 * 24 <= line.observations <= 30 * 24
        assert line.beta == pytest.approx(expected, rel=1e-9)


def test_daily_sampling_is_unchanged_by_default() -> None:
    cfg = parse_portfolio(_portfolio())
    plan = build_plan(cfg, bundled_source(), date(2024, 8, 5))
    assert plan.sampling == "1d" and all(h.observations <= 90 for h in plan.holdings)


def test_hourly_ewma_keeps_its_half_life_in_days() -> None:
    """ewma_lambda is daily: per hour it is λ^(1/24), so the hourly and daily EWMA betas
    weigh the same days (they agree to within the sampling noise, not a factor)."""
    base = {"beta_method": "ewma", "ewma_lambda": 0.97, "lookback_days": 120}
    hourly = build_plan(parse_portfolio(_portfolio(sampling="1h", **base)), bundled_source(),
                        date(2024, 8, 5))
    daily = build_plan(parse_portfolio(_portfolio(**base)), bundled_source(), date(2024, 8, 5))
    for h, d in zip(hourly.holdings, daily.holdings, strict=True):
        assert h.beta_method == "ewma"
        assert h.beta == pytest.approx(d.beta, rel=0.35)


def test_no_hourly_prices_falls_back_to_daily_with_a_warning(tmp_path: Path) -> None:
    src = bundled_source()
    for a in ("SOL", "AVAX", "LINK", "BTC"):
        shutil.copy(src.entry(a).file, tmp_path / f"{a}-USD_1d.csv")  # type: ignore[arg-type]
    plan = build_plan(parse_portfolio(_portfolio(sampling="1h")), open_source(tmp_path),
                      date(2024, 8, 5))
    assert plan.sampling == "1d"
    assert any("no hourly closes" in w for w in plan.warnings)


def test_terra_hour_is_measured_not_refused(shared_data: Path) -> None:
    """On the shared Binance hourly data the 2022-05-11 crash hour is kept (market-wide)."""
    cfg = parse_portfolio(_portfolio(sampling="1h", lookback_days=30))
    plan = build_plan(cfg, open_source(shared_data), date(2022, 5, 20))
    assert plan.sampling == "1h"
    assert all(h.beta_source == "measured" for h in plan.holdings)


def test_keep_bars_in_the_portfolio_file_and_as_an_argument(tmp_path: Path) -> None:
    """A bad print in SOL's hourly file is refused; keeping that bar lets the plan run."""
    src = bundled_source()
    for a in ("SOL", "AVAX", "LINK", "BTC"):
        shutil.copy(src.entry(a).file, tmp_path / f"{a}-USD_1d.csv")  # type: ignore[arg-type]
        f = pd.read_parquet(src.entry(a, "1h").file)  # type: ignore[arg-type]
        if a == "SOL":
            at = f.index[f["timestamp"] == pd.Timestamp("2024-08-01 12:00")][0]
            f.loc[at, "close"] = f.loc[at, "close"] * 4
        f.to_parquet(tmp_path / f"{a}-USD_1h.parquet", index=False)
    cfg = parse_portfolio(_portfolio(sampling="1h", lookback_days=30))
    with pytest.raises(DataQualityError, match="SOL: spike at 2024-08-01T12:00:00"):
        build_plan(cfg, open_source(tmp_path), date(2024, 8, 5))
    plan = build_plan(cfg, open_source(tmp_path), date(2024, 8, 5),
                      keep_bars=["SOL:spike@2024-08-01T12:00"])
    assert plan.holdings[0].beta_source == "measured"
    kept = parse_portfolio(_portfolio(sampling="1h", lookback_days=30,
                                      keep_bars=["spike@2024-08-01 12:00"]))
    assert build_plan(kept, open_source(tmp_path), date(2024, 8, 5)).sampling == "1h"
    with pytest.raises(ConfigError, match="keep_bars"):
        parse_portfolio(_portfolio(keep_bars=["blip@2024-08-01"]))


def test_min_observations_counts_days_on_hourly_returns() -> None:
    """A coin with 10 days of hourly history (240 returns) is below min_observations = 30
    days: its beta is assumed, as it would be with 10 daily returns."""
    src = bundled_source()
    cfg = parse_portfolio(_portfolio(sampling="1h", lookback_days=60, min_observations=30))
    plan = build_plan(cfg, src, date(2024, 8, 5))
    assert all(h.beta_source == "measured" for h in plan.holdings)
    short = parse_portfolio(_portfolio(sampling="1h", lookback_days=10, min_observations=30))
    thin = build_plan(short, src, date(2024, 8, 5))
    assert all(h.beta_source == "assumed" for h in thin.holdings)
    assert all(h.observations < 30 * 24 for h in thin.holdings)


def test_hourly_plan_does_not_look_ahead(tmp_path: Path) -> None:
    """Scrambling every hourly close after the valuation day leaves the betas unchanged."""
    src = bundled_source()
    rng = np.random.default_rng(5)
    for a in ("SOL", "AVAX", "LINK", "BTC"):
        shutil.copy(src.entry(a).file, tmp_path / f"{a}-USD_1d.csv")  # type: ignore[arg-type]
        f = pd.read_parquet(src.entry(a, "1h").file)  # type: ignore[arg-type]
        f["close"] = f["close"].astype(float)
        later = f["timestamp"] >= pd.Timestamp("2024-08-06 00:00")
        f.loc[later, "close"] = f.loc[later, "close"] * rng.uniform(0.5, 2.0, int(later.sum()))
        f.to_parquet(tmp_path / f"{a}-USD_1h.parquet", index=False)
    cfg = parse_portfolio(_portfolio(sampling="1h", lookback_days=30))
    base = build_plan(cfg, src, date(2024, 8, 5))
    moved = build_plan(cfg, open_source(tmp_path), date(2024, 8, 5))
    assert moved.sampling == "1h"
    for a, b in zip(base.holdings, moved.holdings, strict=True):
        assert (a.beta, a.observations) == (b.beta, b.observations)
