"""The SQLite journal (plans, orders, fills, funding, snapshots, alerts) and its migrations."""

from althedge.journal.migrations import MIGRATIONS, current_version, migrate
from althedge.journal.store import (
    ID_TAKEN,
    OPEN_STATUSES,
    FillRow,
    HedgeRow,
    Journal,
    OrderRow,
    now_iso,
)

__all__ = [
    "ID_TAKEN",
    "MIGRATIONS",
    "OPEN_STATUSES",
    "FillRow",
    "HedgeRow",
    "Journal",
    "OrderRow",
    "current_version",
    "migrate",
    "now_iso",
]
