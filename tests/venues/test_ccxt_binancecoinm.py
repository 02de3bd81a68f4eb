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


def test_coin_collateral_balance_equity_and_transfers(coinm: Any) -> None:
    """COIN-M margins BTCUSD_PERP with BTC: the balance is in BTC, equity values it at
    the mark; transfers of BTC into the COIN-M wallet (GET /dapi/v1/income,
    incomeType=TRANSFER) are the deposits, in BTC."""
    venue, srv = coinm
    opened = 1_763_000_000_000
    srv.route("GET", "/dapi/v1/account", (200, {"assets": [{
        "asset": "BTC", "walletBalance": "0.25", "unrealizedProfit": "0.01",
        "marginBalance": "0.26", "maintMargin": "0", "initialMargin": "0",
        "positionInitialMargin": "0", "openOrderInitialMargin": "0", "maxWithdrawAmount": "0.25",
        "crossWalletBalance": "0.25", "crossUnPnl": "0.01", "availableBalance": "0.25",
        "updateTime": 1_764_072_000_000}], "positions": [], "canTrade": True}))
    srv.route("GET", "/dapi/v1/premiumIndex", (200, [{
        "symbol": "BTCUSD_PERP", "pair": "BTCUSD", "markPrice": "90000", "indexPrice": "90000",
        "estimatedSettlePrice": "90000", "lastFundingRate": "0.0001", "interestRate": "0.0001",
        "nextFundingTime": 1_764_086_400_000, "time": 1_764_072_000_000}]))
    srv.route("GET", "/dapi/v1/income", (200, [
        {"symbol": "", "incomeType": "TRANSFER", "income": "0.05", "asset": "BTC",
         "info": "TRANSFER", "time": opened + 3_600_000, "tranId": 77, "tradeId": ""}]))
    venue.exchange.milliseconds = lambda: opened + 86_400_000
    venue.instrument("BTC/USD:BTC")
    assert venue.balance("BTC") == pytest.approx(0.26)
    assert venue.equity_usd() == pytest.approx(0.26 * 90_000)
    (dep,) = venue.deposits_since(opened, ["BTC"])
    assert (dep.currency, dep.amount, dep.kind) == ("BTC", 0.05, "transfer")
    (call,) = srv.calls("GET", "/dapi/v1/income")
    assert call.params["incomeType"] == "TRANSFER" and call.params["startTime"] == str(opened)


def test_balance_is_the_margin_balance_with_unrealised_pnl(coinm: Any) -> None:
    """COIN-M "Account Information" (GET /dapi/v1/account): ``marginBalance`` (ccxt's
    total) = ``walletBalance`` + ``unrealizedProfit``: the figure the balance check
    compares with the journal's PnL at the mark — a short 0.002 BTC under water."""
    venue, srv = coinm
    srv.route("GET", "/dapi/v1/account", (200, {"assets": [{
        "asset": "BTC", "walletBalance": "0.25", "unrealizedProfit": "-0.002",
        "marginBalance": "0.248", "maintMargin": "0.001", "initialMargin": "0.01",
        "positionInitialMargin": "0.01", "openOrderInitialMargin": "0",
        "maxWithdrawAmount": "0.238", "crossWalletBalance": "0.25", "crossUnPnl": "-0.002",
        "availableBalance": "0.238", "updateTime": 1_764_072_000_000}], "positions": [],
        "canTrade": True}))
    assert venue.balance("BTC") == pytest.approx(0.248)
