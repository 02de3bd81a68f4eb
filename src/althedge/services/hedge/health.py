"""The hedge's health rules: alert thresholds, alerts and status warnings.

Shared by ``hedge status`` (warnings) and the monitor (alerts, webhooks).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from althedge.services.hedge.common import leg_label
from althedge.services.hedge.results import HedgeStatus, LegStatus

__all__ = [
    "BETA_DRIFT_WARN_PCT",
    "CORRELATION_WARN",
    "LIQUIDATION_WARN_PCT",
    "MARGIN_RATIO_WARN",
    "SHORTFALL_WARN_PCT",
    "Alert",
    "AlertThresholds",
    "status_alerts",
    "status_warnings",
]

#: default warning thresholds (status warnings and monitor alerts)
BETA_DRIFT_WARN_PCT = 10.0
LIQUIDATION_WARN_PCT = 30.0
CORRELATION_WARN = 0.5
#: held below target by more than this % (e.g. an open that crashed half-way)
SHORTFALL_WARN_PCT = 10.0
#: margin ratio (maintenance / margin balance) above which status warns; 1.0 liquidates
MARGIN_RATIO_WARN = 0.8


@dataclass(frozen=True)
class AlertThresholds:
    """Warning/alert limits: beta drift %, rally-to-liquidation %, minimum correlation."""

    beta_drift_pct: float = BETA_DRIFT_WARN_PCT
    liquidation_distance_pct: float = LIQUIDATION_WARN_PCT
    min_correlation: float = CORRELATION_WARN
    #: a leg holding fewer contracts than its target by more than this % is underhedged
    shortfall_pct: float = SHORTFALL_WARN_PCT


@dataclass(frozen=True)
class Alert:
    kind: str
    severity: str  # "info" | "warning" | "critical"
    message: str
    symbol: str = ""  # the leg a per-symbol alert is about, when the hedge has several

    def to_dict(self) -> dict[str, str]:
        out = {"kind": self.kind, "severity": self.severity, "message": self.message}
        if self.symbol:
            out["symbol"] = self.symbol
        return out


def status_alerts(s: HedgeStatus, thresholds: AlertThresholds | None = None) -> list[Alert]:
    """The hedge's health rules, shared by ``hedge status`` warnings and the monitor's alerts.

    ``underhedged`` a leg holds less than its target by more than ``shortfall_pct`` %;
    ``beta_drift`` |β now / β at open − 1| × 100 above the limit; ``liquidation`` the
    rally that reaches the liquidation price below the limit (%); ``funding`` the rate
    is negative (the short pays); ``correlation`` below the minimum. The two per-symbol
    rules (liquidation, funding) are checked on every leg; with several legs their
    alerts name the leg (``symbol``).
    """
    t = thresholds or AlertThresholds()
    out: list[Alert] = []
    d = s.beta_drift_pct
    if d is not None and abs(d) > t.beta_drift_pct:
        out.append(
            Alert(
                "beta_drift",
                "warning",
                f"beta drift: portfolio beta {s.current_beta:.2f} vs {s.target_beta:.2f} at open "
                f"({d:+z.1f}%, limit {t.beta_drift_pct:g}%); consider `althedge hedge rebalance`",
            )
        )
    for leg in _legs_of(s):
        out += _leg_alerts(leg, t, len(s.legs))
    c = s.correlation
    if c is not None and c < t.min_correlation:
        out.append(
            Alert(
                "correlation",
                "warning",
                f"correlation: portfolio vs hedge asset {c:.2f} is below "
                f"{t.min_correlation:g}; the beta hedge is less reliable",
            )
        )
    return out


def _legs_of(s: HedgeStatus) -> Sequence[LegStatus | HedgeStatus]:
    """The legs to check per symbol: ``s.legs``, or ``s`` itself when it has none."""
    return s.legs or [s]


def _leg_alerts(leg: LegStatus | HedgeStatus, t: AlertThresholds, n_legs: int) -> list[Alert]:
    """``liquidation`` and ``funding`` for one leg (named when there are several)."""
    label = leg_label(n_legs, leg.symbol)
    symbol = leg.symbol if n_legs > 1 else ""
    out: list[Alert] = []
    held, target = leg.contracts, leg.target_contracts
    if held is not None and target is not None and target > 0:
        short_pct = (1.0 - held / target) * 100.0
        if short_pct > t.shortfall_pct:
            out.append(
                Alert(
                    "underhedged",
                    "critical" if held <= 0 else "warning",
                    f"underhedged{label}: {held + 0.0:g} of {target:g} contracts held "
                    f"({short_pct:z.0f}% short of the target, limit {t.shortfall_pct:g}%); "
                    "finish it with `althedge hedge open PORTFOLIO.toml --live` (an open that "
                    "stopped half-way) or `althedge hedge rebalance --live`",
                    symbol,
                )
            )
    liq = leg.liquidation_distance_pct
    if liq is not None and liq < t.liquidation_distance_pct:
        out.append(
            Alert(
                "liquidation",
                "critical",
                f"liquidation{label}: a {liq:.1f}% rally reaches the liquidation price "
                f"{leg.liquidation_price:,.2f} (limit {t.liquidation_distance_pct:g}%); "
                "add margin or lower leverage",
                symbol,
            )
        )
    flat = leg.contracts is not None and leg.contracts <= 0  # a leg holding nothing pays none
    if leg.funding_rate is not None and leg.funding_rate < 0 and not flat:
        out.append(
            Alert(
                "funding",
                "warning",
                f"funding{label}: rate {leg.funding_rate * 100:z.4f}% per "
                f"{leg.funding_interval_hours:g} h is negative; the short hedge is paying funding",
                symbol,
            )
        )
    return out


def status_warnings(s: HedgeStatus) -> list[str]:
    """The alerts' messages plus a warning per leg whose margin ratio nears 100 %."""
    out = [a.message for a in status_alerts(s)]
    for leg in _legs_of(s):
        if leg.margin_ratio is not None and leg.margin_ratio > MARGIN_RATIO_WARN:
            label = leg_label(len(s.legs), leg.symbol)
            out.append(f"margin ratio{label} {leg.margin_ratio:.0%}: close to liquidation (100%)")
    return out
