"""MEXC: restricted API order placement told before anything is sent; what is sent when
the account has access (contracts of 0.0001 BTC, openType, leverage, side 3 = open short,
externalOid); lookup by external id; planning data still works.

MEXC futures API docs ("Place order", "Query the order based on the external number");
the restriction: MEXC's order endpoints answer ``{"code": 500, "message": "Under
maintenance, please try again later"}`` to most accounts since 2022 (ccxt maps it to
OnMaintenance).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from althedge.errors import VenueRestrictedError
from althedge.exchanges.mexc import ORDER_OPT_IN_ENV
from althedge.venues.ccxt_venue import CcxtVenue
from althedge.venues.credentials import Credentials
from althedge.venues.protocol import OrderRequest, client_order_id

from .conftest import FakeMexc

SYMBOL = "BTC/USDT:USDT"


@pytest.fixture
def venue(mexc: Any, api_keys: tuple[str, str]) -> CcxtVenue:
    key, secret = api_keys
    return CcxtVenue(mexc, credentials=Credentials("mexc", key, secret), sleep=lambda _s: None)


def _order(step: int = 0) -> OrderRequest:
    return OrderRequest(SYMBOL, "sell", 7_778, "limit", client_order_id("mx", step, "open"),
                        price=97_590.0)


def test_refused_before_anything_is_sent(
    venue: CcxtVenue, local_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ORDER_OPT_IN_ENV, raising=False)
    inst = venue.instrument(SYMBOL)  # market data still works
    assert inst.contract_size == 0.0001 and inst.lot_step == 1
    with pytest.raises(VenueRestrictedError) as info:
        venue.place_order(_order())
    msg = str(info.value)
    assert "restricts futures order placement" in msg and ORDER_OPT_IN_ENV in msg
    assert "\n" not in msg
    assert not local_server.calls("POST", "/api/v1/private/order/create")


def test_maintenance_answer_becomes_the_same_sentence(
    venue: CcxtVenue, local_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ORDER_OPT_IN_ENV, "enabled")
    venue.set_leverage(SYMBOL, 2, "isolated")
    with pytest.raises(VenueRestrictedError, match="refused it as restricted"):
        venue.place_order(_order())
    assert len(local_server.calls("POST", "/api/v1/private/order/create")) == 1


def test_with_access_the_order_is_in_contracts_with_margin_mode_and_leverage(
    venue: CcxtVenue, local_server: Any, fake_mexc: FakeMexc,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ORDER_OPT_IN_ENV, "enabled")
    fake_mexc.restricted = False
    venue.set_leverage(SYMBOL, 2, "isolated")
    order = _order(1)
    res = venue.place_order(order)
    assert res.client_order_id == order.client_order_id and res.status == "filled"
    (create,) = local_server.calls("POST", "/api/v1/private/order/create")
    body = json.loads(create.raw)
    assert body["vol"] == 7778 and body["side"] == 3  # 3 = open short
    assert body["openType"] == 1 and body["leverage"] == 2  # isolated, the leg's leverage
    assert body["externalOid"] == order.client_order_id
    assert body["price"] == 97590
    (lev,) = local_server.calls("POST", "/api/v1/private/position/change_leverage")
    assert json.loads(lev.raw) == {"leverage": 2, "openType": 1, "positionType": 2,
                                   "symbol": "BTC_USDT"}
    again = venue.place_order(order)  # found by externalOid: not re-sent
    assert again.exchange_order_id == res.exchange_order_id
    assert len(local_server.calls("POST", "/api/v1/private/order/create")) == 1
    pos = venue.position(SYMBOL)
    assert pos is not None and pos.side.name == "SHORT" and pos.contracts == 7778


def test_funding_reads_work_without_order_access(venue: CcxtVenue,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ORDER_OPT_IN_ENV, raising=False)
    pays = venue.funding_payments(SYMBOL, since_ms=1764547200000)
    assert [p.amount for p in pays] == [7.591328, -1.518266]


def test_balance_is_the_equity_with_unrealised_pnl(venue: CcxtVenue, local_server: Any) -> None:
    """MEXC "Get all informations of user's asset": ``equity`` = cash + ``unrealized``;
    ccxt's total is availableBalance + frozenBalance (no position margin, no PnL). The
    balance check compares equity with the journal's PnL at the mark: 50 USDT under water."""
    local_server.route("GET", "/api/v1/private/account/assets", (200, {
        "success": True, "code": 0, "data": [{
            "currency": "USDT", "positionMargin": 100, "availableBalance": 850,
            "cashBalance": 1000, "frozenBalance": 0, "equity": 950, "unrealized": -50,
            "bonus": 0}]}))
    assert venue.balance("USDT") == pytest.approx(950.0)
