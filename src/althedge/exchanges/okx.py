"""OKX V5 swaps and futures: ccxt id ``okx``.

Sources: OKX API v5 docs — "Place order" (``clOrdId`` 1–32 alphanumerics, unique
among the account's orders; ``tdMode`` cross/isolated on EVERY order; ``posSide``
long/short required in long/short mode; ``reduceOnly`` "only applicable … in net
mode"), "Get order details" (by ``clOrdId``; 51603 "Order does not exist"), "Get
account configuration" (``posMode`` long_short_mode / net_mode), "Set leverage"
(``mgnMode``; 59107 refused while orders are pending — an error, not "no change"),
"Get bills details" (funding ``type=8``, 100 bills per page), error 51016
("Duplicated clOrdId"). Fees: regular users maker 0.02 %, taker 0.05 %.
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

__all__ = ["OKX"]


def lookup(exchange: Any, market: Mapping[str, Any], cid: str) -> list[dict[str, Any]]:
    """GET /api/v5/trade/order?clOrdId=…; 51603 (OrderNotFound) → ``[]``."""
    import ccxt

    try:
        return [dict(exchange.fetch_order(None, market["symbol"], {"clOrdId": cid}))]
    except ccxt.OrderNotFound:
        return []


def funding_window(start_ms: int, end_ms: int) -> dict[str, Any]:
    """Bills between two times (GET /api/v5/account/bills-archive ``begin``/``end``, ms)."""
    return {"begin": str(start_ms), "end": str(end_ms)}


def funding_next_page(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Bills come newest first: the next page is ``after`` the oldest bill id seen."""
    ids = [int(r["id"]) for r in rows if str(r.get("id") or "").isdigit()]
    return {"after": str(min(ids))} if ids else {}


def hedge_mode(exchange: Any, market: Mapping[str, Any]) -> bool:
    """``posMode`` of the account (GET /api/v5/account/config)."""
    return bool(exchange.fetch_position_mode(market["symbol"]).get("hedged"))


def position_params(position_side: str) -> dict[str, Any]:
    return {"posSide": position_side}


#: OKX order ``category`` of the orders its risk engine sends when it liquidates a position
LIQUIDATION_CATEGORIES = ("full_liquidation", "partial_liquidation")


def liquidations(
    exchange: Any, market: Mapping[str, Any], since_ms: int | None, until_ms: int
) -> list[dict[str, Any]]:
    """The account's liquidation orders on the market (ccxt has no fetch_my_liquidations
    for OKX): GET /api/v5/trade/orders-history-archive (3 months) by ``category``
    ``full_liquidation`` / ``partial_liquidation``, ``begin``/``end`` in ms, paged
    ``after`` the oldest ``ordId`` (newest first, 100 per page)."""
    inst_type = "SWAP" if market.get("swap") else "FUTURES"
    out: dict[str, dict[str, Any]] = {}
    for category in LIQUIDATION_CATEGORIES:
        req: dict[str, Any] = {
            "instType": inst_type, "instId": market["id"], "category": category,
            "end": str(until_ms), "limit": "100",
        }
        if since_ms is not None:
            req["begin"] = str(since_ms)
        for _page in range(50):
            resp = exchange.privateGetTradeOrdersHistoryArchive(dict(req))
            rows = (resp or {}).get("data") or []
            for r in rows:
                filled = float(r.get("accFillSz") or r.get("fillSz") or 0.0)
                if r.get("category") not in LIQUIDATION_CATEGORIES or filled <= 0:
                    continue
                fee = r.get("fee")
                out[str(r.get("ordId"))] = {
                    "id": str(r.get("ordId")),
                    "timestamp": int(r.get("uTime") or r.get("cTime") or 0),
                    "side": str(r.get("side") or "buy"),
                    "contracts": filled,
                    "price": float(r.get("avgPx") or r.get("fillPx") or 0.0),
                    # OKX: fee negative = charged
                    "fee": -float(fee) if fee not in (None, "") else 0.0,
                    "fee_currency": str(r.get("feeCcy") or market.get("settle") or ""),
                }
            if len(rows) < 100:
                break
            req["after"] = str(rows[-1].get("ordId"))
    return list(out.values())


def deposits(
    exchange: Any, currencies: Sequence[str], start_ms: int, end_ms: int
) -> list[dict[str, Any]]:
    """Transfers into (+) and out of (−) the trading account: bills of ``type=1``
    (transfer; subType 11 in, 12 out) from GET /api/v5/account/bills-archive (3 months),
    ``balChg`` signed, ``begin``/``end`` in ms, paged ``after`` the oldest ``billId``.
    (On-chain deposits land in the funding account; a transfer brings them here.)"""
    out: dict[str, dict[str, Any]] = {}
    req: dict[str, Any] = {"type": "1", "begin": str(start_ms), "end": str(end_ms),
                           "limit": "100"}
    for _page in range(100):
        rows = (exchange.privateGetAccountBillsArchive(dict(req)) or {}).get("data") or []
        for r in rows:
            if str(r.get("type")) != "1":
                continue
            key = str(r.get("billId"))
            out[key] = {"id": key, "timestamp": int(r.get("ts") or 0),
                        "currency": str(r.get("ccy") or ""),
                        "amount": float(r.get("balChg") or 0.0), "kind": "transfer"}
        if len(rows) < 100:
            break
        req["after"] = str(rows[-1].get("billId"))
    return list(out.values())


OKX = ExchangeProfile(
    ccxt_id="okx",
    family="okx",
    title="OKX (swaps and futures)",
    contract_types=("linear", "inverse"),
    fees=FeeSchedule(0.0002, 0.0005, "okx.com/fees, regular user Lv1 (2026-11)"),
    funding=FundingRules(
        interval_hours=8.0,
        received_sign=1.0,
        history="ccxt",
        history_page=100,
        window_params=funding_window,
        next_page_params=funding_next_page,
    ),
    trade_market_types=("swap", "future"),
    data_market_types=("spot", "swap", "future"),
    ohlcv_page=100,
    client_id_param="clientOrderId",
    client_id_unique="always",
    lookup=lookup,
    order_margin_mode_param="marginMode",
    margin_mode_params=lambda mode, leverage: {"lever": leverage},
    leverage_params=lambda mode: {"mgnMode": mode},
    position_mode=PositionModeRules(detect=hedge_mode, params=position_params),
    collateral_includes_pnl=True,
    liquidations=liquidations,
    deposits=deposits,
    deposits_source="bills of type 1 (transfers into/out of the trading account)",
    test_environment="sandbox",
    test_environment_note="OKX demo trading (x-simulated-trading header; demo keys)",
    no_change_codes=(),
    duplicate_codes=("51016",),
    error_meanings={
        "59107": "leverage cannot change while orders are pending; cancel them first",
        "51008": "insufficient margin; deposit collateral, lower the size or raise the leverage",
        "51016": "an order with this clOrdId already exists",
        "51000": "a parameter is wrong",
        "50011": "rate limit hit",
    },
)
