"""The journal failing safely: one line for every fault, nothing half-written, no order
sent that the journal could not record first.

A full disk is SQLite's own error raised by the journal's connection from a chosen step
of a real ``open_hedge`` on the paper venue (:class:`_DiskFills`); a read-only
(immutable for root) journal, a dropped table and overwritten pages go through the
real console entry; another program holding SQLite's write lock is a second real
connection.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest

from althedge.config import load_portfolio
from althedge.data import open_source
from althedge.errors import JournalError
from althedge.journal import Journal
from althedge.services.hedge import open_hedge
from althedge.venues.paper import PaperExchange

ROOT = Path(__file__).resolve().parents[2]
PORTFOLIO = ROOT / "examples" / "portfolio.toml"
DAY = "2024-06-03"


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "althedge", *args], capture_output=True, text=True,
        env={**os.environ, "ALTHEDGE_HOME": str(home)}, timeout=180,
    )


def _one_line_error(proc: subprocess.CompletedProcess[str], code: int = 6) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    assert "move the file" not in proc.stderr and "move it away" not in proc.stderr
    return proc.stderr


class _DiskFills:
    """The journal's real SQLite connection, except that once ``full`` is set every write
    fails as SQLite fails on a full disk (``sqlite3.OperationalError: database or disk is
    full``, SQLITE_FULL). SQLite's own ``max_page_count`` cannot be used: a small row fits
    in a table's existing page, so it would not fail where a real full disk does."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.full = False

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        verb = sql.lstrip().split(" ", 1)[0].upper()
        if self.full and verb in ("INSERT", "UPDATE", "DELETE", "COMMIT"):
            raise sqlite3.OperationalError("database or disk is full")
        return self._conn.execute(sql, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self._conn, name)


def _full_at(journal: Journal, step: str):  # type: ignore[no-untyped-def]
    """Install :class:`_DiskFills` on ``journal``; a step hook that fills the disk at ``step``."""
    disk = _DiskFills(journal._conn)
    journal._conn = disk  # type: ignore[assignment]

    def hook(name: str) -> None:
        if name == step:
            disk.full = True

    return hook


@pytest.mark.parametrize("step", ["hedge_recorded", "leverage_set"])
def test_disk_full_before_the_intent_sends_nothing(tmp_path: Path, step: str) -> None:
    """The intent must be durable before the order goes out: a full disk at the intent
    write is a one-line JournalError and the venue never sees an order."""
    source = open_source(None)
    venue = PaperExchange.open(tmp_path / "paper", source=source, at=date(2024, 6, 3),
                               persist=True)
    cfg = load_portfolio(PORTFOLIO)
    with Journal(tmp_path / "journal.sqlite") as journal:
        with pytest.raises(JournalError, match="is full") as err:
            open_hedge(journal, venue, cfg, source, as_of=date(2024, 6, 3), live=True,
                       on_step=_full_at(journal, step))
        assert "nothing of this step was written" in str(err.value)
        assert journal.orders() == []  # no intent, so ...
    assert venue.orders == {} and venue.positions == {}  # ... nothing sent


def test_disk_full_after_the_send_is_recovered_by_the_next_command(tmp_path: Path) -> None:
    """The order went out, its result could not be journaled: one clear error, and the
    next command (disk freed) finds the order by client id and records its fill once."""
    source = open_source(None)
    at = date(2024, 6, 3)
    cfg = load_portfolio(PORTFOLIO)
    venue = PaperExchange.open(tmp_path / "paper", source=source, at=at, persist=True)
    with Journal(tmp_path / "journal.sqlite") as journal:
        with pytest.raises(JournalError, match="is full"):
            open_hedge(journal, venue, cfg, source, as_of=at, live=True,
                       on_step=_full_at(journal, "sent"))
        ((cid, status),) = [(o.client_order_id, o.status) for o in journal.orders()]
        assert status == "sent" and cid in venue.orders  # at the venue, its fill not recorded
    venue.save()
    with Journal(tmp_path / "journal.sqlite") as journal:  # space again
        from althedge.services.hedge import hedge_status

        status = hedge_status(journal, venue, source, as_of=at)
        assert status.reconciliation.ok, status.reconciliation.differences
        (order,) = journal.orders()
        assert order.status == "filled" and len(journal.fills(order.hedge_id)) == 1
        assert status.contracts == pytest.approx(venue.open_positions()[0].contracts)


@contextmanager
def _read_only(path: Path) -> Iterator[None]:
    """The file cannot be written by this user: immutable for root (who ignores modes)."""
    if os.geteuid() == 0:
        if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
            pytest.skip("chattr +i is not available here")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(0o644)


@pytest.fixture()
def opened(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    proc = run(home, "hedge", "open", str(PORTFOLIO), "--venue", "paper", "--at", DAY, "--live")
    assert proc.returncode == 0, proc.stderr
    return home


def test_read_only_journal_status_still_works_trading_refuses(opened: Path) -> None:
    journal = opened / "journal.sqlite"
    before = journal.read_bytes()
    with _read_only(journal):
        status = run(opened, "hedge", "status", "--json")
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["open"] is True
        assert "read-only" in status.stderr and "Traceback" not in status.stderr
        monitor = run(opened, "monitor", "--iterations", "1", "--json")
        assert monitor.returncode == 0, monitor.stderr
        assert json.loads(monitor.stdout)["snapshots"] == 1
        trade = run(opened, "hedge", "rebalance", "--threshold", "0", "--live")
        message = _one_line_error(trade)
        assert "read-only" in message and "chmod" in message
    assert journal.read_bytes() == before


def test_dropped_table_is_reported_as_damage(opened: Path) -> None:
    with sqlite3.connect(opened / "journal.sqlite") as conn:
        conn.execute("DROP TABLE fills")
    for args in (("hedge", "status"), ("hedge", "close", "--live")):
        message = _one_line_error(run(opened, *args))
        assert "damaged" in message and "fills" in message and "backup" in message


def test_overwritten_pages_are_caught_at_start(opened: Path) -> None:
    path = opened / "journal.sqlite"
    with sqlite3.connect(path) as conn:  # everything in the main file, no WAL left over
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) >= 4 * page
    data[2 * page: 3 * page] = b"\xa5" * page  # a whole b-tree page of garbage
    path.write_bytes(bytes(data))
    before = json.loads((opened / "paper" / "state.json").read_text())["orders"]
    message = _one_line_error(run(opened, "hedge", "close", "--live"))
    assert "damaged" in message
    assert json.loads((opened / "paper" / "state.json").read_text())["orders"] == before


def test_sqlite_lock_held_by_another_program(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    Journal(path).close()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with (
            Journal(path, timeout_s=0.2) as journal,
            pytest.raises(JournalError, match="locked by another program"),
        ):
            journal.record_event(None, "x", {}, at="t")
        # a read-only snapshot is still possible (WAL readers are never blocked)
        with Journal.snapshot(path) as snap:
            assert snap.read_only and snap.hedges() == []
    finally:
        other.execute("ROLLBACK")
        other.close()


_HOLD_SQLITE_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(120)
"""


def _rows(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("funding", "snapshots", "alerts", "events")}


def test_a_lock_held_by_another_program_does_not_block_status_or_monitor(opened: Path) -> None:
    """Another program (an sqlite3 shell, a backup tool — a real process here) holds the
    journal's write lock: `hedge status` and `monitor` read a snapshot and say why, instead
    of waiting 10 s and failing with exit 6; nothing is written meanwhile."""
    path = opened / "journal.sqlite"
    before = _rows(path)
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_SQLITE_LOCK, str(path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        status = run(opened, "hedge", "status", "--at", "2024-07-01", "--json")
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["open"] is True
        assert "locked by another program" in status.stderr and "snapshot" in status.stderr
        monitor = run(opened, "monitor", "--iterations", "1", "--at", "2024-07-01", "--json")
        assert monitor.returncode == 0, monitor.stderr
        assert json.loads(monitor.stdout)["snapshots"] == 1
        assert "Traceback" not in status.stderr + monitor.stderr
    finally:
        holder.kill()
        holder.wait()
    assert _rows(path) == before  # a month of funding not written while locked ...
    run(opened, "hedge", "status", "--at", "2024-07-01")
    assert _rows(path)["funding"] > before["funding"]  # ... and written once it is free


@contextmanager
def _small_disk(path: Path, size_kb: int) -> Iterator[Path]:
    """A real file system of ``size_kb`` (tmpfs) at ``path``; skipped where mounting is not
    allowed (not root, no CAP_SYS_ADMIN)."""
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs",
                              str(path)], capture_output=True)
    if mounted.returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _fill(disk: Path, leave_kb: int) -> Path:
    """Fill ``disk`` (ENOSPC), then give back ``leave_kb``."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError:
            pass
    size = filler.stat().st_size
    os.truncate(filler, max(size - leave_kb * 1024, 0))
    return filler


@pytest.mark.parametrize("leave_kb", [0, 24, 48, 72, 96, 120])
def test_a_real_full_disk_mid_rebalance_is_one_line_and_the_next_command_agrees(
    tmp_path: Path, leave_kb: int
) -> None:
    """The data directory on a real, nearly full file system (a 300 KB tmpfs): whichever
    write meets the full disk — opening the journal, the intent, the paper account, the
    result after the send — the command ends with ONE line (exit 6 journal, 7 paper account),
    never a traceback or an internal error; once space is free, `hedge status` finds journal
    and venue in agreement (was: the order sent, then a traceback)."""
    with _small_disk(tmp_path / "disk", 300) as disk:
        home = disk / "home"
        assert run(home, "hedge", "open", str(PORTFOLIO), "--venue", "paper", "--at", DAY,
                   "--live").returncode == 0
        assert run(home, "hedge", "status", "--at", "2024-08-05").returncode == 0
        filler = _fill(disk, leave_kb)
        proc = run(home, "hedge", "rebalance", "--threshold", "0", "--at", "2024-08-05",
                   "--live")
        filler.unlink()
        assert proc.returncode in (0, 6, 7), proc.stderr
        assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
        if proc.returncode:
            errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
            assert len(errors) == 1 and "full" in errors[0], proc.stderr
            if "WAS sent" not in errors[0]:
                assert "unchanged" in errors[0] or "nothing of this step" in errors[0]
        status = run(home, "hedge", "status", "--at", "2024-08-05", "--json")
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["reconciliation"]["ok"] is True


def test_status_and_monitor_on_a_read_only_empty_data_directory(tmp_path: Path) -> None:
    """A data directory nothing can be created in (immutable for root): `hedge status` and
    `monitor` say "no open hedge" and why nothing is saved (was: internal error, exit 70,
    creating the paper folder); an acting command refuses in one line."""
    home = tmp_path / "home"
    home.mkdir()
    with _read_only(home):
        status = run(home, "hedge", "status")
        assert status.returncode == 0, status.stderr
        assert "no open hedge" in status.stdout and "read-only" in status.stderr
        monitor = run(home, "monitor", "--iterations", "1")
        assert monitor.returncode == 0, monitor.stderr
        _one_line_error(run(home, "hedge", "close", "--live"))
    assert list(home.iterdir()) == []
