"""Stateful offline OKX and Deribit for real ``althedge`` processes (``ALTHEDGE_CCXT_GATEWAY``).

Each fake installs routes on a 127.0.0.1 server (tests/fixtures/binance_usdm.py's
``serve``; the gateway's ``/<host>/<path>`` is matched on ``<path>``) and answers the REST
calls a REAL ccxt exchange object makes inside the ``althedge`` process, in the shapes of
the exchange's API documentation and of the replies quoted in ccxt's source for it
(``ts/src/okx.ts``, ``ts/src/deribit.ts``; ``ts/src/test/static/response``):

* OKX API v5: instruments, mark price, funding rate, account config (net mode), set
  leverage, place / get / cancel order by ``clOrdId``, pending orders, positions
  (``pos`` in contracts of 0.01 BTC, negative = short), balance (``eq``), bills
  (``type=8`` funding, ``type=1`` transfers) and the order history archive, where the
  risk engine's liquidation order appears with ``category=full_liquidation``;
* Deribit API v2 (JSON-RPC over GET): instruments, ticker, buy / sell (``amount`` in USD,
  ``label`` = althedge's client id), orders by label, open orders, positions (``size`` in
  USD, negative = short), account summaries, transaction log and the user's trades by
  instrument, where a liquidation is a trade whose ``liquidation`` names our side.

:meth:`FakeOkx.liquidate` / :meth:`FakeDeribit.liquidate` make the exchange close the
short the way its risk engine does (the position gone, the liquidation order / trade in
the history).
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_model = sys.modules["althedge_tests_binance_usdm"]  # tests/conftest.py loaded it
fixture_json = _model.fixture_json
Recorded = _model.Recorded

Reply = tuple[int, Any]

#: OKX "Get position tiers" for BTC-USDT (tests/fixtures/ccxt_data, recorded shape)
TIERS = Path(__file__).resolve().parents[2] / "fixtures" / "ccxt_data" / "okx_position_tiers.json"


#: a fixture without its ``_comment`` (a deep copy)
_clean = _model._clean

#: fake credentials (recognisable should they ever leak into output or files)
OKX_KEYS = {"ALTHEDGE_OKX_API_KEY": "OKfakeKEY3e8a1c5d7f", "ALTHEDGE_OKX_SECRET":
            "OKfakeSECRET6b2d9f4a1e", "ALTHEDGE_OKX_PASSWORD": "OKfakePASS8c3e"}
DERIBIT_KEYS = {"ALTHEDGE_DERIBIT_API_KEY": "DBfakeKEY7a1c3e5f",
                "ALTHEDGE_DERIBIT_SECRET": "DBfakeSECRET2b4d6f8a0c"}


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Exchange:
    """What both fakes share: the server, the fake keys, the mark, the CLI runner."""

    server: Any
    keys: dict[str, str]
    fill_price: float = 88_000.0
    #: called with each new order once the exchange has it, before the reply goes out
    after_create: Any = None
    #: answer the next order posts with HTTP 429 (OKX 50011 / Deribit 10028), not taking
    #: them
    throttle_next: int = 0

    def set_mark(self, price: float) -> None:
        with self.server.lock:
            self.fill_price = price

    def cli_env(self, home: Path, **extra: str) -> dict[str, str]:
        env = {**os.environ, "ALTHEDGE_HOME": str(home),
               "ALTHEDGE_CCXT_GATEWAY": self.server.base, **self.keys, **extra}
        return env

    def althedge(self, home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """``python -m althedge ARGS`` (the real console entry) against this exchange."""
        return subprocess.run([sys.executable, "-m", "althedge", *args], capture_output=True,
                              text=True, env=self.cli_env(home, **env), timeout=240)


# ---------------------------------------------------------------------------------------
# OKX API v5. Every reply is {"code": "0", "msg": "", "data": [...]}; sizes in contracts
# of ctVal = 0.01 BTC (okx_instruments_swap.json); one net-mode account.
# ---------------------------------------------------------------------------------------


def _ok(data: Any) -> Reply:
    return 200, {"code": "0", "msg": "", "data": data}


@dataclass
class FakeOkx(Exchange):
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)  # by clOrdId
    #: orders the risk engine placed (GET /api/v5/trade/orders-history-archive)
    engine_orders: list[dict[str, Any]] = field(default_factory=list)
    fills: list[dict[str, Any]] = field(default_factory=list)
    bills: list[dict[str, Any]] = field(default_factory=list)
    pos: float = 0.0  # contracts, negative = short
    avg_px: float = 0.0
    lever: str = "2"
    mgn_mode: str = "isolated"
    usdt: float = 100_000.0
    ct_val: float = 0.01
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(680_800_019_749_904_384))
    _bill_ids: Iterator[int] = field(default_factory=lambda: itertools.count(700_000_001))

    def install(self) -> FakeOkx:
        s = self.server
        s.route("GET", "/api/v5/public/time", lambda r: _ok([{"ts": str(_now_ms())}]))
        s.route("GET", "/api/v5/public/instruments", lambda r: (
            (200, _clean(fixture_json("okx_instruments_swap.json")))
            if r.params.get("instType") == "SWAP" else _ok([])))
        s.route("GET", "/api/v5/public/mark-price", lambda r: _ok([{
            "instType": "SWAP", "instId": "BTC-USDT-SWAP", "markPx": f"{self.fill_price:.1f}",
            "ts": str(_now_ms())}]))
        s.route("GET", "/api/v5/market/ticker", lambda r: _ok([self._ticker()]))
        s.route("GET", "/api/v5/public/funding-rate", lambda r: _ok([{
            "instType": "SWAP", "instId": "BTC-USDT-SWAP", "method": "current_period",
            "fundingRate": "0.0001", "nextFundingRate": "", "premium": "0.0001",
            "fundingTime": str(_now_ms() + 3_600_000),
            "nextFundingTime": str(_now_ms() + 31_200_000), "minFundingRate": "-0.00375",
            "maxFundingRate": "0.00375", "settState": "settled", "settFundingRate": "0.0001",
            "interestRate": "0.0001", "impactValue": "", "ts": str(_now_ms())}]))
        s.route("GET", "/api/v5/public/position-tiers",
                lambda r: _ok(json.loads(TIERS.read_text())))
        s.route("GET", "/api/v5/account/config",
                lambda r: _ok([{"posMode": "net_mode", "acctLv": "2", "uid": "44705892343619584"}]))
        s.route("POST", "/api/v5/account/set-leverage", self._set_leverage)
        s.route("POST", "/api/v5/trade/order", self._create)
        s.route("POST", "/api/v5/trade/batch-orders", self._create)
        s.route("GET", "/api/v5/trade/order", self._get)
        s.route("POST", "/api/v5/trade/cancel-order", self._cancel)
        s.route("GET", "/api/v5/trade/orders-pending", lambda r: _ok([
            copy.deepcopy(o) for o in self.orders.values() if o["state"] == "live"]))
        s.route("GET", "/api/v5/trade/orders-history-archive", self._history)
        s.route("GET", "/api/v5/trade/orders-history", self._history)
        s.route("GET", "/api/v5/trade/fills", self._fills)
        s.route("GET", "/api/v5/trade/fills-history", self._fills)
        s.route("GET", "/api/v5/account/positions", lambda r: _ok(self._positions()))
        s.route("GET", "/api/v5/account/balance", lambda r: _ok([self._balance()]))
        s.route("GET", "/api/v5/account/bills-archive", self._bills)
        s.route("GET", "/api/v5/account/bills", self._bills)
        return self

    # -- orders
    def _ticker(self) -> dict[str, Any]:
        px = f"{self.fill_price:.1f}"
        return {"instType": "SWAP", "instId": "BTC-USDT-SWAP", "last": px, "lastSz": "1",
                "askPx": px, "askSz": "10", "bidPx": px, "bidSz": "10", "open24h": px,
                "high24h": px, "low24h": px, "volCcy24h": "1000", "vol24h": "100000",
                "sodUtc0": px, "sodUtc8": px, "ts": str(_now_ms())}

    def _set_leverage(self, r: Recorded) -> Reply:
        body = json.loads(r.raw)
        self.lever, self.mgn_mode = str(body["lever"]), str(body["mgnMode"])
        return _ok([{"instId": body.get("instId", ""), "lever": self.lever,
                     "mgnMode": self.mgn_mode, "posSide": ""}])

    def _create(self, r: Recorded) -> Reply:
        """POST /api/v5/trade/order ("Place order"; ccxt may use batch-orders with one)."""
        body = json.loads(r.raw)
        body = body[0] if isinstance(body, list) else body
        if self.throttle_next > 0:
            self.throttle_next -= 1
            return 429, {"code": "50011", "msg": "Rate limit reached. Please refer to API "
                         "documentation and throttle requests accordingly", "data": []}
        cid = body["clOrdId"]
        if cid in self.orders:
            return 200, {"code": "1", "msg": "All operations failed", "data": [{
                "clOrdId": cid, "ordId": "", "sCode": "51016", "sMsg": "Duplicated clOrdId",
                "tag": ""}]}
        reduce = str(body.get("reduceOnly")).lower() == "true"
        sz = float(body["sz"])
        buy = body["side"] == "buy"
        if reduce and (self.pos >= 0 if buy else self.pos <= 0):
            return 200, {"code": "1", "msg": "All operations failed", "data": [{
                "clOrdId": cid, "ordId": "", "sCode": "51169", "sMsg": "Order failed because "
                "you don't have any positions in this direction for this contract to reduce "
                "or close.", "tag": ""}]}
        o = _clean(fixture_json("okx_order.json"))
        now = str(_now_ms())
        o.update(ordId=str(next(self._ids)), clOrdId=cid, side=body["side"], sz=body["sz"],
                 px=body.get("px", ""), ordType=body["ordType"], tdMode=body["tdMode"],
                 reduceOnly="true" if reduce else "false", lever=self.lever, cTime=now,
                 uTime=now)
        self.orders[cid] = o
        px = self.fill_price if body["ordType"] == "market" else float(body["px"])
        self._fill(o, sz, px, maker=body["ordType"] != "market")
        if self.after_create is not None:
            self.after_create(o)
        return _ok([{"clOrdId": cid, "ordId": o["ordId"], "sCode": "0",
                     "sMsg": "Order placed", "tag": "", "ts": now}])

    def _fill(self, o: dict[str, Any], sz: float, px: float, *, maker: bool) -> None:
        """The order fills in full at ``px``: the position, fee and realised PnL move."""
        signed = sz if o["side"] == "buy" else -sz
        self.pos, self.avg_px, pnl_per_ct = _model.net_fill(self.pos, self.avg_px, signed, px)
        pnl = pnl_per_ct * self.ct_val
        fee = sz * self.ct_val * px * (0.0002 if maker else 0.0005)
        self.usdt += pnl - fee
        now = str(_now_ms())
        o.update(state="filled", accFillSz=f"{sz:g}", fillSz=f"{sz:g}", avgPx=f"{px:.1f}",
                 fillPx=f"{px:.1f}", fillTime=now, fee=f"{-fee:.8f}", pnl=f"{pnl:.8f}",
                 uTime=now)
        self.fills.append({
            "instType": "SWAP", "instId": "BTC-USDT-SWAP", "tradeId": str(len(self.fills) + 1),
            "ordId": o["ordId"], "clOrdId": o["clOrdId"], "billId": str(next(self._bill_ids)),
            "subType": "1" if signed < 0 else "2", "tag": "", "fillPx": f"{px:.1f}",
            "fillSz": f"{sz:g}", "fillPnl": f"{pnl:.8f}", "side": o["side"], "posSide": "net",
            "execType": "M" if maker else "T", "feeCcy": "USDT", "fee": f"{-fee:.8f}",
            "ts": now, "fillTime": now})

    def _find(self, r: Recorded) -> dict[str, Any] | None:
        cid, oid = r.params.get("clOrdId"), r.params.get("ordId")
        if cid:
            return self.orders.get(cid)
        return next((o for o in self.orders.values() if o["ordId"] == oid), None)

    def _get(self, r: Recorded) -> Reply:
        o = self._find(r)
        if o is None:
            return 200, {"code": "51603", "msg": "Order does not exist", "data": []}
        return _ok([copy.deepcopy(o)])

    def _cancel(self, r: Recorded) -> Reply:
        body = json.loads(r.raw)
        body = body[0] if isinstance(body, list) else body
        o = self._find(Recorded("POST", "", {k: str(v) for k, v in body.items()}, {}, ""))
        if o is None or o["state"] != "live":
            return 200, {"code": "1", "msg": "", "data": [{
                "clOrdId": body.get("clOrdId", ""), "ordId": body.get("ordId", ""),
                "sCode": "51400", "sMsg": "Order cancellation failed as the order has been "
                "filled, canceled or does not exist"}]}
        o["state"] = "canceled"
        return _ok([{"clOrdId": o["clOrdId"], "ordId": o["ordId"], "sCode": "0", "sMsg": ""}])

    def _history(self, r: Recorded) -> Reply:
        """GET /api/v5/trade/orders-history-archive: newest first, ``category`` filter."""
        rows = [o for o in [*self.orders.values(), *self.engine_orders]
                if o["state"] != "live"
                and r.params.get("category") in (None, o["category"])
                and int(r.params.get("begin", 0)) <= int(o["uTime"])
                <= int(r.params.get("end", 10**15))]
        rows.sort(key=lambda o: -int(o["uTime"]))
        return _ok(copy.deepcopy(rows[: int(r.params.get("limit", 100))]))

    def _fills(self, r: Recorded) -> Reply:
        rows = [f for f in self.fills if r.params.get("ordId") in (None, f["ordId"])]
        return _ok(copy.deepcopy(rows[::-1]))

    # -- account
    def _positions(self) -> list[dict[str, Any]]:
        if self.pos == 0:
            return []
        size = abs(self.pos) * self.ct_val
        lev = float(self.lever)
        upl = self.pos * self.ct_val * (self.fill_price - self.avg_px)
        margin = size * self.avg_px / lev
        mmr = size * self.fill_price * 0.004  # tier 1 of okx_position_tiers.json
        liq = self.avg_px * (1 + 1 / lev) / (1 + 0.004)  # isolated short
        now = str(_now_ms())
        return [{
            "instType": "SWAP", "instId": "BTC-USDT-SWAP", "mgnMode": self.mgn_mode,
            "posId": "307173036051017730", "posSide": "net", "pos": f"{self.pos:g}",
            "posCcy": "", "availPos": f"{abs(self.pos):g}", "avgPx": f"{self.avg_px:.1f}",
            "markPx": f"{self.fill_price:.1f}", "upl": f"{upl:.8f}",
            "uplRatio": f"{upl / margin:.8f}", "lever": self.lever,
            "liqPx": f"{liq:.1f}" if self.mgn_mode == "isolated" else "",
            "imr": "" if self.mgn_mode == "isolated" else f"{margin:.8f}",
            "margin": f"{margin:.8f}" if self.mgn_mode == "isolated" else "",
            "mgnRatio": f"{(margin + upl) / mmr:.8f}", "mmr": f"{mmr:.8f}",
            "notionalUsd": f"{size * self.fill_price:.8f}", "ccy": "USDT",
            "last": f"{self.fill_price:.1f}", "adl": "1", "realizedPnl": "0",
            "cTime": now, "uTime": now}]

    def _balance(self) -> dict[str, Any]:
        upl = self.pos * self.ct_val * (self.fill_price - self.avg_px) if self.pos else 0.0
        eq = self.usdt + upl
        now = str(_now_ms())
        return {"totalEq": f"{eq:.8f}", "adjEq": "", "imr": "", "mmr": "", "uTime": now,
                "details": [{"ccy": "USDT", "eq": f"{eq:.8f}", "cashBal": f"{self.usdt:.8f}",
                             "availBal": f"{self.usdt:.8f}", "availEq": f"{eq:.8f}",
                             "frozenBal": "0", "ordFrozen": "0", "upl": f"{upl:.8f}",
                             "disEq": f"{eq:.8f}", "eqUsd": f"{eq:.8f}", "uTime": now}]}

    def _bills(self, r: Recorded) -> Reply:
        """GET /api/v5/account/bills-archive: newest first, ``type``/``begin``/``end``,
        paged ``after`` a bill id."""
        rows = [b for b in self.bills
                if r.params.get("type") in (None, b["type"])
                and int(r.params.get("begin", 0)) <= int(b["ts"])
                <= int(r.params.get("end", 10**15))
                and int(b["billId"]) < int(r.params.get("after", 10**18))]
        rows.sort(key=lambda b: -int(b["ts"]))
        return _ok(copy.deepcopy(rows[: int(r.params.get("limit", 100))]))

    def liquidate(self, price: float) -> dict[str, Any]:
        """OKX's risk engine takes the whole short over at ``price`` (the position is gone):
        its order, ``category`` full_liquidation, lands in the order history."""
        with self.server.lock:
            sz = abs(self.pos)
            now = str(_now_ms())
            o = _clean(fixture_json("okx_order.json"))
            o.update(ordId=str(next(self._ids)), clOrdId="", category="full_liquidation",
                     side="buy", sz=f"{sz:g}", ordType="market", px="", reduceOnly="true",
                     tdMode=self.mgn_mode, cTime=now, uTime=now)
            self.fill_price = price
            self._fill(o, sz, price, maker=False)
            self.engine_orders.append(o)
            return o


@contextlib.contextmanager
def serve_okx(**settings: Any) -> Iterator[FakeOkx]:
    with _model.serve() as srv:
        yield FakeOkx(srv, OKX_KEYS, **settings).install()


# ---------------------------------------------------------------------------------------
# Deribit API v2: JSON-RPC over GET, every reply {"jsonrpc": "2.0", "result": ...}; order
# and position amounts in USD (BTC-PERPETUAL: 10 USD contracts, deribit_get_instruments
# .json), the account in BTC (cross margin, one currency).
# ---------------------------------------------------------------------------------------


def _rpc(result: Any) -> Reply:
    return 200, {"jsonrpc": "2.0", "result": result, "usIn": _now_ms() * 1000,
                 "usOut": _now_ms() * 1000 + 100, "usDiff": 100, "testnet": False}


def _rpc_error(code: int, message: str, http: int = 400) -> Reply:
    return http, {"jsonrpc": "2.0", "error": {"code": code, "message": message},
                  "usIn": 0, "usOut": 0, "usDiff": 0, "testnet": False}


@dataclass
class FakeDeribit(Exchange):
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)  # by order_id
    trades: list[dict[str, Any]] = field(default_factory=list)
    size_usd: float = 0.0  # negative = short
    avg_px: float = 0.0
    btc: float = 0.3  # the BTC wallet (collateral of the inverse short)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(31_274_953_513))
    _trade_ids: Iterator[int] = field(default_factory=lambda: itertools.count(289_000_001))

    def install(self) -> FakeDeribit:
        s = self.server
        s.route("GET", "/api/v2/public/get_time", lambda r: _rpc(_now_ms()))
        s.route("GET", "/api/v2/public/get_instruments",
                lambda r: (200, _clean(fixture_json("deribit_get_instruments.json"))))
        s.route("GET", "/api/v2/public/get_currencies",
                lambda r: (200, _clean(fixture_json("deribit_get_currencies.json"))))
        s.route("GET", "/api/v2/public/ticker", lambda r: _rpc(self._ticker()))
        s.route("GET", "/api/v2/public/get_index_price", lambda r: _rpc({
            "index_price": self.fill_price, "estimated_delivery_price": self.fill_price}))
        # public/get_funding_rate_value: the funding over [start, end] (one number)
        s.route("GET", "/api/v2/public/get_funding_rate_value", lambda r: _rpc(0.0001))
        s.route("GET", "/api/v2/private/buy", lambda r: self._create(r, "buy"))
        s.route("GET", "/api/v2/private/sell", lambda r: self._create(r, "sell"))
        s.route("GET", "/api/v2/private/cancel", self._cancel)
        s.route("GET", "/api/v2/private/get_order_state", lambda r: (
            _rpc(copy.deepcopy(self.orders[r.params["order_id"]]))
            if r.params.get("order_id") in self.orders
            else _rpc_error(11044, "not_open_order")))
        s.route("GET", "/api/v2/private/get_order_state_by_label", lambda r: _rpc([
            copy.deepcopy(o) for o in self.orders.values() if o["label"] == r.params["label"]]))
        for path in ("get_open_orders_by_instrument", "get_open_orders_by_currency",
                     "get_open_orders"):
            s.route("GET", f"/api/v2/private/{path}", lambda r: _rpc([
                copy.deepcopy(o) for o in self.orders.values() if o["order_state"] == "open"]))
        s.route("GET", "/api/v2/private/get_positions", lambda r: _rpc(self._positions()))
        s.route("GET", "/api/v2/private/get_position", lambda r: (
            _rpc(self._positions()[0]) if self.size_usd else _rpc_error(
                10004, "order_not_found")))
        s.route("GET", "/api/v2/private/get_account_summary",
                lambda r: _rpc(self._summary()))
        s.route("GET", "/api/v2/private/get_account_summaries",
                lambda r: _rpc({"summaries": [self._summary()], "id": 1, "email": "",
                                "type": "main", "username": "althedge-test"}))
        s.route("GET", "/api/v2/private/get_user_trades_by_instrument_and_time",
                self._user_trades)
        s.route("GET", "/api/v2/private/get_user_trades_by_order", lambda r: _rpc([
            copy.deepcopy(t) for t in self.trades if t["order_id"] == r.params["order_id"]]))
        s.route("GET", "/api/v2/private/get_user_trades_by_instrument", self._user_trades)
        s.route("GET", "/api/v2/private/get_transaction_log",
                lambda r: _rpc({"logs": [], "continuation": None}))
        for path in ("get_deposits", "get_withdrawals", "get_transfers"):
            s.route("GET", f"/api/v2/private/{path}", lambda r: _rpc({"count": 0, "data": []}))
        return self

    def _ticker(self) -> dict[str, Any]:
        px = self.fill_price
        return {"instrument_name": "BTC-PERPETUAL", "mark_price": px, "index_price": px,
                "last_price": px, "best_bid_price": px - 0.5, "best_ask_price": px + 0.5,
                "best_bid_amount": 10_000.0, "best_ask_amount": 10_000.0,
                "current_funding": 0.0, "funding_8h": 0.0001, "interest_value": 0.0,
                "open_interest": 1_000_000_000.0, "settlement_price": px, "state": "open",
                "min_price": px * 0.97, "max_price": px * 1.03, "estimated_delivery_price": px,
                "stats": {"volume_usd": 1e9, "volume": 1e4, "price_change": 0.0,
                          "low": px, "high": px}, "timestamp": _now_ms()}

    def _create(self, r: Recorded, direction: str) -> Reply:
        """private/buy and private/sell: ``amount`` in USD, ``label`` our client id."""
        if self.throttle_next > 0:
            self.throttle_next -= 1
            return _rpc_error(10028, "too_many_requests", http=429)
        p = r.params
        amount = float(p["amount"])
        reduce = p.get("reduce_only") == "true"
        if reduce and (self.size_usd >= 0 if direction == "buy" else self.size_usd <= 0):
            return _rpc_error(11050, "bad_request")  # nothing to reduce
        o = _clean(fixture_json("deribit_order.json"))
        now = _now_ms()
        market = p.get("type") == "market"
        px = self.fill_price if market else float(p["price"])
        o.update(order_id=str(next(self._ids)), label=p.get("label", ""), direction=direction,
                 amount=amount, price=px if not market else "market_price",
                 order_type=p.get("type", "limit"), reduce_only=reduce,
                 creation_timestamp=now, last_update_timestamp=now)
        self.orders[o["order_id"]] = o
        trade = self._fill(o, amount, px, maker=not market)
        if self.after_create is not None:
            self.after_create(o)
        return _rpc({"order": copy.deepcopy(o), "trades": [trade]})

    def _fill(self, o: dict[str, Any], amount: float, px: float, *, maker: bool,
              liquidation: str | None = None) -> dict[str, Any]:
        """The order fills in full at ``px``: position (USD), average price, BTC wallet."""
        signed = amount if o["direction"] == "buy" else -amount
        self.size_usd, self.avg_px, pnl_btc = _model.net_fill(
            self.size_usd, self.avg_px, signed, px, inverse=True)
        fee = 0.0 if maker else amount / px * 0.0005
        self.btc += pnl_btc - fee
        now = _now_ms()
        o.update(order_state="filled", filled_amount=amount, average_price=px,
                 last_update_timestamp=now)
        trade = {"trade_id": str(next(self._trade_ids)), "trade_seq": len(self.trades) + 1,
                 "timestamp": now, "instrument_name": "BTC-PERPETUAL",
                 "order_id": o["order_id"], "order_type": o["order_type"],
                 "direction": o["direction"], "amount": amount, "price": px,
                 "mark_price": self.fill_price, "index_price": self.fill_price,
                 "fee": fee, "fee_currency": "BTC", "liquidity": "M" if maker else "T",
                 "state": "filled", "tick_direction": 0, "self_trade": False,
                 "reduce_only": o["reduce_only"], "post_only": False, "label": o["label"],
                 "profit_loss": pnl_btc, "matching_id": None, "api": True}
        if liquidation is not None:
            trade["liquidation"] = liquidation
        self.trades.append(trade)
        return copy.deepcopy(trade)

    def _cancel(self, r: Recorded) -> Reply:
        o = self.orders.get(r.params.get("order_id", ""))
        if o is None or o["order_state"] != "open":
            return _rpc_error(11044, "not_open_order")
        o["order_state"] = "cancelled"
        return _rpc(copy.deepcopy(o))

    def _user_trades(self, r: Recorded) -> Reply:
        lo = int(r.params.get("start_timestamp", 0))
        hi = int(r.params.get("end_timestamp", 10**15))
        rows = [copy.deepcopy(t) for t in self.trades if lo <= t["timestamp"] <= hi]
        return _rpc({"trades": rows[: int(r.params.get("count", 10))], "has_more": False})

    def _upl_btc(self) -> float:
        if not self.size_usd:
            return 0.0
        return self.size_usd * (1 / self.avg_px - 1 / self.fill_price)

    def _positions(self) -> list[dict[str, Any]]:
        if not self.size_usd:
            return []
        px = self.fill_price
        coins = self.size_usd / px
        upl = self._upl_btc()
        return [{
            "instrument_name": "BTC-PERPETUAL", "kind": "future",
            "direction": "sell" if self.size_usd < 0 else "buy", "size": self.size_usd,
            "size_currency": coins, "average_price": self.avg_px, "mark_price": px,
            "index_price": px, "settlement_price": px, "floating_profit_loss": upl,
            "total_profit_loss": upl, "realized_profit_loss": 0.0, "realized_funding": 0.0,
            "interest_value": 0.0, "delta": coins, "leverage": 50,
            "initial_margin": abs(coins) * 0.02, "maintenance_margin": abs(coins) * 0.01,
            "open_orders_margin": 0.0, "estimated_liquidation_price": self._liq_price()}]

    def _liq_price(self) -> float | None:
        """Cross margin: the short goes when the equity (BTC) falls to the maintenance
        margin (1 % of the position's coins): btc + S/P − S/avg = 0.01·S/P; never when the
        wallet alone covers the position (an inverse short backed by its coin)."""
        size = -self.size_usd
        if size <= 0 or size / self.avg_px <= self.btc:
            return None
        return size * (1 - 0.01) / (size / self.avg_px - self.btc)

    def _summary(self) -> dict[str, Any]:
        upl = self._upl_btc()
        equity = self.btc + upl
        coins = abs(self.size_usd) / self.fill_price
        mm = coins * 0.01
        liq = self._liq_price()
        return {
            "currency": "BTC", "balance": self.btc, "equity": equity,
            "margin_balance": equity, "initial_margin": coins * 0.02,
            "maintenance_margin": mm, "available_funds": equity - coins * 0.02,
            "available_withdrawal_funds": equity - coins * 0.02, "total_pl": upl,
            "futures_pl": upl, "session_upl": upl, "session_rpl": 0.0,
            "delta_total": -coins, "portfolio_margining_enabled": False,
            "cross_collateral_enabled": False, "margin_model": "segregated_sm",
            "estimated_liquidation_ratio": liq / self.fill_price if liq else 0,
            "estimated_liquidation_ratio_map": {"btc_usd": liq / self.fill_price} if liq
            else {}, "fee_balance": 0.0, "deposit_address": "", "options_pl": 0.0,
        }

    def liquidate(self, price: float) -> dict[str, Any]:
        """Deribit's liquidation engine buys the whole short back at ``price``: a trade in
        the account's history whose ``liquidation`` names our side (``T``: we were the
        taker), the position gone."""
        with self.server.lock:
            o = _clean(fixture_json("deribit_order.json"))
            now = _now_ms()
            amount = abs(self.size_usd)
            o.update(order_id=str(next(self._ids)), label="", direction="buy", amount=amount,
                     price=price, order_type="market", reduce_only=True, is_liquidation=True,
                     creation_timestamp=now, last_update_timestamp=now, api=False)
            self.fill_price = price
            return self._fill(o, amount, price, maker=False, liquidation="T")


@contextlib.contextmanager
def serve_deribit(**settings: Any) -> Iterator[FakeDeribit]:
    with _model.serve() as srv:
        yield FakeDeribit(srv, DERIBIT_KEYS, **settings).install()
