"""Are the portfolio's hedge triggers on today, and why? (for ``plan`` and ``monitor``).

The ``[hedge] triggers`` of the portfolio file (any one on = hedge on, minimum holding
time ``trigger_hold_days``) evaluated by :mod:`althedge.core.triggers` on the daily
history up to ``as_of`` — the same rules, inputs and bars as the backtest's
``"plan"`` policy, so the plan and the monitor follow the evidence the backtest shows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from althedge.config import PortfolioConfig
from althedge.core.triggers import TriggerExpr, TriggerInputs, evaluate, parse_expression
from althedge.data import PriceSource
from althedge.errors import DataError

__all__ = ["TriggerReading", "TriggerSection", "portfolio_trigger", "trigger_section"]


def portfolio_trigger(portfolio: PortfolioConfig) -> TriggerExpr | None:
    """``[hedge] triggers`` joined with ``or``, held ``trigger_hold_days``; None if none."""
    h = portfolio.hedge
    if not h.triggers:
        return None
    return parse_expression(" or ".join(h.triggers) + f" hold {h.trigger_hold_days:g}")


@dataclass(frozen=True)
class TriggerReading:
    """One trigger today: on or off, since when (the last switch), and why."""

    trigger: str
    on: bool
    since: str | None
    why: str


@dataclass(frozen=True)
class TriggerSection:
    """All configured triggers on ``as_of``; ``hedge_on`` = any of them is on."""

    expression: str
    as_of: str
    hedge_on: bool
    since: str | None
    readings: list[TriggerReading] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _since(state: np.ndarray, index: pd.DatetimeIndex) -> str | None:
    """Date of the last switch into the current state (None if it never switched)."""
    change = np.flatnonzero(state[1:] != state[:-1])
    if change.size:
        return str(index[change[-1] + 1].date())
    return str(index[0].date()) if state[:1].any() else None


def trigger_section(
    portfolio: PortfolioConfig, source: PriceSource, as_of: date | None = None
) -> TriggerSection | None:
    """Evaluate the portfolio's triggers on daily closes up to ``as_of`` (None = latest).

    The portfolio value is Σ amount × close over the days every holding has a price
    (earlier gaps filled with the previous close); the hedge asset is the primary one;
    funding is the source's daily funding rate of it (NaN where unknown). Returns None
    when the portfolio has no triggers.
    """
    expr = portfolio_trigger(portfolio)
    if expr is None:
        return None
    assets = [h.asset for h in portfolio.holdings]
    primary = portfolio.hedge_asset
    end = pd.Timestamp(as_of) if as_of else None
    closes = source.closes(list(dict.fromkeys([*assets, primary])), end=end, timeframe="1d")
    closes = closes.ffill().dropna()
    if len(closes) < 2:
        raise DataError(
            f"triggers: no common daily history of {', '.join(assets)} and {primary} up to "
            f"{as_of or 'the last close'}; pass an earlier --as-of or add the price files"
        )
    index = pd.DatetimeIndex(closes.index)
    value = (closes[assets] * np.array([h.amount for h in portfolio.holdings])).sum(axis=1)
    funding = None
    if expr.needs_funding:
        hist = source.funding_rates(primary)
        if not hist.empty:
            daily = hist.copy()
            daily.index = pd.DatetimeIndex(daily.index).normalize()
            daily = daily[~daily.index.duplicated(keep="last")]
            funding = np.asarray(daily.reindex(index.normalize()).to_numpy(), dtype=float)
    state = evaluate(expr, TriggerInputs(
        index=index, hedge_price_usd=closes[primary].to_numpy(dtype=float),
        portfolio_value_usd=value.to_numpy(dtype=float), funding_rate_8h=funding,
    ))
    readings = [
        TriggerReading(trigger=name, on=bool(st[-1]), since=_since(st, index),
                       why=state.reasons[name])
        for name, st in state.parts.items()
    ]
    return TriggerSection(expression=expr.name, as_of=str(index[-1].date()),
                          hedge_on=bool(state.on[-1]), since=_since(state.on, index),
                          readings=readings)
