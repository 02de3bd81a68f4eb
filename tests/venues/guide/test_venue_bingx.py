"""CcxtVenue over a real ccxt.bingx (USDⓈ-M perpetual swap) on a local server.

BingX API docs: "Place order" (``clientOrderID``, ``positionSide`` BOTH in one-way mode,
``reduceOnly``), "Query Order details" (``clientOrderId``), "Change Margin Type",
"Set Leverage" (``side`` BOTH), "Query positions" (one-way rows carry a signed
``positionAmt``), "Get Account Profit and Loss Fund Flow" (FUNDING_FEE, signed). Every
private request is signed: HMAC-SHA256 over the sorted query string with the secret.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import urlencode

import pytest

from althedge.errors import ExchangeError
from althedge.venues.ccxt_venue import CcxtVenue
from althedge.venues.credentials import Credentials
from althedge.venues.protocol import OrderRequest, client_order_id

from .conftest import FakeBingX

SYMBOL = "BTC/USDT:USDT"


@pytest.fixture
def venue(bingx: Any, api_keys: tuple[str, str]) -> CcxtVenue:
    key, secret = api_keys
    return CcxtVenue(bingx, credentials=Credentials("bingx", key, secret),
                     sleep=lambda _s: None)


def _signed_ok(r: Any, secret: str) -> bool:
    params = {k: v for k, v in r.params.items() if k != "signature"}
    query = urlencode(sorted(params.items()))
    want = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, r.params["signature"])


def test_instrument(venue: CcxtVenue) -> None:
    inst = venue.instrument(SYMBOL)
    assert inst.exchange == "bingx" and inst.contract_size == 1.0
    assert inst.lot_step == pytest.approx(0.0001) and inst.tick_size == pytest.approx(0.1)
    assert inst.max_leverage == 125  # not in ccxt's market: from the built-in row
    assert inst.funding_interval_hours == 8.0
    coinm = venue.instrument("BTC/USD:BTC")
    assert coinm.contract_type.value == "inverse" and coinm.contract_size == 100.0


def test_open_is_isolated_one_way_with_client_id(
    venue: CcxtVenue, local_server: Any, fake_bingx: FakeBingX, api_keys: tuple[str, str]
) -> None:
    venue.set_leverage(SYMBOL, 2, "isolated")
    cid = client_order_id("bx-plan", 0, "open")
    res = venue.place_order(OrderRequest(SYMBOL, "sell", 0.7778, "limit", cid, price=97_590.0))
    assert res.status == "filled" and res.client_order_id == cid
    assert res.average_price == pytest.approx(97_600.0)
    assert res.fee.amount == pytest.approx(0.7778 * 97_600 * 0.0005) and res.fee.currency == "USDT"
    (mt,) = local_server.calls("POST", "/openApi/swap/v2/trade/marginType")
    assert mt.params["marginType"] == "ISOLATED" and mt.params["symbol"] == "BTC-USDT"
    (lev,) = local_server.calls("POST", "/openApi/swap/v2/trade/leverage")
    assert lev.params["side"] == "BOTH" and lev.params["leverage"] == "2"
    (create,) = local_server.calls("POST", "/openApi/swap/v2/trade/order")
    p = create.params
    assert p["clientOrderID"] == cid and len(cid) <= 40
    assert p["side"] == "SELL" and p["positionSide"] == "BOTH" and p["type"] == "LIMIT"
    assert p["quantity"] == "0.7778" and p["price"] == "97590"
    assert "reduceOnly" not in p
    key, secret = api_keys
    for r in local_server.requests:
        if "signature" in r.params:
            assert _signed_ok(r, secret)
            assert r.headers.get("X-BX-APIKEY") == key
    assert secret not in local_server.all_text()


def test_close_is_reduce_only_and_lookup_by_client_id(
    venue: CcxtVenue, local_server: Any, fake_bingx: FakeBingX
) -> None:
    venue.set_leverage(SYMBOL, 2, "isolated")
    venue.place_order(OrderRequest(SYMBOL, "sell", 0.7778, "limit",
                                   client_order_id("bx", 0, "open"), price=97_590.0))
    pos = venue.position(SYMBOL)
    assert pos is not None and pos.side.name == "SHORT"  # a one-way row: signed size
    assert pos.contracts == pytest.approx(0.7778) and pos.margin_mode == "isolated"
    cid = client_order_id("bx", 1, "close")
    req = OrderRequest(SYMBOL, "buy", 0.7778, "market", cid, reduce_only=True)
    venue.place_order(req)
    venue.place_order(req)  # the same intent again: found by clientOrderId, not re-sent
    creates = local_server.calls("POST", "/openApi/swap/v2/trade/order")
    assert len(creates) == 2  # the open and ONE close
    assert creates[1].params["reduceOnly"] == "true"
    assert creates[1].params["positionSide"] == "BOTH"
    looks = [r for r in local_server.calls("GET", "/openApi/swap/v2/trade/order")
             if r.params.get("clientOrderId") == cid]
    assert len(looks) >= 2
    assert fake_bingx.position_amt == 0.0
    assert venue.position(SYMBOL) is None


def test_hedge_mode_sets_the_short_sides_leverage_and_position_side(
    venue: CcxtVenue, local_server: Any, fake_bingx: FakeBingX
) -> None:
    """BingX "Set Leverage": ``side`` is BOTH in one-way mode, LONG or SHORT in hedge
    mode (the leverage of one side); "Place order": ``positionSide`` SHORT for the hedge
    and no ``reduceOnly`` (one-way mode only) — closing is a BUY on the SHORT side."""
    fake_bingx.dual_side = True
    venue.set_leverage(SYMBOL, 3, "isolated")
    (lev,) = local_server.calls("POST", "/openApi/swap/v2/trade/leverage")
    assert lev.params["side"] == "SHORT" and lev.params["leverage"] == "3"
    assert fake_bingx.leverage == {"SHORT": 3}
    venue.place_order(OrderRequest(SYMBOL, "sell", 0.5, "market",
                                   client_order_id("bxh", 0, "open")))
    venue.place_order(OrderRequest(SYMBOL, "buy", 0.5, "market",
                                   client_order_id("bxh", 1, "close"), reduce_only=True))
    opened, closed = local_server.calls("POST", "/openApi/swap/v2/trade/order")
    assert opened.params["positionSide"] == closed.params["positionSide"] == "SHORT"
    assert "reduceOnly" not in closed.params and closed.params["side"] == "BUY"
    assert fake_bingx.position_amt == 0.0


def test_one_way_mode_sets_both_sides(venue: CcxtVenue, local_server: Any) -> None:
    venue.set_leverage(SYMBOL, 4, "cross")
    (lev,) = local_server.calls("POST", "/openApi/swap/v2/trade/leverage")
    assert lev.params["side"] == "BOTH"


def test_reduce_only_without_position_is_refused(venue: CcxtVenue) -> None:
    with pytest.raises(ExchangeError, match=r"reduce-only|reduce only"):
        venue.place_order(OrderRequest(SYMBOL, "buy", 0.1, "market",
                                       client_order_id("bx", 2, "close"), reduce_only=True))


def test_funding_signed_as_received(venue: CcxtVenue) -> None:
    pays = venue.funding_payments(SYMBOL, since_ms=1764547200000)
    assert [p.amount for p in pays] == [7.5913, -1.5183]
    assert {p.currency for p in pays} == {"USDT"}


def test_balance_is_the_equity_with_unrealised_pnl(venue: CcxtVenue, local_server: Any) -> None:
    """BingX "Query account data": ``equity`` = ``balance`` + ``unrealizedProfit``; ccxt's
    total is ``maxWithdrawAmount``. The balance check compares equity with the journal's
    PnL at the mark, so the venue's balance is ``equity``: a short 50 USDT under water."""
    local_server.route("GET", "/openApi/swap/v3/user/balance", (200, {"code": 0, "msg": "",
        "data": [{"userId": "1", "asset": "USDT", "balance": "1000.0", "equity": "950.0",
                  "unrealizedProfit": "-50.0", "realisedProfit": "0",
                  "availableMargin": "850.0", "usedMargin": "100.0", "freezedMargin": "0",
                  "maxWithdrawAmount": "850.0"}]}))
    assert venue.balance("USDT") == pytest.approx(950.0)
