"""Margin, bankruptcy and liquidation prices of isolated (and single-position cross) futures.

Notation: Q contracts (≥ 0), CS contract size, s = side (+1 long, −1 short), EP entry
price (USD), WB the margin behind the position in the settlement currency (USD(T) for
linear, coin for inverse), MMR and cum the maintenance-margin rate and maintenance amount
("cum" on Binance, "MM deduction" on Bybit) of a tier. N = Q·CS is the size in coin for
a linear contract and in USD for an inverse one.

* Initial margin:     linear N·EP/L (USD);      inverse N/EP/L (coin).
* Maintenance margin: linear N·P·MMR − cum;     inverse N/P·MMR − cum (coin).
* Bankruptcy price (margin balance 0): linear EP − s·WB/N; inverse N/(N/EP + s·WB).

Liquidation price per exchange (isolated, one-way mode, fees ignored):

``binance-usdm-isolated`` — Binance FAQ "How to Calculate Liquidation Price of USDⓈ-M
    Futures Contracts", isolated (TMM = UPNL = 0):
    LP = (WB + cum − s·N·EP) / (N·MMR − s·N), N in coin.
``binance-coinm-isolated`` — Binance FAQ "How to Calculate Liquidation Price of COIN-M
    Futures Contracts": LP = (N·MMR + s·N) / (WB + cum + s·N/EP), N = Q·CS in USD.
    For both, the tier is the one holding the notional AT THE LIQUIDATION PRICE (USDT
    N·LP, resp. BTC N/LP); Binance says to recompute with the other tier when the result
    falls outside the assumed one. Because the maintenance margin is continuous across
    tiers, exactly one tier is self-consistent; it is found by trying every tier.
``bybit-usdt-isolated`` — Bybit help centre "Liquidation Price (USDT Contract)":
    LP = EP − s·(IM + extra − MM)/N with MM = N·EP·MMR − deduction (position value at
    entry); IM + extra margin = WB. Risk-limit tier chosen by the position value at entry.
``bybit-inverse-isolated`` — Bybit help centre "Liquidation Price Calculation under
    Isolated Mode (Unified Trading Account)", inverse:
    long LP = N(1 + MMR) / (N/EP + WB + deduction),
    short LP = N(1 − MMR) / (N/EP − WB − deduction), tier by position value at entry.
``deribit-isolated`` — Deribit support "11 January 2022" (standard margin): the rate grows
    with the position size in coin, MMR(P) = MMR₀ + k·X with X = N (linear, coin) or N/P
    (inverse, coin at the price P); BTC MMR₀ 1 %, k 0.005 %/BTC; ETH 1 %, 0.0004 %/ETH.
    Liquidated where WB + PnL(P) = X·MMR(P) (in coin for inverse, X·P·MMR(P) USD for
    linear). Inverse: k·X² + (MMR₀ + s)·X − (WB + cum + s·N/EP) = 0, solved for X in the
    cancellation-free form X = 2C/(b + sign(b)·√(b² + 4kC)); linear: the generic form
    with MMR₀ + k·N. With k = 0 this is exactly the generic form below.
``mexc-isolated`` — MEXC "Liquidation in Futures" (blog.mexc.fm/liquidation-in-futures-2):
    long LP = (MM − PM + EP·Q)/Q, short LP = (EP·Q − MM + PM)/Q with MM = EP·Q·MMR (the
    position value at ENTRY) and PM the position (isolated) margin — Bybit's linear form.
    Worked example there: 0.1 BTC long at 50 000, 25×, MMR 0.4 % → 48 200.
``hyperliquid-isolated`` — Hyperliquid docs "Liquidations": liq_price = price − side ·
    margin_available / position_size / (1 − l·side), l = 1/maintenance leverage = MMR,
    margin_available = isolated margin − maintenance margin at ``price``; with the tier's
    deduction ("Margin tiers") this is algebraically the MM-at-the-liquidation-price form
    (the Binance form), which is what is evaluated.
``weex-isolated`` — WEEX help centre "WEEX Futures Pro: Estimated liquidation price":
    long LP = mark − (value − MM)/(Q·(1 − MMR)), short LP = mark − (value − MM)/(−Q·(1 + MMR)),
    value = margin + unrealised PnL, MM at the mark: again the MM-at-liquidation form.
``generic-isolated`` — OKX and BingX (no closed form published in the form used here;
    BingX states only the condition "risk = (MM + closing fee)/(margin + unrealised PnL)
    ≥ 100 %", help centre "Perpetual Futures Forced Liquidation Rules"; the closing fee is
    left out like every fee here):
    the price where margin balance WB + PnL(P) equals N·P·MMR − cum (linear) or
    N/P·MMR − cum (inverse), i.e. the Binance forms; labelled generic.

A long whose liquidation price would be ≤ 0 is never liquidated (reported as 0.0, move
−100 %); a short that can never be liquidated (e.g. a 1× short inverse: its coin
collateral gains in USD exactly what the short loses) reports ``inf``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from althedge.core.instruments import (
    ContractType,
    MarginTier,
    Side,
    parse_contract_type,
    parse_side,
)
from althedge.core.numeric import any_true, as_values, maximum, positive_values, to_output
from althedge.errors import ImpossiblePositionError, InputError

__all__ = [
    "LIQUIDATION_EXCHANGES",
    "MARGIN_METHODS",
    "Liquidation",
    "LiquidationOutcome",
    "MarginMethod",
    "bankruptcy_price",
    "cross_liquidation_price",
    "forfeited_margin",
    "initial_margin",
    "liquidation_method",
    "liquidation_outcome",
    "liquidation_price",
    "maintenance_margin",
    "margin_method",
    "margin_ratio",
    "short_rally_to_liquidation_pct",
]

LIQUIDATION_EXCHANGES = (
    "binance", "bybit", "okx", "deribit", "bingx", "mexc", "weex", "hyperliquid",
)


def _pos(name: str, value: float, *, zero_ok: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name}: must be a number, got {value!r}") from None
    if not math.isfinite(v) or v < 0 or (v == 0 and not zero_ok):
        need = ">= 0" if zero_ok else "> 0"
        raise InputError(f"{name}: must be a finite number {need}, got {value!r}")
    return v


def _mmr(value: float) -> float:
    v = _pos("mmr", value, zero_ok=True)
    if v >= 1:
        raise InputError(f"mmr: must be a fraction below 1 (0.005 = 0.5 %), got {value!r}")
    return v


def initial_margin(
    contract_type: ContractType | str,
    contracts: Any,
    contract_size: Any,
    entry_price: Any,
    leverage: Any,
) -> Any:
    """Initial margin = entry notional / L: linear Q·CS·EP/L (USD), inverse Q·CS/EP/L (coin).

    Broadcasts over numpy arrays; scalars in → float out.
    """
    ct = parse_contract_type(contract_type)
    n = positive_values("contracts", contracts, zero_ok=True) * positive_values(
        "contract size", contract_size, zero_ok=False
    )
    ep = positive_values("entry price", entry_price, zero_ok=False)
    lev = positive_values("leverage", leverage, zero_ok=False)
    return to_output(n * ep / lev if ct == ContractType.LINEAR else n / ep / lev)


def maintenance_margin(
    contract_type: ContractType | str,
    contracts: Any,
    contract_size: Any,
    price: Any,
    mmr: Any,
    maint_amount: Any = 0.0,
    *,
    mmr_per_coin: Any = 0.0,
) -> Any:
    """Maintenance margin at ``price`` = position value × MMR − maint_amount.

    Settlement currency: linear Q·CS·P·MMR − cum (USD); inverse Q·CS/P·MMR − cum (coin).
    Binance COIN-M FAQ example: 100 contracts × 100 USD at mark 25 000 → 0.4 BTC × 0.4 %
    − 0 = 0.0016 BTC. ``mmr_per_coin`` (Deribit) raises the rate by that much per coin
    of position size (Q·CS linear, Q·CS/P inverse). Broadcasts over numpy arrays;
    scalars in → float out.
    """
    ct = parse_contract_type(contract_type)
    n = positive_values("contracts", contracts, zero_ok=True) * positive_values(
        "contract size", contract_size, zero_ok=False
    )
    p = positive_values("price", price, zero_ok=False)
    rate = positive_values("mmr", mmr, zero_ok=True)
    if any_true(rate >= 1):
        raise InputError(f"mmr: must be a fraction below 1 (0.005 = 0.5 %), got {mmr!r}")
    size_coin = _size_coin(ct, n, p)
    rate = rate + positive_values("mmr per coin", mmr_per_coin, zero_ok=True) * size_coin
    value = n * p if ct == ContractType.LINEAR else size_coin
    return to_output(value * rate - as_values(maint_amount))


def bankruptcy_price(
    contract_type: ContractType | str,
    side: Side | str | int,
    contracts: float,
    contract_size: float,
    entry_price: float,
    wallet_balance: float,
) -> float:
    """Price at which the margin balance is 0: linear EP − s·WB/N; inverse N/(N/EP + s·WB).

    Long ≤ 0 → 0.0; a short that never loses its whole margin (inverse, WB ≥ N/EP) → inf.
    (Bybit "Bankruptcy Price (USDT Contract)": long EP·(1 − 1/L), short EP·(1 + 1/L).)
    """
    ct = parse_contract_type(contract_type)
    s = float(parse_side(side))
    n = _pos("contracts", contracts) * _pos("contract size", contract_size)
    ep = _pos("entry price", entry_price)
    wb = _pos("wallet balance", wallet_balance, zero_ok=True)
    if ct == ContractType.LINEAR:
        return max(ep - s * wb / n, 0.0)
    den = n / ep + s * wb
    return n / den if den > 0 else math.inf


@dataclass(frozen=True)
class Liquidation:
    """Result of a liquidation-price calculation (prices in USD, amounts in settle ccy)."""

    liquidation_price: float  # inf when a short is never liquidated; 0.0 for such a long
    bankruptcy_price: float
    mmr: float
    maint_amount: float
    tier_index: int | None  # index into the tier table used, None when mmr was given
    move_to_liquidation_pct: float  # signed % move from entry to liquidation (+ for short)
    method: str  # e.g. "binance-usdm-isolated", "bybit-inverse-isolated", "generic-isolated"
    wallet_balance: float = math.nan  # margin behind the position, settlement currency
    maintenance_margin: float = math.nan  # MM at liquidation as the method defines it

    @property
    def never_liquidated(self) -> bool:
        """True when no finite positive price liquidates the position."""
        return not math.isfinite(self.liquidation_price) or self.liquidation_price <= 0

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (inf/nan become null in ``emit_json``)."""
        return asdict(self)


def liquidation_method(exchange: str, contract_type: ContractType | str) -> str:
    """The formula label used for ``exchange`` and ``contract_type``."""
    ct = parse_contract_type(contract_type)
    ex = str(exchange).strip().lower()
    if ex in ("binance", "binanceusdm", "binancecoinm"):
        return "binance-usdm-isolated" if ct == ContractType.LINEAR else "binance-coinm-isolated"
    if ex == "bybit":
        return "bybit-usdt-isolated" if ct == ContractType.LINEAR else "bybit-inverse-isolated"
    if ex == "deribit":
        return "deribit-isolated"
    if ex in ("okx", "bingx"):
        return "generic-isolated"
    if ex == "mexc" and ct == ContractType.LINEAR:
        return "mexc-isolated"
    if ex == "mexc":
        return "generic-isolated"  # MEXC publishes no coin-margined closed form
    if ex in ("hyperliquid", "weex"):
        return f"{ex}-isolated"
    raise InputError(
        f"exchange: {exchange!r} is not supported; use one of {', '.join(LIQUIDATION_EXCHANGES)}"
    )


# --- closed forms ------------------------------------------------------------------


def _lp_mm_at_price(ct: ContractType, s: float, n: float, ep: float, wb: float,
                    mmr: float, cum: float, k: float = 0.0) -> float:
    """Binance/Deribit/generic closed form (MM evaluated at the liquidation price).

    ``k``: Deribit's rate increase per coin of position size (0 elsewhere).
    """
    if ct == ContractType.LINEAR:
        mmr = mmr + k * n
        lp = (wb + cum - s * n * ep) / (n * mmr - s * n)
        return lp if lp > 0 else 0.0
    if k > 0:
        # k·X² + b·X − C = 0 in X = N/P (position size in coin at the liquidation price)
        b = mmr + s
        c = wb + cum + s * n / ep
        if s < 0 and c >= 0:
            return math.inf  # the coin margin covers the short at any price
        x = 2 * c / (b + math.copysign(math.sqrt(b * b + 4 * k * c), b))
        return n / x if x > 0 else (math.inf if s < 0 else 0.0)
    den = wb + cum + s * n / ep
    if den == 0:
        return math.inf if s < 0 else 0.0
    lp = n * (mmr + s) / den
    if lp <= 0:
        return math.inf if s < 0 else 0.0
    return lp


def _lp_bybit_linear(s: float, n: float, ep: float, wb: float, mmr: float, cum: float) -> float:
    mm = n * ep * mmr - cum
    lp = ep - s * (wb - mm) / n
    return lp if lp > 0 else 0.0


def _lp_bybit_inverse(s: float, n: float, ep: float, wb: float, mmr: float, cum: float) -> float:
    if s > 0:
        return n * (1 + mmr) / (n / ep + wb + cum)
    den = n / ep - wb - cum
    return n * (1 - mmr) / den if den > 0 else math.inf


ClosedForm = Callable[[ContractType, float, float, float, float, float, float, float], float]


@dataclass(frozen=True)
class MarginMethod:
    """How one exchange prices a liquidation (the labels of :func:`liquidation_method`).

    ``closed_form(ct, s, N, EP, WB, MMR, cum, k)`` → liquidation price (USD);
    ``mm_at_entry``: the tier and the maintenance margin are taken at the entry price
    (Bybit) instead of at the liquidation price (Binance, Deribit, generic);
    ``inverse_mm_at_liquidation``: for the reported MM of an inverse position, the
    position value at the liquidation price (Bybit inverse).
    """

    name: str
    closed_form: ClosedForm
    mm_at_entry: bool = False
    inverse_mm_at_liquidation: bool = False


def _bybit_linear(ct: ContractType, s: float, n: float, ep: float, wb: float,
                  mmr: float, cum: float, k: float) -> float:
    return _lp_bybit_linear(s, n, ep, wb, mmr, cum)


def _bybit_inverse(ct: ContractType, s: float, n: float, ep: float, wb: float,
                   mmr: float, cum: float, k: float) -> float:
    return _lp_bybit_inverse(s, n, ep, wb, mmr, cum)


#: the per-exchange methods, by label without the margin mode (``-isolated``/``-cross``)
MARGIN_METHODS: dict[str, MarginMethod] = {
    m.name: m
    for m in (
        MarginMethod("binance-usdm", _lp_mm_at_price),
        MarginMethod("binance-coinm", _lp_mm_at_price),
        MarginMethod("bybit-usdt", _bybit_linear, mm_at_entry=True),
        MarginMethod("bybit-inverse", _bybit_inverse, mm_at_entry=True,
                     inverse_mm_at_liquidation=True),
        MarginMethod("deribit", _lp_mm_at_price),
        MarginMethod("mexc", _bybit_linear, mm_at_entry=True),
        MarginMethod("hyperliquid", _lp_mm_at_price),
        MarginMethod("weex", _lp_mm_at_price),
        MarginMethod("generic", _lp_mm_at_price),
    )
}


def margin_method(label: str) -> MarginMethod:
    """The :class:`MarginMethod` of a label such as ``"bybit-inverse-isolated"``."""
    name = label.removesuffix("-isolated").removesuffix("-cross")
    try:
        return MARGIN_METHODS[name]
    except KeyError:
        raise InputError(
            f"method: {label!r} is unknown; use one of {', '.join(MARGIN_METHODS)}"
        ) from None


def _notional(ct: ContractType, n: float, price: float) -> float:
    """Tier notional at ``price``: USD for linear (N·P), coin for inverse (N/P)."""
    if ct == ContractType.LINEAR:
        return n * price
    if not math.isfinite(price):
        return 0.0
    return n / price if price > 0 else math.inf


def _size_coin(ct: ContractType, n: Any, price: Any) -> Any:
    """Position size in coin at ``price``: N (linear) or N/P (inverse); floats or arrays."""
    return n if ct == ContractType.LINEAR else n / price


def _tier_index(tiers: Sequence[MarginTier], notional: float) -> int:
    """Index of the tier holding ``notional``; beyond the last cap → the last tier."""
    for i, t in enumerate(tiers):
        if notional <= t.cap:
            return i
    return len(tiers) - 1


def _margin_left(ct: ContractType, s: float, n: float, ep: float, wb: float, p: float) -> float:
    """Margin balance at price p (settlement currency): WB + PnL."""
    if ct == ContractType.LINEAR:
        return wb + s * n * (p - ep)
    return wb + s * n * (1 / ep - 1 / p)


def liquidation_price(
    exchange: str,
    contract_type: ContractType | str,
    side: Side | str | int,
    contracts: float,
    contract_size: float,
    entry_price: float,
    wallet_balance: float | None = None,
    leverage: float | None = None,
    mmr: float | None = None,
    maint_amount: float = 0.0,
    tiers: Sequence[MarginTier] | None = None,
    *,
    mmr_per_coin: float = 0.0,
) -> Liquidation:
    """Isolated-margin liquidation price with the exchange's published formula.

    Give exactly one of ``wallet_balance`` (isolated margin, settlement currency) or
    ``leverage`` (then WB = initial margin). Give ``mmr`` (and ``maint_amount``, and for
    Deribit ``mmr_per_coin``) or a ``tiers`` table; an explicit ``mmr`` wins over ``tiers``.

    Raises :class:`InputError` for impossible input and :class:`ImpossiblePositionError`
    when the margin is already below the maintenance margin at the entry price.
    """
    method = liquidation_method(exchange, contract_type)
    return _solve(method, contract_type, side, contracts, contract_size, entry_price,
                  wallet_balance, leverage, mmr, maint_amount, tiers, mmr_per_coin)


def cross_liquidation_price(
    exchange: str,
    contract_type: ContractType | str,
    side: Side | str | int,
    contracts: float,
    contract_size: float,
    entry_price: float,
    wallet_balance: float,
    mmr: float | None = None,
    maint_amount: float = 0.0,
    tiers: Sequence[MarginTier] | None = None,
    *,
    other_maintenance_margin: float = 0.0,
    other_unrealised_pnl: float = 0.0,
    mmr_per_coin: float = 0.0,
) -> Liquidation:
    """Cross-margin liquidation price of one position given the whole wallet.

    Binance's cross formula with the other positions' maintenance margin (TMM) and
    unrealised PnL (UPNL) held constant: the position is liquidated when
    WB − TMM + UPNL + PnL(P) = MM(P), i.e. the isolated form with
    WB_eff = WB − TMM + UPNL. All amounts in the settlement currency.
    Method label gets a ``-cross`` suffix instead of ``-isolated``.
    """
    wb = _pos("wallet balance", wallet_balance)
    eff = wb - float(other_maintenance_margin) + float(other_unrealised_pnl)
    if eff <= 0:
        raise ImpossiblePositionError(
            f"wallet balance: {wb:g} minus other positions' maintenance margin "
            f"({other_maintenance_margin:g}) plus their PnL ({other_unrealised_pnl:g}) "
            "leaves nothing; add funds"
        )
    method = liquidation_method(exchange, contract_type).replace("-isolated", "-cross")
    return _solve(method, contract_type, side, contracts, contract_size, entry_price,
                  eff, None, mmr, maint_amount, tiers, mmr_per_coin)


def _solve(
    method: str,
    contract_type: ContractType | str,
    side: Side | str | int,
    contracts: float,
    contract_size: float,
    entry_price: float,
    wallet_balance: float | None,
    leverage: float | None,
    mmr: float | None,
    maint_amount: float,
    tiers: Sequence[MarginTier] | None,
    mmr_per_coin: float = 0.0,
) -> Liquidation:
    ct = parse_contract_type(contract_type)
    s = float(parse_side(side))
    q = _pos("contracts", contracts)
    cs = _pos("contract size", contract_size)
    ep = _pos("entry price", entry_price)
    n = q * cs
    if (wallet_balance is None) == (leverage is None):
        raise InputError("wallet/leverage: give exactly one of --wallet or --leverage")
    if leverage is not None:
        wb = float(initial_margin(ct, q, cs, ep, _pos("leverage", leverage)))
    else:
        wb = _pos("wallet balance", wallet_balance if wallet_balance is not None else 0.0)

    k = _pos("mmr per coin", mmr_per_coin, zero_ok=True)
    if mmr is not None:
        table: list[tuple[float, float, float, float]] = [
            (0.0, math.inf, _mmr(mmr), _pos("maint amount", maint_amount, zero_ok=True))
        ]
        use_index = False
    elif tiers:
        table = [(t.floor, t.cap, _mmr(t.mmr), float(t.maint_amount)) for t in tiers]
        k = max((float(t.mmr_per_coin) for t in tiers), default=0.0)
        if k and len(tiers) > 1:
            raise InputError("tiers: a per-coin MMR increase needs a single-row table")
        use_index = True
    else:
        raise InputError("mmr: give --mmr (and --maint-amount) or --symbol for its tier table")

    rule = margin_method(method)
    mm_at_entry = rule.mm_at_entry

    def closed(m: float, c: float) -> float:
        return rule.closed_form(ct, s, n, ep, wb, m, c, k)

    entry_notional = _notional(ct, n, ep)
    if use_index and entry_notional > table[-1][1]:
        raise InputError(
            f"contracts: position notional {entry_notional:,.6g} at entry exceeds the largest "
            f"tier cap {table[-1][1]:,.6g}; reduce the position"
        )
    entry_idx = _tier_index([MarginTier(f, cap, m, c, 0.0) for f, cap, m, c in table],
                            entry_notional) if use_index else 0
    # Is the position already below maintenance at the entry price?
    _, _, m0, c0 = table[entry_idx]
    rate_entry = m0 + k * _size_coin(ct, n, ep)
    mm_entry = (n * ep if ct == ContractType.LINEAR else n / ep) * rate_entry - c0
    if wb < mm_entry * (1 - 1e-12):
        unit = "USD" if ct == ContractType.LINEAR else "coin"
        raise ImpossiblePositionError(
            f"wallet: margin {wb:.8g} {unit} is already below the maintenance margin "
            f"{mm_entry:.8g} {unit} at the entry price; add margin or lower the leverage"
        )

    if mm_at_entry or len(table) == 1:
        idx = entry_idx
        lp = closed(table[idx][2], table[idx][3])
    else:
        # Binance / generic: tier by notional at the liquidation price; try each tier and
        # keep the self-consistent one (unique because MM is continuous across tiers).
        idx, lp = -1, math.nan
        last = len(table) - 1
        for i, (floor, cap, m, c) in enumerate(table):
            cand = closed(m, c)
            notional = _notional(ct, n, cand) if 0 < cand < math.inf else 0.0
            lo = 0.0 if i == 0 else floor
            hi = math.inf if i == last else cap
            if lo - 1e-9 * max(1.0, lo) <= notional <= hi + 1e-9 * max(1.0, hi):
                idx, lp = i, cand
                break
        if idx < 0:  # tables whose maintenance amount is not continuous: iterate (Binance)
            idx = entry_idx
            for _ in range(len(table) + 1):
                lp = closed(table[idx][2], table[idx][3])
                nxt = _tier_index(
                    [MarginTier(f, cap, m, c, 0.0) for f, cap, m, c in table],
                    _notional(ct, n, lp) if 0 < lp < math.inf else 0.0,
                )
                if nxt == idx:
                    break
                idx = nxt

    m_used, c_used = table[idx][2], table[idx][3]
    if k and 0 < lp < math.inf:
        m_used += k * _size_coin(ct, n, lp)  # Deribit: the rate in force at liquidation
    bp = bankruptcy_price(ct, Side(int(s)), q, cs, ep, wb)
    if lp <= 0:
        lp, move = 0.0, -100.0
    elif math.isinf(lp):
        move = math.inf
    else:
        move = (lp / ep - 1.0) * 100.0
    if mm_at_entry:
        mm_liq = (n * ep if ct == ContractType.LINEAR else n / ep) * m_used - c_used
        if rule.inverse_mm_at_liquidation and 0 < lp < math.inf:
            mm_liq = n / lp * m_used - c_used
    elif 0 < lp < math.inf:
        mm_liq = _notional(ct, n, lp) * m_used - c_used
    else:
        mm_liq = math.nan
    return Liquidation(
        liquidation_price=lp,
        bankruptcy_price=bp,
        mmr=m_used,
        maint_amount=c_used,
        tier_index=idx if use_index else None,
        move_to_liquidation_pct=move,
        method=method,
        wallet_balance=wb,
        maintenance_margin=mm_liq,
    )


def short_rally_to_liquidation_pct(
    contract_type: ContractType | str, leverage: float, mmr: float
) -> float:
    """Rally (%) from entry that liquidates an isolated short at leverage L (cum = 0).

    Closed forms from the Binance formulas with WB = initial margin:
    linear  (1 + 1/L)/(1 + MMR) − 1;   inverse (1 − MMR)/(1 − 1/L) − 1 (inf at L ≤ 1).
    """
    ct = parse_contract_type(contract_type)
    lev = _pos("leverage", leverage)
    m = _mmr(mmr)
    if ct == ContractType.LINEAR:
        return ((1 + 1 / lev) / (1 + m) - 1) * 100.0
    if lev <= 1:
        return math.inf
    return ((1 - m) / (1 - 1 / lev) - 1) * 100.0


def margin_left(
    contract_type: ContractType | str,
    side: Side | str | int,
    contracts: float,
    contract_size: float,
    entry_price: float,
    wallet_balance: float,
    price: float,
) -> float:
    """Margin balance WB + PnL at ``price`` in the settlement currency."""
    ct = parse_contract_type(contract_type)
    n = _pos("contracts", contracts) * _pos("contract size", contract_size)
    return _margin_left(ct, float(parse_side(side)), n, _pos("entry price", entry_price),
                        float(wallet_balance), _pos("price", price))


def margin_ratio(maintenance: float, margin: float, unrealised_pnl: float) -> float:
    """Maintenance margin / margin balance (Binance's "margin ratio"; liquidation at 1.0).

    All three in the settlement currency: ``maintenance`` MM of the position,
    ``margin`` the isolated margin behind it, ``unrealised_pnl`` its PnL now. The
    margin balance is margin + PnL; a balance ≤ 0 is ``inf`` (past liquidation).
    Source: Binance FAQ "What Is the Margin Ratio" (Margin Ratio = Maintenance Margin /
    Margin Balance).
    """
    balance = float(margin) + float(unrealised_pnl)
    if balance <= 0:
        return math.inf
    return float(maintenance) / balance


# --- what a liquidation costs ------------------------------------------------------


def forfeited_margin(margin_balance: Any) -> Any:
    """Margin lost when a position is liquidated (settlement currency; floats or arrays).

    The one model used by the simulator, the paper venue and the plan's scenarios:
    the position is closed and the margin balance behind it (margin + PnL at the close)
    is forfeited in full — a positive rest goes to the exchange (Binance's "liquidation
    clearance fee", Bybit's insurance fund), a negative one (a gap through the
    bankruptcy price) is absorbed by the insurance fund, never charged to the account.
    """
    return to_output(maximum(as_values(margin_balance), 0.0))


@dataclass(frozen=True)
class LiquidationOutcome:
    """What an account is left with after its position's liquidation.

    ``margin_lost``: the margin behind the position, forfeited (settlement currency);
    ``collateral_kept``: coin collateral that was not behind it (inverse, isolated),
    still held; ``change_usd``: the account's USD change from ``price_then`` (when the
    margin was bought or posted) to ``price_now`` including the loss.
    """

    margin_lost: float
    collateral_kept: float
    change_usd: float


def liquidation_outcome(
    contract_type: ContractType | str,
    margin_mode: str,
    margin: float,
    *,
    collateral_coin: float = 0.0,
    price_then: float = 1.0,
    price_now: float = 1.0,
) -> LiquidationOutcome:
    """The account's outcome when a position with ``margin`` (settlement currency) behind
    it is liquidated.

    Linear: the USD margin is lost: change = −margin. Inverse without coin collateral:
    the margin coin bought at ``price_then`` is lost: change = −margin·price_then.
    Inverse with ``collateral_coin`` C held: cross margin puts all of C behind the
    position, isolated only min(margin, C); what is behind is lost (see
    :func:`forfeited_margin`), the rest keeps its value at ``price_now``:
    change = (C − lost)·price_now − C·price_then.
    """
    ct = parse_contract_type(contract_type)
    c = float(collateral_coin)
    if ct == ContractType.LINEAR or c <= 0:
        lost = float(forfeited_margin(margin))
        price = 1.0 if ct == ContractType.LINEAR else float(price_then)
        return LiquidationOutcome(lost, 0.0, -lost * price)
    behind = c if str(margin_mode).lower() == "cross" else min(float(margin), c)
    lost = float(forfeited_margin(behind))
    kept = c - lost
    return LiquidationOutcome(lost, kept, kept * float(price_now) - c * float(price_then))
