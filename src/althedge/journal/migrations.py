"""Ordered schema migrations of the journal.

Each entry of :data:`MIGRATIONS` is ``(version, description, sql)``; versions
are consecutive from 1. :func:`migrate` applies the missing ones, each in its
own transaction together with the row it adds to ``schema_version``, so a
crash mid-migration leaves the previous version intact. Never edit a released
migration: append a new one.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from althedge.errors import JournalError

__all__ = ["MIGRATIONS", "current_version", "migrate"]

_V1 = """
CREATE TABLE hedges (
    id INTEGER PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('open', 'closed', 'abandoned')),
    venue TEXT NOT NULL,
    symbol TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    closed_at TEXT,
    portfolio_json TEXT NOT NULL,
    settings_json TEXT NOT NULL,
    attribution_json TEXT
);
CREATE TABLE plans (
    id INTEGER PRIMARY KEY,
    hedge_id INTEGER REFERENCES hedges(id),
    created_at TEXT NOT NULL,
    purpose TEXT NOT NULL,
    plan_json TEXT NOT NULL
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    hedge_id INTEGER NOT NULL REFERENCES hedges(id),
    client_order_id TEXT NOT NULL UNIQUE,
    venue TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    amount REAL NOT NULL CHECK (amount > 0),
    order_type TEXT NOT NULL,
    price REAL,
    reduce_only INTEGER NOT NULL,
    purpose TEXT NOT NULL,
    status TEXT NOT NULL,
    exchange_order_id TEXT,
    filled REAL NOT NULL DEFAULT 0,
    average_price REAL,
    fee_usd REAL NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX orders_status ON orders(status);
CREATE TABLE fills (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL REFERENCES orders(id),
    hedge_id INTEGER NOT NULL REFERENCES hedges(id),
    client_order_id TEXT NOT NULL,
    side TEXT NOT NULL,
    amount REAL NOT NULL CHECK (amount > 0),
    price REAL NOT NULL,
    fee_usd REAL NOT NULL,
    cumulative_filled REAL NOT NULL,
    at TEXT NOT NULL,
    UNIQUE (client_order_id, cumulative_filled)
);
CREATE TABLE funding (
    id INTEGER PRIMARY KEY,
    hedge_id INTEGER NOT NULL REFERENCES hedges(id),
    at TEXT NOT NULL,
    amount_usd REAL NOT NULL,
    rate REAL,
    mark_price REAL,
    UNIQUE (hedge_id, at)
);
CREATE TABLE snapshots (
    id INTEGER PRIMARY KEY,
    hedge_id INTEGER REFERENCES hedges(id),
    at TEXT NOT NULL,
    snapshot_json TEXT NOT NULL
);
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    hedge_id INTEGER REFERENCES hedges(id),
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    hedge_id INTEGER REFERENCES hedges(id),
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail_json TEXT NOT NULL
);
"""

_V2 = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('installation_id', lower(hex(randomblob(12))));
"""

_V3 = """
ALTER TABLE orders ADD COLUMN fee_settle REAL NOT NULL DEFAULT 0;
ALTER TABLE fills ADD COLUMN fee_settle REAL NOT NULL DEFAULT 0;
ALTER TABLE funding ADD COLUMN amount_settle REAL;
CREATE TABLE deposits (
    id INTEGER PRIMARY KEY,
    hedge_id INTEGER REFERENCES hedges(id),
    at TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount REAL NOT NULL,
    price_usd REAL NOT NULL
);
"""

_V4 = """
CREATE TABLE funding_v4 (
    id INTEGER PRIMARY KEY,
    hedge_id INTEGER NOT NULL REFERENCES hedges(id),
    symbol TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL,
    amount_usd REAL NOT NULL,
    rate REAL,
    mark_price REAL,
    amount_settle REAL,
    UNIQUE (hedge_id, symbol, at)
);
INSERT INTO funding_v4 (id, hedge_id, symbol, at, amount_usd, rate, mark_price, amount_settle)
    SELECT f.id, f.hedge_id, COALESCE(h.symbol, ''), f.at, f.amount_usd, f.rate, f.mark_price,
           f.amount_settle
    FROM funding f LEFT JOIN hedges h ON h.id = f.hedge_id;
DROP TABLE funding;
ALTER TABLE funding_v4 RENAME TO funding
"""

_V5 = """
ALTER TABLE orders ADD COLUMN created_wall_ms INTEGER
"""

MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (1, "hedges, plans, orders, fills, funding, snapshots, alerts, events", _V1),
    (2, "meta: installation id (makes client order ids unique per data directory)", _V2),
    (3, "fees and funding in the settlement currency; collateral deposits", _V3),
    (4, "funding per symbol (one hedge may hold several legs)", _V4),
    (5, "orders: the machine's clock when the intent was journaled (paper: a restored "
        "journal's reused client ids are told by it)", _V5),
)


def current_version(conn: sqlite3.Connection) -> int:
    """Highest applied migration (0 for a new file)."""
    row = conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name='schema_version'"
    ).fetchone()
    if row is None:
        return 0
    got = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(got[0] or 0)


def migrate(conn: sqlite3.Connection) -> int:
    """Apply every missing migration in order; returns the resulting version.

    ``conn`` must be in autocommit mode (``isolation_level=None``); each
    migration runs inside ``BEGIN IMMEDIATE … COMMIT``.
    """
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        "version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    have = current_version(conn)
    latest = MIGRATIONS[-1][0]
    if have > latest:
        raise JournalError(
            f"journal: schema version {have} is newer than this althedge ({latest}); "
            "upgrade althedge or use another --data-dir"
        )
    for version, description, sql in MIGRATIONS:
        if version <= have:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in sql.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                (version, description, datetime.now(UTC).isoformat(timespec="seconds")),
            )
        except Exception:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return current_version(conn)
