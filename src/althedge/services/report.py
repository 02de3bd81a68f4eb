"""Backtest report: one self-contained HTML page (plotly, embedded) and PNG charts.

``write_html_report(result, path)`` writes a single page with plotly.js inlined
(``include_plotlyjs=True``: no CDN, no network) showing, for every policy: equity
hedged vs unhedged, drawdowns, the hedge ratio over time against the measured
rolling beta and its ±2·se band (so the seed's static 1.8 can be seen against what
was measured), the hedge size and its rebalances, cumulative funding and fees, and the
comparison table ranked by the chosen objective, the investor's figures (final value,
return, capital committed, margin tied up, drawdown on capital committed, time hedged,
switches), the explanation when holdings + hedge PnL touched zero, and the crash
episodes. ``write_png_charts(result, folder)`` draws the same charts with
matplotlib (Agg backend) for pasting elsewhere. Files are written atomically
through :mod:`althedge.files` (temporary file in the same folder, then ``os.replace``;
an unwritable path is a one-line ``OutputError``).
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

import numpy as np

from althedge.errors import InputError
from althedge.files import atomic_write_bytes, check_targets, format_number
from althedge.services.backtest import BacktestResult

__all__ = ["comparison_rows", "write_html_report", "write_png_charts"]

_COLUMNS: list[tuple[str, str, str]] = [
    ("score", "score (ranking objective)", "{:.3f}"),
    ("final_value_hedged_usd", "final value USD (holdings + hedge PnL)", "{:,.0f}"),
    ("return_hedged_pct", "total return %", "{:+,.0f}"),
    ("capital_committed_usd", "capital committed USD (portfolio + margin deposits)", "{:,.0f}"),
    ("return_on_capital_committed_pct", "return on capital committed %", "{:+,.0f}"),
    ("margin_peak_usd", "margin tied up, peak USD", "{:,.0f}"),
    ("margin_avg_usd", "margin tied up, average USD", "{:,.0f}"),
    ("max_drawdown_hedged_committed", "max DD on capital committed", "{:.1%}"),
    ("drawdown_avoided_per_return_given_up", "DD avoided per point of return given up",
     "{:.2f}"),
    ("time_hedged_pct", "time hedged %", "{:.0f}"),
    ("hedge_switches", "hedge on/off switches", "{:d}"),
    ("hedge_effectiveness", "hedge effectiveness (variance reduction)", "{:.1%}"),
    ("vol_unhedged", "vol unhedged", "{:.1%}"),
    ("vol_hedged", "vol hedged", "{:.1%}"),
    ("max_drawdown_unhedged", "max DD unhedged", "{:.1%}"),
    ("max_drawdown_hedged", "max DD holdings + hedge PnL", "{:.1%}"),
    ("worst_weeks_return_unhedged", "worst 5% BTC weeks, unhedged", "{:.1%}"),
    ("worst_weeks_return_hedged", "worst 5% BTC weeks, hedged", "{:.1%}"),
    ("funding_received_usd", "funding received USD (+ earned)", "{:,.0f}"),
    ("fees_paid_usd", "fees paid USD", "{:,.0f}"),
    ("slippage_paid_usd", "slippage paid USD", "{:,.0f}"),
    ("cost_per_year_usd", "net cost / year USD", "{:,.0f}"),
    ("turnover_per_year", "turnover / year (×V)", "{:.1f}"),
    ("rebalances", "rebalances", "{:d}"),
    ("margin_calls", "margin calls", "{:d}"),
    ("liquidations", "liquidations", "{:d}"),
    ("min_rally_to_liquidation_pct", "closest to liquidation (rally %)", "{:.1f}"),
]


def _fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    try:  # every spec is "{:…}": never a negative zero (files.format_number)
        return format_number(value, spec[2:-1])
    except (ValueError, TypeError):
        return str(value)


def comparison_rows(result: BacktestResult) -> list[list[str]]:
    """Rows of the comparison table: rank, policy, then the formatted metrics."""
    rows = []
    for p in result.policies:
        name = p.name + (f" (= {p.spec.resolved_from})" if p.spec.resolved_from else "")
        values = {**p.metrics.to_dict(), "score": p.score}
        rows.append([str(p.rank), name, *[_fmt(values.get(k), f) for k, _, f in _COLUMNS]])
    return rows


def _drawdown(equity: np.ndarray) -> np.ndarray:
    e = np.maximum(np.asarray(equity, dtype=float), 1e-9)
    return e / np.maximum.accumulate(e) - 1.0


def _figures(result: BacktestResult) -> list[tuple[str, Any]]:
    import plotly.graph_objects as go

    first = result.policies[0].series
    x = first.index
    figs: list[tuple[str, Any]] = []

    eq = go.Figure()
    eq.add_trace(go.Scatter(x=x, y=first["value_usd"], name="unhedged", line={"color": "black"}))
    for p in result.policies:
        if p.spec.kind == "none":
            continue
        eq.add_trace(go.Scatter(x=x, y=p.series["equity_hedged_usd"], name=f"hedged: {p.name}"))
    eq.update_layout(title="Portfolio value, hedged vs unhedged (USD)", yaxis_title="USD")
    figs.append(("equity", eq))

    dd = go.Figure()
    dd.add_trace(go.Scatter(x=x, y=_drawdown(first["value_usd"].to_numpy()), name="unhedged",
                            line={"color": "black"}))
    for p in result.policies:
        if p.spec.kind == "none":
            continue
        dd.add_trace(go.Scatter(x=x, y=_drawdown(p.series["committed_hedged_usd"].to_numpy()),
                                name=f"hedged: {p.name}"))
    dd.update_layout(title="Drawdown from the running peak (hedged: on capital committed)",
                     yaxis_tickformat=".0%")
    figs.append(("drawdown", dd))

    be = go.Figure()
    mb = result.measured_beta
    band = 2.0 * mb["std_error"]
    be.add_trace(go.Scatter(x=mb.index, y=mb["beta"] + band, line={"width": 0},
                            showlegend=False, hoverinfo="skip"))
    be.add_trace(go.Scatter(x=mb.index, y=mb["beta"] - band, fill="tonexty", line={"width": 0},
                            fillcolor="rgba(100,100,200,0.2)",
                            name="measured β ± 2 se (rolling OLS)"))
    be.add_trace(go.Scatter(x=mb.index, y=mb["beta"], name="measured β (rolling OLS)",
                            line={"color": "rgb(60,60,160)"}))
    for p in result.policies:
        for col in [c for c in p.series.columns if c.startswith("beta_") and c != "beta_std_error"]:
            be.add_trace(go.Scatter(x=x, y=p.series[col], name=f"{p.name} {col[5:]}",
                                    line={"dash": "dot"}))
    be.update_layout(title=f"Hedge ratio used vs measured beta to {result.hedge_asset}",
                     yaxis_title="β")
    figs.append(("beta", be))

    hs = go.Figure()
    for p in result.policies:
        if p.spec.kind == "none":
            continue
        cols = [c for c in p.series.columns if c.startswith("hedged_notional_usd_")]
        total = p.series[cols].sum(axis=1)
        hs.add_trace(go.Scatter(x=x, y=total, name=f"{p.name}", line={"shape": "hv"}))
        reb = p.series["rebalanced"].to_numpy(dtype=bool)
        hs.add_trace(go.Scatter(x=x[reb], y=total[reb], mode="markers", marker={"size": 4},
                                name=f"{p.name} rebalances", showlegend=False))
    hs.update_layout(title="Hedge size (USD delta shorted) and rebalances", yaxis_title="USD")
    figs.append(("hedge_size", hs))

    co = go.Figure()
    for p in result.policies:
        if p.spec.kind == "none":
            continue
        co.add_trace(go.Scatter(x=x, y=p.series["funding_received_usd"].cumsum(),
                                name=f"{p.name} funding received (+ earned / − paid)"))
        co.add_trace(go.Scatter(x=x, y=(p.series["fees_usd"] + p.series["slippage_usd"]).cumsum(),
                                name=f"{p.name} fees + slippage", line={"dash": "dash"}))
    co.update_layout(title="Cumulative funding and trading costs (USD)", yaxis_title="USD")
    figs.append(("costs", co))
    for _, f in figs:
        f.update_layout(template="plotly_white", height=420, margin={"l": 60, "r": 20, "t": 50,
                                                                    "b": 40})
    return figs


def _table_html(result: BacktestResult) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in ["rank", "policy",
                                                          *[c[1] for c in _COLUMNS]])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
        for row in comparison_rows(result)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _yearly_costs_html(result: BacktestResult) -> str:
    """Funding / fees / slippage by calendar year for every hedged policy (USD)."""
    rows = []
    for p in result.policies:
        if p.spec.kind == "none":
            continue
        for year, c in sorted(p.metrics.get("costs_by_year", {}).items()):
            cells = [p.name, year] + [
                _fmt(c.get(k), "{:,.0f}")
                for k in ("funding_received_usd", "fees_paid_usd", "slippage_paid_usd",
                          "net_paid_usd")
            ]
            rows.append("<tr>" + "".join(f"<td>{html.escape(x)}</td>" for x in cells) + "</tr>")
    head = "".join(f"<th>{h}</th>" for h in ("policy", "year", "funding received USD",
                                             "fees paid USD", "slippage paid USD",
                                             "net cost paid USD"))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


_OBJECTIVES = {
    "variance": "variance reduction (hedge effectiveness 1 − Var(hedged)/Var(unhedged))",
    "drawdown": "max drawdown on capital committed (shallowest first)",
    "return-per-drawdown": "annual return per unit of max drawdown, on capital committed "
                           "(a losing hedge ranks below every winning one)",
    "utility": "utility μ − A·σ²/2 of the annualised returns on capital committed",
}


def _objective_text(rank_by: str) -> str:
    kind, _, arg = rank_by.partition(":")
    text = _OBJECTIVES.get(kind, rank_by)
    return text.replace("A·", f"{arg}·") if arg else text


def _zero_equity_html(result: BacktestResult) -> str:
    """The explanation the page owes when holdings + hedge PnL touched zero."""
    hit = [(p.name, p.metrics.equity_touches_zero_on) for p in result.policies
           if p.metrics.equity_touches_zero_on]
    if not hit:
        return ""
    items = "".join(f"<li>{html.escape(n)}: on {html.escape(str(d))}</li>" for n, d in hit)
    return (
        "<h3>Why some drawdowns would read −100 %</h3><p>The short lost more than the "
        "holdings were worth: holdings + hedge PnL reached zero and the margin account was "
        "refilled by deposits. On that basis the drawdown is −100 % (column \"max DD "
        "holdings + hedge PnL\"); the ranking and \"max DD on capital committed\" count "
        "the deposits as capital instead. A permanent hedge in a bull market does this.</p>"
        f"<ul>{items}</ul>"
    )


def _episodes_html(result: BacktestResult) -> str:
    """Named crash episodes: BTC's fall, the unhedged loss, each hedge's (%)."""
    if not result.episodes:
        return "<p class=\"muted\">No fall of 15 % or more from a 14-day high in the span.</p>"
    names = [p.name for p in result.policies]
    head = "".join(f"<th>{html.escape(h)}</th>" for h in
                   ["episode", "peak → trough", f"{result.hedge_asset} %", "unhedged %",
                    *names])
    rows = []
    for e in result.episodes:
        cells = [e.name, f"{e.peak} → {e.trough}", f"{e.hedge_asset_drop_pct:z.0f}",
                 f"{e.unhedged_loss_pct:z.0f}"]
        cells += [f"{e.losses_pct[n]:z.0f}" + ("" if e.hedged_at_start[n] else " (off)")
                  for n in names]
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    note = ("<p class=\"muted\">Falls of 15 % or more of the hedge asset from a 14-day high, "
            "found in the data and named where a known date falls inside. Portfolio change "
            "peak → trough with each hedge's PnL, % of the holdings at the peak; (off) = no "
            "short on when the fall began.</p>")
    return (f"{note}<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}"
            "</tbody></table>")


def write_html_report(result: BacktestResult, path: str | Path) -> Path:
    """Write the self-contained HTML report (plotly.js inlined once; no network)."""
    out = Path(path)
    if out.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"report: {out.name!r} should end in .html; e.g. --report backtest.html")
    parts = []
    for i, (name, fig) in enumerate(_figures(result)):
        parts.append(
            f'<section id="{name}">'
            + fig.to_html(full_html=False, include_plotlyjs=(i == 0), div_id=f"fig-{name}")
            + "</section>"
        )
    warn = "".join(f"<li>{html.escape(w)}</li>" for w in result.warnings)
    notes = "".join(
        f"<li>{html.escape(p.name)}: {html.escape(n)}</li>"
        for p in result.policies
        for n in p.notes
    )
    s = result.settings
    settings_line = html.escape(
        f"{result.instrument} · rebalance {s.get('rebalance')} · fees {s.get('fee_rate')} · "
        f"slippage {s.get('slippage_bps')} bps · funding {s.get('funding')} · rounding "
        f"{s.get('rounding')} · leverage {s.get('leverage')}x · window {s.get('window')} bars"
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>althedge backtest — {html.escape(result.portfolio_name)}</title>
<style>
body{{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222}}
table{{border-collapse:collapse;font-size:13px}} th,td{{border:1px solid #ccc;padding:4px 8px;
text-align:right}} th{{background:#f3f3f3}} td:nth-child(2){{text-align:left}}
.muted{{color:#666;font-size:13px}}
</style></head><body>
<h1>Backtest: {html.escape(result.portfolio_name)}</h1>
<p class="muted">Out-of-sample span {html.escape(result.start)} → {html.escape(result.end)}
({result.bars} {html.escape(result.timeframe)} bars), hedged with {settings_line}.
Hedge ratios decided at each close from data up to that close only; a trigger
("POLICY when TRIGGER") switches the hedge on and off (docs/backtest.md).</p>
<h2>Comparison — ranked by {html.escape(_objective_text(result.rank_by))}</h2>
<p class="muted">Final value = holdings + the hedge's PnL (margin deposits are capital
handed back, not profit). Capital committed = the starting portfolio + every margin
deposit. Max DD on capital committed counts the deposits as cash set aside from the
start. Funding received: + earned by the short, − paid. Worst 5% BTC weeks: the
portfolio's compounded return over the 5 % of calendar weeks in which BTC did worst.</p>
{_table_html(result)}
{_zero_equity_html(result)}
<h2>Crash episodes</h2>
{_episodes_html(result)}
{"<h3>Notes</h3><ul>" + notes + "</ul>" if notes else ""}
<h2>Costs by year</h2>
<p class="muted">Funding received: + earned by the short, − paid; net cost = fees +
slippage − funding received.</p>
{_yearly_costs_html(result)}
{"<h3>Data and assumptions</h3><ul>" + warn + "</ul>" if warn else ""}
{"".join(parts)}
</body></html>
"""
    atomic_write_bytes(out, page.encode("utf-8"), "--report")
    return out


def write_png_charts(result: BacktestResult, folder: str | Path) -> list[Path]:
    """Write equity, drawdown, beta, hedge size and cost charts as PNG (matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import io

    import matplotlib.pyplot as plt

    out_dir = Path(folder)
    check_targets([("--png", out_dir, True)])
    written: list[Path] = []
    drawn: list[tuple[Path, bytes]] = []  # every chart is drawn before any file is written
    first = result.policies[0].series
    x = first.index
    hedged = [p for p in result.policies if p.spec.kind != "none"]

    def save(fig: Any, name: str) -> None:
        buf = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buf, format="png", dpi=110)
        plt.close(fig)
        drawn.append((out_dir / f"{name}.png", buf.getvalue()))

    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.plot(x, first["value_usd"], color="black", label="unhedged")
    for p in hedged:
        ax.plot(x, p.series["equity_hedged_usd"], label=f"hedged: {p.name}", lw=1)
    ax.set_title("Portfolio value, hedged vs unhedged (USD)")
    ax.legend(fontsize=7)
    save(fig, "equity")

    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.plot(x, _drawdown(first["value_usd"].to_numpy()), color="black", label="unhedged")
    for p in hedged:
        ax.plot(x, _drawdown(p.series["committed_hedged_usd"].to_numpy()), label=p.name, lw=1)
    ax.set_title("Drawdown from the running peak")
    ax.legend(fontsize=7)
    save(fig, "drawdown")

    fig, ax = plt.subplots(figsize=(10, 4.5))
    mb = result.measured_beta
    ax.fill_between(mb.index, mb["beta"] - 2 * mb["std_error"], mb["beta"] + 2 * mb["std_error"],
                    alpha=0.2, label="measured β ± 2 se")
    ax.plot(mb.index, mb["beta"], label="measured β (rolling OLS)")
    for p in result.policies:
        for col in [c for c in p.series.columns if c.startswith("beta_") and c != "beta_std_error"]:
            ax.plot(x, p.series[col], ls=":", lw=1, label=f"{p.name} {col[5:]}")
    ax.set_title(f"Hedge ratio used vs measured beta to {result.hedge_asset}")
    ax.legend(fontsize=7)
    save(fig, "beta")

    fig, ax = plt.subplots(figsize=(10, 4.5))
    for p in hedged:
        cols = [c for c in p.series.columns if c.startswith("hedged_notional_usd_")]
        total = p.series[cols].sum(axis=1)
        ax.step(x, total, where="post", lw=1, label=p.name)
        reb = p.series["rebalanced"].to_numpy(dtype=bool)
        ax.plot(x[reb], total[reb], ".", ms=2)
    ax.set_title("Hedge size (USD delta shorted) and rebalances")
    ax.legend(fontsize=7)
    save(fig, "hedge_size")

    fig, ax = plt.subplots(figsize=(10, 4.5))
    for p in hedged:
        ax.plot(x, p.series["funding_received_usd"].cumsum(), lw=1,
                label=f"{p.name} funding received")
        ax.plot(x, (p.series["fees_usd"] + p.series["slippage_usd"]).cumsum(), ls="--", lw=1,
                label=f"{p.name} fees + slippage")
    ax.set_title("Cumulative funding (+ paid / − earned) and trading costs (USD)")
    ax.legend(fontsize=7)
    save(fig, "costs")
    for target, data in drawn:
        written.append(atomic_write_bytes(target, data, "--png"))
    return written
