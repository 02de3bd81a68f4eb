"""`althedge plan` with the guide's other exchanges set in ``[hedge]``, offline, bundled prices.

Each run goes through the real console entry and checks what that exchange contributes:
its contract (units and size), its liquidation formula label, its funding interval and its
published base-tier fees.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "portfolio.toml"


def _portfolio(tmp_path: Path, exchange: str, contract: str = "linear") -> Path:
    text = EXAMPLE.read_text()
    text = re.sub(r'(?m)^exchange = "[a-z]+"', f'exchange = "{exchange}"', text)
    text = re.sub(r'(?m)^contract = "[a-z]+"', f'contract = "{contract}"', text)
    out = tmp_path / f"{exchange}-{contract}.toml"
    out.write_text(text)
    return out


def _plan(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "althedge", "plan", str(path), *extra],
        capture_output=True, text=True, cwd=ROOT,
    )


@pytest.mark.parametrize(
    ("exchange", "contract", "symbol", "size", "method", "interval", "maker", "taker"),
    [
        ("bingx", "linear", "BTC/USDT:USDT", 1.0, "generic-isolated", 8.0, 0.0002, 0.0005),
        ("bingx", "inverse", "BTC/USD:BTC", 100.0, "generic-isolated", 8.0, 0.0002, 0.0005),
        ("mexc", "linear", "BTC/USDT:USDT", 0.0001, "mexc-isolated", 8.0, 0.0, 0.0002),
        ("weex", "linear", "BTC/USDT:USDT", 1.0, "weex-isolated", 8.0, 0.0002, 0.0008),
        ("hyperliquid", "linear", "BTC/USDC:USDC", 1.0, "hyperliquid-isolated", 1.0,
         0.00015, 0.00045),
    ],
)
def test_plan_json_with_new_exchange(
    tmp_path: Path, exchange: str, contract: str, symbol: str, size: float, method: str,
    interval: float, maker: float, taker: float,
) -> None:
    proc = _plan(_portfolio(tmp_path, exchange, contract), "--json")
    assert proc.returncode == 0, proc.stderr
    hedge = json.loads(proc.stdout)["hedge"]
    assert hedge["exchange"] == exchange
    assert hedge["instrument"] == symbol
    assert hedge["contract_size"] == size
    assert hedge["liquidation_method"] == method
    assert hedge["funding_interval_hours"] == interval
    assert hedge["maker_fee_rate"] == maker and hedge["taker_fee_rate"] == taker
    # the taker fee of opening the achieved notional at market
    achieved = hedge["notional_usd"] * hedge["hedge_ratio_achieved"]
    assert hedge["fees_paid_open_usd"] == pytest.approx(achieved * taker)
    # whole lots of the exchange's own contract
    steps = hedge["contracts"] / hedge["lot_step"]
    assert steps == pytest.approx(round(steps), abs=1e-6)


def test_mexc_contracts_are_its_own_units(tmp_path: Path) -> None:
    """MEXC counts BTC_USDT in contracts of 0.0001 BTC: ~10 000× the coin amount."""
    mexc = json.loads(_plan(_portfolio(tmp_path, "mexc"), "--json").stdout)["hedge"]
    bingx = json.loads(_plan(_portfolio(tmp_path, "bingx"), "--json").stdout)["hedge"]
    assert mexc["contracts"] == pytest.approx(bingx["contracts"] * 10_000, abs=1.0)
    assert mexc["contracts"] == int(mexc["contracts"])


def test_plan_table_shows_exchange_contract_fees_and_formula(tmp_path: Path) -> None:
    proc = _plan(_portfolio(tmp_path, "hyperliquid"))
    assert proc.returncode == 0, proc.stderr
    out = " ".join(proc.stdout.split())
    assert "hyperliquid BTC/USDC:USDC" in out
    assert "hyperliquid-isolated" in out
    assert "taker 0.045%" in out


def test_no_builtin_mexc_inverse_is_one_clear_line(tmp_path: Path) -> None:
    proc = _plan(_portfolio(tmp_path, "mexc", "inverse"))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and "inverse" in err[0] and "mexc" in err[0]


def test_unknown_exchange_names_the_new_ones(tmp_path: Path) -> None:
    proc = _plan(_portfolio(tmp_path, "kraken"))
    assert proc.returncode == 2
    for name in ("bingx", "mexc", "weex", "hyperliquid"):
        assert name in proc.stderr


LIVE_PORTFOLIO = """
name = "live specs"
[[holdings]]
asset = "SOL"
amount = 300
[[holdings]]
asset = "ETH"
amount = 4
[hedge]
exchange = "{exchange}"
contract = "linear"
leverage = 2
lookback_days = 30
"""


@pytest.mark.parametrize(("exchange", "size", "lot", "mmr", "label"), [
    # MEXC "Get contract info" (0.0001 BTC a contract, whole contracts, 0.4 % first tier,
    # read from ccxt's fetchLeverageTiers: public)
    ("mexc", 0.0001, 1.0, 0.004, "live"),
    # WEEX: coin amounts (quantityPrecision 4); ccxt reads no WEEX tiers: built-in, labelled
    ("weex", 1.0, 0.0001, 0.005, "live; margin tiers built-in"),
])
def test_plan_with_exchange_uses_its_live_specs(
    tmp_path: Path, exchange: str, size: float, lot: float, mmr: float, label: str
) -> None:
    """`plan --exchange X` with `[hedge] exchange = "X"`: prices AND the contract (size, lot,
    minimum, max leverage, margin tiers) come from X through ccxt — a real process whose
    ccxt requests go to a local server answering in X's documented shapes."""
    from .test_data import offline  # the offline ccxt exchanges, loaded once

    pf = tmp_path / "live.toml"
    pf.write_text(LIVE_PORTFOLIO.format(exchange=exchange))
    with offline.proxy_server(exchange) as (url, _router, seen, _sim):
        proc = subprocess.run(
            [sys.executable, "-m", "althedge", "plan", str(pf), "--exchange", exchange,
             "--as-of", "2024-02-29", "--funding", "0.0001", "--json"],
            capture_output=True, text=True, cwd=ROOT, timeout=300,
            env={**os.environ, "ALTHEDGE_CCXT_GATEWAY": url, "ALTHEDGE_HOME": str(tmp_path)},
        )
    assert proc.returncode == 0, proc.stderr
    hedge = json.loads(proc.stdout)["hedge"]
    assert hedge["exchange"] == exchange and hedge["specs_as_of"].startswith(label)
    assert hedge["contract_size"] == size and hedge["lot_step"] == lot
    assert hedge["maintenance_margin_rate"] == pytest.approx(mmr)
    assert any("xchangeInfo" in r.path or "/contract/detail" in r.path for r in seen)
