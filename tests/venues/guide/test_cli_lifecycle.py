"""The whole hedge lifecycle through the real ``althedge`` process on the guide's exchanges.

``hedge open --live`` → ``hedge status`` → ``hedge rebalance --live`` → ``monitor`` (one
check) → ``hedge close --live``, each a separate process with its journal, the real ccxt
object of the exchange inside, ALTHEDGE_CCXT_GATEWAY sending every request to the local
fake of that exchange (tests/venues/guide/conftest.py), credentials from the environment
only. BingX and Hyperliquid run end to end; MEXC refuses before anything is sent, then
runs when ALTHEDGE_MEXC_FUTURES_ORDERS=enabled says the account has API futures access.
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

from .conftest import HL_PRIVATE_KEY, HL_WALLET

PORTFOLIO = """
name = "guide exchange"
holdings = [{{asset = "SOL", amount = 120}}, {{asset = "AVAX", amount = 400}},
            {{asset = "LINK", amount = 500}}]
[hedge]
exchange = "{exchange}"
contract = "linear"
leverage = 2
margin_mode = "isolated"
lookback_days = 90
[limits]
max_notional_usd = 250000
max_contracts = {max_contracts}
max_leverage = 5
"""

SECRETS = {
    "bingx": {"ALTHEDGE_BINGX_API_KEY": "BXfakeKEY4c2e9a71", "ALTHEDGE_BINGX_SECRET":
              "BXfakeSECRET93b1d0f7e2"},
    "mexc": {"ALTHEDGE_MEXC_API_KEY": "MXfakeKEY0a7c55e1", "ALTHEDGE_MEXC_SECRET":
             "MXfakeSECRET61d2c9a8b4"},
    "hyperliquid": {"ALTHEDGE_HYPERLIQUID_WALLET_ADDRESS": HL_WALLET,
                    "ALTHEDGE_HYPERLIQUID_PRIVATE_KEY": HL_PRIVATE_KEY},
}


def _run(home: Path, gateway: str, venue: str, *args: str,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "ALTHEDGE_HOME": str(home), "ALTHEDGE_CCXT_GATEWAY": gateway,
            **SECRETS[venue], **(env or {})}
    if "ALTHEDGE_MEXC_FUTURES_ORDERS" not in (env or {}):
        full.pop("ALTHEDGE_MEXC_FUTURES_ORDERS", None)
    return subprocess.run([sys.executable, "-m", "althedge", *args], capture_output=True,
                          text=True, env=full, timeout=180)


def _ok(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    out: dict[str, Any] = json.loads(proc.stdout)
    return out


def _secrets_absent(venue: str, home: Path, outputs: list[str]) -> None:
    values = [v for k, v in SECRETS[venue].items() if "WALLET" not in k]
    values += [v[2:] for v in values if v.startswith("0x")]
    for text in outputs:
        for v in values:
            assert v not in text
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for v in values:
                assert v.encode() not in data, f"a secret leaked into {path}"


def _journal_orders(home: Path) -> list[tuple[str, str, float, str]]:
    with sqlite3.connect(home / "journal.sqlite") as conn:
        rows = conn.execute(
            "SELECT client_order_id, side, amount, status FROM orders ORDER BY id").fetchall()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def _btc_falls(tmp_path: Path, factor: float) -> str:
    """The bundled daily prices with BTC's last close times ``factor`` (a new folder)."""
    import shutil

    from althedge.data.sources import bundled_source

    src = Path(str(bundled_source().root))
    out = tmp_path / "prices-btc-falls"
    out.mkdir()
    for f in src.glob("*.csv"):
        shutil.copy(f, out / f.name)
    btc = out / "BTC-USD_1d.csv"
    lines = btc.read_text().strip().splitlines()
    cells = lines[-1].split(",")
    cells[4] = str(float(cells[4]) * factor)
    btc.write_text("\n".join([*lines[:-1], ",".join(cells)]) + "\n")
    return str(out)


CASES = {
    # venue: its fake (fixture name), the hedge's symbol
    "bingx": ("fake_bingx", "BTC/USDT:USDT"),
    "hyperliquid": ("fake_hyperliquid", "BTC/USDC:USDC"),
}


@pytest.mark.parametrize("venue", list(CASES))
def test_open_status_rebalance_monitor_close(
    venue: str, tmp_path: Path, request: pytest.FixtureRequest, local_server: Any
) -> None:
    fake = request.getfixturevalue(CASES[venue][0])
    symbol = CASES[venue][1]
    home = tmp_path / "home"
    pf = tmp_path / "portfolio.toml"
    pf.write_text(PORTFOLIO.format(exchange=venue, max_contracts=1000))
    outputs: list[str] = []

    def step(*args: str) -> dict[str, Any]:
        proc = _run(home, local_server.base, venue, *args)
        outputs.extend([proc.stdout, proc.stderr])
        return _ok(proc)

    dry = step("hedge", "open", str(pf), "--venue", venue, "--order-type", "market", "--json")
    assert dry["dry_run"] is True and dry["executed"] == []
    assert not local_server.calls("POST", "/exchange") and not [
        r for r in local_server.requests if r.path.endswith("/trade/order")
        and r.method == "POST"]
    (order,) = dry["orders"]
    assert order["symbol"] == symbol and order["side"] == "sell" and order["contracts"] > 0

    opened = step("hedge", "open", str(pf), "--venue", venue, "--order-type", "market",
                  "--live", "--json")
    assert opened["executed"][-1]["status"] == "filled"
    contracts = opened["current_contracts"]
    assert contracts == pytest.approx(order["contracts"])
    held = fake.position_amt if venue == "bingx" else fake.position_szi
    assert held == pytest.approx(-contracts)  # the exchange holds the short, in coin

    st = step("hedge", "status", "--json")
    assert st["open"] is True and st["reconciliation"]["ok"] is True
    assert st["contracts"] == pytest.approx(contracts)

    # BTC falls 20 % on the last day (the prices given to the plan and at the exchange)
    fake.fill_price *= 0.8
    reb = step("hedge", "rebalance", "--threshold", "0.01", "--prices",
               _btc_falls(tmp_path, 0.8), "--live", "--json")
    assert reb["current_contracts"] == pytest.approx(reb["target_contracts"], rel=1e-3)
    # the beta against a BTC that fell alone drops: a smaller short, bought back reduce-only
    (trim,) = reb["orders"]
    assert trim["side"] == "buy" and trim["reduce_only"] is True
    assert reb["current_contracts"] == pytest.approx(contracts - trim["contracts"])
    left = reb["current_contracts"]
    assert 0 < left < contracts

    mon = _run(home, local_server.base, venue, "monitor", "--iterations", "1", "--json")
    outputs.extend([mon.stdout, mon.stderr])
    summary = _ok(mon)
    assert summary["last_status"]["contracts"] == pytest.approx(left)
    assert summary["last_status"]["reconciliation"]["ok"] is True

    close = step("hedge", "close", "--live", "--json")
    (buy,) = close["orders"]
    assert buy["side"] == "buy" and buy["reduce_only"] is True
    assert buy["contracts"] == pytest.approx(left)
    held = fake.position_amt if venue == "bingx" else fake.position_szi
    assert held == pytest.approx(0.0, abs=1e-9)
    assert close["fees_paid_usd"] > 0

    orders = _journal_orders(home)
    assert [o[1] for o in orders] == ["sell", "buy", "buy"]
    assert {o[3] for o in orders} == {"filled"}
    if venue == "bingx":  # every order carried althedge's id in BingX's clientOrderID
        sent = [r.params["clientOrderID"] for r in local_server.calls(
            "POST", "/openApi/swap/v2/trade/order")]
        (lev,) = {r.params["side"] for r in local_server.calls(
            "POST", "/openApi/swap/v2/trade/leverage")}
        assert lev == "BOTH"  # one-way account
    else:  # Hyperliquid: the hex cloid of each intent
        from althedge.exchanges.hyperliquid import cloid

        sent = [o["c"] for r in local_server.calls("POST", "/exchange")
                for o in json.loads(r.raw)["action"].get("orders", [])]
        assert sent == [cloid(o[0]) for o in orders]
        sent = [o[0] for o in orders]
    assert sent == [o[0] for o in orders]  # each intent sent exactly once
    _secrets_absent(venue, home, outputs)


def test_mexc_refuses_before_sending_then_runs_when_enabled(
    tmp_path: Path, fake_mexc: Any, local_server: Any
) -> None:
    home = tmp_path / "home"
    pf = tmp_path / "portfolio.toml"
    pf.write_text(PORTFOLIO.format(exchange="mexc", max_contracts=100_000))
    refused = _run(home, local_server.base, "mexc", "hedge", "open", str(pf), "--venue", "mexc",
                   "--order-type", "market", "--live", "--json")
    assert refused.returncode == 4 and refused.stdout == ""
    assert "MEXC restricts futures order placement" in refused.stderr
    assert "ALTHEDGE_MEXC_FUTURES_ORDERS=enabled" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr
    assert not local_server.calls("POST", "/api/v1/private/order/create")
    # planning and reading still work
    dry = _ok(_run(home, local_server.base, "mexc", "hedge", "open", str(pf), "--venue", "mexc",
                   "--order-type", "market", "--json"))
    assert dry["dry_run"] is True and dry["orders"][0]["contracts"] >= 1

    fake_mexc.restricted = False
    enabled = {"ALTHEDGE_MEXC_FUTURES_ORDERS": "enabled"}
    opened = _ok(_run(home, local_server.base, "mexc", "hedge", "open", str(pf), "--venue",
                      "mexc", "--order-type", "market", "--live", "--json", env=enabled))
    assert opened["executed"][-1]["status"] == "filled"
    (create,) = local_server.calls("POST", "/api/v1/private/order/create")
    body = json.loads(create.raw)
    assert body["side"] == 3 and body["openType"] == 1 and body["leverage"] == 2
    assert int(body["vol"]) == fake_mexc.position_vol == round(opened["current_contracts"])
    _secrets_absent("mexc", home, [refused.stderr, dry.__repr__()])
