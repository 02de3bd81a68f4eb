"""CcxtVenue over a real ccxt.hyperliquid (wallet-signed) on a local server.

What althedge's intents become on Hyperliquid's exchange endpoint (docs "Exchange
endpoint"): an ``order`` action with ``a`` (asset index), ``b`` (is buy), ``s`` (size in
coin, szDecimals), ``r`` (reduce-only) and ``c`` (cloid, 128-bit hex); ``updateLeverage``
with ``isCross`` false for isolated margin; every action signed by the API wallet's key
(EIP-712 r/s/v), which never appears in a request. ccxt's own builder-fee approval and
referrer actions are never sent. Lookup by cloid through ``orderStatus``.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import pytest

from althedge.errors import ExchangeError
from althedge.exchanges.hyperliquid import cloid
from althedge.venues.ccxt_venue import CcxtVenue
from althedge.venues.credentials import Credentials
from althedge.venues.protocol import OrderRequest, client_order_id

from .conftest import HL_PRIVATE_KEY, HL_WALLET, FakeHyperliquid

SYMBOL = "BTC/USDC:USDC"


@pytest.fixture
def venue(hyperliquid: Any) -> CcxtVenue:
    creds = Credentials("hyperliquid", HL_WALLET, HL_PRIVATE_KEY, wallet=True)
    return CcxtVenue(hyperliquid, credentials=creds, sleep=lambda _s: None)


def _actions(server: Any) -> list[dict[str, Any]]:
    return [json.loads(r.raw) for r in server.calls("POST", "/exchange")]


def test_cloid_is_128_bit_hex_and_deterministic() -> None:
    cid = client_order_id("plan-7", 0, "open")
    out = cloid(cid)
    assert re.fullmatch(r"0x[0-9a-f]{32}", out)
    assert cloid(cid) == out and cloid(client_order_id("plan-7", 1, "open")) != out


def test_instrument_from_live_meta(venue: CcxtVenue) -> None:
    inst = venue.instrument(SYMBOL)
    assert inst.exchange == "hyperliquid" and inst.settle == "USDC"
    assert inst.contract_size == 1.0  # sizes are coins
    assert inst.lot_step == pytest.approx(0.00001)  # szDecimals 5
    assert inst.tick_size == pytest.approx(1.0)  # 5 significant figures at 97 600
    assert inst.max_leverage == 40
    assert inst.funding_interval_hours == 1.0
    assert [t.max_leverage for t in inst.tiers] == [40, 20]


def test_leverage_then_order_are_signed_actions_and_nothing_else(
    venue: CcxtVenue, local_server: Any, fake_hyperliquid: FakeHyperliquid
) -> None:
    venue.set_leverage(SYMBOL, 2, "isolated")
    cid = client_order_id("hl-plan", 0, "open")
    res = venue.place_order(OrderRequest(SYMBOL, "sell", 0.7778, "limit", cid, price=97_590.0))
    assert res.status == "filled" and res.client_order_id == cid
    assert res.filled_contracts == pytest.approx(0.7778)
    acts = _actions(local_server)
    kinds = [a["action"]["type"] for a in acts]
    assert kinds == ["updateLeverage", "order"]  # no approveBuilderFee, no setReferrer
    lev = acts[0]["action"]
    assert lev == {"type": "updateLeverage", "asset": 0, "isCross": False, "leverage": 2}
    order = acts[1]["action"]
    assert "builder" not in order
    (o,) = order["orders"]
    assert o["a"] == 0 and o["b"] is False and o["r"] is False
    assert o["s"] == "0.7778" and o["p"] == "97590"
    assert o["c"] == cloid(cid)
    assert o["t"] == {"limit": {"tif": "Gtc"}}
    for a in acts:
        sig = a["signature"]
        assert re.fullmatch(r"0x[0-9a-f]{64}", sig["r"]) and sig["v"] in (27, 28)
    text = local_server.all_text()
    assert HL_PRIVATE_KEY not in text and HL_PRIVATE_KEY[2:] not in text


def test_same_intent_twice_sends_one_order(venue: CcxtVenue, local_server: Any) -> None:
    cid = client_order_id("hl-plan", 1, "open")
    req = OrderRequest(SYMBOL, "sell", 0.5, "limit", cid, price=97_500.0)
    first = venue.place_order(req)
    again = venue.place_order(req)
    assert first.exchange_order_id == again.exchange_order_id
    assert [a["action"]["type"] for a in _actions(local_server)].count("order") == 1
    looked = [json.loads(r.raw) for r in local_server.calls("POST", "/info")
              if json.loads(r.raw).get("type") == "orderStatus"]
    assert looked and all(q["oid"] == cloid(cid) and q["user"] == HL_WALLET for q in looked)


def test_reduce_only_market_close_is_an_ioc_limit_at_mark_with_slippage(
    venue: CcxtVenue, local_server: Any, fake_hyperliquid: FakeHyperliquid
) -> None:
    venue.place_order(OrderRequest(SYMBOL, "sell", 0.7778, "limit",
                                   client_order_id("hl", 0, "open"), price=97_590.0))
    res = venue.place_order(OrderRequest(SYMBOL, "buy", 0.7778, "market",
                                         client_order_id("hl", 1, "close"), reduce_only=True))
    assert res.status == "filled"
    o = _actions(local_server)[-1]["action"]["orders"][0]
    assert o["r"] is True and o["b"] is True
    assert o["t"] == {"limit": {"tif": "Ioc"}}
    # ccxt's default 5 % slippage on the mark (97 600), 5 significant figures
    assert float(o["p"]) == pytest.approx(97_600 * 1.05, rel=1e-4)
    assert fake_hyperliquid.position_szi == 0.0


def test_reduce_only_never_opens(venue: CcxtVenue, fake_hyperliquid: FakeHyperliquid) -> None:
    with pytest.raises(ExchangeError):
        venue.place_order(OrderRequest(SYMBOL, "buy", 0.1, "market",
                                       client_order_id("hl", 2, "close"), reduce_only=True))
    assert fake_hyperliquid.position_szi == 0.0


def test_position_and_funding_in_usdc(venue: CcxtVenue) -> None:
    venue.set_leverage(SYMBOL, 2, "isolated")
    venue.place_order(OrderRequest(SYMBOL, "sell", 0.7778, "limit",
                                   client_order_id("hl", 3, "open"), price=97_590.0))
    pos = venue.position(SYMBOL)
    assert pos is not None and pos.side.name == "SHORT"
    assert pos.contracts == pytest.approx(0.7778) and pos.entry_price == pytest.approx(97_600)
    assert pos.margin_mode == "isolated" and pos.settle == "USDC"
    pays = venue.funding_payments(SYMBOL, since_ms=1764547200000)
    assert [round(p.amount, 6) for p in pays] == [0.948916, 0.759133, -0.15183]
    assert {p.currency for p in pays} == {"USDC"}
    # hourly: Hyperliquid pays funding every hour (docs "Funding")
    steps = {b.timestamp_ms - a.timestamp_ms for a, b in itertools.pairwise(pays)}
    assert steps == {3_600_000}


def test_resting_order_read_back_under_our_client_id(
    venue: CcxtVenue, hyperliquid: Any, local_server: Any
) -> None:
    """A resting order comes back from ``frontendOpenOrders`` with its hex ``cloid``; a
    venue that knows the intent (the journal's ids, as in a later CLI process) reports it
    under althedge's client id, fetches and cancels it by that id; an order althedge did
    not place keeps its cloid and can still be looked up and cancelled by it."""
    cid = client_order_id("hl-rest", 0, "open")
    venue.place_order(OrderRequest(SYMBOL, "sell", 0.2, "limit", cid, price=99_000.0))
    fresh = CcxtVenue(hyperliquid, credentials=Credentials("hyperliquid", HL_WALLET,
                                                           HL_PRIVATE_KEY, wallet=True),
                      sleep=lambda _s: None)
    (raw,) = fresh.open_orders(SYMBOL)
    assert raw.client_order_id == cloid(cid)  # nothing known yet: the exchange's form
    fresh.remember_client_ids([cid, client_order_id("hl-rest", 1, "close")])
    (mine,) = fresh.open_orders(SYMBOL)
    assert mine.client_order_id == cid and mine.status == "open"
    assert mine.contracts == pytest.approx(0.2)
    got = fresh.fetch_order(SYMBOL, cid)
    assert got is not None and got.client_order_id == cid
    stranger = client_order_id("someone-else", 0, "open")
    venue.place_order(OrderRequest(SYMBOL, "sell", 0.1, "limit", stranger, price=99_500.0))
    other = next(o for o in fresh.open_orders(SYMBOL) if o.client_order_id != cid)
    assert other.client_order_id == cloid(stranger)
    fresh.cancel_order(SYMBOL, other.client_order_id)
    fresh.cancel_order(SYMBOL, cid)
    assert fresh.open_orders(SYMBOL) == []
    cancels = [a["action"] for a in _actions(local_server) if a["action"]["type"] == "cancel"]
    assert len(cancels) == 2
