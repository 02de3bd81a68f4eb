"""`althedge plan` and `althedge demo`: the hedge plan for a portfolio file, as a table or JSON."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from althedge.cli.common import compact_table, console, emit_json, parse_date
from althedge.errors import InputError
from althedge.files import format_number

if TYPE_CHECKING:  # the services are imported inside the commands (fast --help)
    from althedge.services.plan import HedgePlan, HoldingLine

EXAMPLE_PORTFOLIO = "examples/portfolio.toml"
WIDE_COLUMNS = 110  # terminal width (columns) from which amount, R² and downside β show


def _fmt(x: float, spec: str = ",.2f", na: str = "—") -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return na
    return format_number(x, spec)


def render_plan(plan: HedgePlan) -> None:
    """Print the plan as a person reads it: holdings, the hedge, warnings."""
    from rich.panel import Panel
    from rich.table import Table

    from althedge.services.plan import LIQUIDATION_WARNING_PCT

    head = (
        f"[bold]{plan.name}[/]  [bold]as of {plan.as_of}[/]  ·  prices: {plan.price_source}  ·  "
        f"beta: {plan.beta_method}, {plan.lookback_days}-day lookback"
        f"{', hourly returns' if plan.sampling == '1h' else ''}"
    )
    console.print(head)
    for w in plan.warnings:  # stale data first: the date matters before any number
        if w.startswith("prices: "):
            console.print(f"[bold yellow]⚠ {w}[/]")
    # (header, optional, holding cell, portfolio cell); optional columns are dropped on
    # terminals narrower than WIDE_COLUMNS (they stay in --json)
    port_src = (
        "[yellow]partly[/]" if plan.portfolio_beta_source != "measured" else "measured"
    )
    columns: list[tuple[str, bool, Callable[[HoldingLine], str], str]] = [
        ("asset", False, lambda h: h.asset, "[bold]portfolio"),
        ("amount", True, lambda h: _fmt(h.amount, ",.6g"), ""),
        ("price", False, lambda h: _fmt(h.price_usd, ",.6g"), ""),
        ("value", False, lambda h: _fmt(h.value_usd),
         f"[bold]{_fmt(plan.portfolio_value_usd)}"),
        ("weight", False, lambda h: _fmt(h.weight * 100, ".1f") + "%", "100%"),
        ("beta", False, lambda h: _fmt(h.beta, ".3f"),
         f"[bold]{_fmt(plan.portfolio_beta, '.3f')}"),
        ("source", False,
         lambda h: "[yellow]ASSUMED[/]" if h.beta_source == "assumed" else "measured", port_src),
        ("corr", False, lambda h: _fmt(h.correlation, ".2f"),
         _fmt(plan.portfolio_correlation, ".2f")),
        ("R²", True, lambda h: _fmt(h.r_squared, ".2f"), _fmt(plan.portfolio_r_squared, ".2f")),
        ("±se", False, lambda h: _fmt(h.beta_std_error, ".3f"), ""),
        ("downside β", True, lambda h: _fmt(h.downside_beta, ".3f"), ""),
        # hourly sampling counts thousands of returns: shown on wide terminals only
        ("obs", plan.sampling == "1h", lambda h: str(h.observations), ""),
    ]
    if console.width < WIDE_COLUMNS:
        columns = [c for c in columns if not c[1]]
    t = compact_table("1 · Valuation (USD) and beta")
    for col, _opt, _cell, _total in columns:
        t.add_column(col, justify="left" if col in ("asset", "source") else "right",
                     no_wrap=True)
    for h in plan.holdings:
        t.add_row(*(cell(h) for _c, _o, cell, _t in columns))
    t.add_section()
    t.add_row(*(total for _c, _o, _cell, total in columns))
    console.print(t)

    for leg in plan.hedges:
        if leg.notional_usd == 0 and leg.contracts == 0 and len(plan.hedges) > 1:
            console.print(f"2 · Hedge with {leg.hedge_asset}: none (weight 0 in the mix)")
            continue
        g = Table.grid(padding=(0, 2))
        g.add_column(style="dim")
        g.add_column(justify="right")
        unit = f"{leg.contract_size:g} {leg.contract_size_unit}"
        g.add_row(
            "contract",
            f"{leg.exchange} {leg.instrument} ({leg.contract_type}, {unit} per contract)",
        )
        g.add_row(f"{leg.hedge_asset} price", f"{_fmt(leg.hedge_price_usd)} USD")
        g.add_row("hedge notional  H = V·β", f"{_fmt(leg.notional_usd)} USD  (β {leg.beta:.3f})")
        g.add_row("contracts (exact)", _fmt(leg.contracts_exact, ",.4f"))
        g.add_row(
            f"[bold]SHORT contracts ({leg.rounding})",
            f"[bold]{_fmt(leg.contracts, ',.6g')}[/]  "
            f"(lot {leg.lot_step:g}, min {leg.min_contracts:g})",
        )
        g.add_row("residual unhedged", f"{_fmt(leg.residual_usd)} USD")
        g.add_row("hedge ratio achieved", f"{_fmt(leg.hedge_ratio_achieved * 100, '.1f')}%")
        im = f"{_fmt(leg.initial_margin, ',.6g')} {leg.initial_margin_currency}"
        if leg.initial_margin_currency != "USD":
            im += f" (≈ {_fmt(leg.initial_margin_usd)} USD)"
        g.add_row(f"initial margin at {leg.leverage:g}× ({leg.margin_mode})", im)
        rally = leg.rally_to_liquidation_pct
        style = "red" if math.isfinite(rally) and rally < LIQUIDATION_WARNING_PCT else "green"
        liq = (
            "never (fully collateralised)"
            if not math.isfinite(leg.liquidation_price)
            else f"{_fmt(leg.liquidation_price)} USD  [{style}](+{_fmt(rally, '.1f')}% rally)[/]"
        ) + f"  [dim]{leg.liquidation_method}[/]"
        g.add_row("liquidation price", liq)
        fund_style = "red" if leg.funding_usd_per_year < 0 else "green"
        g.add_row(
            "funding rate (per 8 h)",
            f"{leg.funding_rate_8h * 100:.4f}%  [dim]{leg.funding_rate_source}[/]",
        )
        g.add_row(
            "funding per year",
            f"[{fund_style}]{leg.funding_usd_per_year:+,.0f} USD[/] (+ = the short earns)",
        )
        if math.isfinite(leg.taker_fee_rate):
            g.add_row(
                "fees (base tier)",
                f"maker {leg.maker_fee_rate * 100:.3f}% · taker {leg.taker_fee_rate * 100:.3f}%"
                f"  → {_fmt(leg.fees_paid_open_usd)} USD to open at market",
            )
        console.print(
            Panel(g, title=f"2 · Hedge with {leg.hedge_asset}", title_align="left", expand=False)
        )

    if plan.scenarios and any(leg.contracts > 0 for leg in plan.hedges):
        _render_scenarios(plan)
    if plan.triggers is not None:
        _render_triggers(plan)

    for w in plan.warnings:
        if not w.startswith("prices: "):
            console.print(f"[yellow]⚠ {w}[/]")


def _render_triggers(plan: HedgePlan) -> None:
    """Section 4: is each configured trigger on today, and why ([hedge] triggers)."""
    tr = plan.triggers
    assert tr is not None
    verdict = ("[bold red]ON — hedge now[/]" if tr.hedge_on
               else "[bold green]OFF — no hedge needed (de-hedge if one is open)[/]")
    t = compact_table(f"4 · When to hedge ({tr.expression}), as of {tr.as_of}: {verdict}")
    for col in ("trigger", "today", "since", "why"):
        t.add_column(col, justify="left", no_wrap=col != "why")
    for r in tr.readings:
        t.add_row(r.trigger, "[red]on[/]" if r.on else "off", r.since or "—", r.why)
    console.print(t)


def _render_scenarios(plan: HedgePlan) -> None:
    """Section 3: the hedged portfolio if the hedge asset(s) jump, crash to rally."""
    assets = " and ".join(leg.hedge_asset for leg in plan.hedges)
    t = compact_table(
        f"3 · If {assets} moved at once (USD; alts by beta, downside beta for falls)"
    )
    for col in ("move", "β used", "portfolio", "hedge", "hedged", "unhedged %", "hedged %"):
        t.add_column(col, justify="right", no_wrap=True)
    for sc in plan.scenarios:
        style = "red" if sc.net_pct < -5 else ""
        t.add_row(
            f"{sc.move_pct:+.0f}%",
            f"{sc.beta_used:.2f}",
            f"{sc.portfolio_change_usd:+,.0f}",
            f"{sc.hedge_pnl_usd:+,.0f}" + (" [red]LIQUIDATED[/]" if sc.liquidated else ""),
            f"[{style}]{sc.net_usd:+,.0f}[/]" if style else f"{sc.net_usd:+,.0f}",
            f"{sc.unhedged_pct:+.1f}%",
            f"[{style}]{sc.net_pct:+.1f}%[/]" if style else f"{sc.net_pct:+.1f}%",
        )
    console.print(t)


def plan_command(
    portfolio: Path = typer.Argument(
        ..., help="Portfolio TOML file (see examples/portfolio.toml)."
    ),
    prices: Path | None = typer.Option(
        None,
        "--prices",
        help="Folder of price files (CSV/Parquet, one per coin). Default: bundled data.",
    ),
    exchange: str | None = typer.Option(
        None, "--exchange", help="Take prices from this exchange through ccxt and the local cache."
    ),
    as_of: str | None = typer.Option(
        None, "--as-of", help="Value and measure as of this date (YYYY-MM-DD)."
    ),
    funding: str = typer.Option(
        "history", "--funding", "--funding-rate",
        help="history (the funding history at the date, beside the prices or in the cache) "
             "or an assumed rate per 8 h, e.g. 0.0001 = 0.01% (same as backtest --funding).",
    ),
    exclude_bad: bool = typer.Option(
        False,
        "--exclude-bad",
        help="Exclude series with data errors (their beta is assumed) instead of stopping.",
    ),
    sampling: str | None = typer.Option(
        None, "--sampling",
        help="Returns the betas are measured on: 1h (hourly, when the prices have them) or "
             "1d; default: the portfolio file's hedge.sampling.",
    ),
    keep_bar: list[str] | None = typer.Option(
        None, "--keep-bar",
        help="Keep a flagged bar you know is genuine: KIND@TIME or SYMBOL:KIND@TIME "
             "(e.g. AVAX:spike@2022-05-11T12:00); repeatable.",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object and nothing else."),
) -> None:
    """How much BTC/ETH to short, on which contract, with what margin, liquidation and funding.

    Also shows what the hedged portfolio does if BTC jumps −50 … +50 % at once.
    """
    from althedge.config import load_portfolio
    from althedge.data import open_source
    from althedge.services.plan import build_plan

    day = parse_date(as_of, "--as-of")
    today = datetime.now(UTC).date()
    if day is not None and day > today:
        raise InputError(f"--as-of: {day} is in the future (today is {today} UTC); omit "
                         "--as-of for the latest prices")
    funding_rate = _funding_rate(funding)
    cfg = load_portfolio(portfolio)
    if sampling is not None:
        if sampling not in ("1h", "1d"):
            raise InputError(f"sampling: {sampling!r} is not 1h or 1d; e.g. --sampling 1h")
        cfg = cfg.model_copy(update={"hedge": cfg.hedge.model_copy(update={"sampling": sampling})})
    src_path: str | Path | None = prices
    if src_path is None and cfg.hedge.price_source:
        src_path = (portfolio.parent / cfg.hedge.price_source).resolve()
    source = open_source(src_path, exchange=exchange)
    live = None
    if exchange is not None:  # the exchange's own contract specs and margin tiers
        from althedge.services.plan import live_instruments

        live = live_instruments(cfg, source.market_data)
    plan = build_plan(
        cfg, source, day, exclude_bad_series=exclude_bad, funding_rate_8h=funding_rate,
        keep_bars=keep_bar or (), instruments=live,
    )
    if json_out:
        emit_json(plan.to_dict())
    else:
        render_plan(plan)


def _funding_rate(text: str) -> float | None:
    """``--funding``: ``history`` → None (the history decides), or a finite rate per 8 h."""
    if text.strip().lower() == "history":
        return None
    try:
        rate = float(text)
    except ValueError:
        raise InputError(f"--funding: {text!r} is neither 'history' nor a rate per 8 h; e.g. "
                         "--funding 0.0001") from None
    if not math.isfinite(rate) or abs(rate) > 0.05:
        raise InputError(f"--funding: a rate per 8 h must be finite and within ±0.05, got "
                         f"{text}; e.g. --funding 0.0001 (0.01 %)")
    return rate


def demo_command(
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object and nothing else."),
) -> None:
    """Run the plan on the bundled example portfolio and bundled real prices (offline)."""
    from importlib import resources

    from althedge.config import load_portfolio
    from althedge.data import bundled_source
    from althedge.services.plan import build_plan

    ref = resources.files("althedge") / "bundled" / "portfolio.toml"
    with resources.as_file(ref) as path:
        cfg = load_portfolio(path)
    plan = build_plan(cfg, bundled_source())
    if json_out:
        emit_json(plan.to_dict())
        return
    console.print(
        "[dim]Demo: the example portfolio (examples/portfolio.toml) on bundled real prices.\n"
        f"They end on {plan.as_of}: this is the plan as of that day, not today's.\n"
        "(valued at the daily close; betas from hourly returns, sampling = \"1h\").\n"
        "Try: althedge plan examples/portfolio.toml --as-of 2022-06-13 · althedge calc hedge "
        "--value 50000 --beta 1.8 --price 65000 --contract-size 1[/]"
    )
    render_plan(plan)


def register(root: typer.Typer) -> None:
    """Attach `plan` and `demo` to the root app."""
    root.command("plan")(plan_command)
    root.command("demo")(demo_command)
