"""Hyperliquid perpetuals (on-chain order book, wallet-signed): ccxt id ``hyperliquid``.

No account and no API key: the credentials are the wallet ADDRESS (whose positions these
are) and the private key of an API wallet the user approved for it (docs "Nonces and API
wallets"; an API wallet can trade but not withdraw). Collateral is USDC; sizes are coins
with the market's ``szDecimals`` (BTC 5, ETH 4); prices have at most 5 significant figures.

Sources: Hyperliquid docs — "Exchange endpoint" (order: ``a`` asset, ``b`` is buy, ``p``
price, ``s`` size, ``r`` reduce-only, ``c`` cloid = "a 128 bit hex string, e.g.
0x1234567890abcdef1234567890abcdef"; updateLeverage ``isCross``), "Info endpoint"
("Query order status by oid or cloid": ``{"status": "unknownOid"}`` when there is none;
userFunding: ``usdc`` positive = received), "Funding" (paid every hour), "Fees" (tier 0
perps: taker 0.045 %, maker 0.015 %, read 2026-12-01), "Margin tiers", "Liquidations".

ccxt 4.5.90, left alone, signs and sends an ``approveBuilderFee`` action (a 0.01 % fee
to ccxt's builder address on every later order) and a ``setReferrer`` action from the
user's wallet before the first order. althedge switches both off (:func:`prepare`):
nothing is signed that the user did not ask for.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from althedge.exchanges.profile import ExchangeProfile, FeeSchedule, FundingRules

__all__ = ["CLOID", "HYPERLIQUID", "cloid"]

#: Hyperliquid's client order id: "a 128 bit hex string" (docs, "Exchange endpoint")
CLOID = re.compile(r"0x[0-9a-f]{32}")


def cloid(client_order_id: str) -> str:
    """althedge's client id as a Hyperliquid cloid: ``0x`` + 32 hex digits (128 bits).

    Deterministic (the first 16 bytes of SHA-256 of the id), so a retry carries the same
    cloid and the lookup after a timeout finds the order the first attempt placed. A
    cloid passes through unchanged (an order althedge did not place, read back from the
    exchange, is looked up and cancelled by its own cloid).
    """
    if CLOID.fullmatch(client_order_id):
        return client_order_id
    return "0x" + hashlib.sha256(client_order_id.encode()).hexdigest()[:32]


def lookup(exchange: Any, market: Mapping[str, Any], cid: str) -> list[dict[str, Any]]:
    """POST /info ``orderStatus`` by cloid; ``unknownOid`` (ccxt: OrderNotFound) → ``[]``."""
    import ccxt

    try:
        resp = exchange.publicPostInfo(
            {"type": "orderStatus", "user": exchange.walletAddress, "oid": cloid(cid)}
        )
    except ccxt.OrderNotFound:
        return []
    if not isinstance(resp, Mapping) or resp.get("status") != "order":
        return []
    return [dict(exchange.parse_order(resp.get("order") or {}, market))]


def prepare(exchange: Any) -> None:
    """No builder-fee approval, no referrer: only the actions althedge asks for are signed."""
    exchange.options["refSet"] = True
    exchange.options["approvedBuilderFee"] = False
    exchange.options["builderFee"] = False
    exchange.handle_builder_fee_approval = lambda: True


HYPERLIQUID = ExchangeProfile(
    ccxt_id="hyperliquid",
    family="hyperliquid",
    title="Hyperliquid (USDC perpetuals, wallet-signed)",
    contract_types=("linear",),
    fees=FeeSchedule(0.00015, 0.00045, "hyperliquid docs 'Fees', tier 0 perps (2026-12-01)"),
    funding=FundingRules(interval_hours=1.0, received_sign=1.0, history="ccxt",
                         history_page=500),
    trade_market_types=("swap",),
    data_market_types=("swap",),
    ohlcv_page=5000,
    client_id_param="clientOrderId",
    client_id_unique="always",
    client_id_format=cloid,
    lookup=lookup,
    margin_modes=("isolated", "cross"),
    margin_mode_via_leverage=True,
    margin_mode_params=lambda mode, leverage: {"leverage": leverage},
    leverage_params=lambda mode: {"marginMode": mode},
    leverage_whole_number=True,
    market_order_needs_price=True,
    prepare=prepare,
    credential_fields=("wallet_address", "private_key"),
    test_environment="sandbox",
    test_environment_note="api.hyperliquid-testnet.xyz (testnet USDC from the faucet)",
    order_fee_from_trades=True,
    error_meanings={
        "Insufficient margin": "insufficient margin; deposit USDC or lower the size",
        "Reduce only order would increase position":
            "reduce-only order would increase the position",
    },
)
