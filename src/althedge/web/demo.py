"""``althedge serve --demo``: a paper hedge on the bundled data, with history to look at.

A fresh state folder (a temporary directory) gets the example portfolio's hedge
opened on the paper venue on :data:`OPEN_ON`, then one monitor check a week up to
:data:`STATUS_ON` — journal snapshots and alerts the Hedge page charts. Real prices
(the bundled data), simulated fills; nothing leaves the machine.
"""

from __future__ import annotations

import tempfile
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

OPEN_ON = date(2024, 6, 3)
STATUS_ON = date(2024, 9, 16)
WEEKS = 15


def bundled_portfolio() -> Path:
    """A copy of the bundled example portfolio in a temporary folder (a real file path)."""
    folder = Path(tempfile.mkdtemp(prefix="althedge-demo-pf-"))
    target = folder / "portfolio.toml"
    target.write_text((resources.files("althedge") / "bundled" / "portfolio.toml").read_text())
    return target


def prepare(data_dir: Path, portfolio: Path) -> date:
    """Open the demo hedge on paper in ``data_dir`` and record weekly snapshots.

    Returns the paper date the server should show (:data:`STATUS_ON`).
    """
    from althedge.config import load_portfolio
    from althedge.data import bundled_source
    from althedge.journal import Journal
    from althedge.services import state
    from althedge.services.hedge import open_hedge
    from althedge.services.monitor import run_monitor
    from althedge.venues.paper import PaperExchange

    source = bundled_source()
    journal = Journal(state.journal_path(data_dir))
    try:
        if journal.active_hedge() is None:
            venue = PaperExchange.open(state.paper_dir(data_dir), source=source, at=OPEN_ON,
                                       persist=True)
            open_hedge(journal, venue, load_portfolio(portfolio), source, as_of=OPEN_ON,
                       live=True, portfolio_path=str(portfolio),
                       extra_settings={"venue_id": "paper", "prices": None, "testnet": False})
            venue.save()

            def venue_at(day: date | None) -> tuple[Any, Any, date | None]:
                v = PaperExchange.open(state.paper_dir(data_dir), source=source, at=day,
                                       persist=True)
                return v, source, day

            run_monitor(journal, venue_at, every_s=0.0, iterations=WEEKS,
                        start=date.fromordinal(OPEN_ON.toordinal() + 7), advance_days=7,
                        on_line=lambda _line: None)
    finally:
        journal.close()
    return STATUS_ON
