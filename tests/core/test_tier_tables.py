"""Built-in tier tables against the published numbers they were taken from (core/instruments.py).

Each test quotes its source; rows a source does not show are not asserted here.
"""

from __future__ import annotations

from althedge.core.instruments import get_instrument


def test_bybit_ethusdt_tiers_match_the_quoted_risk_limit_answer() -> None:
    """ccxt pull request #17061 ("bybit: patch fetchMarketLeverageTiers", 2023-03-05) prints
    Bybit's live answer for ETH/USDT:USDT: tiers 1–13, maxNotional (USDT), MMR, max leverage.
    Tier 1 also matches Bybit's legacy API docs "Get Risk Limit" example (2022-09-08):
    900 000 USDT, MMR 0.5 %, 100×. No deduction column is published there.
    """
    published = [
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
    tiers = get_instrument("bybit", "ETH/USDT:USDT").tiers
    assert [(t.cap, t.mmr, t.max_leverage) for t in tiers] == published
    assert [t.floor for t in tiers] == [0] + [cap for cap, _, _ in published[:-1]]


def test_bybit_inverse_btcusd_tiers_match_the_published_points() -> None:
    """Bybit BTCUSD inverse risk limits (notional in BTC).

    * ccxt pull request #13172 (2022-05-09), live /v2/public/risk-limit/list?symbol=BTCUSD:
      150 BTC MMR 0.5 % 100×; 300 BTC 1 % 66.67×; 450 BTC 1.5 % 50×.
    * Bybit legacy API docs, inverse "Get Risk Limit" example (time_now 2021-03-24): tier 1 as
      above and tier 10 = 1 500 BTC, MMR 5 %, IM 5.5 %, 18.18×.
    * Bybit v5 docs /v5/market/risk-limit example (category=inverse, 2022-12-26): tier 1 as
      above.
    Tiers 4–9 are interpolated (fixed 150 BTC / 0.5 % steps), so they are not asserted.
    """
    tiers = get_instrument("bybit", "BTC/USD:BTC").tiers
    assert len(tiers) == 10
    published = {0: (150, 0.005, 100), 1: (300, 0.01, 66.67), 2: (450, 0.015, 50),
                 9: (1_500, 0.05, 18.18)}
    for index, row in published.items():
        t = tiers[index]
        assert (t.cap, t.mmr, t.max_leverage) == row


def test_bybit_inverse_ethusd_first_tier_rate_is_the_published_base_rate() -> None:
    """Bybit help centre "Risk Limit (Inverse Contract)": the maintenance margin base rate is
    0.5 % for BTC and 1 % for ETH. The rest of the ETHUSD table is not verified.
    """
    assert get_instrument("bybit", "ETH/USD:ETH").tiers[0].mmr == 0.01
    assert get_instrument("bybit", "BTC/USD:BTC").tiers[0].mmr == 0.005


def test_binance_coinm_ethusd_rates_match_the_2021_quarterly_announcement() -> None:
    """Binance announcement "… start updating the Maintenance Margin of BTCUSD Quarterly 0625
    and ETHUSD Quarterly 0625 COIN-M contracts" (first step 2021-04-05), ETHUSD Quarterly 0625,
    "Maintenance Margin Ratio (Before Adjustment)" at positions ≤ 100, 500, 1 000, 2 000,
    4 000, 6 000, 8 000, 10 000 ETH, then 10 000–15 000 ETH: 0.50 %, 0.65 %, 1 %, 2.5 %, 5 %,
    10 %, 12.5 %, 15 %, 25 %. Same caps and rates as the built-in table (which the perpetual
    uses; no perpetual MMR table was found). The page shows no maintenance amount.
    """
    tiers = get_instrument("binance", "ETH/USD:ETH").tiers
    assert [t.cap for t in tiers[:8]] == [100, 500, 1_000, 2_000, 4_000, 6_000, 8_000, 10_000]
    assert [t.mmr for t in tiers] == [0.005, 0.0065, 0.01, 0.025, 0.05, 0.10, 0.125, 0.15, 0.25]
