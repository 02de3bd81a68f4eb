"""OKX and Deribit through the real ``althedge`` process: open → the exchange liquidates →
the alert, once → what the user does next; and an order post answered 429, or timing out
after the exchange took it.

Each command is a separate process with the real ccxt object inside, every request sent
through ``ALTHEDGE_CCXT_GATEWAY`` to the stateful fake of the exchange (conftest.py here:
OKX API v5, Deribit API v2 shapes), credentials from the environment only.

* ``hedge open --live`` → ``hedge status`` (journal = exchange, the exchange's liquidation
  price) → the exchange liquidates the short (OKX: the risk engine's ``full_liquidation``
  order in the order history; Deribit: a trade whose ``liquidation`` names our side) →
  whichever of ``monitor`` and ``hedge status`` runs first imports the forced close into the
  journal (order purpose ``liquidation``) and raises the critical ``liquidated`` alert —
  printed, POSTed to the webhook by ``monitor``, journaled — exactly once: the other
  command, and a second monitor check, do not raise it again. Both exit 0 (the journal
  agrees with the exchange again; docs/lifecycle.md "Liquidation"). Then ``hedge close
  --live`` closes the hedge with nothing to send and the loss in the attribution, and a new
  ``hedge open --live`` opens hedge #2.
* The order post answered HTTP 429 (nothing taken) is looked up by client id and sent once
  more; the order post whose reply times out AFTER the exchange took it is found by client
  id and never sent twice.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.cli.test_hedge_cycle import ok_json
from tests.venues.guide.test_cli_lifecycle import portfolio

from .conftest import FakeDeribit, FakeOkx, serve_deribit, serve_okx

#: venue: (its fake, contract, margin mode, symbol)
VENUES: dict[str, tuple[Callable[..., Any], str, str, str]] = {
    "okx": (serve_okx, "linear", "isolated", "BTC/USDT:USDT"),
    "deribit": (serve_deribit, "inverse", "cross", "BTC/USD:BTC"),
}


def _held(fake: Any) -> float:
    """The exchange's short in althedge's contracts (OKX: 0.01 BTC; Deribit: 10 USD)."""
    if isinstance(fake, FakeOkx):
        return -fake.pos
    assert isinstance(fake, FakeDeribit)
    return -fake.size_usd / 10.0


def _posts(fake: Any) -> list[str]:
    """The client id of every order post the exchange received."""
    srv = fake.server
    if isinstance(fake, FakeOkx):
        out = []
        for r in srv.calls("POST", "/api/v5/trade/order") + srv.calls(
                "POST", "/api/v5/trade/batch-orders"):
            body = json.loads(r.raw)
            out.append((body[0] if isinstance(body, list) else body)["clOrdId"])
        return out
    return [r.params["label"] for r in srv.calls("GET", "/api/v2/private/sell")
            + srv.calls("GET", "/api/v2/private/buy")]


def _taken(fake: Any) -> list[str]:
    """The client ids of the orders the exchange holds."""
    if isinstance(fake, FakeOkx):
        return list(fake.orders)
    return [o["label"] for o in fake.orders.values()]


class Session:
    def __init__(self, fake: Any, home: Path, pf: Path, venue: str) -> None:
        self.fake, self.home, self.pf, self.venue = fake, home, pf, venue
        self.outputs: list[str] = []

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        proc = self.fake.althedge(self.home, *args)
        self.outputs += [proc.stdout, proc.stderr]
        assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
        return proc

    def ok(self, *args: str) -> dict[str, Any]:
        return ok_json(self.run(*args))

    def open(self) -> dict[str, Any]:
        return self.ok("hedge", "open", str(self.pf), "--venue", self.venue, "--live", "--json")

    def journal(self, sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.home / "journal.sqlite") as conn:
            return [tuple(r) for r in conn.execute(sql)]

    def secrets_absent(self) -> None:
        for value in self.fake.keys.values():
            for text in self.outputs:
                assert value not in text
            for path in self.home.rglob("*"):
                if path.is_file():
                    assert value.encode() not in path.read_bytes(), f"a secret leaked: {path}"


@pytest.fixture(params=list(VENUES))
def session(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Session]:
    venue = request.param
    serve, contract, margin_mode, _ = VENUES[venue]
    pf = tmp_path / "portfolio.toml"
    pf.write_text(portfolio(venue, max_contracts=100_000, contract=contract,
                            margin_mode=margin_mode))
    with serve() as fake:
        yield Session(fake, tmp_path / "home", pf, venue)


@pytest.mark.parametrize("first", ["monitor", "status"])
def test_open_then_the_exchange_liquidates_the_alert_once_then_close_and_open_again(
    session: Session, first: str, webhook: tuple[str, Any]
) -> None:
    s, fake = session, session.fake
    symbol = VENUES[s.venue][3]
    url, received = webhook

    opened = s.open()
    target = opened["target_contracts"]
    assert target > 0 and _held(fake) == pytest.approx(target)
    status = s.ok("hedge", "status", "--json")
    assert status["reconciliation"]["ok"] is True and status["venue"] == s.venue
    assert status["contracts"] == pytest.approx(target)
    liq = status["liquidation_price"]
    assert liq is not None and liq > status["mark_price"]  # the exchange's figure
    sent = len(_posts(fake))

    price = round(liq * 1.01, 1)
    fake.liquidate(price)  # BTC rallies through the liquidation price: the exchange acts
    assert _held(fake) == 0.0

    monitor_args = ("monitor", "--iterations", "1", "--every", "1s", "--webhook", url, "--json")
    if first == "monitor":
        checked = s.ok(*monitor_args)
        (alert,) = [a for a in checked["alerts"] if a["kind"] == "liquidated"]
        assert alert["severity"] == "critical" and symbol in alert["message"]
        assert f"at {price:,.2f}" in alert["message"]  # the liquidation's own price
        assert [a["kind"] for a in received.received].count("liquidated") == 1
        after = s.run("hedge", "status", "--json")
        assert after.returncode == 0, after.stderr
        assert "liquidated" not in after.stderr  # imported already: not raised again
    else:
        after = s.run("hedge", "status", "--json")
        assert after.returncode == 0, after.stderr  # journal = exchange again
        assert "the venue liquidated the hedge" in after.stderr and symbol in after.stderr
        checked = s.ok(*monitor_args)
        assert "liquidated" not in [a["kind"] for a in checked["alerts"]]
        assert "liquidated" not in [a["kind"] for a in received.received]
    data = json.loads(after.stdout)
    assert data["contracts"] == 0.0 and data["reconciliation"]["ok"] is True
    underhedged = [w for w in data["warnings"] if w.startswith("underhedged")]
    assert underhedged and underhedged[0].startswith("underhedged: 0 of")  # never "-0"
    again = s.ok(*monitor_args)  # a later check: the liquidation is not news
    assert "liquidated" not in [a["kind"] for a in again["alerts"]]

    # the journal: one liquidation order with its fill, one critical alert
    assert s.journal("SELECT purpose, status, filled FROM orders WHERE purpose='liquidation'"
                     ) == [("liquidation", "filled", pytest.approx(target))]
    assert s.journal("SELECT kind, severity FROM alerts WHERE kind='liquidated'") == [
        ("liquidated", "critical")]
    assert len(_posts(fake)) == sent  # nothing was sent by any of this

    # what the user does next: close (nothing to buy back; the loss attributed) …
    closed = s.ok("hedge", "close", "--live", "--json")
    assert closed["message"] == "hedge #1 closed" and closed["orders"] == []
    assert closed["hedge_pnl_usd"] < 0  # shorted at 88,000, bought back above 130,000
    assert len(_posts(fake)) == sent
    # … and a new hedge
    reopened = s.open()
    assert reopened["hedge_id"] == 2
    assert _held(fake) == pytest.approx(reopened["target_contracts"])
    assert len(_posts(fake)) == sent + 1
    final = s.ok("hedge", "status", "--json")
    assert final["hedge_id"] == 2 and final["reconciliation"]["ok"] is True
    assert final["contracts"] == pytest.approx(_held(fake))
    s.secrets_absent()


def test_an_order_post_answered_429_is_sent_once_more_and_taken_once(session: Session) -> None:
    s, fake = session, session.fake
    fake.throttle_next = 1  # HTTP 429 (OKX 50011, Deribit 10028): the order is not taken
    opened = s.open()
    (cid,) = set(_posts(fake))
    assert _posts(fake) == [cid, cid]  # looked up ("not found"), then sent once more
    assert _taken(fake) == [cid]
    assert _held(fake) == pytest.approx(opened["target_contracts"])
    assert s.journal("SELECT client_order_id, status FROM orders") == [(cid, "filled")]
    assert s.ok("hedge", "status", "--json")["reconciliation"]["ok"] is True


def test_an_order_post_timing_out_after_the_exchange_took_it_is_never_sent_twice(
    session: Session,
) -> None:
    s, fake = session, session.fake
    path = ("POST", "/api/v5/trade/batch-orders") if s.venue == "okx" else (
        "GET", "/api/v2/private/sell")
    fake.server.delay_next(*path, 13.0)  # taken at once; the reply after ccxt's 10 s timeout
    opened = s.open()
    (cid,) = _posts(fake)  # one post: the lookup by client id found it
    assert _taken(fake) == [cid]
    assert _held(fake) == pytest.approx(opened["target_contracts"])
    assert s.journal("SELECT client_order_id, status FROM orders") == [(cid, "filled")]
    assert s.ok("hedge", "status", "--json")["reconciliation"]["ok"] is True
