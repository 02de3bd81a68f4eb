"""What a sweep says: the ranking per period with bootstrap confidence intervals across
portfolios, and the walk-forward choice with its out-of-sample result.

For each period and settings combination, every compared hedge's mean ``metric`` over the
portfolios (the runs with status ``ok``; a portfolio counts only if every compared hedge
ran on it, so all hedges are judged on the same portfolios). The uncertainty is a
**paired bootstrap over portfolios**: ``bootstrap`` resamples of the portfolios with
replacement, the same resample for every hedge; the interval is the resampled means'
central ``confidence`` range (percentile method, Efron & Tibshirani, *An Introduction to
the Bootstrap*, 1993, ch. 13) and ``p_best`` is the share of resamples in which the hedge
has the best mean — "how sure are we that it is first".

Walk-forward: for a period that ``confirms`` another, the hedge with the best mean in the
choosing period is looked up in the confirming one: its mean there, its interval and its
place among the compared hedges (the choice is made per settings combination, since a
run's rank is only comparable within its own combination).

``write_summary_html`` writes one self-contained page (plotly.js inlined, no network).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from althedge.errors import InputError

__all__ = [
    "LOWER_IS_BETTER",
    "Ranking",
    "RankingRow",
    "SweepSummary",
    "WalkForward",
    "bootstrap_means",
    "summarise",
    "write_summary_html",
]

#: Metrics where smaller is better (everything else: larger is better; drawdowns and
#: crash losses are negative numbers, so larger = shallower).
LOWER_IS_BETTER = frozenset({
    "rank", "vol_hedged", "cost_per_year_usd", "cost_pct_of_value_per_year",
    "cost_net_paid_usd", "fees_paid_usd", "slippage_paid_usd", "turnover_usd",
    "turnover_per_year", "margin_peak_usd", "margin_avg_usd", "margin_calls", "liquidations",
    "liquidation_loss_usd", "return_given_up_pct", "capital_committed_usd",
    "collateral_deposited_usd", "rebalances", "hedge_switches",
})


@dataclass(frozen=True)
class RankingRow:
    """One compared hedge in one period and settings combination."""

    policy: str
    portfolios: int
    mean: float
    ci_low: float
    ci_high: float
    p_best: float
    mean_rank: float
    median_kept_pct: float
    mean_max_drawdown_committed: float
    mean_hedge_effectiveness: float
    mean_crash_loss_pct: float
    mean_time_hedged_pct: float


@dataclass(frozen=True)
class Ranking:
    """The compared hedges of one period × settings combination, best first."""

    period: str
    combo_label: str
    metric: str
    higher_is_better: bool
    rows: list[RankingRow]
    runs_ok: int
    runs_failed: int
    portfolios_dropped: int  # with at least one failed run (left out of every mean)

    @property
    def best(self) -> RankingRow | None:
        return self.rows[0] if self.rows else None


@dataclass(frozen=True)
class WalkForward:
    """The hedge chosen on one period and how it did on the period that confirms it."""

    combo_label: str
    choose_period: str
    confirm_period: str
    chosen: str
    chosen_mean: float
    confirm_mean: float
    confirm_ci_low: float
    confirm_ci_high: float
    confirm_place: int  # 1 = best in the confirming period
    confirm_of: int  # hedges compared there
    confirm_best: str


@dataclass(frozen=True)
class SweepSummary:
    """Rankings and walk-forward results of a sweep."""

    metric: str
    higher_is_better: bool
    confidence: float
    bootstrap: int
    rankings: list[Ranking]
    walk_forward: list[WalkForward] = field(default_factory=list)
    runs: int = 0
    failed: int = 0  # status "error"
    no_data: int = 0  # status "no-data" (e.g. a coin listed after the period starts)
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["rankings"] = [{**{k: v for k, v in asdict(r).items() if k != "rows"},
                            "rows": [asdict(x) for x in r.rows]} for r in self.rankings]
        return out

    def to_frame(self) -> pd.DataFrame:
        """Every ranking row with its period and settings combination (for a notebook)."""
        rows = [{"period": r.period, "combo_label": r.combo_label, "place": i + 1, **asdict(x)}
                for r in self.rankings for i, x in enumerate(r.rows)]
        return pd.DataFrame(rows)


def bootstrap_means(
    values: np.ndarray, resamples: int, confidence: float, seed: int = 0,
    higher_is_better: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Paired bootstrap of column means of ``values`` (portfolios × hedges).

    Returns (low, high, p_best): the percentile interval of each column's mean and the
    share of resamples in which each column's mean is the best. With fewer than two
    portfolios or no resamples the interval is the mean itself and p_best is 1 for the
    best column.
    """
    n, k = values.shape
    mean = values.mean(axis=0)
    if n < 2 or resamples <= 0:
        best = np.zeros(k)
        if k:
            best[int(np.argmax(mean) if higher_is_better else np.argmin(mean))] = 1.0
        return mean.copy(), mean.copy(), best
    rng = np.random.default_rng(seed)
    means = np.empty((resamples, k))
    chunk = max(1, 4_000_000 // max(n * k, 1))
    for lo in range(0, resamples, chunk):
        hi = min(resamples, lo + chunk)
        idx = rng.integers(0, n, size=(hi - lo, n))
        means[lo:hi] = values[idx].mean(axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha], axis=0)
    winner = np.argmax(means, axis=1) if higher_is_better else np.argmin(means, axis=1)
    p_best = np.bincount(winner, minlength=k) / resamples
    return low, high, p_best


def _nanmean(s: pd.Series) -> float:
    v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else math.nan


def _ranking(
    runs: pd.DataFrame, period: str, combo: str, metric: str, higher: bool,
    resamples: int, confidence: float, seed: int,
) -> Ranking:
    sub = runs[(runs["period"] == period) & (runs["combo_label"] == combo)]
    ok = sub[sub["status"] == "ok"]
    order = list(dict.fromkeys(ok["policy"]))
    vals = ok.pivot_table(index="portfolio", columns="policy", values=metric, aggfunc="first")
    vals = vals.reindex(columns=order)
    complete = vals.replace([np.inf, -np.inf], np.nan).dropna()
    dropped = int(sub["portfolio"].nunique() - len(complete))
    if complete.empty:
        return Ranking(period, combo, metric, higher, [], len(ok), len(sub) - len(ok), dropped)
    m = complete.to_numpy(dtype=float)
    low, high, p_best = bootstrap_means(m, resamples, confidence, seed, higher)
    keep = ok[ok["portfolio"].isin(complete.index)]
    rows = []
    for j, pol in enumerate(order):
        these = keep[keep["policy"] == pol]
        kept = pd.to_numeric(these["kept_pct"], errors="coerce").dropna()
        rows.append(RankingRow(
            policy=pol, portfolios=len(complete), mean=float(m[:, j].mean()),
            ci_low=float(low[j]), ci_high=float(high[j]), p_best=float(p_best[j]),
            mean_rank=_nanmean(these["rank"]),
            median_kept_pct=float(kept.median()) if len(kept) else math.nan,
            mean_max_drawdown_committed=_nanmean(these["max_drawdown_hedged_committed"]),
            mean_hedge_effectiveness=_nanmean(these["hedge_effectiveness"]),
            mean_crash_loss_pct=_nanmean(these["crash_loss_pct"]),
            mean_time_hedged_pct=_nanmean(these["time_hedged_pct"]),
        ))
    rows.sort(key=lambda r: (-r.mean if higher else r.mean, r.policy))
    return Ranking(period, combo, metric, higher, rows, len(ok), len(sub) - len(ok), dropped)


def summarise(
    runs: pd.DataFrame,
    metric: str = "rank",
    *,
    confirms: Sequence[tuple[str, str]] = (),
    bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> SweepSummary:
    """Rank the compared hedges per period and settings combination (bootstrap intervals
    across portfolios) and follow each walk-forward choice (``confirms``: pairs
    (choosing period, confirming period))."""
    if metric not in runs.columns:
        raise InputError(f"metric: {metric!r} is not a column of the sweep's runs; use rank, "
                         "score, hedge_effectiveness, kept_pct, …")
    higher = metric not in LOWER_IS_BETTER
    rankings = []
    periods = list(dict.fromkeys(runs["period"]))
    combos = list(dict.fromkeys(runs["combo_label"]))
    for p in periods:
        for c in combos:
            if ((runs["period"] == p) & (runs["combo_label"] == c)).any():
                rankings.append(_ranking(runs, p, c, metric, higher, bootstrap, confidence,
                                         seed))
    by_key = {(r.period, r.combo_label): r for r in rankings}
    wf = []
    for choose, confirm in confirms:
        for c in combos:
            a, b = by_key.get((choose, c)), by_key.get((confirm, c))
            if a is None or b is None or a.best is None or not b.rows:
                continue
            place = next((i for i, r in enumerate(b.rows) if r.policy == a.best.policy), None)
            if place is None:
                continue
            row = b.rows[place]
            wf.append(WalkForward(c, choose, confirm, a.best.policy, a.best.mean, row.mean,
                                  row.ci_low, row.ci_high, place + 1, len(b.rows),
                                  b.rows[0].policy))
    failed = runs[runs["status"] != "ok"]
    errors = list(dict.fromkeys(
        f"{r.portfolio} / {r.period}: {r.error}" for r in failed.itertuples()))[:20]
    no_data = int((runs["status"] == "no-data").sum())
    return SweepSummary(metric, higher, confidence, bootstrap, rankings, wf, len(runs),
                        len(failed) - no_data, no_data, errors)


# ----------------------------------------------------------------------------- HTML page


def _fmt(x: float, spec: str = ".3g") -> str:
    return "—" if x is None or not math.isfinite(x) else format(x, spec)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def ranking_table_rows(r: Ranking) -> list[list[str]]:
    """Formatted rows of one ranking (shared by the CLI and the HTML page)."""
    return [[str(i + 1), x.policy, _fmt(x.mean), f"{_fmt(x.ci_low)}…{_fmt(x.ci_high)}",
             f"{100 * x.p_best:.0f} %", _fmt(x.mean_rank, ".1f"),
             _fmt(x.median_kept_pct, ".0f"), _fmt(100 * x.mean_max_drawdown_committed, ".0f"),
             _fmt(x.mean_hedge_effectiveness, ".2f"), _fmt(x.mean_crash_loss_pct, ".1f"),
             _fmt(x.mean_time_hedged_pct, ".0f"), str(x.portfolios)]
            for i, x in enumerate(r.rows)]


RANKING_HEADERS = ["#", "hedge", "mean", "interval", "P(best)", "mean rank", "kept % (median)",
                   "max DD %", "HE", "crash loss %", "hedged %", "portfolios"]


def write_summary_html(summary: SweepSummary, path: str | Path, title: str = "sweep") -> Path:
    """One self-contained HTML page: a chart and a table per ranking, the walk-forward."""
    import plotly.graph_objects as go

    parts: list[str] = []
    first = True
    ci = f"{100 * summary.confidence:.0f} %"
    direction = "higher is better" if summary.higher_is_better else "lower is better"
    for r in summary.rankings:
        if not r.rows:
            parts.append(f"<h2>{html.escape(r.period)} · {html.escape(r.combo_label)}</h2>"
                         f"<p>No complete portfolio ({r.runs_failed} runs did not run).</p>")
            continue
        rows = list(reversed(r.rows))
        fig = go.Figure(go.Bar(
            x=[x.mean for x in rows], y=[x.policy for x in rows], orientation="h",
            error_x={"type": "data", "symmetric": False,
                     "array": [x.ci_high - x.mean for x in rows],
                     "arrayminus": [x.mean - x.ci_low for x in rows]},
            hovertext=[f"P(best) {100 * x.p_best:.0f} %" for x in rows],
        ))
        fig.update_layout(
            title=f"{r.period} · {r.combo_label}: mean {r.metric} over {r.rows[0].portfolios} "
                  f"portfolios, {ci} bootstrap interval ({direction})",
            template="plotly_white", height=160 + 28 * len(rows),
            margin={"l": 260, "r": 20, "t": 60, "b": 40})
        parts.append(f"<h2>{html.escape(r.period)} · {html.escape(r.combo_label)}</h2>")
        parts.append(fig.to_html(full_html=False, include_plotlyjs=first))
        first = False
        parts.append(_table(RANKING_HEADERS, ranking_table_rows(r)))
        if r.runs_failed:
            parts.append(f"<p>{r.runs_failed} runs did not run (no data or an error); "
                         f"{r.portfolios_dropped} portfolios left out of every mean.</p>")
    if summary.walk_forward:
        parts.append("<h2>Walk-forward: chosen on one period, judged on the next</h2>")
        wf = summary.walk_forward
        fig = go.Figure()
        fig.add_trace(go.Scatter(
            x=[w.chosen_mean for w in wf], y=[w.confirm_mean for w in wf], mode="markers+text",
            text=[f"{w.chosen} ({w.combo_label})" for w in wf], textposition="top center",
            error_y={"type": "data", "symmetric": False,
                     "array": [w.confirm_ci_high - w.confirm_mean for w in wf],
                     "arrayminus": [w.confirm_mean - w.confirm_ci_low for w in wf]}))
        fig.update_layout(template="plotly_white", height=420,
                          xaxis_title=f"mean {summary.metric} where chosen",
                          yaxis_title=f"mean {summary.metric} out of sample")
        parts.append(fig.to_html(full_html=False, include_plotlyjs=first))
        parts.append(_table(
            ["settings", "chosen on", "chosen", "mean there", "confirmed on", "mean",
             f"{ci} CI", "place", "best there"],
            [[w.combo_label, w.choose_period, w.chosen, _fmt(w.chosen_mean), w.confirm_period,
              _fmt(w.confirm_mean), f"{_fmt(w.confirm_ci_low)} … {_fmt(w.confirm_ci_high)}",
              f"{w.confirm_place} of {w.confirm_of}", w.confirm_best] for w in wf]))
    if summary.errors:
        parts.append("<h2>Runs that did not run</h2><ul>" + "".join(
            f"<li>{html.escape(e)}</li>" for e in summary.errors) + "</ul>")
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>{html.escape(title)}</title><style>
body{{font-family:system-ui,sans-serif;margin:24px;max-width:1200px}}
table{{border-collapse:collapse;margin:8px 0 24px}}
td,th{{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}}
td:nth-child(2),th:nth-child(2){{text-align:left}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{summary.runs} runs ({summary.no_data} without data, {summary.failed} failed).
Ranked by mean <b>{html.escape(summary.metric)}</b> across portfolios ({direction});
intervals: paired bootstrap over portfolios, {summary.bootstrap} resamples, {ci};
P(best) = share of resamples in which the hedge's mean is the best.</p>
{''.join(parts)}</body></html>"""
    from althedge.files import atomic_write_text

    return atomic_write_text(Path(path), page, "--out")
