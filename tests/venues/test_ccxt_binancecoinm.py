"""CcxtVenue over a real ccxt.binancecoinm (COIN-M, inverse): contracts of 100 USD on /dapi.

Fixture: tests/fixtures/ccxt_venue/binancecoinm_exchangeInfo.json.
"""

from __future__ import annotations

from typing import Any

import ccxt
import pytest

from althedge.core.instruments import ContractType
from althedge.venues.ccxt_venue import CcxtVenue
from althedge.venues.protocol import OrderRequest


@pytest.fixture
def coinm(local_server: Any, load_fixture: Any, api_keys: tuple[str, str]) -> Any:
    s = local_server
    s.route("GET", "/dapi/v1/exchangeInfo", (200, load_fixture("binancecoinm_exchangeInfo.json")))
    s.route("GET", "/dapi/v1/order", (400, {"code": -2013, "msg": "Order does not exist."}))
    s.route("GET", "/dapi/v1/positionSide/dual", (200, {"dualSidePosition": False}))

    def create(r: Any) -> Any:
        return 200, {
            "orderId": 1917641,
            "symbol": "BTCUSD_PERP",
            "pair": "BTCUSD",
            "status": "NEW",
            "clientOrderId": r.params["newClientOrderId"],
            "price": r.params.get("price", "0"),
            "avgPrice": "0.0",
            "origQty": r.params["quantity"],
            "executedQty": "0",
            "cumQty": "0",
            "cumBase": "0",
            "timeInForce": "GTC",
            "type": r.params["type"],
            "reduceOnly": r.params.get("reduceOnly") == "true",
            "closePosition": False,
            "side": r.params["side"],
            "positionSide": "BOTH",
            "stopPrice": "0",
            "workingType": "CONTRACT_PRICE",
            "priceProtect": False,
            "origType": r.params["type"],
            "updateTime": 1764072000000,
        }

    s.route("POST", "/dapi/v1/order", create)
    key, secret = api_keys
    ex = ccxt.binancecoinm({"apiKey": key, "secret": secret, "timeout": 1000})
    ex.urls["api"] = {
        k: s.base + v[v.index("/", 8) :] if isinstance(v, str) else v
        for k, v in ex.urls["api"].items()
    }
    return CcxtVenue(ex, sleep=lambda _s: None), s


def test_coinm_inverse_contracts_go_to_dapi(coinm: Any) -> None:
    venue, srv = coinm
    inst = venue.instrument("BTC/USD:BTC")
    assert inst.contract_type == ContractType.INVERSE
    assert inst.contract_size == 100.0  # USD per contract
    assert not inst.amount_in_usd  # COIN-M quantities are contracts
    assert inst.tiers  # the built-in COIN-M table
    res = venue.place_order(
        OrderRequest("BTC/USD:BTC", "sell", 12, "limit", "ahcoinm1", price=90_000.06)
    )
    (call,) = srv.calls("POST", "/dapi/v1/order")
    assert call.params["symbol"] == "BTCUSD_PERP"
    assert call.params["quantity"] == "12"
    assert call.params["newClientOrderId"] == "ahcoinm1"
    assert float(call.params["price"]) == pytest.approx(90_000.1)
    assert res.contracts == pytest.approx(12)
    assert res.status == "open"
