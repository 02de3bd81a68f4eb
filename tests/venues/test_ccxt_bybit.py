"""CcxtVenue over a real ccxt.bybit object (V5 API) on a local server.

Checks the client id travels as ``orderLinkId``, ``reduceOnly`` is sent, the HMAC
signature (X-BAPI-SIGN over timestamp + key + recv window + body) verifies, and that
an order is found by ``orderLinkId`` on the realtime then the history endpoint.
Fixtures: tests/fixtures/ccxt_venue/bybit_*.json (Bybit V5 docs shapes).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
from typing import Any

import ccxt
import pytest

from althedge.venues.ccxt_venue import CcxtVenue
from althedge.venues.credentials import Credentials
from althedge.venues.protocol import OrderRequest, client_order_id

SYMBOL = "BTC/USDT:USDT"


def _ok(result: Any) -> tuple[int, Any]:
    return 200, {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": 1}


def _inverse_instruments(load_fixture: Any) -> dict[str, Any]:
    """BTCUSD inverse perpetual: the linear fixture's row with the inverse fields of
    Bybit V5 "Get Instruments Info" (category=inverse: quote USD, settle BTC, qty in USD)."""
    body = copy.deepcopy(load_fixture("bybit_instruments_linear.json"))
    row = body["result"]["list"][0]
    row.update(symbol="BTCUSD", contractType="InversePerpetual", quoteCoin="USD",
               settleCoin="BTC")
    row["lotSizeFilter"] = {"maxOrderQty": "1000000", "minOrderQty": "1", "qtyStep": "1"}
    body["result"]["category"] = "inverse"
    return body


@pytest.fixture
def bybit(local_server: Any, load_fixture: Any, api_keys: tuple[str, str]) -> Any:
    key, secret = api_keys
    live: dict[str, dict[str, Any]] = {}  # open orders (realtime endpoint)
    done: dict[str, dict[str, Any]] = {}  # closed orders (history endpoint)
    ids = itertools.count(1)

    def instruments(r: Any) -> Any:
        if r.params.get("category") == "linear":
            return 200, load_fixture("bybit_instruments_linear.json")
        if r.params.get("category") == "inverse":
            return 200, _inverse_instruments(load_fixture)
        return _ok({"category": r.params.get("category"), "list": [], "nextPageCursor": ""})

    def create(r: Any) -> Any:
        link = r.params["orderLinkId"]
        if link in live or link in done:
            return 200, {"retCode": 110072, "retMsg": "OrderLinkedID is duplicate", "result": {}}
        o = copy.deepcopy(load_fixture("bybit_order_realtime.json"))
        o.pop("_comment")
        o.update(
            orderId=f"bybit-{next(ids)}",
            orderLinkId=link,
            symbol=r.params["symbol"],
            positionIdx=int(r.params.get("positionIdx", 0)),
            side=r.params["side"],
            qty=r.params["qty"],
            price=r.params.get("price", "0"),
            orderType=r.params["orderType"],
            reduceOnly=r.params.get("reduceOnly") in ("True", "true"),
            leavesQty=r.params["qty"],
        )
        live[link] = o
        return _ok({"orderId": o["orderId"], "orderLinkId": link})

    def lookup(book: dict[str, dict[str, Any]]) -> Any:
        def handler(r: Any) -> Any:
            o = book.get(r.params.get("orderLinkId", ""))
            return _ok({"category": "linear", "list": [o] if o else [], "nextPageCursor": ""})

        return handler

    s = local_server
    s.route("GET", "/v5/market/instruments-info", instruments)
    s.route("POST", "/v5/order/create", create)
    # account type probes ccxt makes before trading (Bybit V5 "Get API Key Information",
    # "Get Account Info"): a unified trading account
    s.route("GET", "/v5/user/query-api", _ok({"unified": 0, "uta": 1, "readOnly": 0}))
    s.route(
        "GET", "/v5/account/info", _ok({"unifiedMarginStatus": 6, "marginMode": "ISOLATED_MARGIN"})
    )
    s.route("GET", "/v5/order/realtime", lookup(live))
    s.route("GET", "/v5/market/tickers", _ok({"category": "linear", "list": [
        {"symbol": "BTCUSDT", "markPrice": "90000", "lastPrice": "90000", "indexPrice": "90000"}
    ]}))
    # one-way position mode: one row per symbol with positionIdx 0 (V5 "Get Position Info")
    s.route(
        "GET",
        "/v5/position/list",
        _ok({"category": "linear", "list": [{"symbol": "BTCUSDT", "positionIdx": 0,
                                               "size": "0", "side": ""}]}),
    )
    s.route("GET", "/v5/order/history", lookup(done))
    ex = ccxt.bybit({"apiKey": key, "secret": secret, "timeout": 1000, "enableRateLimit": False})
    point = s.base
    ex.urls["api"] = {k: point for k in ex.urls["api"]}
    venue = CcxtVenue(ex, credentials=Credentials("bybit", key, secret), sleep=lambda _s: None)
    return venue, s, live, done


def test_order_carries_order_link_id_and_reduce_only_and_is_signed(
    bybit: Any, api_keys: tuple[str, str]
) -> None:
    venue, srv, live, _ = bybit
    cid = client_order_id("plan-b", 1, "close")
    res = venue.place_order(
        OrderRequest(SYMBOL, "buy", 0.0105, "limit", cid, price=87_999.97, reduce_only=True)
    )
    (call,) = srv.calls("POST", "/v5/order/create")
    body = json.loads(call.raw)
    assert body["category"] == "linear"
    assert body["symbol"] == "BTCUSDT"
    assert body["side"] == "Buy"
    assert body["orderLinkId"] == cid
    assert body["reduceOnly"] is True
    assert body["qty"] == "0.01"  # truncated to the 0.001 step
    assert float(body["price"]) == pytest.approx(88_000.0)
    h = {k.lower(): v for k, v in call.headers.items()}
    assert h["x-bapi-api-key"] == api_keys[0]
    payload = h["x-bapi-timestamp"] + api_keys[0] + h["x-bapi-recv-window"] + call.raw
    expected = hmac.new(api_keys[1].encode(), payload.encode(), hashlib.sha256).hexdigest()
    assert h["x-bapi-sign"] == expected
    assert res.client_order_id == cid
    assert res.status == "open"
    assert res.reduce_only
    assert cid in live


def test_same_order_link_id_is_found_not_resent(bybit: Any) -> None:
    venue, srv, live, done = bybit
    order = OrderRequest(SYMBOL, "sell", 0.02, "limit", "ahbybit2", price=90_000.0)
    first = venue.place_order(order)
    # the order fills and moves to the history endpoint
    o = live.pop("ahbybit2")
    o.update(
        orderStatus="Filled", cumExecQty="0.020", leavesQty="0", avgPrice="90000", cumExecFee="0.99"
    )
    done["ahbybit2"] = o
    second = venue.place_order(order)
    assert len(srv.calls("POST", "/v5/order/create")) == 1
    assert second.exchange_order_id == first.exchange_order_id
    assert second.status == "filled"
    assert second.filled_contracts == pytest.approx(0.02)
    assert second.fee.amount == pytest.approx(0.99)
    lookups = srv.calls("GET", "/v5/order/history")
    assert lookups[-1].params["orderLinkId"] == "ahbybit2"


# --------------------------------------------------------------------------- issue 9
def _account(srv: Any, status: int, mode: str) -> None:
    """Bybit V5 "Get Account Info": unifiedMarginStatus 1 classic, 3-6 unified."""
    srv.route("GET", "/v5/account/info", _ok({"unifiedMarginStatus": status, "marginMode": mode}))
    srv.route("POST", "/v5/account/set-margin-mode", _ok({"reasons": []}))
    srv.route("POST", "/v5/position/set-leverage", _ok({}))
    srv.route("POST", "/v5/position/switch-isolated", _ok({}))


def test_unified_account_margin_mode_is_never_switched_silently(bybit: Any) -> None:
    """Setting margin mode on a unified account re-margins EVERY position: refused."""
    from althedge.errors import AccountSettingError

    venue, srv, _, _ = bybit
    _account(srv, 6, "ISOLATED_MARGIN")
    with pytest.raises(AccountSettingError, match="EVERY position") as info:
        venue.set_leverage(SYMBOL, 2, "cross")
    assert "\n" not in str(info.value)
    assert srv.calls("POST", "/v5/account/set-margin-mode") == []
    venue.set_leverage(SYMBOL, 2, "isolated")  # the account's own mode: nothing to change
    assert srv.calls("POST", "/v5/account/set-margin-mode") == []
    assert srv.calls("POST", "/v5/position/set-leverage")


def test_portfolio_margin_is_not_left_without_an_explicit_request(bybit: Any) -> None:
    from althedge.errors import AccountSettingError

    venue, srv, _, _ = bybit
    _account(srv, 5, "PORTFOLIO_MARGIN")
    with pytest.raises(AccountSettingError, match="portfolio"):
        venue.set_leverage(SYMBOL, 2, "cross")
    venue.allow_account_changes = True  # --allow-account-change
    venue.set_leverage(SYMBOL, 2, "cross")
    (call,) = srv.calls("POST", "/v5/account/set-margin-mode")
    assert json.loads(call.raw)["setMarginMode"] == "REGULAR_MARGIN"


def test_hedge_mode_orders_carry_position_idx_2(bybit: Any) -> None:
    venue, srv, _, _ = bybit
    rows = [{"symbol": "BTCUSDT", "positionIdx": i, "size": "0", "side": ""} for i in (1, 2)]
    srv.route("GET", "/v5/position/list", _ok({"category": "linear", "list": rows}))
    venue.place_order(OrderRequest(SYMBOL, "sell", 0.02, "market", "ahbybith0"))
    venue.place_order(OrderRequest(SYMBOL, "buy", 0.02, "market", "ahbybith1", reduce_only=True))
    opened, closed = (json.loads(c.raw) for c in srv.calls("POST", "/v5/order/create"))
    assert opened["positionIdx"] == 2 and closed["positionIdx"] == 2
    assert closed["reduceOnly"] is True


def _funding_row(t_ms: int, fee: str, symbol: str = "BTCUSDT") -> dict[str, Any]:
    """One row of GET /v5/execution/list?execType=Funding (Bybit V5 "Get Trade History"):
    ``execFee`` is positive when the position PAID funding."""
    return {
        "symbol": symbol, "execType": "Funding", "execFee": fee, "execId": f"f{t_ms}",
        "execTime": str(t_ms), "feeRate": "0.0001", "execPrice": "90000", "execQty": "0.02",
        "side": "Sell", "orderId": "", "orderLinkId": "", "category": "linear",
    }


def test_funding_is_read_since_the_leg_opened_page_by_page_as_received(bybit: Any) -> None:
    """Bybit answers 7 days at most per request: 20 days = 3 windows. A short that paid
    0.18 USDT has received −0.18."""
    venue, srv, _, _ = bybit
    day = 86_400_000
    opened = 1_763_000_000_000
    rows = [_funding_row(opened + k * 8 * 3_600_000, "0.18" if k % 2 else "-0.05")
            for k in range(60)]  # 20 days of 8-hourly payments
    rows.append(_funding_row(opened - 3_600_000, "9.99"))  # before the leg: another hedge's

    def execution_list(r: Any) -> Any:
        lo = int(r.params.get("startTime", 0))
        hi = int(r.params.get("endTime", 10**15))
        sel = [x for x in rows if lo <= int(x["execTime"]) <= hi]
        return _ok({"category": "linear", "list": sel, "nextPageCursor": ""})

    srv.route("GET", "/v5/execution/list", execution_list)
    venue.exchange.milliseconds = lambda: opened + 20 * day  # the exchange's clock
    pays = venue.funding_payments(SYMBOL, since_ms=opened)
    assert len(pays) == 60
    assert sum(p.amount for p in pays) == pytest.approx(30 * -0.18 + 30 * 0.05)
    assert pays[0].amount == pytest.approx(0.05) and pays[1].amount == pytest.approx(-0.18)
    assert {p.currency for p in pays} == {"USDT"}
    calls = srv.calls("GET", "/v5/execution/list")
    assert len(calls) >= 3 and all(c.params["execType"] == "Funding" for c in calls)


def test_inverse_funding_is_in_the_coin(bybit: Any) -> None:
    """ccxt labels Bybit inverse funding "USD"; it is paid in the settlement coin."""
    venue, srv, _, _ = bybit
    inv = "BTC/USD:BTC"
    srv.route("GET", "/v5/execution/list", _ok({"category": "inverse", "list": [
        _funding_row(1_763_000_000_000, "0.0000021", "BTCUSD")], "nextPageCursor": ""}))
    srv.route("GET", "/v5/market/tickers", _ok({"category": "inverse", "list": [
        {"symbol": "BTCUSD", "markPrice": "90000", "lastPrice": "90000", "indexPrice": "90000"}
    ]}))
    (pay,) = venue.funding_payments(inv)
    assert pay.currency == "BTC" and pay.amount == pytest.approx(-0.0000021)


def test_classic_account_sets_the_margin_mode_per_symbol(bybit: Any) -> None:
    """A classic account (unifiedMarginStatus 1) keeps the margin mode per symbol
    (POST /v5/position/switch-isolated, tradeMode 0 = cross): nothing account-wide."""
    venue, srv, _, _ = bybit
    _account(srv, 1, "")
    srv.route("GET", "/v5/user/query-api", _ok({"unified": 0, "uta": 0, "readOnly": 0}))
    venue.set_leverage(SYMBOL, 3, "cross")
    (switch,) = srv.calls("POST", "/v5/position/switch-isolated")
    body = json.loads(switch.raw)
    assert body["tradeMode"] == 0 and body["symbol"] == "BTCUSDT"
    assert body["buyLeverage"] == body["sellLeverage"] == "3"
    assert srv.calls("POST", "/v5/account/set-margin-mode") == []


# ----------------------------------------------------------- inverse, account types
INVERSE = "BTC/USD:BTC"


def _inverse_market(srv: Any, *, hedge_mode: bool = False) -> None:
    """BTCUSD (coin-margined, settle BTC, qty in USD contracts of 1 USD): its ticker and
    its position rows (V5 "Get Position Info": positionIdx 1/2 rows in hedge mode)."""
    srv.route("GET", "/v5/market/tickers", _ok({"category": "inverse", "list": [
        {"symbol": "BTCUSD", "markPrice": "90000", "lastPrice": "90000", "indexPrice": "90000"}
    ]}))
    idx = (1, 2) if hedge_mode else (0,)
    rows = [{"symbol": "BTCUSD", "positionIdx": i, "size": "0", "side": ""} for i in idx]
    srv.route("GET", "/v5/position/list", _ok({"category": "inverse", "list": rows}))


@pytest.mark.parametrize("hedge_mode", [False, True], ids=["one-way", "hedge-mode"])
def test_inverse_open_and_reduce_only_close_in_usd_contracts(bybit: Any, hedge_mode: bool) -> None:
    """BTCUSD is counted in USD contracts (1 USD each): 1 500 contracts go out as qty
    "1500", category inverse; the close is reduce-only; in hedge mode both carry
    positionIdx 2 (the sell side), in one-way mode positionIdx 0 or none."""
    venue, srv, _, _ = bybit
    _inverse_market(srv, hedge_mode=hedge_mode)
    inst = venue.instrument(INVERSE)
    assert inst.contract_type.value == "inverse" and inst.settle == "BTC"
    assert inst.contract_size == pytest.approx(1.0)
    venue.place_order(OrderRequest(INVERSE, "sell", 1500, "market", "ahbybitinv0"))
    venue.place_order(OrderRequest(INVERSE, "buy", 1500, "market", "ahbybitinv1",
                                   reduce_only=True))
    opened, closed = (json.loads(c.raw) for c in srv.calls("POST", "/v5/order/create"))
    for body in (opened, closed):
        assert body["category"] == "inverse" and body["symbol"] == "BTCUSD"
        assert body["qty"] == "1500"
        assert int(body.get("positionIdx", 0)) == (2 if hedge_mode else 0)
    assert opened["side"] == "Sell" and "reduceOnly" not in opened
    assert closed["side"] == "Buy" and closed["reduceOnly"] is True


@pytest.mark.parametrize("symbol", [SYMBOL, INVERSE], ids=["linear", "inverse"])
def test_unified_account_refuses_a_margin_mode_change_on_either_contract(
    bybit: Any, symbol: str
) -> None:
    """Unified: the margin mode is the ACCOUNT's (one for linear and inverse alike):
    a different one is refused; nothing per symbol is sent."""
    from althedge.errors import AccountSettingError

    venue, srv, _, _ = bybit
    _inverse_market(srv)
    _account(srv, 6, "REGULAR_MARGIN")
    with pytest.raises(AccountSettingError, match="cross margin for EVERY position"):
        venue.set_leverage(symbol, 2, "isolated")
    assert srv.calls("POST", "/v5/account/set-margin-mode") == []
    assert srv.calls("POST", "/v5/position/switch-isolated") == []
    venue.set_leverage(symbol, 2, "cross")  # already the account's: leverage only
    (lev,) = srv.calls("POST", "/v5/position/set-leverage")
    assert json.loads(lev.raw)["category"] == ("inverse" if symbol == INVERSE else "linear")


def test_classic_account_switches_the_inverse_symbol_only(bybit: Any) -> None:
    """Classic account: isolated/cross per symbol, category inverse for BTCUSD."""
    venue, srv, _, _ = bybit
    _inverse_market(srv)
    _account(srv, 1, "")
    srv.route("GET", "/v5/user/query-api", _ok({"unified": 0, "uta": 0, "readOnly": 0}))
    venue.set_leverage(INVERSE, 2, "isolated")
    (switch,) = srv.calls("POST", "/v5/position/switch-isolated")
    body = json.loads(switch.raw)
    assert body["category"] == "inverse" and body["symbol"] == "BTCUSD"
    assert body["tradeMode"] == 1
    assert srv.calls("POST", "/v5/account/set-margin-mode") == []


def _wallet(account_type: str, coins: dict[str, str]) -> dict[str, Any]:
    """Bybit V5 "Get Wallet Balance" (GET /v5/account/wallet-balance): one account's coins;
    ``walletBalance`` is the coin's own balance (ccxt's total)."""
    return {"accountType": account_type, "totalEquity": "", "totalWalletBalance": "",
            "coin": [{"coin": c, "walletBalance": b, "equity": b, "unrealisedPnl": "0",
                      "availableToWithdraw": b, "borrowAmount": "0", "accruedInterest": "0",
                      "totalPositionIM": "0", "totalOrderIM": "0", "locked": "0"}
                     for c, b in coins.items()]}


@pytest.mark.parametrize(
    ("status", "uta", "wallets"),
    [
        # classic: linear and inverse collateral both in the CONTRACT account
        (1, 0, {"CONTRACT": {"BTC": "0.5", "USDT": "1000"}}),
        # unified 1.0 (status 3/4): USDT in UNIFIED, inverse coins still in CONTRACT
        (4, 1, {"UNIFIED": {"USDT": "1000"}, "CONTRACT": {"BTC": "0.5"}}),
        # unified 2.0 (status 5/6): everything in UNIFIED
        (6, 1, {"UNIFIED": {"BTC": "0.5", "USDT": "1000"}}),
    ],
    ids=["classic", "unified-1.0", "unified-2.0"],
)
def test_balances_in_btc_for_inverse_from_the_right_wallet(
    bybit: Any, status: int, uta: int, wallets: dict[str, dict[str, str]]
) -> None:
    """The BTC that margins BTCUSD is read from the account that holds it, and equity
    counts every wallet once: 0.5 BTC at 90 000 + 1 000 USDT = 46 000 USD."""
    venue, srv, _, _ = bybit
    _inverse_market(srv)
    _account(srv, status, "REGULAR_MARGIN")
    srv.route("GET", "/v5/user/query-api", _ok({"unified": 0, "uta": uta, "readOnly": 0}))

    def wallet_balance(r: Any) -> Any:
        kind = r.params["accountType"]
        coins = wallets.get(kind)
        if coins is None:  # Bybit: "accountType only support UNIFIED" and the like
            return 200, {"retCode": 10001, "retMsg": f"accountType {kind} invalid",
                         "result": {}, "retExtInfo": {}, "time": 1}
        return _ok({"list": [_wallet(kind, coins)]})

    srv.route("GET", "/v5/account/wallet-balance", wallet_balance)
    assert venue.balance("BTC") == pytest.approx(0.5)
    assert venue.balance("USDT") == pytest.approx(1000.0)
    assert venue.equity_usd() == pytest.approx(0.5 * 90_000 + 1000.0)
    asked = {c.params["accountType"] for c in srv.calls("GET", "/v5/account/wallet-balance")}
    assert asked == set(wallets)


def test_liquidations_are_read_since_the_leg_opened_in_7_day_windows(bybit: Any) -> None:
    """ccxt ``fetch_my_liquidations`` = GET /v5/execution/list?execType=BustTrade, which
    answers 7 days at most per request: a liquidation 15 days after the leg opened is
    found; one before the leg (another hedge's) is not imported."""
    venue, srv, _, _ = bybit
    day = 86_400_000
    opened = 1_763_000_000_000

    def bust(t_ms: int, qty: str) -> dict[str, Any]:
        return {"symbol": "BTCUSDT", "execType": "BustTrade", "execId": f"b{t_ms}",
                "orderId": f"liq-{t_ms}", "orderLinkId": "", "side": "Buy",
                "execPrice": "131250", "execQty": qty, "execFee": "0", "feeRate": "0",
                "execTime": str(t_ms), "category": "linear", "closedSize": qty}

    rows = [bust(opened - day, "0.5"), bust(opened + 15 * day, "0.02")]

    def execution_list(r: Any) -> Any:
        lo = int(r.params.get("startTime", 0))
        hi = int(r.params.get("endTime", lo + 7 * day))
        assert hi - lo <= 7 * day  # Bybit refuses longer windows
        sel = [x for x in rows if x["execType"] == r.params.get("execType")
               and lo <= int(x["execTime"]) <= hi]
        return _ok({"category": "linear", "list": sel, "nextPageCursor": ""})

    srv.route("GET", "/v5/execution/list", execution_list)
    venue.exchange.milliseconds = lambda: opened + 20 * day
    (liq,) = venue.fills_for(SYMBOL, since_ms=opened)
    assert liq.liquidation and liq.side == "buy"
    assert liq.contracts == pytest.approx(0.02) and liq.price == pytest.approx(131_250.0)
    assert liq.timestamp_ms == opened + 15 * day
    assert len(srv.calls("GET", "/v5/execution/list")) == 3


def test_deposits_are_transfers_and_deposits_into_the_derivatives_wallets(bybit: Any) -> None:
    """V5 "Get Internal Transfer Records": FUND → UNIFIED is collateral in, UNIFIED → FUND
    out, FUND → SPOT neither; V5 "Get Deposit Records": an on-chain deposit credited to
    UNIFIED (status 3 = success) is in, one to FUND is not. 7-day windows."""
    venue, srv, _, _ = bybit
    day = 86_400_000
    opened = 1_763_000_000_000

    def transfer(t_ms: int, coin: str, amount: str, src: str, dst: str) -> dict[str, Any]:
        return {"transferId": f"tr{t_ms}", "coin": coin, "amount": amount,
                "fromAccountType": src, "toAccountType": dst, "timestamp": str(t_ms),
                "status": "SUCCESS"}

    transfers = [transfer(opened + day, "BTC", "0.1", "FUND", "UNIFIED"),
                 transfer(opened + 2 * day, "USDT", "500", "FUND", "SPOT"),
                 transfer(opened + 9 * day, "BTC", "0.02", "UNIFIED", "FUND"),
                 transfer(opened - day, "BTC", "3", "FUND", "UNIFIED")]  # before the leg
    chain = [{"id": "d1", "coin": "USDT", "amount": "250", "status": 3, "toAccountType":
              "UNIFIED", "successAt": str(opened + 3 * day), "txID": "0xa", "chain": "ETH"},
             {"id": "d2", "coin": "USDT", "amount": "999", "status": 3, "toAccountType":
              "FUND", "successAt": str(opened + 4 * day), "txID": "0xb", "chain": "ETH"}]

    def window(rows: list[dict[str, Any]], time_key: str, key: str) -> Any:
        def handler(r: Any) -> Any:
            lo, hi = int(r.params["startTime"]), int(r.params["endTime"])
            assert hi - lo < 7 * day
            return _ok({key: [x for x in rows if lo <= int(x[time_key]) <= hi],
                        "nextPageCursor": ""})
        return handler

    srv.route("GET", "/v5/asset/transfer/query-inter-transfer-list",
              window(transfers, "timestamp", "list"))
    srv.route("GET", "/v5/asset/deposit/query-record", window(chain, "successAt", "rows"))
    venue.exchange.milliseconds = lambda: opened + 10 * day
    deps = venue.deposits_since(opened, ["BTC", "USDT"])
    assert [(d.currency, d.amount, d.kind) for d in deps] == [
        ("BTC", 0.1, "transfer"), ("USDT", 250.0, "deposit"), ("BTC", -0.02, "transfer")]


def test_inverse_position_is_in_usd_contracts_with_coin_margin(bybit: Any) -> None:
    """V5 "Get Position Info" (category=inverse): ``size`` in USD contracts, PnL and
    margins in BTC; a unified account's position is cross (``tradeMode`` 0)."""
    venue, srv, _, _ = bybit
    _inverse_market(srv)
    row = {"symbol": "BTCUSD", "side": "Sell", "size": "1500", "avgPrice": "90000",
           "positionValue": "0.01666667", "leverage": "2", "markPrice": "88000",
           "liqPrice": "179000", "positionIM": "0.00833333", "positionMM": "0.00008333",
           "positionBalance": "0.00833333", "unrealisedPnl": "0.00037879", "tradeMode": 0,
           "positionIdx": 0, "cumRealisedPnl": "0", "createdTime": "1764072000000",
           "updatedTime": "1764072000000", "riskId": 1, "autoAddMargin": 0,
           "positionStatus": "Normal", "takeProfit": "", "stopLoss": "", "trailingStop": "",
           "sessionAvgPrice": "", "curRealisedPnl": "0", "adlRankIndicator": 2, "isReduceOnly":
           False, "bustPrice": "", "tpslMode": "Full", "seq": 1}
    srv.route("GET", "/v5/position/list", _ok({"category": "inverse", "list": [row]}))
    pos = venue.position(INVERSE)
    assert pos is not None and pos.side.name == "SHORT"
    assert pos.contracts == pytest.approx(1500) and pos.settle == "BTC"
    assert pos.contract_type.value == "inverse"
    assert pos.unrealised_pnl == pytest.approx(0.00037879)
    assert pos.liquidation_price == pytest.approx(179_000)
    assert srv.calls("GET", "/v5/position/list")[-1].params["category"] == "inverse"


def test_balance_is_the_coins_equity_with_unrealised_pnl_not_ccxts_wallet_total(
    bybit: Any,
) -> None:
    """Bybit V5 "Get Wallet Balance": ``walletBalance`` (ccxt's total) leaves out the open
    positions' unrealised PnL; ``equity`` = walletBalance + unrealisedPnl. The balance
    check compares equity with the journal's PnL at the mark, so the venue's balance is
    ``equity``: a short 50 USDT under water and 0.001 BTC up on an inverse one."""
    venue, srv, _, _ = bybit
    _inverse_market(srv)
    _account(srv, 6, "REGULAR_MARGIN")
    srv.route("GET", "/v5/user/query-api", _ok({"unified": 0, "uta": 1, "readOnly": 0}))
    wallet = _wallet("UNIFIED", {"USDT": "1000", "BTC": "0.5"})
    for coin, upnl in zip(wallet["coin"], ("-50", "0.001"), strict=True):
        coin["unrealisedPnl"] = upnl
        coin["equity"] = str(float(coin["walletBalance"]) + float(upnl))
    srv.route("GET", "/v5/account/wallet-balance", _ok({"list": [wallet]}))
    assert venue.exchange.fetch_balance({"type": "swap", "subType": "linear"})["total"][
        "USDT"] == pytest.approx(1000.0)  # ccxt's total: the wallet alone
    assert venue.balance("USDT") == pytest.approx(950.0)
    assert venue.balance("BTC") == pytest.approx(0.501)
    assert venue.equity_usd() == pytest.approx(950.0 + 0.501 * 90_000)
