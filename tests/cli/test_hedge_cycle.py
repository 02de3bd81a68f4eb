"""`althedge hedge …` through the real entry point on the paper venue and the real data.

open (dry run, then live) → status → rebalance → close across real dates of
../shared/data with fake API keys in the environment (they must appear nowhere),
the attribution identity, caps, one-line errors, and a real process killed at every
lifecycle step (tests/crash_run.py runs the CLI with a step hook that exits) and
resumed. The
lifecycle's other steps and periods are covered in
tests/services/test_lifecycle_paper.py.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from althedge.services.hedge import STEPS

PORTFOLIO = """
name = "test bag"
[[holdings]]
asset = "SOL"
amount = 120
[[holdings]]
asset = "AVAX"
amount = 400
[[holdings]]
asset = "LINK"
amount = 500
[hedge]
exchange = "binance"
contract = "linear"
leverage = 2
lookback_days = 90
[limits]
max_notional_usd = {notional}
max_contracts = {contracts}
max_leverage = 5
"""


#: the holdings of PORTFOLIO (asset → amount)
AMOUNTS = {"SOL": 120.0, "AVAX": 400.0, "LINK": 500.0}


def _value_change_usd(home: Path, shared_data: Path, opened: str, closed: str) -> float:
    """The change in total value from the open to the (flat) close, computed here from
    the paper account's state file and the shared daily closes — independently of the
    lifecycle: holdings at the closes + the paper wallet (USDT) − the USDT the paper
    account took in (its cumulative ``deposits``). A new paper account holds nothing."""
    from althedge.data import open_source

    source = open_source(shared_data / "daily")
    closes = source.closes(sorted(AMOUNTS))

    def holdings(day: str) -> float:
        row = closes.loc[closes.index <= day].iloc[-1]
        return sum(a * float(row[asset]) for asset, a in AMOUNTS.items())

    state = json.loads((home / "paper" / "state.json").read_text())
    assert not state["positions"] and set(state["balances"]) <= {"USDT"}
    wallet = float(state["balances"].get("USDT", 0.0))
    brought_in = float(state["deposits"].get("USDT", 0.0))
    return holdings(closed) + wallet - brought_in - holdings(opened)


def _portfolio(tmp_path: Path, notional: float = 250_000, contracts: float = 1000) -> Path:
    path = tmp_path / "portfolio.toml"
    path.write_text(PORTFOLIO.format(notional=notional, contracts=contracts), encoding="utf-8")
    return path


def run(
    home: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "ALTHEDGE_HOME": str(home), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "althedge", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
    )


def run_crashing_at(
    step: str, home: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    """``althedge ARGS`` in a child process killed (exit 77) at lifecycle ``step``
    (tests/crash_run.py installs the step hook and runs the CLI in-process)."""
    script = Path(__file__).resolve().parents[1] / "crash_run.py"
    return subprocess.run(
        [sys.executable, str(script), step, "cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "ALTHEDGE_HOME": str(home)},
        timeout=120,
    )


def ok_json(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def _orders(home: Path) -> list[tuple[str, str, float, str]]:
    path = home / "journal.sqlite"
    if not path.exists():
        return []
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT client_order_id, side, amount, status FROM orders ORDER BY id"
        ).fetchall()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def _paper_orders(home: Path) -> dict[str, Any]:
    state = json.loads((home / "paper" / "state.json").read_text())
    return dict(state["orders"])


SECRETS = {
    "ALTHEDGE_BINANCEUSDM_API_KEY": "AKfakeKEY7f3a9c1e5b",
    "ALTHEDGE_BINANCEUSDM_SECRET": "SKfakeSECRET2d8e4b6a0c",
    "ALTHEDGE_BINANCE_API_KEY": "AKfakeKEYbinance91",
    "ALTHEDGE_BINANCE_SECRET": "SKfakeSECRETbinance37",
    "ALTHEDGE_OKX_PASSWORD": "PWfakePASSPHRASE55",
}


def _assert_no_secret(text: str | bytes, where: str) -> None:
    data = text.encode() if isinstance(text, str) else text
    for value in SECRETS.values():
        assert value.encode() not in data, f"a secret leaked into {where}"


def test_open_rebalance_close_cycle_on_real_data(tmp_path: Path, shared_data: Path) -> None:
    home = tmp_path / "home"
    pf = _portfolio(tmp_path)
    prices = str(shared_data / "daily")
    outputs: list[subprocess.CompletedProcess[str]] = []

    def step(*args: str) -> dict[str, Any]:
        proc = run(home, *args, env=SECRETS)
        outputs.append(proc)
        return ok_json(proc)

    dry = step("hedge", "open", str(pf), "--prices", prices, "--at", "2024-06-03", "--json")
    assert dry["dry_run"] is True and dry["executed"] == []
    (order,) = dry["orders"]
    assert order["side"] == "sell" and order["reduce_only"] is False and order["contracts"] > 0
    assert _orders(home) == []  # nothing journaled
    assert not (home / "paper" / "state.json").exists()  # nothing kept on paper

    live = step(
        "hedge", "open", str(pf), "--prices", prices, "--at", "2024-06-03", "--live", "--json"
    )
    assert live["orders"] == dry["orders"]  # the dry run showed the exact orders
    assert live["executed"][-1]["status"] == "filled"
    assert live["current_contracts"] == pytest.approx(order["contracts"])

    # the paper clock from the environment instead of --at
    proc = run(
        home, "hedge", "status", "--json", env={**SECRETS, "ALTHEDGE_PAPER_AT": "2024-06-24"}
    )
    outputs.append(proc)
    st = ok_json(proc)
    assert st["as_of"] == "2024-06-24"
    for key in (
        "current_beta",
        "target_beta",
        "hedge_ratio_achieved",
        "unrealised_pnl_usd",
        "funding_usd",
        "margin_ratio",
        "liquidation_price",
        "liquidation_distance_pct",
        "basis",
        "warnings",
        "contracts",
        "target_contracts",
    ):
        assert key in st, key
    assert st["open"] is True and st["reconciliation"]["ok"] is True
    assert st["contracts"] == pytest.approx(order["contracts"])
    assert st["liquidation_price"] > st["mark_price"] and st["liquidation_distance_pct"] > 0
    assert 0 < st["margin_ratio"] < 1
    with sqlite3.connect(home / "journal.sqlite") as conn:
        n, total = conn.execute("SELECT COUNT(*), SUM(amount_usd) FROM funding").fetchone()
    assert n == 21 * 3 and total == pytest.approx(st["funding_usd"])  # 3 a day for 3 weeks

    reb = step(
        "hedge", "rebalance", "--at", "2024-07-01", "--threshold", "0.01", "--live", "--json"
    )
    assert reb["drift_abs_pct"] > 0.01 and reb["drift_abs_pct"] == abs(reb["drift_pct"])
    assert reb["current_contracts"] == pytest.approx(reb["target_contracts"])
    for o in reb["orders"]:
        assert o["reduce_only"] is (o["side"] == "buy")

    close = step("hedge", "close", "--at", "2024-08-05", "--live", "--json")
    (buy,) = close["orders"]
    assert buy["side"] == "buy" and buy["reduce_only"] is True
    # the identity: net equals the change in total value (holdings + paper account)
    # computed here from the paper state and the closes, not from the result's parts
    change = _value_change_usd(home, shared_data, "2024-06-03", "2024-08-05")
    assert close["net_usd"] == pytest.approx(change, rel=1e-9, abs=1e-6)
    assert close["total_value_change_usd"] == pytest.approx(change, rel=1e-9, abs=1e-6)
    assert abs(close["unexplained_usd"]) < 1e-6
    assert close["fees_paid_usd"] > 0 and close["fees_usd"] == -close["fees_paid_usd"]
    assert close["schema"] == 2
    # 2024-06-03 → 2024-08-05 the alts fell and BTC fell: the short made money
    assert close["portfolio_pnl_usd"] < 0 < close["hedge_pnl_usd"]
    # every journaled order exists once on paper: nothing sent twice
    assert sorted(o[0] for o in _orders(home)) == sorted(_paper_orders(home))

    # a real exchange with the fake keys: fails offline (exit 4), one line, no secret
    ccxt = run(
        home,
        "hedge",
        "open",
        str(pf),
        "--venue",
        "binanceusdm",
        "--prices",
        prices,
        "--live",
        env=SECRETS,
    )
    outputs.append(ccxt)
    assert ccxt.returncode == 4 and "Traceback" not in ccxt.stderr
    assert len(ccxt.stderr.strip().splitlines()) == 1

    for proc in outputs:
        _assert_no_secret(proc.stdout, "stdout")
        _assert_no_secret(proc.stderr, "stderr")
    for path in home.rglob("*"):
        if path.is_file():
            _assert_no_secret(path.read_bytes(), str(path))


def test_caps_refuse_even_in_dry_run(tmp_path: Path, shared_data: Path) -> None:
    home = tmp_path / "home"
    pf = _portfolio(tmp_path, contracts=0.1)
    proc = run(
        home,
        "hedge",
        "open",
        str(pf),
        "--prices",
        str(shared_data / "daily"),
        "--at",
        "2024-06-03",
        "--json",
    )
    assert proc.returncode == 5
    assert proc.stdout == ""
    assert "max_contracts" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_bad_date_is_a_one_line_error(tmp_path: Path) -> None:
    proc = run(tmp_path / "home", "hedge", "status", "--at", "last tuesday")
    assert proc.returncode == 2 and "--at" in proc.stderr and "Traceback" not in proc.stderr


def test_paper_date_past_the_data_is_refused(tmp_path: Path, shared_data: Path) -> None:
    proc = run(
        tmp_path / "home",
        "hedge",
        "open",
        str(_portfolio(tmp_path)),
        "--prices",
        str(shared_data / "daily"),
        "--at",
        "2031-01-01",
        "--json",
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert "--at" in proc.stderr and "2025-02-20" in proc.stderr


def test_killed_after_sending_then_next_command_reconciles(
    tmp_path: Path, shared_data: Path
) -> None:
    """Kill `hedge open --live` right after the order reached the venue, before its result
    was journaled; the next command finds it by client order id and sends nothing new."""
    home = tmp_path / "home"
    prices = str(shared_data / "daily")
    crashed = run_crashing_at(
        "sent",
        home,
        "hedge",
        "open",
        str(_portfolio(tmp_path)),
        "--prices",
        prices,
        "--at",
        "2024-06-03",
        "--live",
        "--json",
    )
    assert crashed.returncode == 77 and crashed.stdout == ""
    assert [o[3] for o in _orders(home)] == ["sent"]  # the journal knew it was on its way
    reb = ok_json(
        run(
            home, "hedge", "rebalance", "--at", "2024-06-03", "--threshold", "1", "--live", "--json"
        )
    )
    assert reb["reconciliation"]["differences"] == []
    assert any("filled" in r for r in reb["reconciliation"]["resolved"])
    assert reb["orders"] == []  # already at target: nothing doubled
    assert reb["current_contracts"] == pytest.approx(reb["target_contracts"])
    assert [o[3] for o in _orders(home)] == ["filled"]
    assert len(_paper_orders(home)) == 1


def test_two_leg_btc_eth_cycle_and_monitor(tmp_path: Path, shared_data: Path) -> None:
    """`[hedge] assets = ["BTC", "ETH"]`: one short per leg through the CLI, each leg in
    `hedge status` (table and --json), per-leg monitor alerts, then rebalance and close."""
    home = tmp_path / "home"
    pf = _portfolio(tmp_path)
    pf.write_text(
        pf.read_text().replace("[hedge]\n", '[hedge]\nassets = ["BTC", "ETH"]\n'), "utf-8"
    )
    prices = str(shared_data / "daily")
    symbols = ["BTC/USDT:USDT", "ETH/USDT:USDT"]
    opened = ok_json(
        run(home, "hedge", "open", str(pf), "--prices", prices, "--at", "2024-06-03", "--live",
            "--json")
    )
    assert [o["symbol"] for o in opened["orders"]] == symbols
    assert [leg["symbol"] for leg in opened["legs"]] == symbols

    st = ok_json(run(home, "hedge", "status", "--at", "2024-06-24", "--json"))
    assert [leg["symbol"] for leg in st["legs"]] == symbols
    assert st["funding_usd"] == pytest.approx(sum(leg["funding_usd"] for leg in st["legs"]))
    assert st["contracts"] == st["legs"][0]["contracts"]
    table = run(home, "hedge", "status", "--at", "2024-06-24")
    assert table.returncode == 0, table.stderr
    assert "leg BTC/USDT:USDT" in table.stdout and "leg ETH/USDT:USDT" in table.stdout

    mon = run(home, "monitor", "--iterations", "2", "--at", "2024-06-24", "--advance-days", "7",
              "--liquidation-pct", "100", "--json")
    summary = ok_json(mon)
    liq = [a for a in summary["alerts"] if a["kind"] == "liquidation"]
    assert sorted(a["symbol"] for a in liq) == symbols  # one per leg, once each
    assert all(a["symbol"] in a["message"] for a in liq)

    reb = ok_json(run(home, "hedge", "rebalance", "--at", "2024-07-15", "--threshold", "0",
                      "--live", "--json"))
    for leg in reb["legs"]:
        assert leg["current_contracts"] == pytest.approx(leg["target_contracts"])
    close = ok_json(run(home, "hedge", "close", "--at", "2024-08-05", "--live", "--json"))
    assert [o["symbol"] for o in close["orders"]] == symbols
    assert all(o["reduce_only"] for o in close["orders"])
    change = _value_change_usd(home, shared_data, "2024-06-03", "2024-08-05")
    assert close["net_usd"] == pytest.approx(change, rel=1e-9, abs=1e-6)
    assert sorted(o[0] for o in _orders(home)) == sorted(_paper_orders(home))


# --------------------------------------------------------------------------- every step

#: the steps an open passes through, and a close (docs/lifecycle.md)
OPEN_STEPS = {"hedge_recorded", "leverage_set", "intent", "sent", "recorded", "leg_placed"}
CLOSE_STEPS = {"intent", "sent", "recorded", "closed_orders"}


def _run(home: Path, *args: str, crash: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_crashing_at(crash, home, *args) if crash else run(home, *args)


def _journal_orders(home: Path) -> list[tuple[str, str, str]]:
    """(client order id, status, purpose) of every journaled order."""
    with sqlite3.connect(home / "journal.sqlite") as conn:
        rows = conn.execute(
            "SELECT client_order_id, status, purpose FROM orders ORDER BY id"
        ).fetchall()
    return [(str(a), str(b), str(c)) for a, b, c in rows]


def _sent_once(home: Path) -> None:
    """Every order the journal says reached the venue is at the venue, once."""
    journaled = sorted(c for c, status, _ in _journal_orders(home) if status != "not_sent")
    assert journaled == sorted(_paper_orders(home))


@pytest.mark.parametrize("step", STEPS)
def test_killed_at_every_step_and_resumed(tmp_path: Path, shared_data: Path, step: str) -> None:
    """A hedge opened and closed with the process killed at ``step`` (tests/crash_run.py's
    step hook), then resumed by the next command: nothing lost, nothing sent twice, and
    the close matches the independently computed account change."""
    home = tmp_path / "home"
    pf = _portfolio(tmp_path)
    prices = str(shared_data / "daily")

    opened = _run(home, "hedge", "open", str(pf), "--prices", prices, "--at", "2024-06-03",
                  "--live", "--json", crash=step)
    assert opened.returncode == (77 if step in OPEN_STEPS else 0), opened.stderr
    if opened.returncode == 77:
        assert opened.stdout == ""  # killed: nothing printed
        # the next command reconciles and brings the short to the target, once
        resumed = ok_json(_run(home, "hedge", "rebalance", "--at", "2024-06-03",
                               "--threshold", "1", "--live", "--json"))
        assert resumed["reconciliation"]["differences"] == []
        assert resumed["current_contracts"] == pytest.approx(resumed["target_contracts"])
    _sent_once(home)
    (position,) = json.loads((home / "paper" / "state.json").read_text())["positions"].values()
    status = ok_json(_run(home, "hedge", "status", "--at", "2024-06-03", "--json"))
    assert status["contracts"] == pytest.approx(position["contracts"])
    assert status["reconciliation"]["ok"] is True

    closed = _run(home, "hedge", "close", "--at", "2024-08-05", "--live", "--json", crash=step)
    assert closed.returncode == (77 if step in CLOSE_STEPS else 0), closed.stderr
    if closed.returncode == 77:
        close = ok_json(_run(home, "hedge", "close", "--at", "2024-08-05", "--live", "--json"))
    else:
        close = ok_json(closed)
    _sent_once(home)
    buys = [c for c, s, purpose in _journal_orders(home) if s == "filled" and purpose == "close"]
    assert len(buys) == 1  # the buy-back happened once
    change = _value_change_usd(home, shared_data, "2024-06-03", "2024-08-05")
    assert close["net_usd"] == pytest.approx(change, abs=1e-6)
    status = ok_json(_run(home, "hedge", "status", "--at", "2024-08-05", "--json"))
    assert status["open"] is False
