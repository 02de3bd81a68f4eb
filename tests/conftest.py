"""Shared test fixtures: where the real market data lives, a clean data directory, and the
offline Binance USDⓈ-M model (tests/fixtures/binance_usdm.py) for in-process and CLI tests."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The project's real market data (../shared/data beside the checkout; CI has it there too).
SHARED_DATA = Path(os.environ.get("ALTHEDGE_SHARED_DATA", ROOT.parent / "shared" / "data"))


#: test functions marked ``slow`` (see the file's header)
SLOW_LIST = Path(__file__).resolve().parent / "slow_tests.txt"


def slow_functions() -> set[str]:
    """``tests/<file>.py::<function>`` of every test listed in tests/slow_tests.txt."""
    lines = SLOW_LIST.read_text(encoding="utf-8").splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the listed slow tests (deselected by default: pyproject's ``-m "not slow"``)."""
    slow = slow_functions()
    for item in items:
        # "file::test[param]@group" (xdist's loadgroup adds the @group)
        if item.nodeid.split("@", 1)[0].split("[", 1)[0] in slow:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of the real data folder (daily/, hourly/, funding/); fails loudly if absent."""
    assert (SHARED_DATA / "daily" / "BTC-USD_1d.csv").is_file(), (
        f"real market data not found at {SHARED_DATA}; set ALTHEDGE_SHARED_DATA"
    )
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test gets its own ALTHEDGE_HOME so nothing touches ~/.althedge."""
    home = tmp_path_factory.mktemp("althedge_home")
    monkeypatch.setenv("ALTHEDGE_HOME", str(home))
    return home


_MODEL = "althedge_tests_binance_usdm"


def binance_usdm() -> Any:
    """The module tests/fixtures/binance_usdm.py, loaded once by path (the suite runs in
    importlib mode, where test folders are not packages)."""
    if _MODEL not in sys.modules:
        path = ROOT / "tests" / "fixtures" / "binance_usdm.py"
        spec = importlib.util.spec_from_file_location(_MODEL, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[_MODEL] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules[_MODEL]


_binance = binance_usdm()


# --------------------------------------------------------------------------- ccxt venues
# A local HTTP server on 127.0.0.1 that real ccxt exchange objects talk to, and the offline
# Binance USDⓈ-M model on it (tests/fixtures/binance_usdm.py): tests point a ccxt object's
# ``urls['api']`` at the server (``point_at``) or run the CLI against it, script answers
# with ``route``, and assert every request recorded (method, path, params, headers).


@pytest.fixture
def local_server() -> Iterator[Any]:
    """A :class:`LocalServer` with no routes (each exchange's fake installs its own)."""
    with _binance.serve() as srv:
        yield srv


@pytest.fixture
def fake_binance(local_server: Any) -> Any:
    """The Binance USDⓈ-M model for in-process tests, with the recorded FUNDING_FEE rows in
    its income ledger (its clock starts an hour after the second of them). It serves no
    server time: the venue's clock is then ccxt's, which a test may set
    (``binance_venue.exchange.milliseconds``)."""
    return _binance.FakeBinance(
        local_server, start_ms=1_764_090_000_000, serve_time=False
    ).install(seed_income=True)


@pytest.fixture
def binance_venue(fake_binance: Any) -> Any:
    """A CcxtVenue over a real ccxt.binanceusdm pointed at the local server."""
    import ccxt

    from althedge.venues.ccxt_venue import CcxtVenue
    from althedge.venues.credentials import Credentials

    key, secret = _binance.API_KEY, _binance.API_SECRET
    ex = ccxt.binanceusdm({"apiKey": key, "secret": secret, "timeout": 1000,
                           "enableRateLimit": False})
    _binance.point_at(ex, fake_binance.server.base)
    # the model stamps orders with the venue's clock (ccxt's, which a test may set), so an
    # order is never older than the intent it answers
    fake_binance.clock = lambda: int(ex.milliseconds())
    return CcxtVenue(ex, credentials=Credentials("binanceusdm", key, secret),
                     sleep=lambda _s: None, lookup_delay_s=0.0)


@pytest.fixture
def binance_model() -> Iterator[Any]:
    """A served offline Binance USDⓈ-M for real ``althedge`` processes (strict reduce-only,
    limit orders filled on arrival): ``binance_model.althedge(home, *args)`` runs the CLI
    against it."""
    with _binance.serve_binance() as model:
        yield model


@pytest.fixture
def api_keys() -> tuple[str, str]:
    """The fake API key and secret (long enough to spot if they ever leak)."""
    return _binance.API_KEY, _binance.API_SECRET


@pytest.fixture
def load_fixture() -> Any:
    """``load_fixture(name)`` → parsed JSON from tests/fixtures/ccxt_venue."""
    return _binance.fixture_json


# --------------------------------------------------------------------------- webhook
class WebhookHandler(BaseHTTPRequestHandler):
    """Records every JSON body POSTed to it; answers ``reply`` (a test may set 500)."""

    received: ClassVar[list[dict[str, Any]]] = []
    reply: ClassVar[int] = 204

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(type(self).reply)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def webhook() -> Iterator[tuple[str, type[WebhookHandler]]]:
    """A webhook receiver on 127.0.0.1: (url, handler class with ``received``, ``reply``)."""
    handler = type("H", (WebhookHandler,), {"received": [], "reply": 204})
    httpd = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}/alerts", handler
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def short_journal(tmp_path: Path) -> Callable[..., Any]:
    """``short_journal(venue, symbol, contracts, opened_ms)`` → (journal, hedge id): a
    journal holding one open hedge whose leg is ``contracts`` short of ``symbol``."""
    from althedge.journal import Journal

    def build(venue: str, symbol: str, contracts: float, opened_ms: int) -> tuple[Any, int]:
        j = Journal(tmp_path / "journal.sqlite")
        at = "2025-11-13T02:13:20+00:00"
        leg = {"symbol": symbol, "hedge_asset": "BTC", "leverage": 2.0, "margin_mode": "cross",
               "exchange": venue, "opened_ms": opened_ms}
        hid = j.create_hedge(venue=venue, symbol=symbol, opened_at=at, portfolio={},
                             settings={"legs": [leg], "hedge_key": "k1"})
        cid = f"ah{venue}open0"
        j.record_intent(hedge_id=hid, client_order_id=cid, venue=venue, symbol=symbol,
                        side="sell", amount=contracts, order_type="market", price=None,
                        reduce_only=False, purpose="open", at=at)
        j.record_result(cid, status="filled", filled=contracts, average_price=90_000.0,
                        fee_usd=0.5, exchange_order_id="1", at=at)
        return j, hid

    return build


def imported_once(journal: Any, venue: Any, hedge_id: int, price_text: str) -> None:
    """Two commands' reconciliations: the liquidation is journaled (journal = venue) and
    its critical alert raised — once."""
    from althedge.services.hedge.reconcile import reconcile

    rec = reconcile(journal, venue)
    (alert,) = [a for a in journal.alerts() if a["kind"] == "liquidated"]
    assert alert["severity"] == "critical" and price_text in alert["message"]
    assert journal.net_contracts(hedge_id) == pytest.approx(0.0, abs=1e-9)
    assert rec.ok, rec.differences
    reconcile(journal, venue)
    assert len([a for a in journal.alerts() if a["kind"] == "liquidated"]) == 1


@pytest.fixture
def liquidation_imported_once() -> Callable[..., None]:
    """:func:`imported_once` for tests in other modules."""
    return imported_once


@pytest.fixture
def memory_keyring() -> Iterator[Callable[[dict[tuple[str, str], str]], None]]:
    """``memory_keyring({(service, username): secret})`` makes an in-memory OS keyring
    the ``keyring`` library's backend for this test (the previous one comes back after)."""
    import keyring
    from keyring.backend import KeyringBackend

    class Memory(KeyringBackend):
        priority = 1  # type: ignore[assignment]

        def __init__(self, store: dict[tuple[str, str], str]) -> None:
            super().__init__()
            self.store = dict(store)

        def get_password(self, service: str, username: str) -> str | None:
            return self.store.get((service, username))

        def set_password(self, service: str, username: str, password: str) -> None:
            self.store[(service, username)] = password

        def delete_password(self, service: str, username: str) -> None:
            self.store.pop((service, username), None)

    previous: Any = keyring.get_keyring()
    try:
        yield lambda store: keyring.set_keyring(Memory(store))
    finally:
        keyring.set_keyring(previous)
