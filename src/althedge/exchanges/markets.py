"""ccxt market structures → the core's :class:`Instrument` — the ONE translation.

Both the data layer (``althedge.data.ccxt_source``) and the venues
(``althedge.venues.ccxt_venue``) build instruments here.

ccxt's unified market (``exchange.load_markets()[symbol]``) gives, per contract: ``linear``/
``inverse``, ``contractSize`` (coin per contract for linear, USD per contract for inverse),
``precision.price``/``precision.amount`` (tick sizes in TICK_SIZE mode, decimal places in
DECIMAL_PLACES mode), ``limits.amount.min``, ``limits.cost.min`` (minimum notional in the
quote currency), ``limits.leverage.max`` and ``expiry`` (ms; Deribit gives its perpetuals
a year-3000 expiry, which is not an expiry). ``fetch_leverage_tiers()`` gives per tier
``minNotional``, ``maxNotional``, ``maintenanceMarginRate`` and ``maxLeverage``; the
maintenance amount (Binance "cum", Bybit "mmDeduction") is read from the raw ``info`` when
published, otherwise derived so the maintenance margin is continuous across tiers:
``cum_i = cum_{i−1} + floor_i · (mmr_i − mmr_{i−1})`` (Binance's definition).

Where the live market lacks tiers, a maximum leverage or a funding interval, the
built-in row of the same contract (:mod:`althedge.core.instruments`) fills them in.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from althedge.core.currencies import USD_LIKE
from althedge.core.instruments import ContractType, Instrument, MarginTier, get_instrument
from althedge.errors import UnknownInstrumentError
from althedge.exchanges.registry import PROFILES, family_of

__all__ = [
    "DECIMAL_PLACES",
    "TICK_SIZE",
    "USD_LIKE",
    "builtin_instrument",
    "funding_interval_from_market",
    "instrument_from_market",
    "interval_hours",
    "mark_of",
    "min_notional",
    "tiers_from_ccxt",
]

TICK_SIZE = 4  # ccxt.TICK_SIZE
DECIMAL_PLACES = 2  # ccxt.DECIMAL_PLACES


def _num(value: Any, default: float = math.nan) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return default
    return out if math.isfinite(out) else default


def _step(value: Any, precision_mode: int) -> float:
    """A ccxt precision value as a step (0.1), whatever the exchange's precision mode."""
    v = _num(value)
    if math.isnan(v):
        return math.nan
    if precision_mode == DECIMAL_PLACES:
        return float(10.0 ** (-v))
    return v


def tiers_from_ccxt(rows: Sequence[Mapping[str, Any]]) -> tuple[MarginTier, ...]:
    """ccxt leverage tiers (one market) → :class:`MarginTier` rows, sorted by floor."""
    ordered = sorted(rows, key=lambda r: _num(r.get("minNotional"), 0.0))
    out: list[MarginTier] = []
    cum_prev, mmr_prev = 0.0, 0.0
    for r in ordered:
        floor = _num(r.get("minNotional"), 0.0)
        cap = _num(r.get("maxNotional"), math.inf)
        mmr = _num(r.get("maintenanceMarginRate"))
        info = r.get("info") or {}
        published = _num(
            # Binance "cum", Bybit "mmDeduction", BingX "maintAmount"
            next((info[k] for k in ("cum", "mmDeduction", "maintAmount") if k in info), None)
            if isinstance(info, Mapping) else None
        )
        # the boundary is the previous cap (OKX lists floors as cap + 1 contract)
        boundary = out[-1].cap if out and math.isfinite(out[-1].cap) else floor
        cum = published if not math.isnan(published) else cum_prev + boundary * (mmr - mmr_prev)
        lev = _num(r.get("maxLeverage"), math.nan)
        out.append(MarginTier(floor=floor, cap=cap, mmr=mmr, maint_amount=cum, max_leverage=lev))
        cum_prev, mmr_prev = cum, mmr
    return tuple(out)


def interval_hours(value: Any) -> float | None:
    """A ccxt funding interval (``"8h"``, ``"4h"``, ``"60m"``) in hours; None when unreadable."""
    if not value:
        return None
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([hm])", str(value).strip().lower())
    if not m:
        return None
    n = float(m.group(1))
    return n if m.group(2) == "h" else n / 60.0


def _default_interval(exchange_id: str) -> float:
    p = PROFILES.get(str(exchange_id).lower())
    return p.funding.interval_hours if p is not None else 8.0


def funding_interval_from_market(
    market: Mapping[str, Any], exchange_id: str = ""
) -> float | None:
    """Funding interval (hours) of a perpetual from its raw market info; None for dated.

    Binance ``fundingIntervalHours`` (fundingInfo merged into the market), Bybit
    ``fundingInterval`` (minutes); otherwise the exchange profile's default (8 h).
    """
    if not market.get("swap"):
        return None
    info = market.get("info") or {}
    if isinstance(info, Mapping):
        if "fundingIntervalHours" in info:
            return _num(info["fundingIntervalHours"], 8.0)
        if "fundingInterval" in info:  # Bybit: minutes
            return _num(info["fundingInterval"], 480.0) / 60.0
    return _default_interval(exchange_id)


#: where a ccxt ticker keeps the mark price when ``markPrice`` is empty: Hyperliquid
#: ``markPx`` (metaAndAssetCtxs), MEXC ``fairPrice`` (contract ticker), Deribit ``mark_price``
_RAW_MARK_KEYS = ("markPx", "fairPrice", "mark_price")


def mark_of(ticker: Mapping[str, Any]) -> float | None:
    """The mark price of a ccxt ticker: ``markPrice``, else the exchange's own mark field in
    ``info``, else the last price; None when there is none."""
    info = ticker.get("info") or {}
    raw = [info.get(k) for k in _RAW_MARK_KEYS] if isinstance(info, Mapping) else []
    for value in (ticker.get("markPrice"), *raw, ticker.get("last")):
        v = _num(value)
        if not math.isnan(v) and v > 0:
            return v
    return None


def min_notional(market: Mapping[str, Any]) -> float | None:
    """The exchange's minimum order notional (``limits.cost.min``, quote currency) or None."""
    v = _num(((market.get("limits") or {}).get("cost") or {}).get("min"))
    return None if math.isnan(v) or v <= 0 else v


def builtin_instrument(exchange_id: str, symbol: str) -> Instrument | None:
    """The built-in (dated) row of the same contract, if the core's table has one."""
    try:
        return get_instrument(family_of(exchange_id), symbol)
    except UnknownInstrumentError:
        return None


def instrument_from_market(
    exchange_id: str,
    market: Mapping[str, Any],
    tiers: Sequence[MarginTier] = (),
    *,
    precision_mode: int = TICK_SIZE,
    funding_interval_hours: float | None = None,
) -> Instrument:
    """An :class:`Instrument` (``specs_as_of="live"``) from a ccxt market of ``exchange_id``.

    ``exchange_id`` is the ccxt id (``binanceusdm``) or the family (``binance``); the
    instrument's ``exchange`` is the family. Amounts of Deribit inverse contracts are USD
    in ccxt; the instrument counts contracts of ``contract_size`` USD
    (``amount_in_usd=True``). Missing tiers / max leverage / funding interval come from
    the built-in row of the same contract.
    """
    symbol = str(market.get("symbol"))
    family = family_of(exchange_id)
    profile = PROFILES.get(str(exchange_id).lower()) or next(
        (p for p in PROFILES.values() if p.family == family), None
    )
    if not market.get("contract"):
        raise UnknownInstrumentError(
            f"symbol: {symbol} on {exchange_id} is a spot market, not a futures contract; "
            "pick a perpetual or dated future such as BTC/USDT:USDT"
        )
    inverse = bool(market.get("inverse"))
    swap = bool(market.get("swap"))
    contract_size = _num(market.get("contractSize"), 1.0)
    if profile is not None and profile.amounts_in_coin:
        contract_size = 1.0  # WEEX: amounts are coin whatever ccxt's contractSize says
    precision = market.get("precision") or {}
    limits = market.get("limits") or {}
    tick = _step(precision.get("price"), precision_mode)
    amount_step = _step(precision.get("amount"), precision_mode)
    amount_min = _num((limits.get("amount") or {}).get("min"))
    amount_in_usd = bool(profile is not None and profile.amount_in_usd_inverse and inverse)
    if amount_in_usd:  # ccxt's Deribit amounts are USD; count contracts of contract_size USD
        amount_step = amount_step / contract_size if not math.isnan(amount_step) else 1.0
        amount_min = amount_min / contract_size if not math.isnan(amount_min) else math.nan
    lot = amount_step if not math.isnan(amount_step) and amount_step > 0 else 1.0
    min_contracts = amount_min if not math.isnan(amount_min) else lot
    builtin = builtin_instrument(family, symbol)
    if not tiers and builtin is not None:
        tiers = builtin.tiers
    max_lev = _num((limits.get("leverage") or {}).get("max"))
    if math.isnan(max_lev):
        max_lev = max(
            (t.max_leverage for t in tiers if not math.isnan(t.max_leverage)), default=math.nan
        )
    if math.isnan(max_lev) and builtin is not None:
        max_lev = builtin.max_leverage
    expiry_ms = market.get("expiry")
    expiry: date | None = None
    if expiry_ms and not swap:  # Deribit gives perpetuals a year-3000 expiry
        expiry = datetime.fromtimestamp(int(expiry_ms) / 1000, tz=UTC).date()
    interval: float | None = None
    if swap:
        interval = funding_interval_hours
        info = market.get("info") or {}
        in_market = isinstance(info, Mapping) and (
            "fundingIntervalHours" in info or "fundingInterval" in info
        )
        if interval is None and not in_market and builtin is not None:
            interval = builtin.funding_interval_hours
        if interval is None:
            interval = funding_interval_from_market(market, exchange_id)
    return Instrument(
        exchange=family,
        symbol=symbol,
        base=str(market.get("base")),
        quote=str(market.get("quote")),
        settle=str(market.get("settle") or market.get("quote")),
        contract_type=ContractType.INVERSE if inverse else ContractType.LINEAR,
        contract_size=contract_size,
        tick_size=tick,
        lot_step=lot,
        min_contracts=min_contracts,
        max_leverage=max_lev,
        funding_interval_hours=interval,
        expiry=expiry,
        tiers=tuple(tiers),
        amount_in_usd=amount_in_usd,
        specs_as_of="live",
    )
