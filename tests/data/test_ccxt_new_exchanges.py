"""Live contract specs and margin tiers of BingX, MEXC, WEEX and Hyperliquid from ccxt.

Real ccxt objects answered from recorded replies in each exchange's documented shapes
(tests/fixtures/ccxt_data/offline.py, tests/fixtures/ccxt_venue). What ccxt offers differs:

* BingX: ``fetchMarketLeverageTiers`` = "Position and Maintenance Margin Ratio"
  (GET /openApi/swap/v1/maintMarginRatio, signed: read-only keys needed; without them
  the built-in tiers, labelled);
* MEXC: ``fetchLeverageTiers`` from "Get contract info" (public): ``maintenanceMarginRate``
  rising by ``riskIncrMmr`` every ``riskIncrVol`` CONTRACTS (MEXC futures API docs) —
  converted to USD at the mark;
* WEEX, Hyperliquid: ccxt reads no tiers (``has`` says so): the built-in rows, labelled.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from althedge.core.instruments import get_instrument

_p = Path(__file__).resolve().parents[1] / "fixtures" / "ccxt_data" / "offline.py"
_spec = importlib.util.spec_from_file_location("ccxt_offline_new", _p)
assert _spec is not None and _spec.loader is not None
offline = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(offline)


def test_bingx_specs_and_signed_tiers() -> None:
    md, replay, _r, _s = offline.offline_market_data("bingx", api_keys=True)
    inst = md.instrument("BTC/USDT:USDT")
    # "USDT-M Perp Futures symbols": quantity in BTC, quantityPrecision 4, tradeMinQuantity
    # 0.0001, pricePrecision 1, maxShortLeverage 125
    assert (inst.contract_size, inst.lot_step, inst.min_contracts) == (1.0, 0.0001, 0.0001)
    assert inst.tick_size == pytest.approx(0.1) and inst.max_leverage == 125
    assert inst.specs_as_of == "live"
    # the signed reply: tier 2 from 1 000 000 USDT at 0.5 %, maintAmount 1 000
    t2 = inst.tier_for_notional(2_000_000)
    assert (t2.floor, t2.cap, t2.mmr, t2.maint_amount) == (1_000_000, 5_000_000, 0.005, 1000.0)
    (signed,) = [r for r in replay.requests if r.path == "/openApi/swap/v1/maintMarginRatio"]
    assert "signature" in signed.params and signed.params["symbol"] == "BTC-USDT"


def test_bingx_without_keys_uses_the_builtin_tiers_and_says_so() -> None:
    md, _replay, _r, _s = offline.offline_market_data("bingx")
    inst = md.instrument("BTC/USDT:USDT")
    assert inst.tiers == get_instrument("bingx", "BTC/USDT:USDT").tiers
    assert inst.specs_as_of.startswith("live; margin tiers built-in (")
    assert "bingx serves them to signed requests only" in inst.specs_as_of


def test_mexc_contracts_and_tiers_in_usd_at_the_mark() -> None:
    md, _replay, _r, _s = offline.offline_market_data("mexc")
    inst = md.instrument("BTC/USDT:USDT")
    # "Get contract info": contractSize 0.0001 BTC, volUnit 1, minVol 1, maxLeverage 125
    assert (inst.contract_size, inst.lot_step, inst.min_contracts) == (0.0001, 1.0, 1.0)
    assert inst.max_leverage == 125 and inst.specs_as_of == "live"
    # maintenanceMarginRate 0.4 % for the first riskIncrVol = 200 000 contracts, then
    # + riskIncrMmr 0.4 % a step; 200 000 × 0.0001 BTC at the mark 62 480.5 USDT
    step_usd = 200_000 * 0.0001 * 62_480.5
    t1, t2 = inst.tiers[0], inst.tiers[1]
    assert t1.cap == pytest.approx(step_usd) and t1.mmr == pytest.approx(0.004)
    assert t2.floor == pytest.approx(step_usd) and t2.mmr == pytest.approx(0.008)
    # continuous maintenance margin across the boundary (Binance's "cum" convention)
    assert t2.maint_amount == pytest.approx(step_usd * 0.004)


@pytest.mark.parametrize(("exchange", "symbol", "lot", "size", "max_lev"), [
    # WEEX "Get contract info": BTCUSDT quantityPrecision 4, minOrderSize 0.0001 BTC,
    # maxLeverage 400; amounts in coin although ccxt's contractSize is contractVal 0.0001
    ("weex", "BTC/USDT:USDT", 0.0001, 1.0, 400),
    # Hyperliquid meta: BTC szDecimals 5, maxLeverage 40
    ("hyperliquid", "BTC/USDC:USDC", 0.00001, 1.0, 40),
])
def test_no_tiers_in_ccxt_builtin_rows_labelled(
    exchange: str, symbol: str, lot: float, size: float, max_lev: float
) -> None:
    md, _replay, _r, _s = offline.offline_market_data(exchange)
    assert not md.exchange.has.get("fetchLeverageTiers")
    assert not md.exchange.has.get("fetchMarketLeverageTiers")
    inst = md.instrument(symbol)
    assert inst.contract_size == size and inst.lot_step == pytest.approx(lot)
    assert inst.min_contracts == pytest.approx(lot) and inst.max_leverage == max_lev
    assert inst.tiers == get_instrument(exchange, symbol).tiers
    assert inst.specs_as_of.endswith(f"ccxt reads no margin tiers from {exchange}")
    if exchange == "weex":
        raw = md.market(symbol)
        assert raw["contractSize"] == 0.0001  # ccxt's contractVal, NOT the order unit
        assert raw["limits"]["amount"]["min"] == 0.0001  # minOrderSize, in BTC


def test_hyperliquid_funding_interval_is_hourly() -> None:
    md, _replay, _r, _s = offline.offline_market_data("hyperliquid")
    assert md.funding_interval("BTC/USDC:USDC") == 1.0
    now = md.funding_now("BTC/USDC:USDC")
    assert now.interval_hours == 1.0 and now.rate_8h == pytest.approx(now.rate * 8)
