"""Every exchange profile althedge knows, by ccxt id."""

from __future__ import annotations

from althedge.errors import InputError
from althedge.exchanges.binance import BINANCE, BINANCECOINM, BINANCEUSDM
from althedge.exchanges.bingx import BINGX
from althedge.exchanges.bybit import BYBIT
from althedge.exchanges.deribit import DERIBIT
from althedge.exchanges.hyperliquid import HYPERLIQUID
from althedge.exchanges.mexc import MEXC
from althedge.exchanges.okx import OKX
from althedge.exchanges.profile import ExchangeProfile
from althedge.exchanges.weex import WEEX

__all__ = ["PROFILES", "SUPPORTED_EXCHANGES", "family_of", "fee_schedule", "profile"]

#: ccxt id → profile. Adding an exchange: one module, one line here (docs/venues.md).
PROFILES: dict[str, ExchangeProfile] = {
    p.ccxt_id: p
    for p in (
        BINANCEUSDM, BINANCECOINM, BINANCE, BYBIT, OKX, DERIBIT,
        BINGX, MEXC, WEEX, HYPERLIQUID,
    )
}

#: ccxt ids althedge can trade on (``--venue``).
SUPPORTED_EXCHANGES: tuple[str, ...] = tuple(k for k, p in PROFILES.items() if p.tradable)


def profile(exchange_id: str, *, trading: bool = False) -> ExchangeProfile:
    """The profile of ccxt id ``exchange_id``; :class:`InputError` naming the choices if none."""
    key = str(exchange_id).strip().lower()
    found = PROFILES.get(key)
    if found is None or (trading and not found.tradable):
        choices = SUPPORTED_EXCHANGES if trading else tuple(PROFILES)
        raise InputError(
            f"exchange: {exchange_id!r} is not supported; use one of {', '.join(choices)}"
            + (" or 'paper'" if trading else "")
        )
    return found


def family_of(exchange_id: str) -> str:
    """The core's exchange name for a ccxt id (``binanceusdm`` → ``binance``); unknown ids as is."""
    key = str(exchange_id).strip().lower()
    found = PROFILES.get(key)
    return found.family if found is not None else key


def fee_schedule(family_or_id: str) -> tuple[float, float]:
    """(maker, taker) base-tier fee rates of an exchange (family name or ccxt id)."""
    key = str(family_or_id).strip().lower()
    for p in PROFILES.values():
        if key in (p.ccxt_id, p.family):
            return p.fees.maker, p.fees.taker
    raise InputError(f"exchange: no fee schedule for {family_or_id!r}; use one of "
                     f"{', '.join(sorted({p.family for p in PROFILES.values()}))}")
