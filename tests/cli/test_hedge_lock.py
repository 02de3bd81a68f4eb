"""One althedge command at a time per journal — with real processes on the paper venue.

Process A (``hedge rebalance --live``) is paused inside its send (tests/crash_run.py
with ``CRASH_RUN_PAUSE_S``: the step hook waits at ``intent`` — the intent journaled,
the order not yet sent — until the test releases it). Meanwhile a second ``rebalance
--live`` refuses, naming A's pid, and sends nothing; ``hedge status`` answers from a
snapshot and writes nothing (not the journal, not the paper account). Two rebalances
started together: one resizes, the other waits for it and finds nothing to do — the
short is never doubled.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PORTFOLIO = ROOT / "examples" / "portfolio.toml"
CRASH_RUN = ROOT / "tests" / "crash_run.py"
OPENED, LATER = "2024-06-03", "2024-09-02"


def _env(home: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "ALTHEDGE_HOME": str(home), **extra}


def run(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "althedge", *args], capture_output=True, text=True,
        env=_env(home, **env), timeout=180,
    )


def _orders(home: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(home / "journal.sqlite") as conn:
        return [
            (str(a), str(b), str(c))
            for a, b, c in conn.execute(
                "SELECT client_order_id, purpose, status FROM orders ORDER BY id"
            )
        ]


def _paper(home: Path) -> dict[str, object]:
    return dict(json.loads((home / "paper" / "state.json").read_text()))


@pytest.fixture()
def opened(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    proc = run(home, "hedge", "open", str(PORTFOLIO), "--venue", "paper", "--at", OPENED,
               "--live")
    assert proc.returncode == 0, proc.stderr
    dry = run(home, "hedge", "rebalance", "--at", LATER, "--threshold", "1", "--json")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["orders"], "the test needs a rebalance that resizes"
    return home


def test_a_second_actor_refuses_and_status_reads_a_snapshot(opened: Path) -> None:
    marker, release = opened / "paused", opened / "release"
    a = subprocess.Popen(
        [sys.executable, str(CRASH_RUN), "intent", "cli", "hedge", "rebalance", "--at", LATER,
         "--threshold", "1", "--live", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=_env(opened, CRASH_RUN_PAUSE_S="120", CRASH_RUN_MARKER=str(marker),
                 CRASH_RUN_RELEASE=str(release)),
    )
    try:
        deadline = time.monotonic() + 90
        while not marker.exists():
            assert a.poll() is None, a.communicate()
            assert time.monotonic() < deadline, "process A never reached its send"
            time.sleep(0.05)
        journal_before = _orders(opened)
        paper_before = (opened / "paper" / "state.json").read_bytes()
        assert journal_before[-1][1:] == ("rebalance", "intent")  # A is mid-send

        b = run(opened, "hedge", "rebalance", "--at", LATER, "--threshold", "1", "--live",
                ALTHEDGE_LOCK_WAIT="0.5")
        assert b.returncode == 6, b.stderr
        assert f"pid {a.pid}" in b.stderr and "another althedge process" in b.stderr
        assert "Traceback" not in b.stderr

        s = run(opened, "hedge", "status", "--at", LATER, "--json")
        assert s.returncode == 0, s.stderr
        assert "read-only" in s.stderr and f"pid {a.pid}" in s.stderr
        assert json.loads(s.stdout)["open"] is True
        # a read-only command wrote nothing: A's intent is untouched, the account too
        assert _orders(opened) == journal_before
        assert (opened / "paper" / "state.json").read_bytes() == paper_before
        assert a.poll() is None  # A still holds the lock: all of the above ran meanwhile
    finally:
        release.write_text("go")
        out, err = a.communicate(timeout=120)
    assert a.returncode == 0, err
    assert json.loads(out)["message"].startswith("rebalanced")
    after = run(opened, "hedge", "status", "--at", LATER, "--json")
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout)["reconciliation"]["ok"] is True
    sent = [c for c, purpose, status in _orders(opened) if purpose == "rebalance"]
    assert len(sent) == 1 and all(c in _paper(opened)["orders"] for c in sent)  # type: ignore[operator]


def test_two_rebalances_started_together_resize_once(opened: Path) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "althedge", "hedge", "rebalance", "--at", LATER,
             "--threshold", "1", "--live", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=_env(opened, ALTHEDGE_LOCK_WAIT="120"),
        )
        for _ in range(2)
    ]
    results = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in results]
    messages = sorted(json.loads(out)["message"].split(":")[0] for out, _ in results)
    assert messages == ["rebalanced", "within threshold"]
    rebalances = [c for c, purpose, status in _orders(opened)
                  if purpose == "rebalance" and status != "not_sent"]
    assert len(rebalances) == 1
    status = run(opened, "hedge", "status", "--at", LATER, "--json")
    data = json.loads(status.stdout)
    assert data["reconciliation"]["ok"] is True
    (position,) = _paper(opened)["positions"].values()  # type: ignore[attr-defined]
    assert position["contracts"] == pytest.approx(data["target_contracts"], rel=0.01)
