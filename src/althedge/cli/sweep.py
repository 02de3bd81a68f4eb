"""`althedge sweep`: many backtests (portfolios × hedges × settings × periods) on Dask."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from althedge.cli.common import (
    compact_table,
    console,
    emit_json,
    err_console,
    new_console,
    real_console,
)


class _SweepBar:
    """Runs done / total, runs per second and ETA on stderr (hidden with --json)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Progress | None = None
        self.task: Any = None
        self.shown_dashboard = False

    def __call__(self, p: Any) -> None:
        if p.dashboard and not self.shown_dashboard:
            err_console.print(f"dask dashboard: {p.dashboard}")
            self.shown_dashboard = True
        if not self.enabled:
            return
        if self.bar is None:
            if p.runs_resumed:
                err_console.print(f"resuming: {p.runs_resumed} of {p.runs_total} runs already "
                                  "done")
            self.bar = Progress(
                TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TextColumn("runs"),
                TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"),
                TimeRemainingColumn(), console=real_console(err_console), transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task("sweep", total=p.runs_total, rate="")
        self.bar.update(self.task, completed=p.runs_done,
                        rate=f"{p.runs_per_s:.2f} runs/s" if p.runs_per_s else "")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def sweep(
    spec: Path = typer.Argument(..., help="Sweep spec TOML (see examples/sweep.toml)."),
    workers: int | None = typer.Option(
        None, "--workers", min=1, help="Local worker processes (default: all cores)."
    ),
    threads: int = typer.Option(1, "--threads", min=1, help="Threads per local worker."),
    scheduler: str | None = typer.Option(
        None, "--scheduler",
        help="Address of an existing Dask scheduler, e.g. tcp://10.0.0.5:8786 (its workers "
             "need althedge installed and the price folder at the same path).",
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Results folder (default: out/<spec name>)."
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Finish a stopped sweep in --out: finished runs are kept."
    ),
    prices: str | None = typer.Option(
        None, "--prices", help="Price folder (or 'bundled') instead of the spec's prices."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
    top: int = typer.Option(8, "--top", min=1, help="Hedges shown per ranking table."),
) -> None:
    """Run many backtests — portfolios × hedges × settings × periods — on Dask, write them
    as Parquet (one row per run) and a summary with bootstrap intervals and the
    walk-forward choice."""
    from althedge.errors import InputError
    from althedge.services.sweep import run_sweep
    from althedge.services.sweep_spec import load_spec

    if workers is not None and scheduler:
        raise InputError("workers: pass either --workers N (a local cluster) or --scheduler "
                         "ADDRESS, not both")
    folder = out or Path("out") / spec.stem
    from althedge.files import check_targets

    check_targets([("--out", folder, True)])  # before any task: a folder we can write
    bar = _SweepBar(enabled=not json_out)
    try:
        target: Any = spec
        if prices is not None:
            parsed = load_spec(spec)
            where = prices if prices == "bundled" else str(Path(prices).resolve())
            target = replace(parsed, prices=where)
        outcome = run_sweep(target, out=folder, resume=resume, workers=workers,
                            threads_per_worker=threads, scheduler=scheduler, progress=bar)
    finally:
        bar.close()
    runs = outcome.runs
    if json_out:
        emit_json({
            "name": outcome.spec.name, "out": str(folder), "tasks": outcome.tasks,
            "tasks_resumed": outcome.tasks_resumed, "runs": len(runs),
            "runs_ok": int((runs["status"] == "ok").sum()), "files": outcome.files,
            "summary": outcome.summary.to_dict(),
        })
        return
    _render(outcome, top)


def _render(outcome: Any, top: int) -> None:
    from althedge.services.sweep_summary import RANKING_HEADERS, ranking_table_rows

    s = outcome.summary
    runs = outcome.runs
    console.print(
        f"[bold]{outcome.spec.name}[/]: {len(runs)} runs in {outcome.tasks} tasks "
        f"({outcome.tasks_resumed} resumed), {s.no_data} without data, {s.failed} failed; "
        "ranked by mean "
        f"[bold]{s.metric}[/] across portfolios ({'higher' if s.higher_is_better else 'lower'}"
        f" is better), {100 * s.confidence:.0f} % paired-bootstrap intervals "
        f"({s.bootstrap} resamples)"
    )
    # piped output is not limited to 80 columns: the tables are for reading in a file/log
    wide = console if console.is_terminal else new_console(highlight=False, width=170)
    for r in s.rankings:
        t = compact_table(f"{r.period} · {r.combo_label}")
        for i, h in enumerate(RANKING_HEADERS):
            t.add_column(h, justify="left" if i == 1 else "right", no_wrap=i != 1,
                         min_width=min(40, max(len(x.policy) for x in r.rows)) if i == 1
                         and r.rows else None)
        for row in ranking_table_rows(r)[:top]:
            t.add_row(*row)
        wide.print(t)
        if len(r.rows) > top:
            console.print(f"[dim]… {len(r.rows) - top} more in summary.html[/]")
        if r.runs_failed:
            console.print(f"[yellow]note:[/] {r.runs_failed} runs did not run (no data or an "
                          f"error); {r.portfolios_dropped} portfolios left out of every mean "
                          "(see summary.html)")
    for w in s.walk_forward:
        console.print(
            f"walk-forward ({w.combo_label}): chosen on {w.choose_period}: [bold]{w.chosen}[/]"
            f" (mean {w.chosen_mean:.3g}); on {w.confirm_period}: mean {w.confirm_mean:.3g} "
            f"[{w.confirm_ci_low:.3g} … {w.confirm_ci_high:.3g}], place {w.confirm_place} of "
            f"{w.confirm_of} (best there: {w.confirm_best})", soft_wrap=True)
    for e in s.errors[:5]:
        err_console.print(f"[yellow]not run:[/] {e}", soft_wrap=True)
    if len(s.errors) > 5:
        err_console.print("… and more: see summary.html or the error column of "
                          "results.parquet")
    for f in outcome.files:
        console.print(f"wrote {f}")


def register(root: typer.Typer) -> None:
    """Attach ``althedge sweep`` to the root app."""
    root.command("sweep")(sweep)
