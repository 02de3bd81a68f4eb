"""Stateful stand-ins for the guide's other exchanges (BingX, MEXC, WEEX, Hyperliquid).

Each fake installs routes on the parent conftest's ``local_server`` (127.0.0.1) and answers
the REST calls a REAL ccxt exchange object makes, in the shapes of the exchange's own API
documentation (and of the replies quoted in ccxt's source for that exchange). Orders are
kept by client id, fills move a one-way position, funding rows are recorded replies. The
tests then assert what ccxt built and signed: client id parameter and format, reduce-only,
margin mode and leverage, amounts in the exchange's own units.
"""

from __future__ import annotations

import copy
import itertools
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

#: a throw-away test key (never a real wallet) and the address it signs for
HL_PRIVATE_KEY = "0x" + "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
HL_WALLET = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"

Reply = tuple[int, Any]

#: the shared helpers of tests/fixtures/binance_usdm.py (loaded by tests/conftest.py,
#: which pytest imports before this one)
point_at = sys.modules["althedge_tests_binance_usdm"].point_at
net_fill = sys.modules["althedge_tests_binance_usdm"].net_fill


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class GuideFake:
    """What every fake here has: the server its routes are on, the fixture loader, the
    mark (market orders and crossing limits fill there) and the orders by client id."""

    server: Any
    load: Any
    fill_price: float = 97_600.0
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------
# Hyperliquid: POST /info (public reads by wallet address) and POST /exchange (signed
# actions). Docs: "Info endpoint" (metaAndAssetCtxs, orderStatus by oid or cloid,
# clearinghouseState, userFunding, userFills), "Exchange endpoint" (order, cancel,
# updateLeverage). Sizes are coins (szi negative = short), prices strings.
# ---------------------------------------------------------------------------------------


@dataclass
class FakeHyperliquid(GuideFake):
    """Orders by cloid."""

    fill_on_create: bool = True
    leverage: dict[int, tuple[str, int]] = field(default_factory=dict)
    fills: list[dict[str, Any]] = field(default_factory=list)
    position_szi: float = 0.0
    entry_px: float = 0.0
    actions: list[dict[str, Any]] = field(default_factory=list)
    _oids: Iterator[int] = field(default_factory=lambda: itertools.count(91_000_000_001))

    COINS = ("BTC", "ETH", "SOL")

    def install(self) -> FakeHyperliquid:
        self.server.route("POST", "/info", self._info)
        self.server.route("POST", "/exchange", self._exchange)
        return self

    # -- /info
    def _info(self, r: Any) -> Reply:
        body = json.loads(r.raw or "{}")
        kind = body.get("type")
        if kind == "metaAndAssetCtxs":
            return 200, self.load("hyperliquid_metaAndAssetCtxs.json")
        if kind == "spotMeta":
            return 200, {"universe": [], "tokens": [
                {"name": "USDC", "szDecimals": 8, "weiDecimals": 8, "index": 0,
                 "tokenId": "0x6d1e7cde53ba9467b783cb7c530ce054", "isCanonical": True}]}
        if kind == "userAbstraction":
            return 200, "default"
        if kind == "orderStatus":
            oid = body.get("oid")
            found = self.orders.get(str(oid)) or next(
                (o for o in self.orders.values() if str(o["order"]["oid"]) == str(oid)), None
            )
            if found is None:
                return 200, {"status": "unknownOid"}
            return 200, {"status": "order", "order": copy.deepcopy(found)}
        if kind == "clearinghouseState":
            return 200, self._clearinghouse()
        if kind == "userFunding":
            return 200, self.load("hyperliquid_userFunding.json")
        if kind in ("userFills", "userFillsByTime"):
            return 200, copy.deepcopy(self.fills)
        if kind in ("openOrders", "frontendOpenOrders"):
            return 200, [o["order"] for o in self.orders.values() if o["status"] == "open"]
        return 400, f"Failed to deserialize the JSON body: unknown type {kind}"

    def _clearinghouse(self) -> dict[str, Any]:
        positions = []
        if self.position_szi:
            lev_type, lev = self.leverage.get(0, ("cross", 20))
            size = abs(self.position_szi)
            value = size * self.fill_price
            upnl = self.position_szi * (self.fill_price - self.entry_px)
            margin = size * self.entry_px / lev + upnl
            positions.append({
                "type": "oneWay",
                "position": {
                    "coin": "BTC", "szi": f"{self.position_szi:.5f}",
                    "entryPx": f"{self.entry_px:.1f}", "positionValue": f"{value:.2f}",
                    "unrealizedPnl": f"{upnl:.2f}", "returnOnEquity": "0.0",
                    "liquidationPx": "144592.0",
                    "leverage": {"type": lev_type, "value": lev, "rawUsd": f"{margin:.2f}"},
                    "marginUsed": f"{margin:.2f}", "maxLeverage": 40,
                    "cumFunding": {"allTime": "-1.556", "sinceOpen": "-1.556",
                                   "sinceChange": "-1.556"},
                },
            })
        return {
            "assetPositions": positions,
            "marginSummary": {"accountValue": "100000.0", "totalNtlPos": "0.0",
                              "totalRawUsd": "100000.0", "totalMarginUsed": "0.0"},
            "crossMarginSummary": {"accountValue": "100000.0", "totalNtlPos": "0.0",
                                   "totalRawUsd": "100000.0", "totalMarginUsed": "0.0"},
            "crossMaintenanceMarginUsed": "0.0",
            "withdrawable": "100000.0",
            "time": _now_ms(),
        }

    # -- /exchange
    def _exchange(self, r: Any) -> Reply:
        body = json.loads(r.raw)
        action = body["action"]
        self.actions.append(body)
        kind = action["type"]
        if kind == "updateLeverage":
            self.leverage[int(action["asset"])] = (
                "cross" if action["isCross"] else "isolated", int(action["leverage"])
            )
            return 200, {"status": "ok", "response": {"type": "default"}}
        if kind == "order":
            return 200, {"status": "ok", "response": {"type": "order", "data": {
                "statuses": [self._place(o) for o in action["orders"]]}}}
        if kind == "cancel":
            statuses: list[Any] = []
            for c in action["cancels"]:
                hit = next((o for o in self.orders.values()
                            if str(o["order"]["oid"]) == str(c["o"])), None)
                if hit is None or hit["status"] != "open":
                    statuses.append({"error": "Order was never placed, already canceled, "
                                              "or filled."})
                else:
                    hit["status"] = "canceled"
                    statuses.append("success")
            return 200, {"status": "ok", "response": {"type": "cancel",
                                                      "data": {"statuses": statuses}}}
        return 200, {"status": "err", "response": f"unsupported action {kind}"}

    def _place(self, o: dict[str, Any]) -> Any:
        cloid = o.get("c")
        if cloid is not None and cloid in self.orders:
            return {"error": "Duplicate cloid"}  # never re-placed
        coin = self.COINS[int(o["a"])]
        size = float(o["s"])
        buy = bool(o["b"])
        oid = next(self._oids)
        if o["r"]:  # reduce-only: never opens or flips
            opposite = (self.position_szi < 0) if buy else (self.position_szi > 0)
            if not opposite:
                return {"error": "Reduce only order would increase position."}
            size = min(size, abs(self.position_szi))
        px = float(o["p"])
        crosses = (buy and px >= self.fill_price) or (not buy and px <= self.fill_price)
        filled = self.fill_on_create and crosses
        entry = {
            "coin": coin, "side": "B" if buy else "A", "limitPx": o["p"],
            "sz": "0.0" if filled else o["s"], "oid": oid, "timestamp": _now_ms(),
            "triggerCondition": "N/A", "isTrigger": False, "triggerPx": "0.0",
            "children": [], "isPositionTpsl": False, "reduceOnly": bool(o["r"]),
            "orderType": "Limit", "origSz": o["s"],
            "tif": next(iter(o["t"]["limit"].values())) if "limit" in o["t"] else None,
            "cloid": cloid,
        }
        self.orders[cloid or str(oid)] = {
            "order": entry, "status": "filled" if filled else "open",
            "statusTimestamp": _now_ms(),
        }
        if not filled:
            return {"resting": {"oid": oid, "cloid": cloid} if cloid else {"oid": oid}}
        self.position_szi, self.entry_px, _ = net_fill(
            self.position_szi, self.entry_px, size if buy else -size, self.fill_price)
        fee = size * self.fill_price * 0.00045
        self.fills.append({
            "coin": coin, "px": f"{self.fill_price:.1f}", "sz": f"{size:.5f}",
            "side": "B" if buy else "A", "time": _now_ms(), "startPosition": "0.0",
            "dir": "Open Short" if not buy else "Close Short", "closedPnl": "0.0",
            "hash": "0x" + "ab" * 32, "oid": oid, "crossed": True, "fee": f"{fee:.6f}",
            "tid": oid * 10, "feeToken": "USDC",
        })
        return {"filled": {"totalSz": f"{size:.5f}", "avgPx": f"{self.fill_price:.1f}",
                           "oid": oid, **({"cloid": cloid} if cloid else {})}}




def local_exchange(name: str, server: Any, **config: Any) -> Any:
    """A real ccxt exchange ``name`` with ``config`` (keys), every API url on ``server``."""
    import ccxt

    ex = getattr(ccxt, name)({"timeout": 5_000, **config})
    ex.has["fetchCurrencies"] = False
    return point_at(ex, server.base)


# ---------------------------------------------------------------------------------------
# BingX USDⓈ-M perpetual swap (v2 REST, every private call an HMAC-SHA256 over the sorted
# query string, header X-BX-APIKEY). Docs: "Place order" (clientOrderID 1–40 chars,
# positionSide BOTH in one-way mode, reduceOnly), "Query Order details" (by orderId or
# clientOrderId; 80016 "order not exist"), "Change Margin Type", "Set Leverage" (side BOTH
# in one-way mode), "Query position mode" (dualSidePosition), "Query positions",
# "Get Account Profit and Loss Fund Flow" (incomeType FUNDING_FEE, signed).
# ---------------------------------------------------------------------------------------


def _bx(data: Any) -> Reply:
    return 200, {"code": 0, "msg": "", "data": data}


@dataclass
class FakeBingX(GuideFake):
    """Orders by clientOrderID."""

    fill_on_create: bool = True
    dual_side: bool = False
    margin_type: str = "CROSSED"
    leverage: dict[str, int] = field(default_factory=dict)
    position_amt: float = 0.0  # signed, BTC
    entry_px: float = 0.0
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1_864_000_000_000_000_001))

    def install(self) -> FakeBingX:
        s = self.server
        s.route("GET", "/openApi/swap/v2/quote/contracts",
                lambda r: (200, self.load("bingx_swap_contracts.json")))
        s.route("GET", "/openApi/cswap/v1/market/contracts",
                lambda r: (200, self.load("bingx_cswap_contracts.json")))
        s.route("GET", "/openApi/spot/v1/common/symbols", lambda r: _bx({"symbols": []}))
        s.route("GET", "/openApi/swap/v2/quote/premiumIndex", lambda r: _bx({
            "symbol": "BTC-USDT", "markPrice": f"{self.fill_price:.1f}",
            "indexPrice": f"{self.fill_price - 10:.1f}", "lastFundingRate": "0.00010000",
            "nextFundingTime": _now_ms() + 3_600_000}))
        s.route("GET", "/openApi/swap/v1/positionSide/dual",
                lambda r: _bx({"dualSidePosition": "true" if self.dual_side else "false"}))
        s.route("POST", "/openApi/swap/v2/trade/marginType", self._margin_type)
        s.route("POST", "/openApi/swap/v2/trade/leverage", self._leverage)
        s.route("POST", "/openApi/swap/v2/trade/order", self._create)
        s.route("GET", "/openApi/swap/v2/trade/order", self._get)
        s.route("DELETE", "/openApi/swap/v2/trade/order", self._cancel)
        s.route("GET", "/openApi/swap/v2/user/positions", self._positions)
        s.route("GET", "/openApi/swap/v2/user/income",
                lambda r: (200, self.load("bingx_income_funding.json")))
        s.route("GET", "/openApi/swap/v1/maintMarginRatio",
                lambda r: (200, self.load("bingx_maintMarginRatio.json")))
        s.route("GET", "/openApi/swap/v2/trade/allFillOrders", self._fills)
        s.route("GET", "/openApi/swap/v2/trade/openOrders", lambda r: _bx({"orders": [
            self._order_row(o) for o in self.orders.values() if o["status"] == "NEW"]}))
        s.route("GET", "/openApi/swap/v2/trade/forceOrders", lambda r: _bx({"orders": []}))
        s.route("GET", "/openApi/swap/v3/user/balance", lambda r: _bx([{
            "userId": "1", "asset": "USDT", "balance": "100000.0", "equity": "100000.0",
            "unrealizedProfit": "0", "realisedProfit": "0", "availableMargin": "100000.0",
            "usedMargin": "0", "freezedMargin": "0"}]))
        return self

    def _margin_type(self, r: Any) -> Reply:
        self.margin_type = r.params["marginType"]
        return 200, {"code": 0, "msg": ""}

    def _leverage(self, r: Any) -> Reply:
        # "Set Leverage": side BOTH in one-way mode only; LONG/SHORT in hedge mode
        if (r.params["side"] == "BOTH") == self.dual_side:
            return 200, {"code": 109400, "msg": f"side {r.params['side']} does not match "
                                                "the position mode", "data": {}}
        self.leverage[r.params["side"]] = int(r.params["leverage"])
        return _bx({"leverage": int(r.params["leverage"]), "symbol": r.params["symbol"],
                    "availableLongVol": "0.0000", "availableShortVol": "0.0000"})

    def _order_row(self, o: dict[str, Any]) -> dict[str, Any]:
        return copy.deepcopy(o)

    def _create(self, r: Any) -> Reply:
        p = r.params
        cid = p.get("clientOrderID")
        if cid is not None and cid in self.orders:
            return 200, {"code": 101481, "msg": "clientOrderID duplicated", "data": {}}
        qty = float(p["quantity"])
        sell = p["side"] == "SELL"
        reduce_only = p.get("reduceOnly") == "true"
        if (p["positionSide"] == "BOTH") == self.dual_side or (reduce_only and self.dual_side):
            # "Place order": positionSide BOTH and reduceOnly belong to one-way mode
            return 200, {"code": 109400, "msg": "positionSide/reduceOnly do not match the "
                                                "position mode", "data": {}}
        if self.dual_side and not sell and p["positionSide"] == "SHORT":
            reduce_only = True  # closing the short side
        if reduce_only:
            opposite = self.position_amt > 0 if sell else self.position_amt < 0
            if not opposite:
                return 200, {"code": 101290, "msg": "reduce only order can only decrease "
                                                    "your position", "data": {}}
            qty = min(qty, abs(self.position_amt))
        price = float(p.get("price") or self.fill_price)
        crosses = p["type"] == "MARKET" or (price <= self.fill_price if sell
                                            else price >= self.fill_price)
        filled = self.fill_on_create and crosses
        oid = next(self._ids)
        row = {
            "symbol": p["symbol"], "orderId": oid, "side": p["side"],
            "positionSide": p["positionSide"], "type": p["type"], "origQty": p["quantity"],
            "price": p.get("price", "0"), "executedQty": p["quantity"] if filled else "0",
            "avgPrice": f"{self.fill_price:.1f}" if filled else "0.0",
            "cumQuote": f"{qty * self.fill_price:.4f}" if filled else "0",
            "stopPrice": "", "profit": "0.0000",
            "commission": f"{-qty * self.fill_price * 0.0005:.6f}" if filled else "0",
            "status": "FILLED" if filled else "NEW", "time": _now_ms(),
            "updateTime": _now_ms(), "clientOrderId": cid or "", "leverage": "2X",
            "workingType": "MARK_PRICE", "reduceOnly": reduce_only,
        }
        self.orders[cid or str(oid)] = row
        if filled:
            self.position_amt, self.entry_px, _ = net_fill(
                self.position_amt, self.entry_px, -qty if sell else qty, self.fill_price)
        return _bx({"order": {"symbol": p["symbol"], "orderId": oid, "side": p["side"],
                              "positionSide": p["positionSide"], "type": p["type"],
                              "clientOrderID": cid or "", "workingType": "MARK_PRICE"}})

    def _find(self, p: dict[str, str]) -> dict[str, Any] | None:
        if p.get("clientOrderId"):
            return self.orders.get(p["clientOrderId"])
        return next((o for o in self.orders.values()
                     if str(o["orderId"]) == str(p.get("orderId"))), None)

    def _get(self, r: Any) -> Reply:
        found = self._find(r.params)
        if found is None:
            return 200, {"code": 80016, "msg": "order not exist", "data": {}}
        return _bx({"order": self._order_row(found)})

    def _cancel(self, r: Any) -> Reply:
        found = self._find(r.params)
        if found is None or found["status"] != "NEW":
            return 200, {"code": 80018, "msg": "order is already filled", "data": {}}
        found["status"] = "CANCELLED"
        return _bx({"order": self._order_row(found)})

    def _positions(self, r: Any) -> Reply:
        if not self.position_amt:
            return _bx([])
        lev = self.leverage.get("BOTH", self.leverage.get("SHORT", 5))
        size = abs(self.position_amt)
        upnl = self.position_amt * (self.fill_price - self.entry_px)
        return _bx([{
            "symbol": "BTC-USDT", "positionId": "1864000000000000999",
            "positionSide": "BOTH" if not self.dual_side else "SHORT",
            "isolated": self.margin_type == "ISOLATED",
            "positionAmt": f"{self.position_amt:.4f}", "availableAmt": f"{self.position_amt:.4f}",
            "unrealizedProfit": f"{upnl:.4f}", "realisedProfit": "0.0",
            "initialMargin": f"{size * self.entry_px / lev:.4f}",
            "margin": f"{size * self.entry_px / lev + upnl:.4f}",
            "avgPrice": f"{self.entry_px:.1f}", "liquidationPrice": 145816.8,
            "leverage": lev, "positionValue": f"{size * self.fill_price:.4f}",
            "markPrice": f"{self.fill_price:.1f}", "riskRate": "0.0068",
            "maxMarginReduction": "0.0", "pnlRatio": "0.0", "updateTime": _now_ms(),
        }])

    def _fills(self, r: Any) -> Reply:
        out = [{
            "volume": o["executedQty"], "price": o["avgPrice"], "amount": o["cumQuote"],
            "commission": o["commission"], "currency": "USDT", "orderId": str(o["orderId"]),
            "liquidatedPrice": "0.0", "liquidatedMarginRatio": "0.0", "filledTime":
            time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime(o["time"] / 1000)),
            "clientOrderID": o["clientOrderId"], "symbol": o["symbol"], "side": o["side"],
            "positionSide": o["positionSide"], "role": "taker", "tradeId": str(o["orderId"] + 7),
        } for o in self.orders.values() if o["status"] == "FILLED"]
        return _bx({"fill_orders": out})


# ---------------------------------------------------------------------------------------
# MEXC futures (contract API): "Get contract info", "Place order" (vol in contracts,
# openType, leverage, side 1–4, externalOid), "Query the order based on the external
# number", "Switch leverage", "Get details of user's funding rate". ``restricted`` answers
# the order endpoint the way MEXC answers most accounts since 2022: "Under maintenance".
# ---------------------------------------------------------------------------------------


@dataclass
class FakeMexc(GuideFake):
    """Orders by externalOid."""

    restricted: bool = True
    position_vol: int = 0  # contracts, short positive
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(739_000_000_000_001))

    def install(self) -> FakeMexc:
        s = self.server
        s.route("GET", "/api/v3/exchangeInfo", lambda r: (200, {"timezone": "CST",
                                                               "symbols": []}))
        s.route("GET", "/api/v1/contract/detail",
                lambda r: (200, self.load("mexc_contract_detail.json")))
        s.route("POST", "/api/v1/private/order/create", self._create)
        s.route("POST", "/api/v1/private/order/cancel", self._cancel)
        s.route("GET", "/api/v1/private/order/external/*", self._external)
        s.route("POST", "/api/v1/private/position/change_leverage",
                lambda r: (200, {"success": True, "code": 0}))
        s.route("GET", "/api/v1/private/position/funding_records",
                lambda r: (200, self.load("mexc_funding_records.json")))
        s.route("GET", "/api/v1/private/position/open_positions", self._positions)
        s.route("GET", "/api/v1/private/order/list/open_orders", lambda r: (200, {
            "success": True, "code": 0,
            "data": [copy.deepcopy(o) for o in self.orders.values() if o["state"] == "2"]}))
        s.route("GET", "/api/v1/private/account/assets", lambda r: (200, {
            "success": True, "code": 0, "data": [{
                "currency": "USDT", "positionMargin": 0, "availableBalance": 100000,
                "cashBalance": 100000, "frozenBalance": 0, "equity": 100000,
                "unrealized": 0, "bonus": 0}]}))
        s.route("GET", "/api/v1/contract/ticker", lambda r: (200, {"success": True, "code": 0,
                "data": {"symbol": "BTC_USDT", "lastPrice": self.fill_price,
                         "fairPrice": self.fill_price, "indexPrice": self.fill_price - 10,
                         "fundingRate": 0.0001, "bid1": self.fill_price - 0.1,
                         "ask1": self.fill_price + 0.1, "volume24": 1000000,
                         "timestamp": _now_ms()}}))
        return self

    def _external(self, r: Any) -> Reply:
        """GET /api/v1/private/order/external/{symbol}/{external_oid}: a path per order."""
        found = self.orders.get(r.path.rsplit("/", 1)[1])
        return 200, {"success": True, "code": 0, "data": copy.deepcopy(found)}

    def _create(self, r: Any) -> Reply:
        if self.restricted:
            return 200, {"success": False, "code": 500, "message":
                         "Under maintenance, please try again later",
                         "announcement": "https://www.mexc.com/support/articles/17827791510263"}
        body = json.loads(r.raw)
        oid = next(self._ids)
        vol = int(body["vol"])
        side = int(body["side"])
        price = float(body.get("price") or self.fill_price)
        sells = side in (3, 4)
        crosses = int(body["type"]) in (5, 6) or (
            price <= self.fill_price if sells else price >= self.fill_price)
        if crosses:
            self.position_vol += vol if side == 3 else -vol if side == 2 else 0
        self.orders[body["externalOid"]] = {
            "orderId": str(oid), "symbol": body["symbol"], "positionId": "0",
            "price": str(body.get("price", self.fill_price)), "vol": str(vol),
            "leverage": str(body.get("leverage", "")), "side": str(side), "category": "1",
            "orderType": str(body["type"]), "dealAvgPrice": str(self.fill_price),
            "dealVol": str(vol if crosses else 0), "orderMargin": "0",
            "takerFee": f"{vol * 0.0001 * self.fill_price * 0.0005:.4f}",
            "makerFee": "0", "profit": "0", "feeCurrency": "USDT",
            "openType": str(body["openType"]), "state": "3" if crosses else "2",
            "externalOid": body["externalOid"], "errorCode": "0", "usedMargin": "0",
            "createTime": str(_now_ms()), "updateTime": str(_now_ms()), "positionMode": "2",
        }
        return 200, {"success": True, "code": 0, "data": {"orderId": str(oid), "ts": _now_ms()}}

    def _cancel(self, r: Any) -> Reply:
        ids = [str(i) for i in json.loads(r.raw)]
        out = []
        for o in self.orders.values():
            if o["orderId"] in ids and o["state"] == "2":
                o["state"] = "4"  # cancelled
                out.append({"orderId": o["orderId"], "errorCode": 0, "errorMsg": "success"})
        return 200, {"success": True, "code": 0, "data": out}

    def _positions(self, r: Any) -> Reply:
        rows = []
        if self.position_vol:
            rows.append({"positionId": 1394650, "symbol": "BTC_USDT", "positionType": 2,
                         "openType": 1, "state": 1, "holdVol": self.position_vol,
                         "frozenVol": 0, "closeVol": 0, "holdAvgPrice": self.fill_price,
                         "openAvgPrice": self.fill_price, "closeAvgPrice": 0,
                         "liquidatePrice": 146009.7, "oim": 37956.6, "im": 37956.6,
                         "holdFee": 0, "realised": 0, "leverage": 2,
                         "createTime": _now_ms(), "updateTime": _now_ms(), "autoAddIm": False})
        return 200, {"success": True, "code": 0, "data": rows}


# ---------------------------------------------------------------------------------------
# WEEX contract API v3: "Get contract info", "Place order" (quantity in coin,
# positionSide LONG/SHORT, newClientOrderId, reduceOnly), "Get current orders" /
# "Get order history" (clientOrderId), "Change margin type", "Adjust leverage".
# ---------------------------------------------------------------------------------------


@dataclass
class FakeWeex(GuideFake):
    """Orders by newClientOrderId."""

    position_btc: float = 0.0  # short positive
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(737_185_556_881_998_184))

    def install(self) -> FakeWeex:
        s = self.server
        s.route("GET", "/api/v3/exchangeInfo", lambda r: (200, {"symbols": []}))
        s.route("GET", "/capi/v3/market/exchangeInfo",
                lambda r: (200, self.load("weex_contract_exchangeInfo.json")))
        s.route("POST", "/capi/v3/account/marginType",
                lambda r: (200, {"code": "200", "msg": "success"}))
        s.route("POST", "/capi/v3/account/leverage",
                lambda r: (200, {"code": "200", "msg": "success"}))
        s.route("POST", "/capi/v3/order", self._create)
        s.route("GET", "/capi/v3/account/position/allPosition", self._positions)
        s.route("DELETE", "/capi/v3/order", self._cancel)
        s.route("GET", "/capi/v3/market/symbolPrice", lambda r: (200, {
            "symbol": "BTCUSDT", "price": f"{self.fill_price:.1f}", "time": _now_ms()}))
        s.route("GET", "/capi/v3/openOrders", lambda r: (200, [
            copy.deepcopy(o) for o in self.orders.values() if o["status"] == "NEW"]))
        s.route("GET", "/capi/v3/order/history", lambda r: (200, [
            copy.deepcopy(o) for o in self.orders.values() if o["status"] != "NEW"]))
        s.route("POST", "/capi/v3/account/income", self._income)
        s.route("GET", "/capi/v3/userTrades", lambda r: (200, [{
            "id": o["orderId"] + 7, "orderId": o["orderId"], "symbol": o["symbol"],
            "buyer": o["side"] == "BUY", "commission": f"{float(o['cumQuote']) * 0.0008:.8f}",
            "commissionAsset": "USDT", "maker": False, "price": o["avgPrice"],
            "qty": o["executedQty"], "quoteQty": o["cumQuote"], "realizedPnl": "0",
            "side": o["side"], "positionSide": o["positionSide"], "time": o["time"]}
            for o in self.orders.values() if o["status"] == "FILLED"
            and str(o["orderId"]) == r.params.get("orderId", str(o["orderId"]))]))
        s.route("GET", "/capi/v3/market/premiumIndex", lambda r: (200, [{
            "symbol": "BTCUSDT", "markPrice": f"{self.fill_price:.1f}",
            "indexPrice": f"{self.fill_price - 10:.1f}", "forecastFundingRate": "0.0001",
            "lastFundingRate": "0.0001", "interestRate": "0.001",
            "nextFundingTime": _now_ms() + 3_600_000, "time": _now_ms(),
            "collectCycle": 480}]))
        return self

    def _income(self, r: Any) -> Reply:
        """"Get income" (``incomeType`` position_funding, signed: positive = received): one
        payment just after ``startTime`` while a short is held, the shape of WEEX's docs."""
        start = int(r.params.get("startTime") or _now_ms())
        items = [] if self.position_btc <= 1e-12 else [{
            "billId": str(793_622_764_958_253_481 + start % 1000), "asset": "USDT",
            "symbol": "BTCUSDT", "income": "0.50000000", "incomeType": "position_funding",
            "balance": "100000.5", "fillFee": "0", "time": str(start + 1),
            "transferReason": "UNKNOWN_TRANSFER_REASON"}]
        return 200, {"hasNextPage": False, "nextKey": None, "items": items}

    def _cancel(self, r: Any) -> Reply:
        oid = r.params.get("orderId")
        for o in self.orders.values():
            if str(o["orderId"]) == str(oid) and o["status"] == "NEW":
                o["status"] = "CANCELED"
                return 200, copy.deepcopy(o)
        return 400, {"code": -2011, "msg": "Unknown order sent."}

    def _positions(self, r: Any) -> Reply:
        if self.position_btc <= 1e-12:
            return 200, []
        value = self.position_btc * self.fill_price
        return 200, [{
            "id": 737191855967437160, "asset": "USDT", "symbol": "BTCUSDT", "side": "SHORT",
            "marginType": "ISOLATED", "separatedMode": "COMBINED", "separatedOpenOrderId": 0,
            "leverage": "2.00", "size": f"{self.position_btc:.4f}", "openValue": f"{value:.5f}",
            "openFee": f"{value * 0.0008:.8f}", "fundingFee": "0", "marginSize": f"{value / 2:.5f}",
            "isolatedMargin": f"{value / 2:.5f}", "isAutoAppendIsolatedMargin": False,
            "cumOpenSize": f"{self.position_btc:.4f}", "cumOpenValue": f"{value:.5f}",
            "cumOpenFee": "0", "cumCloseSize": "0", "cumCloseValue": "0", "cumCloseFee": "0",
            "cumFundingFee": "0", "cumLiquidateFee": "0", "createdMatchSequenceId": 1,
            "updatedMatchSequenceId": 2, "createdTime": _now_ms(), "updatedTime": _now_ms(),
            "unrealizePnl": "0.00000", "liquidatePrice": "145671.7",
        }]

    def _create(self, r: Any) -> Reply:
        body = json.loads(r.raw) if r.raw.lstrip().startswith("{") else r.params
        cid = body["newClientOrderId"]
        qty = float(body["quantity"])
        reduce_only = str(body.get("reduceOnly")).lower() == "true"
        if reduce_only and self.position_btc <= 0:
            return 400, {"code": -2022, "msg": "ReduceOnly Order is rejected."}
        oid = next(self._ids)
        price = float(body.get("price") or self.fill_price)
        crosses = body["type"] == "MARKET" or (
            price <= self.fill_price if body["side"] == "SELL" else price >= self.fill_price)
        if crosses:
            self.position_btc += -qty if reduce_only else qty
        self.orders[cid] = {
            "avgPrice": f"{self.fill_price:.1f}", "clientOrderId": cid,
            "cumQuote": f"{qty * self.fill_price:.4f}" if crosses else "0",
            "executedQty": body["quantity"] if crosses else "0",
            "orderId": oid, "origQty": body["quantity"], "price": body.get("price", "0"),
            "reduceOnly": reduce_only, "side": body["side"],
            "positionSide": body["positionSide"], "status": "FILLED" if crosses else "NEW",
            "stopPrice": "0",
            "symbol": body["symbol"], "time": _now_ms(), "timeInForce": "GTC",
            "type": body["type"], "updateTime": _now_ms(), "workingType": "UNKNOWN_PRICE_TYPE",
        }
        return 200, {"orderId": oid, "clientOrderId": cid, "success": True}


def exchange_fixtures(name: str, fake: type, *, keys: bool = True, **config: Any) -> Any:
    """The fixtures ``fake_<name>`` (the fake's routes on ``local_server``) and ``<name>``
    (a real ccxt ``name`` on it with the test keys, else ``config``) — one pair per
    exchange, made here."""

    @pytest.fixture(name=f"fake_{name}")
    def fake_fixture(local_server: Any, load_fixture: Any) -> Any:
        return fake(local_server, load_fixture).install()

    @pytest.fixture(name=name)
    def exchange_fixture(request: pytest.FixtureRequest, local_server: Any,
                         api_keys: tuple[str, str]) -> Any:
        request.getfixturevalue(f"fake_{name}")
        auth = {"apiKey": api_keys[0], "secret": api_keys[1]} if keys else {}
        return local_exchange(name, local_server, **auth, **config)

    return fake_fixture, exchange_fixture


fake_hyperliquid, hyperliquid = exchange_fixtures(
    "hyperliquid", FakeHyperliquid, keys=False, walletAddress=HL_WALLET,
    privateKey=HL_PRIVATE_KEY, options={"fetchMarkets": {"types": ["swap"]}})
fake_bingx, bingx = exchange_fixtures("bingx", FakeBingX)
fake_mexc, mexc = exchange_fixtures("mexc", FakeMexc)
fake_weex, weex = exchange_fixtures("weex", FakeWeex, password="weex-passphrase-123")
