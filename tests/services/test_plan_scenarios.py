"""Section 3 of the plan: the hedged portfolio under sudden moves of the hedge asset."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date

import pytest

from althedge.config import parse_portfolio
from althedge.core.instruments import get_instrument
from althedge.core.margin import liquidation_price
from althedge.data import bundled_source
from althedge.services.plan import SCENARIO_MOVES_PCT, HedgePlan, build_plan, scenarios


def _plan(**hedge: object) -> HedgePlan:
    cfg = parse_portfolio(
        {
            "holdings": [
                {"asset": "SOL", "amount": 120},
                {"asset": "LINK", "amount": 500},
                {"asset": "DOGE", "amount": 20_000},
            ],
            "hedge": {"exchange": "binance", "rounding": "none", **hedge},
        }
    )
    return build_plan(cfg, bundled_source(), date(2024, 8, 5))


def test_linear_scenarios_are_exact_short_pnl_against_beta_implied_moves() -> None:
    plan = _plan(contract="linear", leverage=2)
    leg = plan.hedge
    v = plan.portfolio_value_usd
    down = sum(h.weight * h.downside_beta for h in plan.holdings)
    assert [s.move_pct for s in plan.scenarios] == list(SCENARIO_MOVES_PCT)
    for s in plan.scenarios:
        m = s.move_pct / 100
        beta = down if m < 0 else plan.portfolio_beta
        assert s.beta_used == pytest.approx(beta, rel=1e-12)
        portfolio = max(v * beta * m, -v)  # a holding cannot lose more than its value
        assert s.portfolio_change_usd == pytest.approx(portfolio, rel=1e-12)
        p1 = leg.hedge_price_usd * (1 + m)
        if p1 >= leg.liquidation_price:  # the short is gone: its margin is lost
            assert s.liquidated == [leg.instrument]
            # the margin a 2× isolated linear short posts: Q·CS·P0/2 (docs/domain.md)
            hedge = -leg.contracts * leg.contract_size * leg.hedge_price_usd / 2
        else:  # short Q·CS coin: −Q·CS·(P1 − P0)
            assert s.liquidated == []
            hedge = -leg.contracts * leg.contract_size * (p1 - leg.hedge_price_usd)
        assert s.hedge_pnl_usd == pytest.approx(hedge, rel=1e-12)
        # net from the numbers computed here, not from the scenario's own parts
        assert s.net_usd == pytest.approx(portfolio + hedge, rel=1e-12, abs=1e-9 * v)
        assert s.net_pct == pytest.approx((portfolio + hedge) / v * 100, rel=1e-12, abs=1e-9)
    # a 2× short is liquidated by a rally of about +50 %: the +50 % row says so
    assert plan.scenarios[-1].liquidated == [leg.instrument]
    # unrounded, the crash rows leave exactly the beta gap: V·(β_down − β)·move
    for crash in plan.scenarios[:3]:
        gap = v * (down - plan.portfolio_beta) * crash.move_pct / 100
        assert crash.net_usd == pytest.approx(gap, rel=1e-9, abs=1e-6)
    assert plan.to_dict()["scenarios"][0]["move_pct"] == SCENARIO_MOVES_PCT[0]


def test_inverse_with_coin_collateral_moves_like_the_notional() -> None:
    # inverse short of (H + C·P0) USD plus C coin of collateral: USD change
    # (H + C·P0)(1 − P1/P0) + C(P1 − P0) = −H·(P1/P0 − 1), exactly a linear short of H
    plan = _plan(contract="inverse", collateral_asset="BTC", collateral_amount=0.2, leverage=1)
    leg = plan.hedge
    assert leg.collateral_coin == 0.2
    assert sum(not s.liquidated for s in plan.scenarios) >= 4  # the identity is exercised
    for s in plan.scenarios:
        if s.liquidated:
            assert s.hedge_pnl_usd == pytest.approx(-0.2 * leg.hedge_price_usd, rel=1e-12)
            continue
        hedged = leg.notional_usd * leg.hedge_ratio_achieved
        assert s.hedge_pnl_usd == pytest.approx(-hedged * s.move_pct / 100, rel=1e-9)


def test_a_holding_cannot_lose_more_than_its_value() -> None:
    plan = _plan(contract="linear", leverage=2)
    leg = replace(plan.hedge, contracts=0.0)  # no hedge: only the portfolio side moves
    (row,) = scenarios(10_000.0, 1.0, 2.5, [leg], moves_pct=[-60.0])
    assert row.portfolio_change_usd == -10_000.0 and row.unhedged_pct == -100.0
    assert row.hedge_pnl_usd == 0.0 and not row.liquidated
    assert math.isclose(row.net_pct, -100.0)


def test_isolated_inverse_loses_only_its_margin_and_keeps_the_rest_of_the_coin() -> None:
    # 4× isolated: the exchange holds IM = N/P/4 coin; a +50 % rally liquidates it, the
    # rest of the 2 BTC collateral is still there, worth 1.5 × more
    plan = _plan(contract="inverse", collateral_asset="BTC", collateral_amount=2.0, leverage=4)
    leg = plan.hedge
    assert leg.margin_mode == "isolated" and leg.initial_margin < 2.0
    assert leg.rally_to_liquidation_pct < 50 < 100
    top = plan.scenarios[-1]
    assert top.liquidated == [leg.instrument]
    p0 = leg.hedge_price_usd
    expected = (2.0 - leg.initial_margin) * p0 * 1.5 - 2.0 * p0
    assert top.hedge_pnl_usd == pytest.approx(expected, rel=1e-12)


def test_cross_margin_puts_the_whole_coin_collateral_behind_the_short() -> None:
    plan = _plan(contract="inverse", collateral_asset="BTC", collateral_amount=2.0,
                 leverage=4, margin_mode="cross")
    leg = plan.hedge
    alone = liquidation_price("binance", "inverse", "short", leg.contracts, leg.contract_size,
                              leg.hedge_price_usd, wallet_balance=2.0,
                              tiers=get_instrument("binance", "BTC/USD:BTC").tiers)
    assert leg.liquidation_method.endswith("-cross")
    assert leg.liquidation_price == pytest.approx(alone.liquidation_price, rel=1e-12)
    isolated = _plan(contract="inverse", collateral_asset="BTC", collateral_amount=2.0,
                     leverage=4).hedge
    assert leg.liquidation_price > isolated.liquidation_price  # more margin, further away

