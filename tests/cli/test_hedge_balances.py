"""Balances no hedge explains are reported — through the real console entry on paper.

The journal explains each settlement currency's balance as the balance before the
hedge + collateral taken in + hedge PnL + funding − fees (docs/lifecycle.md). On the
paper venue that is exact after open, a rebalance weeks later (funding paid meanwhile)
and close; a deposit made outside althedge (the paper account's wallet raised by hand)
is listed — stderr, the status table, ``--json`` (``reconciliation.unexplained_balances``
with signed, currency-suffixed names) and an informational ``balance`` alert in
``monitor`` — and changes no exit code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.cli.test_hedge_cycle import _portfolio, ok_json, run

DEPOSIT_USDT = 5_000.0


def _deposit_outside_althedge(home: Path, amount: float) -> None:
    path = home / "paper" / "state.json"
    state = json.loads(path.read_text())
    state["balances"]["USDT"] = float(state["balances"].get("USDT", 0.0)) + amount
    path.write_text(json.dumps(state))


def test_balances_explained_exactly_then_a_deposit_outside_is_listed(
    tmp_path: Path, shared_data: Path
) -> None:
    home = tmp_path / "home"
    prices = str(shared_data / "daily")
    ok_json(run(home, "hedge", "open", str(_portfolio(tmp_path)), "--prices", prices,
                "--at", "2024-06-03", "--live", "--json"))
    status = ok_json(run(home, "hedge", "status", "--at", "2024-07-01", "--json"))
    assert status["reconciliation"]["unexplained_balances"] == []  # funding paid meanwhile
    ok_json(run(home, "hedge", "rebalance", "--at", "2024-07-01", "--threshold", "0",
                "--live", "--json"))
    status = ok_json(run(home, "hedge", "status", "--at", "2024-07-15", "--json"))
    assert status["reconciliation"]["unexplained_balances"] == []

    _deposit_outside_althedge(home, DEPOSIT_USDT)
    table = run(home, "hedge", "status", "--at", "2024-07-15")
    assert table.returncode == 0, table.stderr  # a balance is not a risk: exit 0
    assert "not explained by any hedge" in table.stdout
    assert "USDT" in table.stdout and "+5,000" in table.stdout

    data = ok_json(run(home, "hedge", "status", "--at", "2024-07-15", "--json"))
    (b,) = data["reconciliation"]["unexplained_balances"]
    assert data["reconciliation"]["ok"] is True
    assert b["currency"] == "USDT" and b["venue"] == "paper"
    assert b["unexplained_ccy"] == pytest.approx(DEPOSIT_USDT, abs=1e-6)
    assert b["unexplained_usd"] == pytest.approx(DEPOSIT_USDT, abs=1e-6)
    assert b["venue_balance_ccy"] - b["explained_ccy"] == pytest.approx(b["unexplained_ccy"])

    monitor = run(home, "monitor", "--iterations", "1", "--at", "2024-07-15", "--json")
    assert monitor.returncode == 0, monitor.stderr
    summary = json.loads(monitor.stdout)
    (alert,) = [a for a in summary["alerts"] if a["kind"] == "balance"]
    assert alert["severity"] == "info" and "not explained by any hedge" in alert["message"]

    # a trading command says it too, and still acts
    closed = run(home, "hedge", "close", "--at", "2024-08-01", "--live", "--json")
    assert closed.returncode == 0, closed.stderr
    assert "not explained by any hedge" in closed.stderr
    after = ok_json(run(home, "hedge", "status", "--at", "2024-08-01", "--json"))
    (b,) = after["reconciliation"]["unexplained_balances"]  # the closed hedge's account
    assert b["unexplained_ccy"] == pytest.approx(DEPOSIT_USDT, abs=1e-6)


def test_an_adopted_hedge_is_checked_from_its_adoption(tmp_path: Path) -> None:
    """``hedge adopt`` journals the balance at adoption and the adopted short's PnL then
    (at the adoption's mark, by its entry price): explained = that balance − that PnL +
    hedge PnL at the mark + funding − fees. A paper short opened on 2024-06-03 loses its
    journal and is adopted on 2024-06-17 (PnL since its entry in the balance): explained
    on 2024-07-01 (funding paid meanwhile); a deposit outside althedge is listed."""
    from tests.cli.test_hedge_orphans import PORTFOLIO

    home = tmp_path / "home"
    opened = run(home, "hedge", "open", str(PORTFOLIO), "--venue", "paper", "--at",
                         "2024-06-03", "--live", "--json")
    assert opened.returncode == 0, opened.stderr
    for f in home.glob("journal.sqlite*"):
        f.unlink()
    adopted = run(home, "hedge", "adopt", str(PORTFOLIO), "--venue", "paper",
                          "--at", "2024-06-17", "--live", "--json")
    assert adopted.returncode == 0, adopted.stderr
    for day in ("2024-06-17", "2024-07-01"):
        status = ok_json(run(home, "hedge", "status", "--at", day, "--json"))
        assert status["reconciliation"]["unexplained_balances"] == [], day
        assert status["reconciliation"]["unexplained_balances_checked"] is True
        assert status["unrealised_pnl_usd"] != 0.0  # the check is not trivially flat
    _deposit_outside_althedge(home, DEPOSIT_USDT)
    status = ok_json(run(home, "hedge", "status", "--at", "2024-07-01", "--json"))
    (b,) = status["reconciliation"]["unexplained_balances"]
    assert b["unexplained_ccy"] == pytest.approx(DEPOSIT_USDT, abs=1e-6)
