"""One althedge command at a time per journal — two real processes against the offline
Binance USDⓈ-M model (tests/fixtures/binance_usdm.py, through ``ALTHEDGE_CCXT_GATEWAY``).

The hedge is opened on prices that end 2024-09-30 and rebalanced on prices that end
2025-02-20, so the rebalance has a resize to send. Orders are counted where they land: on
the model's POST /fapi/v1/order. Process A is paused inside its send (tests/crash_run.py,
``CRASH_RUN_PAUSE_S``: intent journaled, order not yet sent): a second ``rebalance --live``
refuses naming A's pid and sends nothing; ``hedge status`` reads a snapshot and writes
nothing. Two rebalances and a status started together: exactly one resize reaches the
exchange, and journal and exchange agree afterwards. (Paper venue: test_hedge_lock.py.)
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PORTFOLIO = str(ROOT / "examples" / "portfolio.toml")
CRASH_RUN = ROOT / "tests" / "crash_run.py"
ASSETS = ("BTC", "SOL", "AVAX", "LINK", "DOGE", "ADA")
CUT = "2024-10-01"


def _journal_orders(home: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(home / "journal.sqlite") as conn:
        return [(str(a), str(b), str(c)) for a, b, c in conn.execute(
            "SELECT client_order_id, purpose, status FROM orders ORDER BY id")]


@pytest.fixture()
def opened(tmp_path: Path, shared_data: Path, binance_model: Any) -> tuple[Any, Path, str]:
    """A hedge opened live on prices that end before CUT; returns (model, home, later
    prices) where the later prices call for a resize."""
    early = tmp_path / "early"
    early.mkdir()
    for asset in ASSETS:
        lines = (shared_data / "daily" / f"{asset}-USD_1d.csv").read_text().splitlines()
        (early / f"{asset}-USD_1d.csv").write_text(
            "\n".join([lines[0], *(ln for ln in lines[1:] if ln[:10] < CUT)]) + "\n")
    home = tmp_path / "home"
    proc = binance_model.althedge(home, "hedge", "open", PORTFOLIO, "--venue", "binanceusdm",
                                  "--prices", str(early), "--live", "--json")
    assert proc.returncode == 0, proc.stderr
    later = str(shared_data / "daily")
    dry = binance_model.althedge(home, "hedge", "rebalance", "--prices", later,
                                 "--threshold", "1", "--json")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["orders"], "the test needs a rebalance that resizes"
    assert binance_model.orders_sent("rebalance") == []
    return binance_model, home, later


def test_a_second_actor_refuses_and_status_writes_nothing(
    opened: tuple[Any, Path, str]
) -> None:
    model, home, later = opened
    marker, release = home / "paused", home / "release"
    a = subprocess.Popen(
        [sys.executable, str(CRASH_RUN), "intent", "cli", "hedge", "rebalance", "--prices",
         later, "--threshold", "1", "--live", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=model.cli_env(home, CRASH_RUN_PAUSE_S="120", CRASH_RUN_MARKER=str(marker),
                          CRASH_RUN_RELEASE=str(release)),
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert a.poll() is None, a.communicate()
            assert time.monotonic() < deadline, "process A never reached its send"
            time.sleep(0.05)
        journal_before = _journal_orders(home)
        assert journal_before[-1][1:] == ("rebalance", "intent")  # A is mid-send
        b = model.althedge(home, "hedge", "rebalance", "--prices", later, "--threshold", "1",
                           "--live", ALTHEDGE_LOCK_WAIT="0.5")
        assert b.returncode == 6, b.stderr
        assert f"pid {a.pid}" in b.stderr and "another althedge process" in b.stderr
        assert "Traceback" not in b.stderr
        s = model.althedge(home, "hedge", "status", "--json")
        assert s.returncode == 0, s.stderr
        assert "read-only" in s.stderr and f"pid {a.pid}" in s.stderr
        assert json.loads(s.stdout)["open"] is True
        # neither B nor the status sent or wrote anything while A held the lock
        assert model.orders_sent("rebalance") == []
        assert _journal_orders(home) == journal_before
        assert a.poll() is None
    finally:
        release.write_text("go")
        out, err = a.communicate(timeout=180)
    assert a.returncode == 0, err
    assert json.loads(out)["message"].startswith("rebalanced")
    (sent,) = model.orders_sent("rebalance")
    assert (sent.params["newClientOrderId"], "rebalance", "filled") in _journal_orders(home)


def test_two_rebalances_and_a_status_started_together_resize_once(
    opened: tuple[Any, Path, str]
) -> None:
    model, home, later = opened
    args = ("hedge", "rebalance", "--prices", later, "--threshold", "1", "--live", "--json")
    procs = [model.start_althedge(home, *args, ALTHEDGE_LOCK_WAIT="120") for _ in range(2)]
    status = model.start_althedge(home, "hedge", "status", "--json")
    results = [p.communicate(timeout=240) for p in procs]
    s_out, s_err = status.communicate(timeout=240)
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in results]
    messages = sorted(json.loads(out)["message"].split(":")[0] for out, _ in results)
    assert messages == ["rebalanced", "within threshold"]
    (sent,) = model.orders_sent("rebalance")  # exactly one resize reached the exchange
    assert status.returncode == 0, s_err
    assert json.loads(s_out)["open"] is True
    after = model.althedge(home, "hedge", "status", "--prices", later, "--json")
    assert after.returncode == 0, after.stderr
    data = json.loads(after.stdout)
    assert data["reconciliation"]["ok"] is True
    assert -model.position_amt() == pytest.approx(data["target_contracts"], abs=0.0015)
    journaled = [(c, s) for c, p, s in _journal_orders(home) if p == "rebalance"]
    assert journaled == [(sent.params["newClientOrderId"], "filled")]
