"""A local HTTP server on 127.0.0.1 that real ccxt exchange objects talk to.

Tests build a ccxt instance, point every ``urls['api']`` entry at this server
(``point_at``) and script the answers. Every request is recorded (method, path,
query/body params, headers) so tests can assert what ccxt built and signed.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ccxt_venue"


def fixture_json(name: str) -> Any:
    """A JSON fixture from tests/fixtures/ccxt_venue."""
    return json.loads((FIXTURES / name).read_text())


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    raw: str


Reply = tuple[int, Any]
Handler = Callable[[Recorded], Reply]


@dataclass
class LocalServer:
    base: str
    routes: dict[tuple[str, str], Handler] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    delays: dict[tuple[str, str], list[float]] = field(default_factory=dict)

    def route(self, method: str, path: str, handler: Handler | Reply) -> None:
        if callable(handler):
            self.routes[(method, path)] = handler
        else:
            reply = handler
            self.routes[(method, path)] = lambda _r: reply

    def delay_next(self, method: str, path: str, seconds: float) -> None:
        """Answer the next matching request only after ``seconds`` (to trigger a timeout)."""
        self.delays.setdefault((method, path), []).append(seconds)

    def calls(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path == path]

    def all_text(self) -> str:
        return "\n".join(
            f"{r.method} {r.path} {r.params} {r.headers} {r.raw}" for r in self.requests
        )


def point_at(exchange: Any, base: str) -> Any:
    """Rewrite every API url of a ccxt ``exchange`` to ``base`` (scheme+host replaced)."""

    def rewrite(v: Any) -> Any:
        if isinstance(v, str):
            return re.sub(r"^https?://[^/]+", base, v.replace("{hostname}", "x"))
        if isinstance(v, dict):
            return {k: rewrite(x) for k, x in v.items()}
        return v

    exchange.urls["api"] = rewrite(exchange.urls["api"])
    return exchange


@pytest.fixture
def local_server() -> Iterator[LocalServer]:
    state: dict[str, LocalServer] = {}

    class _H(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n).decode() if n else ""
            parts = urlsplit(self.path)
            params = dict(parse_qsl(parts.query))
            if raw:
                if raw.lstrip().startswith("{"):
                    with contextlib.suppress(ValueError):
                        params.update({k: str(v) for k, v in json.loads(raw).items()})
                else:
                    params.update(dict(parse_qsl(raw)))
            srv = state["srv"]
            rec = Recorded(self.command, parts.path, params, dict(self.headers.items()), raw)
            srv.requests.append(rec)
            key = (self.command, parts.path)
            handler = srv.routes.get(key)
            if handler is None:
                code, body = 404, {"code": -1, "msg": f"no route {key}"}
            else:
                code, body = handler(rec)
            pending = srv.delays.get(key)
            if pending:
                time.sleep(pending.pop(0))
            data = json.dumps(body).encode()
            try:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

        do_GET = do_POST = do_DELETE = do_PUT = _handle

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _H)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    srv = LocalServer(base=f"http://127.0.0.1:{httpd.server_address[1]}")
    state["srv"] = srv
    try:
        yield srv
    finally:
        httpd.shutdown()
        httpd.server_close()


# ---------------------------------------------------------------------------
# A stateful stand-in for the Binance USDⓈ-M REST endpoints ccxt calls. Answers are
# built from the recorded/hand-written shapes in tests/fixtures/ccxt_venue; orders
# are kept by client id, so a re-sent order with the same id is visible.
# ---------------------------------------------------------------------------


def _error(code: int, msg: str, http: int = 400) -> Reply:
    return http, {"code": code, "msg": msg}


@dataclass
class FakeBinance:
    server: LocalServer
    fill_on_create: float = 0.0  # fraction of the quantity filled when the order arrives
    fill_per_poll: float = 0.0  # extra fraction filled on every GET /fapi/v1/order
    fill_price: float = 88_000.0
    reject_create: Reply | None = None
    margin_type: str = "CROSSED"
    positions: list[dict[str, Any]] = field(default_factory=list)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    trades: list[dict[str, Any]] = field(default_factory=list)
    taker_fee: float = 0.0005
    #: hedge (dual-side) position mode: GET /fapi/v1/positionSide/dual
    dual_side: bool = False
    #: the account's forced orders (GET /fapi/v1/forceOrders, "User's Force Orders")
    force_orders: list[dict[str, Any]] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(8_389_765_000))

    def install(self) -> FakeBinance:
        s = self.server
        s.route(
            "GET", "/fapi/v1/exchangeInfo", (200, fixture_json("binanceusdm_exchangeInfo.json"))
        )
        s.route(
            "GET", "/fapi/v1/premiumIndex", (200, fixture_json("binanceusdm_premiumIndex.json"))
        )
        s.route(
            "GET",
            "/fapi/v1/leverageBracket",
            (200, fixture_json("binanceusdm_leverageBracket.json")),
        )
        s.route("GET", "/fapi/v3/positionRisk", lambda r: (200, self.positions))
        s.route("POST", "/fapi/v1/marginType", self._margin_type)
        s.route("GET", "/fapi/v1/forceOrders", lambda r: (200, self.force_orders))
        s.route(
            "GET",
            "/fapi/v1/positionSide/dual",
            lambda r: (200, {"dualSidePosition": self.dual_side}),
        )
        s.route(
            "GET",
            "/fapi/v1/userTrades",
            lambda r: (
                200,
                [t for t in self.trades if str(t["orderId"]) == r.params.get("orderId")],
            ),
        )
        s.route("GET", "/fapi/v1/income", (200, fixture_json("binanceusdm_income_funding.json")))
        s.route(
            "POST",
            "/fapi/v1/leverage",
            lambda r: (
                200,
                {
                    "leverage": int(r.params["leverage"]),
                    "maxNotionalValue": "1000000",
                    "symbol": r.params["symbol"],
                },
            ),
        )
        s.route("POST", "/fapi/v1/order", self._create)
        s.route("GET", "/fapi/v1/order", self._get)
        s.route("DELETE", "/fapi/v1/order", self._cancel)
        s.route(
            "GET",
            "/fapi/v1/openOrders",
            lambda r: (
                200,
                [o for o in self.orders.values() if o["status"] in ("NEW", "PARTIALLY_FILLED")],
            ),
        )
        return self

    def _margin_type(self, r: Recorded) -> Reply:
        if r.params.get("marginType") == self.margin_type:
            return _error(-4046, "No need to change margin type.")
        self.margin_type = r.params["marginType"]
        return 200, {"code": 200, "msg": "success"}

    def _fill(self, o: dict[str, Any], fraction: float) -> None:
        qty = float(o["origQty"])
        before = float(o["executedQty"])
        done = min(before + round(qty * fraction, 3), qty)
        if done > before:
            px = self.fill_price if o["type"] == "MARKET" else float(o["price"])
            q = done - before
            # shape of GET /fapi/v1/userTrades ("Account Trade List")
            self.trades.append(
                {
                    "buyer": o["side"] == "BUY",
                    "commission": f"{q * px * self.taker_fee:.8f}",
                    "commissionAsset": "USDT",
                    "id": 698_759 + len(self.trades),
                    "maker": False,
                    "orderId": o["orderId"],
                    "price": f"{px:.2f}",
                    "qty": f"{q:.3f}",
                    "quoteQty": f"{q * px:.8f}",
                    "realizedPnl": "0",
                    "side": o["side"],
                    "positionSide": "BOTH",
                    "symbol": o["symbol"],
                    "time": 1_764_072_000_000 + len(self.trades),
                }
            )
        o["executedQty"] = f"{done:.3f}"
        if done > 0:
            price = self.fill_price if o["type"] == "MARKET" else float(o["price"])
            o["avgPrice"] = f"{price:.2f}"
            o["cumQuote"] = f"{done * price:.2f}"
        o["status"] = "FILLED" if done >= qty - 1e-12 else ("PARTIALLY_FILLED" if done else "NEW")

    def _create(self, r: Recorded) -> Reply:
        if self.reject_create is not None:
            return self.reject_create
        cid = r.params["newClientOrderId"]
        if cid in self.orders and self.orders[cid]["status"] in ("NEW", "PARTIALLY_FILLED"):
            return _error(-4116, "ClientOrderId is duplicated.")
        o = copy.deepcopy(fixture_json("binanceusdm_order_new.json"))
        o.pop("_comment", None)
        o.update(
            orderId=next(self._ids),
            clientOrderId=cid,
            symbol=r.params["symbol"],
            side=r.params["side"],
            type=r.params["type"],
            origType=r.params["type"],
            origQty=r.params["quantity"],
            price=r.params.get("price", "0"),
            reduceOnly=r.params.get("reduceOnly") == "true",
            timeInForce=r.params.get("timeInForce", "GTC"),
        )
        self.orders[cid] = o
        self._fill(o, 1.0 if r.params["type"] == "MARKET" else self.fill_on_create)
        return 200, o

    def _find(self, r: Recorded) -> dict[str, Any] | None:
        cid = r.params.get("origClientOrderId")
        if cid is not None:
            return self.orders.get(cid)
        oid = r.params.get("orderId")
        return next((o for o in self.orders.values() if str(o["orderId"]) == oid), None)

    def _get(self, r: Recorded) -> Reply:
        o = self._find(r)
        if o is None:
            return _error(-2013, "Order does not exist.")
        if self.fill_per_poll and o["status"] in ("NEW", "PARTIALLY_FILLED"):
            self._fill(o, self.fill_per_poll)
        return 200, o

    def _cancel(self, r: Recorded) -> Reply:
        o = self._find(r)
        if o is None or o["status"] not in ("NEW", "PARTIALLY_FILLED"):
            return _error(-2011, "Unknown order sent.")
        o["status"] = "CANCELED"
        return 200, o


@pytest.fixture
def fake_binance(local_server: LocalServer) -> FakeBinance:
    return FakeBinance(local_server).install()


#: Fake credentials: long enough to be recognisable if they ever leak into output.
API_KEY = "AKtestKEY0123456789abcdefghijklmnopqrstuvwxyzKEY"
API_SECRET = "SKtestSECRET9876543210zyxwvutsrqponmlkjihgfedSEC"


@pytest.fixture
def api_keys() -> tuple[str, str]:
    return API_KEY, API_SECRET


@pytest.fixture
def binance_venue(fake_binance: FakeBinance) -> Any:
    """A CcxtVenue over a real ccxt.binanceusdm pointed at the local server."""
    import ccxt

    from althedge.venues.ccxt_venue import CcxtVenue
    from althedge.venues.credentials import Credentials

    ex = ccxt.binanceusdm(
        {"apiKey": API_KEY, "secret": API_SECRET, "timeout": 1000, "enableRateLimit": False}
    )
    point_at(ex, fake_binance.server.base)
    return CcxtVenue(
        ex,
        credentials=Credentials("binanceusdm", API_KEY, API_SECRET),
        sleep=lambda _s: None,
        lookup_delay_s=0.0,
    )


@pytest.fixture
def load_fixture() -> Any:
    """``load_fixture(name)`` → parsed JSON from tests/fixtures/ccxt_venue."""
    return fixture_json


@pytest.fixture
def short_journal(tmp_path: Path) -> Callable[..., Any]:
    """``short_journal(venue, symbol, contracts, opened_ms)`` → (journal, hedge id): a
    journal holding one open hedge whose leg is ``contracts`` short of ``symbol``."""
    from althedge.journal import Journal

    def build(venue: str, symbol: str, contracts: float, opened_ms: int) -> tuple[Any, int]:
        j = Journal(tmp_path / "journal.sqlite")
        at = "2025-11-13T02:13:20+00:00"
        leg = {"symbol": symbol, "hedge_asset": "BTC", "leverage": 2.0, "margin_mode": "cross",
               "exchange": venue, "opened_ms": opened_ms}
        hid = j.create_hedge(venue=venue, symbol=symbol, opened_at=at, portfolio={},
                             settings={"legs": [leg], "hedge_key": "k1"})
        cid = f"ah{venue}open0"
        j.record_intent(hedge_id=hid, client_order_id=cid, venue=venue, symbol=symbol,
                        side="sell", amount=contracts, order_type="market", price=None,
                        reduce_only=False, purpose="open", at=at)
        j.record_result(cid, status="filled", filled=contracts, average_price=90_000.0,
                        fee_usd=0.5, exchange_order_id="1", at=at)
        return j, hid

    return build


def imported_once(journal: Any, venue: Any, hedge_id: int, price_text: str) -> None:
    """Two commands' reconciliations: the liquidation is journaled (journal = venue) and
    its critical alert raised — once."""
    from althedge.services.hedge.reconcile import reconcile

    rec = reconcile(journal, venue)
    (alert,) = [a for a in journal.alerts() if a["kind"] == "liquidated"]
    assert alert["severity"] == "critical" and price_text in alert["message"]
    assert journal.net_contracts(hedge_id) == pytest.approx(0.0, abs=1e-9)
    assert rec.ok, rec.differences
    reconcile(journal, venue)
    assert len([a for a in journal.alerts() if a["kind"] == "liquidated"]) == 1


@pytest.fixture
def liquidation_imported_once() -> Callable[..., None]:
    """:func:`imported_once` for tests in other modules."""
    return imported_once
