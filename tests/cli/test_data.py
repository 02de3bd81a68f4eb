"""`althedge data …` through the real console entry (subprocess), offline.

`data fetch` runs a real ccxt.binance inside the althedge process; ALTHEDGE_CCXT_GATEWAY sends
its requests to a fixture-fed HTTP server on 127.0.0.1 (tests/fixtures/ccxt_data/offline.py).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "ccxt_data"


def _load_offline() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ccxt_offline_cli", FIXTURES / "offline.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


offline = _load_offline()


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "althedge", "data", *args], capture_output=True,
                          text=True, env=full_env, timeout=120)


def as_json(proc: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(proc.stdout)


def test_check_shared_folder_finds_the_known_defects(shared_data: Path) -> None:
    proc = run("check", str(shared_data), "--json")
    assert proc.returncode == 3, proc.stderr
    out = as_json(proc)
    assert set(out["findings"][0]) == {"symbol", "severity", "kind", "timestamp", "detail"}
    bad = {f["symbol"] for f in out["findings"] if f["severity"] == "error"}
    assert bad == {"UNI", "TON", "SHIB"}
    assert out["series_checked"] == 27  # 13 daily + 14 hourly (binance/spot_1h supersedes hourly/)
    assert any(f["symbol"] == "UNI" and f["kind"] == "level_shift"
               and f["timestamp"] == "2022-10-21" for f in out["findings"])


def test_check_clean_series_exits_0() -> None:
    proc = run("check", "BTC,ETH", "--json")
    assert proc.returncode == 0, proc.stderr
    out = as_json(proc)
    assert out == {"findings": [], "series_checked": 2, "errors": 0, "warnings": 0}
    human = run("check", "bundled")
    assert human.returncode == 0 and "10 series checked: 0 error(s)" in human.stdout


def test_check_bad_input_is_one_line() -> None:
    proc = run("check", "NOPE")
    assert proc.returncode == 3 and "no 1d data for NOPE" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_import_then_list_then_check(tmp_path: Path) -> None:
    src = tmp_path / "exports"
    src.mkdir()
    ms = pd.date_range("2024-01-01", periods=40, freq="D").asi8 // 10**6
    closes = [100.0 + i for i in range(40)]
    lines = ["Timestamp,Close"] + [f"{t},{c}" for t, c in zip(ms, closes, strict=True)]
    lines.insert(5, "oops,12")
    (src / "SOLUSDT.csv").write_text("\n".join(lines) + "\n")
    home = tmp_path / "home"
    proc = run("import", str(src), "--data-dir", str(home), "--json")
    assert proc.returncode == 0, proc.stderr
    imp = as_json(proc)["imported"]
    assert imp == [{"file": "SOLUSDT.csv", "asset": "SOL", "timeframe": "1d", "rows": 40,
                    "dropped_rows": 1, "path": str(home / "cache/imported/SOL_USD_1d.parquet")}]
    raw = run("check", str(src / "SOLUSDT.csv"), "--json")  # the original has a bad row
    assert raw.returncode == 3
    assert [f["kind"] for f in as_json(raw)["findings"]] == ["unparseable"]


def test_fetch_incremental_list_and_check_offline(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with offline.proxy_server("binance") as (url, _router, seen, _sim):
        env = {"ALTHEDGE_CCXT_GATEWAY": url}
        proc = run("fetch", "--exchange", "binance", "--symbols", "SOL/USDT,BTC/USDT:USDT",
                   "--timeframe", "1d", "--since", "2024-01-01", "--until", "2024-01-31",
                   "--data-dir", str(home), "--json", env=env)
        assert proc.returncode == 0, proc.stderr
        out = as_json(proc)
        rows = {r["symbol"]: r for r in out["fetched"]}
        assert rows["SOL/USDT"]["rows"] == 31 and rows["SOL/USDT"]["last"] == "2024-01-31"
        assert rows["BTC/USDT:USDT"]["funding_events"] == 91  # 3 a day, to 2024-01-31 00:00
        first = len(seen)
        proc = run("fetch", "--exchange", "binance", "--symbols", "SOL/USDT",
                   "--since", "2024-01-01", "--until", "2024-02-29", "--data-dir", str(home),
                   env=env)
        assert proc.returncode == 0, proc.stderr
        klines = [r for r in seen[first:] if r.path == "/api/v3/klines"]
        assert int(klines[0].params["startTime"]) == 1_706_745_600_000  # Feb 1
        assert "SOL/USDT" in proc.stdout and "60" in proc.stdout
    listed = as_json(run("list", "--data-dir", str(home), "--json"))["series"]
    assert {(s["symbol"], s["timeframe"]) for s in listed} == {
        ("SOL/USDT", "1d"), ("BTC/USDT:USDT", "1d"), ("BTC/USDT:USDT", "funding")}


def test_fetch_unknown_exchange_is_one_line() -> None:
    # (a bad symbol on a real exchange object is covered in-process in tests/data)
    proc = run("fetch", "--exchange", "nosuchex", "--symbols", "BTC/USDT")
    assert proc.returncode == 2 and "not a ccxt exchange id" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
