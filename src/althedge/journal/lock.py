"""One althedge command at a time per journal: an advisory lock file beside it.

Every command that can change state (``hedge open``/``rebalance``/``close``/``adopt``,
dry runs included, since they reconcile into the journal) holds
``<journal>.lock`` from its first read of the journal to its last write — across
decide → send → record — so two processes can never both size and send an order
against the same position. ``hedge status`` and ``monitor`` take it when it is free
(and then save what they reconcile); when another process holds it they read a
snapshot instead and write nothing (:meth:`althedge.journal.Journal.snapshot`).

The lock is ``flock(2)`` on an open file: the kernel releases it when the holder
exits, however it dies (``kill -9`` included), so a stale lock cannot exist. The
file also carries the holder's pid, command and start time, so the one that waits
can say who holds it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from althedge.errors import JournalError

__all__ = ["ENV_LOCK_WAIT", "JournalLock", "LockHolder", "LockTimeout", "lock_path"]

#: seconds a state-changing command waits for another one to finish (env override)
ENV_LOCK_WAIT = "ALTHEDGE_LOCK_WAIT"
DEFAULT_WAIT_S = 10.0


def lock_path(journal_path: str | Path) -> Path:
    """``journal.sqlite`` → ``journal.sqlite.lock`` (same folder)."""
    p = Path(journal_path)
    return p.with_name(p.name + ".lock")


def default_wait_s() -> float:
    raw = os.environ.get(ENV_LOCK_WAIT, "")
    try:
        value = float(raw) if raw else DEFAULT_WAIT_S
    except ValueError:
        value = DEFAULT_WAIT_S
    return value if value >= 0 and value == value else DEFAULT_WAIT_S


@dataclass(frozen=True)
class LockHolder:
    """Who holds the lock, as written in the lock file (all may be unknown)."""

    pid: int | None = None
    command: str = ""
    since: str = ""

    def describe(self) -> str:
        parts = [f"pid {self.pid}" if self.pid else "pid unknown"]
        if self.command:
            parts.append(f"`{self.command}`")
        if self.since:
            parts.append(f"since {self.since}")
        return ", ".join(parts)


class LockTimeout(JournalError):
    """Another althedge process holds the journal's lock (exit code 6)."""

    def __init__(self, message: str, holder: LockHolder) -> None:
        super().__init__(message)
        self.holder = holder


class JournalLock:
    """The lock of the journal at ``journal_path``; :meth:`acquire` / :meth:`try_acquire`,
    :meth:`release` (or use as a context manager after acquiring)."""

    def __init__(self, journal_path: str | Path, command: str | None = None) -> None:
        self.path = lock_path(journal_path)
        self.command = command or _command_line()
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def _open(self) -> int:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise JournalError(
                f"journal lock: cannot create {self.path} ({exc.strerror}); the data directory "
                "must be writable to trade (`althedge hedge status` still works read-only)"
            ) from None

    def try_acquire(self) -> bool:
        """Take the lock if it is free now; True when taken."""
        import fcntl

        if self._fd is not None:
            return True
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        self._write_holder()
        return True

    def acquire(
        self,
        what: str,
        wait_s: float | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        on_wait: Callable[[LockHolder], None] | None = None,
    ) -> None:
        """Take the lock, waiting up to ``wait_s`` seconds (default ``$ALTHEDGE_LOCK_WAIT``
        or 10) for another althedge process to finish; else :class:`LockTimeout` naming it."""
        wait = default_wait_s() if wait_s is None else wait_s
        deadline = time.monotonic() + wait
        told = False
        while not self.try_acquire():
            holder = self.holder()
            if time.monotonic() >= deadline:
                raise LockTimeout(
                    f"{what}: another althedge process ({holder.describe()}) is acting on this "
                    f"journal ({self.path.parent}); nothing was done. Wait for it to finish and "
                    f"run the command again (waited {wait:g} s; ${ENV_LOCK_WAIT} sets how long)",
                    holder,
                )
            if on_wait is not None and not told:
                on_wait(holder)
                told = True
            sleep(0.05)

    def holder(self) -> LockHolder:
        """The holder written in the lock file (best effort; the lock itself is the kernel's)."""
        try:
            data: Any = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            return LockHolder()
        if not isinstance(data, dict):
            return LockHolder()
        pid = data.get("pid")
        return LockHolder(
            pid=int(pid) if isinstance(pid, int) else None,
            command=str(data.get("command") or ""),
            since=str(data.get("since") or ""),
        )

    def _write_holder(self) -> None:
        assert self._fd is not None
        body = json.dumps(
            {
                "pid": os.getpid(),
                "command": self.command,
                "since": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        ).encode()
        try:
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, body, 0)
        except OSError:
            pass  # who holds it is a courtesy; the flock is the lock

    def release(self) -> None:
        import fcntl

        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> JournalLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _command_line() -> str:
    args = [Path(sys.argv[0]).name if sys.argv else "althedge", *sys.argv[1:]]
    if args and args[0] in ("__main__.py", "-m", "main.py"):
        args[0] = "althedge"
    return " ".join(args)[:200]
