"""Binance USDⓈ-M (``binanceusdm``), COIN-M (``binancecoinm``) and spot data (``binance``).

Sources: Binance derivatives API docs — "New Order" (``newClientOrderId``: unique
among OPEN orders only; ``positionSide`` BOTH/LONG/SHORT; ``reduceOnly`` "cannot be
sent in Hedge Mode"), "Query Order" (``origClientOrderId``; -2013 "Order does not
exist"), "Change Initial Leverage" (an integer 1–125), "Error Codes" (-4015 "Client
order id is not valid", -4046 "No need to change margin type", -4059 "No need to
change position side", -4116 "ClientOrderId is duplicated"), "Get Current Position
Mode" (``dualSidePosition``), fee page (base tier maker 0.02 %, taker 0.05 %),
"Get Funding Rate Info" (``fundingIntervalHours``). The futures test network refuses
signed calls through ccxt; Binance's replacement is demo trading (``demo-fapi``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from althedge.exchanges.profile import (
    ExchangeProfile,
    FeeSchedule,
    FundingRules,
    PositionModeRules,
)

__all__ = ["BINANCE", "BINANCECOINM", "BINANCEUSDM"]

_FEES = FeeSchedule(0.0002, 0.0005, "binance.com/en/fee/futureFee, VIP 0 (checked 2026-11)")


def lookup(exchange: Any, market: Mapping[str, Any], cid: str) -> list[dict[str, Any]]:
    """GET /fapi|dapi/v1/order?origClientOrderId=…; -2013 (OrderNotFound) → ``[]``."""
    import ccxt

    try:
        return [dict(exchange.fetch_order(None, market["symbol"], {"origClientOrderId": cid}))]
    except ccxt.OrderNotFound:
        return []


def hedge_mode(exchange: Any, market: Mapping[str, Any]) -> bool:
    """``dualSidePosition`` of the USDⓈ-M or COIN-M account (one setting per account)."""
    return bool(exchange.fetch_position_mode(market["symbol"]).get("hedged"))


def position_params(position_side: str) -> dict[str, Any]:
    return {"positionSide": position_side.upper()}


_POSITION_MODE = PositionModeRules(detect=hedge_mode, params=position_params)

_MEANINGS = {
    "-4015": "client order id is not valid (1-36 of [.A-Za-z0-9:/_-])",
    "-4116": "an open order already has this client order id",
    "-2019": "insufficient margin; deposit collateral, lower the size or raise the leverage",
    "-4164": "order notional below the minimum (100 USDT on BTCUSDT)",
    "-1021": "the computer's clock is off; sync it (timestamp outside recvWindow)",
    "-2015": "authentication failed: invalid API key, IP or permissions for this action",
    "-4061": "position side does not match the account's position mode",
}

def deposits(
    exchange: Any, currencies: Sequence[str], start_ms: int, end_ms: int
) -> list[dict[str, Any]]:
    """Transfers into (+) and out of (−) the futures wallet: "Get Income History"
    (USDⓈ-M ``GET /fapi/v1/income``, COIN-M ``GET /dapi/v1/income``) with
    ``incomeType=TRANSFER``; ``income`` is signed, ``asset`` its currency. A futures
    wallet is funded only by transfers (deposits land in the spot wallet). 1000 rows a
    page, paged forward from the newest ``time``."""
    call = (
        exchange.dapiPrivateGetIncome if exchange.id == "binancecoinm"
        else exchange.fapiPrivateGetIncome
    )
    out: dict[str, dict[str, Any]] = {}
    start = start_ms
    for _page in range(100):
        rows = call({"incomeType": "TRANSFER", "startTime": start, "endTime": end_ms,
                     "limit": 1000}) or []
        for r in rows:
            if str(r.get("incomeType")) != "TRANSFER":
                continue
            key = str(r.get("tranId") or f"{r.get('time')}:{r.get('asset')}:{r.get('income')}")
            out[key] = {"id": key, "timestamp": int(r.get("time") or 0),
                        "currency": str(r.get("asset") or ""),
                        "amount": float(r.get("income") or 0.0), "kind": "transfer"}
        if len(rows) < 1000:
            break
        start = max(int(r.get("time") or 0) for r in rows) + 1
    return list(out.values())


_COMMON: dict[str, Any] = dict(
    family="binance",
    fees=_FEES,
    funding=FundingRules(interval_hours=8.0, received_sign=1.0, history="ccxt", history_page=1000),
    client_id_param="clientOrderId",
    client_id_unique="open",
    lookup=lookup,
    leverage_whole_number=True,
    position_mode=_POSITION_MODE,
    test_environment="demo",
    test_environment_note="Binance futures demo trading (demo-fapi/demo-dapi; keys from "
    "demo.binance.com); the old testnet refuses signed calls",
    no_change_codes=("-4046", "-4059"),
    duplicate_codes=("-4116",),
    error_meanings=_MEANINGS,
    ohlcv_page=1000,
    order_fee_from_trades=True,
    trades_order_param="orderId",
    collateral_includes_pnl=True,
    deposits=deposits,
    deposits_window_days=7,
    deposits_source="income history, incomeType TRANSFER (transfers into/out of the "
    "futures wallet)",
)

BINANCEUSDM = ExchangeProfile(
    ccxt_id="binanceusdm",
    title="Binance USDⓈ-M futures",
    contract_types=("linear",),
    **_COMMON,
)

BINANCECOINM = ExchangeProfile(
    ccxt_id="binancecoinm",
    title="Binance COIN-M futures",
    contract_types=("inverse",),
    **_COMMON,
)

#: Market data only (spot candles and both futures families): orders go through
#: ``binanceusdm``/``binancecoinm``.
BINANCE = ExchangeProfile(
    ccxt_id="binance",
    family="binance",
    title="Binance (spot and futures market data)",
    contract_types=("linear", "inverse"),
    fees=_FEES,
    funding=FundingRules(interval_hours=8.0, history="ccxt", history_page=1000),
    data_market_types=("spot", "linear", "inverse"),
    ohlcv_page=1000,
    tradable=False,
    error_meanings=_MEANINGS,
)
