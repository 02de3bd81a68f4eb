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
    # account configuration (V5 "Get account configuration"): net (one-way) position mode
    s.route("GET", "/api/v5/account/config", _ok([{"posMode": "net_mode", "acctLv": "2"}]))
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
    venue.use_margin_mode(SYMBOL, "cross")  # the leg's mode, as the journal restores it
    with pytest.raises(ExchangeError) as info:
        venue.place_order(OrderRequest(SYMBOL, "sell", 1.0, "market", "ahokxpoor"))
    msg = str(info.value)
    assert "insufficient margin" in msg
    for secret in (*api_keys, PASSPHRASE):
        assert secret not in msg


# --------------------------------------------------------------------------- issue 9
def _okx_position(mgn_mode: str, pos: str, pos_side: str = "net") -> dict[str, Any]:
    """One row of GET /api/v5/account/positions (OKX API v5 docs, "Get positions")."""
    return {
        "instId": "BTC-USDT-SWAP", "instType": "SWAP", "mgnMode": mgn_mode, "pos": pos,
        "posSide": pos_side, "avgPx": "90000", "upl": "-12.3", "lever": "3", "liqPx": "125000",
        "markPx": "90150", "margin": "" if mgn_mode == "cross" else "246", "imr": "246",
        "mmr": "3.69", "mgnRatio": "55.2", "notionalUsd": "73923", "ccy": "USDT",
        "cTime": "1764072000000", "uTime": "1764072000000", "posId": "307173036051017730",
    }


def _sent(srv: Any) -> list[dict[str, Any]]:
    calls = srv.calls("POST", "/api/v5/trade/order") + srv.calls(
        "POST", "/api/v5/trade/batch-orders"
    )
    return [_order_body(c.raw) for c in calls]


def test_a_cross_leg_is_closed_cross_by_a_fresh_venue(okx: Any) -> None:
    """Every command builds a new venue; before, only `open` set the margin mode and a
    cross hedge was closed with tdMode=isolated (not touching the cross position)."""
    venue, srv, _ = okx
    venue.use_margin_mode(SYMBOL, "cross")  # what the journal's leg record says
    venue.place_order(
        OrderRequest(SYMBOL, "buy", 82.0, "market", client_order_id("h", 1, "close"),
                     reduce_only=True)
    )
    (body,) = _sent(srv)
    assert body["tdMode"] == "cross"


def test_without_a_record_the_margin_mode_comes_from_the_position(okx: Any) -> None:
    venue, srv, _ = okx
    srv.route("GET", "/api/v5/account/positions", _ok([_okx_position("cross", "-82")]))
    venue.place_order(
        OrderRequest(SYMBOL, "buy", 82.0, "market", client_order_id("h", 2, "close"),
                     reduce_only=True)
    )
    (body,) = _sent(srv)
    assert body["tdMode"] == "cross"


def test_unknown_margin_mode_sends_nothing(okx: Any) -> None:
    from althedge.errors import InputError

    venue, srv, _ = okx
    srv.route("GET", "/api/v5/account/positions", _ok([]))
    with pytest.raises(InputError, match="margin_mode: unknown"):
        venue.place_order(
            OrderRequest(SYMBOL, "sell", 82.0, "market", client_order_id("h", 3, "open"))
        )
    assert _sent(srv) == []


def test_refused_leverage_change_is_an_error_not_no_change(okx: Any) -> None:
    """OKX 59107: pending orders block the change; before, it was swallowed and the old
    (possibly higher) leverage stayed."""
    venue, srv, _ = okx
    srv.route(
        "POST",
        "/api/v5/account/set-leverage",
        (200, {"code": "59107", "msg": "You have pending orders under the service, please "
               "modify your leverage after canceling all pending orders.", "data": []}),
    )
    with pytest.raises(ExchangeError, match="cancel them first"):
        venue.set_leverage(SYMBOL, 3, "isolated")


def test_long_short_mode_orders_carry_pos_side_short(okx: Any) -> None:
    venue, srv, _ = okx
    srv.route(
        "GET", "/api/v5/account/config", _ok([{"posMode": "long_short_mode", "acctLv": "2"}])
    )
    venue.use_margin_mode(SYMBOL, "isolated")
    venue.place_order(OrderRequest(SYMBOL, "sell", 82.0, "market", client_order_id("m", 0, "o")))
    venue.place_order(
        OrderRequest(SYMBOL, "buy", 82.0, "market", client_order_id("m", 1, "c"),
                     reduce_only=True)
    )
    opened, closed = _sent(srv)
    assert opened["posSide"] == "short" and opened["side"] == "sell"
    assert closed["posSide"] == "short" and closed["side"] == "buy"
    assert "reduceOnly" not in closed  # OKX: reduceOnly only in net mode


def test_position_margin_figures_are_the_exchanges(okx: Any) -> None:
    """Maintenance margin and ratio as OKX reports them; collateral already has the PnL."""
    venue, srv, _ = okx
    srv.route("GET", "/api/v5/account/positions", _ok([_okx_position("isolated", "-82")]))
    pos = venue.position(SYMBOL)
    assert pos is not None and pos.contracts == pytest.approx(82.0)
    assert pos.margin_mode == "isolated" and pos.liquidation_price == pytest.approx(125_000)
    assert pos.maintenance_margin == pytest.approx(3.69)
    assert pos.margin_includes_pnl is True


def test_funding_bills_are_read_by_window_and_paged_after_the_oldest_bill(okx: Any) -> None:
    """OKX funding = bills ``type=8`` (GET /api/v5/account/bills-archive, newest first,
    100 per page). ccxt ignores ``since`` there: althedge bounds each window with
    ``begin``/``end`` and pages with ``after`` = the oldest bill id."""
    venue, srv, _ = okx
    opened = 1_763_000_000_000
    bills = [
        {"billId": str(700_000 + k), "ccy": "USDT", "instId": "BTC-USDT-SWAP",
         "instType": "SWAP", "type": "8", "subType": "174" if k % 2 else "173",
         "balChg": "-0.0176" if k % 2 else "0.088", "bal": "1000", "posBalChg": "0",
         "ts": str(opened + k * 8 * 3_600_000), "mgnMode": "isolated", "pnl": "0"}
        for k in range(150)  # 50 days of 8-hourly payments
    ]
    bills.append({**bills[0], "billId": "699999", "ts": str(opened - 3_600_000),
                  "balChg": "5.0"})  # before the leg opened: another hedge's

    def archive(r: Any) -> Any:
        lo, hi = int(r.params.get("begin", 0)), int(r.params.get("end", 10**15))
        after = int(r.params.get("after", 10**12))
        sel = sorted((b for b in bills if lo <= int(b["ts"]) <= hi and int(b["billId"]) < after),
                     key=lambda b: -int(b["ts"]))
        return _ok(sel[: int(r.params.get("limit", 100))])

    srv.route("GET", "/api/v5/account/bills-archive", archive)
    srv.route("GET", "/api/v5/public/mark-price", _ok([
        {"instId": "BTC-USDT-SWAP", "instType": "SWAP", "markPx": "90000", "ts": str(opened)}]))
    venue.exchange.milliseconds = lambda: opened + 50 * 86_400_000
    venue.FUNDING_WINDOW_DAYS = 60  # one window of 150 bills: two pages
    pays = venue.funding_payments(SYMBOL, since_ms=opened)
    assert len(pays) == 150
    assert sum(p.amount for p in pays) == pytest.approx(75 * 0.088 - 75 * 0.0176)
    assert all(p.currency == "USDT" for p in pays)
    calls = srv.calls("GET", "/api/v5/account/bills-archive")
    assert all("begin" in c.params and "end" in c.params for c in calls)
    assert "until" not in "".join(str(c.params) for c in calls)
    assert [c.params.get("after") for c in calls] == [None, "700050"]


def _liquidation_order(ord_id: str, t_ms: int, category: str, sz: str) -> dict[str, Any]:
    """One row of GET /api/v5/trade/orders-history-archive (OKX API v5 "Get order history
    (last 3 months)"): the risk engine's order has ``category`` full_liquidation or
    partial_liquidation; ``fee`` is negative when charged."""
    return {"instType": "SWAP", "instId": "BTC-USDT-SWAP", "ordId": ord_id, "clOrdId": "",
            "category": category, "side": "buy", "posSide": "net", "ordType": "market",
            "sz": sz, "accFillSz": sz, "fillSz": sz, "avgPx": "131250", "fillPx": "131250",
            "state": "filled", "fee": "-0.5", "feeCcy": "USDT", "tdMode": "isolated",
            "cTime": str(t_ms), "uTime": str(t_ms), "lever": "2", "pnl": "-900"}


def test_liquidation_orders_are_imported_from_the_order_history(okx: Any) -> None:
    """ccxt has no fetch_my_liquidations for OKX: the account's liquidation orders
    (``category`` full_/partial_liquidation) since the leg opened are the liquidation."""
    venue, srv, _ = okx
    opened = 1_763_000_000_000
    book = {
        "full_liquidation": [_liquidation_order("9001", opened + 86_400_000,
                                                "full_liquidation", "60")],
        "partial_liquidation": [_liquidation_order("9000", opened + 3_600_000,
                                                   "partial_liquidation", "22")],
    }

    def archive(r: Any) -> Any:
        assert int(r.params["begin"]) == opened
        return _ok(book.get(r.params.get("category", ""), []))

    srv.route("GET", "/api/v5/trade/orders-history-archive", archive)
    venue.exchange.milliseconds = lambda: opened + 2 * 86_400_000
    part, full = venue.fills_for(SYMBOL, since_ms=opened)
    assert part.liquidation and full.liquidation and full.side == "buy"
    assert (part.contracts, full.contracts) == (22.0, 60.0)  # OKX contracts (0.01 BTC)
    assert full.price == pytest.approx(131_250.0)
    assert full.fee.amount == pytest.approx(0.5) and full.fee.currency == "USDT"
    cats = {c.params["category"] for c in srv.calls("GET", "/api/v5/trade/orders-history-archive")}
    assert cats == {"full_liquidation", "partial_liquidation"}
    srv.route("GET", "/api/v5/trade/orders-history-archive", _ok([]))
    assert venue.fills_for(SYMBOL, since_ms=opened) == []


def test_balance_equity_and_transfer_bills(okx: Any) -> None:
    """GET /api/v5/account/balance (OKX "Get balance"): ``eq`` per currency (ccxt total);
    deposits are bills of type 1 (transfer; subType 11 in, 12 out, ``balChg`` signed)."""
    venue, srv, _ = okx
    opened = 1_763_000_000_000
    srv.route("GET", "/api/v5/account/balance", _ok([{
        "totalEq": "46000", "uTime": "1764072000000", "adjEq": "", "imr": "", "mmr": "",
        "details": [
            {"ccy": "USDT", "eq": "1000", "cashBal": "1000", "availBal": "1000",
             "frozenBal": "0", "uTime": "1764072000000", "upl": "0", "disEq": "1000"},
            {"ccy": "BTC", "eq": "0.5", "cashBal": "0.5", "availBal": "0.5",
             "frozenBal": "0", "uTime": "1764072000000", "upl": "0", "disEq": "45000"}]}]))
    srv.route("GET", "/api/v5/public/mark-price", _ok([
        {"instType": "SWAP", "instId": "BTC-USDT-SWAP", "markPx": "90000", "ts": "1"}]))

    def bill(bill_id: str, t_ms: int, ccy: str, chg: str, sub: str) -> dict[str, Any]:
        return {"billId": bill_id, "ccy": ccy, "balChg": chg, "bal": "0", "type": "1",
                "subType": sub, "ts": str(t_ms), "instId": "", "instType": ""}

    bills = [bill("3", opened + 7200_000, "USDT", "-40", "12"),
             bill("2", opened + 3600_000, "USDT", "300", "11")]

    def archive(r: Any) -> Any:
        assert r.params["type"] == "1" and int(r.params["begin"]) == opened
        return _ok(bills)

    srv.route("GET", "/api/v5/account/bills-archive", archive)
    venue.exchange.milliseconds = lambda: opened + 86_400_000
    assert venue.balance("BTC") == pytest.approx(0.5)
    assert venue.equity_usd() == pytest.approx(1000 + 0.5 * 90_000)
    deps = venue.deposits_since(opened, ["USDT"])
    assert [(d.currency, d.amount) for d in deps] == [("USDT", 300.0), ("USDT", -40.0)]


def test_the_command_imports_an_okx_liquidation_when_the_position_vanishes(
    okx: Any, short_journal: Any, liquidation_imported_once: Any
) -> None:
    """The 60-contract short is gone and the order history holds the risk engine's
    full_liquidation order: the reconciliation every command starts with journals it,
    the journal equals the venue again, and the critical alert is raised once."""
    venue, srv, _ = okx
    opened = 1_763_000_000_000
    srv.route("GET", "/api/v5/account/positions", _ok([]))
    srv.route("GET", "/api/v5/trade/orders-pending", _ok([]))
    srv.route("GET", "/api/v5/account/bills-archive", _ok([]))
    liq = _liquidation_order("9001", opened + 86_400_000, "full_liquidation", "60")
    srv.route("GET", "/api/v5/trade/orders-history-archive",
              lambda r: _ok([liq] if r.params.get("category") == "full_liquidation" else []))
    venue.exchange.milliseconds = lambda: opened + 2 * 86_400_000
    j, hid = short_journal("okx", SYMBOL, 60.0, opened)
    with j:
        liquidation_imported_once(j, venue, hid, "131,250.00")


def test_balance_is_eq_with_unrealised_pnl(okx: Any) -> None:
    """OKX "Get balance": ``eq`` (ccxt's total) = ``cashBal`` + ``upl`` (+ isolated
    equity): the figure the balance check compares with the journal's PnL at the mark. A
    short 50 USDT under water: cash 1 000, equity 950."""
    venue, srv, _ = okx
    srv.route("GET", "/api/v5/account/balance", _ok([{
        "totalEq": "950", "uTime": "1764072000000", "adjEq": "", "imr": "", "mmr": "",
        "details": [{"ccy": "USDT", "eq": "950", "cashBal": "1000", "availBal": "900",
                     "frozenBal": "100", "uTime": "1764072000000", "upl": "-50",
                     "disEq": "950", "isoEq": "0"}]}]))
    assert venue.balance("USDT") == pytest.approx(950.0)
