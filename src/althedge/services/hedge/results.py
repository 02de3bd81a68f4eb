"""Result types of the hedge lifecycle: what open/rebalance/close/status return.

Each ``to_dict()`` is the command's ``--json`` contract (see docs/lifecycle.md),
``schema`` :data:`SCHEMA`. Money is USD and names carry the sign:
``fees_paid_usd`` (positive = a cost), ``funding_received_usd`` (positive =
received), ``drift_pct`` signed (held/target − 1, %) with ``drift_abs_pct`` beside it.
Deprecated keys kept for one schema version: ``fees_usd`` (= −fees_paid_usd) and
``funding_usd`` (= funding_received_usd). Schema 2 (this one) made the rebalance's
``drift_pct`` signed (schema 1 gave it absolute there).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from althedge.files import no_negative_zero

__all__ = [
    "PRIMARY_FIELDS",
    "SCHEMA",
    "SUMMED_FIELDS",
    "CloseResult",
    "HedgeStatus",
    "LegStatus",
    "LifecycleResult",
    "Reconciliation",
]

#: version of the lifecycle's JSON contracts (see the module docstring)
SCHEMA = 2


def _signed_names(d: dict[str, Any]) -> dict[str, Any]:
    """Add the sign-carrying names beside a dict's ``fees_usd`` (negative = cost),
    ``funding_usd`` (+ received) and ``drift_pct`` (signed)."""
    if "fees_usd" in d:
        fees = d["fees_usd"]
        d["fees_paid_usd"] = None if fees is None else -fees + 0.0
    if "funding_usd" in d:
        d["funding_received_usd"] = d["funding_usd"]
    if "drift_pct" in d:
        drift = d["drift_pct"]
        d["drift_abs_pct"] = None if drift is None else abs(drift)
    return d


@dataclass
class Reconciliation:
    """What the start-of-command check found. ``differences`` are unresolved mismatches."""

    differences: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    journal_contracts: float | None = None
    venue_contracts: float | None = None
    #: signed venue contracts per symbol checked (every leg; the open's symbols)
    venue_positions: dict[str, float] = field(default_factory=dict)
    #: what the venue holds that no open hedge explains: ``{"kind": "position" | "order",
    #: "venue", "symbol", "contracts" (signed, + long / − short), ...}``; each is also
    #: in ``differences``. The way out: ``hedge adopt`` or ``hedge close --orphan``.
    orphans: list[dict[str, Any]] = field(default_factory=list)
    #: per currency, the venue balance no hedge of the journal explains
    #: (:func:`althedge.services.hedge.balances.unexplained_balances`); shown, never a
    #: difference: a balance is not a risk like a position (``ok`` ignores it)
    unexplained_balances: list[dict[str, Any]] = field(default_factory=list)
    #: True when every settlement currency of the hedge was compared now; False when the
    #: venue could not answer (429, timeout) or the journal has no balance to compare
    #: with — ``unexplained_balances_note`` then says why in one line (None: no hedge of
    #: the journal on this venue, nothing to compare)
    unexplained_balances_checked: bool = False
    unexplained_balances_note: str | None = None

    @property
    def ok(self) -> bool:
        return not self.differences

    def venue_option(self) -> str:
        """``--venue NAME`` for the way-out commands, naming the venue the orphans are on
        (``--testnet`` too for a test environment); ``--venue NAME`` when none is known."""
        names = {str(o.get("venue") or "") for o in self.orphans} - {""}
        if len(names) != 1:
            return "--venue NAME"
        (name,) = names
        if name.endswith("-testnet"):
            return f"--venue {name.removesuffix('-testnet')} --testnet"
        return f"--venue {name}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "differences": list(self.differences),
            "resolved": list(self.resolved),
            "journal_contracts": self.journal_contracts,
            "venue_contracts": self.venue_contracts,
            "orphans": [dict(o) for o in self.orphans],
            "unexplained_balances": [dict(b) for b in self.unexplained_balances],
            "unexplained_balances_checked": self.unexplained_balances_checked,
            "unexplained_balances_note": self.unexplained_balances_note,
        }


@dataclass
class LifecycleResult:
    """Outcome of open/rebalance (and the order part of close)."""

    action: str
    live: bool
    venue: str
    symbol: str
    as_of: str
    orders: list[dict[str, Any]]
    executed: list[dict[str, Any]]
    reconciliation: Reconciliation
    hedge_id: int | None = None
    target_contracts: float | None = None
    current_contracts: float | None = None
    drift_pct: float | None = None
    threshold_pct: float | None = None
    message: str = ""
    plan: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    #: one entry per leg (symbol, hedge asset, target, held, drift); primary first
    legs: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(no_negative_zero(self._dict()))

    def _dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "live": self.live,
            "dry_run": not self.live,
            "venue": self.venue,
            "symbol": self.symbol,
            "as_of": self.as_of,
            "hedge_id": self.hedge_id,
            "target_contracts": self.target_contracts,
            "current_contracts": self.current_contracts,
            "drift_pct": self.drift_pct,
            "drift_abs_pct": None if self.drift_pct is None else abs(self.drift_pct),
            "threshold_pct": self.threshold_pct,
            "orders": self.orders,
            "executed": self.executed,
            "message": self.message,
            "reconciliation": self.reconciliation.to_dict(),
            "warnings": list(self.warnings),
            "plan": self.plan,
            "legs": no_negative_zero([_signed_names(dict(leg)) for leg in self.legs]),
            "schema": SCHEMA,
        }


@dataclass
class CloseResult:
    """Close outcome and the attribution (USD; fees negative)."""

    result: LifecycleResult
    portfolio_pnl_usd: float
    hedge_pnl_usd: float
    funding_usd: float
    fees_usd: float
    net_usd: float
    total_value_open_usd: float | None
    total_value_close_usd: float | None
    estimated: bool
    collateral_usd: float = 0.0

    @property
    def total_value_change_usd(self) -> float | None:
        if self.total_value_open_usd is None or self.total_value_close_usd is None:
            return None
        return self.total_value_close_usd - self.total_value_open_usd

    def to_dict(self) -> dict[str, Any]:
        change = self.total_value_change_usd
        out = self.result.to_dict()
        out.update(
            {
                "portfolio_pnl_usd": self.portfolio_pnl_usd,
                "hedge_pnl_usd": self.hedge_pnl_usd,
                "funding_received_usd": self.funding_usd,
                "fees_paid_usd": -self.fees_usd + 0.0,
                "funding_usd": self.funding_usd,
                "fees_usd": self.fees_usd,
                "collateral_usd": self.collateral_usd,
                "net_usd": self.net_usd,
                "total_value_open_usd": self.total_value_open_usd,
                "total_value_close_usd": self.total_value_close_usd,
                "total_value_change_usd": change,
                "unexplained_usd": None if change is None else change - self.net_usd,
                "estimated": self.estimated,
            }
        )
        return out


@dataclass
class LegStatus:
    """One leg of the hedge now: the short on one contract (USD figures; fees negative)."""

    symbol: str
    hedge_asset: str = ""
    contracts: float = 0.0
    target_contracts: float = 0.0
    drift_pct: float | None = None
    hedge_notional_usd: float = 0.0  # face value of the short, USD
    collateral_coin: float = 0.0
    net_hedge_notional_usd: float = 0.0  # short face − collateral × mark, USD
    entry_price: float | None = None
    mark_price: float | None = None
    spot_price: float | None = None
    basis: float | None = None
    unrealised_pnl_usd: float = 0.0
    realised_pnl_usd: float = 0.0
    funding_usd: float = 0.0
    fees_usd: float = 0.0
    funding_rate: float | None = None
    funding_interval_hours: float | None = None
    margin_ratio: float | None = None
    liquidation_price: float | None = None
    liquidation_distance_pct: float | None = None
    leverage: float | None = None
    margin_mode: str | None = None
    basis_note: str = ""


#: HedgeStatus figures that are the sum of the legs' (money); the others are the primary's
SUMMED_FIELDS = (
    "hedge_notional_usd",
    "net_hedge_notional_usd",
    "unrealised_pnl_usd",
    "realised_pnl_usd",
    "funding_usd",
    "fees_usd",
)
#: HedgeStatus figures taken from the primary (first) leg: they are per symbol
PRIMARY_FIELDS = (
    "symbol",
    "contracts",
    "target_contracts",
    "collateral_coin",
    "drift_pct",
    "entry_price",
    "mark_price",
    "spot_price",
    "basis",
    "funding_rate",
    "funding_interval_hours",
    "margin_ratio",
    "liquidation_price",
    "liquidation_distance_pct",
    "leverage",
    "margin_mode",
)


@dataclass
class HedgeStatus:
    """Portfolio vs hedge now (``hedge_id`` None when no hedge is open).

    With several legs the portfolio figures appear once, the money figures
    (:data:`SUMMED_FIELDS`) are summed over ``legs`` and the per-symbol ones
    (:data:`PRIMARY_FIELDS`) are the primary leg's; ``legs`` has each leg's own.
    """

    reconciliation: Reconciliation
    hedge_id: int | None = None
    venue: str = ""
    symbol: str = ""
    as_of: str = ""
    portfolio_value_usd: float | None = None
    portfolio_pnl_usd: float | None = None
    current_beta: float | None = None
    target_beta: float | None = None
    beta_drift_pct: float | None = None
    correlation: float | None = None
    contracts: float | None = None
    target_contracts: float | None = None
    hedge_notional_usd: float | None = None  # face value of the short, USD
    collateral_coin: float = 0.0  # inverse: coin collateral whose long delta offsets the short
    net_hedge_notional_usd: float | None = None  # short face − collateral × mark, USD
    hedge_ratio_achieved: float | None = None  # net hedge / (V · β now)
    drift_pct: float | None = None
    entry_price: float | None = None
    mark_price: float | None = None
    spot_price: float | None = None
    basis: float | None = None
    unrealised_pnl_usd: float | None = None
    realised_pnl_usd: float | None = None
    funding_usd: float | None = None
    fees_usd: float | None = None
    funding_rate: float | None = None
    funding_interval_hours: float | None = None
    margin_ratio: float | None = None
    liquidation_price: float | None = None
    liquidation_distance_pct: float | None = None
    leverage: float | None = None
    margin_mode: str | None = None
    warnings: list[str] = field(default_factory=list)
    legs: list[LegStatus] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = _signed_names(asdict(self))
        for leg in out["legs"]:
            leg.pop("basis_note", None)
            _signed_names(leg)
        out["reconciliation"] = self.reconciliation.to_dict()
        out["open"] = self.hedge_id is not None
        out["schema"] = SCHEMA
        return dict(no_negative_zero(out))
