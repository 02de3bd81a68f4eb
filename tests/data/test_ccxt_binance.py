"""The ccxt source against a real ccxt.binance object whose HTTP transport answers offline.

Requests are built (and, for private endpoints, signed) by ccxt itself; responses come from
tests/fixtures/ccxt_data. Candles are real Yahoo daily bars (2024-01/02), funding is Binance's
BTCUSDT history; the clock is fixed at 2024-03-01.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest
import requests

from althedge.core.instruments import ContractType
from althedge.data.ccxt_source import CcxtPriceSource
from althedge.data.replay import Reply
from althedge.errors import DataError, ExchangeError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ccxt_data"


def _load_offline() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ccxt_offline", FIXTURES / "offline.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


offline = _load_offline()
JAN1 = 1_704_067_200_000
DAY = 86_400_000


def starts(replay, path: str) -> list[int]:  # type: ignore[no-untyped-def]
    return [int(r.params["startTime"]) for r in replay.requests if r.path == path]


def test_load_markets_through_real_ccxt() -> None:
    md, replay, _r, _s = offline.offline_market_data("binance")
    markets = md.load_markets()
    assert {"SOL/USDT", "BTC/USDT:USDT", "BTC/USD:BTC", "BTC/USDT:USDT-240628"} <= set(markets)
    assert replay.paths() == ["/api/v3/exchangeInfo", "/fapi/v1/exchangeInfo",
                              "/dapi/v1/exchangeInfo"]


def test_ohlcv_pagination_over_long_range() -> None:
    md, replay, _r, sim = offline.offline_market_data("binance")
    frame = md.fetch_ohlcv("SOL/USDT", "1d", since_ms=JAN1, page_limit=25)
    assert len(frame) == 60 and frame.index[0] == pd.Timestamp("2024-01-01")
    assert frame.index[-1] == pd.Timestamp("2024-02-29")
    expected = [r[4] for r in offline.CANDLES["SOL"]]
    assert frame["close"].tolist() == pytest.approx(expected)
    # three pages of 25, 25, 10 bars, each starting after the last bar received
    assert starts(replay, "/api/v3/klines") == [JAN1, JAN1 + 25 * DAY, JAN1 + 50 * DAY]
    # the exchange caps pages below the limit asked: still complete
    sim.max_page = 7
    assert len(md.fetch_ohlcv("BTC/USDT", "1d", since_ms=JAN1, page_limit=25)) == 60


def test_rate_limit_error_then_retry_with_backoff() -> None:
    sleeps: list[float] = []
    md, replay, router, _s = offline.offline_market_data("binance", sleeps=sleeps)
    router.queue["/api/v3/klines"] = [
        Reply({"code": -1003, "msg": "Too many requests; current limit is 1200 weight"}, 429)]
    frame = md.fetch_ohlcv("ETH/USDT", "1d", since_ms=JAN1)
    assert len(frame) == 60
    assert starts(replay, "/api/v3/klines")[:2] == [JAN1, JAN1]  # the same page asked again
    assert len(sleeps) == 1 and sleeps[0] >= 1.0
    # ccxt maps HTTP 429 / code -1003 to RateLimitExceeded or DDoSProtection (both retried)
    assert "RateLimitExceeded" in md.attempts_log[0] or "DDoSProtection" in md.attempts_log[0]


def test_timeouts_retry_with_growing_backoff_then_give_up() -> None:
    sleeps: list[float] = []
    md, _replay, router, _s = offline.offline_market_data("binance", sleeps=sleeps, retries=3)
    md.load_markets()
    router.queue["/api/v3/klines"] = [requests.Timeout("read timed out")] * 2
    assert len(md.fetch_ohlcv("BTC/USDT", "1d", since_ms=JAN1)) == 60
    assert sleeps == [1.0, 2.0]
    router.queue["/api/v3/klines"] = [requests.Timeout("read timed out")] * 10
    with pytest.raises(ExchangeError) as exc:
        md.fetch_ohlcv("BTC/USDT", "1d", since_ms=JAN1)
    msg = str(exc.value)
    assert "RequestTimeout" in msg and "4 attempts" in msg and "\n" not in msg
    assert sleeps == [1.0, 2.0, 1.0, 2.0, 4.0]


def test_bad_symbol_messages() -> None:
    md, replay, _r, sim = offline.offline_market_data("binance")
    with pytest.raises(DataError, match=r"'SOL/USDX' is not listed.*SOL/USDT"):
        md.fetch_ohlcv("SOL/USDX", "1d")
    sim.invalid_symbols.add("ETHUSDT")  # listed, but the exchange answers -1121 Invalid symbol
    with pytest.raises(DataError) as exc:
        md.fetch_ohlcv("ETH/USDT", "1d", since_ms=JAN1)
    msg = str(exc.value)
    assert "does not list this symbol" in msg and "Invalid symbol" in msg and "\n" not in msg
    assert replay.paths().count("/api/v3/klines") == 1  # BadSymbol is not retried


def test_exchange_error_never_leaks_keys_or_signature() -> None:
    md, replay, router, _s = offline.offline_market_data("binance", api_keys=True)
    md.load_markets()
    router.queue["/fapi/v1/leverageBracket"] = [
        Reply({"code": -1022, "msg": "Signature for this request is not valid."}, 400)]
    with pytest.raises(ExchangeError) as exc:
        md.leverage_tiers("BTC/USDT:USDT")
    msg = str(exc.value)
    signed = replay.requests[-1]
    assert "signature" in signed.params  # ccxt really signed it
    assert signed.params["signature"] not in msg and "test-key" not in msg
    assert "test-secret" not in msg and "\n" not in msg


def test_instrument_from_live_specs_and_leverage_brackets() -> None:
    md, _replay, _r, _s = offline.offline_market_data("binance", api_keys=True)
    inst = md.instrument("BTC/USDT:USDT")
    assert inst.contract_type == ContractType.LINEAR and inst.contract_size == 1.0
    assert (inst.tick_size, inst.lot_step, inst.min_contracts) == (0.1, 0.001, 0.001)
    assert inst.funding_interval_hours == 8.0 and inst.expiry is None
    assert inst.specs_as_of == "live" and inst.max_leverage == 125
    # Binance "Leverage and Margin of USDⓈ-M Futures": BTCUSDT tier 2 is 50k-600k at 0.5 %,
    # maintenance amount (cum) 50 USDT.
    t2 = inst.tier_for_notional(100_000)
    assert (t2.floor, t2.cap, t2.mmr, t2.maint_amount) == (50_000, 600_000, 0.005, 50.0)
    coinm = md.instrument("BTC/USD:BTC", with_tiers=False)
    assert coinm.is_inverse and coinm.contract_size == 100.0 and coinm.lot_step == 1.0
    dated = md.instrument("BTC/USDT:USDT-240628", with_tiers=False)
    assert dated.expiry is not None and dated.expiry.isoformat() == "2024-06-28"
    assert dated.funding_interval_hours is None


def test_instrument_without_keys_falls_back_to_builtin_tiers() -> None:
    md, replay, _r, _s = offline.offline_market_data("binance")
    inst = md.instrument("BTC/USDT:USDT")
    assert "/fapi/v1/leverageBracket" not in replay.paths() or inst.tiers
    assert inst.tiers and inst.tiers[0].mmr == pytest.approx(0.004)
    assert inst.specs_as_of.startswith("live; margin tiers built-in (")
    assert inst.specs_as_of.endswith("binance serves them to signed requests only (set "
                                     "read-only API keys)")


def test_funding_history_current_funding_and_basis() -> None:
    md, replay, _r, _s = offline.offline_market_data("binance")
    hist = md.fetch_funding_history("BTC/USDT:USDT", since_ms=JAN1, page_limit=40)
    assert len(hist) == 180 and (hist["interval_hours"] == 8.0).all()  # Jan + Feb, 3 a day
    assert starts(replay, "/fapi/v1/fundingRate")[0] == JAN1
    assert len(starts(replay, "/fapi/v1/fundingRate")) >= 3  # paginated
    now = md.funding_now("BTC/USDT:USDT")
    assert now.rate == pytest.approx(0.00031) and now.interval_hours == 8.0
    assert now.mark_price == pytest.approx(61500.1) and now.index_price == pytest.approx(61480.55)
    assert now.next_funding_time is not None and now.next_funding_time.hour == 8
    quotes = md.dated_futures("BTC")
    usdm = next(q for q in quotes if q.symbol == "BTC/USDT:USDT-240628")
    assert usdm.days_to_expiry == pytest.approx(119 + 8 / 24)
    assert usdm.basis == pytest.approx(63950 / 61480.55 - 1)
    assert usdm.annualised_basis == pytest.approx((63950 / 61480.55 - 1) * 365 / (119 + 1 / 3))


# --- the PriceSource through the cache --------------------------------------------------------

def test_price_source_fetches_incrementally(tmp_path: Path) -> None:
    src = offline.offline_price_source(tmp_path, page_limit=20)
    replay = offline.replay_of(src)
    jan = src.closes(["BTC", "SOL"], start="2024-01-01", end="2024-01-31")
    assert list(jan.columns) == ["BTC", "SOL"] and len(jan) == 31
    assert jan.loc["2024-01-01", "BTC"] == pytest.approx(44167.332031)
    first_round = len(replay.requests)
    assert src.closes(["BTC", "SOL"], start="2024-01-01", end="2024-01-31").equals(jan)
    assert len(replay.requests) == first_round  # fully cached: nothing asked
    both = src.closes(["BTC", "SOL"], start="2024-01-01", end="2024-02-29")
    assert len(both) == 60
    new = [r for r in replay.requests[first_round:] if r.path == "/api/v3/klines"]
    assert {r.params["symbol"] for r in new} == {"BTCUSDT", "SOLUSDT"}
    assert min(int(r.params["startTime"]) for r in new) == JAN1 + 31 * DAY  # only February
    assert (tmp_path / "cache" / "binance" / "SOL_USDT_1d.parquet").is_file()
    # another process, no network at all: the cache alone answers
    cached = CcxtPriceSource("binance", data_dir=tmp_path, offline=True)
    assert cached.closes(["SOL"], start="2024-01-01", end="2024-02-29")["SOL"].equals(both["SOL"])
    assert cached.symbols() == ["BTC", "SOL"]
    with pytest.raises(DataError, match="no cached 1d data for ETH/USDT"):
        cached.closes(["ETH"], start="2024-01-01")


def test_range_before_listing_is_not_asked_twice(tmp_path: Path) -> None:
    src = offline.offline_price_source(tmp_path, page_limit=100)
    replay = offline.replay_of(src)
    got = src.closes(["SOL"], start="2023-06-01", end="2024-01-31")  # data starts 2024-01-01
    assert got.index[0] == pd.Timestamp("2024-01-01") and len(got) == 31
    n = len(replay.requests)
    assert src.closes(["SOL"], start="2023-06-01", end="2024-01-31").equals(got)
    assert len(replay.requests) == n


def test_price_source_funding_rates(tmp_path: Path) -> None:
    src = offline.offline_price_source(tmp_path)
    rates = src.funding_rates("BTC", start="2024-01-01", end="2024-01-31 23:59")
    assert len(rates) == 31
    daily = pd.read_csv(FIXTURES.parents[2] / "src/althedge/bundled/BTCUSDT_funding_daily.csv",
                        index_col=0, parse_dates=True)["funding_mean"]
    # the fixture rounds each 8-hour rate to 1e-8, as Binance publishes them
    assert rates.to_numpy() == pytest.approx(daily.loc["2024-01-01":"2024-01-31"].to_numpy(),
                                             abs=1e-8)
    n = len(offline.replay_of(src).requests)
    src.funding_rates("BTC", start="2024-01-01", end="2024-01-31 23:59")
    assert len(offline.replay_of(src).requests) == n


def test_interrupted_download_leaves_cache_intact(tmp_path: Path) -> None:
    src = offline.offline_price_source(tmp_path, page_limit=10)
    src.closes(["SOL"], start="2024-01-01", end="2024-01-20")
    path = tmp_path / "cache" / "binance" / "SOL_USDT_1d.parquet"
    before = path.read_bytes()
    router = offline.replay_of(src).router
    real = router.routes["/api/v3/klines"]
    calls = {"n": 0}

    def first_page_then_connection_lost(req):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] >= 2:
            raise requests.ConnectionError("Connection aborted.")
        return real(req)

    router.routes["/api/v3/klines"] = first_page_then_connection_lost
    with pytest.raises(ExchangeError, match="NetworkError"):
        src.closes(["SOL"], start="2024-01-01", end="2024-02-29")
    assert calls["n"] == 1 + 4  # one good page, then the first try and three retries
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["SOL_USDT_1d.parquet"]


def test_atomic_write_survives_a_crash_mid_write(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    src = offline.offline_price_source(tmp_path)
    src.closes(["BTC"], start="2024-01-01", end="2024-01-10")
    path = tmp_path / "cache" / "binance" / "BTC_USDT_1d.parquet"
    before = path.read_bytes()

    def torn_write(self: pd.DataFrame, target: object, *a: object, **k: object) -> None:
        Path(str(target)).write_bytes(b"PAR1 half a file")
        raise KeyboardInterrupt  # the user pressed Ctrl-C while the file was being written

    monkeypatch.setattr(pd.DataFrame, "to_parquet", torn_write)
    with pytest.raises(KeyboardInterrupt):
        src.closes(["BTC"], start="2024-01-01", end="2024-02-29")
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["BTC_USDT_1d.parquet"]
    assert len(pd.read_parquet(path)) == 10


def test_fixtures_are_small() -> None:
    total = sum(p.stat().st_size for p in FIXTURES.iterdir() if p.is_file())
    assert total < 200_000
    json.loads((FIXTURES / "candles_1d.json").read_text())
    assert not math.isnan(total)


def test_binanceusdm_object_and_a_4_hour_funding_interval() -> None:
    md, replay, router, _s = offline.offline_market_data("binanceusdm")
    assert sorted(md.load_markets()) == ["BTC/USDT:USDT", "BTC/USDT:USDT-240628"]
    assert replay.paths() == ["/fapi/v1/exchangeInfo"]
    # Binance moved some symbols to 4-hour funding; fundingInfo says so per symbol
    router.routes["/fapi/v1/fundingInfo"] = [
        {"symbol": "BTCUSDT", "adjustedFundingRateCap": "0.02", "adjustedFundingRateFloor":
         "-0.02", "fundingIntervalHours": 4, "disclaimer": False}]
    inst = md.instrument("BTC/USDT:USDT", with_tiers=False)
    assert inst.exchange == "binance" and inst.funding_interval_hours == 4.0
    now = md.funding_now("BTC/USDT:USDT")
    assert now.rate == pytest.approx(0.00031)
    assert now.interval_hours == 4.0 and now.rate_8h == pytest.approx(0.00062)


def test_funding_default_range_is_a_year_and_cached(tmp_path: Path) -> None:
    src = offline.offline_price_source(tmp_path)
    rates = src.funding_rates("BTC", end="2024-02-29 23:59")
    assert rates.index[0] == pd.Timestamp("2024-01-01") and len(rates) == 60
    first_ask = next(r for r in offline.replay_of(src).requests
                     if r.path == "/fapi/v1/fundingRate")
    assert int(first_ask.params["startTime"]) == 1_677_628_800_000  # 2023-03-01, a year back
    n = len(offline.replay_of(src).requests)
    assert src.funding_rates("BTC", end="2024-02-29 23:59").equals(rates)
    assert len(offline.replay_of(src).requests) == n


def test_hourly_bars_paginate_and_cache(tmp_path: Path) -> None:
    src = offline.offline_price_source(tmp_path, page_limit=50)
    hourly = src.closes(["SOL"], start="2024-02-27", end="2024-02-29 23:00", timeframe="1h")
    assert len(hourly) == 72 and hourly.index[1] - hourly.index[0] == pd.Timedelta(hours=1)
    assert hourly["SOL"].iloc[-1] == pytest.approx(offline.CANDLES["SOL"][-1][4])
    klines = [r for r in offline.replay_of(src).requests if r.path == "/api/v3/klines"]
    assert [r.params["interval"] for r in klines] == ["1h", "1h"]  # 50 + 22 bars
    assert (tmp_path / "cache" / "binance" / "SOL_USDT_1h.parquet").is_file()
