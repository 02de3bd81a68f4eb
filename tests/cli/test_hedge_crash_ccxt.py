"""A real ``althedge`` process killed at every lifecycle step on a ccxt venue, then the
command run again — against the offline Binance USDⓈ-M model (tests/fixtures/binance_usdm.py,
reached through ``ALTHEDGE_CCXT_GATEWAY``; real ccxt inside the process, orders counted
where they land: the model's ``POST /fapi/v1/order``).

``hedge open --live``, ``hedge rebalance --live`` and ``hedge close --live`` are each killed
at every step of :data:`althedge.services.hedge.STEPS` they pass through — by
tests/crash_run.py's step hook (``os._exit(77)``: no cleanup, no flush) for open and close,
by a real ``SIGKILL`` from this test while the process waits at the step (crash_run's
pause + marker) for rebalance — and once more after the exchange acted but before
althedge heard back: the model takes the order, then ``SIGKILL``s the sender before it
replies (the exchange has the order, the journal only the intent). Then the same command
again. Each time: exactly one order per client id reached the exchange, every order the
journal says was sent is the exchange's (same fill) and no other order exists, the journal's
position is the exchange's (``hedge status`` reconciles clean), the position is the target
(zero after the close), and no process printed a traceback. The paper versions are
tests/cli/test_hedge_cycle.py and tests/cli/test_hedge_resume.py.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from tests.cli.test_hedge_cycle import ok_json

from althedge.services.hedge import STEPS

ROOT = Path(__file__).resolve().parents[2]
PORTFOLIO = str(ROOT / "examples" / "portfolio.toml")
CRASH_RUN = ROOT / "tests" / "crash_run.py"
ASSETS = ("BTC", "SOL", "AVAX", "LINK", "DOGE", "ADA")
#: the hedge opens on prices that end before this day and is rebalanced on all of them,
#: which calls for a resize (tests/cli/test_hedge_lock_ccxt.py uses the same cut)
CUT = "2024-10-01"
VENUE = "binanceusdm"
#: Binance's BTCUSDT lot step (binanceusdm_exchangeInfo.json)
LOT = 0.001

#: the steps each command passes through (docs/lifecycle.md "Crash safety")
STEPS_OF = {
    "open": ("hedge_recorded", "leverage_set", "intent", "sent", "recorded", "leg_placed"),
    "rebalance": ("intent", "sent", "recorded"),
    "close": ("intent", "sent", "recorded", "closed_orders"),
}
#: how each command's process dies at its steps
KILL_BY = {"open": "exit", "rebalance": "sigkill", "close": "exit"}
CASES = [(cmd, step) for cmd, steps in STEPS_OF.items() for step in steps]


def test_the_cases_cover_every_step() -> None:
    assert {step for _, step in CASES} == set(STEPS)


def _clean(proc: subprocess.CompletedProcess[str] | tuple[str, str]) -> None:
    out, err = (proc.stdout, proc.stderr) if not isinstance(proc, tuple) else proc
    assert "Traceback" not in out and "Traceback" not in err, err


def _journal_orders(home: Path) -> list[tuple[str, str, str, float]]:
    """(client id, status, purpose, filled) of every journaled order."""
    with sqlite3.connect(home / "journal.sqlite") as conn:
        return [(str(a), str(b), str(c), float(d)) for a, b, c, d in conn.execute(
            "SELECT client_order_id, status, purpose, filled FROM orders ORDER BY id")]


class Scene:
    """One data directory trading on the model, with the two price folders."""

    def __init__(self, model: Any, tmp_path: Path, shared_data: Path) -> None:
        self.model = model
        self.home = tmp_path / "home"
        self.early = tmp_path / "early"
        self.early.mkdir()
        for asset in ASSETS:
            lines = (shared_data / "daily" / f"{asset}-USD_1d.csv").read_text().splitlines()
            (self.early / f"{asset}-USD_1d.csv").write_text(
                "\n".join([lines[0], *(ln for ln in lines[1:] if ln[:10] < CUT)]) + "\n")
        self.later = str(shared_data / "daily")
        self.procs: list[subprocess.CompletedProcess[str] | tuple[str, str]] = []

    def args(self, command: str) -> tuple[str, ...]:
        if command == "open":
            return ("hedge", "open", PORTFOLIO, "--venue", VENUE, "--prices", str(self.early),
                    "--live", "--json")
        if command == "rebalance":
            return ("hedge", "rebalance", "--prices", self.later, "--threshold", "1",
                    "--live", "--json")
        return ("hedge", "close", "--prices", self.later, "--timeout", "1", "--live", "--json")

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        proc = self.model.althedge(self.home, *args)
        self.procs.append(proc)
        return proc

    def ok(self, *args: str) -> dict[str, Any]:
        return ok_json(self.run(*args))

    def kill_at(self, step: str, command: str, how: str) -> int:
        """Run ``command`` and kill it at ``step``; its exit status."""
        argv = [sys.executable, str(CRASH_RUN), step, "cli", *self.args(command)]
        if how == "exit":
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=240,
                                  env=self.model.cli_env(self.home))
            self.procs.append(proc)
            assert proc.stdout == ""  # killed: nothing printed
            return proc.returncode
        marker = self.home.parent / f"at-{step}"
        child = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=self.model.cli_env(self.home, CRASH_RUN_PAUSE_S="200",
                                   CRASH_RUN_MARKER=str(marker)))
        deadline = time.monotonic() + 200
        while not marker.exists():
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, f"never reached {step}"
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
        out, err = child.communicate(timeout=60)
        self.procs.append((out, err))
        return child.returncode

    def kill_when_the_exchange_has_the_order(self, command: str) -> int:
        """Run ``command``; the model SIGKILLs it the moment it has taken an order, before
        replying: the exchange acted, the process never heard."""
        child = self.model.start_althedge(self.home, *self.args(command))
        taken: list[str] = []

        def kill(order: dict[str, Any]) -> None:
            taken.append(order["clientOrderId"])
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=30)  # dead before it could read any reply

        self.model.after_create = kill
        try:
            out, err = child.communicate(timeout=240)
        finally:
            self.model.after_create = None
        self.procs.append((out, err))
        assert len(taken) == 1
        return child.returncode

    def check(self, target: float | None) -> dict[str, Any]:
        """Exchange, journal and target agree; returns ``hedge status --json``."""
        model = self.model
        posts = collections.Counter(
            p.params["newClientOrderId"] for p in model.orders_sent())
        assert posts and max(posts.values()) == 1, posts  # one order per client id
        journaled = {cid: filled for cid, status, _, filled in _journal_orders(self.home)
                     if status != "not_sent"}
        assert set(journaled) == set(model.orders)  # nothing unknown on either side
        for cid, filled in journaled.items():
            assert filled == pytest.approx(float(model.orders[cid]["executedQty"]))
        status = self.ok("hedge", "status", "--prices", self.later, "--json")
        assert status["reconciliation"]["ok"] is True, status["reconciliation"]
        assert status["reconciliation"]["differences"] == []
        if target is None:  # closed
            assert model.position_amt() == 0.0 and status["open"] is False
        else:
            assert status["contracts"] == pytest.approx(-model.position_amt())
            assert -model.position_amt() == pytest.approx(target, abs=LOT * 1.5)
        for proc in self.procs:
            _clean(proc)
        return status


@pytest.fixture()
def scene(tmp_path: Path, shared_data: Path, binance_model: Any) -> Scene:
    return Scene(binance_model, tmp_path, shared_data)


def _before(scene: Scene, command: str) -> float | None:
    """Bring the hedge to where ``command`` starts; the target it should end at."""
    if command == "open":
        dry = scene.ok(*scene.args("open")[:-2], "--json")
        target: float = dry["target_contracts"]
        assert target > 0 and scene.model.orders_sent() == []
        return target
    opened = scene.ok(*scene.args("open"))
    assert opened["current_contracts"] == pytest.approx(opened["target_contracts"])
    if command == "close":
        return None
    dry = scene.ok(*scene.args("rebalance")[:-2], "--json")
    assert dry["orders"], "the test needs a rebalance that resizes"
    return float(dry["target_contracts"])


@pytest.mark.parametrize(("command", "step"), CASES)
def test_killed_at_a_step_then_the_same_command_again(
    scene: Scene, command: str, step: str
) -> None:
    target = _before(scene, command)
    sent_before = len(scene.model.orders_sent())
    how = KILL_BY[command]
    status = scene.kill_at(step, command, how)
    assert status == (77 if how == "exit" else -signal.SIGKILL)
    if step in ("hedge_recorded", "leverage_set", "intent"):
        assert len(scene.model.orders_sent()) == sent_before  # killed before the send

    again = scene.run(*scene.args(command))
    if command == "open" and step in ("sent", "recorded", "leg_placed"):
        # the order filled before the kill: the open is complete, and says so
        assert again.returncode == 2, again.stderr
        assert "already open and at its target" in again.stderr
    else:
        assert again.returncode == 0, again.stderr
        message = json.loads(again.stdout)["message"]
        if command == "open":
            assert message.startswith("resuming hedge #1")
        elif command == "rebalance":
            expect = "rebalanced" if step == "intent" else "within threshold"
            assert message.startswith(expect), message
    scene.check(target)


@pytest.mark.parametrize("command", list(STEPS_OF))
def test_killed_after_the_exchange_took_the_order_before_the_reply(
    scene: Scene, command: str
) -> None:
    """The exchange has the order, the journal only its intent; the command run again finds
    it by client id, records its fill and sends nothing twice."""
    target = _before(scene, command)
    assert scene.kill_when_the_exchange_has_the_order(command) == -signal.SIGKILL
    rows = _journal_orders(scene.home)
    cid, status, purpose, filled = rows[-1]
    assert (status, filled) == ("intent", 0.0) and purpose == command
    assert scene.model.orders[cid]["status"] == "FILLED"  # on the exchange, in full

    again = scene.run(*scene.args(command))
    if command == "open":
        assert again.returncode == 2 and "already open and at its target" in again.stderr
    else:
        assert again.returncode == 0, again.stderr
    after = {c: (s, f) for c, s, _, f in _journal_orders(scene.home)}
    assert after[cid] == ("filled", pytest.approx(float(scene.model.orders[cid]["executedQty"])))
    scene.check(target)
