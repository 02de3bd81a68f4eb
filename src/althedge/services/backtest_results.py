"""Typed backtest results: per-policy metrics, crash episodes, the whole run.

Frozen dataclasses whose ``to_dict()`` is the ``backtest --json`` contract (schema 2,
``docs/backtest.md`` "JSON"). Money names carry sign and currency (docs/domain.md):
``funding_received_usd`` + = earned by the short, ``fees_paid_usd``/``slippage_paid_usd``
+ = paid, ``cost_net_paid_usd`` + = the hedge cost money overall. The schema-1 keys
``funding_usd`` (+ = paid), ``fees_usd``, ``slippage_usd`` and ``cost_total_usd`` are
still written for one version and documented as deprecated.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

import pandas as pd

from althedge.core.policies import PolicySpec
from althedge.core.triggers import TriggerExpr

__all__ = [
    "JSON_SCHEMA",
    "BacktestResult",
    "CompareSpec",
    "Episode",
    "PolicyMetrics",
    "PolicyResult",
    "YearCosts",
]

#: Version of the ``backtest --json`` contract (1: before the investor's metrics).
JSON_SCHEMA = 2


@dataclass(frozen=True)
class CompareSpec:
    """One compared hedge: a sizing policy, optionally switched on/off by a trigger.

    ``name`` as shown (``"rolling-ols:90 when trend:200/1"``); ``plan`` is True for the
    portfolio file's own ``[hedge]`` settings (the hedge ``plan`` and ``hedge open`` place).
    """

    name: str
    policy: PolicySpec
    trigger: TriggerExpr | None = None
    plan: bool = False


@dataclass(frozen=True)
class YearCosts:
    """One calendar year's hedge costs (USD, signs in the names)."""

    funding_received_usd: float
    fees_paid_usd: float
    slippage_paid_usd: float

    @property
    def net_paid_usd(self) -> float:
        return self.fees_paid_usd + self.slippage_paid_usd - self.funding_received_usd

    def to_dict(self) -> dict[str, float]:
        return {
            "funding_received_usd": self.funding_received_usd,
            "fees_paid_usd": self.fees_paid_usd,
            "slippage_paid_usd": self.slippage_paid_usd,
            "net_paid_usd": self.net_paid_usd,
            # deprecated (schema 1): funding + = paid
            "funding_usd": -self.funding_received_usd + 0.0,
            "fees_usd": self.fees_paid_usd,
            "slippage_usd": self.slippage_paid_usd,
            "total_usd": self.net_paid_usd,
        }


@dataclass(frozen=True)
class PolicyMetrics:
    """Hedged vs unhedged over the out-of-sample span (fractions unless ``_pct``/``_usd``).

    Return and value: ``final_value_*_usd`` (holdings + hedge PnL; margin deposits are
    capital handed back, not profit), ``return_*_pct`` on the starting portfolio,
    ``capital_committed_usd`` (starting portfolio + every margin deposit) and
    ``return_on_capital_committed_pct``; ``margin_peak_usd``/``margin_avg_usd``: money
    sitting in the margin account. Drawdowns: ``max_drawdown_hedged_committed`` on all
    capital committed (holdings + hedge PnL + every margin deposit, the deposits set
    aside from the start: the table's basis); ``max_drawdown_hedged_wealth`` on the
    time-weighted return of holdings + margin account; ``max_drawdown_hedged``
    (schema 1) on holdings + hedge PnL, which reaches −100 % when the hedge's losses
    exceed the holdings (``equity_touches_zero_on`` gives the first such date).
    ``annual_return_hedged_pct`` is on all capital committed too.
    """

    hedge_effectiveness: float
    vol_unhedged: float
    vol_hedged: float
    max_drawdown_unhedged: float
    max_drawdown_hedged: float
    max_drawdown_hedged_committed: float
    max_drawdown_hedged_wealth: float
    max_drawdown_hedged_compounded: float
    max_drawdown_unhedged_compounded: float
    equity_touches_zero_on: str | None
    worst_weeks_return_unhedged: float
    worst_weeks_return_hedged: float
    funding_received_usd: float
    fees_paid_usd: float
    slippage_paid_usd: float
    cost_per_year_usd: float
    cost_pct_of_value_per_year: float | None
    costs_by_year: dict[str, YearCosts]
    hedge_pnl_usd: float
    net_hedge_pnl_usd: float
    final_value_unhedged_usd: float
    final_value_hedged_usd: float
    return_unhedged_pct: float
    return_hedged_pct: float
    annual_return_unhedged_pct: float
    annual_return_hedged_pct: float
    capital_committed_usd: float
    return_on_capital_committed_pct: float
    margin_peak_usd: float
    margin_avg_usd: float
    drawdown_avoided_pct: float
    return_given_up_pct: float
    drawdown_avoided_per_return_given_up: float | None
    time_hedged_pct: float
    hedge_switches: int
    turnover_usd: float
    turnover_per_year: float | None
    rebalances: int
    margin_calls: int
    liquidations: int
    liquidation_loss_usd: float
    collateral_deposited_usd: float
    years: float
    min_rally_to_liquidation_pct: float
    basis_usd: float

    @property
    def cost_net_paid_usd(self) -> float:
        """Fees + slippage − funding received (+ = the hedge cost money)."""
        return self.fees_paid_usd + self.slippage_paid_usd - self.funding_received_usd

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "costs_by_year"}
        out["costs_by_year"] = {y: c.to_dict() for y, c in self.costs_by_year.items()}
        out["cost_net_paid_usd"] = self.cost_net_paid_usd
        # deprecated schema-1 names (one version): funding + = paid
        out["funding_usd"] = -self.funding_received_usd + 0.0
        out["fees_usd"] = self.fees_paid_usd
        out["slippage_usd"] = self.slippage_paid_usd
        out["cost_total_usd"] = self.cost_net_paid_usd
        return out

    def __getitem__(self, key: str) -> Any:
        """Read a metric by its JSON name (``m["hedge_effectiveness"]``)."""
        return self.to_dict()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.to_dict().get(key, default)


@dataclass(frozen=True)
class Episode:
    """A crash in the data: the hedge asset's peak → trough, and what each hedge lost.

    ``losses_pct``: policy name → the portfolio's change from peak to trough with the
    hedge's PnL (%, − = lost); ``hedged_at_start``: name → the short was on over the first
    bar of the fall; ``hedged_share_pct``: name → share of the episode's bars hedged.
    """

    name: str
    peak: str
    trough: str
    hedge_asset_drop_pct: float
    unhedged_loss_pct: float
    losses_pct: dict[str, float]
    hedged_at_start: dict[str, bool]
    hedged_share_pct: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PolicyResult:
    """One compared hedge's run: its metrics and its per-bar series (for the report)."""

    name: str
    spec: PolicySpec
    metrics: PolicyMetrics
    series: pd.DataFrame  # per bar: value, equity_hedged, beta_*, contracts_*, costs …
    notes: list[str] = field(default_factory=list)
    rank: int = 0
    score: float = 0.0
    trigger: TriggerExpr | None = None
    plan: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON contract entry: name, rank, score, metrics (and resolved policy, trigger)."""
        out: dict[str, Any] = {"name": self.name, "rank": self.rank, "score": self.score,
                               "policy": self.spec.name, "metrics": self.metrics.to_dict()}
        if self.spec.resolved_from:
            out["resolved_from"] = self.spec.resolved_from
        if self.trigger is not None:
            out["trigger"] = self.trigger.name
        if self.plan:
            out["plan"] = True
        if self.notes:
            out["notes"] = self.notes
        return out


@dataclass(frozen=True)
class BacktestResult:
    """All compared hedges run on the same data and span."""

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
    rank_by: str = "return-per-drawdown"
    episodes: list[Episode] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The ``backtest --json`` contract."""
        return {
            "schema": JSON_SCHEMA,
            "policies": [p.to_dict() for p in self.policies],
            "rank_by": self.rank_by,
            "episodes": [e.to_dict() for e in self.episodes],
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
