"""Deribit's public funding history: hourly rows that carry the 8-hour rate.

Deribit API v2 docs, public/get_funding_rate_history: each hourly row has
``interest_1h`` (the rate for that hour) and ``interest_8h`` (the same level expressed
per 8 hours); ccxt's ``fundingRate`` is ``interest_8h``. Read as a per-row rate it made
the data layer's Deribit funding 8× too high.
"""

from __future__ import annotations

import importlib.util
import pathlib

import pytest

from althedge.data.ccxt_source import funding_to_daily_8h
from althedge.data.replay import Reply

_p = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "ccxt_data" / "offline.py"
_spec = importlib.util.spec_from_file_location("ccxt_offline_deribit_funding", _p)
assert _spec is not None and _spec.loader is not None
offline = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(offline)

HOUR = 3_600_000
START = offline.CLOCK_MS - 3 * 24 * HOUR


def _history(req: object) -> Reply:
    lo = int(req.param("start_timestamp") or 0)  # type: ignore[attr-defined]
    hi = int(req.param("end_timestamp") or 10**15)  # type: ignore[attr-defined]
    rows = [
        {"timestamp": t, "index_price": 62_000.0, "prev_index_price": 61_990.0,
         "interest_8h": 0.0008, "interest_1h": 0.0001}
        for t in range(START, offline.CLOCK_MS, HOUR) if lo <= t <= hi
    ]
    return Reply({"jsonrpc": "2.0", "result": rows, "usIn": 0, "usOut": 0, "usDiff": 0})


def test_deribit_hourly_rows_are_hourly_rates_not_8h_rates() -> None:
    md, _replay, router, _sim = offline.offline_market_data("deribit")
    router.routes["/api/v2/public/get_funding_rate_history"] = _history
    events = md.fetch_funding_history("BTC/USD:BTC", since_ms=START, until_ms=offline.CLOCK_MS)
    assert len(events) == 72
    assert (events["interval_hours"] == 1.0).all()
    assert events["funding_rate"].to_numpy() == pytest.approx(0.0001)  # interest_1h
    daily = funding_to_daily_8h(events)
    assert daily.to_numpy() == pytest.approx(0.0008)  # per 8 h: interest_8h, not 8× it
    # a day of hourly payments sums to 3 × the 8-hour rate
    assert events["funding_rate"].iloc[:24].sum() == pytest.approx(3 * 0.0008)
