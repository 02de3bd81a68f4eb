"""The SQLite journal: migrations, WAL, transactions, idempotent order/fill recording."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from althedge.errors import JournalError
from althedge.journal import MIGRATIONS, Journal, current_version


def _open_hedge(j: Journal) -> int:
    return j.create_hedge(
        venue="paper",
        symbol="BTC/USDT:USDT",
        opened_at="2024-01-01T00:00:00+00:00",
        portfolio={"SOL": 10.0},
        settings={"leverage": 2},
        plan={"contracts": 1.5},
    )


def _intent(j: Journal, hedge_id: int, coid: str, side: str = "sell", amount: float = 2.0) -> None:
    j.record_intent(
        hedge_id=hedge_id,
        client_order_id=coid,
        venue="paper",
        symbol="BTC/USDT:USDT",
        side=side,
        amount=amount,
        order_type="limit",
        price=40000.0,
        reduce_only=side == "buy",
        purpose="open",
        at="2024-01-01T00:00:00+00:00",
    )


def test_new_journal_is_migrated_to_latest_in_wal_mode(tmp_path: Path) -> None:
    with Journal(tmp_path / "journal.sqlite") as j:
        assert j.schema_version == MIGRATIONS[-1][0]
        assert j.journal_mode() == "wal"
    conn = sqlite3.connect(tmp_path / "journal.sqlite")
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"hedges", "plans", "orders", "fills", "funding", "snapshots", "alerts"} <= tables
    assert current_version(conn) == MIGRATIONS[-1][0]
    # re-opening applies nothing twice
    assert conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == len(MIGRATIONS)
    conn.close()
    with Journal(tmp_path / "journal.sqlite") as j:
        assert j.schema_version == MIGRATIONS[-1][0]


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    Journal(tmp_path / "j.sqlite").close()
    conn = sqlite3.connect(tmp_path / "j.sqlite")
    conn.execute("INSERT INTO schema_version VALUES (999, 'future', 'x')")
    conn.commit()
    conn.close()
    with pytest.raises(JournalError, match="newer than this althedge"):
        Journal(tmp_path / "j.sqlite")


def test_garbage_file_gives_journal_error(tmp_path: Path) -> None:
    (tmp_path / "j.sqlite").write_bytes(b"not a database at all" * 100)
    with pytest.raises(JournalError, match="is damaged") as err:
        Journal(tmp_path / "j.sqlite")
    # never "move the file away": without the journal the venue's positions are orphans
    assert "move" not in str(err.value) and "restore it from a backup" in str(err.value)


def test_only_one_open_hedge(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as j:
        hid = _open_hedge(j)
        assert j.active_hedge() is not None and j.active_hedge().id == hid  # type: ignore[union-attr]
        with pytest.raises(JournalError, match="already open"):
            _open_hedge(j)
        assert len(j.plans(hid)) == 1
        j.finish_hedge(hid, status="closed", at="2024-02-01", attribution={"net_usd": 1.0})
        assert j.active_hedge() is None
        assert j.hedge(hid).attribution == {"net_usd": 1.0}
        assert _open_hedge(j) != hid


def test_duplicate_client_order_id_is_refused(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as j:
        hid = _open_hedge(j)
        _intent(j, hid, "ahopen0abc")
        with pytest.raises(JournalError, match="already recorded"):
            _intent(j, hid, "ahopen0abc")
        assert len(j.orders(hid)) == 1
        assert j.orders(hid, ["intent"])[0].status == "intent"


def test_partial_fills_become_fill_rows_and_repeats_add_nothing(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as j:
        hid = _open_hedge(j)
        _intent(j, hid, "c1", amount=2.0)
        common = {"exchange_order_id": "x1", "at": "t"}
        assert j.record_result(
            "c1", status="partially_filled", filled=0.5, average_price=100.0, fee_usd=0.1, **common
        ) == pytest.approx(0.5)
        # the same answer twice (e.g. after a crash) adds nothing
        assert (
            j.record_result(
                "c1",
                status="partially_filled",
                filled=0.5,
                average_price=100.0,
                fee_usd=0.1,
                **common,
            )
            == 0.0
        )
        j.record_result(
            "c1", status="filled", filled=2.0, average_price=130.0, fee_usd=0.4, **common
        )
        fills = j.fills(hid)
        assert [f.amount for f in fills] == pytest.approx([0.5, 1.5])
        # 0.5 @ 100 then 1.5 @ p with average 130 → p = (2·130 − 50)/1.5 = 140
        assert fills[1].price == pytest.approx(140.0)
        assert sum(f.fee_usd for f in fills) == pytest.approx(0.4)
        assert j.net_contracts(hid) == pytest.approx(-2.0)
        assert j.order("c1").status == "filled"  # type: ignore[union-attr]


def test_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as j:
        hid = _open_hedge(j)
        with pytest.raises(RuntimeError), j.transaction() as conn:
            conn.execute(
                "INSERT INTO alerts (hedge_id, at, kind, severity, message)"
                " VALUES (?, 't', 'k', 's', 'm')",
                (hid,),
            )
            raise RuntimeError("boom")
        assert j.alerts() == []


def test_funding_is_recorded_once_per_timestamp(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as j:
        hid = _open_hedge(j)
        assert j.record_funding(hid, at="2024-01-02", amount_usd=3.5, rate=1e-4, mark_price=4e4)
        assert not j.record_funding(hid, at="2024-01-02", amount_usd=3.5, rate=1e-4, mark_price=4e4)
        assert j.record_funding(hid, at="2024-01-03", amount_usd=-1.0, rate=-1e-4, mark_price=4e4)
        assert j.funding_total_usd(hid) == pytest.approx(2.5)


def test_snapshots_alerts_events_roundtrip(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as j:
        hid = _open_hedge(j)
        j.record_snapshot(hid, {"beta": 1.2}, at="t1")
        j.record_alert(hid, kind="beta_drift", severity="warning", message="m", at="t1")
        j.record_event(hid, "reconcile", {"differences": []}, at="t1")
        assert j.snapshots(hid)[0]["beta"] == 1.2
        assert j.alerts()[0]["kind"] == "beta_drift"
        assert j.events()[0]["detail"] == {"differences": []}


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(min_value=0.01, max_value=5.0), min_size=1, max_size=6),
    st.floats(min_value=10.0, max_value=1e5),
)
def test_fills_sum_to_cumulative_filled(
    tmp_path_factory: pytest.TempPathFactory, increments: list[float], price: float
) -> None:
    path = tmp_path_factory.mktemp("j") / "j.sqlite"
    with Journal(path) as j:
        hid = _open_hedge(j)
        total = sum(increments)
        _intent(j, hid, "c", amount=total)
        cum = 0.0
        for inc in increments:
            cum += inc
            for _ in range(2):  # each answer recorded twice: still counted once
                j.record_result(
                    "c",
                    status="partially_filled",
                    filled=cum,
                    average_price=price,
                    fee_usd=cum * 0.001,
                    exchange_order_id=None,
                    at="t",
                )
        assert sum(f.amount for f in j.fills(hid)) == pytest.approx(total)
        assert sum(f.fee_usd for f in j.fills(hid)) == pytest.approx(total * 0.001)


def _old_journal(path: Path, upto: int) -> sqlite3.Connection:
    """A journal as an earlier althedge wrote it: migrations 1 … ``upto`` applied by hand
    (no Journal code involved), one open hedge row. The caller adds rows and closes it."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL,"
        " applied_at TEXT NOT NULL)"
    )
    for version, description, sql in MIGRATIONS[:upto]:
        for statement in sql.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute("INSERT INTO schema_version VALUES (?, ?, 'then')", (version, description))
    conn.execute(
        "INSERT INTO hedges (status, venue, symbol, opened_at, portfolio_json, settings_json)"
        " VALUES ('open', 'paper', 'BTC/USDT:USDT', 't', '{}', '{}')"
    )
    return conn


def test_old_journal_is_upgraded_in_order_keeping_its_rows(tmp_path: Path) -> None:
    """A version-1 journal (as an earlier althedge wrote it) gains migrations 2.. in order."""
    path = tmp_path / "j.sqlite"
    conn = _old_journal(path, upto=1)
    conn.close()
    with Journal(path) as j:
        assert j.schema_version == MIGRATIONS[-1][0]
        assert j.active_hedge() is not None
        key = j.next_hedge_key()
        assert key.endswith(":2") and len(j.installation_id()) == 24
        _intent(j, 1, "c1")
        j.record_result(
            "c1",
            status="filled",
            filled=2.0,
            average_price=1.0,
            fee_usd=0.5,
            exchange_order_id=None,
            at="t",
            fee_settle=0.25,
        )
        assert j.fills(1)[0].fee_settle == pytest.approx(0.25)
    with Journal(path) as j:  # stable across opens
        assert j.next_hedge_key() == key
    conn = sqlite3.connect(path)
    versions = [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY version")]
    conn.close()
    assert versions == [m[0] for m in MIGRATIONS]


def test_installation_ids_differ_between_data_dirs(tmp_path: Path) -> None:
    with Journal(tmp_path / "a.sqlite") as a, Journal(tmp_path / "b.sqlite") as b:
        assert a.installation_id() != b.installation_id()


def test_deposits_roundtrip(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as j:
        hid = _open_hedge(j)
        j.record_deposit(hid, currency="btc", amount=0.1, price_usd=60_000.0, at="t")
        assert j.deposits(hid) == j.deposits()
        assert j.deposits()[0]["currency"] == "BTC"


def test_v3_funding_rows_gain_their_hedge_symbol(tmp_path: Path) -> None:
    """Migration 4: funding is keyed per (hedge, symbol, time) — two legs may be paid at
    the same instant — and existing rows take their hedge's symbol."""
    path = tmp_path / "j.sqlite"
    conn = _old_journal(path, upto=3)
    conn.execute(
        "INSERT INTO funding (hedge_id, at, amount_usd, rate, mark_price, amount_settle)"
        " VALUES (1, '100', 2.5, 1e-4, 6e4, 2.5)"
    )
    conn.close()
    with Journal(path) as j:
        assert j.schema_version == MIGRATIONS[-1][0] >= 4
        assert j.funding(1)[0]["symbol"] == "BTC/USDT:USDT"
        assert j.funding_total_usd(1, "BTC/USDT:USDT") == pytest.approx(2.5)
        # the same instant on the other leg is a payment of its own; a repeat is not
        assert j.record_funding(1, at="100", amount_usd=1.0, rate=1e-4, mark_price=3e3,
                                symbol="ETH/USDT:USDT")
        assert not j.record_funding(1, at="100", amount_usd=1.0, rate=1e-4, mark_price=3e3,
                                    symbol="ETH/USDT:USDT")
        assert j.funding_total_usd(1) == pytest.approx(3.5)
        assert j.funding_total_usd(1, "ETH/USDT:USDT") == pytest.approx(1.0)


def test_v4_orders_gain_the_machine_clock_of_their_intent(tmp_path: Path) -> None:
    """Migration 5: each intent keeps the machine's clock when it was journaled
    (``created_wall_ms``) — the paper venue's orders are told apart by it when a restored
    journal runs again at the same paper date; rows from before have none."""
    import time

    path = tmp_path / "j.sqlite"
    conn = _old_journal(path, upto=4)
    conn.execute(
        "INSERT INTO orders (hedge_id, client_order_id, venue, symbol, side, amount,"
        " order_type, price, reduce_only, purpose, status, created_at, updated_at)"
        " VALUES (1, 'old', 'paper', 'BTC/USDT:USDT', 'sell', 1, 'market', NULL, 0, 'open',"
        " 'filled', 't', 't')"
    )
    conn.close()
    before = int(time.time() * 1000)
    with Journal(path) as j:
        assert j.schema_version == 5
        old = j.order("old")
        assert old is not None and old.created_wall_ms is None
        _intent(j, 1, "new")
        new = j.order("new")
        assert new is not None and new.created_wall_ms is not None
        assert before <= new.created_wall_ms <= int(time.time() * 1000)
