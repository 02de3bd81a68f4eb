"""`althedge data fetch --exchange bingx|mexc|weex|hyperliquid` through the real console entry.

A real ccxt object of each exchange runs inside the althedge process; ALTHEDGE_CCXT_GATEWAY
sends its requests to a 127.0.0.1 server answering in that exchange's documented shapes
(tests/fixtures/ccxt_data/offline.py). Checked: daily and hourly candles and the funding
history are cached, a longer range asks only for what is missing, Hyperliquid's funding is
hourly (docs "Funding": paid every hour), MEXC's funding history pages by number (newest
first), and what an exchange lacks is one clear line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .test_data import offline, run

FEB_1_MS = 1_706_745_600_000

#: exchange, perpetual, spot symbol (None: no spot market), funding events to 2024-01-31
CASES = [
    ("bingx", "BTC/USDT:USDT", "SOL/USDT", 91),
    ("mexc", "BTC/USDT:USDT", "SOL/USDT", 91),
    ("weex", "BTC/USDT:USDT", None, 91),
    ("hyperliquid", "BTC/USDC:USDC", None, 721),  # hourly: 30 days × 24 + 1
]


def _candle_start_ms(exchange: str, req: Any) -> int | None:
    """The first bar a candle request asks for, in the exchange's own parameter."""
    if exchange == "hyperliquid":
        body = json.loads(req.body or "{}")
        return int(body["req"]["startTime"]) if body.get("type") == "candleSnapshot" else None
    if exchange == "mexc" and "/contract/kline/" in req.path:
        return int(req.params["start"]) * 1000
    if "kline" in req.path.lower():
        return int(req.params["startTime"])
    return None


@pytest.mark.parametrize(("exchange", "perp", "spot", "events"), CASES)
def test_fetch_candles_and_funding_then_only_what_is_missing(
    tmp_path: Path, exchange: str, perp: str, spot: str | None, events: int
) -> None:
    home = tmp_path / "home"
    symbols = ",".join(s for s in (perp, spot) if s)
    with offline.proxy_server(exchange) as (url, _router, seen, _sim):
        env = {"ALTHEDGE_CCXT_GATEWAY": url}
        proc = run("fetch", "--exchange", exchange, "--symbols", symbols, "--since",
                   "2024-01-01", "--until", "2024-01-31", "--data-dir", str(home), "--json",
                   env=env)
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
        assert out["exchange"] == exchange and out["notes"] == []
        rows = {r["symbol"]: r for r in out["fetched"]}
        assert rows[perp]["rows"] == 31 and rows[perp]["last"] == "2024-01-31"
        assert rows[perp]["funding_events"] == events
        assert rows[perp]["funding_interval_hours"] == (1.0 if exchange == "hyperliquid"
                                                        else 8.0)
        if spot:
            assert rows[spot]["rows"] == 31
        first = len(seen)
        proc = run("fetch", "--exchange", exchange, "--symbols", perp, "--since", "2024-01-01",
                   "--until", "2024-02-29", "--data-dir", str(home), "--json", env=env)
        assert proc.returncode == 0, proc.stderr
        again = json.loads(proc.stdout)["fetched"][0]
        assert again["rows"] == 60 and again["last"] == "2024-02-29"
        starts = [s for s in (_candle_start_ms(exchange, r) for r in seen[first:])
                  if s is not None]
        assert starts and min(starts) >= FEB_1_MS - 1  # only February was asked for
        hourly = run("fetch", "--exchange", exchange, "--symbols", perp, "--timeframe", "1h",
                     "--since", "2024-01-01", "--until", "2024-01-03", "--no-funding",
                     "--data-dir", str(home), "--json", env=env)
        assert hourly.returncode == 0, hourly.stderr
        assert json.loads(hourly.stdout)["fetched"][0]["rows"] == 49
    listed = json.loads(run("list", "--data-dir", str(home), "--json").stdout)["series"]
    assert {(s["exchange"], s["symbol"], s["timeframe"]) for s in listed} >= {
        (exchange, perp, "1d"), (exchange, perp, "1h"), (exchange, perp, "funding")}


def _january(tmp_path: Path, exchange: str, symbol: str) -> tuple[Any, list[Any]]:
    """``data fetch`` of January 2024 (the process, the requests its ccxt object made)."""
    with offline.proxy_server(exchange) as (url, _router, seen, _sim):
        proc = run("fetch", "--exchange", exchange, "--symbols", symbol, "--since",
                   "2024-01-01", "--until", "2024-01-31", "--data-dir", str(tmp_path),
                   "--json", env={"ALTHEDGE_CCXT_GATEWAY": url})
    return proc, list(seen)


def test_mexc_funding_pages_by_number_newest_first(tmp_path: Path) -> None:
    proc, seen = _january(tmp_path, "mexc", "BTC/USDT:USDT")
    assert proc.returncode == 0, proc.stderr
    pages = [int(r.params["page_num"]) for r in seen
             if r.path == "/api/v1/contract/funding_rate/history"]
    # 177 events from Feb 29 back: page 1 (Feb), page 2 reaches before Jan 1 and stops
    assert pages == [1, 2]


def test_bingx_coin_m_has_no_funding_history_one_note(tmp_path: Path) -> None:
    proc, _seen = _january(tmp_path, "bingx", "BTC/USD:BTC")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["fetched"][0]["rows"] == 31 and out["fetched"][0]["funding_events"] is None
    assert out["notes"] == ["bingx offers no funding-rate history for BTC/USD:BTC through "
                            "ccxt; candles only"]
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(("exchange", "symbol", "since", "message"), [
    ("weex", "SOL/USDT", "2023-12-01",
     "weex: SOL/USDT 1d candles reach back only to 2024-01-01 (the exchange serves only its "
     "latest bars here, no start time); use --since 2024-01-01"),
    ("hyperliquid", "SOL/USDT", "2024-01-01", "hyperliquid: symbol 'SOL/USDT' is not listed"),
])
def test_what_an_exchange_lacks_is_one_line(
    tmp_path: Path, exchange: str, symbol: str, since: str, message: str
) -> None:
    with offline.proxy_server(exchange) as (url, _router, _seen, _sim):
        proc = run("fetch", "--exchange", exchange, "--symbols", symbol, "--since", since,
                   "--until", "2024-01-31", "--data-dir", str(tmp_path),
                   env={"ALTHEDGE_CCXT_GATEWAY": url})
    assert proc.returncode == 3, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
