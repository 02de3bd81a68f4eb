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


@pytest.fixture
def bybit(local_server: Any, load_fixture: Any, api_keys: tuple[str, str]) -> Any:
    key, secret = api_keys
    live: dict[str, dict[str, Any]] = {}  # open orders (realtime endpoint)
    done: dict[str, dict[str, Any]] = {}  # closed orders (history endpoint)
    ids = itertools.count(1)

    def instruments(r: Any) -> Any:
        if r.params.get("category") == "linear":
            return 200, load_fixture("bybit_instruments_linear.json")
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
