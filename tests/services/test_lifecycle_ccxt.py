"""The lifecycle through the real ccxt adapter (ccxt.binanceusdm) against a local server.

Reuses the stateful Binance USDⓈ-M stand-in of tests/venues/conftest.py (a real HTTP
server on 127.0.0.1; the venues layer's fixtures). The lifecycle, the journal and
the adapter are the real ones: dry run sends nothing, live sets margin mode and
leverage before the first order, the exact client order id shown in the dry run is
the one sent, the limit order times out into a market fallback, keys stay out of
the journal, and a position the journal does not explain stops trading.
"""

from __future__ import annotations

import copy
import importlib.util
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from althedge.config import parse_portfolio
from althedge.data import open_source
from althedge.errors import JournalError
from althedge.journal import Journal
from althedge.services.lifecycle import (
    ExecutionSettings,
    hedge_status,
    open_hedge,
    rebalance_hedge,
)

_spec = importlib.util.spec_from_file_location(
    "althedge_tests_venues_conftest", Path(__file__).resolve().parents[1] / "venues" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
_venues = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _venues  # dataclasses look their module up there
_spec.loader.exec_module(_venues)
# the venues layer's fixtures, used here as they are
local_server = _venues.local_server
fake_binance = _venues.fake_binance
binance_venue = _venues.binance_venue

PORTFOLIO: dict[str, Any] = {
    "holdings": [{"asset": "SOL", "amount": 120}, {"asset": "AVAX", "amount": 400}],
    "hedge": {"exchange": "binance", "contract": "linear", "leverage": 2},
}
AS_OF = date(2025, 2, 14)
FAST = ExecutionSettings(timeout_s=0.0, poll_s=0.01)


def test_open_on_binance_through_ccxt(
    tmp_path: Path, shared_data: Path, binance_venue: Any, fake_binance: Any
) -> None:
    source = open_source(shared_data / "daily")
    cfg = parse_portfolio(PORTFOLIO)
    server = fake_binance.server
    with Journal(tmp_path / "journal.sqlite") as j:
        dry = open_hedge(j, binance_venue, cfg, source, as_of=AS_OF, execution=FAST)
        assert server.calls("POST", "/fapi/v1/order") == []
        assert server.calls("POST", "/fapi/v1/leverage") == []
        assert j.orders() == [] and j.active_hedge() is None
        (order,) = dry.orders
        assert order["side"] == "sell" and order["price"] == pytest.approx(88_000.0)

        live = open_hedge(j, binance_venue, cfg, source, as_of=AS_OF, live=True, execution=FAST)
        posts = [(r.method, r.path) for r in server.requests if r.method == "POST"]
        assert posts.index(("POST", "/fapi/v1/leverage")) < posts.index(("POST", "/fapi/v1/order"))
        first, fallback = server.calls("POST", "/fapi/v1/order")
        assert first.params["newClientOrderId"] == order["client_order_id"]
        assert first.params["type"] == "LIMIT" and "reduceOnly" not in first.params
        assert fallback.params["type"] == "MARKET" and fallback.params["side"] == "SELL"
        assert [e["status"] for e in live.executed] == ["canceled", "filled"]
        assert -j.net_contracts(live.hedge_id) == pytest.approx(order["contracts"])  # type: ignore[arg-type]
        assert sum(f.fee_usd for f in j.fills(live.hedge_id)) > 0  # type: ignore[arg-type]
    data = (tmp_path / "journal.sqlite").read_bytes()
    for secret in (_venues.API_KEY, _venues.API_SECRET):
        assert secret.encode() not in data

    # the exchange reports a position the journal does not explain (0.010 BTC short)
    fake_binance.positions = copy.deepcopy(_venues.fixture_json("binanceusdm_positionRisk_v3.json"))
    with Journal(tmp_path / "journal.sqlite") as j:
        n_orders = len(server.calls("POST", "/fapi/v1/order"))
        st = hedge_status(j, binance_venue, source, as_of=AS_OF)
        assert not st.reconciliation.ok and any("venue -0.01" in w for w in st.warnings)
        with pytest.raises(JournalError, match="disagree"):
            rebalance_hedge(j, binance_venue, source, threshold_pct=0.0, as_of=AS_OF, live=True)
        assert len(server.calls("POST", "/fapi/v1/order")) == n_orders  # nothing sent
