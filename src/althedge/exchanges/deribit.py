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

from collections.abc import Mapping, Sequence
from typing import Any

from althedge.exchanges.profile import ExchangeProfile, FeeSchedule, FundingRules

__all__ = ["DERIBIT"]


def lookup(exchange: Any, market: Mapping[str, Any], cid: str) -> list[dict[str, Any]]:
    """private/get_order_state_by_label: EVERY order with that label (labels repeat)."""
    resp = exchange.privateGetGetOrderStateByLabel({"currency": market["base"], "label": cid})
    rows = [r for r in ((resp or {}).get("result") or []) if r.get("label") == cid]
    return [dict(exchange.parse_order(r, market)) for r in rows]


def liquidations(
    exchange: Any, market: Mapping[str, Any], since_ms: int | None, until_ms: int
) -> list[dict[str, Any]]:
    """The account's liquidation trades on the instrument: private/
    get_user_trades_by_instrument_and_time, rows whose ``liquidation`` ("M", "T" or "MT":
    which side was liquidated) names OUR side (``liquidity`` "M" maker / "T" taker) — a
    trade against someone else's liquidation is an ordinary fill. ``amount`` is USD for
    inverse contracts; ``fee`` is paid in ``fee_currency``. (ccxt's fetch_my_liquidations
    reads platform bankruptcy settlements, not the account's liquidations.)"""
    req: dict[str, Any] = {
        "instrument_name": market["id"],
        "start_timestamp": int(since_ms or 0),
        "end_timestamp": int(until_ms),
        "count": 1000,
        "sorting": "asc",
    }
    out: dict[str, dict[str, Any]] = {}
    for _page in range(50):
        resp = exchange.privateGetGetUserTradesByInstrumentAndTime(dict(req))
        result = (resp or {}).get("result") or {}
        trades = result.get("trades") or []
        for t in trades:
            flag = str(t.get("liquidation") or "")
            if not flag or str(t.get("liquidity") or "") not in flag:
                continue
            out[str(t.get("trade_id"))] = {
                "id": str(t.get("trade_id")),
                "timestamp": int(t.get("timestamp") or 0),
                "side": str(t.get("direction") or "buy"),
                "contracts": float(t.get("amount") or 0.0),
                "price": float(t.get("price") or 0.0),
                "fee": float(t.get("fee") or 0.0),
                "fee_currency": str(t.get("fee_currency") or market.get("settle") or ""),
            }
        if not result.get("has_more") or not trades:
            break
        req["start_timestamp"] = int(trades[-1].get("timestamp") or 0)
    return list(out.values())


def account_margin(exchange: Any, market: Mapping[str, Any]) -> dict[str, float] | None:
    """private/get_account_summary of the market's currency: Deribit margins every
    position of a currency together (cross), so the margin ratio is the ACCOUNT's
    ``maintenance_margin`` ÷ ``margin_balance`` (liquidation at 100 %). With
    cross-collateral / portfolio margin the currencies share one margin: the USD totals
    (``total_maintenance_margin_usd`` ÷ ``total_margin_balance_usd``). The liquidation
    price is ``estimated_liquidation_ratio_map["<base>_usd"]`` × the mark."""
    resp = exchange.privateGetGetAccountSummary({"currency": market["settle"], "extended": "true"})
    s = (resp or {}).get("result") or {}

    def num(key: str) -> float | None:
        v = s.get(key)
        return None if v in (None, "") else float(v)

    mm, mb = num("maintenance_margin"), num("margin_balance")
    shared = bool(s.get("cross_collateral_enabled") or s.get("portfolio_margining_enabled"))
    if shared and num("total_maintenance_margin_usd") is not None:
        mm, mb = num("total_maintenance_margin_usd"), num("total_margin_balance_usd")
    if mm is None or mb is None:
        return None
    out = {"maintenance_margin": mm, "margin_balance": mb}
    ratio_map = s.get("estimated_liquidation_ratio_map") or {}
    pair = f"{str(market['base']).lower()}_usd"
    ratio = ratio_map.get(pair, s.get("estimated_liquidation_ratio"))
    if ratio not in (None, "", 0):
        out["liquidation_ratio"] = float(ratio)
    return out


def deposits(
    exchange: Any, currencies: Sequence[str], start_ms: int, end_ms: int
) -> list[dict[str, Any]]:
    """The account's own wallet per currency: private/get_deposits (``completed``, +),
    private/get_withdrawals (``completed``, −) and private/get_transfers (sub-account and
    user transfers: ``direction`` income +, payment −; ``confirmed``). Newest first,
    paged by ``offset``; rows outside ``[start_ms, end_ms]`` are left out."""
    out: dict[str, dict[str, Any]] = {}
    sources = (
        ("deposit", exchange.privateGetGetDeposits, "received_timestamp", ("completed",)),
        ("withdrawal", exchange.privateGetGetWithdrawals, "created_timestamp", ("completed",)),
        ("transfer", exchange.privateGetGetTransfers, "created_timestamp", ("confirmed",)),
    )
    for ccy in dict.fromkeys(c.upper() for c in currencies):
        for kind, call, time_key, done in sources:
            offset = 0
            for _page in range(100):
                result = (call({"currency": ccy, "count": 100, "offset": offset}) or {}).get(
                    "result") or {}
                rows = result.get("data") or []
                older = False
                for r in rows:
                    t = int(r.get(time_key) or r.get("updated_timestamp") or 0)
                    older = older or t < start_ms
                    if not start_ms <= t <= end_ms or str(r.get("state")) not in done:
                        continue
                    amount = float(r.get("amount") or 0.0)
                    if kind == "withdrawal" or (
                        kind == "transfer" and str(r.get("direction")) == "payment"
                    ):
                        amount = -amount
                    key = f"{kind}:{r.get('id') or r.get('transaction_id') or t}"
                    out[key] = {"id": key, "timestamp": t, "currency": ccy,
                                "amount": amount, "kind": kind}
                offset += len(rows)
                if older or len(rows) < 100 or offset >= int(result.get("count") or 0):
                    break
    return list(out.values())


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
    liquidations=liquidations,
    account_margin=account_margin,
    deposits=deposits,
    deposits_source="deposits, withdrawals and transfers of the currency's wallet",
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
