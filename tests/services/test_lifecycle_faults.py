"""Reconciliation that settles instead of blocking, and checks that write only what is new.

* An exchange that indexes a new order a moment late: the lookup asks again with
  backoff before calling an intent never-sent, and an order marked ``not_sent`` that
  shows up later is recorded when journal and venue differ — the hedge is not blocked
  for good. The lagging venue is the real paper exchange whose lookups miss a given
  number of times (an exchange's indexing delay), not a stand-in for our code.
* ``hedge status`` after months of funding writes only the new payments, in one
  transaction; ``-0.0`` never reaches the JSON.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from althedge.config import load_portfolio
from althedge.data import open_source
from althedge.journal import Journal
from althedge.services.hedge import hedge_status, open_hedge, reconcile
from althedge.services.hedge.reconcile import lookup
from althedge.services.hedge.results import Reconciliation, no_negative_zero
from althedge.venues.paper import PaperExchange
from althedge.venues.protocol import OrderRequest, OrderResult, client_order_id

ROOT = Path(__file__).resolve().parents[2]
PORTFOLIO = ROOT / "examples" / "portfolio.toml"
DAY = date(2024, 6, 3)


class LaggingPaper(PaperExchange):
    """The paper exchange, except that looking an order up misses ``misses`` times first
    (an exchange that has accepted an order but not indexed it yet)."""

    misses: dict[str, int]

    def fetch_order(self, symbol: str, client_order_id: str) -> OrderResult | None:
        left = self.misses.get(client_order_id, 0)
        if left > 0:
            self.misses[client_order_id] = left - 1
            return None
        return super().fetch_order(symbol, client_order_id)


def _opened(tmp_path: Path) -> tuple[Journal, LaggingPaper, Any]:
    source = open_source(None)
    venue = LaggingPaper.open(tmp_path / "paper", source=source, at=DAY, persist=True)
    assert isinstance(venue, LaggingPaper)
    venue.misses = {}
    journal = Journal(tmp_path / "journal.sqlite")
    open_hedge(journal, venue, load_portfolio(PORTFOLIO), source, as_of=DAY, live=True)
    return journal, venue, source


def test_an_order_indexed_late_is_recorded_not_blocking(tmp_path: Path) -> None:
    journal, venue, _ = _opened(tmp_path)
    hedge = journal.active_hedge()
    assert hedge is not None
    key = hedge.settings["hedge_key"]
    cid = client_order_id(key, journal.order_count(hedge.id), "rebalance")
    # killed in flight: the intent journaled, the order sent, nothing recorded after
    journal.record_intent(hedge_id=hedge.id, client_order_id=cid, venue=venue.name,
                          symbol=hedge.symbol, side="sell", amount=0.1, order_type="market",
                          price=None, reduce_only=False, purpose="rebalance", at="t")
    venue.place_order(OrderRequest(symbol=hedge.symbol, side="sell", contracts=0.1,
                                   order_type="market", client_order_id=cid))
    venue.misses[cid] = 1  # the next lookup says "does not exist"
    rec = reconcile(journal, venue)
    assert rec.ok, rec.differences  # settled in the same check, from the position
    (order,) = [o for o in journal.orders() if o.client_order_id == cid]
    assert order.status == "filled" and order.filled == pytest.approx(0.1)
    assert any("after all" in line for line in rec.resolved)
    assert -journal.net_contracts(hedge.id) == pytest.approx(venue.open_positions()[0].contracts)
    journal.close()


class _Exchange:
    """A venue without a simulated clock whose lookups miss ``misses`` times."""

    name = "lagging"

    def __init__(self, misses: int) -> None:
        self.misses = misses
        self.calls = 0

    def fetch_order(self, symbol: str, client_order_id: str) -> OrderResult | None:
        self.calls += 1
        if self.calls <= self.misses:
            return None
        return OrderResult(client_order_id, "1", symbol, "sell", "market", 1.0, "filled", 1.0,
                           100.0)


@pytest.mark.parametrize(("misses", "found"), [(0, True), (3, True), (4, False)])
def test_lookup_asks_again_with_backoff(misses: int, found: bool) -> None:
    waits: list[float] = []
    venue = _Exchange(misses)
    got = lookup(venue, "BTC/USDT:USDT", "ah1", patient=True, sleep=waits.append)  # type: ignore[arg-type]
    assert (got is not None) is found
    assert venue.calls == min(misses + 1, 4)
    assert waits == [0.5, 1.0, 2.0][: venue.calls - 1]  # bounded: 3.5 s at most
    impatient = _Exchange(1)
    assert lookup(impatient, "BTC/USDT:USDT", "ah1", patient=False) is None  # type: ignore[arg-type]
    assert impatient.calls == 1


def test_status_writes_only_new_funding_in_one_transaction(tmp_path: Path) -> None:
    journal, _, source = _opened(tmp_path)
    hedge = journal.active_hedge()
    assert hedge is not None
    later = LaggingPaper.open(tmp_path / "paper", source=source, at=date(2024, 12, 30))
    later.misses = {}
    statements: list[str] = []
    journal._conn.set_trace_callback(statements.append)
    hedge_status(journal, later, source, as_of=date(2024, 12, 30))
    first = len(journal.funding(hedge.id))
    assert first > 500  # seven months of 8-hourly payments
    begins = [s for s in statements if s.startswith("BEGIN")]
    statements.clear()
    hedge_status(journal, later, source, as_of=date(2024, 12, 30))  # nothing new
    writes = [s for s in statements if s.split(" ", 1)[0] in ("BEGIN", "INSERT", "UPDATE")]
    assert writes == []  # a second check writes nothing
    assert len(journal.funding(hedge.id)) == first
    assert len(begins) < 10  # one for the funding, not one per payment
    journal.close()


def test_no_negative_zero_in_json() -> None:
    data = no_negative_zero({"contracts": -0.0, "legs": [{"x": -0.0, "y": -1.5}], "n": None})
    text = json.dumps(data)
    assert "-0.0" not in text and '"y": -1.5' in text
    rec = Reconciliation(journal_contracts=-0.0)
    assert "-0.0" not in json.dumps(no_negative_zero(rec.to_dict()))
