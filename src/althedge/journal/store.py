"""The SQLite journal: every hedge, plan, order, fill, funding payment, snapshot and alert.

Guarantees
----------
* WAL mode, ``synchronous=FULL``: a committed row survives a crash of the process.
* Every write runs in one ``BEGIN IMMEDIATE … COMMIT`` transaction
  (:meth:`Journal.transaction`), so a crash leaves either all of a step or none.
* Orders are written as an ``intent`` row carrying the deterministic client order
  id *before* they are sent; the venue's answer is recorded afterwards
  (:meth:`Journal.record_result`). A crash between the two leaves an ``intent``
  (or ``sent``) row that the next command looks up at the venue by client order id
  — it is never re-sent blindly.
* Fills are derived from the cumulative filled amount the venue reports; the
  unique key ``(client_order_id, cumulative_filled)`` makes recording the same
  answer twice a no-op, so nothing is doubled.

Amounts: ``amount``/``filled`` in contracts, prices in USD, fees and funding in USD
(positive fee = paid; positive funding = received by the hedge).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from althedge.errors import JournalError
from althedge.files import no_negative_zero
from althedge.journal.migrations import migrate

__all__ = [
    "ID_TAKEN",
    "OPEN_STATUSES",
    "FillRow",
    "HedgeRow",
    "Journal",
    "OrderRow",
    "now_iso",
]

#: order statuses whose outcome is not final yet (reconciled at every start)
OPEN_STATUSES: tuple[str, ...] = ("intent", "sent", "open", "partially_filled")
#: final statuses
FINAL_STATUSES: tuple[str, ...] = (
    "filled", "canceled", "rejected", "expired", "not_sent", "id_taken",
)
#: an intent whose client id the venue already had from an order placed BEFORE the
#: intent (a journal restored from an older copy reuses that copy's ids): nothing of that
#: order is taken as this intent's result
ID_TAKEN = "id_taken"


def now_iso() -> str:
    """Current UTC time, ISO 8601 to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _dumps(value: Any) -> str:
    return json.dumps(no_negative_zero(value), sort_keys=True, default=str, allow_nan=True)


@dataclass(frozen=True)
class HedgeRow:
    """One hedge from open to close."""

    id: int
    status: str
    venue: str
    symbol: str
    opened_at: str
    closed_at: str | None
    portfolio: dict[str, Any]
    settings: dict[str, Any]
    attribution: dict[str, Any] | None


@dataclass(frozen=True)
class OrderRow:
    """One order as the journal knows it (``filled`` cumulative, contracts)."""

    id: int
    hedge_id: int
    client_order_id: str
    venue: str
    symbol: str
    side: str
    amount: float
    order_type: str
    price: float | None
    reduce_only: bool
    purpose: str
    status: str
    exchange_order_id: str | None
    filled: float
    average_price: float | None
    fee_usd: float
    created_at: str
    updated_at: str
    #: the machine's clock (ms since the epoch) when the intent was journaled; None for
    #: rows journaled before it was kept
    created_wall_ms: int | None = None


@dataclass(frozen=True)
class FillRow:
    """One (partial) fill: ``amount`` contracts at ``price`` USD, ``fee_usd`` paid."""

    id: int
    order_id: int
    hedge_id: int
    client_order_id: str
    side: str
    amount: float
    price: float
    fee_usd: float
    at: str
    fee_settle: float = 0.0

    @property
    def signed_amount(self) -> float:
        """+amount for a buy, −amount for a sell (contracts)."""
        return self.amount if self.side == "buy" else -self.amount


def _hedge(row: sqlite3.Row) -> HedgeRow:
    return HedgeRow(
        id=row["id"],
        status=row["status"],
        venue=row["venue"],
        symbol=row["symbol"],
        opened_at=row["opened_at"],
        closed_at=row["closed_at"],
        portfolio=json.loads(row["portfolio_json"]),
        settings=json.loads(row["settings_json"]),
        attribution=json.loads(row["attribution_json"]) if row["attribution_json"] else None,
    )


def _order(row: sqlite3.Row) -> OrderRow:
    return OrderRow(
        id=row["id"],
        hedge_id=row["hedge_id"],
        client_order_id=row["client_order_id"],
        venue=row["venue"],
        symbol=row["symbol"],
        side=row["side"],
        amount=row["amount"],
        order_type=row["order_type"],
        price=row["price"],
        reduce_only=bool(row["reduce_only"]),
        purpose=row["purpose"],
        status=row["status"],
        exchange_order_id=row["exchange_order_id"],
        filled=row["filled"],
        average_price=row["average_price"],
        fee_usd=row["fee_usd"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        created_wall_ms=None if row["created_wall_ms"] is None else int(row["created_wall_ms"]),
    )


def _fill(row: sqlite3.Row) -> FillRow:
    return FillRow(
        id=row["id"],
        order_id=row["order_id"],
        hedge_id=row["hedge_id"],
        client_order_id=row["client_order_id"],
        side=row["side"],
        amount=row["amount"],
        price=row["price"],
        fee_usd=row["fee_usd"],
        at=row["at"],
        fee_settle=row["fee_settle"],
    )


def _funding_where(hedge_id: int, symbol: str | None) -> tuple[str, tuple[Any, ...]]:
    if symbol is None:
        return "WHERE hedge_id=?", (hedge_id,)
    return "WHERE hedge_id=? AND symbol=?", (hedge_id, symbol)


#: tables every journal has (a missing one means the file was damaged or edited)
REQUIRED_TABLES = frozenset(
    {"hedges", "plans", "orders", "fills", "funding", "snapshots", "alerts", "events", "meta"}
)


def _permissions(path: Path) -> str:
    """``mode 0444, owner uid 1000`` (or why it cannot be read) for a message."""
    try:
        st = path.stat()
    except OSError as exc:
        return exc.strerror or "cannot stat"
    return f"mode {st.st_mode & 0o777:04o}, owner uid {st.st_uid}"


def _nearly_full(folder: Path) -> bool:
    """Less than 1 MB free where the journal lives: SQLite then reports a failed write of
    its shared-memory index as a bare "disk I/O error"."""
    try:
        st = os.statvfs(folder)
    except (OSError, AttributeError):
        return False
    return st.f_bavail * st.f_frsize < 1 << 20


def describe_sqlite_error(path: Path, exc: BaseException, doing: str) -> str:
    """One line for a user: what is wrong with the journal at ``path`` and what to do.

    Never advises moving the journal away: the journal is the only record of which
    venue positions are hedges (without it they become orphans).
    """
    text = str(exc).lower()
    folder = path.parent
    if "readonly" in text or "read-only" in text or "permission" in text:
        return (
            f"journal: cannot {doing}: {path} is read-only ({_permissions(path)}; folder "
            f"{_permissions(folder)}); nothing was written. Make it writable for this user "
            "(chmod u+w, or chattr -i for an immutable file) and run the command again; "
            "`althedge hedge status` and `althedge monitor` still work read-only"
        )
    if "locked" in text or "busy" in text:
        return (
            f"journal: cannot {doing}: {path} is locked by another program (not an althedge "
            "command: those take turns through the lock file beside it), e.g. an sqlite3 shell "
            "or a backup tool; close it and run the command again"
        )
    if "full" in text or "no space" in text or ("disk i/o error" in text
                                                  and _nearly_full(folder)):
        return (
            f"journal: cannot {doing}: the disk holding {path} is full; nothing of this step "
            "was written. Free some space and run the command again"
        )
    if "unable to open" in text:
        return (
            f"journal: cannot {doing}: {path} cannot be opened ({_permissions(path)}; folder "
            f"{folder}: {_permissions(folder)}); check that the folder exists and is writable "
            "for this user"
        )
    if "malformed" in text or "not a database" in text or "corrupt" in text or (
        "no such table" in text or "no such column" in text
    ):
        return (
            f"journal: {path} is damaged ({exc}); keep the file (it is the record of your "
            "hedges) and restore it from a backup (`sqlite3 FILE .recover` salvages rows); "
            "`althedge hedge status --venue NAME` shows what the venue holds meanwhile"
        )
    return f"journal: cannot {doing}: {path}: {exc}"


class Journal:
    """The journal file; use as a context manager or call :meth:`close`.

    Every SQLite failure (read-only file, disk full, damage, a lock held by another
    program) becomes a one-line :class:`JournalError`; a write that fails is rolled
    back whole. :meth:`snapshot` opens a read-only copy in memory (for ``hedge
    status`` / ``monitor`` while the file cannot be written or another althedge
    process is acting): it reconciles and computes like the real one and writes nothing
    to disk (``read_only`` is then True).
    """

    def __init__(
        self, path: str | Path, *, timeout_s: float = 10.0, _conn: sqlite3.Connection | None = None
    ) -> None:
        self.path = Path(path)
        self.read_only = _conn is not None
        try:
            if _conn is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                _conn = sqlite3.connect(str(self.path), isolation_level=None, timeout=timeout_s)
                _conn.execute("PRAGMA journal_mode=WAL")
                _conn.execute("PRAGMA synchronous=FULL")
            self._conn = _conn
            self._conn.row_factory = sqlite3.Row
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._check_integrity()
            self.schema_version = migrate(self._conn)
            self._check_tables()
        except sqlite3.Error as exc:
            raise JournalError(describe_sqlite_error(self.path, exc, "open the journal")) from None
        except OSError as exc:
            raise JournalError(describe_sqlite_error(self.path, exc, "open the journal")) from None

    def write_problem(self) -> str | None:
        """Why this journal cannot be written (a read-only or immutable file or folder,
        a snapshot), as a one-line message; None when it can."""
        if self.read_only:
            return f"journal: {self.path} is open read-only (a snapshot); nothing is written"
        for target in (self.path, self.path.parent):
            if target.exists() and not os.access(target, os.W_OK):
                return describe_sqlite_error(
                    self.path, sqlite3.OperationalError("readonly"), "write the journal"
                )
        return None

    def foreign_lock_problem(self, wait_s: float = 1.0) -> str | None:
        """Why this journal cannot be written right now because another program (an
        sqlite3 shell, a backup tool) holds SQLite's write lock, waiting ``wait_s`` for
        it; None when a write could start. Takes and releases the write lock at once:
        writes nothing. For read-only commands, which then read a snapshot instead of
        failing on their first write."""
        if self.read_only:
            return None
        conn = self._conn
        (before,) = conn.execute("PRAGMA busy_timeout").fetchone()
        try:
            conn.execute(f"PRAGMA busy_timeout = {max(0, int(wait_s * 1000))}")
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc).lower() and "busy" not in str(exc).lower():
                raise JournalError(describe_sqlite_error(self.path, exc, "write")) from None
            return describe_sqlite_error(self.path, exc, "write").removesuffix(
                "; close it and run the command again")
        finally:
            conn.execute(f"PRAGMA busy_timeout = {int(before)}")
        return None

    def require_writable(self) -> None:
        """:class:`JournalError` now — before any order — when the journal cannot be written."""
        problem = self.write_problem()
        if problem is not None:
            raise JournalError(problem)

    @classmethod
    def snapshot(cls, path: str | Path, *, timeout_s: float = 5.0) -> Journal:
        """A read-only copy of the journal at ``path`` in memory (empty when there is none).

        Reads the file without writing anything (not even its WAL index when the folder
        is read-only), so it works on a read-only or immutable journal and while another
        process writes it (SQLite's backup takes one consistent snapshot).
        """
        path = Path(path)
        memory = sqlite3.connect(":memory:", isolation_level=None)
        if path.exists():
            last: sqlite3.Error | None = None
            for query in ("mode=ro", "immutable=1"):
                try:
                    src = sqlite3.connect(
                        f"file:{path}?{query}", uri=True, isolation_level=None, timeout=timeout_s
                    )
                    try:
                        src.backup(memory)
                    finally:
                        src.close()
                    last = None
                    break
                except sqlite3.Error as exc:
                    last = exc
            if last is not None:
                memory.close()
                raise JournalError(describe_sqlite_error(path, last, "read the journal"))
        return cls(path, _conn=memory)

    def _check_integrity(self) -> None:
        """``PRAGMA quick_check``: a damaged file is reported at start, before any order."""
        rows = self._conn.execute("PRAGMA quick_check").fetchall()
        problems = [str(r[0]) for r in rows if str(r[0]) != "ok"]
        if problems:
            raise JournalError(
                describe_sqlite_error(
                    self.path, sqlite3.DatabaseError(f"malformed: {problems[0]}"), "open"
                )
            )

    def _check_tables(self) -> None:
        names = {
            str(r[0])
            for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        missing = sorted(REQUIRED_TABLES - names)
        if missing:
            raise JournalError(
                describe_sqlite_error(
                    self.path, sqlite3.DatabaseError(f"no such table: {missing[0]}"), "open"
                )
            )

    # -- plumbing -----------------------------------------------------------------
    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on any exception).

        A failing SQLite call (read-only, disk full, locked, damaged) raises
        :class:`JournalError` with nothing of the transaction kept; an
        ``IntegrityError`` (a unique key) passes through for the caller to handle.
        """
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise JournalError(describe_sqlite_error(self.path, exc, "write")) from None
        try:
            yield self._conn
            self._conn.execute("COMMIT")
        except BaseException as exc:
            try:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            if isinstance(exc, sqlite3.Error) and not isinstance(exc, sqlite3.IntegrityError):
                raise JournalError(describe_sqlite_error(self.path, exc, "write")) from None
            raise

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            return list(self._conn.execute(sql, params).fetchall())
        except sqlite3.Error as exc:
            raise JournalError(describe_sqlite_error(self.path, exc, "read")) from None

    def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row of a query that always returns one."""
        rows = self._all(sql, params)
        return rows[0][0]

    def journal_mode(self) -> str:
        return str(self._scalar("PRAGMA journal_mode"))

    def installation_id(self) -> str:
        """Random id created with the journal; keeps client order ids unique per data dir."""
        return str(self._scalar("SELECT value FROM meta WHERE key='installation_id'"))

    def journal_id(self) -> str:
        """The journal's id (24 hex digits, random, made when the file is — migration 2
        gives an older journal one): part of every client order id it derives. A copy of
        the file has the same id until :meth:`renew_journal_id`."""
        return self.installation_id()

    def renew_journal_id(self) -> str:
        """Give the journal a new random id (a copy found reusing the original's client
        ids: the venue had an order with one of them); returns it."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE meta SET value=lower(hex(randomblob(12))) WHERE key='installation_id'"
            )
        return self.installation_id()

    def next_hedge_key(self) -> str:
        """Deterministic key of the next hedge: installation id and hedge number.

        The same before and after a dry run, so ``hedge open`` shows the exact client
        order ids ``hedge open --live`` will send.
        """
        last = int(self._scalar("SELECT COALESCE(MAX(id), 0) FROM hedges"))
        return f"{self.installation_id()}:{last + 1}"

    # -- hedges ---------------------------------------------------------------------
    def create_hedge(
        self,
        *,
        venue: str,
        symbol: str,
        opened_at: str,
        portfolio: Mapping[str, Any],
        settings: Mapping[str, Any],
        plan: Mapping[str, Any] | None = None,
    ) -> int:
        """Insert an ``open`` hedge (and its plan) in one transaction; returns its id."""
        with self.transaction() as conn:
            if conn.execute("SELECT 1 FROM hedges WHERE status='open'").fetchone():
                raise JournalError(
                    "journal: a hedge is already open; "
                    "run `althedge hedge status` or close it first"
                )
            cur = conn.execute(
                "INSERT INTO hedges (status, venue, symbol, opened_at, portfolio_json,"
                " settings_json) VALUES ('open', ?, ?, ?, ?, ?)",
                (venue, symbol, opened_at, _dumps(portfolio), _dumps(settings)),
            )
            hedge_id = int(cur.lastrowid or 0)
            if plan is not None:
                conn.execute(
                    "INSERT INTO plans (hedge_id, created_at, purpose, plan_json)"
                    " VALUES (?, ?, 'open', ?)",
                    (hedge_id, opened_at, _dumps(plan)),
                )
        return hedge_id

    def create_orphan_row(
        self, *, venue: str, symbol: str, at: str, settings: Mapping[str, Any]
    ) -> int:
        """A bookkeeping row (status ``abandoned``, never the open hedge) that the orders
        taking an orphan position off are journaled under; returns its id."""
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO hedges (status, venue, symbol, opened_at, portfolio_json,"
                " settings_json) VALUES ('abandoned', ?, ?, ?, '{}', ?)",
                (venue, symbol, at, _dumps(settings)),
            )
            return int(cur.lastrowid or 0)

    def active_hedge(self) -> HedgeRow | None:
        """The hedge with status ``open`` (at most one), or None."""
        rows = self._all("SELECT * FROM hedges WHERE status='open' ORDER BY id DESC")
        return _hedge(rows[0]) if rows else None

    def hedge(self, hedge_id: int) -> HedgeRow:
        rows = self._all("SELECT * FROM hedges WHERE id=?", (hedge_id,))
        if not rows:
            raise JournalError(f"journal: no hedge with id {hedge_id}")
        return _hedge(rows[0])

    def hedges(self) -> list[HedgeRow]:
        return [_hedge(r) for r in self._all("SELECT * FROM hedges ORDER BY id")]

    def finish_hedge(
        self, hedge_id: int, *, status: str, at: str, attribution: Mapping[str, Any] | None
    ) -> None:
        """Mark a hedge ``closed`` (with its attribution) or ``abandoned``."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE hedges SET status=?, closed_at=?, attribution_json=? WHERE id=?",
                (status, at, _dumps(attribution) if attribution is not None else None, hedge_id),
            )

    def update_settings(self, hedge_id: int, settings: Mapping[str, Any]) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE hedges SET settings_json=? WHERE id=?", (_dumps(settings), hedge_id)
            )

    # -- plans ------------------------------------------------------------------------
    def record_plan(
        self, hedge_id: int | None, plan: Mapping[str, Any], *, at: str, purpose: str
    ) -> int:
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO plans (hedge_id, created_at, purpose, plan_json) VALUES (?, ?, ?, ?)",
                (hedge_id, at, purpose, _dumps(plan)),
            )
            return int(cur.lastrowid or 0)

    def plans(self, hedge_id: int) -> list[dict[str, Any]]:
        return [
            {
                "id": r["id"],
                "at": r["created_at"],
                "purpose": r["purpose"],
                "plan": json.loads(r["plan_json"]),
            }
            for r in self._all("SELECT * FROM plans WHERE hedge_id=? ORDER BY id", (hedge_id,))
        ]

    # -- orders -----------------------------------------------------------------------
    def order_count(self, hedge_id: int) -> int:
        """Orders ever journaled for this hedge (the next sequence number for client ids)."""
        return int(self._scalar("SELECT COUNT(*) FROM orders WHERE hedge_id=?", (hedge_id,)))

    def record_intent(
        self,
        *,
        hedge_id: int,
        client_order_id: str,
        venue: str,
        symbol: str,
        side: str,
        amount: float,
        order_type: str,
        price: float | None,
        reduce_only: bool,
        purpose: str,
        at: str,
    ) -> int:
        """Write the ``intent`` row for an order about to be sent; returns the row id.

        Raises :class:`JournalError` if the client order id is already journaled
        (the caller must look that order up instead of sending it again).
        """
        try:
            with self.transaction() as conn:
                cur = conn.execute(
                    "INSERT INTO orders (hedge_id, client_order_id, venue, symbol, side, amount,"
                    " order_type, price, reduce_only, purpose, status, created_at, updated_at,"
                    " created_wall_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'intent', ?, ?, ?)",
                    (
                        hedge_id,
                        client_order_id,
                        venue,
                        symbol,
                        side,
                        float(amount),
                        order_type,
                        price,
                        int(reduce_only),
                        purpose,
                        at,
                        at,
                        int(time.time() * 1000),
                    ),
                )
                return int(cur.lastrowid or 0)
        except sqlite3.IntegrityError:
            if self._resend_not_sent(client_order_id, amount, price, at):
                return int(self._scalar(
                    "SELECT id FROM orders WHERE client_order_id=?", (client_order_id,)
                ))
            raise JournalError(
                f"journal: client order id {client_order_id} already recorded; "
                "run `althedge hedge status` to reconcile it"
            ) from None

    def _resend_not_sent(
        self, client_order_id: str, amount: float, price: float | None, at: str
    ) -> bool:
        """An order journaled ``not_sent`` (the venue never had it) becomes an ``intent``
        again, to be sent under the SAME client id (a resumed open): idempotent at the
        venue should the first attempt show up after all; its creation time stays the
        first attempt's (the earliest the venue can have it from). True when it was such
        a row."""
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE orders SET status='intent', amount=?, price=?, updated_at=?"
                " WHERE client_order_id=? AND status='not_sent' AND filled=0",
                (float(amount), price, at, client_order_id),
            )
            return cur.rowcount == 1

    def mark_status(self, client_order_id: str, status: str, *, at: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE orders SET status=?, updated_at=? WHERE client_order_id=?",
                (status, at, client_order_id),
            )

    def record_result(
        self,
        client_order_id: str,
        *,
        status: str,
        filled: float,
        average_price: float | None,
        fee_usd: float,
        exchange_order_id: str | None,
        at: str,
        fee_settle: float | None = None,
    ) -> float:
        """Record the venue's view of an order (cumulative ``filled``/``fee_usd``).

        ``fee_settle`` is the cumulative fee in the settlement currency (coin for an
        inverse contract; equal to ``fee_usd`` for a linear one when omitted).

        Inserts one fill row for any newly filled amount (price derived from the
        change in cumulative ``filled × average_price``). Idempotent: recording the
        same answer twice inserts nothing. Returns the newly filled contracts.
        """
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT * FROM orders WHERE client_order_id=?", (client_order_id,)
            ).fetchone()
            if row is None:
                raise JournalError(f"journal: unknown client order id {client_order_id}")
            old = _order(row)
            old_fee_settle = float(row["fee_settle"])
            new_fee_settle = max(
                float(fee_usd if fee_settle is None else fee_settle), old_fee_settle
            )
            new_filled = max(float(filled), old.filled)
            delta = new_filled - old.filled
            if delta > 1e-12:
                old_cost = old.filled * (old.average_price or 0.0)
                avg = average_price if average_price is not None else (old.average_price or 0.0)
                price = (new_filled * avg - old_cost) / delta
                if not price > 0:
                    price = avg
                conn.execute(
                    "INSERT OR IGNORE INTO fills (order_id, hedge_id, client_order_id, side,"
                    " amount, price, fee_usd, cumulative_filled, at, fee_settle)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        old.id,
                        old.hedge_id,
                        client_order_id,
                        old.side,
                        delta,
                        price,
                        max(float(fee_usd), old.fee_usd) - old.fee_usd,
                        new_filled,
                        at,
                        new_fee_settle - old_fee_settle,
                    ),
                )
            conn.execute(
                "UPDATE orders SET status=?, filled=?, average_price=?, fee_usd=?, fee_settle=?,"
                " exchange_order_id=COALESCE(?, exchange_order_id), updated_at=? WHERE id=?",
                (
                    status,
                    new_filled,
                    average_price if average_price is not None else old.average_price,
                    max(float(fee_usd), old.fee_usd),
                    new_fee_settle,
                    exchange_order_id,
                    at,
                    old.id,
                ),
            )
        return delta

    def order(self, client_order_id: str) -> OrderRow | None:
        rows = self._all("SELECT * FROM orders WHERE client_order_id=?", (client_order_id,))
        return _order(rows[0]) if rows else None

    def orders(
        self, hedge_id: int | None = None, statuses: Sequence[str] | None = None
    ) -> list[OrderRow]:
        sql = "SELECT * FROM orders WHERE 1=1"
        params: list[Any] = []
        if hedge_id is not None:
            sql += " AND hedge_id=?"
            params.append(hedge_id)
        if statuses:
            sql += f" AND status IN ({','.join('?' * len(statuses))})"
            params.extend(statuses)
        return [_order(r) for r in self._all(sql + " ORDER BY id", params)]

    def fills(self, hedge_id: int, symbol: str | None = None) -> list[FillRow]:
        """Fills of a hedge, oldest first; only those of ``symbol``'s orders when given."""
        if symbol is None:
            rows = self._all("SELECT * FROM fills WHERE hedge_id=? ORDER BY id", (hedge_id,))
        else:
            rows = self._all(
                "SELECT f.* FROM fills f JOIN orders o ON o.id = f.order_id"
                " WHERE f.hedge_id=? AND o.symbol=? ORDER BY f.id",
                (hedge_id, symbol),
            )
        return [_fill(r) for r in rows]

    def net_contracts(self, hedge_id: int, symbol: str | None = None) -> float:
        """Signed contracts the fills add up to (+ long, − short), of one symbol if given."""
        return sum(f.signed_amount for f in self.fills(hedge_id, symbol))

    # -- funding, snapshots, alerts, events --------------------------------------------
    def record_funding(
        self,
        hedge_id: int,
        *,
        at: str,
        amount_usd: float,
        rate: float | None,
        mark_price: float | None,
        amount_settle: float | None = None,
        symbol: str = "",
    ) -> bool:
        """Record a funding payment (USD, + received); False if ``at`` was already recorded
        (for this ``symbol``: each leg of a hedge has its own payments).

        ``amount_settle``: the same payment in the settlement currency (coin for inverse).
        """
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO funding (hedge_id, symbol, at, amount_usd, rate,"
                " mark_price, amount_settle) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    hedge_id,
                    symbol,
                    at,
                    float(amount_usd),
                    rate,
                    mark_price,
                    float(amount_usd if amount_settle is None else amount_settle),
                ),
            )
            return cur.rowcount == 1

    def record_funding_many(self, hedge_id: int, rows: Sequence[Mapping[str, Any]]) -> int:
        """Record the payments of ``rows`` (each: ``symbol``, ``at``, ``amount_usd``,
        ``rate``, ``mark_price``, ``amount_settle``) that are not journaled yet, all in ONE
        transaction — none when nothing is new (a status check after months of funding
        writes only the new payments). Returns how many were new."""
        have = {
            (str(r["symbol"]), str(r["at"]))
            for r in self._all("SELECT symbol, at FROM funding WHERE hedge_id=?", (hedge_id,))
        }
        new = [r for r in rows if (str(r.get("symbol", "")), str(r["at"])) not in have]
        if not new:
            return 0
        with self.transaction() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO funding (hedge_id, symbol, at, amount_usd, rate,"
                " mark_price, amount_settle) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        hedge_id,
                        str(r.get("symbol", "")),
                        str(r["at"]),
                        float(r["amount_usd"]),
                        r.get("rate"),
                        r.get("mark_price"),
                        float(r["amount_usd"] if r.get("amount_settle") is None
                              else r["amount_settle"]),
                    )
                    for r in new
                ],
            )
        return len(new)

    def record_deposit(
        self, hedge_id: int | None, *, currency: str, amount: float, price_usd: float, at: str
    ) -> None:
        """Collateral moved into the venue account (``amount`` of ``currency`` at ``price_usd``)."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO deposits (hedge_id, at, currency, amount, price_usd)"
                " VALUES (?, ?, ?, ?, ?)",
                (hedge_id, at, currency.upper(), float(amount), float(price_usd)),
            )

    def deposits(self, hedge_id: int | None = None) -> list[dict[str, Any]]:
        """Deposits of one hedge (or all when ``hedge_id`` is None), oldest first."""
        if hedge_id is None:
            return [dict(r) for r in self._all("SELECT * FROM deposits ORDER BY id")]
        return [
            dict(r)
            for r in self._all("SELECT * FROM deposits WHERE hedge_id=? ORDER BY id", (hedge_id,))
        ]

    def funding(self, hedge_id: int, symbol: str | None = None) -> list[dict[str, Any]]:
        """Funding payments of a hedge (of one ``symbol`` when given), by time."""
        where, params = _funding_where(hedge_id, symbol)
        return [dict(r) for r in self._all(f"SELECT * FROM funding {where} ORDER BY at", params)]

    def funding_total_usd(self, hedge_id: int, symbol: str | None = None) -> float:
        where, params = _funding_where(hedge_id, symbol)
        sql = f"SELECT COALESCE(SUM(amount_usd), 0) FROM funding {where}"
        return float(self._scalar(sql, params))

    def record_snapshot(self, hedge_id: int | None, snapshot: Mapping[str, Any], *, at: str) -> int:
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO snapshots (hedge_id, at, snapshot_json) VALUES (?, ?, ?)",
                (hedge_id, at, _dumps(snapshot)),
            )
            return int(cur.lastrowid or 0)

    def snapshots(self, hedge_id: int | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM snapshots" + (" WHERE hedge_id=?" if hedge_id is not None else "")
        rows = self._all(sql + " ORDER BY id", (hedge_id,) if hedge_id is not None else ())
        return [{"id": r["id"], "at": r["at"], **json.loads(r["snapshot_json"])} for r in rows]

    def record_alert(
        self, hedge_id: int | None, *, kind: str, severity: str, message: str, at: str
    ) -> int:
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO alerts (hedge_id, at, kind, severity, message) VALUES (?, ?, ?, ?, ?)",
                (hedge_id, at, kind, severity, message),
            )
            return int(cur.lastrowid or 0)

    def alerts(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self._all("SELECT * FROM alerts ORDER BY id")]

    def record_event(
        self, hedge_id: int | None, kind: str, detail: Mapping[str, Any], *, at: str
    ) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO events (hedge_id, at, kind, detail_json) VALUES (?, ?, ?, ?)",
                (hedge_id, at, kind, _dumps(detail)),
            )

    def events(self) -> list[dict[str, Any]]:
        return [
            {
                "id": r["id"],
                "hedge_id": r["hedge_id"],
                "at": r["at"],
                "kind": r["kind"],
                "detail": json.loads(r["detail_json"]),
            }
            for r in self._all("SELECT * FROM events ORDER BY id")
        ]
