"""Market data from any ccxt exchange: candles, funding, mark/index prices, dated futures, specs.

Two layers:

* :class:`CcxtMarketData` wraps one ccxt exchange object: paginated OHLCV and funding
  history, current funding rate and interval, mark and index prices, dated-futures quotes for
  the basis, and contract specs (``load_markets()`` + ``fetch_leverage_tiers()``) as core
  :class:`~althedge.core.instruments.Instrument`. Every call respects ccxt's rate limiter
  (``enableRateLimit``), retries ``NetworkError``/``RateLimitExceeded``/``RequestTimeout``
  with exponential backoff, and turns ccxt errors into one-line :class:`DataError` /
  :class:`ExchangeError` messages that never carry keys or signed URLs.
* :class:`CcxtPriceSource` implements :class:`~althedge.data.sources.PriceSource` through the
  Parquet cache: a second request for the same range sends no request, a longer range asks
  only for the missing bars.

Prices quoted in USDT/USDC are treated as USD (docs/domain.md). Only public endpoints are used
except Binance's leverage brackets, which need read-only API keys; without them the built-in
tier table is used.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import ccxt
import pandas as pd

from althedge.core.instruments import Instrument, MarginTier
from althedge.data.cache import ParquetCache
from althedge.data.files import TIMEFRAMES, daily_mean
from althedge.data.sources import (
    TimeLike,
    check_timeframe,
    default_home,
    join_closes,
    normalise_asset,
    slice_time,
    to_timestamp,
)
from althedge.errors import DataError, ExchangeError
from althedge.exchanges import (
    PROFILES,
    clean_message,
    family_of,
    instrument_from_market,
    interval_hours,
    tiers_from_ccxt,
    translate_error,
)
from althedge.exchanges.factory import GATEWAY_ENV, route_through_gateway
from althedge.exchanges.factory import make_exchange as _make_exchange
from althedge.exchanges.markets import builtin_instrument, funding_interval_from_market, mark_of

T = TypeVar("T")

#: Exchanges named and tested; any other ccxt id works the same way.
TESTED_EXCHANGES = ("binance", "binanceusdm", "binancecoinm", "bybit", "okx", "deribit")

_RETRYABLE = (ccxt.RateLimitExceeded, ccxt.DDoSProtection, ccxt.RequestTimeout, ccxt.NetworkError)
__all__ = ["GATEWAY_ENV", "CcxtMarketData", "CcxtPriceSource", "make_exchange",
           "route_through_gateway"]

ProgressFn = Callable[[int, int], None]  # (done_ms, total_ms) of the range being fetched


def _clean_message(exc: BaseException, limit: int = 180) -> str:
    """One line, no query strings (signatures) and no key-like parameters."""
    return clean_message(exc, limit=limit)


def make_exchange(exchange: str | ccxt.Exchange, options: dict[str, Any] | None = None,
                  timeout_ms: int = 15_000) -> ccxt.Exchange:
    """A ccxt exchange object for market data (:func:`althedge.exchanges.make_exchange`)."""
    return _make_exchange(exchange, purpose="data", config=options, timeout_ms=timeout_ms)


def default_page_limit(exchange_id: str) -> int:
    """Candles/funding events asked per request (the exchange profile's page size)."""
    p = PROFILES.get(exchange_id)
    return p.ohlcv_page if p is not None else 200


@dataclass(frozen=True)
class FundingNow:
    """Current funding of a perpetual (rate per interval, as a fraction)."""

    symbol: str
    rate: float
    interval_hours: float
    next_funding_time: datetime | None
    mark_price: float
    index_price: float

    @property
    def rate_8h(self) -> float:
        """The rate scaled to 8 hours: rate × 8 / interval."""
        return self.rate * 8.0 / self.interval_hours


@dataclass(frozen=True)
class FuturesQuote:
    """A dated future's price against the index, for the basis (docs/domain.md)."""

    symbol: str
    expiry: date
    days_to_expiry: float
    price: float
    index_price: float

    @property
    def basis(self) -> float:
        """F/S − 1."""
        return self.price / self.index_price - 1.0

    @property
    def annualised_basis(self) -> float:
        """(F/S − 1)·365/days."""
        return self.basis * 365.0 / self.days_to_expiry if self.days_to_expiry > 0 else math.nan


class CcxtMarketData:
    """Public market data from one ccxt exchange, with retries and clear errors."""

    def __init__(self, exchange: str | ccxt.Exchange, *, retries: int = 4,
                 backoff_s: float = 1.0, max_backoff_s: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep,
                 clock_ms: Callable[[], int] | None = None,
                 options: dict[str, Any] | None = None) -> None:
        self.exchange = make_exchange(exchange, options)
        self.id: str = str(self.exchange.id)
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.sleep = sleep
        self.clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self.attempts_log: list[str] = []  # "retry <what>: <error class>" lines, for the CLI

    # --- plumbing -------------------------------------------------------------------------
    def call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one ccxt call with retries on transient errors and one-line error messages."""
        delay = self.backoff_s
        for attempt in range(self.retries + 1):
            try:
                return fn(*args, **kwargs)
            except ccxt.BadSymbol as exc:
                raise DataError(f"{self.id}: {what}: the exchange does not list this symbol "
                                f"({_clean_message(exc, 120)}); check the symbol, e.g. SOL/USDT "
                                "for spot or BTC/USDT:USDT for the perpetual") from exc
            except _RETRYABLE as exc:
                kind = type(exc).__name__
                if attempt >= self.retries:
                    raise ExchangeError(
                        f"{self.id}: {what} failed after {attempt + 1} attempts ({kind}: "
                        f"{_clean_message(exc, 100)}); check the network or try again later"
                    ) from exc
                wait = min(delay, self.max_backoff_s)
                if isinstance(exc, ccxt.RateLimitExceeded | ccxt.DDoSProtection):
                    wait = min(max(wait, 2 * self.exchange.rateLimit / 1000), self.max_backoff_s)
                self.attempts_log.append(f"retry {what}: {kind}, waiting {wait:.1f}s")
                self.sleep(wait)
                delay *= 2
            except (ccxt.AuthenticationError, ccxt.PermissionDenied) as exc:
                raise ExchangeError(f"{self.id}: {what} needs read-only API keys "
                                    f"({type(exc).__name__}); set them or use the built-in "
                                    "specs") from exc
            except ccxt.NotSupported as exc:
                raise ExchangeError(f"{self.id}: {what} is not supported by this exchange in "
                                    "ccxt; use another exchange or source") from exc
            except ccxt.BaseError as exc:
                raise translate_error(exc, exchange=f"{self.id}:", action=what) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def load_markets(self) -> dict[str, Any]:
        """All markets (cached by ccxt on the exchange object)."""
        markets: dict[str, Any] = self.call("load_markets", self.exchange.load_markets)
        return markets

    def market(self, symbol: str) -> dict[str, Any]:
        """The ccxt market of ``symbol`` (DataError naming close matches when unknown)."""
        markets = self.load_markets()
        if symbol in markets:
            result: dict[str, Any] = markets[symbol]
            return result
        base = symbol.split("/")[0].upper()
        near = sorted(s for s in markets if s.split("/")[0] == base)[:6]
        hint = f"; {base} markets: {', '.join(near)}" if near else ""
        raise DataError(f"{self.id}: symbol {symbol!r} is not listed{hint}; check --symbols")

    def timeframe_ms(self, timeframe: str) -> int:
        """Bar length in milliseconds."""
        return int(self.exchange.parse_timeframe(timeframe) * 1000)

    def last_closed_bar_ms(self, timeframe: str) -> int:
        """Open time of the last complete bar (the current bar is still moving)."""
        step = self.timeframe_ms(timeframe)
        return (self.clock_ms() // step) * step - step

    # --- candles --------------------------------------------------------------------------
    def fetch_ohlcv(self, symbol: str, timeframe: str = "1d", since_ms: int | None = None,
                    until_ms: int | None = None, page_limit: int | None = None,
                    progress: ProgressFn | None = None,
                    strict_start: bool = True) -> pd.DataFrame:
        """Complete bars from ``since_ms`` to ``until_ms`` (inclusive open times), paginated.

        Each request asks for ``page_limit`` bars starting after the last one received; it
        stops at an empty page or past ``until_ms`` (default: the last complete bar). Bars still
        in progress are never returned. Where the exchange serves only its latest bars (WEEX
        spot), a ``since_ms`` before them is an error when ``strict_start`` (a start the user
        asked for), else the bars there are are returned (a default range).
        """
        market = self.market(symbol)
        step = self.timeframe_ms(timeframe)
        last_closed = self.last_closed_bar_ms(timeframe)
        until = last_closed if until_ms is None else min(until_ms, last_closed)
        profile = PROFILES.get(self.id)
        extra: dict[str, Any] = {}
        page = page_limit or default_page_limit(self.id)
        if profile is not None and market.get("contract"):
            extra = dict(profile.contract_ohlcv_params)  # WEEX: the history endpoint
            page = page_limit or profile.contract_ohlcv_page or page
        since = since_ms if since_ms is not None else until - (page - 1) * step
        if profile is not None and market.get("type") in profile.latest_ohlcv_only:
            return self._latest_ohlcv(symbol, timeframe, since, until, strict_start)
        rows: list[list[float]] = []
        cursor, start = since, since
        while cursor <= until:
            # an explicit window [cursor, window_end] makes every exchange page forward the
            # same way (Bybit/OKX otherwise answer with the newest bars of an open range);
            # "until" is one ms before the next bar, as OKX's upper bound is exclusive
            window_end = min(cursor + (page - 1) * step, until)
            batch = self.call(f"fetch_ohlcv {symbol} {timeframe}", self.exchange.fetch_ohlcv,
                              symbol, timeframe, since=cursor, limit=page,
                              params={"until": window_end + step - 1, **extra})
            batch = [b for b in batch if b and b[0] is not None and cursor <= b[0] <= window_end]
            if batch:
                rows.extend(batch)
                cursor = int(max(b[0] for b in batch)) + step
            else:  # nothing in this window (before listing, an exchange outage): skip it
                cursor = window_end + step
            if progress is not None:
                progress(min(cursor, until) - start, max(until - start, 1))
        return _ohlcv_frame(rows)

    def _latest_ohlcv(self, symbol: str, timeframe: str, since: int, until: int,
                      strict: bool) -> pd.DataFrame:
        """Candles of a market whose API (through ccxt) serves only the latest bars (WEEX
        spot: no start time); a range reaching further back is refused in one line."""
        batch = self.call(f"fetch_ohlcv {symbol} {timeframe}", self.exchange.fetch_ohlcv,
                          symbol, timeframe)
        bars = [b for b in batch if b and b[0] is not None]
        oldest = min((int(b[0]) for b in bars), default=None)
        if oldest is None or (strict and since < oldest):
            reach = (f"reach back only to {_day(oldest)}" if oldest is not None
                     else "returned nothing")
            perp = ""
            m = self.market(symbol)
            alt = f"{m.get('base')}/{m.get('quote')}:{m.get('quote')}"
            if alt in (self.exchange.markets or {}):
                perp = f", or the perpetual {alt} for older history"
            raise DataError(f"{self.id}: {symbol} {timeframe} candles {reach} (the exchange "
                            f"serves only its latest bars here, no start time); use --since "
                            f"{_day(oldest) if oldest is not None else 'a later day'}{perp}")
        return _ohlcv_frame([b for b in bars if since <= b[0] <= until])

    # --- funding --------------------------------------------------------------------------
    def fetch_funding_history(self, symbol: str, since_ms: int | None = None,
                              until_ms: int | None = None, page_limit: int | None = None,
                              progress: ProgressFn | None = None) -> pd.DataFrame:
        """Funding events of a perpetual: index = funding time, columns ``funding_rate`` (per
        interval) and ``interval_hours`` (from the spacing of events, else the market's)."""
        market = self.market(symbol)
        if not market.get("swap"):
            raise DataError(f"{self.id}: {symbol} is not a perpetual; funding history needs "
                            "a swap symbol such as BTC/USDT:USDT")
        now = self.clock_ms()
        until = now if until_ms is None else min(until_ms, now)
        since = since_ms if since_ms is not None else until - 30 * 86_400_000
        events: dict[int, float] = {}
        profile = PROFILES.get(self.id)
        page = page_limit or default_page_limit(self.id)
        interval_ms = _market_interval(market, self.id) * 3_600_000
        window = int(page * interval_ms)
        cursor, start = since, since
        if profile is not None and profile.funding.rate_history_paging == "page_num":
            events = self._funding_by_page_number(symbol, since, until,
                                                  page_limit or profile.funding.history_page)
            cursor = until + 1  # done: numbered pages, newest first
        while cursor <= until:
            window_end = min(cursor + window - 1, until)
            batch = self.call(f"fetch_funding_rate_history {symbol}",
                              self.exchange.fetch_funding_rate_history, symbol,
                              since=cursor, limit=page, params={"until": window_end})
            batch = [b for b in batch if b.get("timestamp") is not None
                     and cursor <= int(b["timestamp"]) <= window_end]
            for b in batch:
                events[int(b["timestamp"])] = float(b["fundingRate"])
            last = max((int(b["timestamp"]) for b in batch), default=None)
            if last is not None and (len(batch) >= page or last + 1.5 * interval_ms < window_end):
                # the page may be full, or the exchange's own cap is below ours (Hyperliquid:
                # 500 rows) and the rows stop short of the window: continue after them
                cursor = last + 1
            else:
                cursor = window_end + 1
            if progress is not None:
                progress(min(cursor, until) - start, max(until - start, 1))
        if not events:
            return _funding_frame([], [], [])
        times = sorted(events)
        default_interval = _market_interval(market, self.id)
        spacing = pd.Series(times).diff().div(3_600_000).round(2)
        intervals = [float(x) if x == x and x > 0 else default_interval for x in spacing]
        if len(intervals) > 1:
            intervals[0] = intervals[1]
        rates = [events[t] for t in times]
        profile = PROFILES.get(self.id)
        per = profile.funding.rate_history_hours if profile is not None else None
        if per:
            # the rows' rate refers to ``per`` hours whatever their spacing (Deribit: hourly
            # rows carrying the 8-hour rate ``interest_8h``): the rate of each row's interval
            rates = [r * h / per for r, h in zip(rates, intervals, strict=True)]
        return _funding_frame(times, rates, intervals)

    #: numbered pages read at most (a runaway guard: 300 × 100 events = 27 years at 8 h)
    MAX_FUNDING_PAGES = 300

    def _funding_by_page_number(self, symbol: str, since: int, until: int,
                                page: int) -> dict[int, float]:
        """MEXC: ``page_num`` 1, 2, … (newest first, no time filter) until a page reaches
        before ``since`` or runs short."""
        events: dict[int, float] = {}
        for num in range(1, self.MAX_FUNDING_PAGES + 1):
            batch = self.call(f"fetch_funding_rate_history {symbol}",
                              self.exchange.fetch_funding_rate_history, symbol, None, page,
                              {"page_num": num})
            stamps = [int(b["timestamp"]) for b in batch if b.get("timestamp") is not None]
            for b in batch:
                ts = b.get("timestamp")
                if ts is not None and since <= int(ts) <= until:
                    events[int(ts)] = float(b["fundingRate"])
            if len(batch) < page or not stamps or min(stamps) < since:
                break
        return events

    def funding_now(self, symbol: str) -> FundingNow:
        """Current funding rate, its interval (hours), next funding time, mark and index."""
        self.market(symbol)
        fr = self.call(f"fetch_funding_rate {symbol}", self.exchange.fetch_funding_rate, symbol)
        interval = _interval_hours(fr.get("interval")) or self.funding_interval(symbol)
        nxt = fr.get("nextFundingTimestamp") or fr.get("fundingTimestamp")
        return FundingNow(
            symbol=symbol,
            rate=float(fr.get("fundingRate") or 0.0),
            interval_hours=interval,
            next_funding_time=(datetime.fromtimestamp(int(nxt) / 1000, tz=UTC) if nxt else None),
            mark_price=float(fr.get("markPrice") or math.nan),
            index_price=float(fr.get("indexPrice") or math.nan),
        )

    def funding_interval(self, symbol: str) -> float:
        """Funding interval of a perpetual in hours: the exchange's per-symbol answer
        (market info such as Bybit's ``fundingInterval``, else ``fetch_funding_interval``,
        e.g. Binance fundingInfo), else 8."""
        market = self.market(symbol)
        info = market.get("info") or {}
        if isinstance(info, dict) and ("fundingInterval" in info
                                       or "fundingIntervalHours" in info):
            return _market_interval(market, self.id)
        if self.exchange.has.get("fetchFundingInterval"):
            try:
                got = self.call(f"fetch_funding_interval {symbol}",
                                self.exchange.fetch_funding_interval, symbol)
                hours = _interval_hours((got or {}).get("interval"))
                if hours:
                    return hours
            except (ExchangeError, DataError):
                pass
        return _market_interval(market, self.id)

    def mark_index(self, symbol: str) -> tuple[float, float]:
        """(mark price, index price) in USD of a contract, from its ticker."""
        self.market(symbol)
        if self.exchange.has.get("fetchMarkPrice") is True:
            t = self.call(f"fetch_mark_price {symbol}", self.exchange.fetch_mark_price, symbol)
        else:
            t = self.call(f"fetch_ticker {symbol}", self.exchange.fetch_ticker, symbol)
        mark = mark_of(t)
        index = t.get("indexPrice")
        if mark is None:
            raise DataError(f"{self.id}: no mark price for {symbol}; try another symbol")
        return float(mark), float(index) if index is not None else math.nan

    def dated_futures(self, base: str = "BTC", settle: str | None = None) -> list[FuturesQuote]:
        """Quotes of the listed dated futures of ``base`` (for the basis), nearest first."""
        markets = self.load_markets()
        now = datetime.fromtimestamp(self.clock_ms() / 1000, tz=UTC)
        out: list[FuturesQuote] = []
        for m in markets.values():
            if not m.get("future") or m.get("base") != base.upper() or not m.get("expiry"):
                continue
            if settle and m.get("settle") != settle.upper():
                continue
            if not m.get("active", True):
                continue
            mark, index = self.mark_index(m["symbol"])
            expiry = datetime.fromtimestamp(int(m["expiry"]) / 1000, tz=UTC)
            days = (expiry - now).total_seconds() / 86_400
            if days <= 0:
                continue
            out.append(FuturesQuote(m["symbol"], expiry.date(), days, mark, index))
        return sorted(out, key=lambda q: q.expiry)

    # --- specs ----------------------------------------------------------------------------
    def leverage_tiers(self, symbol: str) -> tuple[MarginTier, ...]:
        """Maintenance-margin tiers of one contract (empty when the exchange has none).

        Tiers ccxt gives in contracts (MEXC ``riskIncrVol``, profile ``tiers_in_contracts``)
        are converted to quote notional at the current mark: contracts × size × mark.
        """
        market = self.market(symbol)
        ex = self.exchange
        rows: list[dict[str, Any]] = []
        if ex.has.get("fetchLeverageTiers"):
            tiers = self.call(f"fetch_leverage_tiers {symbol}", ex.fetch_leverage_tiers, [symbol])
            rows = list(tiers.get(symbol) or [])
        elif ex.has.get("fetchMarketLeverageTiers"):
            rows = list(self.call(f"fetch_market_leverage_tiers {symbol}",
                                  ex.fetch_market_leverage_tiers, symbol) or [])
        profile = PROFILES.get(self.id)
        if rows and profile is not None and profile.tiers_in_contracts:
            usd = float(market.get("contractSize") or 1.0) * self.mark_index(symbol)[0]
            rows = [{**r, "minNotional": _num_or_none(r.get("minNotional"), usd),
                     "maxNotional": _num_or_none(r.get("maxNotional"), usd)} for r in rows]
        return tiers_from_ccxt(rows)

    def instrument(self, symbol: str, *, with_tiers: bool = True) -> Instrument:
        """Live contract spec of ``symbol`` as a core :class:`Instrument`.

        When the tiers cannot be read without keys (Binance), the built-in tiers of the same
        contract are used when there are any.
        """
        market = self.market(symbol)
        tiers: tuple[MarginTier, ...] = ()
        builtin = _builtin(self.id, symbol)
        label = "live"
        if with_tiers:
            why = ""
            try:
                tiers = self.leverage_tiers(symbol)
                if not tiers:
                    why = f"ccxt reads no margin tiers from {self.id}"
            except ExchangeError as err:
                tiers = _builtin_tiers(self.id, symbol)
                why = (f"{self.id} serves them to signed requests only (set read-only API "
                       "keys)" if "API keys" in str(err) else f"reading them failed ({err})")
            if why:  # the built-in table fills in: say so, with its date
                label = (f"live; margin tiers built-in ({builtin.specs_as_of}): {why}"
                         if builtin is not None else f"live; no margin tiers: {why}")
        interval = self.funding_interval(symbol) if market.get("swap") else None
        inst = instrument_from_market(family_of(self.id), market, tiers,
                                      precision_mode=int(self.exchange.precisionMode),
                                      funding_interval_hours=interval)
        inst = replace(inst, specs_as_of=label)
        if not math.isnan(inst.max_leverage) or builtin is None:
            return inst
        return replace(inst, max_leverage=builtin.max_leverage)


def _num_or_none(value: Any, scale: float) -> float | None:
    return None if value is None else float(value) * scale


def _day(ms: int | None) -> str:
    return "" if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC).date().isoformat()


def _builtin(ex_id: str, symbol: str) -> Instrument | None:
    """The built-in (dated) spec of the same contract, if the core's table has it."""
    return builtin_instrument(ex_id, symbol)


def _builtin_tiers(ex_id: str, symbol: str) -> tuple[MarginTier, ...]:
    builtin = _builtin(ex_id, symbol)
    return builtin.tiers if builtin is not None else ()


def _interval_hours(value: Any) -> float | None:
    """ccxt funding interval ("8h", "4h", "60m") → hours."""
    return interval_hours(value)


def _market_interval(market: dict[str, Any], exchange_id: str = "") -> float:
    return funding_interval_from_market(market, exchange_id) or 8.0


def _ohlcv_frame(rows: Sequence[Sequence[float]]) -> pd.DataFrame:
    cols = ["open", "high", "low", "close", "volume"]
    if not rows:
        return pd.DataFrame(columns=cols, index=pd.DatetimeIndex([], name="timestamp"),
                            dtype=float)
    frame = pd.DataFrame([list(r[1:6]) for r in rows], columns=cols, dtype=float)
    frame.index = pd.DatetimeIndex(pd.to_datetime([int(r[0]) for r in rows], unit="ms"),
                                   name="timestamp").as_unit("ns")
    return frame[~frame.index.duplicated(keep="last")].sort_index()


def _funding_frame(times: Sequence[int], rates: Sequence[float],
                   intervals: Sequence[float]) -> pd.DataFrame:
    idx = pd.DatetimeIndex(pd.to_datetime(list(times), unit="ms"), name="timestamp").as_unit("ns")
    return pd.DataFrame({"funding_rate": list(rates), "interval_hours": list(intervals)},
                        index=idx, dtype=float)


def _bind_progress(cb: Callable[[str, int, int], None] | None,
                   symbol: str) -> ProgressFn | None:
    if cb is None:
        return None

    def report(done: int, total: int) -> None:
        cb(symbol, done, total)

    return report


def funding_to_daily_8h(events: pd.DataFrame) -> pd.Series:
    """Funding events → daily mean of the rate expressed per 8 h (rate × 8 / interval)."""
    if events.empty:
        return daily_mean(pd.Series(dtype=float))
    per8 = events["funding_rate"] * 8.0 / events["interval_hours"]
    return daily_mean(per8)


class CcxtPriceSource:
    """:class:`PriceSource` over a ccxt exchange, through the Parquet cache.

    ``assets`` map to spot symbols ``<ASSET>/<quote>`` (default quote USDT) and funding to the
    linear perpetual ``<ASSET>/<quote>:<quote>``. With ``offline=True`` only the cache is read
    (no exchange object is even created). Default ranges: the last 3 years of daily bars, the
    last 90 days of hourly bars.
    """

    def __init__(self, exchange: str | ccxt.Exchange, *, data_dir: str | Path | None = None,
                 quote: str = "USDT", offline: bool = False,
                 market_data: CcxtMarketData | None = None, page_limit: int | None = None,
                 progress: Callable[[str, int, int], None] | None = None,
                 options: dict[str, Any] | None = None) -> None:
        self.offline = offline
        self._md = market_data
        self._exchange_arg = exchange
        self._options = options
        ex_id = exchange if isinstance(exchange, str) else str(exchange.id)
        self.exchange_id = market_data.id if market_data is not None else ex_id.strip().lower()
        self.name = f"ccxt:{self.exchange_id}"
        self.quote = quote.upper()
        self.cache = ParquetCache(Path(data_dir).expanduser() if data_dir else default_home())
        self.page_limit = page_limit
        self.progress = progress
        if not offline and market_data is None:
            self._md = CcxtMarketData(exchange, options=options)

    @property
    def market_data(self) -> CcxtMarketData:
        """The live exchange wrapper (DataError in offline mode)."""
        if self._md is None:
            raise DataError(f"{self.name}: offline mode reads only the cache; run `althedge data "
                            "fetch` first or drop --offline")
        return self._md

    def spot_symbol(self, asset: str) -> str:
        """``SOL`` → ``SOL/USDT``; a full ccxt symbol passes through."""
        return asset.upper() if "/" in asset else f"{normalise_asset(asset)}/{self.quote}"

    def perp_symbol(self, asset: str) -> str:
        """``BTC`` → ``BTC/USDT:USDT``."""
        return f"{normalise_asset(asset)}/{self.quote}:{self.quote}"

    def symbols(self) -> list[str]:
        """Assets with a spot market in the quote currency (cached ones when offline)."""
        if self.offline:
            return sorted({normalise_asset(e.symbol) for e in self.cache.entries()
                           if e.exchange == self.exchange_id and e.timeframe in TIMEFRAMES})
        markets = self.market_data.load_markets()
        return sorted({m["base"] for m in markets.values()
                       if m.get("spot") and m.get("quote") == self.quote})

    def _range_ms(self, start: TimeLike, end: TimeLike, timeframe: str) -> tuple[int, int | None]:
        lo, hi = to_timestamp(start, "start"), to_timestamp(end, "end")
        step = TIMEFRAMES[timeframe]
        if lo is None:
            anchor = hi if hi is not None else pd.Timestamp.now(tz="UTC").tz_localize(None)
            lo = anchor - (pd.Timedelta(days=3 * 365) if timeframe == "1d" else
                           pd.Timedelta(days=90))
            lo = lo.floor(step)
        lo = lo.ceil(step)
        hi_ms = None if hi is None else int(hi.floor(step).value // 1_000_000)
        return int(lo.value // 1_000_000), hi_ms

    def ohlcv(self, symbol: str, timeframe: str = "1d", start: TimeLike = None,
              end: TimeLike = None, *, strict_start: bool | None = None) -> pd.DataFrame:
        """Cached OHLCV of a ccxt symbol, fetching only the bars not cached yet.

        ``strict_start`` (default: whether ``start`` was given): a start before what the
        exchange can serve is an error rather than a shorter series."""
        strict = start is not None if strict_start is None else strict_start
        check_timeframe(timeframe)
        since, until = self._range_ms(start, end, timeframe)
        cached = self.cache.read(self.exchange_id, symbol, timeframe)
        if self.offline:
            if cached is None:
                raise DataError(f"{self.name}: no cached {timeframe} data for {symbol}; run "
                                f"`althedge data fetch --exchange {self.exchange_id} --symbols "
                                f"{symbol}` first")
            return slice_time(cached, start, end)
        md = self.market_data
        step = md.timeframe_ms(timeframe)
        target_end = md.last_closed_bar_ms(timeframe) if until is None else min(
            until, md.last_closed_bar_ms(timeframe))
        wanted: list[tuple[int, int]] = []
        if cached is None or cached.empty:
            wanted.append((since, target_end))
        else:
            first = int(cached.index[0].value // 1_000_000)
            last = int(cached.index[-1].value // 1_000_000)
            covered = int(cached.attrs.get("covered_from_ms", first))
            if since < min(first, covered):
                wanted.append((since, first - step))
            if target_end > last:
                wanted.append((max(last + step, since), target_end))
        frame = cached
        for lo, hi in wanted:
            if lo > hi:
                continue
            prog = _bind_progress(self.progress, symbol)
            new = md.fetch_ohlcv(symbol, timeframe, since_ms=lo, until_ms=hi,
                                 page_limit=self.page_limit, progress=prog,
                                 strict_start=strict)
            if not new.empty or frame is not None:
                frame = self.cache.merge_write(self.exchange_id, symbol, timeframe, new,
                                               covered_from_ms=lo)
        if frame is None:
            raise DataError(f"{self.name}: the exchange returned no {timeframe} bars for "
                            f"{symbol} in the range asked; try a later --since")
        return slice_time(frame, start, end)

    def closes(self, assets: Sequence[str], start: TimeLike = None, end: TimeLike = None,
               timeframe: str = "1d") -> pd.DataFrame:
        """USD closes of ``assets`` (spot ``<ASSET>/<quote>``), fetched through the cache."""
        strict = start is not None
        if start is None and not self.offline:
            lo, _ = self._range_ms(None, end, check_timeframe(timeframe))
            start = pd.Timestamp(lo, unit="ms")
        series = {normalise_asset(a): self.ohlcv(self.spot_symbol(a), timeframe, start, end,
                                                 strict_start=strict)["close"] for a in assets}
        return slice_time(join_closes(series), start, end)

    def funding_history(self, symbol: str, start: TimeLike = None,
                        end: TimeLike = None) -> pd.DataFrame:
        """Cached funding events of a perpetual, fetching only newer ones."""
        lo, hi = to_timestamp(start, "start"), to_timestamp(end, "end")
        cached = self.cache.read(self.exchange_id, symbol, "funding")
        stale = None if cached is None else self.cache.stale_reason(
            self.exchange_id, "funding", cached)
        if stale is not None:
            path = self.cache.path(self.exchange_id, symbol, "funding")
            if self.offline:
                raise DataError(
                    f"cache: {path} holds {stale}; run `althedge data fetch --exchange "
                    f"{self.exchange_id} --symbols {symbol}` with a network (it is fetched again) "
                    "or delete the file"
                )
            self.cache.remove(self.exchange_id, symbol, "funding")
            cached = None
        if self.offline:
            return slice_time(cached, start, end) if cached is not None else _funding_frame(
                [], [], [])
        md = self.market_data
        if lo is None:  # default: one year of funding before the end (or now)
            anchor = hi if hi is not None else pd.Timestamp(md.clock_ms(), unit="ms")
            lo = (anchor - pd.Timedelta(days=365)).floor("D")
        since = int(lo.value // 1_000_000)
        until = int(hi.value // 1_000_000) if hi is not None else None
        frame = cached
        ranges: list[tuple[int, int | None]] = []
        if cached is None or cached.empty:
            ranges.append((since, until))
        else:
            first = int(cached.index[0].value // 1_000_000)
            last = int(cached.index[-1].value // 1_000_000)
            covered = int(cached.attrs.get("covered_from_ms", first))
            if since < min(first, covered):
                ranges.append((since, first - 1))
            interval_ms = int(float(cached["interval_hours"].iloc[-1]) * 3_600_000)
            next_event = last + max(interval_ms, 1)
            horizon = md.clock_ms() if until is None else min(until, md.clock_ms())
            if horizon >= next_event:
                ranges.append((last + 1, until))
        for a, b in ranges:
            new = md.fetch_funding_history(symbol, a, b, page_limit=self.page_limit)
            if not new.empty or frame is not None:
                frame = self.cache.merge_write(self.exchange_id, symbol, "funding", new,
                                               covered_from_ms=a)
        if frame is None:
            return _funding_frame([], [], [])
        return slice_time(frame, start, end)

    def funding_rates(self, hedge_asset: str = "BTC", start: TimeLike = None,
                      end: TimeLike = None) -> pd.Series:
        """Daily mean funding rate per 8 h of ``<ASSET>/<quote>:<quote>``."""
        events = self.funding_history(self.perp_symbol(hedge_asset), start, end)
        return funding_to_daily_8h(events)
