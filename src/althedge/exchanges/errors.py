"""ccxt errors → althedge's one-line errors (the ONE translation, for data and venues).

A message never carries a key, secret, signature or URL query: the secrets passed in
are masked, URLs are cut to ``<url>``, and long key-like tokens become ``***``.
"""

from __future__ import annotations

import re
from typing import Any

from althedge.errors import ExchangeError
from althedge.exchanges.registry import PROFILES

__all__ = ["clean_message", "error_code", "translate_error"]

_URL = re.compile(r"https?://\S+")
_LONG_TOKEN = re.compile(r"\b[A-Za-z0-9+/=_-]{40,}\b")
_SECRETISH = re.compile(r"(signature|apikey|api_key|sign|secret|passphrase)=[^&\s\"']+", re.I)
_CODE = re.compile(r"""["']?(?:code|sCode|error_code|retCode)["']?\s*[:=]\s*["']?(-?\d+)""")


def clean_message(err: BaseException | str, secrets: tuple[str, ...] = (), limit: int = 200) -> str:
    """One line of ``err``'s text with secrets, URLs, signatures and long tokens removed."""
    text = " ".join(str(err).split())
    for s in sorted(secrets, key=len, reverse=True):
        if s:
            text = text.replace(s, "***")
    text = _SECRETISH.sub(r"\1=***", text)
    text = _URL.sub("<url>", text)
    text = _LONG_TOKEN.sub("***", text)
    return text[:limit] + ("…" if len(text) > limit else "")


def error_code(err: BaseException | str) -> str | None:
    """The exchange's error code in a ccxt error's text (``-4015``, ``110072``, ``59107``)."""
    m = _CODE.search(str(err))
    return m.group(1) if m else None


def translate_error(
    err: BaseException,
    *,
    exchange: str,
    action: str,
    secrets: tuple[str, ...] = (),
) -> ExchangeError:
    """A one-line :class:`ExchangeError` for a ccxt error: ``"<exchange> <action>: <hint> (…)"``.

    The hint comes from the exchange profile's ``error_meanings`` when the error carries
    a known exchange code (Binance -4015 = "client order id is not valid"), else from
    the ccxt error class.
    """
    import ccxt

    detail = clean_message(err, secrets)
    code = error_code(err)
    m = re.match(r"[a-z0-9]+", exchange.lower())
    profile: Any = PROFILES.get(m.group(0)) if m else None
    meaning = profile.error_meanings.get(code) if profile is not None and code else None
    if meaning:
        hint = meaning
    elif isinstance(err, ccxt.InsufficientFunds) or "insufficient" in detail.lower():
        hint = "insufficient margin; deposit collateral, lower the size or raise the leverage"
    elif isinstance(err, ccxt.AuthenticationError | ccxt.PermissionDenied):
        hint = "authentication failed; check the API key, secret and its futures-trading permission"
    elif isinstance(err, ccxt.RateLimitExceeded | ccxt.DDoSProtection):
        hint = "rate limit hit; wait a minute and retry"
    elif isinstance(err, ccxt.RequestTimeout):
        hint = "request timed out; retry (orders are looked up by client id, never sent twice)"
    elif isinstance(err, ccxt.NetworkError):
        hint = "network error or exchange unavailable; retry later"
    elif isinstance(err, ccxt.BadSymbol):
        hint = "unknown symbol on this exchange; check hedge.symbol"
    elif isinstance(err, ccxt.OrderNotFound):
        hint = "order not found"
    elif isinstance(err, ccxt.InvalidOrder):
        hint = "order rejected; check size, price and the exchange's minimums"
    elif isinstance(err, ccxt.NotSupported):
        hint = "not supported by this exchange in ccxt"
    else:
        hint = "the exchange refused the request"
    return ExchangeError(f"{exchange} {action}: {hint} ({type(err).__name__}: {detail})")
