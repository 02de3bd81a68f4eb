"""A crash mid-open is finished by re-running ``hedge open --live``; a journal restored
from an older copy never takes an old order as a new one's result.

Through the real console entry on the paper venue with real processes: the open is
killed at a lifecycle step (tests/crash_run.py's step hook exits the process), then
``hedge open --live`` again completes THAT open with the client id the dry run showed
(nothing sent twice), while another portfolio is refused naming ``hedge rebalance`` and
``hedge close``. A journal copied aside before an open and restored after the close
re-derives the old client ids: the venue answers with the old, filled order, which is
not taken ("hedge #1 opened" at the old price never appears); the journal gets a new
id and the next run opens at today's price with new client ids.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.cli.test_hedge_cycle import _paper_orders, _portfolio, run, run_crashing_at
from tests.cli.test_hedge_cycle import ok_json as _ok_json

DAY = "2024-06-03"


def ok_json(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The command's JSON (exit 0, no traceback), which never says ``-0.0``."""
    assert not re.search(r"-0\.0(?![0-9])", proc.stdout), proc.stdout
    return _ok_json(proc)


def _journal_orders(home: Path) -> list[tuple[str, str, str, float]]:
    with sqlite3.connect(home / "journal.sqlite") as conn:
        rows = conn.execute(
            "SELECT client_order_id, status, purpose, filled FROM orders ORDER BY id"
        ).fetchall()
    return [(str(a), str(b), str(c), float(d)) for a, b, c, d in rows]


def _journal_id(home: Path) -> str:
    with sqlite3.connect(home / "journal.sqlite") as conn:
        (value,) = conn.execute("SELECT value FROM meta WHERE key='installation_id'").fetchone()
    return str(value)


def _setup(tmp_path: Path, shared_data: Path) -> tuple[Path, Path, str, tuple[str, ...]]:
    """(home, portfolio file, prices folder, the `hedge open` arguments at DAY)."""
    pf = _portfolio(tmp_path)
    prices = str(shared_data / "daily")
    return tmp_path / "home", pf, prices, ("hedge", "open", str(pf), "--prices", prices,
                                           "--at", DAY)


@pytest.mark.parametrize("step", ["hedge_recorded", "leverage_set", "intent"])
def test_open_killed_mid_way_is_completed_by_open_again(
    tmp_path: Path, shared_data: Path, step: str
) -> None:
    home, _, _, args = _setup(tmp_path, shared_data)
    dry = ok_json(run(home, *args, "--json"))
    (planned,) = dry["orders"]

    killed = run_crashing_at(step, home, *args, "--live", "--json")
    assert killed.returncode == 77, killed.stderr
    assert not (home / "paper" / "state.json").exists() or _paper_orders(home) == {}

    # open again completes the same open
    again = ok_json(run(home, *args, "--live", "--json"))
    assert again["hedge_id"] == 1
    assert again["message"].startswith("resuming hedge #1 opened at 2024-06-03")
    assert "completed" in again["message"]
    assert again["current_contracts"] == pytest.approx(dry["target_contracts"])
    (sent,) = again["orders"]
    assert sent["client_order_id"] == planned["client_order_id"]  # the SAME client id
    assert list(_paper_orders(home)) == [planned["client_order_id"]]  # sent once
    statuses = [(cid, status) for cid, status, _, _ in _journal_orders(home)]
    assert statuses == [(planned["client_order_id"], "filled")]

    # complete now: a third run is "already open", and sends nothing
    third = run(home, *args, "--live")
    assert third.returncode != 0 and "already open" in third.stderr
    assert "Traceback" not in third.stderr
    assert list(_paper_orders(home)) == [planned["client_order_id"]]


def test_resume_dry_run_names_the_hedge_and_another_portfolio_is_refused(
    tmp_path: Path, shared_data: Path
) -> None:
    home, pf, prices, args = _setup(tmp_path, shared_data)
    assert run_crashing_at("leverage_set", home, *args, "--live").returncode == 77

    dry = ok_json(run(home, *args, "--json"))
    assert "resuming hedge #1 opened at" in dry["message"] and "dry run" in dry["message"]
    assert len(dry["orders"]) == 1 and _paper_orders(home) == {}

    other = tmp_path / "other.toml"
    other.write_text(pf.read_text().replace("amount = 120", "amount = 999"), encoding="utf-8")
    refused = run(home, "hedge", "open", str(other), "--prices", prices, "--at", DAY, "--live")
    assert refused.returncode != 0
    assert "Traceback" not in refused.stderr
    assert "another portfolio" in refused.stderr
    assert "hedge rebalance" in refused.stderr and "hedge close" in refused.stderr
    assert _paper_orders(home) == {}


@pytest.mark.parametrize("again_at", ["2024-07-01", DAY], ids=["later", "same-paper-date"])
def test_restored_journal_never_takes_an_old_fill_as_the_new_open(
    tmp_path: Path, shared_data: Path, again_at: str
) -> None:
    """Closed at ``again_at`` and opened again there. At the SAME paper date the old order
    and the new intent carry the same paper time: the paper account keeps each order's
    machine clock (``placed_wall_ms``) and the journal each intent's (``created_wall_ms``),
    and the order placed before the intent was journaled is still not taken."""
    home = tmp_path / "home"
    pf = _portfolio(tmp_path)
    prices = str(shared_data / "daily")
    assert run(home, "hedge", "status", "--prices", prices, "--at", DAY).returncode == 0
    copy = tmp_path / "journal-copy.sqlite"
    shutil.copy(home / "journal.sqlite", copy)
    first_id = _journal_id(home)

    opened = ok_json(run(home, "hedge", "open", str(pf), "--prices", prices, "--at", DAY,
                         "--live", "--json"))
    (old,) = opened["executed"]
    assert old["client_order_id"].startswith("ah" + first_id[:6])  # the journal id is in it
    ok_json(run(home, "hedge", "close", "--at", again_at, "--live", "--json"))

    for f in home.glob("journal.sqlite*"):
        f.unlink()
    shutil.copy(copy, home / "journal.sqlite")  # the copy: same journal id, no hedge #1

    again = run(home, "hedge", "open", str(pf), "--prices", prices, "--at", again_at,
                "--live", "--json")
    assert again.returncode != 0
    assert "Traceback" not in again.stderr
    assert "hedge #1 opened" not in again.stdout + again.stderr
    assert sum("restored from an older copy" in ln for ln in again.stderr.splitlines()) == 1
    assert old["client_order_id"] in again.stderr
    rows = _journal_orders(home)
    assert rows == [(old["client_order_id"], "id_taken", "open", 0.0)]  # no old fill taken
    assert _journal_id(home) != first_id  # the copy got a new id

    status = ok_json(run(home, "hedge", "status", "--at", again_at, "--json"))
    assert status["contracts"] == 0  # nothing of the old order counted
    assert "below" in json.dumps(status["warnings"]) or status["target_contracts"] > 0

    done = ok_json(run(home, "hedge", "open", str(pf), "--prices", prices, "--at",
                       again_at, "--live", "--json"))
    assert done["message"].startswith("resuming hedge #1")
    (new,) = done["executed"]
    assert new["client_order_id"] != old["client_order_id"]
    assert new["client_order_id"].startswith("ah" + _journal_id(home)[:6])
    if again_at != DAY:
        assert new["average_price"] != pytest.approx(old["average_price"])  # today's price
    assert done["current_contracts"] == pytest.approx(done["target_contracts"])
    orders: dict[str, Any] = _paper_orders(home)
    assert new["client_order_id"] in orders

