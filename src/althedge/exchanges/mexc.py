"""MEXC USDT-M perpetual futures: ccxt id ``mexc``.

Sources: MEXC futures API docs (mexc.com/api-docs/futures) — "Get contract info"
(``contractSize`` coin per contract, ``volUnit``/``minVol`` in contracts,
``maintenanceMarginRate``, risk steps ``riskIncrVol``/``riskIncrMmr`` in contracts),
"Place order" (``vol`` in contracts; ``openType`` 1 isolated / 2 cross, ``leverage``
required with isolated margin; ``side`` 1 open long, 2 close short, 3 open short, 4 close
long; ``externalOid`` = the client order id), "Query the order based on the external
number" (GET /api/v1/private/order/external/{symbol}/{external_oid}), "Switch leverage"
(``openType``, ``positionType`` 1 long / 2 short), "Get details of user's funding rate"
(``funding`` signed, positive = received). Fees: futures maker 0 %, taker 0.02 % without
MX — MEXC's own pages, read 2026-12-02: "How to use MX token for MEXC trading fee
discounts" (mexc.com/learn, dated 2025-09-02: futures maker 0 %, taker 0.02 %) and the
learn article 17827791510370 ("the perpetual futures trading Maker fee rate is 0%, and the
Taker fee rate is 0.02%"). ccxt 4.5.90 still ships taker 0.05 % (``fees.trading`` and the
``takerFeeRate`` of its recorded contract-detail reply): older than MEXC's page. The
account's own rate is in every contract-detail ``takerFeeRate``.

**Order placement is restricted.** Since July 2022 MEXC has answered the futures order
endpoints with ``{"code": 500, "message": "Under maintenance, please try again later"}``
for most accounts (announcement mexc.com/support/articles/17827791510263; ccxt maps it to
OnMaintenance); only some (institutional / whitelisted) API accounts may place futures
orders. althedge therefore refuses to SEND MEXC futures orders unless the user states
that the account has that access (``ALTHEDGE_MEXC_FUTURES_ORDERS=enabled``), and turns
the maintenance answer into the same sentence. Market data, planning, backtests,
positions, balances and funding (read-only endpoints) work for everyone.
No test environment: MEXC runs no futures testnet (ccxt has no sandbox URL).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from althedge.exchanges.profile import (
    ExchangeProfile,
    FeeSchedule,
    FundingRules,
    equity_of_data_rows,
)

__all__ = ["MEXC", "ORDER_OPT_IN_ENV"]

ORDER_OPT_IN_ENV = "ALTHEDGE_MEXC_FUTURES_ORDERS"
RESTRICTION = (
    "MEXC restricts futures order placement through the API to some account types "
    "(its order endpoints answer 'Under maintenance' to the others); planning, data and "
    "monitoring work. If your account has API futures trading, set "
    f"{ORDER_OPT_IN_ENV}=enabled; otherwise hedge on another exchange or with --venue paper"
)


def lookup(exchange: Any, market: Mapping[str, Any], cid: str) -> list[dict[str, Any]]:
    """GET /api/v1/private/order/external/{symbol}/{external_oid}; none → ``[]``."""
    import ccxt

    try:
        resp = exchange.contractPrivateGetOrderExternalSymbolExternalOid(
            {"symbol": market["id"], "external_oid": cid}
        )
    except ccxt.OrderNotFound:
        return []
    data = (resp or {}).get("data")
    if not isinstance(data, Mapping) or not data:
        return []
    return [dict(exchange.parse_order(data, market))]


def _open_type(mode: str) -> int:
    return 1 if mode == "isolated" else 2


MEXC = ExchangeProfile(
    ccxt_id="mexc",
    family="mexc",
    title="MEXC (USDT-M perpetuals; API order placement restricted)",
    contract_types=("linear",),
    fees=FeeSchedule(0.0, 0.0002, "mexc.com/learn futures fee rates, no MX (2025-09-02; "
                     "read 2026-12-02); ccxt 4.5.90 ships 0.05 %"),
    funding=FundingRules(interval_hours=8.0, received_sign=1.0, history="ccxt",
                         history_page=100, rate_history_paging="page_num"),
    trade_market_types=("swap",),
    data_market_types=("spot", "swap"),
    ohlcv_page=2000,
    tiers_in_contracts=True,  # riskIncrVol: ccxt's "notional" of MEXC tiers is contracts
    client_id_param="clientOrderId",
    client_id_unique="always",
    lookup=lookup,
    # the margin mode and the leverage travel on every order (openType, leverage)
    order_margin_mode_param="marginMode",
    order_leverage_param="leverage",
    # one "Switch leverage" call sets both (openType = margin mode, positionType 2 = short)
    margin_mode_via_leverage=True,
    leverage_params=lambda mode: {"openType": _open_type(mode), "positionType": 2},
    leverage_whole_number=True,
    # "Get all informations of user's asset" (GET /api/v1/private/account/assets):
    # ``equity`` = cash + unrealized; ccxt's total is availableBalance + frozenBalance
    balance_equity=equity_of_data_rows("currency"),
    balance_requests=lambda exchange: [{"type": "swap"}],  # ccxt's default is the spot wallet
    order_restriction=RESTRICTION,
    order_opt_in_env=ORDER_OPT_IN_ENV,
    restriction_codes=("500", "Under maintenance"),
    test_environment=None,
    test_environment_note="MEXC has no futures test network",
    duplicate_codes=("2040",),
    error_meanings={
        "2005": "insufficient balance",
        "2009": "the position does not exist or is closed",
        "602": "signature verification failed; check the API key and secret",
        "510": "rate limit hit",
    },
)
