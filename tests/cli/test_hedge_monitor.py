"""`althedge monitor` through the real entry point: snapshots, alerts, webhook, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from althedge.config import parse_portfolio
from althedge.data import open_source
from althedge.journal import Journal
from althedge.services.lifecycle import open_hedge
from althedge.venues.paper import PaperExchange

PORTFOLIO: dict[str, Any] = {
    "holdings": [{"asset": "SOL", "amount": 120}, {"asset": "AVAX", "amount": 400}],
    "hedge": {"exchange": "binance", "contract": "linear", "leverage": 2},
}


def _open_hedge(home: Path, prices: Path, day: date) -> None:
    source = open_source(prices)
    with Journal(home / "journal.sqlite") as j:
        v = PaperExchange.open(home / "paper", source=source, at=day, persist=True)
        open_hedge(
            j,
            v,
            parse_portfolio(PORTFOLIO),
            source,
            as_of=day,
            live=True,
            extra_settings={"venue_id": "paper", "prices": str(prices)},
        )
        v.save()


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "ALTHEDGE_HOME": str(home)}


def test_monitor_snapshots_alerts_and_webhook(
    tmp_path: Path, shared_data: Path, webhook: tuple[str, Any]
) -> None:
    url, handler = webhook
    received = handler.received
    _open_hedge(tmp_path, shared_data / "daily", date(2024, 6, 3))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "althedge",
            "monitor",  # default --every 1h: a replay must not wait it (timeout below)
            "--iterations",
            "3",
            "--at",
            "2024-06-10",
            "--advance-days",
            "14",
            "--webhook",
            url,
            "--beta-drift-pct",
            "0.01",
            "--min-correlation",
            "0.99",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["iterations"] == 3 and summary["snapshots"] == 3
    assert summary["stopped_by"] == "iterations"
    kinds = [a["kind"] for a in summary["alerts"]]
    # each condition alerts once when it appears, not at every check
    assert "beta_drift" in kinds and "correlation" in kinds
    assert len(kinds) == len(set(kinds))
    assert received == summary["alerts"]
    assert summary["webhook_errors"] == []
    with sqlite3.connect(tmp_path / "journal.sqlite") as conn:
        snaps = [json.loads(r[0]) for r in conn.execute("SELECT snapshot_json FROM snapshots")]
        alerts = conn.execute("SELECT kind FROM alerts").fetchall()
    assert [s["as_of"] for s in snaps] == ["2024-06-10", "2024-06-24", "2024-07-08"]
    assert sorted(a[0] for a in alerts) == sorted(kinds)
    assert "ALERT" in proc.stderr  # human lines go to stderr under --json
    # one line per alert: its severity in brackets (not eaten as markup), then its message
    alert_lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("ALERT")]
    assert len(alert_lines) == len(kinds)
    for line, alert in zip(alert_lines, summary["alerts"], strict=True):
        assert line == f"ALERT [{alert['severity']}] {alert['message']}"


def test_monitor_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "althedge", "monitor", "--every", "30s"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(tmp_path),
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the first check has run
        assert "no open hedge" in first
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err
    with sqlite3.connect(tmp_path / "journal.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0] == 1
