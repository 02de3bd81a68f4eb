"""CcxtVenue over a real ccxt.deribit object: amounts in USD, client id as ``label``.

Deribit BTC-PERPETUAL is an inverse contract of 10 USD whose order ``amount`` is in
USD (Deribit API v2 docs, private/buy: "amount ... for perpetual and inverse futures
the amount is in USD units"). Fixtures: tests/fixtures/ccxt_venue/deribit_*.json.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
from typing import Any
from urllib.parse import urlencode

import ccxt
import pytest

from althedge.core.instruments import ContractType, Side
from althedge.venues.ccxt_venue import CcxtVenue
from althedge.venues.credentials import Credentials
from althedge.venues.protocol import OrderRequest, client_order_id

SYMBOL = "BTC/USD:BTC"


def _rpc(result: Any) -> tuple[int, Any]:
    return 200, {"jsonrpc": "2.0", "result": result, "usIn": 0, "usOut": 0, "usDiff": 0}


def _summary(**kw: Any) -> dict[str, Any]:
    """private/get_account_summary (Deribit API v2) for BTC: the ACCOUNT's margin in the
    currency — ``maintenance_margin`` and ``margin_balance`` (equity usable as margin)
    of every position in it (cross margin is per currency on Deribit)."""
    row: dict[str, Any] = {
        "currency": "BTC", "balance": 0.5, "equity": 0.50025, "margin_balance": 0.50025,
        "initial_margin": 0.0011, "maintenance_margin": 0.00011, "available_funds": 0.499,
        "total_pl": 0.00025, "futures_pl": 0.00025, "session_upl": 0.00025,
        "delta_total": -0.0114, "portfolio_margining_enabled": False,
        "cross_collateral_enabled": False, "margin_model": "segregated_sm",
        "estimated_liquidation_ratio": 1.82, "estimated_liquidation_ratio_map": {"btc_usd": 1.82},
    }
    row.update(kw)
    return row


@pytest.fixture
def deribit(local_server: Any, load_fixture: Any, api_keys: tuple[str, str]) -> Any:
    key, secret = api_keys
    orders: dict[str, dict[str, Any]] = {}
    ids = itertools.count(31_274_953_513)

    def create(direction: str) -> Any:
        def handler(r: Any) -> Any:
            o = copy.deepcopy(load_fixture("deribit_order.json"))
            o.pop("_comment")
            amount = float(r.params["amount"])
            filled = amount if r.params.get("type") == "market" else 0.0
            o.update(
                order_id=str(next(ids)),
                label=r.params.get("label", ""),
                direction=direction,
                amount=amount,
                filled_amount=filled,
                price=float(r.params.get("price", 0.0)),
                order_type=r.params.get("type", "limit"),
                order_state="filled" if filled else "open",
                average_price=88_000.0 if filled else 0.0,
                reduce_only=r.params.get("reduce_only") == "true",
            )
            orders[o["label"]] = o
            return _rpc({"order": o, "trades": []})

        return handler

    def by_label(r: Any) -> Any:
        o = orders.get(r.params["label"])
        return _rpc([o] if o else [])

    s = local_server
    s.route(
        "GET", "/api/v2/public/get_instruments", (200, load_fixture("deribit_get_instruments.json"))
    )
    s.route(
        "GET", "/api/v2/public/get_currencies", (200, load_fixture("deribit_get_currencies.json"))
    )
    s.route("GET", "/api/v2/private/sell", create("sell"))
    s.route("GET", "/api/v2/private/buy", create("buy"))
    s.route("GET", "/api/v2/private/get_order_state_by_label", by_label)
    s.route(
        "GET", "/api/v2/private/get_positions", (200, load_fixture("deribit_get_positions.json"))
    )
    s.route("GET", "/api/v2/private/get_account_summary", _rpc(_summary()))
    ex = ccxt.deribit({"apiKey": key, "secret": secret, "timeout": 1000, "enableRateLimit": False})
    ex.urls["api"] = {"rest": s.base}
    venue = CcxtVenue(ex, credentials=Credentials("deribit", key, secret), sleep=lambda _s: None)
    return venue, s, orders


def test_instrument_is_inverse_with_usd_amounts(deribit: Any) -> None:
    venue, _, _ = deribit
    inst = venue.instrument(SYMBOL)
    assert inst.contract_type == ContractType.INVERSE
    assert inst.contract_size == 10.0
    assert inst.amount_in_usd
    assert inst.lot_step == pytest.approx(1.0)  # 10 USD step = 1 contract
    assert inst.min_contracts == pytest.approx(1.0)


def test_order_amount_is_sent_in_usd_with_label_and_reduce_only(
    deribit: Any, api_keys: tuple[str, str]
) -> None:
    venue, srv, _ = deribit
    cid = client_order_id("plan-d", 3, "close")
    res = venue.place_order(
        OrderRequest(SYMBOL, "buy", 100, "limit", cid, price=88_000.3, reduce_only=True)
    )
    (call,) = srv.calls("GET", "/api/v2/private/buy")
    assert call.params["instrument_name"] == "BTC-PERPETUAL"
    assert float(call.params["amount"]) == 1000.0  # 100 contracts × 10 USD
    assert call.params["label"] == cid
    assert call.params["reduce_only"] == "true"
    assert float(call.params["price"]) == 88_000.5  # 0.5 USD tick
    assert call.headers["Authorization"].startswith(f"deri-hmac-sha256 id={api_keys[0]},")
    # read back in contracts, not USD
    assert res.contracts == pytest.approx(100)
    assert res.client_order_id == cid
    assert res.reduce_only


def test_signature_verifies(deribit: Any, api_keys: tuple[str, str]) -> None:
    venue, srv, _ = deribit
    venue.place_order(OrderRequest(SYMBOL, "sell", 5, "market", "ahdsig"))
    (call,) = srv.calls("GET", "/api/v2/private/sell")
    fields = dict(
        p.split("=", 1) for p in call.headers["Authorization"].split(" ", 1)[1].split(",")
    )
    query = urlencode(call.params)
    request_line = f"/api/v2/private/sell?{query}"
    auth = f"{fields['ts']}\n{fields['nonce']}\nGET\n{request_line}\n\n"
    expected = hmac.new(api_keys[1].encode(), auth.encode(), hashlib.sha256).hexdigest()
    assert fields["sig"] == expected


def test_market_fill_and_idempotent_by_label(deribit: Any) -> None:
    venue, srv, _ = deribit
    order = OrderRequest(SYMBOL, "sell", 25, "market", "ahdmkt")
    first = venue.place_order(order)
    second = venue.place_order(order)
    assert len(srv.calls("GET", "/api/v2/private/sell")) == 1
    assert first.status == second.status == "filled"
    assert first.filled_contracts == pytest.approx(25)  # 250 USD / 10


def test_position_in_contracts(deribit: Any) -> None:
    venue, _, _ = deribit
    pos = venue.position(SYMBOL)
    assert pos is not None
    assert pos.side == Side.SHORT
    assert pos.contracts == pytest.approx(100)  # size −1000 USD / 10 USD
    assert pos.entry_price == pytest.approx(90_000.0)
    assert pos.contract_type == ContractType.INVERSE
    assert pos.liquidation_price == pytest.approx(160_123.5)
    assert pos.settle == "BTC"


def test_isolated_margin_is_refused_on_deribit(deribit: Any) -> None:
    from althedge.errors import InputError

    venue, srv, _ = deribit
    with pytest.raises(InputError, match="cross"):
        venue.set_leverage(SYMBOL, 2, "isolated")
    venue.set_leverage(SYMBOL, 2, "cross")  # nothing to set on Deribit: no request
    assert not [r for r in srv.requests if "/private/" in r.path]


# --------------------------------------------------------------------------- issue 9
def test_timeout_then_failed_label_lookups_never_sends_a_second_order(deribit: Any) -> None:
    """Deribit labels are not unique: a re-sent order with the same label is simply a
    second order. After a timeout whose lookups fail, nothing is re-sent."""
    from althedge.errors import OrderOutcomeUnknownError

    venue, srv, orders = deribit
    real = srv.routes[("GET", "/api/v2/private/get_order_state_by_label")]
    seen: list[int] = []

    def flaky(r: Any) -> Any:
        seen.append(1)
        if len(seen) == 1:
            return real(r)  # the pre-send lookup: not there yet
        return 503, {"jsonrpc": "2.0", "error": {"code": 10040, "message": "retry"}}

    srv.route("GET", "/api/v2/private/get_order_state_by_label", flaky)
    srv.delay_next("GET", "/api/v2/private/sell", 1.6)  # client timeout 1.0 s
    with pytest.raises(OrderOutcomeUnknownError, match="nothing was re-sent"):
        venue.place_order(OrderRequest(SYMBOL, "sell", 100, "market", "ahdtimeout"))
    assert len(srv.calls("GET", "/api/v2/private/sell")) == 1
    assert list(orders) == ["ahdtimeout"]  # the exchange has exactly one


def _log_row(t_ms: int, instrument: str, interest: float, kind: str = "settlement") -> dict:
    """One entry of private/get_transaction_log (Deribit API v2): ``interest_pl`` is the
    funding a perpetual position realised (positive = received)."""
    return {
        "id": t_ms // 1000, "timestamp": t_ms, "type": kind, "instrument_name": instrument,
        "currency": "BTC", "interest_pl": interest, "amount": 1000, "balance": 0.5,
        "cashflow": interest, "change": interest, "equity": 0.5, "position": -1000,
        "price": 90_000, "side": "short", "user_seq": t_ms // 1000,
    }


def test_funding_comes_from_the_transaction_log_since_the_leg_opened(deribit: Any) -> None:
    venue, srv, _ = deribit
    opened = 1_763_000_000_000
    rows = [_log_row(opened + k * 8 * 3_600_000, "BTC-PERPETUAL", 2e-6) for k in range(5)]
    rows += [_log_row(opened + 3_600_000, "ETH-PERPETUAL", 9e-5),  # another instrument
             _log_row(opened + 7_200_000, "BTC-PERPETUAL", -1e-6, kind="trade")]
    pages = {None: (rows[:4], 77), "77": (rows[4:], None)}

    def log(r: Any) -> Any:
        chunk, cont = pages[r.params.get("continuation")]
        return _rpc({"logs": chunk, "continuation": cont})

    srv.route("GET", "/api/v2/private/get_transaction_log", log)
    srv.route("GET", "/api/v2/public/ticker", _rpc({
        "instrument_name": "BTC-PERPETUAL", "mark_price": 90_000.0, "index_price": 90_000.0,
        "last_price": 90_000.0, "timestamp": opened, "best_bid_price": 1.0,
        "best_ask_price": 1.0, "stats": {}, "state": "open"}))
    venue.exchange.milliseconds = lambda: opened + 2 * 86_400_000
    pays = venue.funding_payments(SYMBOL, since_ms=opened)
    assert [p.amount for p in pays] == pytest.approx([2e-6, -1e-6, 2e-6, 2e-6, 2e-6, 2e-6])
    assert {p.currency for p in pays} == {"BTC"}
    first, second = srv.calls("GET", "/api/v2/private/get_transaction_log")
    assert first.params["start_timestamp"] == str(opened) and first.params["currency"] == "BTC"
    assert second.params["continuation"] == "77"


def _trade(trade_id: str, t_ms: int, liquidity: str, liquidation: str | None) -> dict:
    """One trade of private/get_user_trades_by_instrument_and_time (Deribit API v2):
    ``liquidity`` M/T is our side of the trade, ``liquidation`` (present only on
    liquidation trades) says which side was liquidated: "M", "T" or "MT"."""
    row = {"trade_id": trade_id, "timestamp": t_ms, "instrument_name": "BTC-PERPETUAL",
           "direction": "buy", "amount": 1000.0, "price": 131_250.0, "fee": 0.0000038,
           "fee_currency": "BTC", "liquidity": liquidity, "order_id": "liq" + trade_id,
           "state": "filled", "index_price": 131_200.0, "mark_price": 131_240.0}
    if liquidation is not None:
        row["liquidation"] = liquidation
    return row


def test_liquidation_trades_are_ours_only_when_our_side_was_liquidated(deribit: Any) -> None:
    """ccxt's Deribit fetch_my_liquidations reads platform bankruptcy settlements; the
    account's own liquidation is a trade whose ``liquidation`` names our side."""
    venue, srv, _ = deribit
    opened = 1_763_000_000_000
    trades = [
        _trade("1", opened + 1000, "T", "T"),      # we were liquidated (taker side)
        _trade("2", opened + 2000, "M", "T"),      # we made a price for someone's liquidation
        _trade("3", opened + 3000, "T", None),     # an ordinary trade
        _trade("4", opened + 4000, "M", "MT"),     # both sides liquidated: ours too
    ]
    pages = {str(opened): (trades[:2], True), str(opened + 2000): (trades[1:], False)}

    def user_trades(r: Any) -> Any:
        chunk, more = pages[r.params["start_timestamp"]]
        return _rpc({"trades": chunk, "has_more": more})

    srv.route("GET", "/api/v2/private/get_user_trades_by_instrument_and_time", user_trades)
    venue.exchange.milliseconds = lambda: opened + 86_400_000
    got = venue.fills_for(SYMBOL, since_ms=opened)
    assert [f.trade_id for f in got] == ["1", "4"]
    assert all(f.liquidation and f.side == "buy" for f in got)
    assert got[0].contracts == pytest.approx(100.0)  # 1 000 USD / 10 USD per contract
    assert got[0].fee.amount == pytest.approx(0.0000038) and got[0].fee.currency == "BTC"
    first = srv.calls("GET", "/api/v2/private/get_user_trades_by_instrument_and_time")[0]
    assert first.params["instrument_name"] == "BTC-PERPETUAL"
    assert first.params["start_timestamp"] == str(opened)


# ------------------------------------------------------------- cross margin (issue 9)
def fixture_json(name: str) -> Any:
    import json
    from pathlib import Path

    return json.loads((Path(__file__).parents[1] / "fixtures" / "ccxt_venue" / name).read_text())


def _leg(venue: Any) -> Any:
    """The leg's status and health figures from the venue, as ``hedge status`` computes them."""
    from althedge.services.hedge.health import status_alerts, status_warnings
    from althedge.services.hedge.results import HedgeStatus, LegStatus, Reconciliation
    from althedge.services.hedge.status import margin_ratio

    pos = venue.position(SYMBOL)
    mark = 88_000.0
    leg = LegStatus(symbol=SYMBOL, contracts=pos.contracts, target_contracts=pos.contracts,
                    mark_price=mark, liquidation_price=pos.liquidation_price)
    leg.liquidation_distance_pct = (pos.liquidation_price / mark - 1.0) * 100.0
    leg.margin_ratio = margin_ratio(venue.instrument(SYMBOL), pos, mark)
    status = HedgeStatus(reconciliation=Reconciliation(), symbol=SYMBOL, legs=[leg])
    return leg, status_warnings(status), [a.kind for a in status_alerts(status)]


def test_cross_margin_ratio_is_the_accounts_no_false_alarm(deribit: Any) -> None:
    """The position alone is losing (−0.001 BTC on 0.001136 of initial margin:
    0.000114 / 0.000136 = 83 %, a false 'close to liquidation'), but under cross margin
    the whole BTC equity backs it: 0.00011 / 0.49915 = 0.02 %. No warning, no alert."""
    venue, srv, _ = deribit
    (row,) = copy.deepcopy(fixture_json("deribit_get_positions.json")["result"])
    row.update(floating_profit_loss=-0.001, total_profit_loss=-0.001)
    srv.route("GET", "/api/v2/private/get_positions", _rpc([row]))
    srv.route("GET", "/api/v2/private/get_account_summary",
              _rpc(_summary(margin_balance=0.49915, equity=0.49915, maintenance_margin=0.00011,
                            session_upl=-0.001)))
    leg, warnings, alerts = _leg(venue)
    assert leg.margin_ratio == pytest.approx(0.00011 / 0.49915)
    assert not any("margin ratio" in w for w in warnings)
    assert "liquidation" not in alerts
    (call,) = srv.calls("GET", "/api/v2/private/get_account_summary")
    assert call.params["currency"] == "BTC"


def test_cross_margin_ratio_is_the_accounts_no_silence(deribit: Any) -> None:
    """The position alone looks safe (8 %), but other BTC positions have used the
    account's margin: maintenance 0.45 of a 0.5 margin balance = 90 % — Deribit
    liquidates at 100 %. The warning must show; the account's estimated liquidation
    ratio (1.05 × mark) is the liquidation price, a 5 % rally: the alert fires."""
    venue, srv, _ = deribit
    srv.route("GET", "/api/v2/private/get_account_summary",
              _rpc(_summary(margin_balance=0.5, maintenance_margin=0.45,
                            estimated_liquidation_ratio=1.05,
                            estimated_liquidation_ratio_map={"btc_usd": 1.05})))
    (row,) = copy.deepcopy(fixture_json("deribit_get_positions.json")["result"])
    row["estimated_liquidation_price"] = None  # not given: the account's ratio is used
    srv.route("GET", "/api/v2/private/get_positions", _rpc([row]))
    leg, warnings, alerts = _leg(venue)
    assert leg.margin_ratio == pytest.approx(0.9)
    assert any(w.startswith("margin ratio 90%") for w in warnings)
    assert leg.liquidation_price == pytest.approx(1.05 * 88_000.0)
    assert "liquidation" in alerts


def test_portfolio_margin_with_cross_collateral_uses_the_usd_totals(deribit: Any) -> None:
    """Cross-collateral / portfolio margin: the margin is shared by every currency;
    Deribit reports the totals in USD (``total_maintenance_margin_usd`` over
    ``total_margin_balance_usd``)."""
    venue, srv, _ = deribit
    srv.route("GET", "/api/v2/private/get_account_summary",
              _rpc(_summary(portfolio_margining_enabled=True, cross_collateral_enabled=True,
                            margin_model="cross_pm", maintenance_margin=0.4,
                            margin_balance=0.5, total_maintenance_margin_usd=12_000.0,
                            total_margin_balance_usd=80_000.0)))
    pos = venue.position(SYMBOL)
    assert pos.margin_ratio == pytest.approx(0.15)


def test_balances_from_every_currency_summary_and_the_wallets_history(deribit: Any) -> None:
    """private/get_account_summaries: ``equity`` per currency (ccxt total): 0.5 BTC at
    the mark + 2 000 USDC. Deposits of the BTC wallet: private/get_deposits (+),
    get_withdrawals (−), get_transfers (income +, payment −), completed/confirmed only."""
    venue, srv, _ = deribit
    opened = 1_763_000_000_000
    srv.route("GET", "/api/v2/private/get_account_summaries", _rpc({"summaries": [
        _summary(equity=0.5), _summary(currency="USDC", equity=2000.0, margin_balance=2000.0,
                                       estimated_liquidation_ratio_map={})],
        "id": 7, "email": "x", "username": "x", "type": "main"}))
    srv.route("GET", "/api/v2/public/ticker", _rpc({
        "instrument_name": "BTC-PERPETUAL", "mark_price": 90_000.0, "index_price": 90_000.0,
        "last_price": 90_000.0, "timestamp": opened, "best_bid_price": 1.0,
        "best_ask_price": 1.0, "stats": {}, "state": "open"}))
    srv.route("GET", "/api/v2/private/get_deposits", _rpc({"count": 2, "data": [
        {"address": "bc1q", "amount": 0.2, "currency": "BTC", "received_timestamp":
         opened + 5000, "state": "completed", "transaction_id": "tx2",
         "updated_timestamp": opened + 6000},
        {"address": "bc1q", "amount": 0.3, "currency": "BTC", "received_timestamp":
         opened + 4000, "state": "pending", "transaction_id": "tx1",
         "updated_timestamp": opened + 4000}]}))
    srv.route("GET", "/api/v2/private/get_withdrawals", _rpc({"count": 1, "data": [
        {"id": 11, "amount": 0.05, "currency": "BTC", "state": "completed", "fee": 0.0001,
         "created_timestamp": opened + 8000, "updated_timestamp": opened + 9000,
         "address": "bc1x", "transaction_id": "w1"}]}))
    srv.route("GET", "/api/v2/private/get_transfers", _rpc({"count": 1, "data": [
        {"id": 21, "amount": 0.01, "currency": "BTC", "direction": "income",
         "state": "confirmed", "type": "subaccount", "other_side": "sub1",
         "created_timestamp": opened + 7000, "updated_timestamp": opened + 7000}]}))
    venue.exchange.milliseconds = lambda: opened + 86_400_000
    venue.instrument(SYMBOL)
    assert venue.balance("BTC") == pytest.approx(0.5)
    assert venue.equity_usd() == pytest.approx(0.5 * 90_000 + 2000)
    deps = venue.deposits_since(opened, ["BTC"])
    assert [(d.kind, d.amount) for d in deps] == [
        ("deposit", 0.2), ("transfer", 0.01), ("withdrawal", -0.05)]
    assert srv.calls("GET", "/api/v2/private/get_deposits")[0].params["currency"] == "BTC"


def test_a_liquidation_is_imported_when_the_position_vanishes_with_its_trade(
    deribit: Any, short_journal: Any, liquidation_imported_once: Any
) -> None:
    """The position is gone and the account's trades show our liquidation: the command's
    reconciliation journals it (journal = venue again) and raises the critical alert —
    once, however many commands run."""
    venue, srv, _ = deribit
    opened = 1_763_000_000_000
    srv.route("GET", "/api/v2/private/get_positions", _rpc([]))  # the short is gone
    trade = _trade("9", opened + 3_600_000, "T", "T")
    srv.route("GET", "/api/v2/private/get_user_trades_by_instrument_and_time",
              _rpc({"trades": [trade], "has_more": False}))
    for path in ("get_deposits", "get_withdrawals", "get_transfers"):
        srv.route("GET", f"/api/v2/private/{path}", _rpc({"count": 0, "data": []}))
    srv.route("GET", "/api/v2/private/get_open_orders_by_instrument", _rpc([]))
    venue.exchange.milliseconds = lambda: opened + 86_400_000
    j, hid = short_journal("deribit", SYMBOL, 100.0, opened)
    with j:
        liquidation_imported_once(j, venue, hid, "131,250.00")


def test_deposits_refused_to_the_api_key_are_not_available_not_zero(deribit: Any) -> None:
    """Deribit answers 13021 "forbidden" to a key without the wallet:read scope: the
    venue says deposits are not available instead of failing the command or saying 0."""
    venue, srv, _ = deribit
    srv.route("GET", "/api/v2/private/get_deposits", (400, {
        "jsonrpc": "2.0", "error": {"code": 13021, "message": "forbidden"},
        "usIn": 0, "usOut": 0, "usDiff": 0}))
    venue.exchange.milliseconds = lambda: 1_763_000_000_000 + 1000
    assert venue.deposits_since(1_763_000_000_000, ["BTC"]) is None
    assert venue.deposits_note.startswith("deposits: not available")
    assert "\n" not in venue.deposits_note


def test_deposits_that_cannot_be_read_now_are_said_and_read_again_later(deribit: Any) -> None:
    venue, srv, _ = deribit
    srv.route("GET", "/api/v2/private/get_deposits", (503, {"error": "unavailable"}))
    venue.exchange.milliseconds = lambda: 1_763_000_000_000 + 1000
    assert venue.deposits_since(1_763_000_000_000, ["BTC"]) is None
    assert venue.deposits_note.startswith("deposits: not read this time")
    assert len(srv.calls("GET", "/api/v2/private/get_deposits")) == 4  # retried, then said


def test_a_coin_deposit_after_the_open_becomes_the_hedges_collateral(
    deribit: Any, short_journal: Any
) -> None:
    """0.2 BTC deposited after the open is journaled once for the hedge, in BTC, at the
    mark of the leg settled in BTC: the inverse leg's attribution revalues it (collateral)."""
    from althedge.core.instruments import get_instrument
    from althedge.services.hedge.accounting import leg_attribution
    from althedge.services.hedge.common import active_record
    from althedge.services.hedge.reconcile import reconcile

    venue, srv, _ = deribit
    opened = 1_763_000_000_000
    srv.route("GET", "/api/v2/private/get_user_trades_by_instrument_and_time",
              _rpc({"trades": [], "has_more": False}))
    srv.route("GET", "/api/v2/private/get_deposits", _rpc({"count": 1, "data": [
        {"address": "bc1q", "amount": 0.2, "currency": "BTC", "received_timestamp":
         opened + 5000, "state": "completed", "transaction_id": "tx9",
         "updated_timestamp": opened + 6000}]}))
    for path in ("get_withdrawals", "get_transfers"):
        srv.route("GET", f"/api/v2/private/{path}", _rpc({"count": 0, "data": []}))
    srv.route("GET", "/api/v2/private/get_open_orders_by_instrument", _rpc([]))
    srv.route("GET", "/api/v2/public/ticker", _rpc({
        "instrument_name": "BTC-PERPETUAL", "mark_price": 90_000.0, "index_price": 90_000.0,
        "last_price": 90_000.0, "timestamp": opened, "best_bid_price": 1.0,
        "best_ask_price": 1.0, "stats": {}, "state": "open"}))
    venue.exchange.milliseconds = lambda: opened + 86_400_000
    j, hid = short_journal("deribit", SYMBOL, 100.0, opened)
    with j:
        reconcile(j, venue)
        reconcile(j, venue)  # the next command: nothing new
        (dep,) = j.deposits(hid)
        assert (dep["currency"], dep["amount"], dep["price_usd"]) == ("BTC", 0.2, 90_000.0)
        hedge = active_record(j)
        assert hedge is not None
        inst = get_instrument("deribit", SYMBOL)
        # BTC 10 % higher: the 0.2 BTC collateral gained 0.2 × 9 000 = 1 800 USD
        att = leg_attribution(j, hedge, inst, 99_000.0, hedge.legs[0], j.deposits(hid))
        assert att.collateral_usd == pytest.approx(1_800.0)


def test_balance_is_equity_with_the_sessions_unrealised_pnl(deribit: Any) -> None:
    """Deribit private/get_account_summaries: ``equity`` (ccxt's total) = ``balance`` +
    the session's unrealised PnL (futures settle into ``balance`` daily): the figure the
    balance check compares with the journal's PnL at the mark — 0.5 + 0.00025 BTC."""
    venue, srv, _ = deribit
    srv.route("GET", "/api/v2/private/get_account_summaries", _rpc({"summaries": [
        _summary()], "id": 7, "email": "x", "username": "x", "type": "main"}))
    assert venue.balance("BTC") == pytest.approx(0.50025)
    assert venue.balance("BTC") != pytest.approx(_summary()["balance"])
