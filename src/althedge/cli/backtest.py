"""`althedge backtest`: would this hedge have worked, and what would it have cost?"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from althedge.cli.common import compact_table, console, emit_json, err_console
from althedge.errors import InputError

_REPORT_HELP = "Write ONE self-contained HTML page (plotly embedded, works offline)."


class _LazyProgress:
    """A rich progress bar on stderr that appears only once a run has taken > 1 s."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.t0 = time.perf_counter()
        self.bar: Progress | None = None
        self.task: Any = None

    def __call__(self, label: str, fraction: float) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            if time.perf_counter() - self.t0 < 1.0:
                return
            self.bar = Progress(
                TextColumn("[progress.description]{task.description}"), BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(),
                console=err_console, transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task(label, total=1.0)
        self.bar.update(self.task, description=label, completed=fraction)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _fmt(x: Any, spec: str) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    return format(x, spec)


def backtest(
    portfolio: Path = typer.Argument(..., help="Portfolio TOML file."),
    prices: str | None = typer.Option(
        None, "--prices", help="Folder of price files (default: hedge.price_source or bundled)."
    ),
    start: str | None = typer.Option(None, "--start", help="First evaluated day, YYYY-MM-DD."),
    end: str | None = typer.Option(None, "--end", help="Last day, YYYY-MM-DD."),
    policy: str | None = typer.Option(
        None, "--policy",
        help="none | static:B | static | one-to-one | rolling-ols[:W] | ewma[:H] | downside[:W] "
             "| robust[:W] | conservative[:W] | shrunk[:W] | multi[:W] | auto (default auto).",
    ),
    compare: str | None = typer.Option(
        None, "--compare", help="Comma-separated policies to run and rank, e.g. "
                                "rolling-ols,ewma,static:1.8,auto."
    ),
    window: int = typer.Option(90, "--window", help="Estimation window, bars."),
    halflife: float = typer.Option(30.0, "--halflife", help="EWMA half-life in bars."),
    rebalance: str = typer.Option(
        "weekly", "--rebalance", help="every | daily | weekly | biweekly | threshold:PCT."
    ),
    min_trade: float = typer.Option(0.0, "--min-trade", help="Skip smaller trades (USD)."),
    fees: str = typer.Option("taker", "--fees", help="taker | maker | a rate, e.g. 0.0004."),
    slippage_bps: float = typer.Option(2.0, "--slippage-bps", help="Slippage per trade, bps."),
    funding: str = typer.Option(
        "history", "--funding", help="history (funding files) | an assumed rate per 8 h."
    ),
    contract: str | None = typer.Option(None, "--contract", help="linear | inverse (override)."),
    dated: bool = typer.Option(
        False, "--dated", help="Hedge with the quarterly dated contract (simple basis model)."
    ),
    basis: float = typer.Option(
        0.05, "--basis", help="Dated contracts: annualised basis of the model (0.05 = 5 %)."
    ),
    rounding: str | None = typer.Option(
        None, "--rounding", help="down | up | nearest | none (fractional, for analysis)."
    ),
    leverage: float | None = typer.Option(None, "--leverage", help="Isolated leverage (override)."),
    collateral: float | None = typer.Option(
        None, "--collateral", help="Initial collateral in USD (default: the initial margin)."
    ),
    top_up: bool = typer.Option(
        False, "--top-up", help="Top the margin back up when half of it is lost."
    ),
    timeframe: str = typer.Option("1d", "--timeframe", help="1d | 1h bars."),
    keep_bar: list[str] | None = typer.Option(
        None, "--keep-bar",
        help="Keep a flagged bar you know is genuine: KIND@TIME or SYMBOL:KIND@TIME "
             "(e.g. AVAX:spike@2022-05-11T12:00); repeatable.",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
    report: Path | None = typer.Option(None, "--report", help=_REPORT_HELP),
    png: Path | None = typer.Option(None, "--png", help="Write PNG charts into this folder."),
) -> None:
    """Walk a hedge policy forward through history: hedged vs unhedged, net of costs."""
    from althedge.config import load_portfolio
    from althedge.data import open_source
    from althedge.services.backtest import BacktestSettings, parse_policy_list, run_backtest

    if policy and compare:
        raise InputError("policy: pass either --policy NAME or --compare LIST, not both")
    for name, value in (("start", start), ("end", end)):
        if value is not None:
            try:
                time.strptime(value, "%Y-%m-%d")
            except ValueError:
                raise InputError(f"{name}: {value!r} is not a date; use YYYY-MM-DD") from None
    pf = load_portfolio(portfolio)
    source = open_source(prices or pf.hedge.price_source)
    specs = parse_policy_list(compare or policy or "auto", window=window, halflife=halflife)
    if (report is not None or png is not None) and "static:1.8" not in {s.name for s in specs}:
        # the report always shows the seed article's fixed 1.8 against the measured beta
        specs.append(parse_policy_list("static:1.8")[0])
        err_console.print("note: the seed's static:1.8 is added to the report as a reference")
    settings = BacktestSettings(
        start=start, end=end, timeframe=timeframe, window=window, halflife=halflife,
        rebalance=rebalance, min_trade_usd=min_trade, fees=fees, slippage_bps=slippage_bps,
        funding=funding, contract=contract, perpetual=False if dated else None,
        rounding=rounding, leverage=leverage, collateral_usd=collateral, top_up=top_up,
        basis_annual=basis, keep_bars=tuple(keep_bar or ()),
    )
    bar = _LazyProgress(enabled=True)
    try:
        result = run_backtest(pf, source, specs, settings, progress=bar)
        written: list[str] = []
        if report is not None:
            from althedge.services.report import write_html_report

            bar("writing the HTML report", 0.97)
            written.append(str(write_html_report(result, report)))
        if png is not None:
            from althedge.services.report import write_png_charts

            bar("drawing PNG charts", 0.99)
            written.extend(str(p) for p in write_png_charts(result, png))
    finally:
        bar.close()
    for w in result.warnings:
        err_console.print(f"[yellow]warning:[/] {w}", soft_wrap=True)
    if json_out:
        payload = result.to_dict()
        if written:
            payload["files"] = written
        emit_json(payload)
        return
    _render(result)
    for f in written:
        console.print(f"wrote {f}")


def _render(result: Any) -> None:
    console.print(
        f"[bold]{result.portfolio_name}[/]  {result.start} → {result.end}  ({result.bars} "
        f"{result.timeframe} bars, out of sample)  ·  {result.instrument}  ·  rebalance "
        f"{result.settings['rebalance']}"
    )
    t = compact_table("Policies ranked by hedge effectiveness")
    first = result.policies[0].metrics
    console.print(
        f"unhedged: vol {_fmt(first['vol_unhedged'], '.0%')}, max drawdown "
        f"{_fmt(first['max_drawdown_unhedged'], '.0%')}, worst 5% weeks "
        f"{_fmt(first['worst_weeks_return_unhedged'], '.1%')}"
    )
    longest = max(len(p.name) + (len(p.spec.resolved_from) + 3 if p.spec.resolved_from else 0)
                  for p in result.policies)
    for c in ("#", "policy", "HE", "vol", "max DD", "worst wks", "funding", "fees+slip",
              "rebal", "calls", "liq"):
        if c == "policy":
            t.add_column(c, justify="left", no_wrap=True, min_width=longest)
        else:
            t.add_column(c, justify="right")
    for p in result.policies:
        m = p.metrics
        name = p.name + (f" (={p.spec.resolved_from})" if p.spec.resolved_from else "")
        t.add_row(
            str(p.rank), name, _fmt(m["hedge_effectiveness"], ".1%"),
            _fmt(m["vol_hedged"], ".0%"), _fmt(m["max_drawdown_hedged"], ".0%"),
            _fmt(m["worst_weeks_return_hedged"], ".1%"),
            _fmt(m["funding_usd"], ",.0f"), _fmt(m["fees_usd"] + m["slippage_usd"], ",.0f"),
            str(m["rebalances"]), str(m["margin_calls"]), str(m["liquidations"]),
        )
    # piped output is not limited to 80 columns: the table is for reading in a file/log
    (console if console.is_terminal else Console(highlight=False, width=150)).print(t)
    console.print(
        "[dim]HE = 1 − Var(hedged)/Var(unhedged) on the out-of-sample span; funding > 0 paid, "
        "< 0 earned by the short; costs in USD.[/]"
    )


def register(root: typer.Typer) -> None:
    """Attach this module's top-level commands to the root app."""
    root.command("backtest")(backtest)
