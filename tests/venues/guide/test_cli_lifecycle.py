"""The whole hedge lifecycle through the real ``althedge`` process on the guide's exchanges.

``hedge open --live`` → ``hedge status`` → ``hedge rebalance --live`` → ``monitor`` (one
check) → ``hedge close --live``, each a separate process with its journal, the real ccxt
object of the exchange inside, ALTHEDGE_CCXT_GATEWAY sending every request to the local
fake of that exchange (tests/venues/guide/conftest.py), credentials from the environment
only. BingX, Hyperliquid and WEEX run end to end; MEXC refuses before anything is sent, then
runs when ALTHEDGE_MEXC_FUTURES_ORDERS=enabled says the account has API futures access.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from althedge.exchanges import PROFILES

from .conftest import HL_PRIVATE_KEY, HL_WALLET

PORTFOLIO = """
name = "{exchange} exchange"
holdings = [{{asset = "SOL", amount = 120}}, {{asset = "AVAX", amount = 400}},
            {{asset = "LINK", amount = 500}}]
[hedge]
exchange = "{exchange}"
contract = "{contract}"
leverage = 2
margin_mode = "{margin_mode}"
lookback_days = 90
[limits]
max_notional_usd = 250000
max_contracts = {max_contracts}
max_leverage = 5
"""


def portfolio(exchange: str, *, max_contracts: float = 1000, contract: str = "linear",
              margin_mode: str = "isolated") -> str:
    """A portfolio file hedged on ``exchange`` (also tests/venues/okx_deribit's)."""
    return PORTFOLIO.format(exchange=exchange, max_contracts=max_contracts, contract=contract,
                            margin_mode=margin_mode)

SECRETS = {
    "bingx": {"ALTHEDGE_BINGX_API_KEY": "BXfakeKEY4c2e9a71", "ALTHEDGE_BINGX_SECRET":
              "BXfakeSECRET93b1d0f7e2"},
    "weex": {"ALTHEDGE_WEEX_API_KEY": "WXfakeKEY5d1e0b3c", "ALTHEDGE_WEEX_SECRET":
             "WXfakeSECRET7a9f2c4e81", "ALTHEDGE_WEEX_PASSWORD": "WXfakePASS3355"},
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


def _bingx_sent(server: Any) -> list[str]:
    """BingX: althedge's id in ``clientOrderID`` of every POST order (one-way account:
    the leverage was set with ``side=BOTH``)."""
    sides = {r.params["side"] for r in server.calls("POST", "/openApi/swap/v2/trade/leverage")}
    assert sides <= {"BOTH"}
    return [r.params["clientOrderID"] for r in server.calls(
        "POST", "/openApi/swap/v2/trade/order")]


def _hyperliquid_sent(server: Any) -> list[str]:
    """Hyperliquid: the hex ``cloid`` of every signed order action."""
    return [o["c"] for r in server.calls("POST", "/exchange")
            for o in json.loads(r.raw)["action"].get("orders", [])]


def _weex_sent(server: Any) -> list[str]:
    """WEEX: ``newClientOrderId`` of every POST order; quantities in BTC."""
    return [json.loads(r.raw)["newClientOrderId"] for r in server.calls("POST", "/capi/v3/order")]


CASES: dict[str, tuple[str, str, Callable[[Any], float], Callable[[Any], list[str]]]] = {
    # venue: its fake (fixture), the hedge's symbol, the fake's signed position in coin,
    # the client ids the exchange received (in its own format)
    "bingx": ("fake_bingx", "BTC/USDT:USDT", lambda f: f.position_amt, _bingx_sent),
    "hyperliquid": ("fake_hyperliquid", "BTC/USDC:USDC", lambda f: f.position_szi,
                    _hyperliquid_sent),
    "weex": ("fake_weex", "BTC/USDT:USDT", lambda f: -f.position_btc, _weex_sent),
}


@pytest.mark.parametrize("venue", list(CASES))
def test_open_status_rebalance_monitor_close(
    venue: str, tmp_path: Path, request: pytest.FixtureRequest, local_server: Any
) -> None:
    fixture, symbol, held, received = CASES[venue]
    fake = request.getfixturevalue(fixture)
    home = tmp_path / "home"
    pf = tmp_path / "portfolio.toml"
    pf.write_text(portfolio(venue))
    outputs: list[str] = []

    def step(*args: str) -> dict[str, Any]:
        proc = _run(home, local_server.base, venue, *args)
        outputs.extend([proc.stdout, proc.stderr])
        return _ok(proc)

    dry = step("hedge", "open", str(pf), "--venue", venue, "--order-type", "market", "--json")
    assert dry["dry_run"] is True and dry["executed"] == []
    assert received(local_server) == []  # a dry run sends nothing
    (order,) = dry["orders"]
    assert order["symbol"] == symbol and order["side"] == "sell" and order["contracts"] > 0

    opened = step("hedge", "open", str(pf), "--venue", venue, "--order-type", "market",
                  "--live", "--json")
    assert opened["executed"][-1]["status"] == "filled"
    contracts = opened["current_contracts"]
    assert contracts == pytest.approx(order["contracts"])
    assert held(fake) == pytest.approx(-contracts)  # the exchange holds the short, in coin

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
    assert held(fake) == pytest.approx(0.0, abs=1e-9)
    assert close["fees_paid_usd"] > 0

    orders = _journal_orders(home)
    assert [o[1] for o in orders] == ["sell", "buy", "buy"]
    assert {o[3] for o in orders} == {"filled"}
    # each intent sent exactly once, with althedge's id in the exchange's own format
    fmt = PROFILES[venue].client_id_format or (lambda cid: cid)
    assert received(local_server) == [fmt(o[0]) for o in orders]
    _secrets_absent(venue, home, outputs)


def test_mexc_refuses_before_sending_then_runs_when_enabled(
    tmp_path: Path, fake_mexc: Any, local_server: Any
) -> None:
    home = tmp_path / "home"
    pf = tmp_path / "portfolio.toml"
    pf.write_text(portfolio("mexc", max_contracts=100_000))
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
