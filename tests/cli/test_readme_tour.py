"""The README's "A short tour" runs as written (issue 11: "the README's tour runs as written
with correct funding"), through the real console entry, in order, in one fresh home.

Two lines are not run, for reasons outside the program: ``data fetch`` needs the internet
(there is none in tests; the ccxt source is tested offline in tests/data) and ``monitor``
without ``--iterations`` runs until Ctrl-C (tested in tests/cli/test_hedge_monitor.py).
``../shared/data`` is the real data folder (ALTHEDGE_SHARED_DATA); ``out/`` is a temporary
folder.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOT_RUN = ("althedge data fetch", "althedge monitor")


def tour_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## A short tour", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    joined = block.replace("\\\n", " ")
    commands = []
    for line in joined.splitlines():
        line = shlex.join(shlex.split(line, comments=True))  # without the trailing comment
        if line.startswith("althedge "):
            commands.append(line)
    return commands


def test_the_tour_is_what_this_test_reads() -> None:
    cmds = tour_commands()
    assert len(cmds) >= 18
    assert sum(c.startswith(NOT_RUN) for c in cmds) == 2


def tour_groups() -> dict[str, list[str]]:
    """The tour's commands in groups that depend on each other (in README order): the hedge
    lifecycle lines share one journal, the two sweep lines one result folder; every other
    line stands alone. Each group runs in its own fresh home, so the groups run in parallel."""
    groups: dict[str, list[str]] = {}
    for cmd in tour_commands():
        if cmd.startswith(NOT_RUN):
            continue
        word = cmd.split()[1]
        key = word if word in ("hedge", "sweep") else cmd
        groups.setdefault(key, []).append(cmd)
    return groups


def test_every_tour_line_is_in_one_group() -> None:
    run = [c for g in tour_groups().values() for c in g]
    assert sorted(run) == sorted(c for c in tour_commands() if not c.startswith(NOT_RUN))
    # the groups the checks below look at exist (else those checks would check nothing)
    groups = tour_groups()
    assert "hedge" in groups and any("hedge close" in c for c in groups["hedge"])
    assert any(g.startswith("althedge plan") and "--prices" in g for g in groups)
    assert any(g.startswith("althedge backtest") and "--report" in g for g in groups)


@pytest.mark.parametrize("group", list(tour_groups()))
def test_readme_tour_runs_as_written(group: str, tmp_path: Path, shared_data: Path) -> None:
    env = {**os.environ, "ALTHEDGE_HOME": str(tmp_path / "home")}
    outputs: dict[str, subprocess.CompletedProcess[str]] = {}
    for cmd in tour_groups()[group]:
        args = [a.replace("../shared/data", str(shared_data)) for a in shlex.split(cmd)]
        args = [str(ROOT / a) if a.startswith("examples/") else a for a in args]
        proc = subprocess.run([sys.executable, "-m", "althedge", *args[1:]], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=600)
        # `data check` exits 3 when a series has an error finding: the tour shows defects
        allowed = (0, 3) if cmd.startswith("althedge data check") else (0,)
        assert proc.returncode in allowed, (cmd, proc.stderr)
        assert "Traceback" not in proc.stderr, cmd
        outputs[cmd] = proc
    if group.startswith("althedge plan") and "--prices" in group:
        leg = json.loads(outputs[group].stdout)["hedges"][0]
        # the funding history one folder up from daily/ is found (was: an assumed 0.01 %/8 h)
        assert leg["funding_rate_source"].startswith("history")
        assert leg["funding_usd_per_year"] == pytest.approx(3209, abs=5)
    if group.startswith("althedge backtest"):
        assert (tmp_path / "out" / "report.html").stat().st_size > 100_000
    if group == "hedge":
        close = json.loads(next(p for c, p in outputs.items() if "hedge close" in c).stdout)
        assert close["live"] is True and close["action"] == "close"
        # "attribution sums to the change in value" (README)
        assert close["net_usd"] == pytest.approx(close["total_value_change_usd"], abs=0.01)
