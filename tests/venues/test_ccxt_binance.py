"""CcxtVenue over a real ccxt.binanceusdm object talking to a local HTTP server.

Fixtures: tests/fixtures/ccxt_venue/binanceusdm_*.json (shapes from the Binance
USDⓈ-M Futures REST API documentation: exchangeInfo, New Order, Query Order,
Position Information V3, Mark Price, Error Codes, Get Current Position Mode).

The second half is real-money safety (issue 9): never two orders for one intent,
transient errors, hedge position mode, exchange minimums, error meanings, whole-number
leverage.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from typing import Any

import pytest

from althedge.core.instruments import ContractType, Side
from althedge.errors import (
    BelowExchangeMinimumError,
    ExchangeError,
    OrderOutcomeUnknownError,
)
from althedge.venues.execution import execute_order
from althedge.venues.protocol import OrderRequest, client_order_id

SYMBOL = "BTC/USDT:USDT"


def _order(**kw: Any) -> OrderRequest:
    base: dict[str, Any] = dict(
        symbol=SYMBOL,
        side="sell",
        contracts=0.0104,
        order_type="limit",
        price=90_000.07,
        client_order_id=client_order_id("plan-42", 0, "open"),
    )
    base.update(kw)
    return OrderRequest(**base)


def _signed_ok(raw_body: str, secret: str) -> bool:
    """Binance SIGNED endpoint: HMAC-SHA256(secret, totalParams) in ``signature``."""
    payload, _, sig = raw_body.rpartition("&signature=")
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest() == sig


def test_leverage_then_order_request_is_built_rounded_and_signed(
    binance_venue: Any, fake_binance: Any, api_keys: tuple[str, str]
) -> None:
    key, secret = api_keys
    binance_venue.set_leverage(SYMBOL, 2, "isolated")
    res = binance_venue.place_order(_order())

    srv = fake_binance.server
    margin = srv.calls("POST", "/fapi/v1/marginType")
    lev = srv.calls("POST", "/fapi/v1/leverage")
    posts = srv.calls("POST", "/fapi/v1/order")
    assert margin[0].params["marginType"] == "ISOLATED"
    assert lev[0].params["leverage"] == "2"
    assert srv.requests.index(lev[0]) < srv.requests.index(posts[0])
    assert len(posts) == 1
    p = posts[0].params
    assert p["symbol"] == "BTCUSDT"
    assert p["side"] == "SELL"
    assert p["type"] == "LIMIT"
    assert p["quantity"] == "0.01"  # 0.0104 truncated to the 0.001 lot step
    assert float(p["price"]) == pytest.approx(90_000.1)  # 0.10 tick
    assert p["newClientOrderId"] == client_order_id("plan-42", 0, "open")
    assert "reduceOnly" not in p or p["reduceOnly"] == "false"
    assert posts[0].headers["X-MBX-APIKEY"] == key
    assert _signed_ok(posts[0].raw, secret)
    assert res.status == "open"
    assert res.contracts == pytest.approx(0.01)
    assert res.exchange_order_id is not None
    assert res.client_order_id == p["newClientOrderId"]


def test_margin_mode_no_need_to_change_is_not_an_error(
    binance_venue: Any, fake_binance: Any
) -> None:
    fake_binance.margin_type = "ISOLATED"
    binance_venue.set_leverage(SYMBOL, 3, "isolated")  # -4046 answered, ignored
    assert fake_binance.server.calls("POST", "/fapi/v1/leverage")[0].params["leverage"] == "3"


def test_reduce_only_buy_carries_reduce_only(binance_venue: Any, fake_binance: Any) -> None:
    binance_venue.place_order(_order(side="buy", reduce_only=True, client_order_id="ahclose1"))
    p = fake_binance.server.calls("POST", "/fapi/v1/order")[0].params
    assert p["reduceOnly"] == "true"
    assert p["side"] == "BUY"


def test_partial_fill_is_reported(binance_venue: Any, fake_binance: Any) -> None:
    fake_binance.fill_on_create = 0.4
    res = binance_venue.place_order(_order(contracts=0.01))
    assert res.status == "partially_filled"
    assert res.filled_contracts == pytest.approx(0.004)
    assert res.remaining_contracts == pytest.approx(0.006)
    assert res.average_price == pytest.approx(90_000.1)


def test_same_client_id_twice_sends_one_order(binance_venue: Any, fake_binance: Any) -> None:
    first = binance_venue.place_order(_order())
    second = binance_venue.place_order(_order())
    assert len(fake_binance.server.calls("POST", "/fapi/v1/order")) == 1
    assert second.exchange_order_id == first.exchange_order_id


def test_rejection_insufficient_margin_is_a_clear_exchange_error(
    binance_venue: Any, fake_binance: Any, api_keys: tuple[str, str]
) -> None:
    fake_binance.reject_create = (400, {"code": -2019, "msg": "Margin is insufficient."})
    with pytest.raises(ExchangeError) as info:
        binance_venue.place_order(_order())
    msg = str(info.value)
    assert "insufficient margin" in msg
    assert "\n" not in msg
    assert info.value.exit_code == 4
    for secret in api_keys:
        assert secret not in msg
    assert "signature" not in msg


def test_timeout_after_the_order_arrived_looks_it_up_and_never_resends(
    binance_venue: Any, fake_binance: Any
) -> None:
    srv = fake_binance.server
    srv.delay_next("POST", "/fapi/v1/order", 1.6)  # client timeout is 1.0 s
    res = binance_venue.place_order(_order())
    assert len(srv.calls("POST", "/fapi/v1/order")) == 1
    lookups = srv.calls("GET", "/fapi/v1/order")
    assert lookups and lookups[-1].params["origClientOrderId"] == _order().client_order_id
    assert res.status == "open"
    # the caller retries the same step after its own timeout: still one order
    again = binance_venue.place_order(_order())
    assert again.exchange_order_id == res.exchange_order_id
    assert len(srv.calls("POST", "/fapi/v1/order")) == 1


def test_timeout_before_the_order_arrived_sends_it_once_more(
    binance_venue: Any, fake_binance: Any
) -> None:
    srv = fake_binance.server
    real_create = srv.routes[("POST", "/fapi/v1/order")]
    dropped: list[int] = []

    def drop_first(r: Any) -> Any:
        if not dropped:  # the exchange never saw it: no order is stored
            dropped.append(1)
            return 502, {"code": -1001, "msg": "Internal error; unable to process your request."}
        return real_create(r)

    srv.route("POST", "/fapi/v1/order", drop_first)
    srv.delay_next("POST", "/fapi/v1/order", 1.6)
    res = binance_venue.place_order(_order())
    posts = srv.calls("POST", "/fapi/v1/order")
    assert len(posts) == 2
    assert posts[0].params["newClientOrderId"] == posts[1].params["newClientOrderId"]
    assert len(fake_binance.orders) == 1
    assert res.status == "open"


def test_execute_polls_until_filled(binance_venue: Any, fake_binance: Any) -> None:
    fake_binance.fill_per_poll = 0.5
    report = binance_venue.execute(_order(contracts=0.01), offset_bps=5, timeout_s=60)
    assert report.complete
    assert report.filled_contracts == pytest.approx(0.01)
    post = fake_binance.server.calls("POST", "/fapi/v1/order")
    assert len(post) == 1
    # sell limit at mark 88,000 × (1 + 5 bps) = 88,044, on the 0.10 tick
    assert float(post[0].params["price"]) == pytest.approx(88_044.0)


def test_execute_timeout_cancels_then_falls_back_to_reduce_only_market(
    binance_venue: Any, fake_binance: Any
) -> None:
    clock = iter(range(0, 10_000, 10))
    binance_venue._clock = lambda: float(next(clock))  # each poll "takes" 10 s
    fake_binance.fill_on_create = 0.3
    order = _order(side="buy", contracts=0.01, reduce_only=True)
    report = binance_venue.execute(order, offset_bps=2, timeout_s=25, fallback="market")
    srv = fake_binance.server
    posts = srv.calls("POST", "/fapi/v1/order")
    assert [p.params["type"] for p in posts] == ["LIMIT", "MARKET"]
    assert all(p.params["reduceOnly"] == "true" for p in posts)
    assert posts[1].params["quantity"] == "0.007"  # the unfilled remainder only
    assert posts[1].params["newClientOrderId"] != posts[0].params["newClientOrderId"]
    assert len(srv.calls("DELETE", "/fapi/v1/order")) == 1
    assert report.complete
    assert report.filled_contracts == pytest.approx(0.01)


def test_below_exchange_minimum_is_refused_before_sending(
    binance_venue: Any, fake_binance: Any
) -> None:
    with pytest.raises(ExchangeError, match="below the exchange minimum"):
        binance_venue.place_order(_order(contracts=0.0004))
    assert fake_binance.server.calls("POST", "/fapi/v1/order") == []


def test_reconciliation_position_and_open_orders_parse(
    binance_venue: Any, fake_binance: Any, load_fixture: Any
) -> None:
    fake_binance.positions = load_fixture("binanceusdm_positionRisk_v3.json")
    binance_venue.place_order(_order(contracts=0.01))
    fake_binance.fill_on_create = 0.5
    binance_venue.place_order(_order(contracts=0.01, client_order_id="ahsecond1"))

    pos = binance_venue.position(SYMBOL)
    assert pos is not None
    assert pos.side == Side.SHORT
    assert pos.contracts == pytest.approx(0.01)
    assert pos.entry_price == pytest.approx(90_000.0)
    assert pos.contract_type == ContractType.LINEAR
    assert pos.margin_mode == "isolated"
    assert pos.liquidation_price == pytest.approx(133_660.19417475)
    assert pos.unrealised_pnl == pytest.approx(20.0)
    assert pos.mark_price == pytest.approx(88_000.0)

    orders = binance_venue.open_orders(SYMBOL)
    by_id = {o.client_order_id: o for o in orders}
    assert set(by_id) == {_order().client_order_id, "ahsecond1"}
    assert by_id["ahsecond1"].status == "partially_filled"
    assert by_id["ahsecond1"].filled_contracts == pytest.approx(0.005)


def test_flat_account_has_no_position(binance_venue: Any, fake_binance: Any) -> None:
    assert binance_venue.position(SYMBOL) is None


def test_mark_price_funding_and_live_instrument(binance_venue: Any) -> None:
    assert binance_venue.mark_price(SYMBOL) == pytest.approx(88_000.0)
    assert binance_venue.funding_rate(SYMBOL) == (pytest.approx(0.0001), 8.0)
    inst = binance_venue.instrument(SYMBOL)
    assert inst.specs_as_of == "live"
    assert inst.lot_step == pytest.approx(0.001)
    assert inst.min_contracts == pytest.approx(0.001)
    assert inst.tick_size == pytest.approx(0.1)
    assert inst.tiers  # from the built-in table


def test_secrets_never_in_logs_output_or_errors(
    binance_venue: Any,
    fake_binance: Any,
    api_keys: tuple[str, str],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_binance.reject_create = (
        401,
        {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."},
    )
    messages = []
    for action in (
        lambda: binance_venue.place_order(_order()),
        lambda: binance_venue.set_leverage(SYMBOL, 2, "cross"),
    ):
        try:
            action()
        except ExchangeError as err:
            messages.append(str(err) + repr(err))
    for _ in range(4):  # the read and its three retries all time out
        fake_binance.server.delay_next("GET", "/fapi/v1/premiumIndex", 1.6)
    with pytest.raises(ExchangeError) as info:
        binance_venue.mark_price(SYMBOL)
    messages.append(str(info.value))
    out = capsys.readouterr()
    blob = "\n".join(messages) + caplog.text + out.out + out.err + repr(binance_venue)
    assert messages and "authentication failed" in messages[0]
    assert "timed out" in messages[-1]
    for secret in api_keys:
        assert secret not in blob
    assert caplog.records  # ccxt did log its requests (headers included) ...
    assert not re.search(r"signature=[0-9a-f]{64}", blob)  # ... but masked


def test_filled_order_fee_comes_from_its_trades(binance_venue: Any, fake_binance: Any) -> None:
    res = binance_venue.place_order(_order(order_type="market", price=None, contracts=0.01))
    assert res.status == "filled"
    # 0.01 BTC × 88,000 × 0.05 % = 0.44 USDT, read from GET /fapi/v1/userTrades
    assert res.fee.amount == pytest.approx(0.44)
    assert res.fee.currency == "USDT"
    calls = fake_binance.server.calls("GET", "/fapi/v1/userTrades")
    assert calls and calls[0].params["orderId"] == res.exchange_order_id
    fills = binance_venue.order_fills(SYMBOL, res.client_order_id)
    assert [f.contracts for f in fills] == [pytest.approx(0.01)]
    assert fills[0].price == pytest.approx(88_000.0)


def test_funding_history_is_received_positive(binance_venue: Any, fake_binance: Any) -> None:
    pays = binance_venue.funding_payments(SYMBOL)
    assert [p.amount for p in pays] == [pytest.approx(0.088), pytest.approx(-0.0176)]
    assert all(p.currency == "USDT" for p in pays)
    (call,) = fake_binance.server.calls("GET", "/fapi/v1/income")
    assert call.params["incomeType"] == "FUNDING_FEE"


def test_create_builds_a_demo_trading_venue_and_refuses_unknown_exchanges() -> None:
    """Binance futures --testnet is demo trading: ccxt refuses signed calls of the old
    futures sandbox ("testnet/sandbox mode is not supported for futures anymore")."""
    from althedge.errors import InputError
    from althedge.venues.ccxt_venue import CcxtVenue

    venue = CcxtVenue.create("binanceusdm", testnet=True)
    assert venue.name == "binanceusdm-testnet"
    assert venue.exchange.urls["api"]["fapiPrivate"].startswith("https://demo-fapi.binance.com")
    coinm = CcxtVenue.create("binancecoinm", testnet=True)
    assert coinm.exchange.urls["api"]["dapiPrivate"].startswith("https://demo-dapi.binance.com")
    with pytest.raises(InputError, match="not supported"):
        CcxtVenue.create("kraken")


def test_execute_reprice_fallback_sends_new_limits_then_market(
    binance_venue: Any, fake_binance: Any
) -> None:
    clock = iter(range(0, 10_000, 10))
    binance_venue._clock = lambda: float(next(clock))
    report = binance_venue.execute(
        _order(contracts=0.01), offset_bps=2, timeout_s=15, fallback="reprice", max_reprices=1
    )
    posts = fake_binance.server.calls("POST", "/fapi/v1/order")
    assert [p.params["type"] for p in posts] == ["LIMIT", "LIMIT", "MARKET"]
    cids = [p.params["newClientOrderId"] for p in posts]
    assert len(set(cids)) == 3  # each child has its own deterministic id
    assert len(fake_binance.server.calls("DELETE", "/fapi/v1/order")) == 2
    assert report.complete and len(report.orders) == 3


# --------------------------------------------------------------------------- safety

def _lookups_fail_after_first(fake: Any, failure: tuple[int, Any]) -> None:
    """GET /fapi/v1/order answers normally once (the pre-send lookup), then ``failure``."""
    real = fake.server.routes[("GET", "/fapi/v1/order")]
    seen: list[int] = []

    def handler(r: Any) -> Any:
        seen.append(1)
        return real(r) if len(seen) == 1 else failure

    fake.server.route("GET", "/fapi/v1/order", handler)


@pytest.mark.parametrize(
    "failure",
    [
        (429, {"code": -1003, "msg": "Too many requests; current limit is 2400 per minute."}),
        (503, {"code": -1001, "msg": "Internal error; unable to process your request."}),
    ],
    ids=["rate-limited", "unavailable"],
)
def test_create_timeout_then_failed_lookups_is_outcome_unknown_and_never_resent(
    binance_venue: Any, fake_binance: Any, failure: tuple[int, Any]
) -> None:
    """The exchange took the order, the reply timed out, every lookup failed: before, the
    order was re-sent (Binance keeps client ids unique only among OPEN orders, so a
    filled first order let the second one through: a double short)."""
    fake_binance.fill_on_create = 1.0  # filled at once: the id is free again at Binance
    srv = fake_binance.server
    srv.delay_next("POST", "/fapi/v1/order", 1.6)  # client timeout 1.0 s
    _lookups_fail_after_first(fake_binance, failure)
    with pytest.raises(OrderOutcomeUnknownError) as info:
        binance_venue.place_order(_order())
    msg = str(info.value)
    assert len(srv.calls("POST", "/fapi/v1/order")) == 1
    assert len(fake_binance.orders) == 1
    assert "\n" not in msg and "nothing was re-sent" in msg and "hedge status" in msg
    assert info.value.exit_code == 4


def test_outcome_unknown_is_not_reported_as_not_sent_by_execution(
    binance_venue: Any, fake_binance: Any
) -> None:
    srv = fake_binance.server
    srv.delay_next("POST", "/fapi/v1/order", 1.6)
    _lookups_fail_after_first(fake_binance, (503, {"code": -1001, "msg": "Internal error"}))
    not_sent: list[str] = []
    with pytest.raises(OrderOutcomeUnknownError):
        execute_order(
            binance_venue, _order(), as_planned=True, sleep=lambda _s: None,
            on_not_sent=lambda o: not_sent.append(o.client_order_id),
        )
    assert not_sent == []  # the intent stays open for reconciliation
    assert len(srv.calls("POST", "/fapi/v1/order")) == 1


def test_one_transient_poll_error_does_not_abandon_the_working_order(
    binance_venue: Any, fake_binance: Any
) -> None:
    """A 503 while polling is retried (backoff) and the order is worked to its fill."""
    fake_binance.fill_per_poll = 1.0
    real = fake_binance.server.routes[("GET", "/fapi/v1/order")]
    calls: list[int] = []

    def flaky(r: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:  # pre-send lookup, first poll fine, then one failure
            return 503, {"code": -1001, "msg": "Internal error"}
        return real(r)

    fake_binance.server.route("GET", "/fapi/v1/order", flaky)
    report = execute_order(
        binance_venue, _order(contracts=0.01), as_planned=True, timeout_s=5.0,
        poll_interval_s=0.0, sleep=lambda _s: None,
    )
    assert report.complete and report.orders[-1].status == "filled"
    assert len(fake_binance.server.calls("POST", "/fapi/v1/order")) == 1


def test_polls_that_keep_failing_cancel_the_working_order_and_say_so(
    binance_venue: Any, fake_binance: Any
) -> None:
    """Before: one timeout while polling ended the command with the limit still resting."""
    real = fake_binance.server.routes[("GET", "/fapi/v1/order")]
    calls: list[int] = []

    def down(r: Any) -> Any:
        calls.append(1)
        if 2 <= len(calls) <= 5:  # the poll and its 3 retries fail
            return 503, {"code": -1001, "msg": "Internal error"}
        return real(r)

    fake_binance.server.route("GET", "/fapi/v1/order", down)
    with pytest.raises(ExchangeError) as info:
        execute_order(
            binance_venue, _order(), as_planned=True, timeout_s=5.0, poll_interval_s=0.0,
            sleep=lambda _s: None,
        )
    (o,) = fake_binance.orders.values()
    assert o["status"] == "CANCELED", str(info.value)
    assert "cancelled" in str(info.value) and "\n" not in str(info.value)


def test_hedge_mode_orders_carry_the_short_position_side(
    binance_venue: Any, fake_binance: Any
) -> None:
    """Binance hedge mode: every order names positionSide; reduceOnly is refused there."""
    fake_binance.dual_side = True
    binance_venue.place_order(_order())
    binance_venue.place_order(
        _order(side="buy", reduce_only=True, client_order_id=client_order_id("p", 1, "close"))
    )
    opened, closed = (c.params for c in fake_binance.server.calls("POST", "/fapi/v1/order"))
    assert opened["positionSide"] == "SHORT" and opened["side"] == "SELL"
    assert closed["positionSide"] == "SHORT" and closed["side"] == "BUY"
    assert "reduceOnly" not in opened and "reduceOnly" not in closed


def test_one_way_mode_orders_carry_no_position_side(
    binance_venue: Any, fake_binance: Any
) -> None:
    binance_venue.place_order(_order(reduce_only=True))
    (call,) = fake_binance.server.calls("POST", "/fapi/v1/order")
    assert "positionSide" not in call.params and call.params["reduceOnly"] == "true"


def test_order_below_minimum_notional_is_refused_before_sending(
    binance_venue: Any, fake_binance: Any
) -> None:
    """BTCUSDT MIN_NOTIONAL 100 USDT: 0.001 BTC at 90,000 = 90 USDT is refused here."""
    with pytest.raises(BelowExchangeMinimumError, match="below the exchange minimum of 100"):
        binance_venue.place_order(_order(contracts=0.001))
    assert fake_binance.server.calls("POST", "/fapi/v1/order") == []
    assert binance_venue.below_minimum(SYMBOL, 0.001, 90_000.0) is not None
    assert binance_venue.below_minimum(SYMBOL, 0.002, 90_000.0) is None


def test_invalid_client_id_is_not_mistaken_for_a_duplicate(
    binance_venue: Any, fake_binance: Any
) -> None:
    """-4015 means "Client order id is not valid", not "duplicate": no lookup-and-return."""
    fake_binance.reject_create = (400, {"code": -4015, "msg": "Client order id is not valid."})
    with pytest.raises(ExchangeError, match="client order id is not valid"):
        binance_venue.place_order(_order())
    gets = fake_binance.server.calls("GET", "/fapi/v1/order")
    assert len(gets) == 1  # the pre-send lookup only


def test_fractional_leverage_is_sent_whole_and_said(
    binance_venue: Any, fake_binance: Any
) -> None:
    binance_venue.set_leverage(SYMBOL, 2.5, "isolated")
    (call,) = fake_binance.server.calls("POST", "/fapi/v1/leverage")
    assert call.params["leverage"] == "2"
    assert binance_venue.notices == [
        "leverage 2.5 rounded down to 2 (Binance USDⓈ-M futures takes whole numbers)"
    ]


# ------------------------------------------------------------------ account (issue 9)
def _futures_asset(asset: str, wallet: str, upnl: str = "0") -> dict[str, Any]:
    """One ``assets`` row of GET /fapi/v3/account and /dapi/v1/account (Binance
    "Account Information"): ``marginBalance`` = wallet + unrealised PnL (ccxt's total)."""
    margin = f"{float(wallet) + float(upnl):.8f}"
    return {"asset": asset, "walletBalance": wallet, "unrealizedProfit": upnl,
            "marginBalance": margin, "maintMargin": "0", "initialMargin": "0",
            "positionInitialMargin": "0", "openOrderInitialMargin": "0",
            "crossWalletBalance": wallet, "crossUnPnl": upnl, "availableBalance": wallet,
            "maxWithdrawAmount": wallet, "updateTime": 1_764_072_000_000}


def _transfer(t_ms: int, income: str, asset: str = "USDT") -> dict[str, Any]:
    """GET /fapi/v1/income?incomeType=TRANSFER (Binance "Get Income History"): a transfer
    into (+) or out of (−) the futures wallet."""
    return {"symbol": "", "incomeType": "TRANSFER", "income": income, "asset": asset,
            "info": "TRANSFER", "time": t_ms, "tranId": t_ms // 1000, "tradeId": ""}


def test_balance_equity_and_deposits_of_the_usdm_wallet(
    binance_venue: Any, fake_binance: Any
) -> None:
    """Balance = marginBalance (wallet + PnL); deposits are the TRANSFER income rows
    since the leg opened, read in 7-day windows (Binance answers 7 days per request)."""
    srv = fake_binance.server
    day = 86_400_000
    opened = 1_763_000_000_000
    srv.route("GET", "/fapi/v3/account", (200, {"assets": [
        _futures_asset("USDT", "1200.5", "-20.5"), _futures_asset("USDC", "100")],
        "positions": []}))
    rows = [_transfer(opened - day, "5000"), _transfer(opened + 2 * day, "300"),
            _transfer(opened + 12 * day, "-50")]

    def income(r: Any) -> Any:
        lo, hi = int(r.params["startTime"]), int(r.params["endTime"])
        assert r.params["incomeType"] == "TRANSFER" and hi - lo < 7 * day
        return 200, [x for x in rows if lo <= x["time"] <= hi]

    srv.route("GET", "/fapi/v1/income", income)
    binance_venue.exchange.milliseconds = lambda: opened + 15 * day
    assert binance_venue.balance("USDT") == pytest.approx(1180.0)
    assert binance_venue.equity_usd() == pytest.approx(1280.0)
    deps = binance_venue.deposits_since(opened, ["USDT"])
    assert [(d.amount, d.currency) for d in deps] == [(300.0, "USDT"), (-50.0, "USDT")]
    assert len(srv.calls("GET", "/fapi/v1/income")) == 3
    assert binance_venue.deposits_note == ""
