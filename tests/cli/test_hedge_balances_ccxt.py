"""Balances no hedge explains, on a ccxt venue — real ``althedge`` processes against the
offline Binance USDⓈ-M model (tests/fixtures/binance_usdm.py, ``ALTHEDGE_CCXT_GATEWAY``).

Binance reports the futures wallet's equity (``marginBalance`` = wallet + unrealised
PnL, ccxt's total: "Account Information V3"); the journal explains it as the balance
before the hedge + hedge PnL at the mark + funding − fees + the transfers Binance
reports (``GET /fapi/v1/income`` TRANSFER, journaled as deposits). So:

* after open, with the mark moved (unrealised PnL ≠ 0), after a funding payment and
  after a rebalance, nothing is unexplained (the old false alarm: unrealised PnL);
* a transfer Binance REPORTS is explained; money that reaches the wallet without a
  reported transfer is listed — table, ``--json``, an info ``balance`` alert in
  ``monitor`` — with exit codes unchanged; after close the account is still explained;
* a balance read refused with HTTP 429 (Binance ``-1003``) or answered after the timeout
  makes the check say in one line that it could not be read now
  (``unexplained_balances_checked`` false + ``unexplained_balances_note``), never a
  traceback, never "explained", the rest of the status intact, exit 0;
* a hedge made by ``hedge adopt`` is checked too (balance and PnL at adoption journaled).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.cli.test_hedge_lock_ccxt import opened  # noqa: F401  (fixture)
from tests.cli.test_hedge_orphans_ccxt import PORTFOLIO, VENUE

OUTSIDE_USDT = 300.0
REPORTED_USDT = 1_000.0
RATE_LIMITED = (429, {"code": -1003, "msg": "Too many requests; current limit of IP(127.0.0.1) "
                      "is 2400 requests per minute. Please use the websocket for live updates "
                      "to avoid polling the API."})


def _rec(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout)["reconciliation"])


def _explained(model: Any, home: Path) -> dict[str, Any]:
    rec = _rec(model.althedge(home, "hedge", "status", "--json"))
    assert rec["unexplained_balances"] == [], rec["unexplained_balances"]
    assert rec["unexplained_balances_checked"] is True
    assert rec["unexplained_balances_note"] is None
    return rec


def _opened_live(model: Any, tmp_path: Path) -> Path:
    """A hedge opened with ``--live`` on the model; its data directory."""
    home = tmp_path / "home"
    start = model.althedge(home, "hedge", "open", PORTFOLIO, "--venue", VENUE, "--live")
    assert start.returncode == 0, start.stderr
    return home


def test_binance_equity_is_explained_until_money_arrives_outside_althedge(
    opened: tuple[Any, Path, str],  # noqa: F811
) -> None:
    model, home, later = opened
    _explained(model, home)
    model.set_mark(91_500.0)  # the short is 3 500 USD/BTC under water: uPnL in the equity
    _explained(model, home)
    model.advance(8)
    assert model.pay_funding("BTCUSDT", 0.0001) > 0  # a short receives at a positive rate
    _explained(model, home)
    resized = model.althedge(home, "hedge", "rebalance", "--prices", later, "--threshold", "1",
                             "--live", "--json")
    assert resized.returncode == 0, resized.stderr
    assert model.orders_sent("rebalance"), "the rebalance sent its resize"
    _explained(model, home)

    model.transfer(REPORTED_USDT, reported=True)  # Binance lists it: journaled, explained
    rec = _explained(model, home)
    assert rec["ok"] is True

    model.transfer(OUTSIDE_USDT, reported=False)  # in the wallet, in no reported history
    table = model.althedge(home, "hedge", "status", COLUMNS="200")
    assert table.returncode == 0, table.stderr  # a balance is not a risk: exit 0
    assert "not explained by any hedge" in table.stdout and "+300" in table.stdout
    (b,) = _rec(model.althedge(home, "hedge", "status", "--json"))["unexplained_balances"]
    assert (b["currency"], b["venue"]) == ("USDT", VENUE)
    assert b["unexplained_ccy"] == pytest.approx(OUTSIDE_USDT, abs=0.01)
    assert b["unexplained_usd"] == pytest.approx(OUTSIDE_USDT, abs=0.01)

    monitor = model.althedge(home, "monitor", "--iterations", "1", "--every", "1s", "--json")
    assert monitor.returncode == 0, monitor.stderr
    (alert,) = [a for a in json.loads(monitor.stdout)["alerts"] if a["kind"] == "balance"]
    assert alert["severity"] == "info" and "+300 USDT not explained" in alert["message"]

    model.transfer(-OUTSIDE_USDT, reported=False)  # taken back out the same way
    closed = model.althedge(home, "hedge", "close", "--live", "--json", "--timeout", "1")
    assert closed.returncode == 0, closed.stderr
    assert model.position_amt() == 0.0
    _explained(model, home)  # the closed hedge's account: fills, funding, fees, transfer


def test_a_rate_limited_or_timed_out_balance_read_is_said_in_one_line(
    tmp_path: Path, binance_model: Any
) -> None:
    model, home = binance_model, _opened_live(binance_model, tmp_path)
    model.transfer(OUTSIDE_USDT, reported=False)  # unexplained money the check must not hide

    model.refuse("GET", "/fapi/v3/account", RATE_LIMITED)
    rec = _rec(model.althedge(home, "hedge", "status", "--json"))
    assert rec["unexplained_balances_checked"] is False
    assert rec["unexplained_balances"] == []
    assert "balances not checked now" in rec["unexplained_balances_note"]
    assert "rate limit" in rec["unexplained_balances_note"]
    assert rec["ok"] is True and rec["venue_contracts"] == pytest.approx(model.position_amt())
    table = model.althedge(home, "hedge", "status", COLUMNS="200")
    assert table.returncode == 0 and "Traceback" not in table.stderr
    assert sum("balances not checked now" in ln for ln in table.stdout.splitlines()) == 1
    assert "hedge #1" in table.stdout and "contracts held / target" in table.stdout
    monitor = model.althedge(home, "monitor", "--iterations", "1", "--every", "1s", "--json")
    assert monitor.returncode == 0, monitor.stderr
    summary = json.loads(monitor.stdout)
    assert not [a for a in summary["alerts"] if a["kind"] == "balance"]
    assert summary["last_status"]["reconciliation"]["unexplained_balances_checked"] is False
    line = model.althedge(home, "monitor", "--iterations", "1", "--every", "1s")
    assert line.returncode == 0 and "balances not checked now" in line.stdout + line.stderr
    model.refuse("GET", "/fapi/v3/account", None)

    for _ in range(4):  # every attempt (the read is retried with backoff) times out
        model.server.delay_next("GET", "/fapi/v3/account", 2.0)
    slow = model.althedge(home, "hedge", "status", "--json",
                          ALTHEDGE_EXCHANGE_TIMEOUT_MS="500")
    rec = _rec(slow)
    assert rec["unexplained_balances_checked"] is False and rec["unexplained_balances"] == []
    assert "timed out" in rec["unexplained_balances_note"].lower() or \
        "timeout" in rec["unexplained_balances_note"].lower()

    (b,) = _rec(model.althedge(home, "hedge", "status", "--json"))["unexplained_balances"]
    assert b["unexplained_ccy"] == pytest.approx(OUTSIDE_USDT, abs=0.01)  # answered again


def test_an_adopted_hedge_is_checked_from_its_adoption(
    tmp_path: Path, binance_model: Any
) -> None:
    model, home = binance_model, _opened_live(binance_model, tmp_path)
    for f in home.glob("journal.sqlite*"):
        f.unlink()
    model.set_mark(90_000.0)  # the orphan is 2 000 USD/BTC under water when adopted
    model.advance(8)
    model.pay_funding("BTCUSDT", 0.0001)  # before the adoption: in its balance
    adopted = model.althedge(home, "hedge", "adopt", PORTFOLIO, "--venue", VENUE, "--live")
    assert adopted.returncode == 0, adopted.stderr
    _explained(model, home)
    model.set_mark(86_000.0)
    model.advance(8)
    model.pay_funding("BTCUSDT", 0.0002)
    model.transfer(REPORTED_USDT, reported=True)
    _explained(model, home)
    model.transfer(OUTSIDE_USDT, reported=False)
    (b,) = _rec(model.althedge(home, "hedge", "status", "--json"))["unexplained_balances"]
    assert b["unexplained_ccy"] == pytest.approx(OUTSIDE_USDT, abs=0.01)
