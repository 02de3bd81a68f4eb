"""One contract, every venue: the paper exchange and each ccxt exchange althedge trades on.

The lifecycle calls only what :class:`~althedge.venues.protocol.Venue` and
:class:`~althedge.venues.protocol.AccountReports` declare, so every venue must have
each method with the protocol's parameters (names, kinds, and a default wherever the
protocol has one) — checked here on the signatures, not just the names. The ccxt
venues are real ccxt objects built offline (nothing is sent: the checks read no
network); a behavioural part runs the same order contract on paper and on a ccxt
exchange over the local fixture server.
"""

from __future__ import annotations

import inspect
from typing import Any

import ccxt
import pandas as pd
import pytest

from althedge.errors import InputError
from althedge.exchanges import PROFILES, SUPPORTED_EXCHANGES
from althedge.venues.ccxt_venue import CcxtVenue
from althedge.venues.paper import PaperExchange
from althedge.venues.protocol import AccountReports, OrderRequest, Venue, client_order_id

VENUES = ("paper", *SUPPORTED_EXCHANGES)


def _venue(name: str) -> Any:
    if name == "paper":
        btc = pd.Series(50_000.0, index=pd.date_range("2024-01-01", periods=30, freq="D"))
        return PaperExchange({"BTC": btc}, now="2024-01-10")  # type: ignore[dict-item]
    ex = getattr(ccxt, name)({"apiKey": "k", "secret": "s", "password": "p"})
    return CcxtVenue(ex, sleep=lambda _s: None)


def _protocol_methods(proto: type) -> dict[str, inspect.Signature]:
    out = {}
    for name, member in vars(proto).items():
        if name.startswith("_") or not callable(member):
            continue
        out[name] = inspect.signature(member)
    return out


def test_every_supported_exchange_has_a_tradable_profile() -> None:
    assert set(SUPPORTED_EXCHANGES) == {
        "binanceusdm", "binancecoinm", "bybit", "okx", "deribit",
        "bingx", "mexc", "weex", "hyperliquid",
    }
    for name in SUPPORTED_EXCHANGES:
        p = PROFILES[name]
        assert p.tradable and p.lookup is not None and p.fees.taker > 0
        # MEXC runs no futures test network: the profile says so instead
        assert p.test_environment in ("sandbox", "demo") or (
            p.test_environment is None and p.test_environment_note
        )


@pytest.mark.parametrize("name", VENUES)
def test_venue_satisfies_the_protocol_by_signature(name: str) -> None:
    venue = _venue(name)
    assert isinstance(venue, Venue) and isinstance(venue, AccountReports)
    assert isinstance(venue.name, str) and isinstance(venue.deposits, dict)
    for proto in (Venue, AccountReports):
        methods = _protocol_methods(proto)
        assert len(methods) >= (10 if proto is Venue else 5)
        for method, want in methods.items():
            have = inspect.signature(getattr(type(venue), method))
            want_params = list(want.parameters.values())
            have_params = list(have.parameters.values())[: len(want_params)]
            assert [(p.name, p.kind) for p in have_params] == [
                (p.name, p.kind) for p in want_params
            ], f"{name}.{method}{have} differs from {proto.__name__}.{method}{want}"
            for w, h in zip(want_params, have_params, strict=True):
                if w.default is not inspect.Parameter.empty:
                    assert h.default is not inspect.Parameter.empty, (name, method, w.name)
            extra = list(have.parameters.values())[len(want_params):]
            assert all(p.default is not inspect.Parameter.empty or p.kind in (
                p.VAR_KEYWORD, p.VAR_POSITIONAL) for p in extra), (name, method, extra)


@pytest.mark.parametrize("name", SUPPORTED_EXCHANGES)
def test_deposits_are_read_or_said_to_be_not_available(name: str) -> None:
    """Every ccxt venue either has a deposit source (its profile says which) or reports
    deposits as NOT AVAILABLE (None and a status note), never as an empty "zero"."""
    venue = _venue(name)
    p = PROFILES[name]
    if p.deposits is None:
        assert venue.deposits_since(1_700_000_000_000, ["USDT"]) is None
        assert venue.deposits_note.startswith("deposits: not available")
    else:
        assert p.deposits_source and venue.deposits_note == ""
    assert {n for n in ("binanceusdm", "binancecoinm", "bybit", "okx", "deribit")
            if PROFILES[n].deposits is not None} == {
        "binanceusdm", "binancecoinm", "bybit", "okx", "deribit"}


def _contract(venue: Any, symbol: str, contracts: float, price: float) -> None:
    """The order contract every venue keeps."""
    cid = client_order_id("conformance", 0, "open")
    order = OrderRequest(symbol, "sell", contracts, "limit", cid, price=price)
    first = venue.place_order(order)
    again = venue.place_order(order)  # same client id: the same order, nothing new
    assert again.exchange_order_id == first.exchange_order_id
    assert first.client_order_id == cid and first.contracts == pytest.approx(contracts)
    found = venue.fetch_order(symbol, cid)
    assert found is not None and found.client_order_id == cid
    assert venue.fetch_order(symbol, client_order_id("conformance", 9, "none")) is None
    venue.cancel_order(symbol, cid)
    final = venue.fetch_order(symbol, cid)
    assert final is not None and final.is_final
    venue.cancel_order(symbol, cid)  # already final: no error
    assert isinstance(venue.now_ms(), int) and venue.now_ms() > 1_600_000_000_000


def test_order_contract_on_paper() -> None:
    venue = _venue("paper")
    venue.set_leverage("BTC/USDT:USDT", 2, "isolated")
    _contract(venue, "BTC/USDT:USDT", 0.01, 60_000.0)  # far above the mark: rests
    assert venue.now_ms() == int(pd.Timestamp("2024-01-10", tz="UTC").timestamp() * 1000)


def test_order_contract_on_ccxt_binance(binance_venue: Any, fake_binance: Any) -> None:
    binance_venue.set_leverage("BTC/USDT:USDT", 2, "isolated")
    _contract(binance_venue, "BTC/USDT:USDT", 0.01, 95_000.0)
    assert len(fake_binance.server.calls("POST", "/fapi/v1/order")) == 1


@pytest.mark.parametrize("name", SUPPORTED_EXCHANGES)
def test_testnet_reaches_each_exchanges_test_or_demo_environment(name: str) -> None:
    """--testnet works for every venue: Binance futures → demo trading (ccxt refuses the
    old futures sandbox for signed calls), Bybit → api-testnet, OKX → demo trading
    (``x-simulated-trading: 1``), Deribit → test.deribit.com. Nothing is sent."""
    if PROFILES[name].test_environment is None:  # MEXC: no futures test network
        with pytest.raises(InputError, match="no test or demo environment"):
            CcxtVenue.create(name, testnet=True)
        return
    venue = CcxtVenue.create(name, testnet=True)
    assert venue.name == f"{name}-testnet"
    urls = str(venue.exchange.urls["api"])
    expected = {
        "binanceusdm": "https://demo-fapi.binance.com",
        "binancecoinm": "https://demo-dapi.binance.com",
        "bybit": "https://api-testnet.",
        "deribit": "https://test.deribit.com",
        "bingx": "https://open-api-vst.",  # BingX demo account (VST)
        "hyperliquid": "https://api.hyperliquid-testnet.xyz",
    }
    if name == "weex":  # demo trading: the live host, capi/v3/sim order endpoints
        assert venue.exchange.options.get("sandboxMode") or getattr(
            venue.exchange, "isSandboxModeEnabled", False)
    elif name == "okx":
        assert venue.exchange.headers.get("x-simulated-trading") == "1"
    else:
        assert expected[name] in urls
    assert "https://fapi.binance.com" not in urls and "https://api.bybit.com" not in urls
