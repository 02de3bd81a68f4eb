"""`althedge.sweep` on a real Dask LocalCluster (127.0.0.1, two worker processes).

* the sweep's rows equal a serial run of the same backtests (``run_backtest`` in this
  process), exactly;
* a worker killed (SIGKILL) while it runs a task loses no row and duplicates none;
* ``althedge sweep`` killed midway (the whole process group, SIGKILL) and run again with
  ``--resume`` finishes with every run present once, without redoing finished tasks.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")

from althedge.config import parse_portfolio  # noqa: E402
from althedge.data import bundled_source  # noqa: E402
from althedge.services.backtest import BacktestSettings, run_backtest  # noqa: E402
from althedge.services.sweep import SweepProgress, sweep  # noqa: E402
from althedge.services.sweep_spec import expand_tasks, parse_spec  # noqa: E402

COMPARED_METRICS = ("hedge_effectiveness", "final_value_hedged_usd", "return_hedged_pct",
                    "max_drawdown_hedged_committed", "funding_received_usd", "fees_paid_usd",
                    "turnover_usd", "rebalances", "time_hedged_pct", "vol_hedged")


def _spec(random: int = 3, periods: int = 2) -> dict[str, Any]:
    spans = [{"name": "2022", "start": "2022-01-01", "end": "2022-12-31"},
             {"name": "2023-24", "start": "2023-01-01", "end": "2024-12-31",
              "confirms": "2022"}]
    return {
        "name": "test sweep", "prices": "bundled", "seed": 5,
        "policies": ["none", "rolling-ols:{60,90}", "static:1.0"],
        "triggers": ["always", "trend:100"],
        "portfolios": {"random": random, "universe": ["SOL", "ADA", "LINK", "DOGE", "XRP"],
                       "coins": [2, 3], "weighting": "random", "value_usd": 10_000},
        "hedge": {"leverage": 2, "rounding": "none"},
        "settings": {"rebalance": ["weekly"], "fees": "taker"},
        "periods": spans[:periods],
        "summary": {"bootstrap": 200},
    }


@pytest.fixture(scope="module")
def client() -> Any:
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address="127.0.0.1:0", silence_logs=50,
    )
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def test_sweep_rows_equal_a_serial_run_exactly(client: Any, tmp_path: Path) -> None:
    spec = _spec()
    runs = sweep(spec, client=client, out=tmp_path / "out")
    tasks = expand_tasks(parse_spec(spec))
    n_compared = 1 + 3 * 2  # none, then three policies each always and with the trigger
    assert len(runs) == len(tasks) * n_compared
    assert (runs["status"] == "ok").all(), runs["error"].unique()
    assert not runs.duplicated(["task_id", "policy"]).any()
    src = bundled_source()
    for task in tasks:
        # the serial run: the same backtest in this process, amounts computed independently
        weights = json.loads(task.portfolio_json)["holdings"]
        coins = [h["asset"] for h in weights]
        closes = src.closes(coins, start=task.start, end=task.end).dropna()
        holdings = [{"asset": h["asset"], "amount": 10_000 * h["amount"]
                     / float(closes[h["asset"]].iloc[0])} for h in weights]
        pf = parse_portfolio({"name": task.portfolio, "holdings": holdings,
                              "hedge": {"leverage": 2, "rounding": "none"}})
        res = run_backtest(pf, src, list(task.compared),
                           BacktestSettings(start=task.start, end=task.end,
                                            rebalance="weekly", fees="taker"))
        mine = runs[runs["task_id"] == task.task_id].set_index("policy")
        assert sorted(mine.index) == sorted(p.name for p in res.policies)
        for p in res.policies:
            row = mine.loc[p.name]
            assert row["rank"] == p.rank and row["score"] == p.score
            for k in COMPARED_METRICS:
                want = getattr(p.metrics, k)
                assert row[k] == want or (math.isnan(want) and math.isnan(row[k])), (k, p.name)
        assert mine["span_start"].iloc[0] == res.start and mine["bars"].iloc[0] == res.bars
    # the results file and the summary were written beside the parts
    on_disk = pd.read_parquet(tmp_path / "out" / "results.parquet")
    pd.testing.assert_frame_equal(on_disk, runs)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert {r["period"] for r in summary["rankings"]} == {"2022", "2023-24"}
    assert summary["walk_forward"][0]["choose_period"] == "2022"
    page = (tmp_path / "out" / "summary.html").read_text(encoding="utf-8")
    assert re.search(r"<script[^>]*\ssrc=", page) is None  # plotly inlined, no network
    assert "2023-24" in page and "Walk-forward" in page
    assert not list((tmp_path / "out").glob(".*.tmp"))


def test_cli_runs_on_an_existing_scheduler(client: Any, tmp_path: Path) -> None:
    spec = tmp_path / "one.toml"
    spec.write_text('prices = "bundled"\npolicies = ["none", "rolling-ols:90"]\n'
                    '[portfolios]\nrandom = 2\ncoins = 2\nuniverse = ["SOL", "ADA", "XRP"]\n'
                    '[[periods]]\nname = "2024"\nstart = "2024-01-01"\n', encoding="utf-8")
    address = client.scheduler.address
    proc = subprocess.run([sys.executable, "-m", "althedge", "sweep", str(spec), "--scheduler",
                           address, "--out", str(tmp_path / "o"), "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert (data["tasks"], data["runs"], data["runs_ok"]) == (2, 4, 4)
    # the runs were done by the cluster's workers (they hold the task results' keys' log)
    done = client.run(lambda dask_worker: len(dask_worker.state.log))
    assert sum(done.values()) > 0
    bad = subprocess.run([sys.executable, "-m", "althedge", "sweep", str(spec), "--scheduler",
                          "tcp://127.0.0.1:9", "--out", str(tmp_path / "o2")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines() == [bad.stderr.strip()]
    assert bad.stderr.startswith("error: scheduler: cannot reach tcp://127.0.0.1:9")


def test_a_worker_killed_during_a_task_loses_and_duplicates_nothing(
    client: Any, tmp_path: Path
) -> None:
    spec = _spec(random=6, periods=1)
    expected = len(expand_tasks(parse_spec(spec))) * 7
    killed: dict[str, Any] = {}

    def kill_a_busy_worker(p: SweepProgress) -> None:
        if killed or p.tasks_done < 1:
            return
        busy = {w: keys for w, keys in client.processing().items() if keys}
        if not busy:
            return
        worker = sorted(busy)[0]
        pid = client.run(os.getpid, workers=[worker])[worker]
        killed.update(worker=worker, pid=pid, tasks=list(busy[worker]))
        os.kill(pid, signal.SIGKILL)  # the worker process dies mid-task; its nanny restarts it

    runs = sweep(spec, client=client, out=tmp_path / "out", progress=kill_a_busy_worker)
    assert killed, "no worker was busy when a task finished"
    with pytest.raises(ProcessLookupError):
        os.kill(killed["pid"], 0)  # really gone
    assert len(runs) == expected
    assert not runs.duplicated(["task_id", "policy"]).any()
    assert (runs["status"] == "ok").all()
    for key in killed["tasks"]:  # the tasks it was running were rerun and written once
        tid = str(key).removeprefix("althedge-sweep-")
        assert (runs["task_id"] == tid).sum() == 7
    parts = list((tmp_path / "out" / "parts").glob("*.parquet"))
    assert len(parts) == expected // 7
    assert not list((tmp_path / "out" / "parts").glob(".*.tmp"))


def test_killed_sweep_resumes_with_every_run_once(tmp_path: Path) -> None:
    spec_path = tmp_path / "s.toml"
    spec_path.write_text("""
name = "resume test"
prices = "bundled"
seed = 9
policies = ["none", "rolling-ols:{30,60,90}", "ewma:30"]
triggers = ["always", "trend:{50,100}"]
[portfolios]
random = 8
universe = ["SOL", "ADA", "LINK", "DOGE", "XRP", "AVAX", "DOT"]
coins = [2, 4]
[hedge]
rounding = "none"
[[periods]]
name = "2023-24"
start = "2023-01-01"
""", encoding="utf-8")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "althedge", "sweep", str(spec_path), "--out", str(out),
           "--workers", "1", "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    parts = out / "parts"
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if parts.is_dir() and len(list(parts.glob("*.parquet"))) >= 2:
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its cluster, mid-run
    finally:
        proc.wait(timeout=60)
    before = {p.name: p.stat().st_mtime_ns for p in parts.glob("*.parquet")}
    assert 2 <= len(before) < 8
    assert not (out / "results.parquet").exists()
    again = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=400)
    assert again.returncode == 0, again.stderr
    data = json.loads(again.stdout)
    assert data["tasks"] == 8 and data["tasks_resumed"] == len(before)
    per_task = 1 + 4 * 3
    runs = pd.read_parquet(out / "results.parquet")
    assert len(runs) == data["runs"] == 8 * per_task
    assert not runs.duplicated(["task_id", "policy"]).any()
    assert runs.groupby("task_id").size().eq(per_task).all()
    # finished parts were not run again
    after = {p.name: p.stat().st_mtime_ns for p in parts.glob("*.parquet")}
    assert all(after[name] == t for name, t in before.items())
    assert np.isfinite(runs.loc[runs["status"] == "ok", "hedge_effectiveness"]).all()
