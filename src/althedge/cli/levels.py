"""`althedge levels`: the hedge asset's volume profile and where to place the limit orders."""

from __future__ import annotations

import math
from pathlib import Path

import typer

from althedge.cli.common import compact_table, console, emit_json, err_console, parse_date
from althedge.services.levels import (
    DEFAULT_BINS,
    DEFAULT_DAYS,
    DEFAULT_MAX_ATR,
    DEFAULT_VALUE_AREA_PCT,
    LevelsReport,
)


def _f(x: float | None, spec: str = ",.2f") -> str:
    return "—" if x is None or not math.isfinite(x) else format(x, spec)


def render_levels(r: LevelsReport) -> None:
    """The report as a person reads it: the levels table, then the two suggestions."""
    console.print(
        f"[bold]{r.asset}[/] volume profile · {r.days} days of {r.timeframe} bars "
        f"({r.bars}) to {r.window_end[:16]} · {r.source}"
    )
    t = compact_table(f"price {_f(r.price_usd)} USD · ATR({r.atr_period}, {r.timeframe}) "
                      f"{_f(r.atr_usd)} USD · price is {r.price_vs_value_area} the value area")
    for col in ("level", "USD", "vs price", "ATRs"):
        t.add_column(col, justify="left" if col == "level" else "right", no_wrap=True)
    rows: list[tuple[str, float]] = [
        (f"value-area high ({r.value_area_pct:g} %)", r.value_area_high_usd),
        ("point of control", r.poc_usd),
        (f"value-area low ({r.value_area_pct:g} %)", r.value_area_low_usd),
    ]
    rows += [("high-volume node", p) for p in r.hvn_usd]
    rows += [("low-volume node", p) for p in r.lvn_usd]
    rows.sort(key=lambda kv: -kv[1])
    for name, price in rows:
        atrs = abs(price - r.price_usd) / r.atr_usd if r.atr_usd > 0 else math.nan
        t.add_row(name, _f(price), f"{100 * (price / r.price_usd - 1):+.2f}%", _f(atrs, ".1f"))
    console.print(t)
    for label, lvl, side in (("short entry: SELL limit at", r.short_entry, "above"),
                             ("de-hedge buy-back: BUY limit at", r.buy_back, "below")):
        if lvl is None:
            console.print(f"{label} — no level {side} within {r.max_distance_atr:g} ATR "
                          "(use a market or near-mark limit order)")
        else:
            console.print(
                f"{label} [bold]{_f(lvl['price_usd'])}[/] USD ({lvl['kind'].upper()}, "
                f"{lvl['distance_pct']:+.2f}%, {lvl['distance_atr']:.1f} ATR)"
            )
    console.print("[dim]Use them with: althedge hedge open PORTFOLIO --limit-at vah|poc|hvn|PRICE "
                  "· evidence: docs/levels.md[/]")
    for w in r.warnings:
        err_console.print(f"[yellow]warning:[/] {w}", soft_wrap=True)


def levels_command(
    asset: str = typer.Argument("BTC", help="Hedge asset: BTC or ETH (any asset with OHLCV)."),
    days: int = typer.Option(DEFAULT_DAYS, "--days", help="Window length in days."),
    timeframe: str | None = typer.Option(
        None, "--timeframe", help="1h or 1d bars (default: 1h when they carry volume, else 1d)."
    ),
    bins: int = typer.Option(DEFAULT_BINS, "--bins", help="Price bins of the profile."),
    value_area: float = typer.Option(
        DEFAULT_VALUE_AREA_PCT, "--value-area", help="Share of volume in the value area, %."
    ),
    max_atr: float = typer.Option(
        DEFAULT_MAX_ATR, "--max-atr", help="Suggest levels at most this many ATRs from the price."
    ),
    as_of: str | None = typer.Option(
        None, "--as-of", help="Use bars up to the end of this date (YYYY-MM-DD)."
    ),
    prices: Path | None = typer.Option(
        None, "--prices", help="Folder of OHLCV files (default: bundled data)."
    ),
    exchange: str | None = typer.Option(
        None, "--exchange", help="Take OHLCV from this exchange through ccxt and the cache."
    ),
    html: Path | None = typer.Option(None, "--html", help="Write the chart as a self-contained "
                                     "HTML page (plotly inlined, no network)."),
    png: Path | None = typer.Option(None, "--png", help="Write the chart as a PNG image."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object and nothing else."),
) -> None:
    """Volume profile of the hedge asset: point of control, value area, high/low-volume nodes,
    ATR, and suggested limit prices for the short entry (resistance) and the buy-back (support).
    """
    from althedge.data import open_source
    from althedge.services.levels import build_levels, write_levels_html, write_levels_png

    source = open_source(prices, exchange=exchange)
    report = build_levels(
        source, asset, days=days, timeframe=timeframe, bins=bins, value_area_pct=value_area,
        max_distance_atr=max_atr, as_of=parse_date(as_of, "--as-of"),
    )
    written = []
    if html is not None:
        written.append(write_levels_html(report, html))
    if png is not None:
        written.append(write_levels_png(report, png))
    if json_out:
        emit_json(report.to_dict())
    else:
        render_levels(report)
    for path in written:
        err_console.print(f"wrote {path}")


def register(root: typer.Typer) -> None:
    """Attach `levels` to the root app."""
    root.command("levels")(levels_command)
