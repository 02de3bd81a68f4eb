"""The lifecycle through the real ccxt adapter (ccxt.binanceusdm) against a local server.

On the offline Binance USDⓈ-M model of tests/fixtures/binance_usdm.py (a real HTTP
server on 127.0.0.1; the ``binance_venue`` and ``fake_binance`` fixtures). The lifecycle,
the journal and the adapter are the real ones: dry run sends nothing, live sets margin
mode and leverage before the first order, the exact client order id shown in the dry run
is the one sent, the limit order times out into a market fallback, keys stay out of the
journal, and a position the journal does not explain stops trading. A liquidation the
exchange reports is imported with its alert (Binance USDⓈ-M "User's Force Orders", GET
/fapi/v1/forceOrders, read by ccxt's ``fetch_my_liquidations``); a rebalance below the
exchange minimum is skipped; an order whose outcome is unknown is never sent twice.
"""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from althedge.config import parse_portfolio
from althedge.data import open_source
from althedge.errors import JournalError, OrderOutcomeUnknownError
from althedge.journal import Journal
from althedge.services.lifecycle import (
    ExecutionSettings,
    hedge_status,
    open_hedge,
    rebalance_hedge,
)

PORTFOLIO: dict[str, Any] = {
    "holdings": [{"asset": "SOL", "amount": 120}, {"asset": "AVAX", "amount": 400}],
    "hedge": {"exchange": "binance", "contract": "linear", "leverage": 2},
}
AS_OF = date(2025, 2, 14)
FAST = ExecutionSettings(timeout_s=0.0, poll_s=0.01)


def test_open_on_binance_through_ccxt(
    tmp_path: Path, shared_data: Path, binance_venue: Any, fake_binance: Any,
    load_fixture: Any, api_keys: tuple[str, str],
) -> None:
    source = open_source(shared_data / "daily")
    cfg = parse_portfolio(PORTFOLIO)
    server = fake_binance.server
    with Journal(tmp_path / "journal.sqlite") as j:
        dry = open_hedge(j, binance_venue, cfg, source, as_of=AS_OF, execution=FAST)
        assert server.calls("POST", "/fapi/v1/order") == []
        assert server.calls("POST", "/fapi/v1/leverage") == []
        assert j.orders() == [] and j.active_hedge() is None
        (order,) = dry.orders
        assert order["side"] == "sell" and order["price"] == pytest.approx(88_000.0)

        live = open_hedge(j, binance_venue, cfg, source, as_of=AS_OF, live=True, execution=FAST)
        posts = [(r.method, r.path) for r in server.requests if r.method == "POST"]
        assert posts.index(("POST", "/fapi/v1/leverage")) < posts.index(("POST", "/fapi/v1/order"))
        first, fallback = server.calls("POST", "/fapi/v1/order")
        assert first.params["newClientOrderId"] == order["client_order_id"]
        assert first.params["type"] == "LIMIT" and "reduceOnly" not in first.params
        assert fallback.params["type"] == "MARKET" and fallback.params["side"] == "SELL"
        assert [e["status"] for e in live.executed] == ["canceled", "filled"]
        assert -j.net_contracts(live.hedge_id) == pytest.approx(order["contracts"])  # type: ignore[arg-type]
        assert sum(f.fee_usd for f in j.fills(live.hedge_id)) > 0  # type: ignore[arg-type]
    data = (tmp_path / "journal.sqlite").read_bytes()
    for secret in api_keys:
        assert secret.encode() not in data

    # the exchange reports a position the journal does not explain (0.010 BTC short)
    fake_binance.positions = copy.deepcopy(load_fixture("binanceusdm_positionRisk_v3.json"))
    with Journal(tmp_path / "journal.sqlite") as j:
        n_orders = len(server.calls("POST", "/fapi/v1/order"))
        st = hedge_status(j, binance_venue, source, as_of=AS_OF)
        assert not st.reconciliation.ok and any("venue -0.01" in w for w in st.warnings)
        with pytest.raises(JournalError, match="disagree"):
            rebalance_hedge(j, binance_venue, source, threshold_pct=0.0, as_of=AS_OF, live=True)
        assert len(server.calls("POST", "/fapi/v1/order")) == n_orders  # nothing sent


def test_a_real_liquidation_is_imported_and_raises_the_alert(
    tmp_path: Path, shared_data: Path, binance_venue: Any, fake_binance: Any
) -> None:
    source = open_source(shared_data / "daily")
    cfg = parse_portfolio(PORTFOLIO)
    with Journal(tmp_path / "journal.sqlite") as j:
        live = open_hedge(j, binance_venue, cfg, source, as_of=AS_OF, live=True, execution=FAST)
        held = -j.net_contracts(live.hedge_id)  # type: ignore[arg-type]
        assert held > 0
        # the exchange liquidated the short: a forced BUY of the whole position
        fake_binance.liquidate(131_250.0)
        hedge_status(j, binance_venue, source, as_of=AS_OF)
        (alert,) = [a for a in j.alerts() if a["kind"] == "liquidated"]
        assert alert["severity"] == "critical" and "131,250.00" in alert["message"]
        assert j.net_contracts(live.hedge_id) == pytest.approx(0.0, abs=1e-12)  # type: ignore[arg-type]
        hedge_status(j, binance_venue, source, as_of=AS_OF)  # imported once, not twice
        assert len([a for a in j.alerts() if a["kind"] == "liquidated"]) == 1


def test_the_monitor_raises_the_liquidation_its_check_imported_once(
    tmp_path: Path, shared_data: Path, binance_venue: Any, fake_binance: Any
) -> None:
    """The liquidation is imported by the monitor check's own reconciliation: the check
    raises the journaled ``liquidated`` alert (printed, in the summary) without journaling
    it twice, and the next check does not raise it again."""
    from althedge.services.monitor import run_monitor

    source = open_source(shared_data / "daily")
    cfg = parse_portfolio(PORTFOLIO)
    with Journal(tmp_path / "journal.sqlite") as j:
        open_hedge(j, binance_venue, cfg, source, as_of=AS_OF, live=True, execution=FAST)
        fake_binance.liquidate(131_250.0)
        lines: list[str] = []
        summary = run_monitor(j, lambda _day: (binance_venue, source, AS_OF), every_s=0,
                              iterations=2, on_line=lines.append, sleep=lambda _s: None)
    liquidated = [a for a in summary.alerts if a["kind"] == "liquidated"]
    assert len(liquidated) == 1 and liquidated[0]["severity"] == "critical"
    assert "131,250.00" in liquidated[0]["message"]
    assert sum("ALERT [critical] the venue liquidated" in line for line in lines) == 1
    with Journal(tmp_path / "journal.sqlite") as j:
        assert len([a for a in j.alerts() if a["kind"] == "liquidated"]) == 1


def test_a_rebalance_below_the_minimum_notional_is_skipped_with_its_reason(
    tmp_path: Path, shared_data: Path, binance_venue: Any, fake_binance: Any,
    load_fixture: Any,
) -> None:
    """BTCUSDT's MIN_NOTIONAL is 100 USDT: topping the short up by 0.001 BTC (~88 USDT)
    would be rejected by Binance, so the rebalance skips it and says why."""


    source = open_source(shared_data / "daily")
    cfg = parse_portfolio(PORTFOLIO)
    with Journal(tmp_path / "journal.sqlite") as j:
        live = open_hedge(j, binance_venue, cfg, source, as_of=AS_OF, live=True, execution=FAST)
        hedge_id = live.hedge_id
        assert hedge_id is not None
        held = -j.net_contracts(hedge_id)
        # 0.001 BTC of the short was bought back earlier (journal and exchange agree)
        j.record_intent(hedge_id=hedge_id, client_order_id="ahtrim0001", venue="binanceusdm",
                        symbol="BTC/USDT:USDT", side="buy", amount=0.001, order_type="market",
                        price=None, reduce_only=True, purpose="rebalance", at="2025-02-14")
        j.record_result("ahtrim0001", status="filled", filled=0.001, average_price=88_000.0,
                        fee_usd=0.04, exchange_order_id="1", at="2025-02-14")
        pos = copy.deepcopy(load_fixture("binanceusdm_positionRisk_v3.json"))
        pos[0].pop("_comment", None)
        pos[0]["positionAmt"] = f"{-(held - 0.001):.3f}"
        fake_binance.positions = pos
        n = len(fake_binance.server.calls("POST", "/fapi/v1/order"))
        res = rebalance_hedge(j, binance_venue, source, threshold_pct=0.0, as_of=AS_OF,
                              live=True, execution=FAST)
        assert len(fake_binance.server.calls("POST", "/fapi/v1/order")) == n  # nothing sent
        assert res.orders == []
        assert "below the exchange minimum of 100" in res.message and "\n" not in res.message
        assert any(w.startswith("skipped sell 0.001") for w in res.warnings)


def test_outcome_unknown_leaves_the_intent_open_and_the_next_command_settles_it(
    tmp_path: Path, shared_data: Path, binance_venue: Any, fake_binance: Any,
    load_fixture: Any,
) -> None:
    """The create times out after Binance took (and filled) the order; every lookup then
    fails. Nothing is re-sent; the journal keeps the intent; the next command finds the
    order by its client id and records its fill — one order for one intent."""
    source = open_source(shared_data / "daily")
    cfg = parse_portfolio(PORTFOLIO)
    srv = fake_binance.server
    fake_binance.fill_on_create = 1.0
    srv.delay_next("POST", "/fapi/v1/order", 1.6)  # the reply never arrives in time
    real_get = srv.routes[("GET", "/fapi/v1/order")]
    outage = {"on": False}

    def get(r: Any) -> Any:
        if outage["on"]:
            return 503, {"code": -1001, "msg": "Internal error; unable to process your request."}
        return real_get(r)

    def create(r: Any, _real: Any = srv.routes[("POST", "/fapi/v1/order")]) -> Any:
        reply = _real(r)
        outage["on"] = True  # the exchange acted; from now on it answers no lookups
        return reply

    srv.route("GET", "/fapi/v1/order", get)
    srv.route("POST", "/fapi/v1/order", create)
    with Journal(tmp_path / "journal.sqlite") as j:
        with pytest.raises(OrderOutcomeUnknownError):
            open_hedge(j, binance_venue, cfg, source, as_of=AS_OF, live=True, execution=FAST)
        (row,) = j.orders()
        assert row.status == "intent"  # neither "not_sent" nor re-sent
        assert len(srv.calls("POST", "/fapi/v1/order")) == 1
    outage["on"] = False  # the exchange answers again
    (order,) = fake_binance.orders.values()
    fake_binance.positions = [{**load_fixture("binanceusdm_positionRisk_v3.json")[0],
                               "positionAmt": f"-{order['executedQty']}"}]
    with Journal(tmp_path / "journal.sqlite") as j:
        st = hedge_status(j, binance_venue, source, as_of=AS_OF)
        (row,) = j.orders()
        assert row.status == "filled" and row.filled == pytest.approx(float(order["executedQty"]))
        assert st.reconciliation.ok
    assert len(srv.calls("POST", "/fapi/v1/order")) == 1


def test_transfers_into_the_futures_wallet_are_journaled_once_for_the_hedge(
    tmp_path: Path, shared_data: Path, binance_venue: Any, fake_binance: Any,
    load_fixture: Any,
) -> None:
    """Binance USDⓈ-M income TRANSFER rows after the hedge opened become its deposits
    (once, however many commands run); a transfer before the open is another hedge's."""
    source = open_source(shared_data / "daily")
    cfg = parse_portfolio(PORTFOLIO)
    t0 = 1_764_072_000_000
    clock = {"now": t0}
    binance_venue.exchange.milliseconds = lambda: clock["now"]
    funding = load_fixture("binanceusdm_income_funding.json")
    transfers = [
        {"symbol": "", "incomeType": "TRANSFER", "income": "900", "asset": "USDT",
         "info": "TRANSFER", "time": t0 - 3_600_000, "tranId": 1, "tradeId": ""},
        {"symbol": "", "incomeType": "TRANSFER", "income": "250", "asset": "USDT",
         "info": "TRANSFER", "time": t0 + 3_600_000, "tranId": 2, "tradeId": ""},
    ]

    def income(r: Any) -> Any:
        rows = transfers if r.params.get("incomeType") == "TRANSFER" else funding
        lo, hi = int(r.params.get("startTime", 0)), int(r.params.get("endTime", 10**15))
        return 200, [x for x in rows if lo <= int(x["time"]) <= hi]

    fake_binance.server.route("GET", "/fapi/v1/income", income)
    with Journal(tmp_path / "journal.sqlite") as j:
        live = open_hedge(j, binance_venue, cfg, source, as_of=AS_OF, live=True, execution=FAST)
        clock["now"] = t0 + 2 * 3_600_000
        hedge_status(j, binance_venue, source, as_of=AS_OF)
        hedge_status(j, binance_venue, source, as_of=AS_OF)
        (dep,) = j.deposits(live.hedge_id)
        assert (dep["currency"], dep["amount"], dep["price_usd"]) == ("USDT", 250.0, 1.0)
        assert dep["at"].startswith("2025-11-25T13:00:00")
