"""Built-in contract table and tier lookup (core/instruments.py)."""

from __future__ import annotations

import math

import pytest

from althedge.core.instruments import (
    BUILTIN_INSTRUMENTS,
    ContractType,
    MarginTier,
    Side,
    build_tiers,
    find_instrument,
    get_instrument,
    list_instruments,
    parse_contract_type,
    parse_side,
)
from althedge.errors import InputError, UnknownInstrumentError


def test_binance_usdm_btc_tiers_match_published_table() -> None:
    # Source: Binance announcement "Updates to Leverage and Margin Tiers of Binance Futures
    # Contracts (2021-03-18)", BTCUSDT 125x table; cum column as used by Binance's web UI.
    tiers = get_instrument("binance", "BTC/USDT:USDT").tiers
    assert [t.cap for t in tiers[:5]] == [50_000, 250_000, 1_000_000, 10_000_000, 20_000_000]
    assert [t.mmr for t in tiers[:5]] == [0.004, 0.005, 0.01, 0.025, 0.05]
    assert [t.maint_amount for t in tiers] == [
        0, 50, 1_300, 16_300, 266_300, 1_266_300, 2_516_300, 5_016_300, 25_016_300, 100_016_300
    ]
    assert [t.max_leverage for t in tiers] == [125, 100, 50, 20, 10, 5, 4, 3, 2, 1]


def test_binance_coinm_btc_tier_matches_faq_example() -> None:
    # Binance FAQ "How to Calculate Liquidation Price of COIN-M Futures Contracts": a 300 BTC
    # BTCUSD position has MMR 12.5 % and maintenance amount 11.605 BTC.
    inst = get_instrument("binance", "BTC/USD:BTC")
    tier = inst.tier_for_notional(300)
    assert tier.mmr == 0.125
    assert tier.maint_amount == pytest.approx(11.605, abs=1e-12)
    # level-1 example from the same FAQ: 0.4 BTC notional → MMR 0.4 %, cum 0
    assert inst.tier_for_notional(0.4) == inst.tiers[0]
    assert inst.tiers[0].mmr == 0.004 and inst.tiers[0].maint_amount == 0


def test_usdm_faq_tier_example() -> None:
    # Binance USDⓈ-M FAQ: "if the position of BTCUSDT is 264,000 USDT, the MMR would be 1 %".
    assert get_instrument("binance", "BTC/USDT:USDT").tier_for_notional(264_000).mmr == 0.01


def test_maintenance_margin_is_continuous_across_every_builtin_tier() -> None:
    for inst in BUILTIN_INSTRUMENTS:
        for lo, hi in zip(inst.tiers, inst.tiers[1:], strict=False):
            b = hi.floor
            assert lo.cap == hi.floor
            assert b * lo.mmr - lo.maint_amount == pytest.approx(b * hi.mmr - hi.maint_amount)


def test_build_tiers_derives_cum_and_rejects_decreasing_caps() -> None:
    tiers = build_tiers([(10, 0.01, 50), (20, 0.02, 25), (math.inf, 0.05, 10)])
    assert [t.maint_amount for t in tiers] == [0, 0.1, 0.7]
    assert tiers[1] == MarginTier(10, 20, 0.02, 0.1, 25)
    with pytest.raises(InputError, match="caps must increase"):
        build_tiers([(10, 0.01, 50), (5, 0.02, 25)])


def test_tier_boundary_belongs_to_lower_tier_and_overflow_is_an_error() -> None:
    inst = get_instrument("binance", "BTC/USDT:USDT")
    assert inst.tier_for_notional(50_000).mmr == 0.004
    assert inst.tier_for_notional(50_000.01).mmr == 0.005
    with pytest.raises(InputError, match="exceeds the largest tier"):
        inst.tier_for_notional(600_000_000)
    with pytest.raises(InputError, match="notional"):
        inst.tier_for_notional(-1)


@pytest.mark.parametrize(
    ("exchange", "symbol", "ctype", "size", "in_usd"),
    [
        ("binance", "BTC/USDT:USDT", ContractType.LINEAR, 1.0, False),
        ("binance", "ETH/USDT:USDT", ContractType.LINEAR, 1.0, False),
        ("binance", "BTC/USD:BTC", ContractType.INVERSE, 100.0, False),
        ("binance", "ETH/USD:ETH", ContractType.INVERSE, 10.0, False),
        ("bybit", "BTC/USDT:USDT", ContractType.LINEAR, 1.0, False),
        ("bybit", "BTC/USD:BTC", ContractType.INVERSE, 1.0, False),
        ("bybit", "ETH/USD:ETH", ContractType.INVERSE, 1.0, False),
        ("okx", "BTC/USDT:USDT", ContractType.LINEAR, 0.01, False),
        ("okx", "ETH/USDT:USDT", ContractType.LINEAR, 0.1, False),
        ("okx", "BTC/USD:BTC", ContractType.INVERSE, 100.0, False),
        ("okx", "ETH/USD:ETH", ContractType.INVERSE, 10.0, False),
        ("deribit", "BTC/USD:BTC", ContractType.INVERSE, 10.0, True),
        ("deribit", "ETH/USD:ETH", ContractType.INVERSE, 1.0, True),
    ],
)
def test_contract_sizes_per_docs(
    exchange: str, symbol: str, ctype: ContractType, size: float, in_usd: bool
) -> None:
    inst = get_instrument(exchange, symbol)
    assert inst.contract_type == ctype
    assert inst.is_inverse == (ctype == ContractType.INVERSE)
    assert inst.contract_size == size
    assert inst.amount_in_usd is in_usd
    assert inst.is_perpetual and inst.funding_interval_hours == 8.0
    assert inst.settle == (inst.base if inst.is_inverse else "USDT")
    assert inst.specs_as_of and inst.tiers


def test_every_builtin_row_is_consistent() -> None:
    seen = set()
    for inst in BUILTIN_INSTRUMENTS:
        key = (inst.exchange, inst.symbol)
        assert key not in seen
        seen.add(key)
        assert inst.contract_size > 0 and inst.tick_size > 0 and inst.lot_step > 0
        assert inst.min_contracts > 0 and inst.max_leverage >= 1
        assert (inst.expiry is None) == (inst.funding_interval_hours is not None)
        assert inst.tiers[0].floor == 0
        if inst.expiry is not None:
            assert inst.symbol.endswith(inst.expiry.strftime("%y%m%d"))


def test_find_instrument_perpetual_and_dated() -> None:
    perp = find_instrument("binance", "btc", "inverse")
    assert perp.symbol == "BTC/USD:BTC"
    dated = find_instrument("binance", "BTC", ContractType.INVERSE, perpetual=False)
    assert dated.symbol == "BTC/USD:BTC-261225"  # the nearest expiry of the two in the table
    assert find_instrument("okx", "ETH", "linear").contract_size == 0.1
    with pytest.raises(UnknownInstrumentError, match="no built-in dated linear BTC"):
        find_instrument("bybit", "BTC", "linear", perpetual=False)
    with pytest.raises(UnknownInstrumentError):
        find_instrument("binance", "SOL", "linear")


def test_get_instrument_errors_name_the_fix() -> None:
    with pytest.raises(UnknownInstrumentError, match=r"use one of .*BTC/USDT:USDT"):
        get_instrument("binance", "DOGE/USDT:USDT")
    with pytest.raises(UnknownInstrumentError, match="exchange: 'kraken'"):
        get_instrument("kraken", "BTC/USD:BTC")
    assert get_instrument("binanceusdm", "btc/usdt:usdt").exchange == "binance"


def test_list_instruments() -> None:
    assert len(list_instruments()) == len(BUILTIN_INSTRUMENTS)
    assert {i.exchange for i in list_instruments("deribit")} == {"deribit"}
    assert list_instruments("nope") == []


def test_parsers() -> None:
    assert parse_side("Short") is Side.SHORT and parse_side(1) is Side.LONG
    assert parse_side(-1.0) is Side.SHORT
    assert parse_contract_type("INVERSE") is ContractType.INVERSE
    with pytest.raises(InputError, match="side"):
        parse_side("flat")
    with pytest.raises(InputError, match="contract"):
        parse_contract_type("quanto")


def test_bybit_btcusdt_deductions_match_margin_parameters_page() -> None:
    # Bybit "Margin Parameters" page, Perpetual · USDT-based · BTCUSDT: published
    # "Maintenance Margin Deduction" column for tiers 1–20. Exact.
    tiers = get_instrument("bybit", "BTC/USDT:USDT").tiers
    assert [t.maint_amount for t in tiers] == [
        0, 1_200, 3_020, 4_300, 5_820, 8_460, 15_460, 20_500, 46_000, 66_000, 80_000,
        160_000, 300_000, 452_000, 502_000, 777_000, 837_000, 967_000, 1_107_000, 1_482_000,
    ]
    assert tiers[0].cap == 2_000_000 and tiers[0].max_leverage == 100
    assert tiers[-1].cap == 80_000_000 and tiers[-1].mmr == 0.045
