"""Caps that hold: at the worst fill price, on the total of every leg, as the file says now.

Through the real console entry on the paper venue (examples/portfolio.toml, 2024-06-03:
BTC mark ≈ 68,805 USD, the plan shorts 0.968 BTC ≈ 66,600 USD; with BTC+ETH the legs
are ≈ 36,000 and ≈ 29,100 USD), and a hypothesis property of the order planner: an
order it returns never takes the position past a cap at any price the order can fill
at, whatever the rounding.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from althedge.core.instruments import get_instrument
from althedge.errors import LimitExceededError
from althedge.services.hedge.executor import ExecutionSettings
from althedge.services.hedge.orders import plan_orders
from althedge.venues.limits import Limits, order_notional_usd, worst_fill_price

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = (ROOT / "examples" / "portfolio.toml").read_text(encoding="utf-8")
DAY = "2024-06-03"


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "althedge", *args], capture_output=True, text=True,
        env={**os.environ, "ALTHEDGE_HOME": str(home)}, timeout=180,
    )


def _portfolio(tmp_path: Path, *, notional: float = 250_000, leverage_cap: float = 5,
               assets: str = '["BTC"]') -> Path:
    text = EXAMPLE.replace('assets = ["BTC"]', f"assets = {assets}")
    text = re.sub(r"max_notional_usd = \d+", f"max_notional_usd = {notional:.0f}", text)
    text = re.sub(r"max_leverage = \d+", f"max_leverage = {leverage_cap:g}", text)
    path = tmp_path / "portfolio.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _paper_orders(home: Path) -> dict[str, object]:
    state = home / "paper" / "state.json"
    return dict(json.loads(state.read_text())["orders"]) if state.exists() else {}


def test_a_crossing_limit_is_capped_at_the_price_it_can_fill_at(tmp_path: Path) -> None:
    """The issue's case: a sell limit 5 % under the mark is worth less *at its limit* than
    the cap, but it fills near the mark — above the cap. Refused, live or dry run."""
    home = tmp_path / "home"
    pf = _portfolio(tmp_path, notional=65_000)  # 0.968 BTC: 63,273 at the limit, 66,603 at mark
    for extra in ((), ("--live",)):
        proc = run(home, "hedge", "open", str(pf), "--venue", "paper", "--at", DAY,
                   "--offset-bps", "-500", *extra)
        assert proc.returncode == 5, proc.stderr
        assert "limits.max_notional_usd 65,000" in proc.stderr and "Traceback" not in proc.stderr
    assert _paper_orders(home) == {}


def test_the_cap_holds_for_the_legs_together(tmp_path: Path) -> None:
    home = tmp_path / "home"
    pf = _portfolio(tmp_path, notional=40_000, assets='["BTC", "ETH"]')  # each leg fits alone
    proc = run(home, "hedge", "open", str(pf), "--venue", "paper", "--at", DAY, "--live")
    assert proc.returncode == 5, proc.stderr
    assert "across the hedge's legs" in proc.stderr
    assert _paper_orders(home) == {}


def test_a_cap_tightened_after_the_open_holds(tmp_path: Path) -> None:
    home = tmp_path / "home"
    pf = _portfolio(tmp_path)
    opened = run(home, "hedge", "open", str(pf), "--venue", "paper", "--at", DAY, "--live")
    assert opened.returncode == 0, opened.stderr
    before = _paper_orders(home)
    _portfolio(tmp_path, leverage_cap=1.5)  # the same file, tightened below the 2x in force
    proc = run(home, "hedge", "rebalance", "--at", "2024-09-02", "--threshold", "0", "--live")
    assert proc.returncode == 5, proc.stderr
    assert "limits.max_leverage 1.5x" in proc.stderr
    assert _paper_orders(home) == before
    # the way off stays open: a close is reduce-only
    closed = run(home, "hedge", "close", "--at", "2024-09-02", "--live")
    assert closed.returncode == 0, closed.stderr


SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT"]


@settings(max_examples=300, deadline=None)
@given(
    symbol=st.sampled_from(SYMBOLS),
    mark=st.floats(100.0, 200_000.0),
    current=st.floats(0.0, 50.0),
    target=st.floats(0.0, 80.0),
    cap_usd=st.floats(1_000.0, 5_000_000.0),
    max_contracts=st.floats(0.01, 100.0),
    offset_bps=st.floats(-900.0, 900.0),
    order_type=st.sampled_from(["limit", "market"]),
    others_usd=st.floats(0.0, 2_000_000.0),
)
def test_planned_orders_never_pass_a_cap(
    symbol: str, mark: float, current: float, target: float, cap_usd: float,
    max_contracts: float, offset_bps: float, order_type: str, others_usd: float,
) -> None:
    instrument = get_instrument("binance", symbol)
    execution = ExecutionSettings(order_type=order_type, offset_bps=offset_bps)  # type: ignore[arg-type]
    limits = Limits(max_notional_usd=cap_usd, max_contracts=max_contracts, max_leverage=10)
    try:
        orders = plan_orders(
            hedge_key="k:1", first_step=0, purpose="open", instrument=instrument,
            current_short=current, target_short=target, mark_price=mark,
            execution=execution, limits=limits, leverage=2.0, other_notional_usd=others_usd,
        )
    except LimitExceededError:
        return
    for order in orders:
        if order.reduce_only:
            assert order.side == "buy" and order.contracts <= current + 1e-9
            continue
        # rounding never grows the order past what was asked, nor past the caps
        assert order.contracts <= target - current + 1e-9
        steps = order.contracts / instrument.lot_step
        assert abs(steps - round(steps)) < 1e-6
        after = current + order.contracts
        assert after <= max_contracts
        # at any fill the order can get: its limit or the mark (+ slippage), whichever
        # is worse — a crossing limit fills near the mark, never at its limit
        worst = worst_fill_price("sell", mark, order.price, execution.max_slippage_bps)
        assert worst >= mark and worst >= (order.price or 0.0)
        assert order_notional_usd(instrument, after, worst) <= cap_usd + 1e-6
        assert order_notional_usd(instrument, after, worst) + others_usd <= cap_usd + 1e-6


@pytest.mark.parametrize("side", ["sell", "buy"])
def test_worst_fill_price_is_beyond_both_limit_and_mark(side: str) -> None:
    mark = 68_804.7
    for limit in (mark * 0.95, mark, mark * 1.05, None):
        worst = worst_fill_price(side, mark, limit, 50.0)
        ref = mark if limit is None else limit
        if side == "sell":
            assert worst == pytest.approx(max(ref, mark) * 1.005)
        else:
            assert worst == pytest.approx(min(ref, mark) * 0.995)
