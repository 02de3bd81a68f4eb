"""A hedge's whole life on each new venue, through the one execution loop.

open (a short at the mark, crossing limit) → status (the position read back) → rebalance
(grow, then shrink with reduce-only) → close (reduce-only buy-back) on BingX, WEEX,
Hyperliquid and MEXC (with API futures access), each a real ccxt object talking to its
local fake. After the close nothing is left, every order carried the client id, and the
amounts the exchange received add up to the intents in the exchange's own units.
"""

from __future__ import annotations

import pytest

from althedge.venues.ccxt_venue import CcxtVenue
from althedge.venues.credentials import Credentials
from althedge.venues.protocol import OrderRequest, client_order_id

from .conftest import HL_PRIVATE_KEY, HL_WALLET

CASES = {
    # venue fixture, symbol, size to open, grow by, shrink by (exchange units)
    "bingx": ("BTC/USDT:USDT", 0.7778, 0.1, 0.2),
    "weex": ("BTC/USDT:USDT", 0.7778, 0.1, 0.2),
    "hyperliquid": ("BTC/USDC:USDC", 0.7778, 0.1, 0.2),
    "mexc": ("BTC/USDT:USDT", 7778, 1000, 2000),
}


def _venue(name: str, request: pytest.FixtureRequest, keys: tuple[str, str]) -> CcxtVenue:
    ex = request.getfixturevalue(name)
    if name == "hyperliquid":
        creds = Credentials(name, HL_WALLET, HL_PRIVATE_KEY, wallet=True)
    else:
        creds = Credentials(name, keys[0], keys[1], "weex-passphrase-123" if name == "weex"
                            else None)
    return CcxtVenue(ex, credentials=creds, sleep=lambda _s: None)


@pytest.mark.parametrize("name", list(CASES))
def test_open_status_rebalance_close(
    name: str, request: pytest.FixtureRequest, api_keys: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ALTHEDGE_MEXC_FUTURES_ORDERS", "enabled")
    if name == "mexc":
        request.getfixturevalue("fake_mexc").restricted = False
    symbol, size, grow, shrink = CASES[name]
    venue = _venue(name, request, api_keys)
    venue.set_leverage(symbol, 2, "isolated")

    def run(step: int, purpose: str, side: str, qty: float, reduce: bool) -> float:
        order = OrderRequest(symbol, side, qty, "limit",  # type: ignore[arg-type]
                             client_order_id(f"cycle-{name}", step, purpose),
                             price=1.0, reduce_only=reduce)
        report = venue.execute(order, offset_bps=-5, timeout_s=0, fallback="market")
        return sum(o.filled_contracts for o in report.orders)

    assert run(0, "open", "sell", size, False) == pytest.approx(size)
    pos = venue.position(symbol)  # status
    assert pos is not None and pos.side.name == "SHORT"
    assert pos.contracts == pytest.approx(size)
    assert run(1, "grow", "sell", grow, False) == pytest.approx(grow)
    assert run(2, "shrink", "buy", shrink, True) == pytest.approx(shrink)
    pos = venue.position(symbol)
    assert pos is not None and pos.contracts == pytest.approx(size + grow - shrink)
    left = size + grow - shrink
    assert run(3, "close", "buy", left, True) == pytest.approx(left)
    after = venue.position(symbol)
    assert after is None or after.contracts == pytest.approx(0.0, abs=1e-9)
