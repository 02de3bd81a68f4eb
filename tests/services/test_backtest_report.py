"""Backtest report: comparison table, self-contained HTML, atomic writes, bad paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from althedge.config import load_portfolio
from althedge.data import open_source
from althedge.errors import InputError, OutputError
from althedge.services.backtest import BacktestResult, BacktestSettings, run_backtest
from althedge.services.report import (
    _COLUMNS,
    comparison_rows,
    write_html_report,
    write_png_charts,
)

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
    m = result.policies[0].metrics
    header = ["rank", "policy", *[c[1] for c in _COLUMNS]]
    row = dict(zip(header, rows[0], strict=True))
    assert row["final value USD (holdings + hedge PnL)"] == f"{m.final_value_hedged_usd:,.0f}"
    assert row["hedge effectiveness (variance reduction)"] == f"{m.hedge_effectiveness:.1%}"
    assert row["max DD on capital committed"] == f"{m.max_drawdown_hedged_committed:.1%}"


def test_html_is_one_offline_page_written_atomically(result: BacktestResult,
                                                     tmp_path: Path) -> None:
    out = write_html_report(result, tmp_path / "r.html")
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert page.count("Plotly.newPlot") == 5
    assert "static:1.8" in page and "rolling-ols:90" in page
    assert "ranked by annual return per unit of max drawdown" in page
    assert "Crash episodes" in page and "yen carry unwind (2024-08-05)" in page
    assert "worst 5% BTC weeks" in page and "capital committed" in page
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]
    # rewriting replaces the file in one step
    out2 = write_html_report(result, out)
    assert out2.stat().st_size > 100_000


def test_bad_report_paths(result: BacktestResult, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="html"):
        write_html_report(result, tmp_path / "r.pdf")
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        write_png_charts(result, f)
    with pytest.raises(OutputError, match=r"--report: cannot write .*file/r\.html: .*is a file"):
        write_html_report(result, f / "r.html")


def test_page_explains_equity_touching_zero(tmp_path: Path) -> None:
    # a permanent 1.8 hedge through the late-2020 rally: holdings + hedge PnL reach zero
    res = run_backtest(load_portfolio(PORTFOLIO), open_source(None), ["static:1.8"],
                       BacktestSettings(start="2020-10-01", end="2021-03-31"))
    day = res.policies[0].metrics.equity_touches_zero_on
    assert day is not None
    page = write_html_report(res, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Why some drawdowns would read −100 %" in page and day in page


@pytest.mark.parametrize(("value", "spec", "shown"), [
    (-0.0, "{:.1f}", "0.0"), (-0.004, "{:+,.0f}", "+0"), (-0.4, "{:,.0f}", "0"),
    (-1234.5, "{:,.0f}", "-1,234"), (float("nan"), "{:.1f}", "—"), ("n/a", "{:.1f}", "n/a"),
])
def test_report_cells_never_show_a_negative_zero(value: object, spec: str, shown: str) -> None:
    """The HTML report's numbers follow the tables' and the JSON's rule: no "-0"."""
    from althedge.services.report import _fmt

    assert _fmt(value, spec) == shown
