"""Deribit inverse perpetuals and dated futures: ccxt id ``deribit``.

Sources: Deribit API v2 docs — private/buy and private/sell (``amount`` in USD for
inverse contracts; ``label`` free text up to 64 characters, NOT unique),
private/get_order_state_by_label (every order with the label), margin is
account-wide cross (portfolio margin optional), no hedge position mode,
public/get_funding_rate_history (hourly rows carrying ``interest_8h``, the 8-hour
rate), private/get_transaction_log (``type=settlement`` rows carry the funding
``interest_pl`` of perpetual positions; ccxt has no funding history for Deribit).
Fees: futures and perpetual maker 0 %, taker 0.05 %. Test network: test.deribit.com.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from althedge.exchanges.profile import ExchangeProfile, FeeSchedule, FundingRules

__all__ = ["DERIBIT"]


def lookup(exchange: Any, market: Mapping[str, Any], cid: str) -> list[dict[str, Any]]:
    """private/get_order_state_by_label: EVERY order with that label (labels repeat)."""
    resp = exchange.privateGetGetOrderStateByLabel({"currency": market["base"], "label": cid})
    rows = [r for r in ((resp or {}).get("result") or []) if r.get("label") == cid]
    return [dict(exchange.parse_order(r, market)) for r in rows]


DERIBIT = ExchangeProfile(
    ccxt_id="deribit",
    family="deribit",
    title="Deribit (inverse)",
    contract_types=("inverse",),
    fees=FeeSchedule(0.0, 0.0005, "deribit.com/kb/fees, futures and perpetuals (2026-11)"),
    funding=FundingRules(
        interval_hours=8.0,
        received_sign=1.0,
        history="transaction_log",
        history_page=100,
        rate_history_hours=8.0,
    ),
    ohlcv_page=1000,
    client_id_param="label",
    client_id_unique="never",
    lookup=lookup,
    amount_in_usd_inverse=True,
    margin_modes=("cross",),
    test_environment="sandbox",
    test_environment_note="test.deribit.com (separate account and keys)",
    no_change_codes=(),
    duplicate_codes=(),
    error_meanings={
        "10009": "not enough funds",
        "10028": "too many requests",
        "11044": "the order is not open",
    },
)
