"""BingX perpetual futures, USDⓈ-M (linear) and Coin-M (inverse): ccxt id ``bingx``.

Sources: BingX API docs v3 (bingx-api.github.io/docs-v3) — "USDT-M Perp Futures symbols"
(quantity in coin, ``tradeMinQuantity``, ``tradeMinUSDT``), "Place order" (``clientOrderID``
1–40 characters; ``positionSide`` BOTH in one-way mode, LONG/SHORT in hedge mode;
``reduceOnly`` "only in one-way mode"), "Query Order details" (by ``orderId`` or
``clientOrderId``; code 80016 "order not exist"), "Change Margin Type" (ISOLATED/CROSSED),
"Set Leverage" (``side`` BOTH in one-way mode, LONG or SHORT in hedge mode: the
leverage of one side; althedge's hedge is the SHORT side), "Query position mode"
(``dualSidePosition``), "Get Account Profit and Loss Fund Flow" (``incomeType``
FUNDING_FEE, ``income`` signed: positive = received), "Position and Maintenance Margin
Ratio" (tiers, signed endpoint). Coin-M: "Contract Information" (``minTickSize`` = USD
per contract). ccxt 4.5.90 reads no funding history and no tiers for Coin-M contracts.
Fees: standard users 0.02 % maker / 0.05 % taker on perpetuals — BingX support article
"Perpetual Futures | Fee Schedule" (bingx.io/en-us/support/articles/360046487573, read
2026-12-02: taker 0.075 % "discounted as 0.050 %", maker 0.045 % "discounted as
0.020 %"); the same as ccxt 4.5.90's ``fees['swap']`` and every symbol's
``makerFeeRate``/``takerFeeRate``.
Test environment: BingX's demo account ("VST", open-api-vst.bingx.com; ccxt sandbox,
USDⓈ-M only).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from althedge.exchanges.profile import (
    ExchangeProfile,
    FeeSchedule,
    FundingRules,
    PositionModeRules,
    equity_of_data_rows,
)

__all__ = ["BINGX"]


def lookup(exchange: Any, market: Mapping[str, Any], cid: str) -> list[dict[str, Any]]:
    """GET /openApi/swap/v2/trade/order?clientOrderId=… (Coin-M: /cswap/v1/trade/orderDetail)."""
    import ccxt

    req = {"symbol": market["id"], "clientOrderId": cid}
    endpoint = (
        exchange.cswapV1PrivateGetTradeOrderDetail if market.get("inverse")
        else exchange.swapV2PrivateGetTradeOrder
    )
    try:
        resp = endpoint(req)
    except ccxt.OrderNotFound:  # 80016 / 80017
        return []
    data = (resp or {}).get("data") or {}
    row = data.get("order", data) if isinstance(data, Mapping) else None
    if not row:
        return []
    return [dict(exchange.parse_order(row, market))]


def hedge_mode(exchange: Any, market: Mapping[str, Any]) -> bool:
    if market.get("inverse"):
        return False  # Coin-M: ccxt reads no position mode there; one-way assumed
    return bool(exchange.fetch_position_mode(market["symbol"]).get("hedged"))


def position_params(position_side: str) -> dict[str, Any]:
    return {"positionSide": position_side.upper()}


BINGX = ExchangeProfile(
    ccxt_id="bingx",
    family="bingx",
    title="BingX (USDⓈ-M and Coin-M perpetuals)",
    contract_types=("linear", "inverse"),
    fees=FeeSchedule(0.0002, 0.0005, "BingX support 'Perpetual Futures | Fee Schedule', "
                     "standard users (read 2026-12-02; = ccxt 4.5.90)"),
    funding=FundingRules(interval_hours=8.0, received_sign=1.0, history="ccxt",
                         history_page=1000),
    trade_market_types=("swap",),
    data_market_types=("spot", "swap"),
    ohlcv_page=1440,
    client_id_param="clientOrderId",
    client_id_unique="always",
    lookup=lookup,
    leverage_side_params=lambda hedged: {"side": "SHORT" if hedged else "BOTH"},
    leverage_whole_number=True,
    position_mode=PositionModeRules(detect=hedge_mode, params=position_params),
    # "Query account data" (GET /openApi/swap/v3/user/balance): ``equity`` = balance +
    # unrealizedProfit; ccxt's total is ``maxWithdrawAmount``
    balance_equity=equity_of_data_rows("asset"),
    balance_requests=lambda exchange: [{"type": "swap"}],  # ccxt's default is the spot wallet
    test_environment="sandbox",
    test_environment_note="BingX demo account (VST; USDⓈ-M only)",
    no_change_codes=(),
    duplicate_codes=("101481", "109201"),
    error_meanings={
        "80012": "insufficient margin; deposit collateral, lower the size or raise the leverage",
        "101204": "insufficient margin",
        "101481": "an order with this clientOrderID already exists",
        "100410": "rate limit hit",
        "101290": "reduce-only order would increase the position",
    },
)
