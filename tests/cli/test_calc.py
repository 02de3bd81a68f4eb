"""`althedge calc pnl|liquidation|funding|basis` through the real entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "althedge", "calc", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def run_json(*args: str) -> dict[str, Any]:
    proc = run(*args, "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)  # exactly one JSON object, nothing else on stdout
    assert isinstance(data, dict)
    return data


def test_pnl_inverse_seed_example() -> None:
    # docs/domain.md: a full hedge of 100 ETH (3 000 → 2 500) is 30 000 inverse ETH
    # contracts of 10 USD; it gains 50 000 USD (= 20 ETH at 2 500).
    out = run_json("pnl", "--contract", "inverse", "--side", "short", "--contracts", "30000",
                   "--contract-size", "10", "--entry", "3000", "--exit", "2500",
                   "--leverage", "2")
    assert out["pnl_usd"] == pytest.approx(50_000.0)
    assert out["pnl_coin"] == pytest.approx(20.0)
    assert out["roe_pct"] == pytest.approx(40.0)


def test_pnl_linear_bybit_example_and_table_output() -> None:
    # Bybit "P&L calculations (USDT Contract)": 0.2 BTC long 7 000 → 7 500 = +100 USDT
    out = run_json("pnl", "--contract", "linear", "--side", "long", "--contracts", "0.2",
                   "--contract-size", "1", "--entry", "7000", "--exit", "7500")
    assert out["pnl_usd"] == pytest.approx(100.0)
    assert "pnl_coin" not in out and "roe_pct" not in out
    text = run("pnl", "--contract", "linear", "--side", "long", "--contracts", "0.2",
               "--contract-size", "1", "--entry", "7000", "--exit", "7500")
    assert text.returncode == 0 and "100.00" in text.stdout


def test_liquidation_with_symbol_uses_builtin_tiers() -> None:
    # Binance COIN-M calculator example (dev.binance.vision/t/6292): 33 599.40, ±0.1.
    out = run_json("liquidation", "--exchange", "binance", "--symbol", "BTC/USD:BTC",
                   "--side", "long", "--contracts", "100000", "--entry", "45000",
                   "--wallet", "101")
    assert out["liquidation_price"] == pytest.approx(33_599.40, abs=0.1)
    assert out["mmr"] == 0.125 and out["maint_amount"] == pytest.approx(11.605)
    assert out["tier"]["level"] == 7 and out["tier"]["floor"] == 200
    assert out["method"] == "binance-coinm-isolated"
    assert out["move_to_liquidation_pct"] == pytest.approx((33_599.42 / 45_000 - 1) * 100,
                                                           abs=1e-3)


def test_liquidation_with_explicit_mmr_bybit_example() -> None:
    # Bybit "Liquidation Price (USDT Contract)", example 1: 19 700.
    out = run_json("liquidation", "--exchange", "bybit", "--contract", "linear", "--side",
                   "long", "--contracts", "1", "--contract-size", "1", "--entry", "20000",
                   "--leverage", "50", "--mmr", "0.005")
    assert out["liquidation_price"] == pytest.approx(19_700.0)
    assert out["bankruptcy_price"] == pytest.approx(19_600.0)
    assert out["tier"] is None and out["maint_amount"] == 0


def test_one_x_short_inverse_reports_never() -> None:
    out = run_json("liquidation", "--exchange", "deribit", "--symbol", "BTC/USD:BTC",
                   "--side", "short", "--contracts", "1000", "--entry", "60000",
                   "--leverage", "1")
    assert out["liquidation_price"] is None and out["never_liquidated"] is True
    text = run("liquidation", "--exchange", "deribit", "--symbol", "BTC/USD:BTC",
               "--side", "short", "--contracts", "1000", "--entry", "60000", "--leverage", "1")
    assert text.returncode == 0 and "never" in text.stdout


def test_rally_table_matches_closed_forms() -> None:
    out = run_json("liquidation", "--table")
    assert out["mmr"] == 0.005
    rows = out["rows"]
    assert [r["leverage"] for r in rows] == list(range(1, 11))
    for r in rows:
        lev = r["leverage"]
        assert r["linear_rally_pct"] == pytest.approx(((1 + 1 / lev) / 1.005 - 1) * 100)
        if lev == 1:
            assert r["inverse_rally_pct"] is None  # never liquidated (inf → null)
        else:
            assert r["inverse_rally_pct"] == pytest.approx((0.995 / (1 - 1 / lev) - 1) * 100)
            assert r["inverse_rally_pct"] > r["linear_rally_pct"]
    text = run("liquidation", "--table")
    assert text.returncode == 0
    assert "+99.00 %" in text.stdout and "+9.45 %" in text.stdout and "never" in text.stdout


def test_funding_sign_and_annualisation() -> None:
    out = run_json("funding", "--contract", "linear", "--contracts", "2", "--contract-size",
                   "1", "--mark", "65000", "--rate", "0.0001", "--side", "short")
    assert out["payment_usd"] == pytest.approx(13.0)
    assert out["payer"] == "longs" and out["receiver"] == "shorts"
    assert out["received_usd"] == pytest.approx(13.0)
    assert out["annualised_pct"] == pytest.approx(10.95)
    inv = run_json("funding", "--contract", "inverse", "--contracts", "1000",
                   "--contract-size", "100", "--mark", "50000", "--rate", "-0.0002")
    assert inv["payment_coin"] == pytest.approx(-0.0004)
    assert inv["payer"] == "shorts"
    assert "payment_usd" not in inv


def test_basis_with_expiry() -> None:
    out = run_json("basis", "--spot", "65000", "--futures", "66300", "--expiry",
                   "2026-12-25", "--as-of", "2026-11-25")
    assert out["basis_pct"] == pytest.approx(2.0)
    assert out["days_to_expiry"] == 30
    assert out["annualised_basis_pct"] == pytest.approx(2.0 * 365 / 30)
    assert out["structure"] == "contango"
    plain = run_json("basis", "--spot", "100", "--futures", "99")
    assert plain["structure"] == "backwardation" and "annualised_basis_pct" not in plain


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["pnl", "--contract", "linear", "--side", "long", "--contracts", "-1",
          "--contract-size", "1", "--entry", "1", "--exit", "2"], "contracts"),
        (["liquidation", "--exchange", "binance", "--contract", "linear", "--side", "long",
          "--contracts", "1", "--contract-size", "1", "--entry", "100", "--leverage", "0",
          "--mmr", "0.005"], "leverage"),
        (["liquidation", "--exchange", "binance", "--contract", "linear", "--side", "long",
          "--contracts", "1", "--contract-size", "1", "--entry", "100", "--wallet", "0.1",
          "--mmr", "0.005"], "below the maintenance margin"),
        (["liquidation", "--exchange", "binance", "--contract", "linear", "--side", "long",
          "--contracts", "1", "--contract-size", "1", "--entry", "100", "--wallet", "10",
          "--leverage", "5", "--mmr", "0.005"], "exactly one"),
        (["liquidation", "--exchange", "binance", "--contract", "linear", "--side", "long",
          "--contracts", "1", "--contract-size", "1", "--entry", "100", "--leverage", "5"],
         "mmr"),
        (["liquidation", "--exchange", "binance", "--symbol", "BTC/USD:BTC", "--contract",
          "linear", "--side", "long", "--contracts", "1", "--entry", "100", "--leverage", "5"],
         "contradicts"),
        (["liquidation", "--exchange", "okx", "--symbol", "SOL/USDT:USDT", "--side", "long",
          "--contracts", "1", "--entry", "100", "--leverage", "5"], "symbol"),
        (["funding", "--contract", "linear", "--contracts", "1", "--contract-size", "1",
          "--mark", "0", "--rate", "0.0001"], "mark price"),
        (["basis", "--spot", "100", "--futures", "101", "--expiry", "2020-01-01"], "expiry"),
        (["basis", "--spot", "100", "--futures", "101", "--expiry", "tomorrow"], "expiry"),
    ],
)
def test_impossible_input_exits_2_with_one_line(args: list[str], needle: str) -> None:
    proc = run(*args, "--json")
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stdout == ""
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0]
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("pnl", "--contract", "quanto", "--side", "long", "--contracts", "1",
          "--contract-size", "1", "--entry", "1", "--exit", "2"), "'--contract'"),
        (("funding", "--contract", "linear", "--contracts", "1", "--contract-size", "1",
          "--mark", "100", "--rate", "abc"), "'--rate'"),
        (("basis", "--spot", "100"), "--futures"),
        (("pnl", "--no-such-option"), "--no-such-option"),
    ],
)
def test_usage_error_is_one_line_naming_the_option_and_exits_2(
    args: tuple[str, ...], needle: str
) -> None:
    proc = run(*args)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(lines) == 1 and lines[0].startswith("error: althedge calc"), proc.stderr
    assert needle in lines[0] and "--help" in lines[0]
    assert proc.stdout == ""


def test_rally_table_in_docs_matches_the_command() -> None:
    # docs/futures-math.md prints the same table; keep the page honest.
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "futures-math.md").read_text()
    rows = {}
    for line in page.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].endswith("×") and cells[0][:-1].isdigit():
            rows[int(cells[0][:-1])] = cells[1:]
    assert sorted(rows) == list(range(1, 11))
    out = run_json("liquidation", "--table")
    for r in out["rows"]:
        lin, inv = rows[r["leverage"]]
        assert lin == f"+{r['linear_rally_pct']:.2f} %"
        expected_inv = "never" if r["inverse_rally_pct"] is None else (
            f"+{r['inverse_rally_pct']:.2f} %")
        assert inv == expected_inv
