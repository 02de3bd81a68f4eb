"""`althedge plan` shows whether each configured trigger is on today, and why."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PORTFOLIO = """
name = "trigger bag"
[[holdings]]
asset = "SOL"
amount = 120
[[holdings]]
asset = "LINK"
amount = 500
[hedge]
triggers = ["calendar:2024-06-01..2024-06-10", "drawdown:10/5"]
"""


def _plan(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "althedge", "plan", str(path), *args],
                          capture_output=True, text=True, timeout=120)


def test_plan_renders_the_trigger_section_and_json(tmp_path: Path) -> None:
    pf = tmp_path / "pf.toml"
    pf.write_text(PORTFOLIO)
    proc = _plan(pf, "--as-of", "2024-06-05")
    assert proc.returncode == 0, proc.stderr
    assert "4 · When to hedge" in proc.stdout and "hedge now" in proc.stdout
    assert "inside a hedge window" in proc.stdout
    proc = _plan(pf, "--as-of", "2024-06-05", "--json")
    data = json.loads(proc.stdout)["triggers"]
    assert data["hedge_on"] is True and data["as_of"] == "2024-06-05"
    assert [r["trigger"] for r in data["readings"]] == ["calendar:2024-06-01..2024-06-10",
                                                        "drawdown:10/5"]
    pf.write_text(PORTFOLIO.replace("drawdown:10/5", "moon:3"))
    bad = _plan(pf)
    assert bad.returncode == 2 and "trigger" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1, bad.stderr
