"""Backtest: would this hedge have worked, and what would it have cost?

``run_backtest(portfolio, source, policies, settings)`` values the holdings
(buy-and-hold, amounts from the portfolio file) on every bar, lets each hedge policy
decide a hedge ratio at every bar from data up to that bar
(:mod:`althedge.core.policies`), walks the short forward through the real price path
with fees, slippage, funding, basis, margin calls and liquidations
(:mod:`althedge.core.simulate`), and measures hedged against unhedged with
:mod:`althedge.core.metrics`. No formula lives here: this module wires data to the core
and keeps the bookkeeping (schedules, funding series, basis model, yearly splits).

Method and defaults: ``docs/backtest.md``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
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
    parse_policy,
    rolling_beta_std_error,
    target_ratios,
)
from althedge.core.simulate import LegResult, LegSpec, simulate_leg
from althedge.core.sizing import parse_rounding
from althedge.data import PriceSource, check_closes
from althedge.errors import AlthedgeError, DataError, DataQualityError, InputError
from althedge.services.costs import find_funding_history, funding_per_bar, mark_high_per_bar

__all__ = [
    "DEFAULT_FUNDING_RATE_8H",
    "FEE_SCHEDULES",
    "BacktestResult",
    "BacktestSettings",
    "PolicyResult",
    "parse_policy_list",
    "rebalance_schedule",
    "run_backtest",
]

#: Funding assumed where no history exists: 0.01 % per 8 h, the interest-only baseline.
DEFAULT_FUNDING_RATE_8H = 0.0001
#: (maker, taker) fee rates of the base VIP tier, as published by each exchange's fee
#: page (checked 2026-11): Binance USDⓈ-M/COIN-M 0.02 %/0.05 %, Bybit 0.02 %/0.055 %,
#: OKX 0.02 %/0.05 %, Deribit futures 0 %/0.05 %.
FEE_SCHEDULES: dict[str, tuple[float, float]] = {
    "binance": (0.0002, 0.0005),
    "bybit": (0.0002, 0.00055),
    "okx": (0.0002, 0.0005),
    "deribit": (0.0, 0.0005),
}
_PERIODS_PER_YEAR = {"1d": 365.0, "1h": 365.0 * 24}
_BAR_HOURS = {"1d": 24.0, "1h": 1.0}


@dataclass(frozen=True)
class BacktestSettings:
    """Everything a backtest run needs besides the portfolio and the prices.

    * ``start``/``end``: the evaluated (out-of-sample) span; history before ``start`` is
      used to warm the estimators up;
    * ``window`` (bars) / ``halflife`` (bars): defaults for policies given without one;
    * ``rebalance``: ``every`` | ``daily`` | ``weekly`` | ``biweekly`` | ``threshold:PCT``;
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

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output."""
        return {k: (str(v) if isinstance(v, date) else v) for k, v in self.__dict__.items()}


@dataclass
class PolicyResult:
    """One policy's run: its metrics and its per-bar series (for the report)."""

    name: str
    spec: PolicySpec
    metrics: dict[str, Any]
    series: pd.DataFrame  # per bar: value, equity_hedged, beta_*, contracts_*, costs …
    notes: list[str] = field(default_factory=list)
    rank: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON contract entry: name, metrics (and rank, resolved policy)."""
        out: dict[str, Any] = {"name": self.name, "rank": self.rank, "metrics": self.metrics}
        if self.spec.resolved_from:
            out["resolved_from"] = self.spec.resolved_from
        if self.notes:
            out["notes"] = self.notes
        return out


@dataclass
class BacktestResult:
    """All policies run on the same data and span."""

    policies: list[PolicyResult]
    start: str
    end: str
    bars: int
    timeframe: str
    portfolio_name: str
    hedge_asset: str
    instrument: str
    settings: dict[str, Any]
    measured_beta: pd.DataFrame  # rolling OLS beta and its standard error (report band)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The ``backtest --json`` contract."""
        return {
            "policies": [p.to_dict() for p in self.policies],
            "start": self.start,
            "end": self.end,
            "bars": self.bars,
            "timeframe": self.timeframe,
            "portfolio": self.portfolio_name,
            "hedge_asset": self.hedge_asset,
            "instrument": self.instrument,
            "settings": self.settings,
            "warnings": self.warnings,
        }


def parse_policy_list(
    text: str | Sequence[str], *, window: int = DEFAULT_WINDOW, halflife: float = DEFAULT_HALFLIFE
) -> list[PolicySpec]:
    """``"rolling-ols,ewma,static:1.8,auto"`` → specs (duplicates refused)."""
    items = [p.strip() for p in (text.split(",") if isinstance(text, str) else text)]
    items = [p for p in items if p]
    if not items:
        raise InputError(
            "compare: no policy given; e.g. --compare rolling-ols,ewma,static:1.8,auto"
        )
    specs = [parse_policy(p, window=window, halflife=halflife) for p in items]
    names = [s.name for s in specs]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise InputError(f"compare: policy {dup!r} is listed twice; list each policy once")
    return specs


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
    mean rate per 8 h × bar hours / 8 (daily bar: × 3)."""
    per_bar = _BAR_HOURS[settings.timeframe] / 8.0
    text = str(settings.funding).strip().lower()
    if text != "history":
        try:
            rate = float(text)
        except ValueError:
            raise InputError(
                f"funding: {settings.funding!r} is not 'history' or a rate per 8 h; "
                "e.g. --funding 0.0001"
            ) from None
        if not (math.isfinite(rate) and abs(rate) <= 0.05):
            raise InputError(f"funding: a rate per 8 h must be within ±0.05, got {rate}")
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
    hist = source.funding_rates(asset)
    if hist.empty and asset != "BTC":
        hist = source.funding_rates("BTC")
        if not hist.empty:
            warnings.append(f"funding: no {asset} funding history; BTC's used as a proxy")
    day = index.normalize()
    if hist.empty:
        rates = pd.Series(np.nan, index=index)
    else:
        daily = hist.copy()
        daily.index = pd.DatetimeIndex(daily.index).normalize()
        daily = daily[~daily.index.duplicated(keep="last")]
        rates = pd.Series(daily.reindex(day).to_numpy(), index=index)
    missing = int(rates.isna().sum())
    if missing:
        warnings.append(
            f"funding: no history for {missing} of {len(index)} bars; assumed "
            f"{assumed_8h:.4%} per 8 h there (set hedge.funding_rate_8h or --funding RATE)"
        )
    return rates.fillna(assumed_8h).to_numpy(dtype=float) * per_bar


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
        raise DataError(
            f"prices: no {settings.timeframe} closes for {', '.join(missing)} in {source.name}; "
            "add the files to --prices DIR or remove the holding"
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
    keep: Sequence[str] = (),
) -> None:
    """Refuse error-severity defects in the bars used (warm-up included), warn on the rest.

    Defects before ``used_from`` do not touch the run and are not reported.
    """
    used = closes.loc[used_from:]
    for f in check_closes(used, timeframe=timeframe, keep=keep):
        if f.severity == "error":
            raise DataQualityError(
                f"prices: {f.symbol} {f.kind} at {f.timestamp}: {f.detail}; fix the data, "
                "pass a later --start or remove the holding (see `althedge data check`)"
            )
        if f.kind in ("gap", "missing_price", "stale", "extreme_move", "spike"):
            warnings.append(f"data: {f.symbol} {f.kind} at {f.timestamp}: {f.detail}")
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


def run_backtest(
    portfolio: PortfolioConfig,
    source: PriceSource,
    policies: Sequence[PolicySpec | str],
    settings: BacktestSettings | None = None,
    *,
    progress: Callable[[str, float], None] | None = None,
) -> BacktestResult:
    """Run every policy on the same data and span; results ranked by hedge effectiveness.

    ``progress(label, fraction)`` is called as work advances (for a progress bar).
    Raises :class:`InputError` for bad settings, :class:`DataError` when prices are
    missing or fail a quality check.
    """
    settings = settings or BacktestSettings()
    if settings.timeframe not in _PERIODS_PER_YEAR:
        raise InputError(f"timeframe: must be 1d or 1h, got {settings.timeframe!r}")
    if settings.start is not None and settings.end is not None and (
        pd.Timestamp(settings.end) <= pd.Timestamp(settings.start)
    ):
        raise InputError(
            f"end: --end {settings.end} is not after --start {settings.start}; swap them"
        )
    specs = [
        p if isinstance(p, PolicySpec)
        else parse_policy(p, window=settings.window, halflife=settings.halflife)
        for p in policies
    ]
    if not specs:
        raise InputError("policy: give at least one policy, e.g. --policy auto")
    warnings: list[str] = []
    tick = progress or (lambda label, frac: None)
    primary = portfolio.hedge_asset
    bars_per_day = 24.0 / _BAR_HOURS[settings.timeframe]
    if bars_per_day != 1:
        # auto's evidence is on daily bars: keep its window/half-life in days
        specs = [_scale_auto(s, bars_per_day) if s.name == "auto" else s for s in specs]
    if any(s.name == "auto" and s.kind == "multi" for s in specs):
        try:
            has_eth = "ETH" in source.symbols()
        except Exception:  # a source that cannot list its symbols: try to load ETH
            has_eth = True
        if not has_eth:
            fallback = _scale_auto(parse_policy("auto", single_instrument=True), bars_per_day)
            specs = [fallback if s.name == "auto" else s for s in specs]
            warnings.append(
                f"auto: no ETH prices in {source.name}, so auto uses the best "
                f"single-instrument policy {AUTO_FALLBACK} instead of BTC+ETH minimum variance"
            )
    need_eth = any(s.kind == "multi" for s in specs) or "ETH" in portfolio.hedge.assets
    hedge_assets = list(dict.fromkeys([primary, "BTC", *(["ETH"] if need_eth else [])]))
    tick("loading prices", 0.0)
    raw = _load(portfolio, source, hedge_assets, settings, warnings)
    closes = raw.ffill()  # interior gaps: previous close (reported by _check_quality)
    index = pd.DatetimeIndex(closes.index)
    amounts = np.array([h.amount for h in portfolio.holdings])
    held = closes[[h.asset for h in portfolio.holdings]].to_numpy(dtype=float)
    values = held * amounts  # (T, A) USD value of each holding
    v = values.sum(axis=1)
    weights = values / v[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        r_assets = np.vstack([np.full((1, held.shape[1]), np.nan), held[1:] / held[:-1] - 1])
        r_p = np.r_[np.nan, v[1:] / v[:-1] - 1]
        r_h = {
            a: np.r_[np.nan, closes[a].to_numpy()[1:] / closes[a].to_numpy()[:-1] - 1]
            for a in hedge_assets
        }
    classes = [h.asset_class.value if h.asset_class else None for h in portfolio.holdings]

    # --- decide: target ratios for every policy over the whole history -----------------
    targets = {}
    for i, spec in enumerate(specs):
        tick(f"estimating {spec.name}", 0.05 + 0.25 * i / len(specs))
        targets[spec.name] = target_ratios(
            spec, r_p, r_h, asset_returns=r_assets, asset_weights=weights,
            asset_classes=classes, primary=primary,
        )
    # out-of-sample span: after every compared estimator (and the reference window) has
    # warmed up, and not before --start
    warm = max([settings.window, *(t.first_valid for t in targets.values())])
    begin = warm
    if settings.start is not None:
        start_ts = pd.Timestamp(settings.start)
        begin = max(begin, int(index.searchsorted(start_ts, side="left")))
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
    sl = slice(begin, None)
    _check_quality(raw, index[max(0, begin - warm)], settings.timeframe, warnings,
                   [*portfolio.hedge.keep_bars, *settings.keep_bars])
    idx = index[sl]
    t_len = len(idx)
    v_s = v[sl]

    # --- instruments, costs, schedules ------------------------------------------------
    exchange = portfolio.hedge.exchange
    fee_rate = _fee_rate(settings.fees, exchange)
    if not (math.isfinite(settings.slippage_bps) and 0 <= settings.slippage_bps < 1000):
        raise InputError(f"slippage-bps: must be between 0 and 1000, got {settings.slippage_bps}")
    if settings.min_trade_usd < 0:
        raise InputError(f"min-trade: must be ≥ 0 USD, got {settings.min_trade_usd}")
    due, threshold = rebalance_schedule(idx, settings.rebalance)
    rounding = parse_rounding(settings.rounding or portfolio.hedge.rounding)
    leverage = settings.leverage if settings.leverage is not None else portfolio.hedge.leverage
    assumed_8h = (
        portfolio.hedge.funding_rate_8h
        if portfolio.hedge.funding_rate_8h is not None
        else DEFAULT_FUNDING_RATE_8H
    )
    legs: dict[str, dict[str, Any]] = {}
    leg_assets = list(dict.fromkeys([primary, *(["BTC", "ETH"] if need_eth else [])]))
    for asset in leg_assets:
        inst = _instrument(portfolio, asset, settings)
        if leverage > inst.max_leverage:
            raise InputError(
                f"leverage: {leverage:g}x is above the {inst.max_leverage:g}x maximum of "
                f"{inst.exchange} {inst.symbol}; pass --leverage {inst.max_leverage:g} or less"
            )
        spot = closes[asset].to_numpy(dtype=float)[sl]
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
            rate = np.zeros(t_len)
        legs[asset] = {"inst": inst, "spec": leg_spec, "spot": spot, "exit": exit_p,
                       "entry": entry_p, "rate": rate, "mark": None}
        if inst.is_perpetual and inst.contract_type is ContractType.LINEAR:
            marked = mark_high_per_bar(getattr(source, "root", None), asset, idx,
                                       pd.Timedelta(hours=_BAR_HOURS[settings.timeframe]), spot)
            if marked is not None and marked[1]:
                legs[asset]["mark"] = marked[0]
                warnings.append(f"liquidation: {asset} checked against Binance's mark price "
                                f"on {marked[1]} of {t_len} bars (the close elsewhere)")

    # --- walk forward and measure ---------------------------------------------------------
    periods = _PERIODS_PER_YEAR[settings.timeframe]
    r_u = np.r_[np.nan, v_s[1:] / v_s[:-1] - 1]
    r_hedge_asset = r_h[primary][sl]
    results: list[PolicyResult] = []
    for i, spec in enumerate(specs):
        tick(f"simulating {spec.name}", 0.3 + 0.65 * i / len(specs))
        tg = targets[spec.name]
        net = np.zeros(t_len)
        rallies: list[float] = []
        basis_usd = 0.0
        frame: dict[str, Any] = {"value_usd": v_s}
        leg_res: dict[str, LegResult] = {}
        for asset, ratio in tg.ratios.items():
            leg = legs[asset]
            ratio_s = _ratios_frame(ratio[sl])[:, 0]
            res = simulate_leg(
                leg["spec"], v_s, ratio_s, leg["exit"], funding_rate=leg["rate"],
                rebalance_due=due, entry_price_usd=leg["entry"], spot_usd=leg["spot"],
                mark_usd=leg["mark"],
            )
            leg_res[asset] = res
            liq_px = _liquidation_prices(legs[asset], res, portfolio.hedge.exchange)
            frame[f"liquidation_price_usd_{asset}"] = liq_px
            with np.errstate(invalid="ignore", divide="ignore"):
                rally = 100.0 * (liq_px / leg["entry"] - 1.0)
            rallies.append(float(np.nanmin(rally)) if np.isfinite(rally).any() else math.inf)
            basis_usd += _basis_pnl(leg, res)
            net += res.net_pnl_usd[:, 0]
            frame[f"beta_{asset}"] = ratio_s
            frame[f"contracts_{asset}"] = res.contracts[:, 0]
            frame[f"hedged_notional_usd_{asset}"] = res.hedged_notional_usd[:, 0]
        if tg.std_error is not None:
            frame["beta_std_error"] = tg.std_error[sl][:, 0]
        metrics, extra = _metrics(v_s, net, leg_res, r_u, r_hedge_asset, idx, periods)
        # closest the hedge came to liquidation: the smallest rally from a close that would
        # have reached the liquidation price (core liquidation_price); None if never
        metrics["min_rally_to_liquidation_pct"] = min(rallies) if rallies else math.inf
        # dated contracts: the part of the hedge PnL due to the futures price moving
        # differently from spot (convergence and rolls), + = earned by the short
        metrics["basis_usd"] = basis_usd
        frame.update(extra)
        results.append(
            PolicyResult(
                name=spec.name, spec=spec, metrics=metrics,
                series=pd.DataFrame(frame, index=idx), notes=list(tg.notes),
            )
        )
    order = sorted(
        range(len(results)),
        key=lambda k: (
            -_finite_or(results[k].metrics["hedge_effectiveness"], -math.inf),
            results[k].metrics["cost_total_usd"],
        ),
    )
    for rank, k in enumerate(order, start=1):
        results[k].rank = rank
    results.sort(key=lambda r: r.rank)
    ref = min(settings.window, len(index) - 1)
    measured = pd.DataFrame(
        {
            "beta": np.asarray(
                target_ratios(parse_policy(f"rolling-ols:{max(ref, 3)}"), r_p, r_h,
                              primary=primary).ratios[primary][:, 0]
            )[sl],
            "std_error": rolling_beta_std_error(r_p, r_h[primary], max(ref, 3))[sl],
        },
        index=idx,
    )
    tick("done", 1.0)
    inst0 = legs[primary]["inst"]
    return BacktestResult(
        policies=results,
        start=str(idx[0].date()) if settings.timeframe == "1d" else idx[0].isoformat(),
        end=str(idx[-1].date()) if settings.timeframe == "1d" else idx[-1].isoformat(),
        bars=t_len,
        timeframe=settings.timeframe,
        portfolio_name=portfolio.name,
        hedge_asset=primary,
        instrument=f"{inst0.exchange} {inst0.symbol}",
        settings={**settings.to_dict(), "fee_rate": fee_rate, "rounding": rounding.value,
                  "leverage": leverage, "warmup_bars": warm,
                  "window": settings.window},
        measured_beta=measured,
        warnings=list(dict.fromkeys(warnings)),
    )


def _liquidation_prices(leg: dict[str, Any], res: LegResult, exchange: str) -> np.ndarray:
    """Liquidation price (USD) of the short after each bar, from the core formula.

    Evaluated with the exchange's published formula (core ``liquidation_price``) for the
    contracts held and the account's equity as the isolated wallet, re-based to the
    bar's price (the same liquidation price as from the original entry and wallet, since
    equity = wallet + unrealised PnL). Re-evaluated on every bar where the position or
    the account changed by a trade or a deposit; NaN when flat, inf when never liquidated.
    """
    spec: LegSpec = leg["spec"]
    q = res.contracts[:, 0]
    out = np.full(q.size, np.nan)
    if not spec.margin:
        return out
    inverse = spec.contract_type is ContractType.INVERSE
    changed = (res.rebalanced[:, 0] | (res.deposits_usd[:, 0] > 0)) & (q > 0)
    for i in np.flatnonzero(changed):
        wallet = res.account_usd[i, 0] / (leg["spot"][i] if inverse else 1.0)
        if not wallet > 0:
            continue
        try:
            lq = liquidation_price(exchange, spec.contract_type, Side.SHORT, float(q[i]),
                                   spec.contract_size, float(leg["entry"][i]),
                                   wallet_balance=float(wallet), mmr=spec.mmr,
                                   maint_amount=spec.maint_amount)
        except AlthedgeError:
            continue
        out[i] = lq.liquidation_price
    filled = pd.Series(out).ffill().to_numpy()
    return np.where(q > 0, filled, np.nan)


def _basis_pnl(leg: dict[str, Any], res: LegResult) -> float:
    """Hedge PnL on the futures price minus the same position's PnL on spot (USD).

    Per bar, for the contracts held over (t−1, t]: core PnL from the held contract's
    price at t−1 to its price at t, minus core PnL from spot at t−1 to spot at t (inverse:
    coin PnL valued at spot). Zero for perpetuals (futures price = spot in the model).
    """
    entry, exit_p, spot = leg["entry"], leg["exit"], leg["spot"]
    if np.array_equal(entry, spot) and np.array_equal(exit_p, spot):
        return 0.0
    spec: LegSpec = leg["spec"]
    q = res.contracts[:-1, 0]
    if spec.contract_type is ContractType.LINEAR:
        fut = linear_pnl_usd(Side.SHORT, q, spec.contract_size, entry[:-1], exit_p[1:])
        spt = linear_pnl_usd(Side.SHORT, q, spec.contract_size, spot[:-1], spot[1:])
    else:
        fut = inverse_pnl_coin(Side.SHORT, q, spec.contract_size, entry[:-1], exit_p[1:])
        spt = inverse_pnl_coin(Side.SHORT, q, spec.contract_size, spot[:-1], spot[1:])
        fut, spt = np.asarray(fut) * spot[1:], np.asarray(spt) * spot[1:]
    return float(np.sum(np.asarray(fut) - np.asarray(spt)))


def _finite_or(x: float, default: float) -> float:
    return x if isinstance(x, int | float) and math.isfinite(x) else default


def _metrics(
    v: np.ndarray,
    net: np.ndarray,
    legs: dict[str, LegResult],
    r_u: np.ndarray,
    r_hedge_asset: np.ndarray,
    idx: pd.DatetimeIndex,
    periods: float,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Hedged vs unhedged metrics (core.metrics) and the per-bar series for the report."""
    equity_h = v + np.cumsum(net)
    r_hd = np.r_[np.nan, r_u[1:] + net[1:] / v[:-1]]  # (ΔV + hedge) / V_{t−1}
    u, h, x = r_u[1:], r_hd[1:], r_hedge_asset[1:]
    ts = idx[1:]

    def total(name: str) -> np.ndarray:
        return np.asarray(sum(getattr(res, name)[:, 0] for res in legs.values()), dtype=float)

    funding_recv = total("funding_usd")
    fees = total("fees_usd")
    slip = total("slippage_usd")
    traded = total("traded_usd")
    liq_loss = total("liquidation_loss_usd")
    deposits = total("deposits_usd")
    hedge_pnl = total("hedge_pnl_usd")
    rebalanced = np.any([res.rebalanced[:, 0] for res in legs.values()], axis=0)
    calls = np.any([res.margin_call[:, 0] for res in legs.values()], axis=0)
    liqs = int(sum(int(res.liquidated[:, 0].sum()) for res in legs.values()))
    years = max((idx[-1] - idx[0]).total_seconds() / (365.0 * 86400.0), 1e-9)
    avg_v = float(np.mean(v))
    yearly: dict[str, dict[str, float]] = {}
    frame = pd.DataFrame(
        {"funding_usd": -funding_recv, "fees_usd": fees, "slippage_usd": slip}, index=idx
    )
    for year, grp in frame.groupby(idx.year):
        yearly[str(year)] = {k: float(grp[k].sum()) for k in grp.columns}
        yearly[str(year)]["total_usd"] = float(grp.to_numpy().sum())
    cost_total = float(-funding_recv.sum() + fees.sum() + slip.sum()) + 0.0
    m: dict[str, Any] = {
        "hedge_effectiveness": float(mc.hedge_effectiveness(u, h)),
        "vol_unhedged": float(mc.annualised_volatility(u, periods)),
        "vol_hedged": float(mc.annualised_volatility(h, periods)),
        "max_drawdown_unhedged": float(mc.max_drawdown(v)),
        # USD equity of holdings + hedge account (deposits excluded); if the hedge's losses
        # ever exceed the holdings' value the drawdown is −100 %
        "max_drawdown_hedged": float(mc.max_drawdown(np.maximum(equity_h, 1e-9))),
        # the same hedge re-sized to the portfolio every bar: compounded hedged returns
        "max_drawdown_hedged_compounded": float(mc.max_drawdown(h, kind="returns")),
        "max_drawdown_unhedged_compounded": float(mc.max_drawdown(u, kind="returns")),
        "worst_weeks_return_unhedged": float(mc.worst_weeks_return(u, x, ts)),
        "worst_weeks_return_hedged": float(mc.worst_weeks_return(h, x, ts)),
        "funding_usd": float(-funding_recv.sum()) + 0.0,  # no "-0"
        "fees_usd": float(fees.sum()),
        "slippage_usd": float(slip.sum()),
        "cost_total_usd": cost_total,
        "cost_per_year_usd": cost_total / years,
        "cost_pct_of_value_per_year": 100.0 * cost_total / years / avg_v if avg_v > 0 else None,
        "costs_by_year": yearly,
        "hedge_pnl_usd": float(hedge_pnl.sum()),
        "net_hedge_pnl_usd": float(net.sum()),
        "final_value_unhedged_usd": float(v[-1]),
        "final_value_hedged_usd": float(equity_h[-1]),
        "return_unhedged_pct": float(100.0 * (v[-1] / v[0] - 1)),
        "return_hedged_pct": float(100.0 * (equity_h[-1] / v[0] - 1)),
        "turnover_usd": float(traded.sum()),
        "turnover_per_year": float(traded.sum()) / years / avg_v if avg_v > 0 else None,
        "rebalances": int(rebalanced.sum()),
        "margin_calls": int(calls.sum()),
        "liquidations": liqs,
        "liquidation_loss_usd": float(liq_loss.sum()),
        "collateral_deposited_usd": float(deposits.sum()),
        "years": years,
    }
    extra = {
        "equity_hedged_usd": equity_h,
        "return_unhedged": r_u,
        "return_hedged": r_hd,
        "funding_cost_usd": -funding_recv,
        "fees_usd": fees,
        "slippage_usd": slip,
        "traded_usd": traded,
        "rebalanced": rebalanced,
        "margin_call": calls,
        "liquidated": np.any([res.liquidated[:, 0] for res in legs.values()], axis=0),
    }
    return m, extra


def replace_settings(settings: BacktestSettings, **changes: Any) -> BacktestSettings:
    """A copy of ``settings`` with ``changes`` (None values ignored)."""
    return replace(settings, **{k: v for k, v in changes.items() if v is not None})


def _elapsed_since(t0: float) -> float:  # pragma: no cover - trivial
    return time.perf_counter() - t0
