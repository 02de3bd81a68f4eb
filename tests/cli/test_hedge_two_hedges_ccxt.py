"""Two hedges one after the other in one Binance USDⓈ-M account (issue 9, "Done means") —
real ``althedge`` processes against the offline model (tests/fixtures/binance_usdm.py).

open → funding → close → open a second → funding (over more than 7 days) → close. The
model's income ledger is the exchange's own record of who paid what: each close must
report exactly its hedge's FUNDING_FEE and COMMISSION rows (Binance "Get Income History"),
the second hedge never the first one's funding, funding is read from the leg's open time
on the venue's clock (the model's server time) in windows of at most 7 days (Binance
answers at most 7 days per request), and each close's unexplained remainder (total
account value change minus the attribution) is within a cent. Funding a short receives:
``-position × mark × rate`` (Binance USDⓈ-M "Funding Rate": positive rate, longs pay
shorts). The paper version: tests/services/test_lifecycle_paper.py
``test_two_hedges_one_after_the_other_in_one_account``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PORTFOLIO = str(ROOT / "examples" / "portfolio.toml")
SEVEN_DAYS_MS = 7 * 24 * 3_600_000
CENT = 0.01


def _income(model: Any, kind: str, since_ms: int, until_ms: int) -> float:
    return sum(float(r["income"]) for r in model.income
               if r["incomeType"] == kind and since_ms <= r["time"] <= until_ms)


def _funding_reads(model: Any, after: int) -> list[tuple[int, int]]:
    """(startTime, endTime) of the FUNDING_FEE reads made after request number ``after``."""
    return [(int(r.params["startTime"]), int(r.params["endTime"]))
            for r in model.server.requests[after:]
            if r.path == "/fapi/v1/income" and r.params.get("incomeType") == "FUNDING_FEE"]


def _hedge(model: Any, home: Path, *, rate: float, payments: int, close_mark: float
           ) -> tuple[dict[str, Any], dict[str, Any], int, int]:
    """Open, ``payments`` 8-hourly funding payments, a status, close (at ``close_mark``).
    Returns (status, close, model time at open, model time after the close)."""
    t_open = model.now_ms()
    opened = model.althedge(home, "hedge", "open", PORTFOLIO, "--venue", "binanceusdm",
                            "--live", "--json")
    assert opened.returncode == 0, opened.stderr
    for _ in range(payments):
        model.advance(8)
        assert model.pay_funding("BTCUSDT", rate) > 0  # a short receives a positive rate
    status = model.althedge(home, "hedge", "status", "--json")
    assert status.returncode == 0, status.stderr
    model.set_mark(close_mark)
    closed = model.althedge(home, "hedge", "close", "--live", "--json", "--timeout", "1")
    assert closed.returncode == 0, closed.stderr
    assert model.position_amt() == 0.0
    return json.loads(status.stdout), json.loads(closed.stdout), t_open, model.now_ms()


def test_two_hedges_in_one_account_each_get_their_own_funding_and_fees(
    tmp_path: Path, binance_model: Any
) -> None:
    model, home = binance_model, tmp_path / "home"
    s1, c1, open1, end1 = _hedge(model, home, rate=0.0001, payments=3, close_mark=90_000.0)
    model.advance(24)
    model.set_mark(88_000.0)
    before_second = len(model.server.requests)
    s2, c2, open2, end2 = _hedge(model, home, rate=0.00005, payments=30, close_mark=86_000.0)
    assert (c1["hedge_id"], c2["hedge_id"]) == (1, 2)

    for status, close, since, until in ((s1, c1, open1, end1), (s2, c2, open2, end2)):
        funding = _income(model, "FUNDING_FEE", since, until)
        assert status["funding_usd"] == pytest.approx(funding, abs=1e-6)
        assert close["funding_received_usd"] == pytest.approx(funding, abs=1e-6)
        assert close["fees_paid_usd"] == pytest.approx(
            -_income(model, "COMMISSION", since, until), abs=1e-6)
        assert close["hedge_pnl_usd"] == pytest.approx(
            _income(model, "REALIZED_PNL", since, until), abs=1e-6)
        # the close explains the whole change in account value, to the cent
        assert close["estimated"] is False
        assert abs(close["unexplained_usd"]) <= CENT
        assert close["total_value_change_usd"] == pytest.approx(close["net_usd"], abs=CENT)

    # the second hedge never shows the first one's funding (3 payments at 0.01 %)
    assert c2["funding_received_usd"] == pytest.approx(
        30 * s2["contracts"] * 88_000 * 0.00005, rel=1e-9)
    # it read from its own open time, on the exchange's clock, 7 days at a time, up to now
    reads = _funding_reads(model, before_second)
    assert reads and all(start >= open2 for start, _ in reads)
    assert all(end - start < SEVEN_DAYS_MS for start, end in reads)
    last_close = reads[-2:]  # the close reads 10 days: two windows, back to back
    assert last_close[1][0] == last_close[0][1] + 1 and last_close[1][1] >= end2 - 60_000
