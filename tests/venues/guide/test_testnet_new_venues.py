"""``--testnet`` on the guide's exchanges: the test environment ccxt offers, or a refusal.

* BingX: the demo account ("VST", open-api-vst.bingx.com; ccxt sandbox), USDⓈ-M only;
* WEEX: refused — ccxt's sandbox (demo trading, ``capi/v3/sim/``) takes orders but no
  leverage, margin mode or cancel, so a hedge cannot be run there;
* Hyperliquid: the testnet, api.hyperliquid-testnet.xyz (docs "Testnet");
* MEXC: no futures test network — refused in one line before anything is built.
"""

from __future__ import annotations

from typing import Any

import pytest

from althedge.errors import InputError
from althedge.venues.ccxt_venue import CcxtVenue
from althedge.venues.credentials import Credentials

from .conftest import HL_PRIVATE_KEY, HL_WALLET, FakeWeex, point_at


def _creds(name: str) -> Credentials:
    if name == "hyperliquid":
        return Credentials(name, HL_WALLET, HL_PRIVATE_KEY, wallet=True)
    return Credentials(name, "test-key", "test-secret",
                       "weex-passphrase-123" if name == "weex" else None)


@pytest.mark.parametrize(("name", "host"), [
    ("bingx", "https://open-api-vst.bingx.com/openApi"),
    ("hyperliquid", "https://api.hyperliquid-testnet.xyz"),
])
def test_testnet_hosts(name: str, host: str) -> None:
    venue = CcxtVenue.create(name, _creds(name), testnet=True)
    urls = venue.exchange.urls["api"]
    values = [v for v in (urls.values() if isinstance(urls, dict) else [urls])
              if isinstance(v, str)]
    assert values and all(v.replace("{hostname}", "bingx.com").startswith(host)
                          for v in values)
    assert venue.name == f"{name}-testnet"


def test_mexc_has_no_testnet() -> None:
    with pytest.raises(InputError) as err:
        CcxtVenue.create("mexc", _creds("mexc"), testnet=True)
    text = str(err.value)
    assert "mexc has no test or demo environment" in text and "\n" not in text
    assert "drop --testnet" in text


def test_weex_demo_trading_is_refused_with_the_reason(
    fake_weex: FakeWeex, local_server: Any, api_keys: tuple[str, str]
) -> None:
    """WEEX demo trading exists, but ccxt 4.5.90 refuses every private call in sandbox
    mode except create order, positions, balance and the order history — no leverage,
    no margin mode, no cancel: althedge refuses ``--testnet`` there, saying why."""
    import ccxt

    with pytest.raises(InputError) as err:
        CcxtVenue.create("weex", _creds("weex"), testnet=True)
    text = str(err.value)
    assert "weex has no test or demo environment" in text and "cancel orders" in text
    assert "\n" not in text
    # what ccxt itself does in sandbox mode: the leverage call never leaves the machine
    ex = ccxt.weex({"apiKey": api_keys[0], "secret": api_keys[1],
                    "password": "weex-passphrase-123", "timeout": 5_000})
    ex.set_sandbox_mode(True)  # before the urls move: ccxt swaps them for the test ones
    ex.has["fetchCurrencies"] = False
    point_at(ex, local_server.base)
    with pytest.raises(ccxt.NotSupported, match="not available in sandbox mode"):
        ex.set_leverage(2, "BTC/USDT:USDT", {"marginMode": "isolated"})
    assert not local_server.calls("POST", "/capi/v3/account/leverage")
