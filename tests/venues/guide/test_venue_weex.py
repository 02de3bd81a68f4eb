"""WEEX: amounts in coin (not ccxt's 0.0001 contractSize), positionSide on every order,
newClientOrderId, reduce-only close, lookup by client id in open then historical orders.

WEEX contract API v3 docs ("Get contract info": BTCUSDT quantityPrecision 4, minOrderSize
0.0001 = contractVal, maxOrderSize 1 200; "Place order"; "Get order history").
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from althedge.venues.ccxt_venue import CcxtVenue
from althedge.venues.credentials import Credentials
from althedge.venues.protocol import OrderRequest, client_order_id

from .conftest import FakeWeex

SYMBOL = "BTC/USDT:USDT"


@pytest.fixture
def venue(weex: Any, api_keys: tuple[str, str]) -> CcxtVenue:
    key, secret = api_keys
    creds = Credentials("weex", key, secret, "weex-passphrase-123")
    return CcxtVenue(weex, credentials=creds, sleep=lambda _s: None)


def _body(r: Any) -> dict[str, Any]:
    return json.loads(r.raw) if r.raw.lstrip().startswith("{") else dict(r.params)


def test_instrument_counts_coin(venue: CcxtVenue) -> None:
    inst = venue.instrument(SYMBOL)
    assert inst.exchange == "weex" and inst.contract_size == 1.0  # not ccxt's 0.0001
    assert inst.lot_step == pytest.approx(0.0001) and inst.min_contracts == pytest.approx(0.0001)


def test_open_and_close_send_coin_quantities(
    venue: CcxtVenue, local_server: Any, fake_weex: FakeWeex
) -> None:
    cid = client_order_id("wx", 0, "open")
    res = venue.place_order(OrderRequest(SYMBOL, "sell", 0.7778, "limit", cid, price=97_590.0))
    assert res.status == "filled" and res.client_order_id == cid
    assert res.filled_contracts == pytest.approx(0.7778)
    (create,) = local_server.calls("POST", "/capi/v3/order")
    b = _body(create)
    assert b["quantity"] == "0.7778"  # 0.7778 BTC, not 0.7778 × 10 000 contracts
    assert b["side"] == "SELL" and b["positionSide"] == "SHORT"
    assert b["newClientOrderId"] == cid and b["type"] == "LIMIT"
    assert fake_weex.position_btc == pytest.approx(0.7778)
    close = OrderRequest(SYMBOL, "buy", 0.7778, "market", client_order_id("wx", 1, "close"),
                         reduce_only=True)
    venue.place_order(close)
    venue.place_order(close)  # found in the order history by clientOrderId: not re-sent
    creates = local_server.calls("POST", "/capi/v3/order")
    assert len(creates) == 2
    c = _body(creates[1])
    assert c["side"] == "BUY" and c["positionSide"] == "SHORT"
    assert str(c["reduceOnly"]).lower() == "true" and c["quantity"] == "0.7778"
    assert fake_weex.position_btc == pytest.approx(0.0)
    for r in local_server.requests:
        assert "weex-passphrase-123" not in r.raw
