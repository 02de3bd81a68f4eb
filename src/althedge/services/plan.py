"""The hedge plan: seed steps 1–3 (valuation, beta, ratio) for a portfolio file.

``build_plan(portfolio, source, as_of)`` prices every holding, measures each beta
against the hedge asset over the lookback window (data up to ``as_of`` only),
sizes the short on the chosen contract, and adds what the position implies:
initial margin, liquidation price, the rally that reaches it and the yearly
funding. Every formula comes from :mod:`althedge.core`; this module only wires
data to it and labels where each figure came from.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd

from althedge.config import AssetClass, PortfolioConfig
from althedge.core import beta as beta_core
from althedge.core.estimators import get_estimator
from althedge.core.funding import funding_usd_per_year
from althedge.core.instruments import Instrument, Side, find_instrument
from althedge.core.intraday import consecutive_returns, skip_listing
from althedge.core.margin import (
    cross_liquidation_price,
    initial_margin,
    liquidation_outcome,
    liquidation_price,
)
from althedge.core.pnl import pnl_usd
from althedge.core.returns import portfolio_returns
from althedge.core.sizing import size_hedge
from althedge.data import PriceSource, check_closes
from althedge.data.sources import unreadable_rows
from althedge.errors import (
    AlthedgeError,
    ConfigError,
    DataError,
    DataQualityError,
    InputError,
)
from althedge.services.trigger_status import TriggerSection, trigger_section

#: Funding assumed when neither the portfolio file nor the source gives a rate:
#: 0.01 % per 8 h, the baseline (interest component) most exchanges pay at zero premium.
DEFAULT_FUNDING_RATE_8H = 0.0001
#: A rally smaller than this to liquidation gets a warning (issue: "within a 30% rally").
LIQUIDATION_WARNING_PCT = 30.0
#: A latest close older than this many days before the valuation date is flagged stale.
STALE_PRICE_DAYS = 3
#: Class used when a holding has no class and too little history (the middle class).
UNCLASSIFIED_FALLBACK = AssetClass.DEFI


@dataclass(frozen=True)
class HoldingLine:
    """One holding valued and measured. Prices in USD, weight as a fraction of V."""

    asset: str
    amount: float
    price_usd: float
    value_usd: float
    weight: float
    beta: float
    beta_source: str  # "measured" | "assumed"
    beta_method: str
    correlation: float
    r_squared: float
    beta_std_error: float
    downside_beta: float
    observations: int
    asset_class: str | None
    price_date: str


@dataclass(frozen=True)
class HedgeLeg:
    """The short on one contract. ``initial_margin`` is in the settlement currency."""

    hedge_asset: str
    instrument: str
    exchange: str
    contract_type: str
    contract_size: float
    contract_size_unit: str
    settle: str
    hedge_price_usd: float
    beta: float
    notional_usd: float
    contracts_exact: float
    contracts: float
    rounding: str
    lot_step: float
    min_contracts: float
    residual_usd: float
    hedge_ratio_achieved: float
    leverage: float
    margin_mode: str
    collateral_coin: float
    initial_margin: float
    initial_margin_currency: str
    initial_margin_usd: float
    liquidation_price: float
    bankruptcy_price: float
    rally_to_liquidation_pct: float
    liquidation_method: str
    maintenance_margin_rate: float
    funding_rate_8h: float
    funding_rate_source: str
    funding_interval_hours: float
    funding_usd_per_year: float
    specs_as_of: str
    #: the exchange's base-tier fee rates (fractions of notional) and the taker fee of
    #: opening this short at the hedge price, USD (paid)
    maker_fee_rate: float = math.nan
    taker_fee_rate: float = math.nan
    fees_paid_open_usd: float = math.nan


@dataclass(frozen=True)
class Scenario:
    """What the hedged portfolio does if the hedge asset(s) move by ``move_pct`` at once.

    ``portfolio_change_usd`` is beta-implied, V·β·move, with the downside beta for falls
    (alts tend to fall harder with BTC than they rise with it) and the plan's beta for
    rallies; ``beta_used`` says which. ``hedge_pnl_usd`` is the exact futures PnL of every
    leg at the moved price, plus the revaluation of coin collateral; a leg whose
    liquidation price the move reaches loses its margin instead (``liquidated`` names
    it). All USD; ``net_pct`` is of the portfolio value.
    """

    move_pct: float
    beta_used: float
    portfolio_change_usd: float
    hedge_pnl_usd: float
    net_usd: float
    unhedged_pct: float
    net_pct: float
    liquidated: list[str]


#: Moves of the hedge asset(s), in %, shown by ``plan`` (crash to rally).
SCENARIO_MOVES_PCT = (-50.0, -30.0, -15.0, 15.0, 30.0, 50.0)


@dataclass(frozen=True)
class HedgePlan:
    """Everything ``althedge plan`` shows. ``to_dict()`` is the ``--json`` contract."""

    name: str
    as_of: str
    price_source: str
    beta_method: str
    lookback_days: int
    portfolio_value_usd: float
    portfolio_beta: float
    portfolio_beta_source: str
    portfolio_correlation: float
    portfolio_r_squared: float
    holdings: list[HoldingLine]
    hedges: list[HedgeLeg]
    warnings: list[str] = field(default_factory=list)
    scenarios: list[Scenario] = field(default_factory=list)
    sampling: str = "1d"  # returns the betas were measured on: "1d" or "1h"
    # [hedge] triggers: on today or not, and why (services.trigger_status); None if none
    triggers: TriggerSection | None = None

    @property
    def hedge(self) -> HedgeLeg:
        """The primary (first) hedge leg."""
        return self.hedges[0]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["hedge"] = asdict(self.hedge)
        return out


# --------------------------------------------------------------------------- valuation


def _closes_until(source: PriceSource, assets: Sequence[str], as_of: date | None) -> pd.DataFrame:
    end = pd.Timestamp(as_of) if as_of else None
    closes = source.closes(list(assets), end=end, timeframe="1d")
    if end is not None:
        closes = closes.loc[closes.index <= end]
    return closes


def _check_assets_known(portfolio: PortfolioConfig, source: PriceSource) -> None:
    known = {s.upper() for s in source.symbols()}
    for i, h in enumerate(portfolio.holdings):
        if h.asset not in known and h.price_usd is None:
            raise ConfigError(
                f"holdings[{i}].asset: {h.asset!r} has no prices in {source.name}; "
                f"use one of {', '.join(sorted(known))}, pass --prices DIR, or set price_usd"
            )
    for a in portfolio.hedge.assets:
        if a not in known:
            raise DataError(
                f"hedge asset {a} has no prices in {source.name}; pass --prices DIR with {a}"
            )


def _latest(series: pd.Series) -> tuple[float, pd.Timestamp | None]:
    s = series.dropna()
    s = s[s > 0]
    if s.empty:
        return math.nan, None
    return float(s.iloc[-1]), s.index[-1]


# --------------------------------------------------------------------------- beta


def _estimate(
    method: str, r_a: np.ndarray, r_h: np.ndarray, lam: float
) -> beta_core.BetaEstimate:
    """The registry's point estimator for ``method`` (``shrunk``: OLS, shrunk later)."""
    return get_estimator(method).point(r_a, r_h, lam=lam)


def _assumed_estimate(asset_class: AssetClass, observations: int) -> beta_core.BetaEstimate:
    """The seed's class-table beta, as an estimate with no statistics (shown as assumed)."""
    nan = math.nan
    return beta_core.BetaEstimate(
        beta=beta_core.class_default_beta(asset_class.value),
        alpha=nan,
        correlation=nan,
        r_squared=nan,
        std_error=nan,
        observations=observations,
        method=f"class:{asset_class.value}",
    )


#: Hours after a coin's first hourly close that are left out of its beta (price discovery).
LISTING_SKIP_HOURS = 72


def _hourly_window(
    source: PriceSource, assets: Sequence[str], valuation_ts: pd.Timestamp, days: int,
    warnings: list[str],
) -> pd.DataFrame | None:
    """Hourly closes of the last ``days`` days up to the end of the valuation day (bars
    opening before the next midnight), or None (with a warning) when the source has none."""
    end = valuation_ts.normalize() + pd.Timedelta(days=1) - pd.Timedelta(hours=1)
    start = end - pd.Timedelta(days=days) + pd.Timedelta(hours=1)
    try:
        hourly = source.closes(list(assets), start=start - pd.Timedelta(hours=1), end=end,
                               timeframe="1h")
    except AlthedgeError:
        hourly = pd.DataFrame()
    missing = [a for a in assets if a not in hourly.columns or not hourly[a].notna().any()]
    if hourly.empty or missing:
        warnings.append(
            f"sampling: no hourly closes for {', '.join(missing) or 'any asset'} in "
            f"{source.name}; betas measured on daily returns instead"
        )
        return None
    return hourly


def _returns(window: pd.DataFrame, sampling: str) -> pd.DataFrame:
    """Simple returns of the beta window: daily as before; hourly only across consecutive
    bars (a downtime gap is not one return) and without each coin's first hours after
    listing (its first close inside this window being later than the window's start)."""
    if sampling != "1h":
        return window.pct_change(fill_method=None).iloc[1:]
    idx = pd.DatetimeIndex(window.index).as_unit("ns")
    times = idx.asi8
    values = consecutive_returns(window.to_numpy(dtype=float), times)
    has = np.isfinite(window.to_numpy(dtype=float))
    listed_late = [j for j in range(has.shape[1]) if has[:, j].any() and not has[0, j]]
    if listed_late:
        values[:, listed_late] = skip_listing(values[:, listed_late], times, LISTING_SKIP_HOURS)
    return pd.DataFrame(values, index=window.index, columns=window.columns).iloc[1:]


def _pairwise(r_a: pd.Series, r_h: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    both = pd.concat([r_a, r_h], axis=1).dropna()
    return both.iloc[:, 0].to_numpy(float), both.iloc[:, 1].to_numpy(float)


def _universe_mean_beta(
    source: PriceSource, hedge_asset: str, window_end: pd.Timestamp, lookback: int, min_obs: int
) -> float:
    """Cross-section mean OLS beta of the alt universe in the source (Vasicek prior)."""
    hedges = {"BTC", "ETH", hedge_asset}
    alts = [s for s in source.symbols() if s.upper() not in hedges]
    closes = source.closes([*alts, hedge_asset], end=window_end, timeframe="1d")
    rets = closes.loc[closes.index <= window_end].pct_change(fill_method=None).iloc[-lookback:]
    betas = []
    for a in alts:
        if a not in rets:
            continue
        x, y = _pairwise(rets[a], rets[hedge_asset])
        if len(x) >= min_obs and np.var(y) > 0:
            betas.append(beta_core.ols_beta(x, y).beta)
    if not betas:
        raise DataError("shrunk beta: no alt in the price source has enough history for a prior")
    return float(np.mean(betas))


# --------------------------------------------------------------------------- plan


def build_plan(
    portfolio: PortfolioConfig,
    source: PriceSource,
    as_of: date | None = None,
    *,
    exclude_bad_series: bool = False,
    funding_rate_8h: float | None = None,
    keep_bars: Sequence[str] = (),
    instruments: Mapping[str, Instrument] | None = None,
) -> HedgePlan:
    """Value the portfolio, measure betas and size the hedge, using data up to ``as_of``.

    ``instruments`` (hedge asset → contract) replaces the built-in rows, e.g. with the
    live specs and margin tiers of the exchange (``plan --exchange``).

    ``as_of=None`` uses the latest close in the source. ``funding_rate_8h`` (per 8 h)
    overrides both the portfolio file and the source. Series with ``error``-severity
    data findings in the lookback window raise :class:`DataQualityError`, or are
    excluded (their betas assumed from the class table) when ``exclude_bad_series``.
    ``keep_bars`` (``KIND@TIME`` or ``SYMBOL:KIND@TIME``, added to the portfolio file's
    ``hedge.keep_bars``) keeps flagged bars the user knows are genuine. With
    ``hedge.sampling = "1h"`` the betas come from the hourly returns of the last
    ``lookback_days`` days when the source has hourly closes (daily otherwise, with a
    warning).
    """
    hedge_cfg = portfolio.hedge
    warnings: list[str] = []
    today = datetime.now(UTC).date()
    if as_of is not None and as_of > today:
        raise InputError(
            f"as-of: {as_of} is in the future (today is {today} UTC); a plan can only use "
            "prices that exist — omit the date for the latest close"
        )
    _check_assets_known(portfolio, source)

    assets = list(dict.fromkeys([*(h.asset for h in portfolio.holdings), *hedge_cfg.assets]))
    known = {s.upper() for s in source.symbols()}
    closes = _closes_until(source, [a for a in assets if a in known], as_of)
    if closes.empty:
        when = f"on or before {as_of}" if as_of else "at all"
        raise DataError(
            f"{source.name} has no prices of {', '.join(assets)} {when}; "
            + ("choose a later date (plan --as-of, hedge --at)" if as_of else
               "pass --prices DIR or --exchange with their prices")
        )
    valuation_ts = pd.Timestamp(as_of) if as_of else closes.index[-1]
    if as_of is None and (today - valuation_ts.date()).days > STALE_PRICE_DAYS:
        warnings.append(
            f"prices: {source.name} ends on {valuation_ts.date()}, "
            f"{(today - valuation_ts.date()).days} days before today — this is the plan as of "
            f"{valuation_ts.date()}, not today's; for current prices run `althedge data fetch "
            "--exchange binance --symbols …` and pass --exchange binance (or --prices DIR)"
        )

    # ---- data quality on the window the beta uses (plus one bar for the first return)
    window = closes.iloc[-(hedge_cfg.lookback_days + 1) :]
    measured_assets = [a for a in assets if a in known]
    hourly = (
        _hourly_window(source, measured_assets, valuation_ts, hedge_cfg.lookback_days, warnings)
        if hedge_cfg.sampling == "1h"
        else None
    )
    sampling = "1h" if hourly is not None else "1d"
    beta_window = hourly if hourly is not None else window
    keep = [*hedge_cfg.keep_bars, *keep_bars]
    excluded: set[str] = set()
    # rows the file reader had to drop are never used silently (as `data check` says)
    for asset, why in unreadable_rows(source, measured_assets, ("1d", sampling)).items():
        fix = "fix or re-export the file (see `althedge data check`)"
        if asset in hedge_cfg.assets:
            raise DataQualityError(f"{asset} (the hedge asset): {why}; {fix}")
        if not exclude_bad_series:
            raise DataQualityError(
                f"{asset}: {why}; {fix}, or pass --exclude-bad (plan) to assume its beta"
            )
        excluded.add(asset)
        warnings.append(f"{asset}: {why} — excluded from measurement, beta assumed from its "
                        "class")
    for finding in check_closes(beta_window, timeframe=sampling, keep=keep):
        if finding.severity != "error":
            continue
        if finding.symbol in hedge_cfg.assets:
            raise DataQualityError(
                f"{finding.symbol} (the hedge asset): {finding.kind}{finding.where}: "
                f"{finding.detail}; every beta is measured against it, so it cannot be "
                "excluded: fix the data, keep the bar if genuine (--keep-bar "
                f"{finding.symbol}:{finding.kind}@TIME) or choose another date (plan --as-of, "
                "hedge --at)"
            )
        if not exclude_bad_series:
            raise DataQualityError(
                f"{finding.symbol}: {finding.kind}{finding.where}: {finding.detail}; "
                "fix the data, choose another date (plan --as-of, hedge --at), or pass "
                "--exclude-bad (plan) to assume its beta"
            )
        excluded.add(finding.symbol)
        warnings.append(
            f"{finding.symbol}: data error ({finding.kind}) in the lookback window — "
            "excluded from measurement, beta assumed from its class"
        )

    # ---- 1. valuation
    prices: dict[str, float] = {}
    price_dates: dict[str, str] = {}
    for h in portfolio.holdings:
        if h.price_usd is not None:
            prices[h.asset] = h.price_usd
            price_dates[h.asset] = "portfolio file"
            continue
        px, ts = _latest(closes[h.asset]) if h.asset in closes else (math.nan, None)
        if ts is None:
            raise DataError(
                f"{h.asset}: no price on or before {valuation_ts.date()} in {source.name}; "
                "set price_usd for it or choose a later date (plan --as-of, hedge --at)"
            )
        if (valuation_ts - ts).days > STALE_PRICE_DAYS:
            warnings.append(
                f"{h.asset}: latest price is from {ts.date()}, {(valuation_ts - ts).days} days old"
            )
        prices[h.asset] = px
        price_dates[h.asset] = str(ts.date())
    for a in hedge_cfg.assets:  # the hedge is sized at its asset's price: name a stale one
        _px, ts = _latest(closes[a]) if a in closes else (math.nan, None)
        if ts is not None and (valuation_ts - ts).days > STALE_PRICE_DAYS:
            warnings.append(
                f"{a} (the hedge asset): latest price is from {ts.date()}, "
                f"{(valuation_ts - ts).days} days before {valuation_ts.date()}"
            )
    values = {h.asset: h.amount * prices[h.asset] for h in portfolio.holdings}
    total = float(sum(values.values()))

    # ---- 2. beta (each holding against the primary hedge asset)
    hedge_asset = portfolio.hedge_asset
    bars_per_day = 24 if sampling == "1h" else 1
    rets = _returns(beta_window, sampling)
    r_h = rets[hedge_asset]
    # ewma_lambda is a daily decay: per hourly bar it is λ^(1/24) (the same half-life in days)
    lam = hedge_cfg.ewma_lambda ** (1.0 / bars_per_day)
    # min_observations counts daily returns; on hourly returns the same span of days
    min_obs = hedge_cfg.min_observations * bars_per_day
    estimates: dict[str, beta_core.BetaEstimate | None] = {}
    downside: dict[str, float] = {}
    for h in portfolio.holdings:
        if h.asset in excluded or h.asset not in rets:
            estimates[h.asset] = None
            continue
        x, y = _pairwise(rets[h.asset], r_h)
        if len(x) < min_obs or not np.var(y) > 0:
            estimates[h.asset] = None
            continue
        try:
            estimates[h.asset] = _estimate(hedge_cfg.beta_method, x, y, lam)
        except beta_core.BetaUnavailableError:
            estimates[h.asset] = None  # too little or degenerate data: class default, labelled
            continue
        try:
            downside[h.asset] = beta_core.downside_beta(x, y).beta
        except beta_core.BetaUnavailableError:
            downside[h.asset] = math.nan

    if get_estimator(hedge_cfg.beta_method).cross_section:
        measured = [a for a, e in estimates.items() if e is not None]
        if measured:
            prior = _universe_mean_beta(
                source,
                hedge_asset,
                valuation_ts,
                hedge_cfg.lookback_days,
                hedge_cfg.min_observations,
            )
            shrunk = beta_core.shrunk_betas(
                np.array([estimates[a].beta for a in measured]),  # type: ignore[union-attr]
                np.array([estimates[a].std_error for a in measured]),  # type: ignore[union-attr]
                prior_mean=prior,
            )
            for a, b in zip(measured, shrunk, strict=True):
                e = estimates[a]
                assert e is not None
                estimates[a] = beta_core.BetaEstimate(
                    beta=float(b),
                    alpha=e.alpha,
                    correlation=e.correlation,
                    r_squared=e.r_squared,
                    std_error=e.std_error,
                    observations=e.observations,
                    method="shrunk",
                )

    lines: list[HoldingLine] = []
    for h in portfolio.holdings:
        est = estimates[h.asset]
        source_label = "measured"
        if est is None:
            cls = h.asset_class or UNCLASSIFIED_FALLBACK
            n_obs = int(rets[h.asset].notna().sum()) if h.asset in rets else 0
            est = _assumed_estimate(cls, n_obs)
            source_label = "assumed"
            why = "excluded for bad data" if h.asset in excluded else f"only {n_obs} returns"
            cls_note = "" if h.asset_class else f" (no class given; {cls.value} assumed)"
            warnings.append(
                f"{h.asset}: beta ASSUMED {est.beta:g} from class {cls.value}{cls_note} — {why}"
            )
        elif est.observations < 0.8 * hedge_cfg.lookback_days * bars_per_day:
            warnings.append(
                f"{h.asset}: thin history — {est.observations} {'hourly ' * (bars_per_day > 1)}"
                f"returns in a {hedge_cfg.lookback_days}-day window"
            )
        lines.append(
            HoldingLine(
                asset=h.asset,
                amount=h.amount,
                price_usd=prices[h.asset],
                value_usd=values[h.asset],
                weight=values[h.asset] / total,
                beta=est.beta,
                beta_source=source_label,
                beta_method=est.method,
                correlation=est.correlation,
                r_squared=est.r_squared,
                beta_std_error=est.std_error,
                downside_beta=downside.get(h.asset, math.nan),
                observations=est.observations,
                asset_class=h.asset_class.value if h.asset_class else None,
                price_date=price_dates[h.asset],
            )
        )

    portfolio_beta = float(sum(line.weight * line.beta for line in lines))
    any_assumed = any(line.beta_source == "assumed" for line in lines)
    measured_lines = [line for line in lines if line.beta_source == "measured"]

    # portfolio return series over measured holdings: correlation / R² of the whole bag
    port_corr = port_r2 = math.nan
    hedge_betas: dict[str, float] = {hedge_asset: portfolio_beta}
    if measured_lines:
        w = np.array([line.value_usd for line in measured_lines])
        w = w / w.sum()
        cols = list(dict.fromkeys([*(line.asset for line in measured_lines), *hedge_cfg.assets]))
        sub = rets[cols].dropna()
        if len(sub) >= min_obs:
            r_p = portfolio_returns(sub[[line.asset for line in measured_lines]].to_numpy(), w)
            est_p = beta_core.ols_beta(r_p, sub[hedge_asset].to_numpy())
            port_corr, port_r2 = est_p.correlation, est_p.r_squared
            if len(hedge_cfg.assets) > 1:
                h_ret = sub[list(hedge_cfg.assets)].to_numpy()
                b = free = beta_core.min_variance_weights(r_p, h_ret)
                if np.any(free < 0):  # shorts only: solve again under b ≥ 0
                    b = beta_core.min_variance_weights(r_p, h_ret, nonnegative=True)
                    mix = ", ".join(f"{a} {x:+.3f}" for a, x in zip(hedge_cfg.assets, free,
                                                                   strict=True))
                    warnings.append(
                        f"BTC+ETH: the minimum-variance mix ({mix}) wants a long leg; shorts "
                        "only: " + ", ".join(f"{a} {x:.3f}" for a, x in
                                             zip(hedge_cfg.assets, b, strict=True))
                    )
                # scale the min-variance mix so the measured part keeps its weight in V
                measured_share = float(sum(line.weight for line in measured_lines))
                assumed_beta = float(
                    sum(line.weight * line.beta for line in lines if line.beta_source == "assumed")
                )
                hedge_betas = {
                    a: float(bk) * measured_share for a, bk in zip(hedge_cfg.assets, b, strict=True)
                }
                hedge_betas[hedge_asset] += assumed_beta
        elif len(hedge_cfg.assets) > 1:
            raise DataError(
                "BTC+ETH hedge: too few complete rows to estimate minimum-variance weights"
            )

    # ---- 3. ratio, margin, liquidation, funding per leg
    legs = [
        _size_leg(
            portfolio, source, asset, beta, total, closes, valuation_ts, funding_rate_8h,
            warnings, (instruments or {}).get(asset),
        )
        for asset, beta in hedge_betas.items()
    ]
    _limit_warnings(portfolio, legs, warnings)

    return HedgePlan(
        scenarios=scenarios(total, portfolio_beta, _portfolio_downside_beta(lines), legs),
        name=portfolio.name,
        as_of=str(valuation_ts.date()),
        price_source=source.name,
        beta_method=hedge_cfg.beta_method,
        lookback_days=hedge_cfg.lookback_days,
        sampling=sampling,
        portfolio_value_usd=total,
        portfolio_beta=portfolio_beta,
        portfolio_beta_source="partly assumed" if any_assumed else "measured",
        portfolio_correlation=port_corr,
        portfolio_r_squared=port_r2,
        holdings=lines,
        hedges=legs,
        warnings=warnings,
        triggers=trigger_section(portfolio, source, as_of),
    )


def _leg_change_usd(leg: HedgeLeg, move_pct: float) -> tuple[float, bool]:
    """USD change of one leg's account if its asset moves ``move_pct`` %; liquidated?"""
    if leg.contracts <= 0:
        return 0.0, False
    p0 = leg.hedge_price_usd
    p1 = p0 * (1.0 + move_pct / 100.0)
    if 0 < leg.liquidation_price <= p1:  # the rally reaches liquidation: the margin is gone
        outcome = liquidation_outcome(
            leg.contract_type, leg.margin_mode, leg.initial_margin,
            collateral_coin=leg.collateral_coin, price_then=p0, price_now=p1,
        )
        return outcome.change_usd, True
    pnl = float(pnl_usd(leg.contract_type, Side.SHORT, leg.contracts, leg.contract_size, p0, p1))
    return pnl + leg.collateral_coin * (p1 - p0), False


def _portfolio_downside_beta(lines: Sequence[HoldingLine]) -> float:
    """Value-weighted downside beta of the holdings (a holding without one counts its beta)."""
    return float(sum(
        line.weight * (line.downside_beta if math.isfinite(line.downside_beta) else line.beta)
        for line in lines
    ))


def scenarios(
    value_usd: float,
    portfolio_beta: float,
    downside_beta: float,
    legs: Sequence[HedgeLeg],
    moves_pct: Sequence[float] = SCENARIO_MOVES_PCT,
) -> list[Scenario]:
    """The hedged portfolio under sudden moves of the hedge asset(s) (all legs move alike).

    Falls move the portfolio by ``downside_beta``, rallies by ``portfolio_beta``.
    """
    out = []
    for move in moves_pct:
        beta = downside_beta if move < 0 else portfolio_beta
        port = max(value_usd * beta * move / 100.0, -value_usd)  # a holding stops at zero
        changes = [(leg, *_leg_change_usd(leg, move)) for leg in legs]
        hedge = sum(c for _leg, c, _liq in changes)
        net = port + hedge
        out.append(
            Scenario(
                move_pct=move,
                beta_used=beta,
                portfolio_change_usd=port,
                hedge_pnl_usd=hedge,
                net_usd=net,
                unhedged_pct=port / value_usd * 100.0 if value_usd else math.nan,
                net_pct=net / value_usd * 100.0 if value_usd else math.nan,
                liquidated=[leg.instrument for leg, _c, liq in changes if liq],
            )
        )
    return out


def live_instruments(portfolio: PortfolioConfig, market_data: Any) -> dict[str, Instrument]:
    """Hedge asset → the LIVE spec of its contract (``CcxtMarketData.instrument``: contract
    size, lot, minimums, max leverage from ``load_markets()``, margin tiers from ccxt where
    it reads them, else the built-in ones, labelled in ``specs_as_of``). Empty when the
    exchange is not the portfolio's ``hedge.exchange`` (the built-in rows apply)."""
    from althedge.exchanges import family_of

    if family_of(str(market_data.id)) != portfolio.hedge.exchange:
        return {}
    assets = list(dict.fromkeys([portfolio.hedge_asset, *portfolio.hedge.assets]))
    return {a: market_data.instrument(_instrument_for(portfolio, a).symbol) for a in assets}


def _instrument_for(portfolio: PortfolioConfig, asset: str) -> Instrument:
    if asset == portfolio.hedge_asset:
        inst: Instrument = portfolio.hedge_instrument()
        return inst
    h = portfolio.hedge
    return find_instrument(h.exchange, asset, h.contract, perpetual=h.perpetual)


def _funding_in_force(
    portfolio: PortfolioConfig,
    source: PriceSource,
    asset: str,
    at: pd.Timestamp,
    override: float | None,
) -> tuple[float, str]:
    if override is not None:
        return override, "assumed (command line)"
    if portfolio.hedge.funding_rate_8h is not None:
        return portfolio.hedge.funding_rate_8h, "assumed (portfolio file)"
    for proxy in (asset, "BTC"):
        hist = source.funding_rates(proxy, end=at)
        hist = hist.loc[hist.index <= at].dropna() if not hist.empty else hist
        if not hist.empty and (at - hist.index[-1]).days <= 7:
            origin = getattr(source, "funding_origin", None)
            where = origin(proxy) if callable(origin) else source.name
            label = f"history ({where}, {hist.index[-1].date()})"
            if proxy != asset:
                label += f" — {proxy} perpetual used as proxy for {asset}"
            return float(hist.iloc[-1]), label
    searched = getattr(source, "funding_searched", None)
    where = f"; looked in {' and '.join(searched)}" if searched else ""
    return (DEFAULT_FUNDING_RATE_8H,
            f"assumed baseline 0.01%/8h (no {asset} funding history at this date{where})")


def _size_leg(
    portfolio: PortfolioConfig,
    source: PriceSource,
    asset: str,
    beta: float,
    value_usd: float,
    closes: pd.DataFrame,
    at: pd.Timestamp,
    funding_override: float | None,
    warnings: list[str],
    live: Instrument | None = None,
) -> HedgeLeg:
    h = portfolio.hedge
    inst = live if live is not None else _instrument_for(portfolio, asset)
    price, _ = _latest(closes[asset])
    collateral = h.collateral_amount if inst.is_inverse else 0.0
    size = size_hedge(
        value_usd,
        beta,
        price,
        inst.contract_type,
        inst.contract_size,
        collateral_coin=collateral,
        rounding=h.rounding,
        lot_step=inst.lot_step,
        min_contracts=inst.min_contracts,
    )
    q = size.contracts
    if size.contracts_exact > 0 and q == 0:
        warnings.append(
            f"{inst.symbol}: the hedge ({size.contracts_exact:.4g} contracts) is below the "
            "exchange "
            f'minimum of {inst.min_contracts:g}; nothing would be shorted — use rounding = "up"'
        )
    settle = "USD" if not inst.is_inverse else inst.settle
    im = (
        initial_margin(inst.contract_type, q, inst.contract_size, price, h.leverage)
        if q > 0
        else 0.0
    )
    im_usd = im * price if inst.is_inverse else im

    liq_px = bank_px = rally = mmr = math.nan
    method = "no position"
    if q > 0:
        kwargs: dict[str, Any] = {"tiers": inst.tiers}
        cross_on_collateral = inst.is_inverse and collateral > 0 and h.margin_mode == "cross"
        if cross_on_collateral:
            kwargs["wallet_balance"] = collateral  # the whole coin wallet backs the short
        else:
            kwargs["leverage"] = h.leverage  # isolated: the initial margin is the margin
        if inst.is_inverse and 0 < collateral < im:
            need_lev = math.ceil(q * inst.contract_size / price / collateral * 100) / 100
            warnings.append(
                f"{inst.symbol}: collateral {collateral:g} {inst.settle} is below the "
                f"initial margin {im:.6g} {inst.settle} at {h.leverage:g}×; the exchange "
                f"refuses the order — add collateral or set leverage ≥ {need_lev:.2f}"
            )
        liq = (cross_liquidation_price if cross_on_collateral else liquidation_price)(
            inst.exchange, inst.contract_type, Side.SHORT, q, inst.contract_size, price, **kwargs
        )
        liq_px, bank_px, mmr, method = (
            liq.liquidation_price,
            liq.bankruptcy_price,
            liq.mmr,
            liq.method,
        )
        rally = liq.move_to_liquidation_pct
        if math.isfinite(rally) and rally < LIQUIDATION_WARNING_PCT:
            warnings.append(
                f"{inst.symbol}: a {rally:.1f}% rally in {asset} liquidates the short "
                f"(at {liq_px:,.2f}); lower the leverage or add margin"
            )

    rate, rate_source = _funding_in_force(portfolio, source, asset, at, funding_override)
    interval = inst.funding_interval_hours
    achieved_notional = size.notional_usd * size.hedge_ratio_achieved if size.notional_usd else 0.0
    if interval is None:
        funding_year = 0.0
        rate_source = "dated contract: no funding (basis instead)"
        rate = 0.0
        interval_out = math.nan
    else:
        # funding_usd_per_year takes a rate per interval; the rate we hold is per 8 h
        rate_per_interval = rate * interval / 8.0
        funding_year = funding_usd_per_year(
            achieved_notional, Side.SHORT, rate_per_interval, interval
        )
        interval_out = interval
        if funding_year < 0:
            warnings.append(
                f"{inst.symbol}: funding is against the short ({rate * 100:.4f}%/8h) — "
                f"about {-funding_year:,.0f} USD a year"
            )
    from althedge.services.backtest import FEE_SCHEDULES  # the one fee table

    maker, taker = FEE_SCHEDULES.get(inst.exchange, (math.nan, math.nan))
    return HedgeLeg(
        hedge_asset=asset,
        instrument=inst.symbol,
        exchange=inst.exchange,
        contract_type=inst.contract_type.value,
        contract_size=inst.contract_size,
        contract_size_unit=asset if not inst.is_inverse else "USD",
        settle=settle,
        hedge_price_usd=price,
        beta=beta,
        notional_usd=size.notional_usd,
        contracts_exact=size.contracts_exact,
        contracts=q,
        rounding=h.rounding,
        lot_step=inst.lot_step,
        min_contracts=inst.min_contracts,
        residual_usd=size.residual_usd,
        hedge_ratio_achieved=size.hedge_ratio_achieved,
        leverage=h.leverage,
        margin_mode=h.margin_mode,
        collateral_coin=collateral,
        initial_margin=im,
        initial_margin_currency=settle,
        initial_margin_usd=im_usd,
        liquidation_price=liq_px,
        bankruptcy_price=bank_px,
        rally_to_liquidation_pct=rally,
        liquidation_method=method,
        maintenance_margin_rate=mmr,
        funding_rate_8h=rate,
        funding_rate_source=rate_source,
        funding_interval_hours=interval_out,
        funding_usd_per_year=funding_year,
        specs_as_of=inst.specs_as_of,
        maker_fee_rate=maker,
        taker_fee_rate=taker,
        fees_paid_open_usd=achieved_notional * taker,
    )


def _limit_warnings(portfolio: PortfolioConfig, legs: list[HedgeLeg], warnings: list[str]) -> None:
    lim = portfolio.limits
    for leg in legs:
        achieved = leg.notional_usd * leg.hedge_ratio_achieved
        if achieved > lim.max_notional_usd:
            warnings.append(
                f"{leg.instrument}: hedge notional {achieved:,.0f} USD is above "
                "limits.max_notional_usd "
                f"{lim.max_notional_usd:,.0f}; `hedge open` will refuse it"
            )
        if leg.contracts > lim.max_contracts:
            warnings.append(
                f"{leg.instrument}: {leg.contracts:g} contracts is above limits.max_contracts "
                f"{lim.max_contracts:g}; `hedge open` will refuse it"
            )
