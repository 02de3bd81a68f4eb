"""Backtest: would this hedge have worked, what would it have cost, and what is kept?

``run_backtest(portfolio, source, compared, settings)`` values the holdings (buy and hold,
amounts from the portfolio file) on every bar, lets each compared hedge decide a hedge
ratio at every bar from data up to that bar — a sizing policy
(:mod:`althedge.core.policies`) switched on and off by an optional trigger
(:mod:`althedge.core.triggers`, ``"ols when trend:200"``) — walks the short forward
through the real price path with fees, slippage, funding, basis, margin calls and
liquidations (:mod:`althedge.core.simulate`), measures hedged against unhedged with
:mod:`althedge.core.metrics`, ranks by the chosen objective and tabulates the crash
episodes found in the data. No formula lives here: this module wires data to the core
in named steps (:func:`run_backtest` reads top to bottom) and keeps the bookkeeping.
Results are the typed records of :mod:`althedge.services.backtest_results`.

Method and defaults: ``docs/backtest.md``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from althedge.config import PortfolioConfig
from althedge.core import metrics as mc
from althedge.core.instruments import (
    ContractType,
    Instrument,
    Side,
    find_instrument,
    get_instrument,
)
from althedge.core.margin import liquidation_price
from althedge.core.pnl import inverse_pnl_coin, linear_pnl_usd
from althedge.core.policies import (
    AUTO_FALLBACK,
    AUTO_INTRADAY_DAYS,
    DEFAULT_HALFLIFE,
    DEFAULT_WINDOW,
    PolicySpec,
    PolicyTargets,
    parse_policy,
    rolling_beta_std_error,
    target_ratios,
)
from althedge.core.simulate import LegResult, LegSpec, simulate_leg
from althedge.core.sizing import parse_rounding
from althedge.core.triggers import TriggerInputs, evaluate
from althedge.data import PriceSource, check_closes
from althedge.data.sources import unreadable_rows
from althedge.errors import AlthedgeError, DataError, DataQualityError, InputError
from althedge.exchanges.registry import fee_schedule
from althedge.services.backtest_compare import (
    parse_compare_item,
    parse_policy_list,
    plan_compare_spec,
)
from althedge.services.backtest_measure import (
    KNOWN_EPISODES,
    episodes,
    policy_metrics,
    rank,
    stamp,
)
from althedge.services.backtest_results import (
    BacktestResult,
    CompareSpec,
    Episode,
    PolicyResult,
)
from althedge.services.costs import find_funding_history, funding_per_bar, mark_high_per_bar

__all__ = [
    "DEFAULT_FUNDING_RATE_8H",
    "FEE_SCHEDULES",
    "KNOWN_EPISODES",
    "BacktestResult",
    "BacktestSettings",
    "CompareSpec",
    "PolicyResult",
    "check_settings",
    "parse_compare_item",
    "parse_policy_list",
    "plan_compare_spec",
    "rebalance_schedule",
    "run_backtest",
]

#: Funding assumed where no history exists: 0.01 % per 8 h, the interest-only baseline.
DEFAULT_FUNDING_RATE_8H = 0.0001
#: (maker, taker) fee rates of the base VIP tier, as published by each exchange's fee
#: page (checked 2026-11): Binance USDⓈ-M/COIN-M 0.02 %/0.05 %, Bybit 0.02 %/0.055 %,
#: OKX 0.02 %/0.05 %, Deribit futures 0 %/0.05 %, BingX 0.02 %/0.05 %, MEXC 0 %/0.02 %,
#: WEEX 0.02 %/0.08 %, Hyperliquid 0.015 %/0.045 % (sources in each profile).
#: One source: each exchange's profile (althedge.exchanges).
FEE_SCHEDULES: dict[str, tuple[float, float]] = {
    family: fee_schedule(family) for family in (
        "binance", "bybit", "okx", "deribit", "bingx", "mexc", "weex", "hyperliquid",
    )
}
_PERIODS_PER_YEAR = {"1d": 365.0, "1h": 365.0 * 24}
_BAR_HOURS = {"1d": 24.0, "1h": 1.0}
@dataclass(frozen=True)
class BacktestSettings:
    """Everything a backtest run needs besides the portfolio and the prices.

    * ``start``/``end``: the evaluated (out-of-sample) span; history before ``start`` is
      used to warm the estimators up;
    * ``window`` (bars) / ``halflife`` (bars): defaults for policies given without one;
    * ``rebalance``: ``every`` | ``daily`` | ``weekly`` | ``biweekly`` | ``threshold:PCT``
      (a trigger switching on or off also trades on that bar);
    * ``min_trade_usd``: skip smaller rebalancing trades;
    * ``fees``: ``taker`` | ``maker`` | a rate (0.0005 = 0.05 %) of traded notional;
    * ``slippage_bps``: per trade, of traded notional;
    * ``funding``: ``history`` (the source's funding rates; assumed rate where missing)
      or a rate per 8 h (e.g. ``0.0001``);
    * ``contract``/``perpetual``/``rounding``/``leverage``: override the portfolio file;
    * ``collateral_usd``: initial collateral (default: initial margin at ``leverage``);
    * ``top_up``: top the margin up to the initial margin when half of it is gone;
    * ``basis_annual``: dated contracts only — annualised basis of the simple model
      (constant, converging linearly to 0 at each quarterly expiry);
    * ``margin_call_ratio``: maintenance margin / equity that counts as a margin call;
    * ``keep_bars``: flagged bars the user keeps, ``KIND@TIME`` or ``SYMBOL:KIND@TIME``
      (added to the portfolio file's ``hedge.keep_bars``; ``docs/data.md``).
    * ``rank_by``: ``variance`` | ``drawdown`` | ``return-per-drawdown`` |
      ``utility[:A]`` (core ``objective_score``).
    """

    start: str | date | None = None
    end: str | date | None = None
    timeframe: str = "1d"
    window: int = DEFAULT_WINDOW
    halflife: float = DEFAULT_HALFLIFE
    rebalance: str = "weekly"
    min_trade_usd: float = 0.0
    fees: str = "taker"
    slippage_bps: float = 2.0
    funding: str = "history"
    contract: str | None = None
    perpetual: bool | None = None
    rounding: str | None = None
    leverage: float | None = None
    collateral_usd: float | None = None
    top_up: bool = False
    basis_annual: float = 0.05
    margin_call_ratio: float = 0.8
    keep_bars: tuple[str, ...] = ()
    rank_by: str = mc.DEFAULT_RANK_BY

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output."""
        return {k: (str(v) if isinstance(v, date) else v) for k, v in self.__dict__.items()}


def rebalance_schedule(index: pd.DatetimeIndex, rebalance: str) -> tuple[np.ndarray, float | None]:
    """Bars on which a policy may trade, and the drift threshold (fraction) if any.

    ``every``: every bar; ``daily``: first bar of each UTC day; ``weekly``: first bar of
    each ISO week (Monday); ``biweekly``: every second ISO week; ``threshold:PCT``: every
    bar, trading only when the hedge is more than PCT % off its target. The first bar
    is always a rebalancing bar (the hedge is opened there).
    """
    text = str(rebalance).strip().lower()
    n = len(index)
    due = np.zeros(n, dtype=bool)
    threshold: float | None = None
    if text in ("every", "bar", "every-bar"):
        due[:] = True
    elif text == "daily":
        day = index.normalize()
        due[1:] = day[1:] != day[:-1]
    elif text in ("weekly", "biweekly"):
        iso = index.isocalendar()
        week = (iso["year"].to_numpy() * 100 + iso["week"].to_numpy()).astype(np.int64)
        change = np.r_[False, week[1:] != week[:-1]]
        if text == "biweekly":
            count = np.cumsum(change)
            change &= count % 2 == 0
        due = change
    elif text.startswith("threshold"):
        _, _, pct = text.partition(":")
        try:
            threshold = float(pct) / 100.0
        except ValueError:
            threshold = math.nan
        if not (math.isfinite(threshold) and 0 < threshold < 10):
            raise InputError(
                f"rebalance: {rebalance!r} needs a drift in percent, e.g. threshold:10"
            )
        due[:] = True
    else:
        raise InputError(
            f"rebalance: unknown schedule {rebalance!r}; use every, daily, weekly, biweekly "
            "or threshold:PCT (e.g. threshold:10)"
        )
    if n:
        due[0] = True
    return due, threshold


def _fee_rate(fees: str, exchange: str) -> float:
    text = str(fees).strip().lower()
    maker, taker = FEE_SCHEDULES.get(exchange, FEE_SCHEDULES["binance"])
    if text == "taker":
        return taker
    if text == "maker":
        return maker
    try:
        rate = float(text.rstrip("%")) / (100.0 if text.endswith("%") else 1.0)
    except ValueError:
        raise InputError(
            f"fees: {fees!r} is not taker, maker or a rate; e.g. --fees taker or --fees 0.0004"
        ) from None
    if not (math.isfinite(rate) and 0 <= rate < 0.05):
        raise InputError(f"fees: a fee rate must be between 0 and 0.05 (5 %), got {fees!r}")
    return rate


def _instrument(portfolio: PortfolioConfig, asset: str, settings: BacktestSettings) -> Instrument:
    h = portfolio.hedge
    contract = settings.contract or h.contract
    perpetual = h.perpetual if settings.perpetual is None else settings.perpetual
    if (
        h.symbol
        and asset == portfolio.hedge_asset
        and settings.contract is None
        and settings.perpetual is None
    ):
        return get_instrument(h.exchange, h.symbol)
    return find_instrument(h.exchange, asset, contract, perpetual=perpetual)


def _quarterly_expiries(start: pd.Timestamp, end: pd.Timestamp) -> list[pd.Timestamp]:
    """Last Friday of March, June, September and December (the quarterly contracts)."""
    out: list[pd.Timestamp] = []
    for year in range(start.year, end.year + 2):
        for month in (3, 6, 9, 12):
            last = pd.Timestamp(year=year, month=month, day=1) + pd.offsets.MonthEnd(0)
            friday = last - pd.Timedelta(days=(last.weekday() - 4) % 7)
            out.append(friday.normalize())
    return [e for e in out if e >= start.normalize()]


def dated_prices(
    spot: pd.Series, basis_annual: float
) -> tuple[np.ndarray, np.ndarray]:
    """Simple basis model for a quarterly dated contract: (exit price, entry price).

    F_t = S_t·(1 + b·τ_t/365), τ_t the days to the held contract's expiry (last Friday of
    the quarter). On the expiry bar the held contract settles at spot (τ = 0: exit price
    = S) and the position rolls into the next quarter's contract (entry price with τ of
    the next expiry). A positive b is contango: the short earns b per year.
    """
    idx = pd.DatetimeIndex(spot.index)
    s = spot.to_numpy(dtype=float)
    expiries = np.array(_quarterly_expiries(idx[0], idx[-1]), dtype="datetime64[ns]")
    t = idx.to_numpy(dtype="datetime64[ns]")
    day = idx.normalize().to_numpy(dtype="datetime64[ns]")
    # contract held over (t−1, t]: first expiry ≥ the bar's day
    k_exit = np.searchsorted(expiries, day, side="left")
    # contract held from t on: first expiry strictly after the bar's day
    k_entry = np.searchsorted(expiries, day, side="right")
    one_day = np.timedelta64(1, "D")
    tau_exit = np.maximum((expiries[k_exit] - t) / one_day, 0.0)
    tau_entry = np.maximum((expiries[k_entry] - t) / one_day, 0.0)
    tau_exit = np.where(day == expiries[k_exit], 0.0, tau_exit)
    return s * (1 + basis_annual * tau_exit / 365.0), s * (1 + basis_annual * tau_entry / 365.0)


def _funding_history_8h(
    source: PriceSource, asset: str, index: pd.DatetimeIndex, warnings: list[str]
) -> np.ndarray:
    """The source's funding rate per 8 h in force on each bar (daily mean), NaN if unknown.

    + = longs pay shorts (the short receives). Without history for ``asset`` BTC's is used
    as a proxy (warned).
    """
    hist = source.funding_rates(asset)
    if hist.empty and asset != "BTC":
        hist = source.funding_rates("BTC")
        if not hist.empty:
            warnings.append(f"funding: no {asset} funding history; BTC's used as a proxy")
    if hist.empty:
        return np.full(len(index), np.nan)
    daily = hist.copy()
    daily.index = pd.DatetimeIndex(daily.index).normalize()
    daily = daily[~daily.index.duplicated(keep="last")]
    return np.asarray(daily.reindex(index.normalize()).to_numpy(), dtype=float)


def _constant_funding_8h(funding: str) -> float | None:
    """``--funding``: None for ``history``, else the assumed rate per 8 h (checked)."""
    text = str(funding).strip().lower()
    if text == "history":
        return None
    try:
        rate = float(text)
    except ValueError:
        raise InputError(
            f"funding: {funding!r} is not 'history' or a rate per 8 h; e.g. --funding 0.0001"
        ) from None
    if not (math.isfinite(rate) and abs(rate) <= 0.05):
        raise InputError(f"funding: a rate per 8 h must be within ±0.05, got {rate}")
    return rate


def _funding_per_bar(
    source: PriceSource,
    asset: str,
    index: pd.DatetimeIndex,
    settings: BacktestSettings,
    assumed_8h: float,
    warnings: list[str],
    exchange: str = "binance",
    contract: str = "linear",
) -> np.ndarray:
    """Funding rate applied on each bar: every settlement in the bar where it falls, from
    the leg's own history (:mod:`althedge.services.costs`); without one, the source's daily
    mean rate per 8 h × bar hours / 8 (daily bar: × 3).

    + = received by the short. ``settings.funding``: ``history`` (the rates above,
    ``assumed_8h`` where missing, warned) or one assumed rate per 8 h.
    """
    per_bar = _BAR_HOURS[settings.timeframe] / 8.0
    rate = _constant_funding_8h(settings.funding)
    if rate is not None:
        return np.full(len(index), rate * per_bar)
    histories = find_funding_history(getattr(source, "root", None), exchange, asset, contract)
    if histories:
        bar = pd.Timedelta(hours=_BAR_HOURS[settings.timeframe])
        settled, missing, used = funding_per_bar(histories, index, bar, assumed_8h)
        warnings.append(f"funding: {asset} {contract} settlements from {', '.join(used)}"
                        if used else f"funding: no {asset} settlement inside the span")
        if missing:
            warnings.append(
                f"funding: no real {asset} {contract} funding for {missing} of {len(index)} "
                f"bars; assumed {assumed_8h:.4%} per 8 h there (set hedge.funding_rate_8h "
                "or --funding RATE)"
            )
        return settled
    rates = _funding_history_8h(source, asset, index, warnings)
    missing = int(np.isnan(rates).sum())
    if missing:
        warnings.append(
            f"funding: no history for {missing} of {len(index)} bars; assumed "
            f"{assumed_8h:.4%} per 8 h there (set hedge.funding_rate_8h or --funding RATE)"
        )
    return np.where(np.isnan(rates), assumed_8h, rates) * per_bar


def _load(
    portfolio: PortfolioConfig,
    source: PriceSource,
    hedge_assets: Sequence[str],
    settings: BacktestSettings,
    warnings: list[str],
) -> pd.DataFrame:
    holdings = [h.asset for h in portfolio.holdings]
    assets = list(dict.fromkeys([*holdings, *hedge_assets]))
    closes = source.closes(assets, start=None, end=settings.end, timeframe=settings.timeframe)
    missing = [a for a in assets if a not in closes.columns or closes[a].notna().sum() == 0]
    if missing:
        hedge_missing = [a for a in missing if a in hedge_assets]
        fix = (f"add {', '.join(hedge_missing)} (the hedge asset) to --prices DIR"
               if hedge_missing else "add the files to --prices DIR or remove the holding")
        raise DataError(
            f"prices: no {settings.timeframe} closes for {', '.join(missing)} in {source.name}; "
            f"{fix}"
        )
    for asset, why in unreadable_rows(source, assets, (settings.timeframe,)).items():
        raise DataQualityError(
            f"prices: {asset}{' (the hedge asset)' if asset in hedge_assets else ''}: {why}; "
            "fix or re-export the file (see `althedge data check`)"
        )
    closes = closes[assets]
    first = max(closes[a].first_valid_index() for a in assets)
    last = min(closes[a].last_valid_index() for a in assets)
    if first is None or last is None or first >= last:
        raise DataError("prices: the holdings and hedge assets share no common history")
    closes = closes.loc[first:last]
    return closes


def _check_quality(
    closes: pd.DataFrame, used_from: pd.Timestamp, timeframe: str, warnings: list[str],
    keep: Sequence[str] = (), hedge_assets: Sequence[str] = (),
) -> None:
    """Refuse error-severity defects in the bars used (warm-up included), warn on the rest.

    Defects before ``used_from`` do not touch the run and are not reported.
    """
    used = closes.loc[used_from:]
    for f in check_closes(used, timeframe=timeframe, keep=keep):
        if f.severity == "error":
            what = ("the hedge asset cannot be removed" if f.symbol in hedge_assets
                    else "remove the holding")
            raise DataQualityError(
                f"prices: {f.symbol} {f.kind}{f.where}: {f.detail}; fix the data, "
                f"pass a later --start, keep a genuine bar with --keep-bar, or {what} "
                "(see `althedge data check`)"
            )
        if f.kind in ("gap", "missing_price", "stale", "extreme_move", "spike"):
            warnings.append(f"data: {f.symbol} {f.kind}{f.where}: {f.detail}")
    gaps = int(used.isna().sum().sum())
    if gaps:
        warnings.append(f"data: {gaps} missing closes filled with the previous close")


def _ratios_frame(ratios: np.ndarray) -> np.ndarray:
    """Forward-fill a ratio series (a window spoiled by missing data keeps the last one)."""
    out = pd.DataFrame(ratios).ffill().to_numpy()
    return np.asarray(out, dtype=float)


def _scale_auto(spec: PolicySpec, bars_per_day: float) -> PolicySpec:
    """``auto``'s window/half-life in days → bars; on intraday bars BTC+ETH minimum variance
    takes :data:`AUTO_INTRADAY_DAYS` (the hourly walk-forward's winner)."""
    if bars_per_day == 1:
        return spec
    days = AUTO_INTRADAY_DAYS if spec.kind == "multi" else spec.window
    window = round(days * bars_per_day) if days else None
    halflife = spec.halflife * bars_per_day if spec.halflife else None
    param = window if window is not None else halflife
    return replace(spec, window=window, halflife=halflife,
                   resolved_from=f"{spec.kind}:{param:g}")


@dataclass(frozen=True)
class _Market:
    """Prices and returns on the common history (warm-up included), one row per bar."""

    raw: pd.DataFrame
    closes: pd.DataFrame  # interior gaps filled with the previous close
    index: pd.DatetimeIndex
    value_usd: np.ndarray  # (T,) the holdings' value
    weights: np.ndarray  # (T, A) buy-and-hold value weights
    r_p: np.ndarray
    r_assets: np.ndarray
    r_h: dict[str, np.ndarray]
    classes: list[str | None]
    primary: str


@dataclass(frozen=True)
class HedgeLegSetup:
    """One hedge instrument as simulated: contract, trading rules and price paths (span)."""

    inst: Instrument
    spec: LegSpec
    spot: np.ndarray
    exit: np.ndarray
    entry: np.ndarray
    funding_rate_per_bar: np.ndarray  # + = received by the short
    mark_high_usd: np.ndarray | None = None  # highest mark price per bar (liquidation check)


@dataclass(frozen=True)
class _Span:
    """The out-of-sample span: rows ``begin`` onward of the market's history."""

    begin: int
    warm: int

    @property
    def sl(self) -> slice:
        return slice(self.begin, None)


def run_backtest(
    portfolio: PortfolioConfig,
    source: PriceSource,
    policies: Sequence[CompareSpec | PolicySpec | str],
    settings: BacktestSettings | None = None,
    *,
    progress: Callable[[str, float], None] | None = None,
) -> BacktestResult:
    """Run every compared hedge on the same data and span; rank by ``settings.rank_by``.

    ``policies``: names (``"ols when trend:200"``, ``"plan"``), policy specs or compare
    specs. ``progress(label, fraction)`` is called as work advances (for a progress bar).
    Raises :class:`InputError` for bad settings, :class:`DataError` when prices are
    missing or fail a quality check.
    """
    settings = settings or BacktestSettings()
    tick = progress or (lambda label, frac: None)
    warnings: list[str] = []
    _check_settings(settings)
    objective = mc.parse_rank_objective(settings.rank_by)
    specs = _resolve_specs(portfolio, source, policies, settings, warnings)
    tick("loading prices", 0.0)
    market = _market(portfolio, source, specs, settings, warnings)
    targets = _decide(specs, market, tick)
    keep_bars = [*portfolio.hedge.keep_bars, *settings.keep_bars]
    span = _span(market, targets, settings, keep_bars, warnings)
    legs = _hedge_legs(portfolio, source, market, span, specs, settings, warnings)
    states = _trigger_states(specs, market, source, settings, warnings)
    results = []
    for i, spec in enumerate(specs):
        tick(f"simulating {spec.name}", 0.3 + 0.65 * i / len(specs))
        results.append(_simulate(spec, targets[spec.policy.name], states.get(spec.name),
                                 market, span, legs, settings, portfolio.hedge.exchange))
    results = rank(results, objective, _PERIODS_PER_YEAR[settings.timeframe])
    found = episodes(results, market.closes[market.primary].to_numpy(dtype=float)[span.sl],
                     market.value_usd[span.sl], market.index[span.sl],
                     24.0 / _BAR_HOURS[settings.timeframe])
    tick("done", 1.0)
    return _result(portfolio, market, span, legs, settings, results, found, warnings)


def check_settings(settings: BacktestSettings, exchange: str = "binance") -> None:
    """Validate every setting that needs no market data (timeframe, span, slippage,
    minimum trade, rebalancing rule, fees, funding, rank objective, rounding), raising the
    one-line :class:`InputError` ``run_backtest`` would raise — so a caller with many runs
    (``althedge sweep``) refuses a bad setting before starting any of them."""
    _check_settings(settings)
    rebalance_schedule(pd.DatetimeIndex([]), settings.rebalance)
    _fee_rate(settings.fees, exchange)
    _constant_funding_8h(settings.funding)
    mc.parse_rank_objective(settings.rank_by)
    if settings.rounding is not None:
        parse_rounding(settings.rounding)
    if settings.leverage is not None and not (
        math.isfinite(settings.leverage) and settings.leverage > 0
    ):
        raise InputError(f"leverage: must be > 0, got {settings.leverage}; e.g. --leverage 2")


def _finite(value: Any, field: str, example: str) -> float:
    """``value`` as a float, or a one-line :class:`InputError` naming ``field`` when it is
    not a finite number (NaN, ±inf, text): a setting may come from a sweep spec's TOML."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"{field}: must be a finite number, got {value!r}; e.g. {example}")
    if abs(value) > 1e15:  # the CLI's limit for every number (cli/main.py MAX_ABS)
        raise InputError(f"{field}: {value:g} is too large (more than 1e+15 in size); "
                         f"e.g. {example}")
    return float(value)


def _check_numbers(settings: BacktestSettings) -> None:
    """Every numeric setting finite and in range (NaN passes ``x < 0`` tests silently)."""
    window = _finite(settings.window, "window", "--window 90")
    if window != int(window) or not 3 <= window <= 1_000_000:
        raise InputError(f"window: must be a whole number of bars from 3 to 1,000,000, got "
                         f"{settings.window!r}; e.g. --window 90")
    if not _finite(settings.halflife, "halflife", "--halflife 30") > 0:
        raise InputError(f"halflife: must be > 0 bars, got {settings.halflife!r}; "
                         "e.g. --halflife 30")
    _finite(settings.slippage_bps, "slippage-bps", "--slippage-bps 2")
    _finite(settings.min_trade_usd, "min-trade", "--min-trade 50")
    if abs(_finite(settings.basis_annual, "basis", "--basis 0.05")) > 1:
        raise InputError(f"basis: an annualised basis must be within ±1 (±100 % a year), got "
                         f"{settings.basis_annual!r}; e.g. --basis 0.05")
    if settings.collateral_usd is not None and not (
        _finite(settings.collateral_usd, "collateral", "--collateral 5000") > 0
    ):
        raise InputError(f"collateral: must be > 0 USD, got {settings.collateral_usd!r}; omit "
                         "it to start with the initial margin")
    if not 0 < _finite(settings.margin_call_ratio, "margin_call_ratio", "0.8") <= 1:
        raise InputError(f"margin_call_ratio: must be in (0, 1], got "
                         f"{settings.margin_call_ratio!r}")
    if settings.leverage is not None:
        _finite(settings.leverage, "leverage", "--leverage 2")


def _check_settings(settings: BacktestSettings) -> None:
    _check_numbers(settings)
    if settings.timeframe not in _PERIODS_PER_YEAR:
        raise InputError(f"timeframe: must be 1d or 1h, got {settings.timeframe!r}")
    if settings.start is not None and settings.end is not None and (
        pd.Timestamp(settings.end) <= pd.Timestamp(settings.start)
    ):
        raise InputError(
            f"end: --end {settings.end} is not after --start {settings.start}; swap them"
        )
    if not (math.isfinite(settings.slippage_bps) and 0 <= settings.slippage_bps < 1000):
        raise InputError(f"slippage-bps: must be between 0 and 1000, got {settings.slippage_bps}")
    if settings.min_trade_usd < 0:
        raise InputError(f"min-trade: must be ≥ 0 USD, got {settings.min_trade_usd}")


def _resolve_specs(
    portfolio: PortfolioConfig,
    source: PriceSource,
    policies: Sequence[CompareSpec | PolicySpec | str],
    settings: BacktestSettings,
    warnings: list[str],
) -> list[CompareSpec]:
    """Parse the compared hedges; keep ``auto`` in days on hourly bars; ETH-less ``auto``."""
    specs = [parse_compare_item(p, window=settings.window, halflife=settings.halflife,
                                portfolio=portfolio) for p in policies]
    if not specs:
        raise InputError("policy: give at least one policy, e.g. --policy auto")
    bars_per_day = 24.0 / _BAR_HOURS[settings.timeframe]
    if bars_per_day != 1:
        # auto's evidence is on daily bars and the portfolio file's lookback is in days:
        # keep their windows/half-lives in days
        specs = [replace(s, policy=_scale_auto(s.policy, bars_per_day))
                 if s.policy.name == "auto" or s.plan else s for s in specs]
    if any(s.policy.name == "auto" and s.policy.kind == "multi" for s in specs):
        try:
            has_eth = "ETH" in source.symbols()
        except Exception:  # a source that cannot list its symbols: try to load ETH
            has_eth = True
        if not has_eth:
            fallback = _scale_auto(parse_policy("auto", single_instrument=True), bars_per_day)
            specs = [replace(s, policy=fallback) if s.policy.name == "auto" else s
                     for s in specs]
            warnings.append(
                f"auto: no ETH prices in {source.name}, so auto uses the best "
                f"single-instrument policy {AUTO_FALLBACK} instead of BTC+ETH minimum variance"
            )
    return specs


def _market(
    portfolio: PortfolioConfig,
    source: PriceSource,
    specs: Sequence[CompareSpec],
    settings: BacktestSettings,
    warnings: list[str],
) -> _Market:
    """Load prices; value the holdings; returns of the portfolio, holdings, hedge assets."""
    primary = portfolio.hedge_asset
    need_eth = (any(s.policy.kind == "multi" for s in specs)
                or "ETH" in portfolio.hedge.assets)
    hedge_assets = list(dict.fromkeys([primary, "BTC", *(["ETH"] if need_eth else [])]))
    raw = _load(portfolio, source, hedge_assets, settings, warnings)
    closes = raw.ffill()  # interior gaps: previous close (reported by _check_quality)
    amounts = np.array([h.amount for h in portfolio.holdings])
    held = closes[[h.asset for h in portfolio.holdings]].to_numpy(dtype=float)
    values = held * amounts  # (T, A) USD value of each holding
    v = values.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r_assets = np.vstack([np.full((1, held.shape[1]), np.nan), held[1:] / held[:-1] - 1])
        r_p = np.r_[np.nan, v[1:] / v[:-1] - 1]
        r_h = {
            a: np.r_[np.nan, closes[a].to_numpy()[1:] / closes[a].to_numpy()[:-1] - 1]
            for a in hedge_assets
        }
    classes = [h.asset_class.value if h.asset_class else None for h in portfolio.holdings]
    return _Market(raw, closes, pd.DatetimeIndex(closes.index), v, values / v[:, None],
                   r_p, r_assets, r_h, classes, primary)


def _decide(
    specs: Sequence[CompareSpec], market: _Market, tick: Callable[[str, float], None]
) -> dict[str, PolicyTargets]:
    """Target hedge ratios of every sizing policy over the whole history (rows ≤ t)."""
    targets: dict[str, PolicyTargets] = {}
    policies = list({s.policy.name: s.policy for s in specs}.values())
    for i, pol in enumerate(policies):
        tick(f"estimating {pol.name}", 0.05 + 0.25 * i / len(policies))
        targets[pol.name] = target_ratios(
            pol, market.r_p, market.r_h, asset_returns=market.r_assets,
            asset_weights=market.weights, asset_classes=market.classes,
            primary=market.primary,
        )
    return targets


def _span(
    market: _Market,
    targets: dict[str, PolicyTargets],
    settings: BacktestSettings,
    keep_bars: Sequence[str],
    warnings: list[str],
) -> _Span:
    """Out-of-sample span: after every estimator (and the reference window) has warmed
    up, and not before ``--start``; data quality checked on the bars used."""
    index = market.index
    warm = max([settings.window, *(t.first_valid for t in targets.values())])
    begin = warm
    if settings.start is not None:
        begin = max(begin, int(index.searchsorted(pd.Timestamp(settings.start), side="left")))
    if settings.start is not None and begin >= len(index) - 2 and warm < len(index) - 2:
        raise InputError(
            f"start: --start {settings.start} leaves fewer than 3 bars before the last price "
            f"({index[-1].date()}); pick an earlier --start"
        )
    if begin >= len(index) - 2:
        raise DataError(
            f"prices: not enough history after the {warm}-bar estimation warm-up "
            f"({len(index)} bars from {index[0].date()} to {index[-1].date()}); "
            "use an earlier --start, a shorter --window or more data"
        )
    _check_quality(market.raw, index[max(0, begin - warm)], settings.timeframe, warnings,
                   keep_bars, hedge_assets=tuple(market.r_h))
    return _Span(begin=begin, warm=warm)


def _hedge_legs(
    portfolio: PortfolioConfig,
    source: PriceSource,
    market: _Market,
    span: _Span,
    specs: Sequence[CompareSpec],
    settings: BacktestSettings,
    warnings: list[str],
) -> dict[str, HedgeLegSetup]:
    """Contract, costs and price paths of every instrument a compared hedge trades."""
    exchange = portfolio.hedge.exchange
    fee_rate = _fee_rate(settings.fees, exchange)
    _, threshold = rebalance_schedule(market.index[span.sl], settings.rebalance)
    rounding = parse_rounding(settings.rounding or portfolio.hedge.rounding)
    leverage = _leverage(portfolio, settings)
    assumed_8h = (
        portfolio.hedge.funding_rate_8h
        if portfolio.hedge.funding_rate_8h is not None
        else DEFAULT_FUNDING_RATE_8H
    )
    need_eth = any(s.policy.kind == "multi" for s in specs) or "ETH" in portfolio.hedge.assets
    idx = market.index[span.sl]
    v_s = market.value_usd[span.sl]
    legs: dict[str, HedgeLegSetup] = {}
    for asset in dict.fromkeys([market.primary, *(["BTC", "ETH"] if need_eth else [])]):
        inst = _instrument(portfolio, asset, settings)
        if leverage > inst.max_leverage:
            raise InputError(
                f"leverage: {leverage:g}x is above the {inst.max_leverage:g}x maximum of "
                f"{inst.exchange} {inst.symbol}; pass --leverage {inst.max_leverage:g} or less"
            )
        spot = market.closes[asset].to_numpy(dtype=float)[span.sl]
        typical = float(np.nanmedian(v_s))
        notional = typical if inst.contract_type is ContractType.LINEAR else typical / spot[0]
        tier = inst.tier_for_notional(notional) if inst.tiers else None
        leg_spec = LegSpec(
            contract_type=inst.contract_type,
            contract_size=inst.contract_size,
            rounding=rounding,
            lot_step=inst.lot_step,
            min_contracts=inst.min_contracts,
            fee_rate=fee_rate,
            slippage_bps=settings.slippage_bps,
            min_trade_usd=settings.min_trade_usd,
            threshold=threshold,
            leverage=leverage,
            collateral_usd=settings.collateral_usd,
            # Deribit's rate grows with size: taken at the typical position size (coin)
            mmr=(tier.mmr + tier.mmr_per_coin * typical / spot[0]) if tier else 0.005,
            maint_amount=tier.maint_amount if tier else 0.0,
            margin_call_ratio=settings.margin_call_ratio,
            top_up=settings.top_up,
        )
        if inst.is_perpetual:
            exit_p = entry_p = spot
            rate = _funding_per_bar(source, asset, idx, settings, assumed_8h, warnings,
                                    inst.exchange, inst.contract_type.value)
        else:
            exit_p, entry_p = dated_prices(pd.Series(spot, index=idx), settings.basis_annual)
            rate = np.zeros(len(idx))
        mark = None
        if inst.is_perpetual and inst.contract_type is ContractType.LINEAR:
            marked = mark_high_per_bar(getattr(source, "root", None), asset, idx,
                                       pd.Timedelta(hours=_BAR_HOURS[settings.timeframe]), spot)
            if marked is not None and marked[1]:
                mark = marked[0]
                warnings.append(f"liquidation: {asset} checked against Binance's mark price "
                                f"on {marked[1]} of {len(idx)} bars (the close elsewhere)")
        legs[asset] = HedgeLegSetup(inst, leg_spec, spot, exit_p, entry_p, rate, mark)
    return legs


def _leverage(portfolio: PortfolioConfig, settings: BacktestSettings) -> float:
    return settings.leverage if settings.leverage is not None else portfolio.hedge.leverage


def _trigger_states(
    specs: Sequence[CompareSpec],
    market: _Market,
    source: PriceSource,
    settings: BacktestSettings,
    warnings: list[str],
) -> dict[str, np.ndarray]:
    """On/off state of every compared hedge's trigger over the whole history (rows ≤ t)."""
    with_trigger = [s for s in specs if s.trigger is not None]
    if not with_trigger:
        return {}
    funding = None
    if any(s.trigger is not None and s.trigger.needs_funding for s in with_trigger):
        funding = _funding_history_8h(source, market.primary, market.index, warnings)
    inputs = TriggerInputs(
        index=market.index,
        hedge_price_usd=market.closes[market.primary].to_numpy(dtype=float),
        portfolio_value_usd=market.value_usd,
        funding_rate_8h=funding,
        bars_per_day=24.0 / _BAR_HOURS[settings.timeframe],
    )
    return {s.name: evaluate(s.trigger, inputs).on for s in with_trigger if s.trigger}


def _simulate(
    spec: CompareSpec,
    target: PolicyTargets,
    trigger_on: np.ndarray | None,
    market: _Market,
    span: _Span,
    legs: dict[str, HedgeLegSetup],
    settings: BacktestSettings,
    exchange: str,
) -> PolicyResult:
    """Walk one compared hedge forward over the span; its metrics and per-bar series."""
    sl = span.sl
    idx = market.index[sl]
    v_s = market.value_usd[sl]
    due, _ = rebalance_schedule(idx, settings.rebalance)
    on = np.ones(len(idx), dtype=bool) if trigger_on is None else trigger_on[sl]
    due = due | np.r_[False, on[1:] != on[:-1]]  # a switch trades on its own bar
    net = np.zeros(len(idx))
    rallies: list[float] = []
    basis_usd = 0.0
    frame: dict[str, Any] = {"value_usd": v_s}
    leg_res: dict[str, LegResult] = {}
    for asset, ratio in target.ratios.items():
        leg = legs[asset]
        ratio_s = _ratios_frame(ratio[sl])[:, 0] * on
        res = simulate_leg(
            leg.spec, v_s, ratio_s, leg.exit, funding_rate=leg.funding_rate_per_bar,
            rebalance_due=due, entry_price_usd=leg.entry, spot_usd=leg.spot,
            mark_usd=leg.mark_high_usd,
        )
        leg_res[asset] = res
        liq_px = _liquidation_prices(leg, res, exchange)
        frame[f"liquidation_price_usd_{asset}"] = liq_px
        with np.errstate(invalid="ignore", divide="ignore"):
            rally = 100.0 * (liq_px / leg.entry - 1.0)
        rallies.append(float(np.nanmin(rally)) if np.isfinite(rally).any() else math.inf)
        basis_usd += _basis_pnl(leg, res)
        net += res.net_pnl_usd[:, 0]
        frame[f"beta_{asset}"] = ratio_s
        frame[f"contracts_{asset}"] = res.contracts[:, 0]
        frame[f"hedged_notional_usd_{asset}"] = res.hedged_notional_usd[:, 0]
    if target.std_error is not None:
        frame["beta_std_error"] = target.std_error[sl][:, 0]
    frame["trigger_on"] = on
    periods = _PERIODS_PER_YEAR[settings.timeframe]
    r_u = np.r_[np.nan, v_s[1:] / v_s[:-1] - 1]
    metrics, extra = policy_metrics(
        v_s, net, leg_res, r_u, market.r_h[market.primary][sl], idx, periods,
        # closest the hedge came to liquidation: the smallest rally from a close that
        # would have reached the liquidation price (core liquidation_price); inf if never
        min_rally_pct=min(rallies) if rallies else math.inf,
        # dated contracts: the part of the hedge PnL due to the futures price moving
        # differently from spot (convergence and rolls), + = earned by the short
        basis_usd=basis_usd,
    )
    frame.update(extra)
    return PolicyResult(
        name=spec.name, spec=spec.policy, metrics=metrics,
        series=pd.DataFrame(frame, index=idx), notes=list(target.notes),
        trigger=spec.trigger, plan=spec.plan,
    )


def _result(
    portfolio: PortfolioConfig,
    market: _Market,
    span: _Span,
    legs: dict[str, HedgeLegSetup],
    settings: BacktestSettings,
    results: list[PolicyResult],
    episodes: list[Episode],
    warnings: list[str],
) -> BacktestResult:
    """Assemble the result: span, instrument, resolved settings, the reference beta."""
    idx = market.index[span.sl]
    ref = max(min(settings.window, len(market.index) - 1), 3)
    measured = pd.DataFrame(
        {
            "beta": np.asarray(
                target_ratios(parse_policy(f"rolling-ols:{ref}"), market.r_p, market.r_h,
                              primary=market.primary).ratios[market.primary][:, 0]
            )[span.sl],
            "std_error": rolling_beta_std_error(market.r_p, market.r_h[market.primary],
                                                ref)[span.sl],
        },
        index=idx,
    )
    inst0 = legs[market.primary].inst
    kind, aversion = mc.parse_rank_objective(settings.rank_by)
    return BacktestResult(
        policies=results,
        start=stamp(idx[0], settings.timeframe),
        end=stamp(idx[-1], settings.timeframe),
        bars=len(idx),
        timeframe=settings.timeframe,
        portfolio_name=portfolio.name,
        hedge_asset=market.primary,
        instrument=f"{inst0.exchange} {inst0.symbol}",
        settings={**settings.to_dict(), "fee_rate": next(iter(legs.values())).spec.fee_rate,
                  "rounding": parse_rounding(settings.rounding
                                             or portfolio.hedge.rounding).value,
                  "leverage": _leverage(portfolio, settings), "warmup_bars": span.warm,
                  "window": settings.window},
        measured_beta=measured,
        warnings=list(dict.fromkeys(warnings)),
        rank_by=f"utility:{aversion:g}" if kind == "utility" else kind,
        episodes=episodes,
    )


def _liquidation_prices(leg: HedgeLegSetup, res: LegResult, exchange: str) -> np.ndarray:
    """Liquidation price (USD) of the short after each bar, from the core formula.

    Evaluated with the exchange's published formula (core ``liquidation_price``) for the
    contracts held and the account's equity as the isolated wallet, re-based to the
    bar's price (the same liquidation price as from the original entry and wallet, since
    equity = wallet + unrealised PnL). Re-evaluated on every bar where the position or
    the account changed by a trade or a deposit; NaN when flat, inf when never liquidated.
    """
    spec = leg.spec
    q = res.contracts[:, 0]
    out = np.full(q.size, np.nan)
    if not spec.margin:
        return out
    inverse = spec.contract_type is ContractType.INVERSE
    changed = (res.rebalanced[:, 0] | (res.deposits_usd[:, 0] > 0)) & (q > 0)
    for i in np.flatnonzero(changed):
        wallet = res.account_usd[i, 0] / (leg.spot[i] if inverse else 1.0)
        if not wallet > 0:
            continue
        try:
            lq = liquidation_price(exchange, spec.contract_type, Side.SHORT, float(q[i]),
                                   spec.contract_size, float(leg.entry[i]),
                                   wallet_balance=float(wallet), mmr=spec.mmr,
                                   maint_amount=spec.maint_amount)
        except AlthedgeError:
            continue
        out[i] = lq.liquidation_price
    filled = pd.Series(out).ffill().to_numpy()
    return np.where(q > 0, filled, np.nan)


def _basis_pnl(leg: HedgeLegSetup, res: LegResult) -> float:
    """Hedge PnL on the futures price minus the same position's PnL on spot (USD).

    Per bar, for the contracts held over (t−1, t]: core PnL from the held contract's
    price at t−1 to its price at t, minus core PnL from spot at t−1 to spot at t (inverse:
    coin PnL valued at spot). Zero for perpetuals (futures price = spot in the model).
    """
    entry, exit_p, spot = leg.entry, leg.exit, leg.spot
    if np.array_equal(entry, spot) and np.array_equal(exit_p, spot):
        return 0.0
    spec = leg.spec
    q = res.contracts[:-1, 0]
    if spec.contract_type is ContractType.LINEAR:
        fut = linear_pnl_usd(Side.SHORT, q, spec.contract_size, entry[:-1], exit_p[1:])
        spt = linear_pnl_usd(Side.SHORT, q, spec.contract_size, spot[:-1], spot[1:])
    else:
        fut = inverse_pnl_coin(Side.SHORT, q, spec.contract_size, entry[:-1], exit_p[1:])
        spt = inverse_pnl_coin(Side.SHORT, q, spec.contract_size, spot[:-1], spot[1:])
        fut, spt = np.asarray(fut) * spot[1:], np.asarray(spt) * spot[1:]
    return float(np.sum(np.asarray(fut) - np.asarray(spt)))


def replace_settings(settings: BacktestSettings, **changes: Any) -> BacktestSettings:
    """A copy of ``settings`` with ``changes`` (None values ignored)."""
    return replace(settings, **{k: v for k, v in changes.items() if v is not None})


def _elapsed_since(t0: float) -> float:  # pragma: no cover - trivial
    return time.perf_counter() - t0
