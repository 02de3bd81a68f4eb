"""A plan end to end against the ccxt source, offline: a real ccxt Binance object whose HTTP
transport answers from recorded fixtures (tests/fixtures/ccxt_data), through the Parquet cache."""

from __future__ import annotations

import importlib.util
import math
from datetime import date
from pathlib import Path
from types import ModuleType

import pytest

from althedge.config import parse_portfolio
from althedge.services.plan import build_plan


def _offline() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "fixtures" / "ccxt_data" / "offline.py"
    spec = importlib.util.spec_from_file_location("ccxt_offline_plan", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_plan_runs_on_ccxt_source_offline(tmp_path: Path) -> None:
    offline = _offline()
    source = offline.offline_price_source(tmp_path)
    cfg = parse_portfolio(
        {
            "holdings": [{"asset": "SOL", "amount": 300}, {"asset": "ETH", "amount": 5}],
            "hedge": {"exchange": "binance", "contract": "linear", "lookback_days": 30,
                      "min_observations": 20, "rounding": "down"},
        }
    )
    plan = build_plan(cfg, source, date(2024, 2, 29))
    closes = source.closes(["SOL", "ETH", "BTC"], end="2024-02-29")
    # valuation from the exchange's own candles, and measured betas
    sol = next(h for h in plan.holdings if h.asset == "SOL")
    assert sol.price_usd == pytest.approx(float(closes["SOL"].dropna().iloc[-1]))
    assert all(h.beta_source == "measured" and math.isfinite(h.beta) for h in plan.holdings)
    assert plan.hedge.hedge_price_usd == pytest.approx(float(closes["BTC"].dropna().iloc[-1]))
    assert plan.hedge.contracts > 0 and plan.hedge.instrument == "BTC/USDT:USDT"
    # the funding rate in force came from the exchange's funding history, not an assumption
    assert plan.hedge.funding_rate_source.startswith("history")
    # ccxt built real requests (klines) through the offline transport
    urls = [r.url for r in offline.replay_of(source).requests]
    assert any("klines" in u for u in urls)
