"""run_monitor in-process: a failing check is reported and the loop goes on."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from althedge.data import open_source
from althedge.errors import ExchangeError
from althedge.journal import Journal
from althedge.services.monitor import run_monitor
from althedge.venues.paper import PaperExchange


def test_failed_check_is_reported_and_the_loop_goes_on(tmp_path: Path, shared_data: Path) -> None:
    source = open_source(shared_data / "daily")
    calls: list[date | None] = []
    lines: list[str] = []

    def venue_at(day: date | None) -> tuple[Any, Any, date | None]:
        calls.append(day)
        if len(calls) == 1:
            raise ExchangeError("binanceusdm fetch position: network error; retry later")
        v = PaperExchange.open(tmp_path / "paper", source=source, at=date(2024, 6, 3))
        return v, source, date(2024, 6, 3)

    with Journal(tmp_path / "journal.sqlite") as j:
        summary = run_monitor(
            j, venue_at, every_s=0.0, iterations=3, on_line=lines.append, sleep=lambda _s: None
        )
        assert summary.iterations == 3 and summary.snapshots == 2
        assert summary.errors == ["binanceusdm fetch position: network error; retry later"]
        assert len(j.snapshots()) == 2
    assert any("check failed" in line for line in lines)
    assert summary.stopped_by == "iterations"
