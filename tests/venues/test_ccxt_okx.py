"""CcxtVenue over a real ccxt.okx object: ``clOrdId``, contracts of 0.01 BTC, lookup by clOrdId.

Fixtures: tests/fixtures/ccxt_venue/okx_*.json (OKX API v5 docs shapes).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import itertools
import json
from typing import Any

import ccxt
import pytest

from althedge.errors import ExchangeError
from althedge.venues.ccxt_venue import CcxtVenue
from althedge.venues.credentials import Credentials
from althedge.venues.protocol import OrderRequest, client_order_id

SYMBOL = "BTC/USDT:USDT"
PASSPHRASE = "okx-passphrase-0123456789"


def _order_body(raw: str) -> dict[str, Any]:
    """ccxt sends one order to POST /api/v5/trade/batch-orders as a one-element list."""
    body = json.loads(raw)
    return body[0] if isinstance(body, list) else body


def _ok(data: Any) -> tuple[int, Any]:
    return 200, {"code": "0", "msg": "", "data": data}


@pytest.fixture
def okx(local_server: Any, load_fixture: Any, api_keys: tuple[str, str]) -> Any:
    key, secret = api_keys
    orders: dict[str, dict[str, Any]] = {}
    ids = itertools.count(680_800_019_749_904_384)

    def instruments(r: Any) -> Any:
        if r.params.get("instType") == "SWAP":
            return 200, load_fixture("okx_instruments_swap.json")
        return _ok([])

    def create(r: Any) -> Any:
        body = _order_body(r.raw)
        cid = body["clOrdId"]
        if cid in orders:
            return 200, {
                "code": "1",
                "msg": "",
                "data": [
                    {"clOrdId": cid, "ordId": "", "sCode": "51016", "sMsg": "Duplicated clOrdId"}
                ],
            }
        o = copy.deepcopy(load_fixture("okx_order.json"))
        o.pop("_comment")
        o.update(
            ordId=str(next(ids)),
            clOrdId=cid,
            side=body["side"],
            sz=body["sz"],
            px=body.get("px", ""),
            ordType=body["ordType"],
            reduceOnly="true" if body.get("reduceOnly") in (True, "true") else "false",
            tdMode=body["tdMode"],
        )
        orders[cid] = o
        return _ok([{"clOrdId": cid, "ordId": o["ordId"], "sCode": "0", "sMsg": "", "tag": ""}])

    def get(r: Any) -> Any:
        o = orders.get(r.params.get("clOrdId", ""))
        if o is None:
            return 200, {"code": "51603", "msg": "Order does not exist", "data": []}
        return _ok([o])

    s = local_server
    s.route("GET", "/api/v5/public/instruments", instruments)
    s.route("POST", "/api/v5/trade/order", create)
    s.route("POST", "/api/v5/trade/batch-orders", create)
    s.route("GET", "/api/v5/trade/order", get)
    s.route(
        "POST",
        "/api/v5/account/set-leverage",
        lambda r: _ok([json.loads(r.raw) | {"posSide": ""}]),
    )
    ex = ccxt.okx(
        {
            "apiKey": key,
            "secret": secret,
            "password": PASSPHRASE,
            "timeout": 1000,
            "enableRateLimit": False,
        }
    )
    ex.urls["api"] = {k: s.base for k in ex.urls["api"]}
    creds = Credentials("okx", key, secret, PASSPHRASE)
    venue = CcxtVenue(ex, credentials=creds, sleep=lambda _s: None)
    return venue, s, orders


def test_okx_order_uses_cl_ord_id_contracts_and_is_signed(
    okx: Any, api_keys: tuple[str, str]
) -> None:
    venue, srv, _ = okx
    inst = venue.instrument(SYMBOL)
    assert inst.contract_size == pytest.approx(0.01)  # 0.01 BTC per contract
    assert inst.lot_step == pytest.approx(0.01)
    venue.set_leverage(SYMBOL, 3, "isolated")
    lev = srv.calls("POST", "/api/v5/account/set-leverage")
    assert lev and json.loads(lev[-1].raw)["mgnMode"] == "isolated"
    assert json.loads(lev[-1].raw)["lever"] in ("3", 3)
    cid = client_order_id("plan-o", 0, "open")
    res = venue.place_order(OrderRequest(SYMBOL, "sell", 82.0, "limit", cid, price=90_000.04))
    (call,) = srv.calls("POST", "/api/v5/trade/order") + srv.calls(
        "POST", "/api/v5/trade/batch-orders"
    )
    body = _order_body(call.raw)
    assert body["instId"] == "BTC-USDT-SWAP"
    assert body["clOrdId"] == cid
    assert body["tdMode"] == "isolated"  # OKX takes the margin mode on every order
    assert body["sz"] == "82"  # contracts, not coins: 82 × 0.01 = 0.82 BTC
    assert float(body["px"]) == pytest.approx(90_000.0)
    h = {k.lower(): v for k, v in call.headers.items()}
    assert h["ok-access-passphrase"] == PASSPHRASE
    prehash = h["ok-access-timestamp"] + "POST" + call.path + call.raw
    sig = base64.b64encode(
        hmac.new(api_keys[1].encode(), prehash.encode(), hashlib.sha256).digest()
    ).decode()
    assert h["ok-access-sign"] == sig
    assert res.client_order_id == cid
    assert res.contracts == pytest.approx(82.0)
    # placing again: found by clOrdId, not re-sent
    again = venue.place_order(OrderRequest(SYMBOL, "sell", 82.0, "limit", cid, price=90_000.0))
    assert again.exchange_order_id == res.exchange_order_id
    sent = srv.calls("POST", "/api/v5/trade/order") + srv.calls(
        "POST", "/api/v5/trade/batch-orders"
    )
    assert len(sent) == 1
    assert srv.calls("GET", "/api/v5/trade/order")[-1].params["clOrdId"] == cid


def test_okx_secrets_absent_from_errors(okx: Any, api_keys: tuple[str, str]) -> None:
    venue, srv, _ = okx
    for path in ("/api/v5/trade/order", "/api/v5/trade/batch-orders"):
        srv.route(
            "POST",
            path,
            (
                200,
                {
                    "code": "1",
                    "msg": "",
                    "data": [
                        {
                            "sCode": "51008",
                            "sMsg": "Order failed. Insufficient USDT margin in account",
                        }
                    ],
                },
            ),
        )
    with pytest.raises(ExchangeError) as info:
        venue.place_order(OrderRequest(SYMBOL, "sell", 1.0, "market", "ahokxpoor"))
    msg = str(info.value)
    assert "insufficient margin" in msg
    for secret in (*api_keys, PASSPHRASE):
        assert secret not in msg
