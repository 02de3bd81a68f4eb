"""`althedge backtest` through the real console entry point."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

PORTFOLIO = Path(__file__).resolve().parents[1] / "services" / "data" / "backtest_portfolio.toml"


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "althedge", "backtest", *args],
        capture_output=True, text=True, timeout=240, cwd=cwd,
    )


def test_compare_json_report_and_png(tmp_path: Path) -> None:
    report = tmp_path / "out" / "bt.html"
    png = tmp_path / "png"
    proc = _run(str(PORTFOLIO), "--start", "2023-01-01", "--compare",
                "rolling-ols,ewma,static:1.8,auto", "--json", "--report", str(report),
                "--png", str(png))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)  # exactly one JSON object on stdout
    assert {"policies", "start", "end", "bars"} <= set(data)
    assert [p["name"] for p in data["policies"]] != []
    assert {p["name"] for p in data["policies"]} == {"rolling-ols:90", "ewma:30", "static:1.8",
                                                      "auto"}
    for p in data["policies"]:
        m = p["metrics"]
        for key in ("hedge_effectiveness", "vol_unhedged", "vol_hedged", "max_drawdown_unhedged",
                    "max_drawdown_hedged", "worst_weeks_return_unhedged",
                    "worst_weeks_return_hedged", "funding_usd", "fees_usd", "slippage_usd",
                    "rebalances", "liquidations"):
            assert key in m
        assert isinstance(m["rebalances"], int) and m["rebalances"] > 0
    assert data["start"] >= "2023-01-01"
    page = report.read_text(encoding="utf-8")
    # self-contained: plotly.js inlined, no script loaded from the network
    assert "plotly.js" in page.lower() or "Plotly" in page
    assert re.search(r"<script[^>]*\ssrc=", page) is None  # no external script tag
    assert page.count("<script") >= 5
    for section in ("equity", "drawdown", "beta", "hedge_size", "costs"):
        assert f'id="{section}"' in page
    assert "static:1.8" in page and "measured β" in page
    pngs = sorted(p.name for p in png.iterdir())
    assert pngs == ["beta.png", "costs.png", "drawdown.png", "equity.png", "hedge_size.png"]
    for p in png.iterdir():
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(report.parent.glob(".*.tmp"))  # atomic write left no temp file


def test_report_always_shows_the_seed_static_beta(tmp_path: Path) -> None:
    proc = _run(str(PORTFOLIO), "--start", "2024-06-01", "--policy", "rolling-ols",
                "--report", str(tmp_path / "r.html"), "--json")
    assert proc.returncode == 0, proc.stderr
    names = {p["name"] for p in json.loads(proc.stdout)["policies"]}
    assert names == {"rolling-ols:90", "static:1.8"}
    assert "static:1.8" in (tmp_path / "r.html").read_text(encoding="utf-8")


def test_table_output_single_policy() -> None:
    proc = _run(str(PORTFOLIO), "--start", "2024-01-01", "--policy", "static:1.8",
                "--rebalance", "threshold:10", "--rounding", "none")
    assert proc.returncode == 0, proc.stderr
    assert "static:1.8" in proc.stdout and "HE (var. red.)" in proc.stdout


def test_errors_are_one_line_with_exit_code_2(tmp_path: Path) -> None:
    cases = [
        (str(PORTFOLIO), "--policy", "magic"),
        (str(PORTFOLIO), "--policy", "ewma", "--compare", "ewma,auto"),
        (str(PORTFOLIO), "--rebalance", "monthly"),
        (str(PORTFOLIO), "--start", "01/02/2023"),
        (str(PORTFOLIO), "--start", "2024-01-01", "--end", "2023-01-01"),  # swapped
        (str(PORTFOLIO), "--start", "2030-01-01"),  # after the last price
        (str(tmp_path / "missing.toml"),),
    ]
    for args in cases:
        proc = _run(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stdout == ""
        assert "Traceback" not in proc.stderr
        assert proc.stderr.strip().startswith("error:")
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_missing_prices_is_a_data_error(tmp_path: Path) -> None:
    proc = _run(str(PORTFOLIO), "--prices", str(tmp_path), "--json")
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout == "" and "Traceback" not in proc.stderr


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "portfolio.toml"


def test_example_table_shows_what_an_investor_keeps_beside_variance_reduction() -> None:
    proc = _run(str(EXAMPLE))  # default: the file's own hedge, auto and no hedge
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Ranked by annual return per unit of max drawdown, on capital committed" in out
    for column in ("final USD", "return", "capital", "committed", "max DD", "HE (var. red.)",
                   "worst 5% BTC", "hedged", "switches", "funding recv"):
        assert column in out, column
    rows = [line for line in out.splitlines() if re.match(r"^\d+\s", line)]
    assert len(rows) == 3
    plan = next(r for r in rows if "plan (rolling-ols:90)" in r)
    # the README example's figures (issue 12's table): final 32,903 USD, +309 %
    assert "32,903" in plan and "+309 %" in plan
    assert "touched zero" in out and "Crash episodes" in out
    assert "Terra/LUNA collapse (2022-05)" in out and "FTX collapse (2022-11)" in out
    proc = _run(str(EXAMPLE), "--compare", "ols when trend:200,none", "--rank-by", "variance",
                "--start", "2023-01-01")
    assert proc.returncode == 0, proc.stderr
    assert "Ranked by variance reduction (hedge effectiveness)" in proc.stdout
    assert "rolling-ols:90 when trend:200/1" in proc.stdout


def test_trigger_json_and_rank_by_errors() -> None:
    proc = _run(str(PORTFOLIO), "--start", "2024-01-01", "--compare",
                "ols when drawdown:10/5 hold 5,none", "--rank-by", "utility:3", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["rank_by"] == "utility:3" and data["schema"] == 2
    gated = next(p for p in data["policies"] if p["name"].startswith("rolling-ols:90 when"))
    assert gated["trigger"] == "drawdown:10/5 hold 5"
    m = gated["metrics"]
    for key in ("final_value_hedged_usd", "return_hedged_pct", "capital_committed_usd",
                "margin_peak_usd", "margin_avg_usd", "max_drawdown_hedged_committed",
                "time_hedged_pct", "hedge_switches", "funding_received_usd", "fees_paid_usd"):
        assert key in m, key
    assert m["funding_usd"] == -m["funding_received_usd"]
    for args in (("--rank-by", "sharpe"), ("--compare", "ols when moon:3")):
        proc = _run(str(PORTFOLIO), *args)
        assert proc.returncode == 2 and proc.stdout == ""
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
