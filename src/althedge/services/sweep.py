"""Research sweeps: many backtests (portfolios × compared hedges × settings × periods) on Dask.

::

    import althedge
    runs = althedge.sweep("examples/sweep.toml")             # local cluster, all cores
    runs = althedge.sweep(spec, client=my_dask_client)        # a cluster you already have

Each :class:`~althedge.services.sweep_spec.SweepTask` (one portfolio × one settings
combination × one period, every compared hedge in one ``run_backtest`` call) runs on a
``dask.distributed`` worker; its rows come back to the caller, which writes them at once
as one Parquet part, ``OUT/parts/<task_id>.parquet``, through a temporary file and an
atomic rename. A sweep that is stopped resumes with ``resume=True``: parts already on
disk are not run again. A task whose worker dies is rerun by Dask on another worker (its
result arrives once, so it is written once; a rerun after a write would replace the same
file). The price folder is opened once per worker process and its files read once per
worker (the source caches them), so tasks ship only a path, never price arrays.

One row per run (a compared hedge in a task): the task's portfolio, period and settings,
the run's rank and score within its task, every :class:`PolicyMetrics` number, what an
investor keeps (``kept_pct``) and the mean loss in the crash episodes. Failed runs are
rows too (``status`` ``no-data`` or ``error`` with the one-line message), so a resumed
sweep does not retry them and the summary can count them.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from althedge.config import PortfolioConfig, parse_portfolio
from althedge.data import PriceSource
from althedge.errors import AlthedgeError, DataError, InputError
from althedge.files import atomic_path, atomic_write_text, jsonable
from althedge.services.backtest import (
    BacktestResult,
    BacktestSettings,
    parse_policy_list,
    run_backtest,
)
from althedge.services.backtest_results import PolicyMetrics
from althedge.services.sweep_spec import (
    METRIC_COLUMNS,
    SweepSpec,
    SweepTask,
    check_against_source,
    expand_tasks,
    load_spec,
    open_prices,
    parse_spec,
)
from althedge.services.sweep_summary import SweepSummary, summarise, write_summary_html

__all__ = [
    "SweepOutcome",
    "SweepProgress",
    "read_results",
    "run_sweep",
    "run_task",
    "summarise_runs",
    "sweep",
    "task_rows",
]

_SETTING_FIELDS = [f.name for f in fields(BacktestSettings)
                   if f.name not in ("start", "end", "timeframe")]
_INT_COLUMNS = ("rank", "n_compared", "bars", "combo", "hedge_switches", "rebalances",
                "margin_calls", "liquidations", "episodes")
_DEPRECATED = ("funding_usd", "fees_usd", "slippage_usd", "cost_total_usd")
_MANIFEST = "sweep.json"
_PARTS = "parts"


@dataclass(frozen=True)
class SweepProgress:
    """Where a running sweep is: tasks and runs done (resumed ones included), speed, ETA."""

    tasks_done: int
    tasks_total: int
    runs_done: int
    runs_total: int
    runs_resumed: int
    elapsed_s: float
    dashboard: str | None = None

    @property
    def runs_per_s(self) -> float:
        new = self.runs_done - self.runs_resumed
        return new / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        rate = self.runs_per_s
        return (self.runs_total - self.runs_done) / rate if rate > 0 else None


# ----------------------------------------------------------------------------- worker side


@lru_cache(maxsize=4)
def _worker_source(prices: str) -> PriceSource:
    """The price source, opened once per worker process (its files are read once, then
    served from the source's own cache to every later task)."""
    return open_prices(prices)


def _portfolio(task: SweepTask, source: PriceSource) -> PortfolioConfig:
    """The task's portfolio; a random one gets its amounts from the closes on the period's
    first bar where every coin has a price (value_usd split by the weights)."""
    data = json.loads(task.portfolio_json)
    exchange = task.settings.get("exchange")
    if exchange is not None and exchange != data["hedge"]["exchange"]:
        data["hedge"]["exchange"] = exchange
        data["hedge"].pop("symbol", None)
    if task.kind == "random":
        coins = [h["asset"] for h in data["holdings"]]
        closes = source.closes(coins, start=task.start, end=task.end,
                               timeframe=task.timeframe)
        full = closes.dropna()
        if closes.empty or full.empty:
            absent = [c for c in coins if c not in closes or closes[c].notna().sum() == 0]
            span = f"{task.start or 'the start'} → {task.end or 'the end'}"
            raise DataError(
                f"prices: {', '.join(absent)} {'has' if len(absent) == 1 else 'have'} no "
                f"{task.timeframe} close in {span}" if absent else
                f"prices: no {task.timeframe} bar in {span} where {', '.join(coins)} all "
                "have a close")
        first, at = full.index[0], full.iloc[0]
        if first > closes.index[0] + pd.Timedelta(days=7):
            late = [c for c in coins if closes[c].first_valid_index() == first
                    or closes[c].first_valid_index() is None]
            raise DataError(f"prices: {late[0] if late else coins[0]} has no "
                            f"{task.timeframe} close until {first.date()}, after the period "
                            "starts (listed later)")
        for h in data["holdings"]:
            h["amount"] = task.value_usd * h["amount"] / float(at[h["asset"]])
    return parse_portfolio(data, source=f"sweep portfolio {task.portfolio}")


def _settings(task: SweepTask) -> BacktestSettings:
    kw = {k: v for k, v in task.settings.items() if k != "exchange"}
    if "keep_bars" in kw:
        kw["keep_bars"] = tuple(kw["keep_bars"])
    return BacktestSettings(start=task.start, end=task.end, timeframe=task.timeframe, **kw)


def _base_row(task: SweepTask, pf: PortfolioConfig | None) -> dict[str, Any]:
    settings = _settings(task)
    data = json.loads(task.portfolio_json)
    holdings = data["holdings"]
    row: dict[str, Any] = {
        "task_id": task.task_id, "portfolio": task.portfolio, "portfolio_kind": task.kind,
        "holdings": ",".join(f"{h['asset']}:{h['amount']:.6g}" for h in holdings),
        "coins": len(holdings), "period": task.period,
        "period_start": task.start or "", "period_end": task.end or "",
        "timeframe": task.timeframe, "combo": task.combo, "combo_label": task.combo_label,
        "exchange": task.settings.get("exchange", data["hedge"]["exchange"]),
    }
    for k in _SETTING_FIELDS:
        v = getattr(settings, k)
        row[k] = "; ".join(v) if isinstance(v, tuple) else ("" if v is None else v)
    return row


def _metric_values(m: PolicyMetrics) -> dict[str, Any]:
    d = m.to_dict()
    out = {k: v for k, v in d.items() if k not in _DEPRECATED and k != "costs_by_year"}
    out["equity_touches_zero_on"] = out["equity_touches_zero_on"] or ""
    out["costs_by_year_json"] = json.dumps(d["costs_by_year"], sort_keys=True)
    return out


def task_rows(task: SweepTask, result: BacktestResult, pf: PortfolioConfig) -> pd.DataFrame:
    """The rows of one finished task: one per compared hedge, in the spec's order."""
    settings = _settings(task)
    specs = parse_policy_list(list(task.compared), window=settings.window,
                              halflife=settings.halflife, portfolio=pf)
    by_name = {p.name: p for p in result.policies}
    base = _base_row(task, pf)
    unhedged = ([e.unhedged_loss_pct for e in result.episodes])
    rows = []
    for item, spec in zip(task.compared, specs, strict=True):
        name = spec.name
        p = by_name[name]
        m = _metric_values(p.metrics)
        losses = [e.losses_pct[name] for e in result.episodes]
        r_h, r_u = p.metrics.return_hedged_pct, p.metrics.return_unhedged_pct
        rows.append({
            # a portfolio file's own hedge ("plan") differs per portfolio: compared as "plan"
            **base, "policy": item if spec.plan else name, "policy_resolved": name,
            "sizing": p.spec.name,
            "trigger": p.trigger.name if p.trigger is not None else "",
            "status": "ok", "error": "", "rank": p.rank, "score": p.score,
            "n_compared": len(result.policies), "span_start": result.start,
            "span_end": result.end, "bars": result.bars, "instrument": result.instrument,
            "warnings": " | ".join(result.warnings),
            **m,
            "kept_pct": 100.0 * (1 + r_h / 100.0) / (1 + r_u / 100.0)
            if r_u > -100.0 else math.nan,
            "crash_loss_pct": float(np.mean(losses)) if losses else math.nan,
            "crash_loss_unhedged_pct": float(np.mean(unhedged)) if unhedged else math.nan,
            "episodes": len(result.episodes),
        })
    return pd.DataFrame(rows)


def _names(task: SweepTask) -> list[str]:
    """The compared hedges' names as ok rows carry them (``ols`` → ``rolling-ols:90``;
    ``plan`` kept), or the spec's text when even that cannot be worked out."""
    try:
        settings = _settings(task)
        pf = parse_portfolio(json.loads(task.portfolio_json), source=task.portfolio)
        specs = parse_policy_list(list(task.compared), window=settings.window,
                                  halflife=settings.halflife, portfolio=pf)
    except Exception:
        return list(task.compared)
    return [item if s.plan else s.name for item, s in zip(task.compared, specs, strict=True)]


def _error_rows(task: SweepTask, err: BaseException) -> pd.DataFrame:
    status = "no-data" if isinstance(err, DataError) else "error"
    message = str(err) if isinstance(err, AlthedgeError) else f"{type(err).__name__}: {err}"
    base = _base_row(task, None)
    rows = [{**base, "policy": name, "policy_resolved": "", "sizing": "", "trigger": "",
             "status": status, "error": message} for name in _names(task)]
    return pd.DataFrame(rows)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """The same columns and dtypes whatever the status: numbers float64 (integers Int64)."""
    for col in METRIC_COLUMNS:
        if col not in frame.columns:
            frame[col] = math.nan
    for col in ("crash_loss_unhedged_pct", "task_seconds", "task_cpu_seconds"):
        if col not in frame.columns:
            frame[col] = math.nan
    for col in ("span_start", "span_end", "instrument", "warnings", "equity_touches_zero_on",
                "costs_by_year_json"):
        if col not in frame.columns:
            frame[col] = ""
    for col in _INT_COLUMNS:
        if col not in frame.columns:
            frame[col] = pd.NA
    for col in frame.columns:
        if col in _INT_COLUMNS:
            frame[col] = frame[col].astype("Int64")
        elif col in METRIC_COLUMNS or col in ("task_seconds", "task_cpu_seconds"):
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    return frame


def run_task(task: SweepTask) -> pd.DataFrame:
    """Run one task (on a worker): every compared hedge on one portfolio, period and
    settings combination; a failure becomes rows with its one-line message."""
    t0, c0 = time.perf_counter(), time.thread_time()
    try:
        source = _worker_source(task.prices)
        pf = _portfolio(task, source)
        result = run_backtest(pf, source, list(task.compared), _settings(task))
        frame = task_rows(task, result, pf)
    except Exception as err:  # a sweep of 1,000 runs records a failed run and goes on
        frame = _error_rows(task, err)
    frame["task_seconds"] = time.perf_counter() - t0
    frame["task_cpu_seconds"] = time.thread_time() - c0  # this thread's CPU: load-independent
    return _typed(frame)


# ----------------------------------------------------------------------------- caller side


def _readable(tmp: str) -> None:
    """mkstemp makes 0600 files; results are shared like any file the user writes."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)


def _atomic_write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` as Parquet whole or not at all (:func:`althedge.files.atomic_path`:
    temporary file, fsync, ``os.replace``); an unwritable ``--out`` is one OutputError."""
    with atomic_path(path, "--out") as tmp:
        frame.to_parquet(tmp, index=False)
        _readable(str(tmp))


def _atomic_write_text(path: Path, text: str) -> None:
    """Whole file or none; an unwritable ``--out`` is a one-line OutputError."""
    atomic_write_text(path, text, "--out")


def _part(out: Path, task: SweepTask) -> Path:
    return out / _PARTS / f"{task.task_id}.parquet"


def _finished(out: Path, task: SweepTask) -> bool:
    """A complete part of this task is on disk (parts are renamed into place whole)."""
    path = _part(out, task)
    if not path.is_file():
        return False
    try:
        import pyarrow.parquet as pq

        return int(pq.read_metadata(path).num_rows) == len(task.compared)
    except Exception:  # unreadable: run it again (the new part replaces it)
        return False


def _manifest(spec: SweepSpec, tasks: Sequence[SweepTask]) -> dict[str, Any]:
    from althedge import __version__

    return {
        "schema": 1, "name": spec.name, "althedge": __version__, "prices": spec.prices,
        "tasks": len(tasks), "runs": len(tasks) * len(spec.compared),
        "compared": list(spec.compared), "grid": {k: list(v) for k, v in spec.grid},
        "periods": [{"name": p.name, "start": p.start, "end": p.end,
                     "timeframe": p.timeframe, "confirms": p.confirms} for p in spec.periods],
        "portfolios": len(spec.files) + (spec.random.count if spec.random else 0),
        "seed": spec.seed, "metric": spec.metric, "bootstrap": spec.bootstrap,
        "confidence": spec.confidence,
        "task_ids": [t.task_id for t in tasks],
    }


def _prepare_out(out: Path, resume: bool) -> None:
    parts = out / _PARTS
    if not resume and parts.is_dir() and any(parts.glob("*.parquet")):
        raise InputError(f"out: {out} already holds a sweep's results; pass --resume to "
                         "finish it, or --out NEW_DIR for a new sweep")
    parts.mkdir(parents=True, exist_ok=True)


def read_results(out: str | Path, tasks: Sequence[SweepTask] | None = None) -> pd.DataFrame:
    """All rows of the sweep in ``out`` (only ``tasks``' parts when given, in their order)."""
    folder = Path(out) / _PARTS
    if tasks is None:
        manifest = Path(out) / _MANIFEST
        ids = (json.loads(manifest.read_text())["task_ids"] if manifest.is_file()
               else sorted(p.stem for p in folder.glob("*.parquet")))
        paths = [folder / f"{i}.parquet" for i in ids]
    else:
        paths = [folder / f"{t.task_id}.parquet" for t in tasks]
    frames = [pd.read_parquet(p) for p in paths if p.is_file()]
    if not frames:
        return _typed(pd.DataFrame())
    return pd.concat(frames, ignore_index=True)


def _distributed() -> Any:
    """``dask.distributed`` (imported on first use: ``import althedge`` stays fast)."""
    return importlib.import_module("dask.distributed")


@contextlib.contextmanager
def _client(
    client: Any, scheduler: str | None, workers: int | None, threads_per_worker: int,
) -> Iterator[Any]:
    """The caller's client, a client of ``scheduler``, or a new local cluster's."""
    try:
        dd = _distributed()
    except ImportError:  # pragma: no cover - a dependency
        raise AlthedgeError("sweep: dask.distributed is not installed; "
                            "pip install 'dask[distributed]'") from None
    if client is not None:
        yield client
        return
    if scheduler:
        try:
            remote = dd.Client(scheduler, timeout="10s")
        except OSError as err:
            raise AlthedgeError(f"scheduler: cannot reach {scheduler} ({err}); start it with "
                                "`dask scheduler` or drop --scheduler") from None
        except (MemoryError, ValueError, TypeError, KeyError):
            # something answered that does not speak Dask's protocol (its frames read as
            # garbage sizes): say so rather than report a program error
            raise AlthedgeError(f"scheduler: {scheduler} did not answer as a Dask scheduler; "
                                "check the address and port (default 8786) or drop "
                                "--scheduler") from None
        with remote as c:
            yield c
        return
    n = workers or os.cpu_count() or 1
    if n < 1 or threads_per_worker < 1:
        raise InputError("workers: --workers and --threads must be at least 1")
    # a free port on 127.0.0.1 (8787 may be taken by another cluster); the link is printed
    with dd.LocalCluster(n_workers=n, threads_per_worker=threads_per_worker, processes=True,
                      host="127.0.0.1", dashboard_address="127.0.0.1:0",
                      silence_logs=logging.ERROR) as cluster, dd.Client(cluster) as c:
        yield c


@dataclass(frozen=True)
class SweepOutcome:
    """A finished sweep: its runs, its summary, where they were written."""

    spec: SweepSpec
    runs: pd.DataFrame
    summary: SweepSummary
    out: Path | None
    files: list[str]
    tasks: int
    tasks_resumed: int


def sweep(
    spec: str | Path | Mapping[str, Any] | SweepSpec,
    client: Any = None,
    *,
    out: str | Path | None = None,
    resume: bool = False,
    workers: int | None = None,
    threads_per_worker: int = 1,
    scheduler: str | None = None,
    progress: Callable[[SweepProgress], None] | None = None,
) -> pd.DataFrame:
    """Run a sweep and return every run as a DataFrame (one row per run).

    ``spec``: a TOML path, a mapping of the same shape or a parsed spec. ``client``: your
    own ``dask.distributed.Client``; otherwise ``scheduler`` (``tcp://HOST:8786``) or a
    local cluster of ``workers`` processes (default: all cores). ``out``: the results
    folder (Parquet parts, ``results.parquet``, ``summary.json``/``summary.html``); without
    it a temporary folder is used and removed. ``resume``: keep the finished parts in
    ``out`` and run only the rest. ``progress(SweepProgress)`` is called as tasks finish.
    Bad specs raise a one-line :class:`InputError`/:class:`DataError` before any task
    starts.
    """
    return run_sweep(spec, client, out=out, resume=resume, workers=workers,
                     threads_per_worker=threads_per_worker, scheduler=scheduler,
                     progress=progress).runs


def run_sweep(
    spec: str | Path | Mapping[str, Any] | SweepSpec,
    client: Any = None,
    *,
    out: str | Path | None = None,
    resume: bool = False,
    workers: int | None = None,
    threads_per_worker: int = 1,
    scheduler: str | None = None,
    progress: Callable[[SweepProgress], None] | None = None,
) -> SweepOutcome:
    """:func:`sweep` returning the summary and the files written too (for the CLI)."""
    parsed = load_or_parse(spec)
    try:
        check_against_source(parsed)
    except AlthedgeError as err:
        if not isinstance(spec, str | Path):
            raise
        raise type(err)(str(err).replace("sweep spec:", f"{Path(spec).name}:", 1)) from None
    tasks = expand_tasks(parsed)
    if out is None:
        if resume:
            raise InputError("out: --resume needs the folder of the sweep to finish (--out)")
        with tempfile.TemporaryDirectory(prefix="althedge-sweep-") as tmp:
            outcome = _run(parsed, tasks, Path(tmp), False, client, scheduler, workers,
                           threads_per_worker, progress)
            return SweepOutcome(parsed, outcome.runs, outcome.summary, None, [],
                                outcome.tasks, outcome.tasks_resumed)
    return _run(parsed, tasks, Path(out), resume, client, scheduler, workers,
                threads_per_worker, progress)


def summarise_runs(spec: SweepSpec, runs: pd.DataFrame) -> SweepSummary:
    """The spec's summary of these runs (its metric, bootstrap and walk-forward pairs)."""
    pairs = [(p.confirms, p.name) for p in spec.periods if p.confirms]
    return summarise(runs, spec.metric, confirms=pairs, bootstrap=spec.bootstrap,
                     confidence=spec.confidence, seed=spec.seed)


def _run(
    spec: SweepSpec, tasks: list[SweepTask], out: Path, resume: bool, client: Any,
    scheduler: str | None, workers: int | None, threads_per_worker: int,
    progress: Callable[[SweepProgress], None] | None,
) -> SweepOutcome:
    _prepare_out(out, resume)
    _atomic_write_text(out / _MANIFEST, json.dumps(_manifest(spec, tasks), indent=1))
    todo = [t for t in tasks if not (resume and _finished(out, t))]
    per = len(spec.compared)
    resumed = (len(tasks) - len(todo)) * per
    tick = progress or (lambda p: None)
    t0 = time.perf_counter()
    if todo:
        with _client(client, scheduler, workers, threads_per_worker) as c:
            dash = c.dashboard_link if _has_dashboard(c) else None
            tick(SweepProgress(0, len(tasks), resumed, len(tasks) * per, resumed, 0.0, dash))
            futures = c.map(run_task, todo, key=[f"althedge-sweep-{t.task_id}" for t in todo],
                            pure=True)
            by_key = {f.key: t for f, t in zip(futures, todo, strict=True)}
            done = len(tasks) - len(todo)
            try:
                for fut in _distributed().as_completed(futures):
                    task = by_key[fut.key]
                    try:
                        frame = fut.result()
                    except Exception as err:  # KilledWorker: the task killed its workers
                        raise AlthedgeError(
                            f"sweep: task {task.portfolio} / {task.period} failed on the "
                            f"cluster ({type(err).__name__}: {err}); finished runs are kept "
                            f"in {out}, rerun with --resume") from None
                    _atomic_write_parquet(frame, _part(out, task))
                    done += 1
                    fut.release()
                    tick(SweepProgress(done, len(tasks), done * per, len(tasks) * per,
                                       resumed, time.perf_counter() - t0, dash))
            except BaseException:
                c.cancel(futures)
                raise
    else:
        tick(SweepProgress(len(tasks), len(tasks), len(tasks) * per, len(tasks) * per,
                           resumed, 0.0, None))
    runs = read_results(out, tasks)
    _atomic_write_parquet(runs, out / "results.parquet")
    summary = summarise_runs(spec, runs)
    _atomic_write_text(out / "summary.json",
                       json.dumps(jsonable(summary.to_dict()), indent=1, allow_nan=False))
    page = write_summary_html(summary, out / "summary.html", title=spec.name)
    files = [str(out / "results.parquet"), str(out / "summary.json"), str(page)]
    return SweepOutcome(spec, runs, summary, out, files, len(tasks), len(tasks) - len(todo))


def _has_dashboard(c: Any) -> bool:
    """Dask serves its dashboard only with bokeh installed (an optional extra)."""
    try:
        import bokeh  # noqa: F401

        return bool(c.scheduler_info().get("services", {}).get("dashboard"))
    except Exception:
        return False


def load_or_parse(spec: str | Path | Mapping[str, Any] | SweepSpec) -> SweepSpec:
    """A spec from a path, a mapping or an already parsed spec."""
    if isinstance(spec, SweepSpec):
        return spec
    if isinstance(spec, str | Path):
        return load_spec(spec)
    return parse_spec(spec)
