"""Contract specifications as data: :class:`Instrument`, margin tiers, the built-in dated table.

Units
-----
* ``contract_size``: coin per contract for a linear contract (Binance USDⓈ-M
  quantity is in coin, so 1; OKX BTC-USDT-SWAP 0.01 BTC), USD per contract for an
  inverse one (Binance COIN-M BTC 100 USD, other coins 10 USD; Bybit inverse 1 USD;
  OKX BTC-USD-SWAP 100 USD; Deribit BTC 10 USD, ETH 1 USD).
* ``tick_size``: price step in USD; ``lot_step``/``min_contracts``: in contracts.
* Margin tiers (:class:`MarginTier`): ``floor``/``cap`` are position notional in the
  unit the exchange uses for its tier table — USD(T) for linear contracts, coin for
  Binance COIN-M and Bybit inverse. ``maint_amount`` is Binance's "cum" (maintenance
  amount) / Bybit's "deduction", in the same unit.

The built-in table is only the offline default. Specifications change; live specs
come from ccxt (``load_markets()``, ``fetch_leverage_tiers()``) through the data
layer and fill the same :class:`Instrument` type with ``specs_as_of="live"``.

Sources for the built-in rows (checked on :data:`SPECS_AS_OF`; see each tier table's
comment for what was and was not verified against a published page):
* Binance USDⓈ-M / COIN-M: "Leverage and Margin of USDⓈ-M Futures" / "COIN-M Futures"
  pages (binance.com/en/futures/trading-rules/perpetual/leverage-margin).
* Bybit: "Margin Parameters" (bybit.com/en/announcement-info/margin-parameters); older
  tables from Bybit API answers quoted in ccxt pull requests and Bybit's API docs examples.
* OKX: "Position tiers" (okx.com/trade-market/position-tiers/swap).
* Deribit: support article "11 January 2022" (no tiered table; MM 1 % + a per-coin
  increase, see DERIBIT_BTC_TIERS).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import IntEnum, StrEnum
from fractions import Fraction

from althedge.errors import InputError, UnknownInstrumentError

__all__ = [
    "BUILTIN_INSTRUMENTS",
    "SPECS_AS_OF",
    "ContractType",
    "Instrument",
    "MarginTier",
    "Side",
    "build_tiers",
    "find_instrument",
    "get_instrument",
    "list_instruments",
    "parse_contract_type",
    "parse_side",
]

SPECS_AS_OF = "2026-11-25"


class ContractType(StrEnum):
    """Linear (margined and settled in the quote, USD(T)) or inverse (in the coin)."""

    LINEAR = "linear"
    INVERSE = "inverse"


class Side(IntEnum):
    """Position side as a sign: +1 long, −1 short."""

    LONG = 1
    SHORT = -1


def parse_contract_type(value: ContractType | str) -> ContractType:
    """Accept ``ContractType`` or ``"linear"``/``"inverse"`` (any case)."""
    if isinstance(value, ContractType):
        return value
    try:
        return ContractType(str(value).strip().lower())
    except ValueError:
        raise InputError(
            f"contract: must be 'linear' or 'inverse', got {value!r}"
        ) from None


def parse_side(value: Side | str | float) -> Side:
    """Accept ``Side``, ``"long"``/``"short"`` (``"buy"``/``"sell"``) or ±1."""
    if isinstance(value, Side):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value in (1, -1):
            return Side(int(value))
    elif isinstance(value, str):
        text = value.strip().lower()
        if text in ("long", "buy", "+1", "1"):
            return Side.LONG
        if text in ("short", "sell", "-1"):
            return Side.SHORT
    raise InputError(f"side: must be 'long' or 'short', got {value!r}")


@dataclass(frozen=True)
class MarginTier:
    """One row of an exchange's maintenance-margin (risk-limit) table.

    A position whose notional ``n`` satisfies ``floor <= n <= cap`` uses this row:
    maintenance margin = ``n · (mmr + mmr_per_coin · size_coin) − maint_amount``.
    ``mmr_per_coin`` is Deribit's "increase factor" (the rate grows with the position
    size in coin: BTC 1 % + 0.005 % per BTC); 0 for every tiered exchange.
    """

    floor: float  # notional lower bound (USD linear; coin for Binance COIN-M / Bybit inverse)
    cap: float  # notional upper bound (inf for the last tier)
    mmr: float  # maintenance-margin rate, e.g. 0.004
    maint_amount: float  # Binance "cum" / Bybit "deduction", same unit as notional
    max_leverage: float
    mmr_per_coin: float = 0.0  # added to mmr per coin of position size (Deribit)


def build_tiers(rows: Sequence[tuple[float, float, float]]) -> tuple[MarginTier, ...]:
    """Build a tier table from ``(cap, mmr, max_leverage)`` rows, the first starting at 0.

    The maintenance amount is derived the way Binance defines it, so that the
    maintenance margin is continuous across tier boundaries:
    ``cum_i = cum_{i−1} + floor_i · (mmr_i − mmr_{i−1})``, ``cum_0 = 0``.
    (This reproduces Binance's published "cum" column exactly, e.g. BTCUSDT tier 2
    cum = 50 000 × (0.5 % − 0.4 %) = 50.)
    """
    tiers: list[MarginTier] = []
    floor = 0.0
    cum = Fraction(0)
    prev_mmr = Fraction(0)
    for cap, mmr, max_lev in rows:
        if cap <= floor:
            raise InputError(f"tiers: caps must increase, got {cap} after {floor}")
        # exact decimal arithmetic so that e.g. 3 921 300 is not 3 921 299.9999999995
        mmr_x = Fraction(str(mmr))
        cum = cum + Fraction(str(floor)) * (mmr_x - prev_mmr)
        tiers.append(MarginTier(float(floor), float(cap), float(mmr), float(cum), float(max_lev)))
        floor, prev_mmr = cap, mmr_x
    return tuple(tiers)


@dataclass(frozen=True)
class Instrument:
    """A futures contract's specification (built-in default or live from ccxt)."""

    exchange: str  # family: binance bybit okx deribit bingx mexc weex hyperliquid
    symbol: str  # ccxt unified symbol, e.g. "BTC/USDT:USDT", "BTC/USD:BTC-261225"
    base: str
    quote: str
    settle: str
    contract_type: ContractType
    contract_size: float  # coin per contract (linear) / USD per contract (inverse)
    tick_size: float  # price step, USD
    lot_step: float  # quantity step in contracts
    min_contracts: float
    max_leverage: float
    funding_interval_hours: float | None  # None for dated futures
    expiry: date | None
    tiers: tuple[MarginTier, ...]
    amount_in_usd: bool = False  # Deribit: order amount is in USD
    specs_as_of: str = ""  # date the built-in row was checked, or "live"

    @property
    def is_inverse(self) -> bool:
        """True for coin-margined (inverse) contracts."""
        return self.contract_type == ContractType.INVERSE

    @property
    def is_perpetual(self) -> bool:
        """True for perpetual swaps (no expiry)."""
        return self.expiry is None

    def tier_for_notional(self, notional: float) -> MarginTier:
        """The tier whose ``[floor, cap]`` holds ``notional`` (tier unit: see :class:`MarginTier`).

        Raises :class:`InputError` when the notional is negative/NaN, when the
        instrument has no tier table, or when it exceeds the last tier's cap.
        """
        return tier_for_notional(self.tiers, notional, what=f"{self.exchange} {self.symbol}")


def tier_for_notional(
    tiers: Sequence[MarginTier], notional: float, what: str = "tiers"
) -> MarginTier:
    """Pick the tier holding ``notional`` (a boundary belongs to the lower tier, as listed)."""
    if not tiers:
        raise InputError(f"{what}: no maintenance-margin tiers known; pass --mmr explicitly")
    if not math.isfinite(notional) or notional < 0:
        raise InputError(f"notional: must be a finite number >= 0, got {notional}")
    for tier in tiers:
        if notional <= tier.cap:
            return tier
    raise InputError(
        f"notional: {notional:,.2f} exceeds the largest tier cap {tiers[-1].cap:,.2f} of {what}; "
        "reduce the position"
    )


# ---------------------------------------------------------------------------
# Tier tables (rows: cap, mmr, max leverage). See the comment on each table for
# its source and what was verified.
# ---------------------------------------------------------------------------

_INF = math.inf

#: Binance USDⓈ-M BTCUSDT (notional in USDT). Source: Binance announcement "Updates to
#: Leverage and Margin Tiers of Binance Futures Contracts (2021-03-18)" (caps, leverage,
#: MMR as published). "cum" derived by build_tiers = 0; 50; 1 300; 16 300; 266 300;
#: 1 266 300; 2 516 300; 5 016 300; 25 016 300; 100 016 300, the same values Binance's
#: web front end used (bracket "cumFastMaintenanceAmount"). Binance has revised BTCUSDT
#: tiers since; NOT re-verified on SPECS_AS_OF — prefer live tiers from ccxt.
BINANCE_USDM_BTC_TIERS = build_tiers(
    [
        (50_000, 0.004, 125),
        (250_000, 0.005, 100),
        (1_000_000, 0.01, 50),
        (10_000_000, 0.025, 20),
        (20_000_000, 0.05, 10),
        (50_000_000, 0.10, 5),
        (100_000_000, 0.125, 4),
        (200_000_000, 0.15, 3),
        (300_000_000, 0.25, 2),
        (500_000_000, 0.50, 1),
    ]
)

#: Binance USDⓈ-M ETHUSDT (USDT). The 2021 table as used by Binance's front end
#: (caps 10 000 … 20 000 000, MMR 0.5 % … 15 %, cum 0; 15; 365; 5 365; 35 365; 135 365;
#: 260 365; 510 365; 2 510 365); only second-hand (a public reverse-engineered calculator
#: gist); the 2 M–5 M tier (10 %, cum 135 365) and BTCUSDT's 1 M–10 M tier (2.5 %, cum
#: 16 300) are the ones Binance's USDⓈ-M liquidation FAQ example uses. Other rows NOT
#: verified against a Binance page; last tier's cap unknown (inf here).
BINANCE_USDM_ETH_TIERS = build_tiers(
    [
        (10_000, 0.005, 100),
        (100_000, 0.0065, 75),
        (500_000, 0.01, 50),
        (1_000_000, 0.02, 25),
        (2_000_000, 0.05, 10),
        (5_000_000, 0.10, 5),
        (10_000_000, 0.125, 4),
        (20_000_000, 0.15, 3),
        (_INF, 0.25, 2),
    ]
)

#: Binance COIN-M BTCUSD (notional in BTC). Caps and leverage from Binance FAQ "Leverage
#: and Margin in Coin-Margined Futures Contracts" (5, 10, 20, 50, 100, 200, 400, 1 000 BTC;
#: 125× … 3×); MMR = half the initial margin rate. Verified against Binance FAQ "How to
#: Calculate Liquidation Price of COIN-M Futures Contracts": a 300 BTC position has MMR
#: 12.5 % and maintenance amount 11.605 BTC — build_tiers gives exactly that. The tier
#: above 1 000 BTC (2×, 25 %) has no published cap here (inf).
BINANCE_COINM_BTC_TIERS = build_tiers(
    [
        (5, 0.004, 125),
        (10, 0.005, 100),
        (20, 0.01, 50),
        (50, 0.025, 20),
        (100, 0.05, 10),
        (200, 0.10, 5),
        (400, 0.125, 4),
        (1_000, 0.15, 3),
        (_INF, 0.25, 2),
    ]
)

#: Binance COIN-M ETHUSD (notional in ETH). Caps and leverage from the same FAQ page
#: (100, 500, 1 000, 2 000, 4 000, 6 000, 8 000, 10 000 ETH; 100× … 3×). The page shows
#: initial-margin rates only; MMR here = half the IMR as in the BTC table. Corroborated, not
#: verified for the perpetual: Binance announcement 9c6a1766be424fccacd2549db3d61a3f
#: (binance.com/en/support/announcement/…, "start updating the Maintenance Margin of BTCUSD
#: Quarterly 0625 and ETHUSD Quarterly 0625", first step 2021-04-05) lists, for ETHUSD
#: Quarterly 0625 at these same caps, "Maintenance Margin Ratio (Before Adjustment)" 0.50 %,
#: 0.65 %, 1 %, 2.5 %, 5 %, 10 %, 12.5 %, 15 %, 25 % (10 000–15 000 ETH: 25 %) — exactly the
#: MMR column below. That page is about the quarterly (whose MMRs it then raised to 1 %,
#: 1.7 %, 2 %, 2.5 %, … "after final adjustment") and shows no cum; no published MMR table
#: of the ETHUSD perpetual was found. The quarterly rows below reuse this table unchanged.
BINANCE_COINM_ETH_TIERS = build_tiers(
    [
        (100, 0.005, 100),
        (500, 0.0065, 75),
        (1_000, 0.01, 50),
        (2_000, 0.025, 20),
        (4_000, 0.05, 10),
        (6_000, 0.10, 5),
        (8_000, 0.125, 4),
        (10_000, 0.15, 3),
        (_INF, 0.25, 2),
    ]
)

#: Bybit USDT perpetual BTCUSDT (USDT). Source: Bybit "Margin Parameters" page
#: (bybit.com/en/announcement-info/margin-parameters, Perpetual · USDT-based · BTCUSDT,
#: isolated & cross), tiers 1–20: risk limit, max leverage, MMR as published; the
#: published deductions (0; 1 200; 3 020; 4 300; 5 820; 8 460; 15 460; 20 500; 46 000;
#: 66 000; 80 000; 160 000; 300 000; 452 000; 502 000; 777 000; 837 000; 967 000;
#: 1 107 000; 1 482 000) are exactly what build_tiers derives (tested).
BYBIT_LINEAR_BTC_TIERS = build_tiers(
    [
        (2_000_000, 0.005, 100),
        (2_600_000, 0.0056, 90),
        (3_200_000, 0.0063, 80),
        (3_800_000, 0.0067, 75),
        (4_400_000, 0.0071, 70),
        (5_000_000, 0.0077, 65),
        (5_600_000, 0.0091, 55),
        (8_500_000, 0.01, 50),
        (10_000_000, 0.013, 45),
        (14_000_000, 0.015, 40),
        (20_000_000, 0.016, 35),
        (28_000_000, 0.02, 30),
        (38_000_000, 0.025, 25),
        (50_000_000, 0.029, 20),
        (55_000_000, 0.03, 19),
        (60_000_000, 0.035, 18),
        (65_000_000, 0.036, 17),
        (70_000_000, 0.038, 16),
        (75_000_000, 0.04, 15),
        (80_000_000, 0.045, 14),
    ]
)

#: Bybit USDT perpetual ETHUSDT (USDT). Source: a live Bybit risk-limit API answer quoted
#: by ccxt's maintainers in ccxt pull request #17061 ("bybit: patch
#: fetchMarketLeverageTiers", github.com/ccxt/ccxt/pull/17061, 2023-03-05), table of
#: fetchMarketLeverageTiers("ETH/USDT:USDT"): tiers 1–13 below — risk limit (maxNotional),
#: MMR and max leverage exactly as printed there. Consistent with Bybit's legacy API docs
#: (USDT-perpetual "Get Risk Limit" response example, time_now 2022-09-08: ETHUSDT first
#: tier 900 000 USDT, 0.5 %, IM 1 %, 100×). The quote is cut after tier 13 (24 M
#: USDT), so larger positions are refused here. The source shows no deduction column; the
#: maintenance amount is build_tiers' continuous convention, the formula Bybit's "Margin
#: Parameters" page states ("Maintenance Margin Deduction = Risk Limit on Tier (n-1) ×
#: (Difference between Maintenance Margin Rate on Tier n and Tier (n-1)) + Maintenance Margin
#: Deduction on Tier (n-1)"). A 2023 table: Bybit has restructured its tiers since (BTCUSDT
#: by 2024-05, ccxt PR #22459); NOT re-verified on SPECS_AS_OF — prefer live ccxt tiers.
BYBIT_LINEAR_ETH_TIERS = build_tiers(
    [
        (900_000, 0.005, 100),
        (1_500_000, 0.01, 50),
        (3_000_000, 0.015, 36.37),
        (4_500_000, 0.02, 28.58),
        (6_000_000, 0.025, 23.53),
        (7_500_000, 0.03, 20),
        (9_000_000, 0.035, 17.4),
        (10_500_000, 0.04, 15.39),
        (16_000_000, 0.045, 13.8),
        (18_000_000, 0.05, 12.5),
        (20_000_000, 0.055, 11.43),
        (22_000_000, 0.06, 10.53),
        (24_000_000, 0.065, 9.76),
    ]
)

#: Bybit inverse BTCUSD (notional in BTC): risk limit 150 BTC per tier step, MMR +0.5 %,
#: IM +0.5 % (from 1 %). Published points: tiers 1–3 (150 BTC 0.5 % 100×; 300 BTC 1 %
#: 66.67×; 450 BTC 1.5 % 50×) in the live /v2/public/risk-limit/list?symbol=BTCUSD answer
#: quoted in ccxt pull request #13172 ("Bybit :: fetchMarketLeverageTiers update",
#: github.com/ccxt/ccxt/pull/13172, 2022-05-09); tier 10 (1 500 BTC, MMR 5 %, IM 5.5 %,
#: 18.18×) and tier 1 in Bybit's legacy API docs (inverse "Get Risk Limit" response
#: example, time_now 2021-03-24); tier 1 again in Bybit's v5 docs example
#: (bybit-exchange.github.io/docs/v5/market/risk-limit, category=inverse, time 2022-12-26).
#: Tiers 4–9 are NOT quoted anywhere found: they are filled in by the fixed increments those
#: points share (Bybit's help article "Risk Limit (Inverse Contract)" describes the table as
#: base value + fixed increment); their max leverage is 1/IM rounded to 0.01. The sources
#: show no deduction; maintenance amount = build_tiers' continuous convention (see the
#: ETHUSDT comment). NOT re-verified on SPECS_AS_OF — prefer live tiers from ccxt.
BYBIT_INVERSE_BTC_TIERS = build_tiers(
    [(150.0 * (i + 1), 0.005 * (i + 1), round(1 / (0.01 + 0.005 * i), 2)) for i in range(10)]
)

#: Bybit inverse ETHUSD (notional in ETH): Bybit's help centre ("Risk Limit (Inverse
#: Contract)", "How to calculate Liquidation Price (Inverse Contract)") states the
#: maintenance margin base rate is 0.5 % for BTC and 1 % for ETH; that first-tier MMR is the
#: only verified number. Base 5 000 ETH, step 5 000 ETH (+0.5 % MMR) and the leverage column
#: are NOT verified: no published ETHUSD risk-limit table or API example was found.
BYBIT_INVERSE_ETH_TIERS = build_tiers(
    [(5_000.0 * (i + 1), 0.01 + 0.005 * i, round(1 / (0.02 + 0.01 * i), 2))
     for i in range(10)]
)

#: OKX swaps: first tier only (MMR 0.4 % BTC, 0.5 % ETH — notional in USD for the table
#: used here). NOT verified. OKX publishes position tiers in contracts ("Position tiers",
#: okx.com/trade-market/position-tiers/swap; /api/v5/public/position-tiers minSz/maxSz;
#: tier announcements such as "OKX to adjust position tiers of perpetual swaps", 2023-05-15).
#: Contracts × contract size gives coin for BTC-USDT-SWAP (0.01 BTC) / ETH-USDT-SWAP (0.1 ETH)
#: and USD for BTC-USD-SWAP (100 USD) / ETH-USD-SWAP (10 USD), while core.margin reads a
#: linear tier in USD and an inverse tier in coin: either way the conversion needs a price,
#: so no OKX table is converted here; the generic liquidation formula is used for OKX.
OKX_BTC_TIERS = build_tiers([(_INF, 0.004, 100)])
OKX_ETH_TIERS = build_tiers([(_INF, 0.005, 100)])

#: Deribit (standard margin) has no tier table: the maintenance-margin rate grows with the
#: position size in coin. Source: Deribit support, "11 January 2022" (margin changes, in
#: force since): BTC MM = 1 % + size in BTC × 0.005 %, ETH MM = 1 % + size in ETH ×
#: 0.0004 %; IM = 2 % + the same increase (max 50×). The same BTC rule and its worked
#: numbers (25 BTC → 1.125 %) stand on Deribit's "Linear Perpetual" page. Liquidation:
#: method "deribit-isolated" in core.margin (margin balance = this MM, solved exactly).
#: Cap (coin): the size at which the initial margin 2 % + k·X reaches 100 %.
DERIBIT_BTC_TIERS = (MarginTier(0.0, 19_600.0, 0.01, 0.0, 50.0, mmr_per_coin=0.00005),)
DERIBIT_ETH_TIERS = (MarginTier(0.0, 245_000.0, 0.01, 0.0, 50.0, mmr_per_coin=0.000004),)


#: --- the guide's other exchanges (issue 14) ---------------------------------------------
#: Hyperliquid (docs "Margin tiers", hyperliquid.gitbook.io/hyperliquid-docs/trading/
#: margin-tiers, read 2026-12-01): maintenance_margin = notional × MMR − deduction, MMR of a
#: tier = half the initial-margin rate at the tier's max leverage, deduction_n =
#: deduction_{n−1} + lower_bound_n × (MMR_n − MMR_{n−1}) — exactly build_tiers' convention.
#: Mainnet BTC: 0–150 M USDC 40×, > 150 M 20×; ETH: 0–100 M 25×, > 100 M 15×.
HYPERLIQUID_BTC_TIERS = build_tiers([(150_000_000, 1 / 80, 40), (_INF, 1 / 40, 20)])
HYPERLIQUID_ETH_TIERS = build_tiers([(100_000_000, 1 / 50, 25), (_INF, 1 / 30, 15)])

#: BingX USDⓈ-M ETH-USDT tier 1: 0–900 000 USDT, maintMarginRatio 0.33 %, maintAmount 0
#: (BingX "Position and Maintenance Margin Ratio" reply, GET /openApi/swap/v1/maintMarginRatio,
#: as quoted in ccxt 4.5.90 bingx.fetch_market_leverage_tiers, 2026-01). Only tier 1 is
#: quoted; BingX serves the full table to signed requests only, so live tiers need a key.
#: BTC-USDT: NOT verified — tier 1 assumed at 0.4 % (the common BTC tier-1 rate, and
#: below BingX's 1/125 initial rate); the plan labels these specs with their date.
#: Checked 2026-12-02: BingX's support article "Perpetual Futures | Fee Schedule"
#: (bingx.io/en-us/support/articles/360046487573, undated) states one maintenance rate of
#: 0.5 % "and currently no tiered ratios" — older than the tiered maintMarginRatio
#: endpoint, so not adopted; with read-only keys the live tiers replace these (plan
#: --exchange bingx, tests/data/test_ccxt_new_exchanges.py).
BINGX_LINEAR_BTC_TIERS = build_tiers([(_INF, 0.004, 125)])
BINGX_LINEAR_ETH_TIERS = build_tiers([(900_000, 0.0033, 100), (_INF, 0.005, 50)])
#: BingX Coin-M (notional in coin): ccxt reads no tiers for them (NotSupported); NOT
#: verified — one tier at 0.5 %, a conservative assumption for a short hedge (the same
#: 0.5 % as the support article above; still NOT verified for Coin-M, 2026-12-02).
BINGX_INVERSE_TIERS = build_tiers([(_INF, 0.005, 100)])

#: MEXC USDT-M: the contract-detail reply (GET /api/v1/contract/detail, as recorded in ccxt
#: 4.5.90 mexc.fetch_swap_markets: BTC_USDT maintenanceMarginRate 0.004, initialMarginRate
#: 0.008, riskIncrVol 200 000 contracts, riskIncrMmr 0.004). MEXC's risk tiers step in
#: CONTRACTS (riskIncrVol), which needs a price to convert to the USD tiers used here; only
#: the first tier is kept (as for OKX) — live tiers come from ccxt fetchLeverageTiers.
#: ETH_USDT: NOT verified, tier 1 assumed at 0.5 % (2026-12-02: no ETH_USDT contract
#: detail found; ``plan --exchange mexc`` reads the live table, public, converted to USD).
MEXC_BTC_TIERS = build_tiers([(_INF, 0.004, 125)])
MEXC_ETH_TIERS = build_tiers([(_INF, 0.005, 100)])

#: WEEX: tiers are published per symbol in contracts on the trading page (help centre
#: "Maintenance Margin Rate"; example table in "WEEX Futures will adjust the leverage and
#: margin tiers for TRB/USDT", 2023-09-15); ccxt has no tier endpoint for WEEX and no BTC
#: or ETH table was found: NOT verified — one tier at 0.5 %, conservative for a short hedge.
#: Still NOT verified 2026-12-02 (ccxt 4.5.90 has neither fetchLeverageTiers nor
#: fetchMarketLeverageTiers for WEEX: live plans label these built-in tiers).
WEEX_TIERS = build_tiers([(_INF, 0.005, 100)])


def _row(
    exchange: str,
    symbol: str,
    contract_size: float,
    tick: float,
    lot: float,
    min_q: float,
    max_lev: float,
    tiers: tuple[MarginTier, ...],
    *,
    expiry: date | None = None,
    amount_in_usd: bool = False,
    funding_hours: float | None = 8.0,
) -> Instrument:
    pair, _, rest = symbol.partition(":")
    base, _, quote = pair.partition("/")
    settle = rest.split("-")[0]
    ctype = ContractType.INVERSE if settle == base else ContractType.LINEAR
    return Instrument(
        exchange=exchange,
        symbol=symbol,
        base=base,
        quote=quote,
        settle=settle,
        contract_type=ctype,
        contract_size=contract_size,
        tick_size=tick,
        lot_step=lot,
        min_contracts=min_q,
        max_leverage=max_lev,
        funding_interval_hours=None if expiry is not None else funding_hours,
        expiry=expiry,
        tiers=tiers,
        amount_in_usd=amount_in_usd,
        specs_as_of=SPECS_AS_OF,
    )


_Q1 = date(2026, 12, 25)  # last Friday of December 2026 (Binance/Deribit quarterly)
_Q2 = date(2027, 3, 26)  # last Friday of March 2027

#: The built-in, dated offline table (see module docstring for sources). Dated (quarterly)
#: contracts reuse their perpetual's tier table; exchanges publish separate quarterly
#: tiers (Binance's 2021 COIN-M quarterly MMRs were higher) that are NOT in this table —
#: for a dated contract prefer live tiers from ccxt.
BUILTIN_INSTRUMENTS: tuple[Instrument, ...] = (
    # Binance USDⓈ-M (linear, quantity in coin → ccxt contractSize 1)
    _row("binance", "BTC/USDT:USDT", 1.0, 0.1, 0.001, 0.001, 125, BINANCE_USDM_BTC_TIERS),
    _row("binance", "ETH/USDT:USDT", 1.0, 0.01, 0.001, 0.001, 125, BINANCE_USDM_ETH_TIERS),
    _row("binance", "BTC/USDT:USDT-261225", 1.0, 0.1, 0.001, 0.001, 125,
         BINANCE_USDM_BTC_TIERS, expiry=_Q1),
    _row("binance", "ETH/USDT:USDT-261225", 1.0, 0.01, 0.001, 0.001, 125,
         BINANCE_USDM_ETH_TIERS, expiry=_Q1),
    # Binance COIN-M (inverse; BTC 100 USD, other coins 10 USD)
    _row("binance", "BTC/USD:BTC", 100.0, 0.1, 1, 1, 125, BINANCE_COINM_BTC_TIERS),
    _row("binance", "ETH/USD:ETH", 10.0, 0.01, 1, 1, 100, BINANCE_COINM_ETH_TIERS),
    _row("binance", "BTC/USD:BTC-261225", 100.0, 0.1, 1, 1, 125,
         BINANCE_COINM_BTC_TIERS, expiry=_Q1),
    _row("binance", "ETH/USD:ETH-261225", 10.0, 0.01, 1, 1, 100,
         BINANCE_COINM_ETH_TIERS, expiry=_Q1),
    _row("binance", "BTC/USD:BTC-270326", 100.0, 0.1, 1, 1, 125,
         BINANCE_COINM_BTC_TIERS, expiry=_Q2),
    _row("binance", "ETH/USD:ETH-270326", 10.0, 0.01, 1, 1, 100,
         BINANCE_COINM_ETH_TIERS, expiry=_Q2),
    # Bybit linear (quantity in coin) and inverse (1 USD contracts)
    _row("bybit", "BTC/USDT:USDT", 1.0, 0.1, 0.001, 0.001, 100, BYBIT_LINEAR_BTC_TIERS),
    _row("bybit", "ETH/USDT:USDT", 1.0, 0.01, 0.01, 0.01, 100, BYBIT_LINEAR_ETH_TIERS),
    _row("bybit", "BTC/USD:BTC", 1.0, 0.5, 1, 1, 100, BYBIT_INVERSE_BTC_TIERS),
    _row("bybit", "ETH/USD:ETH", 1.0, 0.05, 1, 1, 100, BYBIT_INVERSE_ETH_TIERS),
    # OKX swaps (BTC-USDT-SWAP 0.01 BTC, ETH-USDT-SWAP 0.1 ETH; BTC-USD-SWAP 100 USD,
    # ETH-USD-SWAP 10 USD)
    _row("okx", "BTC/USDT:USDT", 0.01, 0.1, 0.01, 0.01, 100, OKX_BTC_TIERS),
    _row("okx", "ETH/USDT:USDT", 0.1, 0.01, 0.01, 0.01, 100, OKX_ETH_TIERS),
    _row("okx", "BTC/USD:BTC", 100.0, 0.1, 1, 1, 100, OKX_BTC_TIERS),
    _row("okx", "ETH/USD:ETH", 10.0, 0.01, 1, 1, 100, OKX_ETH_TIERS),
    # Deribit perpetuals and a quarterly (inverse; amount in USD, 10 USD BTC / 1 USD ETH)
    _row("deribit", "BTC/USD:BTC", 10.0, 0.5, 1, 1, 50, DERIBIT_BTC_TIERS, amount_in_usd=True),
    _row("deribit", "ETH/USD:ETH", 1.0, 0.05, 1, 1, 50, DERIBIT_ETH_TIERS, amount_in_usd=True),
    _row("deribit", "BTC/USD:BTC-261225", 10.0, 2.5, 1, 1, 50, DERIBIT_BTC_TIERS,
         expiry=_Q1, amount_in_usd=True),
    _row("deribit", "ETH/USD:ETH-261225", 1.0, 0.25, 1, 1, 50, DERIBIT_ETH_TIERS,
         expiry=_Q1, amount_in_usd=True),
    # BingX perpetuals (docs: "USDT-M Perp Futures symbols" — BTC-USDT quantity in BTC,
    # quantityPrecision 4, pricePrecision 1, tradeMinQuantity 0.0001, tradeMinUSDT 2, 125×;
    # "Coin-M Contract Information" — BTC-USD minTickSize 100 (USD per contract), ETH-USD 10)
    _row("bingx", "BTC/USDT:USDT", 1.0, 0.1, 0.0001, 0.0001, 125, BINGX_LINEAR_BTC_TIERS),
    _row("bingx", "ETH/USDT:USDT", 1.0, 0.01, 0.01, 0.01, 100, BINGX_LINEAR_ETH_TIERS),
    _row("bingx", "BTC/USD:BTC", 100.0, 0.1, 1, 1, 100, BINGX_INVERSE_TIERS),
    _row("bingx", "ETH/USD:ETH", 10.0, 0.01, 1, 1, 100, BINGX_INVERSE_TIERS),
    # MEXC USDT-M perpetuals, amounts in whole contracts (BTC_USDT contractSize 0.0001 BTC,
    # volUnit 1, minVol 1 in ccxt's recorded contract-detail reply; its priceUnit there is
    # 0.5, 0.1 assumed today; ETH_USDT 0.01 ETH NOT verified); coin-margined MEXC
    # contracts are not in this table (live markets only)
    _row("mexc", "BTC/USDT:USDT", 0.0001, 0.1, 1, 1, 125, MEXC_BTC_TIERS),
    _row("mexc", "ETH/USDT:USDT", 0.01, 0.01, 1, 1, 100, MEXC_ETH_TIERS),
    # WEEX USDT-M perpetuals (contract exchangeInfo: BTCUSDT quantityPrecision 4,
    # minOrderSize 0.0001, maxOrderSize 1200 — quantities in BTC, see exchanges/weex.py)
    _row("weex", "BTC/USDT:USDT", 1.0, 0.1, 0.0001, 0.0001, 400, WEEX_TIERS),
    _row("weex", "ETH/USDT:USDT", 1.0, 0.01, 0.001, 0.001, 400, WEEX_TIERS),
    # Hyperliquid perpetuals: USDC collateral, sizes in coin with szDecimals (BTC 5, ETH 4),
    # prices of 5 significant figures, hourly funding (docs "Contract specifications",
    # "Tick and lot size", "Funding")
    _row("hyperliquid", "BTC/USDC:USDC", 1.0, 1.0, 0.00001, 0.00001, 40,
         HYPERLIQUID_BTC_TIERS, funding_hours=1.0),
    _row("hyperliquid", "ETH/USDC:USDC", 1.0, 0.1, 0.0001, 0.0001, 25,
         HYPERLIQUID_ETH_TIERS, funding_hours=1.0),
)

_EXCHANGE_ALIASES = {
    "binanceusdm": "binance",
    "binancecoinm": "binance",
    "binance-usdm": "binance",
    "binance-coinm": "binance",
}


def _norm_exchange(exchange: str) -> str:
    key = str(exchange).strip().lower()
    return _EXCHANGE_ALIASES.get(key, key)


def list_instruments(exchange: str | None = None) -> list[Instrument]:
    """All built-in instruments, optionally only those of one exchange (ccxt id)."""
    if exchange is None:
        return list(BUILTIN_INSTRUMENTS)
    ex = _norm_exchange(exchange)
    return [i for i in BUILTIN_INSTRUMENTS if i.exchange == ex]


def get_instrument(exchange: str, symbol: str) -> Instrument:
    """The built-in instrument with this exchange and ccxt symbol.

    Raises :class:`UnknownInstrumentError` naming the known symbols otherwise.
    """
    ex = _norm_exchange(exchange)
    sym = str(symbol).strip().upper()
    for inst in BUILTIN_INSTRUMENTS:
        if inst.exchange == ex and inst.symbol.upper() == sym:
            return inst
    known = ", ".join(i.symbol for i in list_instruments(ex))
    if not known:
        exchanges = ", ".join(sorted({i.exchange for i in BUILTIN_INSTRUMENTS}))
        raise UnknownInstrumentError(
            f"exchange: {exchange!r} has no built-in contracts; use one of {exchanges}"
        )
    raise UnknownInstrumentError(
        f"symbol: {symbol!r} is not a built-in {ex} contract; use one of {known}"
    )


def find_instrument(
    exchange: str,
    hedge_asset: str,
    contract_type: ContractType | str,
    *,
    perpetual: bool = True,
) -> Instrument:
    """The built-in contract on ``exchange`` for ``hedge_asset`` (e.g. "BTC") and type.

    ``perpetual=False`` returns the nearest-expiring dated contract in the table.
    Raises :class:`UnknownInstrumentError` when none matches.
    """
    ex = _norm_exchange(exchange)
    asset = str(hedge_asset).strip().upper()
    ctype = parse_contract_type(contract_type)
    matches = [
        i
        for i in BUILTIN_INSTRUMENTS
        if i.exchange == ex
        and i.base == asset
        and i.contract_type == ctype
        and i.is_perpetual == perpetual
    ]
    if not matches:
        kind = "perpetual" if perpetual else "dated"
        raise UnknownInstrumentError(
            f"hedge asset: no built-in {kind} {ctype.value} {asset} contract on {exchange!r}; "
            "choose another exchange, contract type or asset (BTC, ETH)"
        )
    matches.sort(key=lambda i: i.expiry or date.min)
    return matches[0]
