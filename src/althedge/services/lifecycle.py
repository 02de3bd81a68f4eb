"""The hedge lifecycle's public names (a facade over :mod:`althedge.services.hedge`).

Kept so ``from althedge.services.lifecycle import open_hedge`` keeps working; new
code imports from :mod:`althedge.services.hedge`. ``CRASH_POINTS`` is the old name
of :data:`althedge.services.hedge.STEPS` (the environment switch that used to crash
the process there is gone: tests install a step hook, see tests/crash_run.py).
"""

from althedge.services.hedge import (
    STEPS,
    Alert,
    AlertThresholds,
    CloseResult,
    ExecutionSettings,
    HedgeStatus,
    LegStatus,
    LifecycleResult,
    Reconciliation,
    close_hedge,
    hedge_status,
    open_hedge,
    plan_orders,
    rebalance_hedge,
    reconcile,
    status_alerts,
)

CRASH_POINTS = STEPS

__all__ = [
    "CRASH_POINTS",
    "Alert",
    "AlertThresholds",
    "CloseResult",
    "ExecutionSettings",
    "HedgeStatus",
    "LegStatus",
    "LifecycleResult",
    "Reconciliation",
    "close_hedge",
    "hedge_status",
    "open_hedge",
    "plan_orders",
    "rebalance_hedge",
    "reconcile",
    "status_alerts",
]
