"""WEEX USDT-M perpetual futures (API v3): ccxt id ``weex``.

Sources: WEEX API docs (weex.com/api-doc/contract) — "Get contract info"
(``/capi/v3/market/exchangeInfo``: ``contractVal``, ``quantityPrecision``,
``minOrderSize``/``maxOrderSize``, ``makerFeeRate``/``takerFeeRate``, funding
``delivery`` times 00:00/08:00/16:00), "Place order" (``newClientOrderId``;
``positionSide`` LONG/SHORT on every order; ``reduceOnly``), "Get order history" /
"Get current orders" (``clientOrderId`` of each order), "Change margin type",
"Adjust leverage" (``isolatedShortLeverage``), "Get all positions" (``size`` with
``openValue`` = size × price), "Get income" (funding, signed: positive = received).
Fees: maker 0.02 %, taker 0.08 % — WEEX support "Guide to Spot and Futures Trading Fees
on WEEX" and "WEEX Spot and Futures Trading Fee Calculation" (read 2026-12-02), the
contract exchangeInfo's BTCUSDT ``makerFeeRate`` 0.0002 / ``takerFeeRate`` 0.0008 and
ccxt 4.5.90's ``fees['contract']`` base tier (written there in percent: 0.02 / 0.08).
Test environment: NONE althedge can use. WEEX demo trading
(ccxt 4.5.90 sandbox: the ``capi/v3/sim`` endpoints on the live host, demo market
``BTCSUSDT``) offers only create order, positions, balance and the order history; ccxt
refuses every other private call in sandbox mode (leverage, margin mode, cancel, open
orders, funding), so a hedge cannot be set up, rebalanced or cleaned up there:
``--testnet`` is refused with that reason.

**Units.** ccxt 4.5.90 gives WEEX markets ``contractSize`` = ``contractVal`` (BTCUSDT
0.0001), but the order ``quantity``, its step (``quantityPrecision`` 4), its minimum
(``minOrderSize`` 0.0001 = one contractVal) and maximum (``maxOrderSize`` 1 200) and the
position ``size`` are in BTC (``openValue`` = size × price). Counting contracts of
0.0001 BTC would send orders 10 000 times too large; althedge counts WEEX amounts in coin
(an althedge contract = 1 BTC, ``amounts_in_coin``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from althedge.exchanges.profile import ExchangeProfile, FeeSchedule, FundingRules

__all__ = ["WEEX"]


def lookup(exchange: Any, market: Mapping[str, Any], cid: str) -> list[dict[str, Any]]:
    """Current orders, then the order history (filled AND cancelled), by ``clientOrderId``.

    WEEX's single-order endpoint takes an order id only; ccxt's ``fetch_closed_orders``
    drops cancelled orders, so the history is read with
    ``fetch_canceled_and_closed_orders``.
    """
    symbol = market["symbol"]
    for fetch in (exchange.fetch_open_orders, exchange.fetch_canceled_and_closed_orders):
        rows = [dict(o) for o in fetch(symbol) if o.get("clientOrderId") == cid]
        if rows:
            return rows
    return []

WEEX = ExchangeProfile(
    ccxt_id="weex",
    family="weex",
    title="WEEX (USDT-M perpetuals)",
    contract_types=("linear",),
    fees=FeeSchedule(0.0002, 0.0008, "WEEX support fee guide + contract exchangeInfo "
                     "BTCUSDT (read 2026-12-02; = ccxt 4.5.90)"),
    funding=FundingRules(interval_hours=8.0, received_sign=1.0, history="ccxt",
                         history_page=100),
    trade_market_types=("swap",),
    data_market_types=("spot", "swap"),
    ohlcv_page=1000,
    contract_ohlcv_params={"historical": True},  # "Get history K-line data", 100 a page
    contract_ohlcv_page=100,
    latest_ohlcv_only=("spot",),  # spot "Get K-line data" takes no start time
    client_id_param="clientOrderId",
    client_id_unique="always",
    lookup=lookup,
    amounts_in_coin=True,
    # "Get current orders"/"Get order history" rows carry no fee: it is in the order's
    # trades ("Get trade details", ``commission``), read by order id
    order_fee_from_trades=True,
    trades_order_param="orderId",
    margin_mode_params=None,
    leverage_params=lambda mode: {"marginMode": mode},
    leverage_whole_number=True,
    test_environment=None,
    test_environment_note=(
        "WEEX demo trading through ccxt takes orders but cannot set leverage or margin "
        "mode, cancel orders or list open ones"
    ),
    error_meanings={
        "-2019": "insufficient margin",
        "-1015": "rate limit hit",
    },
)
