"""The venue conformance contract (tests/venues/test_conformance.py) on each new venue:
same client id → the same order; lookup by client id; unknown id → None; cancel; a
second cancel of a final order is no error. Real ccxt objects, local fakes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from althedge.venues.ccxt_venue import CcxtVenue
from althedge.venues.credentials import Credentials

from .conftest import HL_PRIVATE_KEY, HL_WALLET

_spec = importlib.util.spec_from_file_location(
    "venue_conformance", Path(__file__).resolve().parents[1] / "test_conformance.py"
)
assert _spec is not None and _spec.loader is not None
_conformance = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_conformance)
_contract = _conformance._contract  # the one contract, not a copy

CASES = {
    "bingx": ("BTC/USDT:USDT", 0.01, 120_000.0),
    "weex": ("BTC/USDT:USDT", 0.01, 120_000.0),
    "hyperliquid": ("BTC/USDC:USDC", 0.01, 120_000.0),
    "mexc": ("BTC/USDT:USDT", 100, 120_000.0),
}


@pytest.mark.parametrize("name", list(CASES))
def test_order_contract_on_new_venue(
    name: str, request: pytest.FixtureRequest, api_keys: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ALTHEDGE_MEXC_FUTURES_ORDERS", "enabled")
    ex = request.getfixturevalue(name)
    if name == "mexc":
        request.getfixturevalue("fake_mexc").restricted = False
    if name == "hyperliquid":
        creds = Credentials(name, HL_WALLET, HL_PRIVATE_KEY, wallet=True)
    else:
        creds = Credentials(name, *api_keys, "weex-passphrase-123" if name == "weex" else None)
    venue = CcxtVenue(ex, credentials=creds, sleep=lambda _s: None)
    symbol, size, price = CASES[name]
    venue.set_leverage(symbol, 2, "isolated")
    _contract(venue, symbol, size, price)  # a sell far above the mark: rests, then cancelled
