"""Bybit V5, linear (USDT) and inverse (coin-margined) contracts: ccxt id ``bybit``.

Sources: Bybit V5 API docs — "Place Order" (``orderLinkId`` unique, max 36;
``positionIdx`` 0 one-way, 1 buy side, 2 sell side of hedge mode), "Get Open &
Closed Orders" / "Get Order History" (lookup by ``orderLinkId``), "Get Position
Info" (``positionIdx`` of each row), "Get Account Info" (``unifiedMarginStatus``,
``marginMode`` ISOLATED_MARGIN / REGULAR_MARGIN / PORTFOLIO_MARGIN: on a unified
account the margin mode is ACCOUNT-WIDE), "Get Trade History" (funding rows
``execType=Funding``, ``execFee`` positive when the position PAID), error codes
110026/110043 ("cross/isolated margin mode is not modified" / "leverage not
modified"), 110072 ("OrderLinkedID is duplicate"). Fees: VIP 0 maker 0.02 %,
taker 0.055 %.
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

__all__ = ["BYBIT"]


def _category(market: Mapping[str, Any]) -> str:
    return "linear" if market.get("linear") else "inverse"


def lookup(exchange: Any, market: Mapping[str, Any], cid: str) -> list[dict[str, Any]]:
    """Open orders (``/v5/order/realtime``) then history (``/v5/order/history``) by link id."""
    req = {"category": _category(market), "symbol": market["id"], "orderLinkId": cid}
    for endpoint in (exchange.privateGetV5OrderRealtime, exchange.privateGetV5OrderHistory):
        resp = endpoint(req)
        rows = ((resp or {}).get("result") or {}).get("list") or []
        rows = [r for r in rows if r.get("orderLinkId") == cid]
        if rows:
            return [dict(exchange.parse_order(r, market)) for r in rows]
    return []


def hedge_mode(exchange: Any, market: Mapping[str, Any]) -> bool:
    """Hedge mode when the position list has rows with ``positionIdx`` 1 or 2."""
    resp = exchange.privateGetV5PositionList(
        {"category": _category(market), "symbol": market["id"]}
    )
    rows = ((resp or {}).get("result") or {}).get("list") or []
    return any(str(r.get("positionIdx")) in ("1", "2") for r in rows)


def position_params(position_side: str) -> dict[str, Any]:
    return {"positionIdx": 1 if position_side == "long" else 2}


def account_margin_mode(exchange: Any) -> str | None:
    """On a unified account the account's margin mode (account-wide), else None.

    ``unifiedMarginStatus`` 1 = classic account (margin mode per symbol); 3–6 = unified
    trading account, where ``marginMode`` applies to every position of the account.
    """
    resp = exchange.privateGetV5AccountInfo({})
    info = (resp or {}).get("result") or {}
    status = str(info.get("unifiedMarginStatus") or "1")
    if status in ("1", ""):
        return None
    mode = str(info.get("marginMode") or "")
    return {
        "ISOLATED_MARGIN": "isolated",
        "REGULAR_MARGIN": "cross",
        "PORTFOLIO_MARGIN": "portfolio",
    }.get(mode, mode.lower() or "cross")


def balance_requests(exchange: Any) -> list[dict[str, Any]]:
    """The wallets holding futures collateral (V5 "Get Wallet Balance" ``accountType``).

    Classic account: CONTRACT holds USDT and the coins of inverse contracts. Unified 2.0
    (``unifiedMarginStatus`` 5/6): UNIFIED holds everything. Unified 1.0 (3/4): USDT in
    UNIFIED, inverse contracts' coins still in CONTRACT — both are read.
    """
    margin, account = exchange.is_unified_enabled()
    unified = bool(margin or account)
    status = int(exchange.options.get("unifiedMarginStatus") or 6)
    linear = {"type": "swap", "subType": "linear"}
    if unified and status < 5:
        return [linear, {"type": "swap", "subType": "inverse"}]
    return [linear]


def balance_equity(balance: Mapping[str, Any]) -> dict[str, float]:
    """Each coin's ``equity`` in a V5 "Get Wallet Balance" reply (``result.list[].coin[]``):
    the wallet balance PLUS the unrealised PnL of its positions (Bybit: "equity — equity
    of the coin"; ``walletBalance`` excludes unrealised PnL, and that is ccxt's total)."""
    out: dict[str, float] = {}
    result = ((balance.get("info") or {}).get("result")) or {}
    for account in result.get("list") or []:
        for coin in account.get("coin") or []:
            code = str(coin.get("coin") or "").upper()
            figure = coin.get("equity")
            if figure in (None, ""):
                figure = coin.get("walletBalance")
            if code and figure not in (None, ""):
                out[code] = out.get(code, 0.0) + float(figure)
    return out


#: Bybit wallets that margin derivatives (V5 account types)
_FUTURES_ACCOUNTS = ("UNIFIED", "CONTRACT")


def deposits(
    exchange: Any, currencies: Sequence[str], start_ms: int, end_ms: int
) -> list[dict[str, Any]]:
    """Collateral into (+) / out of (−) the derivatives wallets (UNIFIED, CONTRACT) in one
    window of at most 7 days: internal transfers (V5 "Get Internal Transfer Records",
    GET /v5/asset/transfer/query-inter-transfer-list, ``fromAccountType`` /
    ``toAccountType``, status SUCCESS) and on-chain deposits credited straight to them
    (V5 "Get Deposit Records", GET /v5/asset/deposit/query-record, ``toAccountType``,
    status 3 = success). Paged by ``nextPageCursor``."""
    out: dict[str, dict[str, Any]] = {}

    def pages(call: Any, req: dict[str, Any]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for _page in range(100):
            result = (call(dict(req)) or {}).get("result") or {}
            rows += result.get("rows") or result.get("list") or []
            cursor = result.get("nextPageCursor")
            if not cursor:
                break
            req["cursor"] = cursor
        return rows

    window = {"startTime": start_ms, "endTime": end_ms, "limit": 50}
    for r in pages(exchange.privateGetV5AssetTransferQueryInterTransferList, dict(window)):
        if str(r.get("status") or "SUCCESS").upper() != "SUCCESS":
            continue
        into = str(r.get("toAccountType")) in _FUTURES_ACCOUNTS
        out_of = str(r.get("fromAccountType")) in _FUTURES_ACCOUNTS
        if into == out_of:  # FUND → SPOT, or UNIFIED → CONTRACT: not in or out of futures
            continue
        amount = float(r.get("amount") or 0.0)
        key = "t" + str(r.get("transferId"))
        out[key] = {"id": key, "timestamp": int(r.get("timestamp") or 0),
                    "currency": str(r.get("coin") or ""),
                    "amount": amount if into else -amount, "kind": "transfer"}
    for r in pages(exchange.privateGetV5AssetDepositQueryRecord, dict(window)):
        if str(r.get("status")) != "3" or str(r.get("toAccountType")) not in _FUTURES_ACCOUNTS:
            continue
        key = "d" + str(r.get("id") or r.get("txID"))
        out[key] = {"id": key, "timestamp": int(r.get("successAt") or r.get("createdAt") or 0),
                    "currency": str(r.get("coin") or ""),
                    "amount": float(r.get("amount") or 0.0), "kind": "deposit"}
    return list(out.values())


BYBIT = ExchangeProfile(
    ccxt_id="bybit",
    family="bybit",
    title="Bybit (linear and inverse)",
    contract_types=("linear", "inverse"),
    fees=FeeSchedule(0.0002, 0.00055, "bybit.com/en/help-center fee rates, VIP 0 (2026-11)"),
    funding=FundingRules(interval_hours=8.0, received_sign=-1.0, history="ccxt", history_page=100),
    trade_market_types=("linear", "inverse"),
    data_market_types=("spot", "linear", "inverse"),
    ohlcv_page=1000,
    client_id_param="clientOrderId",
    client_id_unique="always",
    lookup=lookup,
    margin_mode_params=lambda mode, leverage: {"leverage": leverage},
    account_wide_margin_mode=account_margin_mode,
    position_mode=PositionModeRules(
        detect=hedge_mode, params=position_params, reduce_only_in_hedge_mode=True
    ),
    collateral_includes_pnl=True,
    balance_requests=balance_requests,
    balance_equity=balance_equity,
    deposits=deposits,
    deposits_window_days=7,
    deposits_source="internal transfers into/out of the UNIFIED and CONTRACT wallets, and "
    "on-chain deposits credited to them",
    test_environment="sandbox",
    test_environment_note="testnet.bybit.com (separate keys)",
    no_change_codes=("110026", "110043", "110025"),
    duplicate_codes=("110072",),
    error_meanings={
        "110007": "insufficient available balance",
        "110072": "an order with this orderLinkId already exists",
        "10006": "rate limit hit",
        "110017": "reduce-only order would increase the position",
    },
)
