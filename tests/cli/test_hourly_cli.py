"""`--sampling` and `--keep-bar` on `althedge plan` and `backtest`, via the console script."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

from althedge.data import bundled_source

ROOT = Path(__file__).resolve().parents[2]


def althedge(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "althedge", *args], capture_output=True, text=True, cwd=ROOT
    )


def _folder_with_a_bad_print(tmp_path: Path) -> Path:
    """Bundled SOL/LINK/BTC daily and hourly files; SOL's 2024-08-01 12:00 close × 4."""
    src = bundled_source()
    for a in ("SOL", "LINK", "BTC"):
        shutil.copy(src.entry(a).file, tmp_path / f"{a}-USD_1d.csv")  # type: ignore[arg-type]
        f = pd.read_parquet(src.entry(a, "1h").file)  # type: ignore[arg-type]
        if a == "SOL":
            at = f.index[f["timestamp"] == pd.Timestamp("2024-08-01 12:00")][0]
            f.loc[at, "close"] = f.loc[at, "close"] * 4
        f.to_parquet(tmp_path / f"{a}-USD_1h.parquet", index=False)
    (tmp_path / "p.toml").write_text(
        '[[holdings]]\nasset = "SOL"\namount = 100\n[[holdings]]\nasset = "LINK"\n'
        'amount = 800\n[hedge]\nlookback_days = 30\n', encoding="utf-8")
    return tmp_path


def test_plan_sampling_and_keep_bar(tmp_path: Path) -> None:
    folder = _folder_with_a_bad_print(tmp_path)
    base = ("plan", str(folder / "p.toml"), "--prices", str(folder), "--as-of", "2024-08-05")
    daily = althedge(*base, "--json")
    assert daily.returncode == 0, daily.stderr
    assert json.loads(daily.stdout)["sampling"] == "1d"
    refused = althedge(*base, "--sampling", "1h", "--json")
    assert refused.returncode != 0
    assert "SOL: spike at 2024-08-01T12:00:00" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr
    kept = althedge(*base, "--sampling", "1h", "--keep-bar", "SOL:spike@2024-08-01T12:00",
                    "--json")
    assert kept.returncode == 0, kept.stderr
    plan = json.loads(kept.stdout)
    assert plan["sampling"] == "1h" and plan["holdings"][0]["observations"] > 600


def test_bad_keep_bar_and_sampling_are_one_line_errors(tmp_path: Path) -> None:
    folder = _folder_with_a_bad_print(tmp_path)
    base = ("plan", str(folder / "p.toml"), "--prices", str(folder), "--as-of", "2024-08-05")
    for extra, word in ((("--keep-bar", "blip@2024-08-01"), "keep-bar"),
                        (("--sampling", "5m"), "sampling")):
        proc = althedge(*base, *extra)
        assert proc.returncode == 2, proc.stderr
        assert word in proc.stderr and "Traceback" not in proc.stderr


def test_backtest_keep_bar_option(tmp_path: Path) -> None:
    folder = _folder_with_a_bad_print(tmp_path)
    base = ("backtest", str(folder / "p.toml"), "--prices", str(folder), "--timeframe", "1h",
            "--start", "2024-07-01", "--end", "2024-09-30", "--policy", "rolling-ols:720",
            "--window", "720", "--rebalance", "daily", "--json")
    refused = althedge(*base)
    assert refused.returncode != 0 and "spike" in refused.stderr
    kept = althedge(*base, "--keep-bar", "SOL:spike@2024-08-01T12:00")
    assert kept.returncode == 0, kept.stderr
    assert any("kept by the user" in w for w in json.loads(kept.stdout)["warnings"])
