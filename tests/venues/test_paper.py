"""PaperExchange: fills, fees, margin, funding, liquidation, idempotency, state.

Expected values come from althedge.core (the one place formulas live) or from the
definitions in docs/domain.md, computed independently here where they are simple.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from althedge.core.instruments import Side
from althedge.core.margin import initial_margin, liquidation_price
from althedge.errors import ExchangeError, InputError
from althedge.venues.paper import PaperExchange
from althedge.venues.protocol import OrderRequest, Venue, client_order_id

LIN = "BTC/USDT:USDT"  # Binance USDⓈ-M, 1 BTC per contract, lot 0.001
INV = "BTC/USD:BTC"  # Binance COIN-M, 100 USD per contract, lot 1


def flat(price: float, start: str = "2024-01-01", days: int = 30) -> pd.Series:
    idx = pd.date_range(start, periods=days, freq="D")
    return pd.Series(price, index=idx, dtype=float)


def paper(prices: pd.Series | None = None, **kw: object) -> PaperExchange:
    series = prices if prices is not None else flat(50_000.0)
    kw.setdefault("now", series.index[0])
    return PaperExchange({"BTC": series}, **kw)  # type: ignore[arg-type]


def market(side: str, qty: float, cid: str, symbol: str = LIN, **kw: object) -> OrderRequest:
    return OrderRequest(symbol, side, qty, "market", cid, **kw)  # type: ignore[arg-type]


def test_satisfies_the_venue_protocol() -> None:
    assert isinstance(paper(), Venue)


def test_market_sell_fills_at_mark_less_slippage_and_pays_taker_fee() -> None:
    px = paper(slippage_bps=10, taker_fee=0.0005)
    px.set_leverage(LIN, 2, "isolated")
    r = px.place_order(market("sell", 0.5, "ahs1"))
    assert r.status == "filled"
    assert r.average_price == pytest.approx(50_000 * (1 - 0.001))
    # fee = 0.5 BTC × 49,950 × 0.05 % = 12.4875 USDT, paid
    assert r.fee.amount == pytest.approx(12.4875)
    assert r.fee.currency == "USDT"
    pos = px.position(LIN)
    assert pos is not None and pos.side == Side.SHORT and pos.contracts == pytest.approx(0.5)
    # isolated margin = initial margin from core at the fill price, 2x
    assert pos.isolated_margin == pytest.approx(
        initial_margin("linear", 0.5, 1.0, r.average_price, 2)
    )
    assert px.deposits["USDT"] == pytest.approx(pos.isolated_margin + r.fee.amount)


@settings(max_examples=40, deadline=None)
@given(
    slip=st.floats(0, 100),
    fee=st.floats(-0.0002, 0.001),
    side=st.sampled_from(["buy", "sell"]),
    qty=st.integers(1, 5000).map(lambda n: n / 1000),
)
def test_slippage_and_fee_signs(slip: float, fee: float, side: str, qty: float) -> None:
    px = paper(slippage_bps=slip, taker_fee=fee)
    r = px.place_order(market(side, qty, "ahsign"))
    mark = 50_000.0
    assert r.average_price is not None
    if side == "buy":
        assert r.average_price >= mark  # a buyer never gets better than the mark
    else:
        assert r.average_price <= mark
    # fee paid has the sign of the rate (a negative rate is a rebate)
    assert r.fee.amount == pytest.approx(qty * r.average_price * fee, abs=1e-9)


def test_same_client_order_id_twice_is_one_order_and_one_fill() -> None:
    px = paper()
    a = px.place_order(market("sell", 0.2, "ahdup"))
    balances = dict(px.balances)
    b = px.place_order(market("sell", 0.2, "ahdup"))
    c = px.place_order(market("buy", 9.0, "ahdup"))  # even with different content
    assert a == b == c
    assert len(px.fills) == 1
    assert px.balances == balances
    pos = px.position(LIN)
    assert pos is not None and pos.contracts == pytest.approx(0.2)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=st.lists(
        st.tuples(st.integers(0, 5), st.sampled_from(["buy", "sell"]), st.integers(1, 50)),
        min_size=1,
        max_size=15,
    )
)
def test_idempotency_property(ops: list[tuple[int, str, int]]) -> None:
    """However orders repeat, each client id fills at most once."""
    px = paper()
    seen: set[str] = set()
    for key, side, n in ops:
        cid = client_order_id("plan", key, "prop")
        px.place_order(market(side, n / 100, cid))
        seen.add(cid)
    assert {f.client_order_id for f in px.fills} <= seen
    per_order = [f.client_order_id for f in px.fills]
    assert len(per_order) <= len(seen) * 2  # a flip is at most two fills of one order
    assert len(px.orders) == len(seen)


@settings(max_examples=60, deadline=None)
@given(
    open_qty=st.integers(1, 3000).map(lambda n: n / 1000),
    reduce_qty=st.integers(1, 6000).map(lambda n: n / 1000),
    partial=st.sampled_from([None, 0.3, 0.5]),
)
def test_reduce_only_never_flips_a_position(
    open_qty: float, reduce_qty: float, partial: float | None
) -> None:
    px = paper(partial_fill_fraction=partial)
    opened = px.place_order(market("sell", open_qty, "ahopen"))
    held = opened.filled_contracts
    r = px.place_order(market("buy", reduce_qty, "ahred", reduce_only=True))
    pos = px.position(LIN)
    assert r.filled_contracts <= held + 1e-12
    if pos is not None:
        assert pos.side == Side.SHORT
        assert pos.contracts == pytest.approx(held - r.filled_contracts)
    else:
        assert r.filled_contracts == pytest.approx(held)


def test_reduce_only_without_position_is_refused_and_recorded() -> None:
    px = paper()
    with pytest.raises(ExchangeError, match="reduce-only"):
        px.place_order(market("buy", 0.1, "ahnored", reduce_only=True))
    got = px.fetch_order(LIN, "ahnored")
    assert got is not None and got.status == "rejected"
    assert px.position(LIN) is None


def test_partial_fill_then_the_rest_fills_when_the_price_comes() -> None:
    prices = flat(50_000.0, days=5)
    prices.iloc[3] = 50_600.0
    px = paper(prices, partial_fill_fraction=0.4, maker_fee=0.0002)
    r = px.place_order(OrderRequest(LIN, "sell", 1.0, "limit", "ahpart", price=49_990.0))
    assert r.status == "partially_filled"
    assert r.filled_contracts == pytest.approx(0.4)
    # a sell limit above the mark rests, and fills (at its limit, as maker) only when the
    # mark reaches it
    rest = px.place_order(OrderRequest(LIN, "sell", 1.0, "limit", "ahrest", price=50_500.0))
    assert rest.status == "open"
    px.advance_to(prices.index[2])
    assert px.fetch_order(LIN, "ahrest").status == "open"  # type: ignore[union-attr]
    px.advance_to(prices.index[3])
    after = px.fetch_order(LIN, "ahrest")
    assert after is not None and after.status == "partially_filled"
    assert after.average_price == pytest.approx(50_500.0)  # at its limit, as maker
    assert after.fee.amount == pytest.approx(0.4 * 50_500.0 * 0.0002)


def test_market_partial_fill_cancels_the_rest() -> None:
    px = paper(partial_fill_fraction=0.5)
    r = px.place_order(market("sell", 1.0, "ahmkt"))
    assert r.status == "canceled"
    assert r.filled_contracts == pytest.approx(0.5)
    assert px.open_orders(LIN) == []


def test_funding_accrues_each_8h_and_a_short_receives_when_positive() -> None:
    px = paper(funding_rate_8h=0.0001, slippage_bps=0, taker_fee=0)
    px.place_order(market("sell", 2.0, "ahfund"))
    margin0 = px.position(LIN).isolated_margin  # type: ignore[union-attr]
    px.advance_to(pd.Timestamp("2024-01-02"))
    pays = px.funding_payments(LIN)
    # 08:00, 16:00, 00:00 → three payments of Q·CS·P·rate = 2·50,000·0.0001 = 10 USDT
    assert [p.amount for p in pays] == pytest.approx([10.0, 10.0, 10.0])
    assert px.position(LIN).isolated_margin == pytest.approx(margin0 + 30.0)  # type: ignore[union-attr]


def test_inverse_funding_is_in_coin() -> None:
    px = paper(funding_rate_8h=0.0001, slippage_bps=0, taker_fee=0)
    px.place_order(market("sell", 10, "ahinv", symbol=INV))
    px.advance_to(pd.Timestamp("2024-01-01 08:00"))
    (p,) = px.funding_payments(INV)
    # Q·CS/P·rate = 10·100/50,000·0.0001 = 2e-6 BTC received
    assert p.currency == "BTC"
    assert p.amount == pytest.approx(2e-6)


def _rally(start: float, peak: float, days: int = 20) -> pd.Series:
    idx = pd.date_range("2024-01-01", periods=days, freq="D")
    step = (peak / start) ** (1 / (days - 1))
    return pd.Series([start * step**i for i in range(days)], index=idx)


def test_short_is_liquidated_on_a_rally_at_cores_liquidation_price() -> None:
    prices = _rally(50_000.0, 80_000.0)
    px = paper(prices, slippage_bps=0, taker_fee=0, funding_rate_8h=0.0)
    px.set_leverage(LIN, 5, "isolated")
    px.place_order(market("sell", 1.0, "ahliq"))
    pos = px.position(LIN)
    assert pos is not None
    inst = px.instrument(LIN)
    expected = liquidation_price(
        "binance",
        "linear",
        "short",
        1.0,
        1.0,
        50_000.0,
        wallet_balance=pos.isolated_margin,
        tiers=inst.tiers,
    ).liquidation_price
    assert pos.liquidation_price == pytest.approx(expected)
    first_cross = prices[prices >= expected].index[0]
    px.advance_to(first_cross - pd.Timedelta(hours=1))
    assert px.position(LIN) is not None  # the close before is still below
    px.advance_to(prices.index[-1])
    assert px.position(LIN) is None
    (liq,) = px.liquidations
    assert pd.Timestamp(liq["timestamp_ms"], unit="ms") == first_cross
    assert liq["margin_lost"] == pytest.approx(pos.isolated_margin)  # all of it, no more
    assert px.balance("USDT") == pytest.approx(0.0, abs=1e-6)
    assert px.fills[-1].liquidation
    # the liquidation fill is at the bankruptcy price: EP·(1 + 1/L) for a linear short
    assert px.fills[-1].price == pytest.approx(50_000.0 * 1.2)


def test_one_x_inverse_short_survives_any_rally() -> None:
    prices = _rally(50_000.0, 500_000.0)
    px = paper(prices, slippage_bps=0, taker_fee=0, funding_rate_8h=0.0)
    px.set_leverage(INV, 1, "isolated")
    px.place_order(market("sell", 10, "ahinv1x", symbol=INV))
    px.advance_to(prices.index[-1])
    assert px.liquidations == []
    assert px.position(INV) is not None


def test_insufficient_balance_is_a_clear_refusal() -> None:
    px = paper(balances={"USDT": 100.0})
    px.set_leverage(LIN, 2, "isolated")
    with pytest.raises(ExchangeError, match="insufficient margin"):
        px.place_order(market("sell", 1.0, "ahpoor"))
    assert px.position(LIN) is None
    assert px.balances["USDT"] == pytest.approx(100.0)


def test_cross_margin_is_refused_on_paper() -> None:
    with pytest.raises(InputError, match="isolated"):
        paper().set_leverage(LIN, 2, "cross")


def test_execute_limit_times_out_then_market_fallback_fills() -> None:
    px = paper(slippage_bps=5)
    order = OrderRequest(LIN, "sell", 0.3, "limit", "ahexec", price=1.0)
    report = px.execute(order, offset_bps=10, timeout_s=30, fallback="market")
    assert report.complete
    assert [o.order_type for o in report.orders] == ["limit", "market"]
    assert report.orders[0].status == "canceled"  # 10 bps above the mark never filled
    assert report.orders[0].price == pytest.approx(50_000 * 1.001)


def test_state_round_trip_and_save_only_when_persisting(tmp_path: Path) -> None:
    prices = _rally(50_000.0, 55_000.0)
    px = paper(prices, partial_fill_fraction=0.5)
    px.set_leverage(LIN, 3, "isolated")
    px.place_order(market("sell", 1.0, "ahst1"))
    px.place_order(OrderRequest(LIN, "sell", 0.2, "limit", "ahst2", price=60_000.0))
    px.advance_to(prices.index[5])
    state = json.loads(json.dumps(px.to_dict()))
    back = PaperExchange.from_dict(state, {"BTC": prices})
    assert back.to_dict() == px.to_dict()
    assert back.position(LIN) == px.position(LIN)

    dry = PaperExchange.open(tmp_path / "dry", at=prices.index[0], persist=False)
    dry._feeds["BTC"] = prices
    dry.place_order(market("sell", 0.1, "ahdry"))
    assert dry.save() is None and not (tmp_path / "dry").exists()

    live = PaperExchange.open(tmp_path / "live", at=prices.index[0], persist=True)
    live._feeds["BTC"] = prices
    live.place_order(market("sell", 0.1, "ahlive"))
    saved = live.save()
    assert saved is not None and saved.is_file()
    again = PaperExchange.open(tmp_path / "live", persist=True)
    again._feeds["BTC"] = prices
    assert again.position(LIN) == live.position(LIN)
    assert again.place_order(market("sell", 0.1, "ahlive")).exchange_order_id == "paper-1"
    assert len(again.fills) == 1


def test_clock_cannot_go_back_with_a_position() -> None:
    prices = flat(50_000.0)
    px = paper(prices, now=prices.index[10])
    px.place_order(market("sell", 0.1, "ahclk"))
    with pytest.raises(InputError, match="cannot go back"):
        px.advance_to(prices.index[2])


def test_full_cycle_on_real_data_attribution_adds_up(shared_data: Path) -> None:
    """Open → rebalance → close on the real BTC closes and funding in ../shared/data.

    Account equity change = hedge PnL + funding − fees, to the cent.
    """
    from althedge.data import open_source

    source = open_source(shared_data)
    px = PaperExchange(source=source, now="2024-03-01", slippage_bps=3)
    px.set_leverage(LIN, 2, "isolated")
    open_r = px.execute(
        OrderRequest(LIN, "sell", 0.8, "limit", "ahcyc0", price=1.0), offset_bps=-5, timeout_s=5
    )
    assert open_r.complete
    px.advance_to("2024-06-01")
    grow = px.execute(OrderRequest(LIN, "sell", 0.2, "market", "ahcyc1"))
    assert grow.complete
    px.advance_to("2024-09-01")
    pos = px.position(LIN)
    assert pos is not None and pos.contracts == pytest.approx(1.0)
    close = px.execute(
        OrderRequest(LIN, "buy", pos.contracts, "market", "ahcyc2", reduce_only=True)
    )
    assert close.complete and px.position(LIN) is None

    hedge_pnl = 0.0
    for f in px.fills:
        sign = 1.0 if f.side == "sell" else -1.0  # cash view: sells receive, buys pay
        hedge_pnl += sign * f.contracts * f.price
    funding = sum(p.amount for p in px.funding_payments(LIN))
    fees = sum(f.fee.amount for f in px.fills)
    equity_change = px.balance("USDT") - px.deposits["USDT"]
    assert (
        len(px.funding_payments(LIN))
        == 3 * (pd.Timestamp("2024-09-01") - pd.Timestamp("2024-03-01")).days
    )
    assert equity_change == pytest.approx(hedge_pnl + funding - fees, abs=0.01)
    assert math.isfinite(equity_change)
    # the real funding series was used (not the fixed default)
    assert len({round(p.rate, 10) for p in px.funding_payments(LIN)}) > 10


def test_re_running_an_interrupted_execution_sends_nothing_twice() -> None:
    """A crash after the fallback: running the same execution again finds every order."""
    px = paper(partial_fill_fraction=0.5)
    order = OrderRequest(LIN, "sell", 1.0, "limit", "ahrerun", price=1.0)
    first = px.execute(order, offset_bps=10, timeout_s=5, fallback="market")
    fills = len(px.fills)
    position = px.position(LIN)
    again = px.execute(order, offset_bps=10, timeout_s=5, fallback="market")
    assert len(px.fills) == fills
    assert px.position(LIN) == position
    assert [o.client_order_id for o in again.orders] == [o.client_order_id for o in first.orders]
    assert again.filled_contracts == pytest.approx(first.filled_contracts)


def test_callable_price_feed_and_funding_feed() -> None:
    """A callable feed (any clock) and a funding series per 8 h drive marks and funding."""
    start = pd.Timestamp("2024-01-01")

    def btc(t: pd.Timestamp) -> float:
        return 40_000.0 + (t - start) / pd.Timedelta(hours=1)  # +1 USD per hour

    funding = pd.Series([0.0003, -0.0001], index=pd.to_datetime(["2024-01-01", "2024-01-02"]))
    px = PaperExchange({"BTC": btc}, now=start, funding={"BTC": funding}, slippage_bps=0)
    assert px.mark_price(LIN) == pytest.approx(40_000.0)
    assert px.funding_rate(LIN) == (pytest.approx(0.0003), 8.0)
    px.place_order(market("sell", 1.0, "ahcall"))
    px.advance_to("2024-01-02 08:00")
    amounts = [round(p.amount, 6) for p in px.funding_payments(LIN)]
    # 08:00 and 16:00 on day 1 at +0.03 %, 00:00 and 08:00 on day 2 at −0.01 %
    assert amounts == pytest.approx(
        [40_008 * 0.0003, 40_016 * 0.0003, -40_024 * 0.0001, -40_032 * 0.0001]
    )
    assert px.mark_price(LIN) == pytest.approx(40_032.0)
