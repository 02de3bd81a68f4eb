"""Backtest report: comparison table, self-contained HTML, atomic writes, bad paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from althedge.config import load_portfolio
from althedge.data import open_source
from althedge.errors import InputError
from althedge.services.backtest import BacktestResult, BacktestSettings, run_backtest
from althedge.services.report import comparison_rows, write_html_report, write_png_charts

PORTFOLIO = Path(__file__).parent / "data" / "backtest_portfolio.toml"


@pytest.fixture(scope="module")
def result() -> BacktestResult:
    return run_backtest(load_portfolio(PORTFOLIO), open_source(None),
                        ["static:1.8", "rolling-ols", "none"],
                        BacktestSettings(start="2024-01-01"))


def test_comparison_rows_follow_the_ranking(result: BacktestResult) -> None:
    rows = comparison_rows(result)
    assert [r[0] for r in rows] == ["1", "2", "3"]
    assert [r[1] for r in rows] == [p.name for p in result.policies]
    he = result.policies[0].metrics["hedge_effectiveness"]
    assert rows[0][2] == f"{he:.1%}"


def test_html_is_one_offline_page_written_atomically(result: BacktestResult,
                                                     tmp_path: Path) -> None:
    out = write_html_report(result, tmp_path / "r.html")
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert page.count("Plotly.newPlot") == 5
    assert "static:1.8" in page and "rolling-ols:90" in page
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]
    # rewriting replaces the file in one step
    out2 = write_html_report(result, out)
    assert out2.stat().st_size > 100_000


def test_bad_report_paths(result: BacktestResult, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="html"):
        write_html_report(result, tmp_path / "r.pdf")
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(InputError, match="folder"):
        write_png_charts(result, f)
