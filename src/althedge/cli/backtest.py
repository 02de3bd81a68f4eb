"""`althedge backtest`: would this hedge have worked, and what would it have cost?"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from althedge.cli.common import (
    compact_table,
    console,
    emit_json,
    err_console,
    new_console,
    real_console,
)
from althedge.errors import InputError
from althedge.files import format_number

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
                console=real_console(err_console), transient=True,
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
    return format_number(x, spec)


def backtest(
    portfolio: Path = typer.Argument(..., help="Portfolio TOML file."),
    prices: str | None = typer.Option(
        None, "--prices", help="Folder of price files (default: hedge.price_source or bundled)."
    ),
    start: str | None = typer.Option(None, "--start", help="First evaluated day, YYYY-MM-DD."),
    end: str | None = typer.Option(None, "--end", help="Last day, YYYY-MM-DD."),
    policy: str | None = typer.Option(
        None, "--policy",
        help="plan | none | static:B | static | one-to-one | rolling-ols[:W] | ewma[:H] | "
             "downside[:W] | robust[:W] | conservative[:W] | shrunk[:W] | multi[:W] | auto, "
             "optionally 'POLICY when TRIGGER' (e.g. 'ols when trend:200'). "
             "Default: plan,auto,none compared.",
    ),
    compare: str | None = typer.Option(
        None, "--compare", help="Comma-separated policies to run and rank, e.g. "
                                "'plan,rolling-ols,ols when trend:200,multi:90 when "
                                "drawdown:10/5,none'. Triggers: trend:N, ptrend:N, cross:F/S, "
                                "drawdown:X/Y, vol:ON/OFF, volratio:R, funding:BP, "
                                "backwardation, calendar:A..B (docs/backtest.md)."
    ),
    rank_by: str = typer.Option(
        "return-per-drawdown", "--rank-by",
        help="variance | drawdown | return-per-drawdown | utility[:RISK_AVERSION].",
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
        "history", "--funding", "--funding-rate",
        help="history (funding files) | an assumed rate per 8 h (as plan --funding)."
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
    from althedge.files import check_targets
    from althedge.services.backtest import (
        BacktestSettings,
        check_settings,
        parse_policy_list,
        run_backtest,
    )

    if policy and compare:
        raise InputError("policy: pass either --policy NAME or --compare LIST, not both")
    if collateral is not None and collateral <= 0:
        raise InputError(f"--collateral: must be > 0 USD, got {collateral:g}; omit it to start "
                         "with the initial margin")
    # every output is checked before hours of work, and before any file is written
    check_targets([("--report", report, False), ("--png", png, True)])
    if report is not None and report.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"--report: {report.name!r} should end in .html (one self-contained "
                         "page); e.g. --report backtest.html")
    for name, value in (("start", start), ("end", end)):
        if value is not None:
            try:
                time.strptime(value, "%Y-%m-%d")
            except ValueError:
                raise InputError(f"{name}: {value!r} is not a date; use YYYY-MM-DD") from None
    pf = load_portfolio(portfolio)
    source = open_source(prices or pf.hedge.price_source)
    flag = "--compare" if compare else "--policy"
    try:
        specs = parse_policy_list(compare or policy or "plan,auto,none", window=window,
                                  halflife=halflife, portfolio=pf)
    except InputError as exc:  # "policy 'static:nan': …" → "--policy 'static:nan': …"
        text = str(exc)
        if (compare or policy) and text.startswith("policy"):
            raise InputError(flag + text.removeprefix("policy")) from None
        raise
    if (report is not None or png is not None) and "static:1.8" not in {s.name for s in specs}:
        # the report always shows the seed article's fixed 1.8 against the measured beta
        specs.append(parse_policy_list("static:1.8")[0])
        err_console.print("note: the seed's static:1.8 is added to the report as a reference")
    settings = BacktestSettings(
        start=start, end=end, timeframe=timeframe, window=window, halflife=halflife,
        rebalance=rebalance, min_trade_usd=min_trade, fees=fees, slippage_bps=slippage_bps,
        funding=funding, contract=contract, perpetual=False if dated else None,
        rounding=rounding, leverage=leverage, collateral_usd=collateral, top_up=top_up,
        basis_annual=basis, keep_bars=tuple(keep_bar or ()), rank_by=rank_by,
    )
    check_settings(settings, pf.hedge.exchange)  # every setting, before the prices load
    bar = _LazyProgress(enabled=err_console.is_terminal)  # no bar (nor its blank line) in a pipe
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


_OBJECTIVE_TEXT = {
    "variance": "variance reduction (hedge effectiveness)",
    "drawdown": "max drawdown on capital committed (shallowest first)",
    "return-per-drawdown": "annual return per unit of max drawdown, on capital committed",
    "utility": "utility: annual mean − A·variance/2 of returns on capital committed",
}


def _objective_label(rank_by: str) -> str:
    kind, _, arg = rank_by.partition(":")
    text = _OBJECTIVE_TEXT.get(kind, rank_by)
    return text.replace("A·", f"{arg}·") if arg else text


def _render(result: Any) -> None:
    wide = console if console.is_terminal else new_console(highlight=False, width=170)
    console.print(
        f"[bold]{result.portfolio_name}[/]  {result.start} → {result.end}  ({result.bars} "
        f"{result.timeframe} bars, out of sample)  ·  {result.instrument}  ·  rebalance "
        f"{result.settings['rebalance']}"
    )
    first = result.policies[0].metrics
    console.print(
        f"unhedged: final value {_fmt(first['final_value_unhedged_usd'], ',.0f')} USD, return "
        f"{_fmt(first['return_unhedged_pct'], ',.0f')} %, max drawdown "
        f"{_fmt(first['max_drawdown_unhedged'], '.0%')}, worst 5% BTC weeks "
        f"{_fmt(first['worst_weeks_return_unhedged'], '.1%')}, vol "
        f"{_fmt(first['vol_unhedged'], '.0%')}"
    )
    t = compact_table(f"Ranked by {_objective_label(result.rank_by)}")
    longest = max(len(p.name) + (len(p.spec.resolved_from) + 3 if p.spec.resolved_from else 0)
                  for p in result.policies)
    for c in ("#", "policy", "final USD", "return", "capital committed", "margin peak",
              "max DD", "HE (var. red.)", "worst 5% BTC wks", "hedged", "switches",
              "funding recv", "fees+slip paid", "liq"):
        if c == "policy":
            t.add_column(c, justify="left", no_wrap=False, min_width=min(longest, 40))
        else:
            t.add_column(c, justify="right")
    for p in result.policies:
        m = p.metrics
        name = p.name + (f" (={p.spec.resolved_from})" if p.spec.resolved_from else "")
        t.add_row(
            str(p.rank), name, _fmt(m["final_value_hedged_usd"], ",.0f"),
            _fmt(m["return_hedged_pct"], "+,.0f") + " %",
            _fmt(m["capital_committed_usd"], ",.0f"), _fmt(m["margin_peak_usd"], ",.0f"),
            _fmt(m["max_drawdown_hedged_committed"], ".0%"),
            _fmt(m["hedge_effectiveness"], ".1%"),
            _fmt(m["worst_weeks_return_hedged"], ".1%"),
            _fmt(m["time_hedged_pct"], ".0f") + " %", str(m["hedge_switches"]),
            _fmt(m["funding_received_usd"], ",.0f"),
            _fmt(m["fees_paid_usd"] + m["slippage_paid_usd"], ",.0f"), str(m["liquidations"]),
        )
    # piped output is not limited to 80 columns: the table is for reading in a file/log
    wide.print(t)
    console.print(
        "[dim]final USD = holdings + hedge PnL (margin deposits are capital, handed back, not "
        "profit); return on the starting portfolio; capital committed = starting portfolio + "
        "every margin deposit; max DD on capital committed; HE = 1 − Var(hedged)/Var(unhedged); "
        "worst 5% BTC wks = the portfolio's return compounded over the 5 % of weeks BTC fell "
        "most (hedged: per-bar returns of holdings + hedge); hedged = share of bars with a "
        "short on; funding recv + = earned by the short; "
        "costs in USD.[/]"
    )
    for p in result.policies:
        day = p.metrics["equity_touches_zero_on"]
        if day:
            console.print(
                f"[yellow]note:[/] {p.name}: holdings + hedge PnL touched zero on {day} — the "
                "short lost more than the holdings were worth (refilled by margin deposits); "
                "a drawdown on that basis would read −100 %, so max DD is on all capital "
                "committed", soft_wrap=True,
            )
    if result.episodes:
        _render_episodes(result, wide)


def _render_episodes(result: Any, out: Console) -> None:
    """Crash episodes: the unhedged loss, each hedge's loss, hedged at the start or not."""
    t = compact_table(f"Crash episodes ({result.hedge_asset} falls of 15 % or more from a "
                      "14-day high, found in the data): portfolio change peak → trough, %")
    t.add_column("episode", justify="left", no_wrap=True)
    t.add_column("peak → trough", justify="left", no_wrap=True)
    t.add_column(f"{result.hedge_asset}", justify="right")
    t.add_column("unhedged", justify="right")
    for p in result.policies:
        t.add_column(p.name, justify="right")
    for e in result.episodes:
        cells = [e.name, f"{e.peak} → {e.trough}", f"{e.hedge_asset_drop_pct:.0f}",
                 f"{e.unhedged_loss_pct:.0f}"]
        for p in result.policies:
            mark = "" if e.hedged_at_start[p.name] else "*"
            cells.append(f"{e.losses_pct[p.name]:.0f}{mark}")
        t.add_row(*cells)
    out.print(t)
    console.print("[dim]* = no short on when the fall began (trigger off or not yet "
                  "switched on).[/]")


def register(root: typer.Typer) -> None:
    """Attach this module's top-level commands to the root app."""
    root.command("backtest")(backtest)
