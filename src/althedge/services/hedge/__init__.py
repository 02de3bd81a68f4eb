"""The hedge lifecycle — open, status, rebalance, close — against any venue, journaled.

A package of small parts (see docs/internal-api.md for each module's job):

* :mod:`.record` — the journal's hedge row parsed once into :class:`HedgeRecord`;
* :mod:`.reconcile` — journal vs venue, liquidation import, funding and deposit sync;
* :mod:`.executor` — :class:`JournaledExecutor` sends, polls and cancels, with steps;
* :mod:`.orders` — the orders that take a leg from its short to a target;
* :mod:`.accounting` — hedge PnL, funding, fees and collateral from the journal;
* :mod:`.status`, :mod:`.health` — the hedge now, its warnings and alerts;
* :mod:`.open`, :mod:`.rebalance`, :mod:`.close` — the three commands;
* :mod:`.results` — what they return (``to_dict()`` is the ``--json`` contract).

A hedge has one *leg* per hedge asset of the plan (BTC, or BTC+ETH with the
planner's minimum-variance weights); every per-position step loops over the legs and
the portfolio is counted once. Dry run is the default (``live=False``).
"""

from althedge.services.hedge.close import close_hedge
from althedge.services.hedge.executor import (
    STEPS,
    ExecutionSettings,
    JournaledExecutor,
    StepHook,
    set_step_hook,
)
from althedge.services.hedge.health import (
    Alert,
    AlertThresholds,
    status_alerts,
    status_warnings,
)
from althedge.services.hedge.open import open_hedge
from althedge.services.hedge.orders import plan_orders
from althedge.services.hedge.rebalance import rebalance_hedge
from althedge.services.hedge.reconcile import reconcile
from althedge.services.hedge.record import HedgeRecord, LegRecord, PortfolioRecord
from althedge.services.hedge.results import (
    CloseResult,
    HedgeStatus,
    LegStatus,
    LifecycleResult,
    Reconciliation,
)
from althedge.services.hedge.status import hedge_status

__all__ = [
    "STEPS",
    "Alert",
    "AlertThresholds",
    "CloseResult",
    "ExecutionSettings",
    "HedgeRecord",
    "HedgeStatus",
    "JournaledExecutor",
    "LegRecord",
    "LegStatus",
    "LifecycleResult",
    "PortfolioRecord",
    "Reconciliation",
    "StepHook",
    "close_hedge",
    "hedge_status",
    "open_hedge",
    "plan_orders",
    "rebalance_hedge",
    "reconcile",
    "set_step_hook",
    "status_alerts",
    "status_warnings",
]
