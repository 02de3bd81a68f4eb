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


def _old_cache(data_dir: object) -> object:
    """A Deribit funding cache as althedge wrote it before the fix: hourly rows carrying
    the 8-hour rate (0.0008) as if it were the hour's, no cache version in the metadata."""
    import pandas as pd

    from althedge.data.cache import ParquetCache

    cache = ParquetCache(data_dir)  # type: ignore[arg-type]
    path = cache.path("deribit", "BTC/USD:BTC", "funding")
    path.parent.mkdir(parents=True)
    idx = pd.DatetimeIndex(pd.to_datetime(list(range(START, offline.CLOCK_MS - 2 * 24 * HOUR,
                                                     HOUR)), unit="ms"), name="timestamp")
    frame = pd.DataFrame({"funding_rate": 0.0008, "interval_hours": 1.0}, index=idx)
    frame.attrs = {"covered_from_ms": START}  # what merge_write kept, and nothing else
    frame.to_parquet(path)
    return path


def test_a_deribit_funding_cache_written_before_the_fix_is_refetched(tmp_path: object) -> None:
    """Online: the stale file (8× rates) is not merged with — it is fetched again whole,
    and the new file carries the cache version."""
    from pathlib import Path

    import pandas as pd

    from althedge.data.cache import CACHE_VERSION
    from althedge.data.ccxt_source import CcxtPriceSource

    path = _old_cache(Path(str(tmp_path)))
    md, _replay, router, _sim = offline.offline_market_data("deribit")
    router.routes["/api/v2/public/get_funding_rate_history"] = _history
    src = CcxtPriceSource(md.exchange, data_dir=Path(str(tmp_path)), market_data=md)
    events = src.funding_history("BTC/USD:BTC", start=pd.Timestamp(START, unit="ms"))
    assert len(events) == 72
    assert events["funding_rate"].to_numpy() == pytest.approx(0.0001)  # none of the 8× rows
    assert pd.read_parquet(path).attrs.get("cache_version") == CACHE_VERSION
    assert pd.read_parquet(path)["funding_rate"].to_numpy() == pytest.approx(0.0001)


def test_a_stale_deribit_funding_cache_is_refused_offline_in_one_line(tmp_path: object) -> None:
    from pathlib import Path

    from althedge.data.ccxt_source import CcxtPriceSource
    from althedge.errors import DataError

    _old_cache(Path(str(tmp_path)))
    src = CcxtPriceSource("deribit", data_dir=Path(str(tmp_path)), offline=True)
    with pytest.raises(DataError, match="8×") as info:
        src.funding_history("BTC/USD:BTC")
    text = str(info.value)
    assert "\n" not in text and "data fetch" in text


def test_other_caches_written_before_the_version_stay_valid(tmp_path: object) -> None:
    """Only Deribit's funding was wrong: an old Binance funding file is still read."""
    from pathlib import Path

    import pandas as pd

    from althedge.data.cache import ParquetCache
    from althedge.data.ccxt_source import CcxtPriceSource

    cache = ParquetCache(Path(str(tmp_path)))
    path = cache.path("binance", "BTC/USDT:USDT", "funding")
    path.parent.mkdir(parents=True)
    idx = pd.DatetimeIndex(pd.to_datetime([START, START + 8 * HOUR], unit="ms"), name="timestamp")
    pd.DataFrame({"funding_rate": 0.0001, "interval_hours": 8.0}, index=idx).to_parquet(path)
    src = CcxtPriceSource("binance", data_dir=Path(str(tmp_path)), offline=True)
    assert len(src.funding_history("BTC/USDT:USDT")) == 2
