"""Plan and monitor follow the portfolio's [hedge] triggers (same rules as the backtest)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from althedge.config import parse_portfolio
from althedge.data import open_source
from althedge.journal import Journal
from althedge.services.lifecycle import open_hedge
from althedge.services.monitor import run_monitor
from althedge.services.plan import build_plan
from althedge.venues.paper import PaperExchange

PORTFOLIO: dict[str, Any] = {
    "name": "trigger bag",
    "holdings": [{"asset": "SOL", "amount": 120}, {"asset": "LINK", "amount": 500}],
    "hedge": {"exchange": "binance", "contract": "linear", "leverage": 2,
              "triggers": ["calendar:2024-06-01..2024-06-10", "trend:200"],
              "trigger_hold_days": 0},
    "limits": {"max_notional_usd": 250_000, "max_contracts": 1000, "max_leverage": 5},
}


@pytest.fixture(scope="module")
def source(shared_data: Path) -> Any:
    return open_source(shared_data / "daily")


def test_plan_says_which_trigger_is_on_today_and_why(source: Any) -> None:
    pf = parse_portfolio(PORTFOLIO)
    plan = build_plan(pf, source, date(2024, 6, 5))
    tr = plan.triggers
    assert tr is not None and tr.as_of == "2024-06-05"
    cal, trend = tr.readings
    assert cal.trigger == "calendar:2024-06-01..2024-06-10" and cal.on
    assert cal.since == "2024-06-01"
    # BTC against its 200-day mean on 2024-06-05, recomputed with pandas
    btc = source.closes(["BTC"], end=pd.Timestamp("2024-06-05"))["BTC"]
    ma = btc.rolling(200).mean().iloc[-1]
    assert trend.on == bool(btc.iloc[-1] < ma * 0.99)
    assert f"{100 * (btc.iloc[-1] / ma - 1):+.1f} %" in trend.why
    assert tr.hedge_on  # any trigger on
    d = plan.to_dict()["triggers"]
    assert d["hedge_on"] is True and d["readings"][0]["since"] == "2024-06-01"
    assert build_plan(parse_portfolio({**PORTFOLIO, "hedge": {}}), source,
                      date(2024, 6, 5)).triggers is None


def test_monitor_alerts_hedge_now_and_de_hedge_now(tmp_path: Path, source: Any) -> None:
    pf = parse_portfolio({**PORTFOLIO, "hedge": {**PORTFOLIO["hedge"],
                                                 "triggers": ["calendar:2024-06-01..2024-06-10"]}})
    with Journal(tmp_path / "journal.sqlite") as j:
        v = PaperExchange.open(tmp_path / "paper", source=source, at=date(2024, 5, 27),
                               persist=True)
        open_hedge(j, v, pf, source, as_of=date(2024, 5, 27), live=True)
        v.save()
        lines: list[str] = []

        def venue_at(day: date | None) -> tuple[Any, Any, date | None]:
            assert day is not None
            return (PaperExchange.open(tmp_path / "paper", source=source, at=day,
                                       persist=True), source, day)

        summary = run_monitor(j, venue_at, every_s=0.0, iterations=5, start=date(2024, 5, 27),
                              advance_days=4, on_line=lines.append, sleep=lambda _s: None)
    kinds = [(a["as_of"], a["kind"]) for a in summary.alerts
             if a["kind"] in ("hedge_now", "dehedge_now")]
    # 05-27: off while a hedge is open → de-hedge; 05-31 off: nothing; 06-04 on → hedge;
    # 06-08 still on: nothing; 06-12 off → de-hedge
    assert kinds == [("2024-05-27", "dehedge_now"), ("2024-06-04", "hedge_now"),
                     ("2024-06-12", "dehedge_now")]
    msgs = [a["message"] for a in summary.alerts if a["kind"] in ("hedge_now", "dehedge_now")]
    assert msgs[0].startswith("de-hedge now:") and "outside every hedge window" in msgs[0]
    assert msgs[1].startswith("hedge now: calendar:2024-06-01..2024-06-10 on since 2024-06-01")
    assert any(line.startswith("ALERT [warning] hedge now") for line in lines)
