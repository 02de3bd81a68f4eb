"""An open position is never invisible — real ``althedge`` processes on a ccxt venue, offline.

The venue is ``binanceusdm`` through ccxt, answered by the offline Binance USDⓈ-M model
(tests/fixtures/binance_usdm.py, reached through ``ALTHEDGE_CCXT_GATEWAY``). A hedge is
opened with ``--live``, then the journal is lost mid-hedge (deleted, or emptied): with no
``--venue``, ``hedge status`` still reads Binance (``venues.json`` remembers the venue
outside the journal), shows the short no open hedge explains (table, ``--json``, exit 6);
``monitor`` raises the ``orphan`` alert and exits 6; the way out works from the CLI —
``hedge adopt`` (dry run, then ``--live``) journals it, ``hedge close --venue binanceusdm
--orphan`` (dry run, then ``--live``) takes it off with a reduce-only buy. The paper
versions of these scenarios are tests/cli/test_hedge_orphans.py.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PORTFOLIO = str(ROOT / "examples" / "portfolio.toml")
VENUE = "binanceusdm"
SYMBOL = "BTC/USDT:USDT"


def _clean(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout


@pytest.fixture()
def orphaned(tmp_path: Path, binance_model: Any) -> Iterator[tuple[Any, Path]]:
    """A hedge opened live on the offline Binance; then its journal is deleted."""
    home = tmp_path / "home"
    opened = binance_model.althedge(home, "hedge", "open", PORTFOLIO, "--venue", VENUE,
                                    "--live", "--json")
    assert opened.returncode == 0, opened.stderr
    held = json.loads(opened.stdout)["current_contracts"]
    assert held > 0 and binance_model.position_amt() == pytest.approx(-held)
    for f in home.glob("journal.sqlite*"):
        f.unlink()
    yield binance_model, home


def test_status_finds_the_venue_and_shows_the_orphan(orphaned: tuple[Any, Path]) -> None:
    model, home = orphaned
    sent = len(model.orders_sent())
    # no --venue: venues.json (outside the journal) remembers where the hedge was
    table = model.althedge(home, "hedge", "status", COLUMNS="200")
    _clean(table)
    assert table.returncode == 6, table.stderr
    assert "no open hedge in the journal" in table.stdout
    assert SYMBOL in table.stdout and VENUE in table.stdout
    # the way out names this venue
    assert f"hedge close --venue {VENUE} --orphan" in " ".join(table.stderr.split())
    assert f"hedge adopt PORTFOLIO.toml --venue {VENUE}" in " ".join(table.stderr.split())

    as_json = model.althedge(home, "hedge", "status", "--json")
    assert as_json.returncode == 6, as_json.stderr
    data = json.loads(as_json.stdout)
    assert data["open"] is False and data["reconciliation"]["ok"] is False
    (orphan,) = data["reconciliation"]["orphans"]
    assert orphan["kind"] == "position" and orphan["venue"] == VENUE
    assert orphan["symbol"] == SYMBOL
    assert orphan["contracts"] == pytest.approx(model.position_amt())
    assert orphan["entry_price"] == pytest.approx(model.book["BTCUSDT"]["entry"])
    assert len(model.orders_sent()) == sent  # reading sends nothing


def test_an_emptied_journal_is_no_better(orphaned: tuple[Any, Path]) -> None:
    model, home = orphaned
    (home / "journal.sqlite").write_bytes(b"")
    proc = model.althedge(home, "hedge", "status", "--json")
    _clean(proc)
    assert proc.returncode == 6, proc.stderr
    (orphan,) = json.loads(proc.stdout)["reconciliation"]["orphans"]
    assert orphan["contracts"] == pytest.approx(model.position_amt())


def test_monitor_raises_the_orphan_alert_and_exits_6(orphaned: tuple[Any, Path]) -> None:
    model, home = orphaned
    proc = model.althedge(home, "monitor", "--iterations", "1", "--every", "1s", "--json")
    _clean(proc)
    assert proc.returncode == 6, proc.stderr
    alerts = json.loads(proc.stdout)["alerts"]
    assert [a["kind"] for a in alerts] == ["orphan"]
    assert SYMBOL in alerts[0]["message"] and "hedge adopt" in alerts[0]["message"]
    assert f"--venue {VENUE}" in alerts[0]["message"]


def test_open_refuses_and_sends_nothing(orphaned: tuple[Any, Path]) -> None:
    model, home = orphaned
    sent = len(model.orders_sent())
    proc = model.althedge(home, "hedge", "open", PORTFOLIO, "--venue", VENUE, "--live")
    _clean(proc)
    assert proc.returncode == 6
    assert "hedge adopt" in proc.stderr and "--orphan" in proc.stderr
    assert len(model.orders_sent()) == sent


def test_adopt_dry_run_then_live_then_close(orphaned: tuple[Any, Path]) -> None:
    model, home = orphaned
    held = -model.position_amt()
    dry = model.althedge(home, "hedge", "adopt", PORTFOLIO, "--venue", VENUE, "--json")
    assert dry.returncode == 0, dry.stderr
    assert "dry run" in json.loads(dry.stdout)["message"]
    with sqlite3.connect(home / "journal.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM hedges").fetchone()[0] == 0

    live = model.althedge(home, "hedge", "adopt", PORTFOLIO, "--venue", VENUE, "--live",
                          "--json")
    assert live.returncode == 0, live.stderr
    assert json.loads(live.stdout)["hedge_id"] == 1
    status = model.althedge(home, "hedge", "status", "--json")
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["reconciliation"]["ok"] is True and data["reconciliation"]["orphans"] == []
    assert data["venue"] == VENUE and data["contracts"] == pytest.approx(held)

    sent = len(model.orders_sent())
    closed = model.althedge(home, "hedge", "close", "--live", "--json", "--timeout", "1")
    assert closed.returncode == 0, closed.stderr
    assert model.position_amt() == 0.0
    (buy,) = model.orders_sent()[sent:]
    assert buy.params["side"] == "BUY" and buy.params["reduceOnly"] == "true"
    assert float(buy.params["quantity"]) == pytest.approx(held)


def test_close_orphan_dry_run_then_live_is_one_reduce_only_buy(
    orphaned: tuple[Any, Path]
) -> None:
    model, home = orphaned
    held = -model.position_amt()
    sent = len(model.orders_sent())
    dry = model.althedge(home, "hedge", "close", "--venue", VENUE, "--orphan", "--json")
    _clean(dry)
    assert dry.returncode == 0, dry.stderr
    (order,) = json.loads(dry.stdout)["orders"]
    assert order["side"] == "buy" and order["reduce_only"] is True
    assert order["contracts"] == pytest.approx(held)
    assert len(model.orders_sent()) == sent  # a dry run sends nothing

    live = model.althedge(home, "hedge", "close", "--venue", VENUE, "--orphan", "--live",
                          "--json", "--timeout", "1")
    _clean(live)
    assert live.returncode == 0, live.stderr
    (buy,) = model.orders_sent()[sent:]
    assert buy.params["side"] == "BUY" and buy.params["reduceOnly"] == "true"
    assert float(buy.params["quantity"]) == pytest.approx(held)
    assert model.position_amt() == 0.0
    with sqlite3.connect(home / "journal.sqlite") as conn:
        rows = conn.execute("SELECT purpose, status, client_order_id FROM orders").fetchall()
    assert [(p, s) for p, s, _ in rows] == [("orphan", "filled")]  # journaled like any order
    assert rows[0][2] == buy.params["newClientOrderId"]
    after = model.althedge(home, "hedge", "status", "--json")
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout)["reconciliation"]["ok"] is True


def test_a_working_order_no_hedge_explains_is_shown_and_cancelled(
    orphaned: tuple[Any, Path]
) -> None:
    """A resting sell placed on the account from elsewhere is an orphan too: shown by
    ``hedge status`` (exit 6), cancelled by ``hedge close --orphan --live`` (DELETE on the
    exchange) together with the reduce-only buy of the position."""
    model, home = orphaned
    model.place_resting("SELL", 0.002, 120_000.0, "manualweb0001")
    status = model.althedge(home, "hedge", "status", "--json")
    assert status.returncode == 6, status.stderr
    orphans = json.loads(status.stdout)["reconciliation"]["orphans"]
    (order,) = [o for o in orphans if o["kind"] == "order"]
    assert order["client_order_id"] == "manualweb0001" and order["side"] == "sell"
    assert order["contracts"] == pytest.approx(0.002)

    live = model.althedge(home, "hedge", "close", "--venue", VENUE, "--orphan", "--live",
                          "--json", "--timeout", "1")
    _clean(live)
    assert live.returncode == 0, live.stderr
    (cancel,) = model.server.calls("DELETE", "/fapi/v1/order")
    assert cancel.params.get("origClientOrderId") == "manualweb0001" or (
        cancel.params.get("orderId") == str(model.orders["manualweb0001"]["orderId"]))
    assert model.orders["manualweb0001"]["status"] == "CANCELED"
    assert model.position_amt() == 0.0
    after = model.althedge(home, "hedge", "status", "--json")
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout)["reconciliation"]["orphans"] == []
