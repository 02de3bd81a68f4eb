"""`althedge calc hedge` through the real entry point (python -m althedge).

Reference values: the seed article's worked example (V 50,000 USD, β 1.8, BTC
65,000 USD, 1 BTC per contract → H 90,000, Q ≈ 1.38; down 1, up 2) and its inverse ETH
example as corrected in docs/domain.md (300,000 USD → 30,000 contracts of 10 USD).
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "althedge", "calc", "hedge", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def run_json(*args: str) -> dict[str, Any]:
    proc = run(*args, "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)  # exactly one JSON object and nothing else on stdout
    assert isinstance(data, dict)
    return data


SEED = ("--value", "50000", "--beta", "1.8", "--price", "65000", "--contract-size", "1")


def test_seed_example_rounding_down_and_up() -> None:
    down = run_json(*SEED, "--contract", "linear", "--rounding", "down")
    assert down["notional_usd"] == 90_000
    assert down["contracts_exact"] == pytest.approx(1.3846153846, rel=1e-9)
    assert down["contracts"] == 1
    assert down["residual_usd"] == pytest.approx(25_000)
    assert down["hedge_ratio_achieved"] == pytest.approx(65_000 / 90_000)
    up = run_json(*SEED, "--rounding", "up")
    assert up["contracts"] == 2
    assert up["residual_usd"] == pytest.approx(-40_000)


def test_seed_example_table_shows_1_38() -> None:
    proc = run(*SEED)
    assert proc.returncode == 0, proc.stderr
    assert "90,000.00" in proc.stdout
    assert "1.38" in proc.stdout
    assert "25,000.00" in proc.stdout


def test_inverse_eth_example() -> None:
    data = run_json(
        "--value", "300000", "--beta", "1", "--price", "3000",
        "--contract-size", "10", "--contract", "inverse",
    )
    assert data["notional_usd"] == 300_000
    assert data["contracts"] == 30_000
    assert data["residual_usd"] == 0


def test_inverse_with_coin_collateral() -> None:
    data = run_json(
        "--value", "50000", "--beta", "1.8", "--price", "60000", "--contract-size", "100",
        "--contract", "inverse", "--collateral", "2",
    )
    assert data["contracts_exact"] == pytest.approx(2_100)  # (90,000 + 2·60,000)/100


def test_lot_step_and_minimum_below_minimum_is_zero_and_warned() -> None:
    args = ("--value", "100", "--beta", "1", "--price", "65000", "--contract-size", "1",
            "--lot-step", "0.001", "--min-contracts", "0.002")
    data = run_json(*args)
    assert data["contracts"] == 0
    assert data["below_minimum"] is True
    proc = run(*args)
    assert proc.returncode == 0
    assert "below the minimum" in proc.stderr


@pytest.mark.parametrize(
    ("override", "field"),
    [
        (("--value", "-5"), "--value"),
        (("--beta", "-1"), "beta"),
        (("--price", "0"), "--price"),
        (("--value", "lots"), "--value"),
        (("--contract", "quanto"), "contract"),
        (("--rounding", "sideways"), "rounding"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(override: tuple[str, str], field: str) -> None:
    args = dict(zip(SEED[::2], SEED[1::2], strict=True))
    args[override[0]] = override[1]
    flat = [item for pair in args.items() for item in pair]
    proc = run(*flat, "--json")
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and field in lines[0]
    assert "Traceback" not in proc.stderr
