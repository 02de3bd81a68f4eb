"""Translate ccxt market structures and leverage tiers into the core's :class:`Instrument`.

ccxt's unified market (``exchange.load_markets()[symbol]``) gives, per contract: ``linear``/
``inverse``, ``contractSize`` (coin per contract for linear, USD per contract for inverse),
``precision.price``/``precision.amount`` (tick sizes in TICK_SIZE mode, decimal places in
DECIMAL_PLACES mode), ``limits.amount.min``, ``limits.leverage.max`` and ``expiry`` (ms).
``fetch_leverage_tiers()`` gives per tier ``minNotional``, ``maxNotional``,
``maintenanceMarginRate`` and ``maxLeverage``; the maintenance amount (Binance "cum", Bybit
"mmDeduction") is read from the raw ``info`` when the exchange publishes it, otherwise derived
so the maintenance margin is continuous across tiers:
``cum_i = cum_{i−1} + floor_i · (mmr_i − mmr_{i−1})`` (Binance's definition).

Exchange quirks handled here:
* Deribit inverse contracts: ccxt amounts are in USD; the Instrument counts contracts of
  ``contract_size`` USD and sets ``amount_in_usd=True``.
* Funding interval: Binance ``fundingIntervalHours`` (fundingInfo) / Bybit ``fundingInterval``
  (minutes) / OKX and others 8 h unless the market info says otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from althedge.core.instruments import ContractType, Instrument, MarginTier
from althedge.errors import UnknownInstrumentError

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
        published = _num(info.get("cum", info.get("mmDeduction")) if isinstance(info, Mapping)
                          else None)
        # the boundary is the previous cap (OKX lists floors as cap + 1 contract)
        boundary = out[-1].cap if out and math.isfinite(out[-1].cap) else floor
        cum = published if not math.isnan(published) else cum_prev + boundary * (mmr - mmr_prev)
        lev = _num(r.get("maxLeverage"), math.nan)
        out.append(MarginTier(floor=floor, cap=cap, mmr=mmr, maint_amount=cum, max_leverage=lev))
        cum_prev, mmr_prev = cum, mmr
    return tuple(out)


def funding_interval_from_market(market: Mapping[str, Any]) -> float | None:
    """Funding interval (hours) of a perpetual from its raw market info; None for dated."""
    if not market.get("swap"):
        return None
    info = market.get("info") or {}
    if isinstance(info, Mapping):
        if "fundingIntervalHours" in info:
            return _num(info["fundingIntervalHours"], 8.0)
        if "fundingInterval" in info:  # Bybit: minutes
            return _num(info["fundingInterval"], 480.0) / 60.0
    return 8.0


def instrument_from_market(exchange_id: str, market: Mapping[str, Any],
                           tiers: Sequence[MarginTier] = (), *,
                           precision_mode: int = TICK_SIZE,
                           funding_interval_hours: float | None = None) -> Instrument:
    """Build an :class:`Instrument` (``specs_as_of="live"``) from a ccxt market."""
    symbol = str(market.get("symbol"))
    if not market.get("contract"):
        raise UnknownInstrumentError(
            f"symbol: {symbol} on {exchange_id} is a spot market, not a futures contract; "
            "pick a perpetual or dated future such as BTC/USDT:USDT")
    inverse = bool(market.get("inverse"))
    contract_size = _num(market.get("contractSize"), 1.0)
    precision = market.get("precision") or {}
    limits = market.get("limits") or {}
    tick = _step(precision.get("price"), precision_mode)
    amount_step = _step(precision.get("amount"), precision_mode)
    amount_min = _num((limits.get("amount") or {}).get("min"))
    amount_in_usd = exchange_id == "deribit" and inverse
    if amount_in_usd:  # ccxt's Deribit amounts are USD; count contracts of contract_size USD
        amount_step = amount_step / contract_size if not math.isnan(amount_step) else 1.0
        amount_min = amount_min / contract_size if not math.isnan(amount_min) else math.nan
    lot = amount_step if not math.isnan(amount_step) and amount_step > 0 else 1.0
    min_contracts = amount_min if not math.isnan(amount_min) else lot
    max_lev = _num((limits.get("leverage") or {}).get("max"))
    if math.isnan(max_lev):
        max_lev = max((t.max_leverage for t in tiers if not math.isnan(t.max_leverage)),
                      default=math.nan)
    expiry_ms = market.get("expiry")
    expiry: date | None = None
    if expiry_ms and not market.get("swap"):  # Deribit gives perpetuals a year-3000 expiry
        expiry = datetime.fromtimestamp(int(expiry_ms) / 1000, tz=UTC).date()
    interval = funding_interval_hours
    if interval is None:
        interval = funding_interval_from_market(market)
    return Instrument(
        exchange=exchange_id,
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
        funding_interval_hours=interval if market.get("swap") else None,
        expiry=expiry,
        tiers=tuple(tiers),
        amount_in_usd=amount_in_usd,
        specs_as_of="live",
    )
