"""`althedge plan` and `althedge demo` through the real console entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PLAN_KEYS = {"portfolio_value_usd", "portfolio_beta", "holdings", "hedge"}
HOLDING_KEYS = {
    "asset",
    "amount",
    "price_usd",
    "value_usd",
    "weight",
    "beta",
    "beta_source",
    "correlation",
    "observations",
}
HEDGE_KEYS = {
    "instrument",
    "exchange",
    "contract_type",
    "contract_size",
    "hedge_price_usd",
    "notional_usd",
    "contracts_exact",
    "contracts",
    "rounding",
    "residual_usd",
    "hedge_ratio_achieved",
    "leverage",
    "initial_margin",
    "liquidation_price",
    "rally_to_liquidation_pct",
    "funding_rate_8h",
    "funding_usd_per_year",
}


def althedge(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "althedge", *args], capture_output=True, text=True, cwd=ROOT
    )


def test_demo_json_contract() -> None:
    proc = althedge("demo", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)  # stdout is exactly one JSON object
    assert out.keys() >= PLAN_KEYS
    assert all(h.keys() >= HOLDING_KEYS for h in out["holdings"])
    assert out["hedge"].keys() >= HEDGE_KEYS
    assert out["hedge"]["contract_type"] in ("linear", "inverse")
    assert {h["beta_source"] for h in out["holdings"]} <= {"measured", "assumed"}
    total = sum(h["value_usd"] for h in out["holdings"])
    assert abs(total - out["portfolio_value_usd"]) < 1e-6


def test_demo_table_for_people() -> None:
    proc = althedge("demo")
    assert proc.returncode == 0, proc.stderr
    assert "SHORT contracts" in proc.stdout and "liquidation price" in proc.stdout


def _valuation_table(columns: int) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "althedge", "demo"], capture_output=True, text=True, cwd=ROOT,
        env={**os.environ, "COLUMNS": str(columns)},
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    start = next(i for i, ln in enumerate(lines) if "1 · Valuation" in ln)
    end = next(i for i, ln in enumerate(lines) if "2 · Hedge" in ln)
    return lines[start:end]


def test_valuation_table_fits_an_80_column_terminal_without_cutting_numbers() -> None:
    plan = json.loads(althedge("demo", "--json").stdout)
    narrow = _valuation_table(80)
    assert all(len(ln) <= 80 and "…" not in ln for ln in narrow), "\n".join(narrow)
    for h in plan["holdings"]:  # every beta and weight is readable in full
        row = next(ln for ln in narrow if ln.split() and ln.split()[0] == h["asset"])
        assert f"{h['beta']:.3f}" in row and f"{h['weight'] * 100:.1f}%" in row
    wide = _valuation_table(140)
    assert any("downside β" in ln for ln in wide) and not any("downside β" in ln for ln in narrow)


def test_plan_as_of_and_prices(shared_data: Path) -> None:
    proc = althedge(
        "plan",
        "examples/portfolio.toml",
        "--prices",
        str(shared_data / "daily"),
        "--as-of",
        "2022-06-13",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["as_of"] == "2022-06-13"
    assert out["hedge"]["contracts"] <= out["hedge"]["contracts_exact"]  # rounding = down


def test_plan_bad_date_is_one_line_exit_2() -> None:
    proc = althedge("plan", "examples/portfolio.toml", "--as-of", "13/06/2022")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and "--as-of" in proc.stderr


def test_plan_date_before_any_data_is_clear() -> None:
    proc = althedge("plan", "examples/portfolio.toml", "--as-of", "2001-01-01")
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_plan_inverse_with_collateral(tmp_path: Path) -> None:
    p = tmp_path / "inv.toml"
    p.write_text(
        '[[holdings]]\nasset = "SOL"\namount = 200\n'
        '[hedge]\nexchange = "binance"\ncontract = "inverse"\nleverage = 1\n'
        'collateral_asset = "BTC"\ncollateral_amount = 0.3\n'
    )
    proc = althedge("plan", str(p), "--json")
    assert proc.returncode == 0, proc.stderr
    hedge = json.loads(proc.stdout)["hedge"]
    assert hedge["contract_type"] == "inverse" and hedge["contract_size"] == 100
    assert hedge["initial_margin_currency"] == "BTC"


def test_funding_history_is_found_in_the_cache_or_where_it_looked_is_said(
    tmp_path: Path, shared_data: Path
) -> None:
    """`plan --prices DIR` with no funding file in DIR nor beside it: the data cache's
    funding history (here imported with `data import`) is used; without one, the message
    names every place looked in (issue 11, "Honest about time")."""
    prices = tmp_path / "prices" / "daily"
    prices.mkdir(parents=True)
    for asset in ("SOL", "AVAX", "LINK", "DOGE", "ADA", "BTC"):
        (prices / f"{asset}-USD_1d.csv").write_bytes(
            (shared_data / "daily" / f"{asset}-USD_1d.csv").read_bytes())
    portfolio = str(ROOT / "examples" / "portfolio.toml")

    def plan(home: Path) -> dict:
        proc = subprocess.run(
            [sys.executable, "-m", "althedge", "plan", portfolio, "--prices", str(prices),
             "--json"], capture_output=True, text=True, cwd=ROOT,
            env={**os.environ, "ALTHEDGE_HOME": str(home)}, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)["hedges"][0]

    empty = plan(tmp_path / "empty_home")
    source = empty["funding_rate_source"]
    assert source.startswith("assumed baseline")
    assert str(prices) in source and "no such folder" in source
    assert f"the data cache {tmp_path / 'empty_home' / 'cache'}" in source
    home = tmp_path / "home"
    imported = subprocess.run(
        [sys.executable, "-m", "althedge", "data", "import",
         str(shared_data / "funding" / "BTCUSDT_funding_daily.csv")],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
        env={**os.environ, "ALTHEDGE_HOME": str(home)})
    assert imported.returncode == 0, imported.stderr
    cached = plan(home)
    assert cached["funding_rate_source"].startswith(f"history (files:{home / 'cache'}")
    # the same history the README tour finds beside ../shared/data/daily: +3,209 USD a year
    assert cached["funding_usd_per_year"] == pytest.approx(3209, abs=5)
