"""``make_exchange``: the ONE place a ccxt exchange object is built (data and venues).

* ``purpose="data"``: public market data, spot included where the profile says so;
* ``purpose="trade"``: derivatives markets only (smaller market lists, no wallet
  endpoint a futures-only key cannot read), credentials, and the test environment
  when ``testnet`` (sandbox or demo trading, per profile; refused where none exists).

``ALTHEDGE_CCXT_GATEWAY`` (environment) sends every request to
``<gateway>/<host>/<path>`` instead of ``https://<host>/<path>`` (a forwarding
gateway; the tests point it at a local fixture server).
"""

from __future__ import annotations

import os
from typing import Any, Literal

from althedge.errors import InputError
from althedge.exchanges.registry import PROFILES, profile

__all__ = ["GATEWAY_ENV", "make_exchange", "route_through_gateway", "use_test_environment"]

GATEWAY_ENV = "ALTHEDGE_CCXT_GATEWAY"


def route_through_gateway(exchange: Any, gateway: str) -> None:
    """Rewrite the exchange's API base URLs to go through ``gateway`` (``http://host:port``)."""
    base = gateway.rstrip("/")

    def rewrite(value: Any) -> Any:
        if isinstance(value, str) and value.startswith(("https://", "http://")):
            return f"{base}/{value.split('://', 1)[1]}"
        if isinstance(value, dict):
            return {k: rewrite(v) for k, v in value.items()}
        return value

    exchange.urls["api"] = rewrite(exchange.urls["api"])


def use_test_environment(exchange: Any) -> str:
    """Switch ``exchange`` to its profile's test environment; a one-line description.

    Binance futures: demo trading (ccxt ``enable_demo_trading``) — ccxt refuses every
    signed call of the old futures testnet. Others: ccxt's sandbox. An exchange with no
    test environment raises :class:`InputError`.
    """
    import ccxt

    p = PROFILES.get(str(exchange.id))
    kind = p.test_environment if p is not None else "sandbox"
    try:
        if kind == "demo":
            exchange.enable_demo_trading(True)
        elif kind == "sandbox":
            exchange.set_sandbox_mode(True)
        else:
            raise ccxt.NotSupported(str(exchange.id))
    except ccxt.NotSupported:
        why = f" ({p.test_environment_note})" if p is not None and p.test_environment_note else ""
        raise InputError(
            f"--testnet: {exchange.id} has no test or demo environment althedge can use{why}; "
            "drop --testnet (or use --venue paper)"
        ) from None
    return p.test_environment_note if p is not None else "sandbox"


def make_exchange(
    exchange: str | Any,
    *,
    purpose: Literal["data", "trade"] = "data",
    config: dict[str, Any] | None = None,
    testnet: bool = False,
    timeout_ms: int = 15_000,
) -> Any:
    """A ccxt exchange object for ``exchange`` (a ccxt id or an existing object).

    Rate limiting is on; ``config`` entries (API keys, ``options``) are merged in. An
    existing object is configured the same way (market types, currencies) and returned.
    """
    import ccxt

    if isinstance(exchange, str):
        ex_id = exchange.strip().lower()
        cls = getattr(ccxt, ex_id, None)
        if ex_id not in ccxt.exchanges or cls is None:
            raise InputError(
                f"exchange: {exchange!r} is not a ccxt exchange id; use e.g. "
                f"{', '.join(k for k in PROFILES if k not in ('binanceusdm', 'binancecoinm'))}"
            )
        if purpose == "trade":
            profile(ex_id, trading=True)
        base: dict[str, Any] = {"enableRateLimit": True, "timeout": timeout_ms}
        for key, value in (config or {}).items():
            if key == "options" and isinstance(value, dict):
                base.setdefault("options", {}).update(value)
            else:
                base[key] = value
        result = cls(base)
    else:
        result = exchange
        result.enableRateLimit = True if purpose == "data" else result.enableRateLimit
    configure(result, purpose)
    if testnet:
        use_test_environment(result)
    gateway = os.environ.get(GATEWAY_ENV)
    if gateway and isinstance(exchange, str):
        route_through_gateway(result, gateway)
    return result


def configure(exchange: Any, purpose: Literal["data", "trade"]) -> None:
    """Market-load options of the profile for ``purpose``; never the currency list.

    The currency endpoint is private (a wallet permission) on several exchanges; a
    futures-only or read-only key may not read it, and neither data nor trading needs it.
    """
    p = PROFILES.get(str(exchange.id))
    exchange.has["fetchCurrencies"] = False
    if p is None:
        return
    types = p.trade_market_types if purpose == "trade" else p.data_market_types
    if types is None:
        return
    current = exchange.options.get("fetchMarkets")
    if isinstance(current, dict):
        exchange.options["fetchMarkets"] = {**current, "types": list(types)}
    else:
        exchange.options["fetchMarkets"] = {"types": list(types)}
    if exchange.id == "binance":
        exchange.options["fetchMargins"] = False
    if p.prepare is not None:
        p.prepare(exchange)
