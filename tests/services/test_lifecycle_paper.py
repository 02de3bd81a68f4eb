"""The lifecycle services on the real paper exchange and the real data in ../shared/data.

Each step re-opens the journal and the persisted paper account, as separate CLI
invocations would. Also: the attribution identity (components sum exactly to the
change in total value) over several real periods, and crash safety: a child
process is killed (tests/crash_run.py installs a step hook that calls os._exit)
at each named step, then the next command reconciles with nothing lost or doubled.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from althedge.config import parse_portfolio
from althedge.data import open_source
from althedge.errors import InputError, JournalError
from althedge.journal import Journal
from althedge.services.lifecycle import (
    CRASH_POINTS,
    close_hedge,
    hedge_status,
    open_hedge,
    rebalance_hedge,
    reconcile,
)
from althedge.venues.paper import PaperExchange

PORTFOLIO: dict[str, Any] = {
    "name": "test bag",
    "holdings": [
        {"asset": "SOL", "amount": 120},
        {"asset": "AVAX", "amount": 400},
        {"asset": "LINK", "amount": 500},
    ],
    "hedge": {"exchange": "binance", "contract": "linear", "leverage": 2, "lookback_days": 90},
    "limits": {"max_notional_usd": 250_000, "max_contracts": 1000, "max_leverage": 5},
}


@pytest.fixture(scope="module")
def source(shared_data: Path) -> Any:
    return open_source(shared_data / "daily")


def _venue(home: Path, source: Any, at: date | None) -> PaperExchange:
    return PaperExchange.open(home / "paper", source=source, at=at, persist=True)


def _close_on(source: Any, asset: str, day: date) -> float:
    """The source's last close of ``asset`` on or before ``day`` (USD) — the price the
    paper venue marks at on ``day``; 1 for a USD stablecoin."""
    if asset in ("USD", "USDT", "USDC"):
        return 1.0
    closes = source.closes([asset], end=pd.Timestamp(day))[asset].dropna()
    return float(closes.loc[closes.index <= pd.Timestamp(day)].iloc[-1])


class _Ledger:
    """The test's own book of one paper account, kept apart from the lifecycle's code:
    what was brought in (the paper state's cumulative ``deposits``, each increase priced
    at the source's close of the day it was seen) and the total value (holdings at the
    source's closes + the paper wallet balances at their prices). The change in total
    value minus what was brought in is what the close's ``net_usd`` must equal."""

    def __init__(self, home: Path, source: Any, amounts: dict[str, float]) -> None:
        self.home, self.source, self.amounts = home, source, amounts
        self.seen: dict[str, float] = {}
        self.brought_in_usd = 0.0
        self.value_open_usd: float | None = None

    def _state(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.home / "paper" / "state.json").read_text())
        return data

    def total_value_usd(self, day: date) -> float:
        state = self._state()
        assert not state["positions"], "value the account when it is flat"
        holdings = sum(a * _close_on(self.source, asset, day) for asset, a in self.amounts.items())
        wallet = sum(
            float(b) * _close_on(self.source, ccy, day) for ccy, b in state["balances"].items()
        )
        return holdings + wallet

    def note(self, day: date) -> None:
        """Price every deposit increase since the last note at ``day``'s close."""
        for ccy, total in self._state().get("deposits", {}).items():
            delta = float(total) - self.seen.get(ccy, 0.0)
            if delta:
                self.brought_in_usd += delta * _close_on(self.source, ccy, day)
                self.seen[ccy] = float(total)


_LEDGERS: dict[Path, _Ledger] = {}


def _holdings(portfolio: dict[str, Any]) -> dict[str, float]:
    return {h["asset"]: float(h["amount"]) for h in portfolio["holdings"]}


def _start_ledger(home: Path, source: Any, at: date, portfolio: dict[str, Any]) -> None:
    """Before the open: the account is flat (holdings only, or whatever a new paper
    account holds); an account that holds a position keeps its ledger."""
    state = home / "paper" / "state.json"
    if state.exists() and json.loads(state.read_text())["positions"]:
        return
    ledger = _LEDGERS[home] = _Ledger(home, source, _holdings(portfolio))
    if state.exists():  # what the account took in before this hedge is not this hedge's
        ledger.seen = {k: float(v) for k, v in ledger._state().get("deposits", {}).items()}
        ledger.value_open_usd = ledger.total_value_usd(at)
    else:  # a new auto-funded paper account holds nothing
        ledger.value_open_usd = sum(
            a * _close_on(source, asset, at) for asset, a in ledger.amounts.items()
        )


def _note(home: Path, day: date) -> None:
    if home in _LEDGERS:
        _LEDGERS[home].note(day)


def _open(home: Path, source: Any, at: date, contract: str = "linear") -> dict[str, Any]:
    pf = {**PORTFOLIO, "hedge": {**PORTFOLIO["hedge"], "contract": contract}}
    _start_ledger(home, source, at, pf)
    with Journal(home / "journal.sqlite") as j:
        v = _venue(home, source, at)
        res = open_hedge(j, v, parse_portfolio(pf), source, as_of=at, live=True)
        v.save()
    _note(home, at)
    return res.to_dict()


def _close(home: Path, source: Any, at: date) -> dict[str, Any]:
    _note(home, at)
    with Journal(home / "journal.sqlite") as j:
        v = _venue(home, source, at)
        res = close_hedge(j, v, source, as_of=at, live=True)
        v.save()
    _note(home, at)
    out = res.to_dict()
    out["_closed_on"] = at
    return out


def _assert_identity(c: dict[str, Any], home: Path) -> None:
    """net_usd equals the change in total account value computed here, independently
    of the lifecycle: holdings and paper wallet at the source's closes, minus what the
    paper account took in (see :class:`_Ledger`); the result's own
    ``total_value_change_usd`` agrees."""
    ledger = _LEDGERS[home]
    assert ledger.value_open_usd is not None
    change = ledger.total_value_usd(c["_closed_on"]) - ledger.value_open_usd
    change -= ledger.brought_in_usd
    assert c["net_usd"] == pytest.approx(change, rel=1e-9, abs=1e-6)
    assert c["total_value_change_usd"] == pytest.approx(change, rel=1e-9, abs=1e-6)
    # the sign-carrying names (schema 2) agree with the deprecated ones
    assert c["fees_paid_usd"] == -c["fees_usd"] and c["fees_paid_usd"] >= 0
    assert c["funding_received_usd"] == c["funding_usd"]


def test_cycle_open_status_rebalance_close(tmp_path: Path, source: Any) -> None:
    home = tmp_path
    opened = _open(home, source, date(2024, 6, 3))
    assert opened["executed"][-1]["status"] == "filled"
    short = opened["current_contracts"]
    assert short == pytest.approx(opened["target_contracts"]) and short > 0

    with Journal(home / "journal.sqlite") as j:
        v = _venue(home, source, date(2024, 6, 24))
        st = hedge_status(j, v, source, as_of=date(2024, 6, 24))
        v.save()
        assert st.reconciliation.ok and st.contracts == pytest.approx(short)
        assert st.funding_usd == pytest.approx(sum(f["amount_usd"] for f in j.funding(st.hedge_id)))
        assert len(j.funding(st.hedge_id)) == 21 * 3  # 8-hourly payments, 21 days
        # status is a read: calling it again books nothing twice
        again = hedge_status(j, v, source, as_of=date(2024, 6, 24))
        assert again.funding_usd == pytest.approx(st.funding_usd)
        assert st.hedge_ratio_achieved is not None and 0.5 < st.hedge_ratio_achieved < 1.5
        assert st.liquidation_price is not None and st.liquidation_price > (st.mark_price or 0)
        # the paper perpetual marks at the spot close: zero basis
        assert st.basis == pytest.approx(0.0) and st.spot_price == pytest.approx(st.mark_price)

    with Journal(home / "journal.sqlite") as j:
        v = _venue(home, source, date(2024, 7, 15))
        dry = rebalance_hedge(j, v, source, threshold_pct=0.0, as_of=date(2024, 7, 15))
        assert dry.orders and dry.executed == [] and not dry.live
        n_orders = len(j.orders())
        live = rebalance_hedge(j, v, source, threshold_pct=0.0, as_of=date(2024, 7, 15), live=True)
        v.save()
        assert len(j.orders()) > n_orders
        assert live.current_contracts == pytest.approx(live.target_contracts)
        side = live.orders[0]["side"]
        assert live.orders[0]["reduce_only"] is (side == "buy")
        # at the target now: a second rebalance does nothing
        calm = rebalance_hedge(j, v, source, threshold_pct=0.5, as_of=date(2024, 7, 15), live=True)
        assert calm.orders == [] and "within threshold" in calm.message
    _note(home, date(2024, 7, 15))

    closed = _close(home, source, date(2024, 8, 5))
    assert closed["orders"][0]["reduce_only"] is True
    assert closed["net_usd"] == pytest.approx(
        closed["portfolio_pnl_usd"]
        + closed["hedge_pnl_usd"]
        + closed["funding_usd"]
        + closed["fees_usd"],
        abs=1e-9,
    )
    assert closed["total_value_change_usd"] == pytest.approx(closed["net_usd"], abs=1e-6)
    with Journal(home / "journal.sqlite") as j:
        assert j.active_hedge() is None
        assert j.hedges()[0].attribution is not None
        v = _venue(home, source, None)
        assert v.position("BTC/USDT:USDT") is None
        with pytest.raises(InputError, match="no open hedge"):
            close_hedge(j, v, source, live=True)


@pytest.mark.parametrize(
    ("start", "end"),
    [("2021-05-03", "2021-06-21"), ("2022-05-02", "2022-06-20"), ("2023-10-02", "2023-12-04")],
)
def test_attribution_sums_exactly_to_change_in_total_value(
    tmp_path: Path, source: Any, start: str, end: str
) -> None:
    """Crash (2021, 2022 LUNA) and rally (2023-24) periods of real data."""
    _open(tmp_path, source, date.fromisoformat(start))
    c = _close(tmp_path, source, date.fromisoformat(end))
    assert c["collateral_usd"] == 0.0  # USDT margin does not move with BTC
    _assert_identity(c, tmp_path)
    # a short BTC hedge gains when BTC falls and loses when it rallies
    assert (c["hedge_pnl_usd"] > 0) == (c["portfolio_pnl_usd"] < 0)


def test_inverse_attribution_includes_the_coin_collateral(tmp_path: Path, source: Any) -> None:
    """Inverse (COIN-M) short margined in BTC, with a rebalance on the way: the BTC posted
    as margin is itself long BTC, shown as collateral_usd; the identity stays exact."""
    _open(tmp_path, source, date(2024, 6, 3), contract="inverse")
    with Journal(tmp_path / "journal.sqlite") as j:
        v = _venue(tmp_path, source, date(2024, 7, 10))
        reb = rebalance_hedge(j, v, source, threshold_pct=0.0, as_of=date(2024, 7, 10), live=True)
        v.save()
        assert reb.symbol == "BTC/USD:BTC" and reb.executed
    _note(tmp_path, date(2024, 7, 10))
    c = _close(tmp_path, source, date(2024, 8, 5))
    _assert_identity(c, tmp_path)
    # BTC fell from ~68.8k to ~54k: the posted BTC lost USD value
    assert c["collateral_usd"] < 0 < c["hedge_pnl_usd"]


def test_status_hedge_ratio_counts_the_coin_collateral_delta(
    tmp_path: Path, source: Any
) -> None:
    """Inverse short sized as H + C·P (docs/domain.md): the C coin of collateral is long the
    hedge asset, so the hedge in force — and the ratio status reports — is the net."""
    pf = {**PORTFOLIO, "hedge": {**PORTFOLIO["hedge"], "contract": "inverse",
                                 "collateral_asset": "BTC", "collateral_amount": 0.5}}
    day = date(2024, 6, 3)
    with Journal(tmp_path / "journal.sqlite") as j:
        v = _venue(tmp_path, source, day)
        open_hedge(j, v, parse_portfolio(pf), source, as_of=day, live=True)
        v.save()
        st = hedge_status(j, _venue(tmp_path, source, day), source, as_of=day)
    assert st.collateral_coin == 0.5 and st.mark_price is not None
    assert st.hedge_notional_usd == pytest.approx(st.contracts * 100.0)  # BTCUSD: 100 USD
    net = st.hedge_notional_usd - 0.5 * st.mark_price
    assert st.net_hedge_notional_usd == pytest.approx(net, rel=1e-12)
    wanted = st.portfolio_value_usd * st.current_beta
    assert st.hedge_ratio_achieved == pytest.approx(net / wanted, rel=1e-12)
    # on the opening day the net short is the planned V·β, to within one 100-USD contract
    assert abs(net - wanted) <= 100.0 + 1e-6 * wanted
    assert st.to_dict()["net_hedge_notional_usd"] == pytest.approx(net, rel=1e-12)


def test_liquidated_hedge_is_reconciled_and_closed(tmp_path: Path, source: Any) -> None:
    """2× short from Oct 2023: BTC's rally to March 2024 liquidates it on paper."""
    _open(tmp_path, source, date(2023, 10, 2))
    with Journal(tmp_path / "journal.sqlite") as j:
        v = _venue(tmp_path, source, date(2024, 3, 4))
        assert v.position("BTC/USDT:USDT") is None and v.liquidations
        rec = reconcile(j, v)
        v.save()
        assert rec.ok, rec.differences
        assert any("liquidated" in r for r in rec.resolved)
        assert [a["kind"] for a in j.alerts()] == ["liquidated"]
        assert reconcile(j, v).resolved == []  # imported once
    c = _close(tmp_path, source, date(2024, 3, 4))
    assert c["orders"] == []
    assert abs(c["total_value_change_usd"] - c["net_usd"]) < 1e-6 * max(1.0, abs(c["net_usd"]))
    # the hedge lost its whole isolated margin (about notional / leverage), no more
    assert c["hedge_pnl_usd"] < 0


def test_open_refuses_while_a_hedge_is_open_and_when_venue_differs(
    tmp_path: Path, source: Any
) -> None:
    _open(tmp_path, source, date(2024, 6, 3))
    with pytest.raises(InputError, match="already open"):
        _open(tmp_path, source, date(2024, 6, 3))
    # someone adds to the position on the exchange behind the journal's back
    v = _venue(tmp_path, source, None)
    from althedge.venues.protocol import OrderRequest

    v.place_order(
        OrderRequest(
            symbol="BTC/USDT:USDT",
            side="sell",
            contracts=0.01,
            order_type="market",
            client_order_id="manual1",
        )
    )
    v.save()
    with Journal(tmp_path / "journal.sqlite") as j:
        v = _venue(tmp_path, source, None)
        rec = reconcile(j, v)
        assert not rec.ok and "journal" in rec.differences[0] and "venue" in rec.differences[0]
        with pytest.raises(JournalError, match="disagree"):
            rebalance_hedge(j, v, source, threshold_pct=0.0, live=True)
        # a dry run still shows the status and the difference
        st = hedge_status(j, v, source)
        assert st.reconciliation.differences and st.warnings


# --------------------------------------------------------------------------- crash safety

CRASH_RUN = Path(__file__).resolve().parents[1] / "crash_run.py"


def _child(
    home: Path,
    shared_data: Path,
    action: str,
    day: str,
    crash: str,
    portfolio: dict[str, Any] = PORTFOLIO,
) -> int:
    proc = subprocess.run(
        [
            sys.executable,
            str(CRASH_RUN),
            crash,
            "service",
            str(home),
            str(shared_data / "daily"),
            action,
            day,
            json.dumps(portfolio),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode in (0, 77), proc.stderr
    return proc.returncode


def _paper_order_ids(home: Path) -> list[str]:
    return sorted(json.loads((home / "paper" / "state.json").read_text())["orders"])


@pytest.mark.parametrize("point", ["hedge_recorded", "leverage_set", "intent", "sent", "recorded"])
def test_killed_while_opening(tmp_path: Path, shared_data: Path, source: Any, point: str) -> None:
    assert point in CRASH_POINTS
    assert _child(tmp_path, shared_data, "open", "2024-06-03", point) == 77
    day = date(2024, 6, 3)
    with Journal(tmp_path / "journal.sqlite") as j:
        v = _venue(tmp_path, source, day)
        rec = reconcile(j, v)
        assert rec.ok, rec.differences
        assert not j.orders(statuses=["intent", "sent", "open"])
        # the next command brings the short to the target — once
        res = rebalance_hedge(j, v, source, threshold_pct=1.0, as_of=day, live=True)
        v.save()
        position = v.position("BTC/USDT:USDT")
        assert position is not None
        assert position.contracts == pytest.approx(res.target_contracts)
        assert -j.net_contracts(j.active_hedge().id) == pytest.approx(position.contracts)  # type: ignore[union-attr]
        journaled = sorted(o.client_order_id for o in j.orders() if o.status != "not_sent")
        assert journaled == _paper_order_ids(tmp_path)  # each order exactly once on both sides
        if point in ("sent", "recorded"):
            assert res.orders == []  # the first order was found and recorded, never re-sent
            assert len(journaled) == 1
        if point == "intent":
            assert j.orders()[0].status == "not_sent"
            assert any("never reached the venue" in r for r in rec.resolved)


@pytest.mark.parametrize("point", ["sent", "closed_orders"])
def test_killed_while_closing(tmp_path: Path, shared_data: Path, source: Any, point: str) -> None:
    _open(tmp_path, source, date(2024, 6, 3))
    assert _child(tmp_path, shared_data, "close", "2024-07-01", point) == 77
    closed = _close(tmp_path, source, date(2024, 7, 1))
    assert closed["orders"] == []  # the buy-back happened before the crash: not repeated
    _assert_identity(closed, tmp_path)
    with Journal(tmp_path / "journal.sqlite") as j:
        buys = [o for o in j.orders() if o.side == "buy"]
        assert len(buys) == 1 and buys[0].status == "filled"
        assert j.active_hedge() is None


def test_working_order_left_by_a_crash_is_cancelled_before_resizing(
    tmp_path: Path, source: Any
) -> None:
    """A passive limit was resting when the process died mid-execution: the next
    rebalance cancels it first, so it can never fill on top of the resize."""
    from althedge.services.hedge.common import record_result
    from althedge.venues.protocol import OrderRequest, client_order_id

    day = date(2024, 6, 3)
    _open(tmp_path, source, day)
    with Journal(tmp_path / "journal.sqlite") as j:
        v = _venue(tmp_path, source, day)
        hedge = j.active_hedge()
        assert hedge is not None
        mark = v.mark_price(hedge.symbol)
        resting = OrderRequest(
            symbol=hedge.symbol,
            side="sell",
            contracts=0.2,
            order_type="limit",
            price=round(mark * 1.2, 1),
            client_order_id=client_order_id("x", 99, "rebalance"),
        )
        j.record_intent(
            hedge_id=hedge.id,
            client_order_id=resting.client_order_id,
            venue=v.name,
            symbol=resting.symbol,
            side="sell",
            amount=0.2,
            order_type="limit",
            price=resting.price,
            reduce_only=False,
            purpose="rebalance",
            at="t",
        )
        record_result(j, v.place_order(resting), at="2024-06-03T00:00:00+00:00")
        v.save()
        assert j.order(resting.client_order_id).status == "open"  # type: ignore[union-attr]

        dry = rebalance_hedge(j, v, source, threshold_pct=0.0, as_of=day)
        assert any("would be cancelled first" in w for w in dry.warnings)
        live = rebalance_hedge(j, v, source, threshold_pct=0.0, as_of=day, live=True)
        v.save()
        assert any("cancelled first" in w for w in live.warnings)
        assert v.open_orders(hedge.symbol) == []
        assert j.order(resting.client_order_id).status == "canceled"  # type: ignore[union-attr]
    # the clock moves past the old limit price: nothing fills on top of the hedge
    with Journal(tmp_path / "journal.sqlite") as j:
        v = _venue(tmp_path, source, date(2024, 12, 31))
        position = v.position("BTC/USDT:USDT")
        assert position is not None
        assert position.contracts == pytest.approx(-j.net_contracts(hedge.id))
        assert reconcile(j, v).ok


# --------------------------------------------------------------------------- two legs (BTC+ETH)

TWO_LEGS: dict[str, Any] = {**PORTFOLIO, "hedge": {**PORTFOLIO["hedge"], "assets": ["BTC", "ETH"]}}
LEG_SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT"]


def _open_two(home: Path, source: Any, at: date) -> dict[str, Any]:
    _start_ledger(home, source, at, TWO_LEGS)
    with Journal(home / "journal.sqlite") as j:
        v = _venue(home, source, at)
        res = open_hedge(j, v, parse_portfolio(TWO_LEGS), source, as_of=at, live=True)
        v.save()
    _note(home, at)
    return res.to_dict()


def test_two_leg_cycle_open_status_rebalance_close(tmp_path: Path, source: Any) -> None:
    """BTC+ETH minimum-variance hedge on real data: one short per leg, each watched,
    resized and bought back; the portfolio is attributed once."""
    home = tmp_path
    opened = _open_two(home, source, date(2024, 6, 3))
    assert [leg["symbol"] for leg in opened["legs"]] == LEG_SYMBOLS
    assert [o["symbol"] for o in opened["orders"]] == LEG_SYMBOLS
    assert all(o["side"] == "sell" and not o["reduce_only"] for o in opened["orders"])
    assert len({o["client_order_id"] for o in opened["orders"]}) == 2
    plan_legs = opened["plan"]["hedges"]
    for leg, planned in zip(opened["legs"], plan_legs, strict=True):
        assert leg["target_contracts"] == pytest.approx(planned["contracts"])
        assert leg["target_contracts"] > 0
        assert leg["current_contracts"] == pytest.approx(leg["target_contracts"])
    assert opened["current_contracts"] == opened["legs"][0]["current_contracts"]
    assert "BTC/USDT:USDT" in opened["message"] and "ETH/USDT:USDT" in opened["message"]

    with Journal(home / "journal.sqlite") as j:
        hedge = j.active_hedge()
        assert hedge is not None and hedge.symbol == "BTC/USDT:USDT"
        v = _venue(home, source, date(2024, 6, 24))
        st = hedge_status(j, v, source, as_of=date(2024, 6, 24))
        v.save()
        assert st.reconciliation.ok
        d = st.to_dict()
        legs = d["legs"]
        assert [leg["symbol"] for leg in legs] == LEG_SYMBOLS
        for leg in legs:
            position = v.position(leg["symbol"])
            assert position is not None and leg["contracts"] == pytest.approx(position.contracts)
            assert len(j.funding(hedge.id, leg["symbol"])) == 21 * 3  # each leg its own payments
            assert leg["funding_usd"] == pytest.approx(j.funding_total_usd(hedge.id, leg["symbol"]))
            assert leg["liquidation_price"] > leg["mark_price"] > 0
            assert leg["liquidation_distance_pct"] > 0 and leg["margin_ratio"] > 0
            assert leg["fees_usd"] < 0
        for key in ("hedge_notional_usd", "unrealised_pnl_usd", "funding_usd", "fees_usd"):
            assert d[key] == pytest.approx(sum(leg[key] for leg in legs), rel=1e-12)
        for key in ("contracts", "target_contracts", "mark_price", "liquidation_price"):
            assert d[key] == legs[0][key]
        assert d["funding_usd"] == pytest.approx(j.funding_total_usd(hedge.id))
        assert st.hedge_ratio_achieved is not None and 0.5 < st.hedge_ratio_achieved < 1.5
        again = hedge_status(j, v, source, as_of=date(2024, 6, 24))
        assert again.funding_usd == pytest.approx(st.funding_usd)  # nothing booked twice

    with Journal(home / "journal.sqlite") as j:
        v = _venue(home, source, date(2024, 7, 15))
        dry = rebalance_hedge(j, v, source, threshold_pct=0.0, as_of=date(2024, 7, 15))
        assert {o["symbol"] for o in dry.orders} == set(LEG_SYMBOLS) and dry.executed == []
        live = rebalance_hedge(j, v, source, threshold_pct=0.0, as_of=date(2024, 7, 15), live=True)
        v.save()
        for order in live.orders:
            assert order["reduce_only"] is (order["side"] == "buy")
        for leg in live.legs:
            assert leg["current_contracts"] == pytest.approx(leg["target_contracts"])
            position = v.position(leg["symbol"])
            assert position is not None
            assert position.contracts == pytest.approx(leg["target_contracts"])
        ids = [o.client_order_id for o in j.orders()]
        assert len(ids) == len(set(ids)) == 4
        calm = rebalance_hedge(j, v, source, threshold_pct=0.5, as_of=date(2024, 7, 15), live=True)
        assert calm.orders == [] and "within threshold" in calm.message
    _note(home, date(2024, 7, 15))

    closed = _close(home, source, date(2024, 8, 5))
    assert [o["symbol"] for o in closed["orders"]] == LEG_SYMBOLS
    assert all(o["side"] == "buy" and o["reduce_only"] for o in closed["orders"])
    _assert_identity(closed, home)
    assert closed["collateral_usd"] == 0.0
    with Journal(home / "journal.sqlite") as j:
        assert j.active_hedge() is None and j.hedges()[0].attribution is not None
        hid = j.hedges()[0].id
        v = _venue(home, source, None)
        for sym in LEG_SYMBOLS:
            assert v.position(sym) is None and j.net_contracts(hid, sym) == pytest.approx(0.0)
        assert closed["funding_usd"] == pytest.approx(j.funding_total_usd(hid))


@pytest.mark.parametrize(
    ("start", "end"),
    [("2021-05-03", "2021-06-21"), ("2022-05-02", "2022-06-20"), ("2024-09-02", "2024-11-25")],
)
def test_two_leg_attribution_sums_exactly_to_change_in_total_value(
    tmp_path: Path, source: Any, start: str, end: str
) -> None:
    """Crash (2021, 2022 LUNA) and rally (autumn 2024) periods, both legs short."""
    _open_two(tmp_path, source, date.fromisoformat(start))
    c = _close(tmp_path, source, date.fromisoformat(end))
    _assert_identity(c, tmp_path)
    assert c["collateral_usd"] == 0.0
    assert (c["hedge_pnl_usd"] > 0) == (c["portfolio_pnl_usd"] < 0)


def test_two_leg_inverse_collateral_is_valued_per_coin(tmp_path: Path, source: Any) -> None:
    """Inverse BTC+ETH: each leg is margined in its own coin; the BTC and ETH posted are
    each revalued at their own mark, and the identity stays exact over a rebalance."""
    pf = {
        **TWO_LEGS,
        "hedge": {**TWO_LEGS["hedge"], "contract": "inverse"},
        "limits": {**PORTFOLIO["limits"], "max_contracts": 100_000},
    }
    _start_ledger(tmp_path, source, date(2024, 6, 3), pf)
    with Journal(tmp_path / "journal.sqlite") as j:
        v = _venue(tmp_path, source, date(2024, 6, 3))
        opened = open_hedge(j, v, parse_portfolio(pf), source, as_of=date(2024, 6, 3), live=True)
        v.save()
        _note(tmp_path, date(2024, 6, 3))
        assert [leg["symbol"] for leg in opened.legs] == ["BTC/USD:BTC", "ETH/USD:ETH"]
        v = _venue(tmp_path, source, date(2024, 7, 10))
        rebalance_hedge(j, v, source, threshold_pct=0.0, as_of=date(2024, 7, 10), live=True)
        v.save()
        _note(tmp_path, date(2024, 7, 10))
        coins = {d["currency"] for d in j.deposits()}
        assert coins == {"BTC", "ETH"}
        eth = [d for d in j.deposits() if d["currency"] == "ETH"]
        # ETH's own close on the day it was deposited (shared/data daily ETH, 2024-06-03:
        # the open's margin), not BTC's
        assert eth[0]["price_usd"] == pytest.approx(_close_on(source, "ETH", date(2024, 6, 3)))
        assert eth[0]["price_usd"] != pytest.approx(_close_on(source, "BTC", date(2024, 6, 3)))
    c = _close(tmp_path, source, date(2024, 8, 5))
    _assert_identity(c, tmp_path)
    assert c["collateral_usd"] < 0 < c["hedge_pnl_usd"]  # both coins fell


@pytest.mark.parametrize("point", ["recorded", "leg_placed"])
def test_killed_between_the_two_legs_of_an_open(
    tmp_path: Path, shared_data: Path, source: Any, point: str
) -> None:
    """The BTC short is placed and recorded, then the process dies before the ETH one:
    the next command finds the ETH leg flat and places it — once; BTC is not doubled."""
    assert point in CRASH_POINTS
    _start_ledger(tmp_path, source, date(2024, 6, 3), TWO_LEGS)
    assert _child(tmp_path, shared_data, "open", "2024-06-03", point, TWO_LEGS) == 77
    day = date(2024, 6, 3)
    with Journal(tmp_path / "journal.sqlite") as j:
        hedge = j.active_hedge()
        assert hedge is not None
        v = _venue(tmp_path, source, day)
        btc = v.position("BTC/USDT:USDT")
        assert btc is not None and v.position("ETH/USDT:USDT") is None
        rec = reconcile(j, v)
        assert rec.ok, rec.differences
        assert [o.symbol for o in j.orders()] == ["BTC/USDT:USDT"]
        st = hedge_status(j, v, source, as_of=day)
        assert st.legs[1].contracts == 0.0 and st.legs[1].target_contracts > 0
        res = rebalance_hedge(j, v, source, threshold_pct=1.0, as_of=day, live=True)
        v.save()
        assert [o["symbol"] for o in res.orders] == ["ETH/USDT:USDT"]  # BTC left alone
        for leg in res.legs:
            position = v.position(leg["symbol"])
            assert position is not None
            assert position.contracts == pytest.approx(leg["target_contracts"])
            assert -j.net_contracts(hedge.id, leg["symbol"]) == pytest.approx(position.contracts)
        assert v.position("BTC/USDT:USDT").contracts == btc.contracts  # type: ignore[union-attr]
        journaled = sorted(o.client_order_id for o in j.orders() if o.status != "not_sent")
        assert journaled == _paper_order_ids(tmp_path)  # each order once on both sides
    c = _close(tmp_path, source, date(2024, 7, 1))
    _assert_identity(c, tmp_path)


def test_killed_between_the_two_legs_of_a_close(
    tmp_path: Path, shared_data: Path, source: Any
) -> None:
    """BTC bought back and recorded, then the process dies: the next close buys back
    only ETH and attributes the whole hedge exactly."""
    _open_two(tmp_path, source, date(2024, 6, 3))
    assert _child(tmp_path, shared_data, "close", "2024-07-01", "recorded", TWO_LEGS) == 77
    v = _venue(tmp_path, source, date(2024, 7, 1))
    assert v.position("BTC/USDT:USDT") is None and v.position("ETH/USDT:USDT") is not None
    closed = _close(tmp_path, source, date(2024, 7, 1))
    assert [o["symbol"] for o in closed["orders"]] == ["ETH/USDT:USDT"]
    _assert_identity(closed, tmp_path)
    with Journal(tmp_path / "journal.sqlite") as j:
        buys = [o for o in j.orders() if o.side == "buy"]
        assert [o.symbol for o in buys] == LEG_SYMBOLS
        assert all(o.status == "filled" for o in buys) and j.active_hedge() is None


# --------------------------------------------------------------------------- two hedges


def test_two_hedges_one_after_the_other_in_one_account(tmp_path: Path, source: Any) -> None:
    """Hedge #1 runs 2024-06-03 → 06-24 and is closed; hedge #2 opens on the same paper
    account on 07-01. Hedge #2 is charged only its own funding (read from the venue
    since its legs opened, by the venue's clock) and its own fees, its journal rows
    carry the venue's dates, and both closes match the independent account change."""
    first = _open(tmp_path, source, date(2024, 6, 3))
    c1 = _close(tmp_path, source, date(2024, 6, 24))
    _assert_identity(c1, tmp_path)
    second = _open(tmp_path, source, date(2024, 7, 1))
    assert second["hedge_id"] == first["hedge_id"] + 1
    with Journal(tmp_path / "journal.sqlite") as j:
        v = _venue(tmp_path, source, date(2024, 7, 15))
        st = hedge_status(j, v, source, as_of=date(2024, 7, 15))
        v.save()
        h1, h2 = j.hedge(first["hedge_id"]), j.hedge(second["hedge_id"])
        paid = v.funding_payments("BTC/USDT:USDT")
        since = pd.Timestamp("2024-07-01", tz="UTC").value // 1_000_000
        own = [p for p in paid if p.timestamp_ms >= since]
        assert len(paid) > len(own) == 14 * 3  # the account paid funding for both hedges
        assert len(j.funding(h2.id)) == len(own)  # hedge #2 took only its own
        assert st.funding_usd == pytest.approx(sum(p.amount for p in own))
        assert len(j.funding(h1.id)) == 21 * 3  # hedge #1 kept its own
        # fees: each hedge has its own orders' fees
        assert st.fees_usd == pytest.approx(-sum(f.fee_usd for f in j.fills(h2.id)))
        # journal rows take their time from the venue's clock, not the wall clock
        assert h1.opened_at.startswith("2024-06-03") and h1.closed_at is not None
        assert h1.closed_at.startswith("2024-06-24")
        assert h2.opened_at.startswith("2024-07-01")
        assert {o.created_at[:10] for o in j.orders(h2.id)} == {"2024-07-01"}
    c2 = _close(tmp_path, source, date(2024, 8, 5))
    _assert_identity(c2, tmp_path)
    assert c2["funding_received_usd"] == pytest.approx(
        sum(p.amount for p in _venue(tmp_path, source, date(2024, 8, 5)).funding_payments(
            "BTC/USDT:USDT") if p.timestamp_ms >= since)
    )
