"""The venues layer's fixtures: a local HTTP server on 127.0.0.1 that real ccxt exchange
objects talk to, and the offline Binance USDⓈ-M model on it.

Tests build a ccxt instance, point every ``urls['api']`` entry at this server
(``point_at``) and script the answers. Every request is recorded (method, path,
query/body params, headers) so tests can assert what ccxt built and signed. The server
and the Binance model are ``tests/fixtures/binance_usdm.py`` — the same code the CLI
tests run real ``althedge`` processes against (``ALTHEDGE_CCXT_GATEWAY``).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def _load_model() -> Any:
    """tests/fixtures/binance_usdm.py via the root conftest's loader (loaded by path: a
    test module that loads this conftest by path finds the same module object)."""
    name = "althedge_tests_root_conftest"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).resolve().parents[1] / "conftest.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name].binance_usdm()


_model = _load_model()
FIXTURES = _model.FIXTURES
fixture_json = _model.fixture_json
Recorded = _model.Recorded
Reply = _model.Reply
Handler = _model.Handler
LocalServer = _model.LocalServer
FakeBinance = _model.FakeBinance
point_at = _model.point_at
API_KEY = _model.API_KEY
API_SECRET = _model.API_SECRET


@pytest.fixture
def local_server() -> Iterator[Any]:
    with _model.serve() as srv:
        yield srv


@pytest.fixture
def fake_binance(local_server: Any) -> Any:
    """The Binance USDⓈ-M model, with the recorded FUNDING_FEE rows in its income ledger
    (its clock starts an hour after the second of them)."""
    return FakeBinance(local_server, start_ms=1_764_090_000_000).install(seed_income=True)


@pytest.fixture
def api_keys() -> tuple[str, str]:
    return API_KEY, API_SECRET


@pytest.fixture
def binance_venue(fake_binance: FakeBinance) -> Any:
    """A CcxtVenue over a real ccxt.binanceusdm pointed at the local server."""
    import ccxt

    from althedge.venues.ccxt_venue import CcxtVenue
    from althedge.venues.credentials import Credentials

    ex = ccxt.binanceusdm(
        {"apiKey": API_KEY, "secret": API_SECRET, "timeout": 1000, "enableRateLimit": False}
    )
    point_at(ex, fake_binance.server.base)
    return CcxtVenue(
        ex,
        credentials=Credentials("binanceusdm", API_KEY, API_SECRET),
        sleep=lambda _s: None,
        lookup_delay_s=0.0,
    )


@pytest.fixture
def load_fixture() -> Any:
    """``load_fixture(name)`` → parsed JSON from tests/fixtures/ccxt_venue."""
    return fixture_json
