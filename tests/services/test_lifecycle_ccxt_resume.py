"""On Binance through real ccxt offline (tests/fixtures/binance_usdm.py's model):

* a journal restored from an older copy derives the client ids its original already used;
  the exchange answers the lookup with the old order (stamped two days before the new
  intent), which is never taken as the new open's result — the intent is ``id_taken``,
  nothing is sent, the journal gets a new id, and the next open sends under new ids;
* an open cut at a step (the CLI tests kill a real process there on paper) is resumed by
  ``open`` again under the client id its dry run showed.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from tests.services.test_lifecycle_ccxt import AS_OF, FAST, PORTFOLIO

from althedge.config import parse_portfolio
from althedge.data import open_source
from althedge.errors import JournalError
from althedge.journal import Journal
from althedge.services.hedge import open_hedge

TWO_DAYS_MS = 2 * 86_400_000


def test_a_restored_journal_never_adopts_the_old_order(
    tmp_path: Path, shared_data: Path, binance_venue: Any, fake_binance: Any
) -> None:
    source = open_source(shared_data / "daily")
    cfg = parse_portfolio(PORTFOLIO)
    server = fake_binance.server
    path = tmp_path / "journal.sqlite"
    with Journal(path) as j:
        first_id = j.journal_id()
    shutil.copy(path, tmp_path / "copy.sqlite")

    def two_days_ago() -> int:
        return int(time.time() * 1000) - TWO_DAYS_MS

    wall_clock = binance_venue.exchange.milliseconds
    fake_binance.clock = binance_venue.exchange.milliseconds = two_days_ago  # the first open
    with Journal(path) as j:
        old = open_hedge(j, binance_venue, cfg, source, as_of=AS_OF, live=True, execution=FAST)
    old_ids = [e["client_order_id"] for e in old.executed]
    assert old_ids[0].startswith("ah" + first_id[:6])  # the planned order names the journal
    sent = len(server.calls("POST", "/fapi/v1/order"))
    fake_binance.book.clear()  # that hedge was closed since: the venue holds nothing

    fake_binance.clock = binance_venue.exchange.milliseconds = wall_clock  # two days on
    shutil.copy(tmp_path / "copy.sqlite", path)  # the copy: same journal id, no hedge
    with Journal(path) as j:
        with pytest.raises(JournalError, match="restored from an older copy"):
            open_hedge(j, binance_venue, cfg, source, as_of=AS_OF, live=True, execution=FAST)
        assert len(server.calls("POST", "/fapi/v1/order")) == sent  # nothing sent
        ((cid, status, filled),) = [(o.client_order_id, o.status, o.filled) for o in j.orders()]
        assert cid == old_ids[0] and status == "id_taken" and filled == 0
        assert j.fills(1) == []  # nothing of the old order taken
        assert j.journal_id() != first_id

        again = open_hedge(j, binance_venue, cfg, source, as_of=AS_OF, live=True,
                           execution=FAST)
    assert again.message.startswith("resuming hedge #1")
    new_ids = [e["client_order_id"] for e in again.executed]
    assert new_ids and not set(new_ids) & set(old_ids)
    assert len(server.calls("POST", "/fapi/v1/order")) == sent + len(new_ids)


class _Killed(Exception):
    """Stands in for the process dying at a step (the CLI tests kill a real process)."""


@pytest.mark.parametrize("step", ["leverage_set", "intent"])
def test_an_open_cut_at_a_step_is_resumed_by_open_on_binance(
    tmp_path: Path, shared_data: Path, binance_venue: Any, fake_binance: Any, step: str
) -> None:
    source = open_source(shared_data / "daily")
    cfg = parse_portfolio(PORTFOLIO)
    server = fake_binance.server

    def die(name: str) -> None:
        if name == step:
            raise _Killed(name)

    with Journal(tmp_path / "journal.sqlite") as j:
        (planned,) = open_hedge(j, binance_venue, cfg, source, as_of=AS_OF,
                                execution=FAST).orders
        with pytest.raises(_Killed):
            open_hedge(j, binance_venue, cfg, source, as_of=AS_OF, live=True, execution=FAST,
                       on_step=die)
        assert server.calls("POST", "/fapi/v1/order") == []
        again = open_hedge(j, binance_venue, cfg, source, as_of=AS_OF, live=True,
                           execution=FAST)
        assert again.message.startswith("resuming hedge #1")
        first = server.calls("POST", "/fapi/v1/order")[0]
        assert first.params["newClientOrderId"] == planned["client_order_id"]  # the same id
        assert -j.net_contracts(1) == pytest.approx(planned["contracts"])
