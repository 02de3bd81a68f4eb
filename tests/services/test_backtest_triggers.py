"""Backtest with triggers, the plan's own hedge, the investor's metrics and crash episodes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from althedge.config import load_portfolio, parse_portfolio
from althedge.core.simulate import LegResult
from althedge.data import open_source
from althedge.errors import ConfigError, InputError
from althedge.services.backtest import (
    BacktestSettings,
    parse_compare_item,
    parse_policy_list,
    plan_compare_spec,
    run_backtest,
)
from althedge.services.backtest_measure import policy_metrics

PORTFOLIO = Path(__file__).parent / "data" / "backtest_portfolio.toml"


@pytest.fixture(scope="module")
def portfolio():  # type: ignore[no-untyped-def]
    return load_portfolio(PORTFOLIO)


@pytest.fixture(scope="module")
def source():  # type: ignore[no-untyped-def]
    return open_source(None)


def _leg(**cols: list[float]) -> LegResult:
    n = len(next(iter(cols.values())))
    z = np.zeros((n, 1))
    f = {k: np.asarray(v, dtype=float)[:, None] for k, v in cols.items()}
    return LegResult(
        contracts=f.get("contracts", z), hedge_pnl_usd=f.get("hedge_pnl_usd", z),
        funding_usd=f.get("funding_usd", z), fees_usd=f.get("fees_usd", z),
        slippage_usd=f.get("slippage_usd", z), liquidation_loss_usd=z,
        deposits_usd=f["deposits_usd"], account_usd=f["account_usd"], traded_usd=z,
        hedged_notional_usd=f["hedged_notional_usd"], rebalanced=np.zeros((n, 1), bool),
        margin_call=np.zeros((n, 1), bool), liquidated=np.zeros((n, 1), bool),
    )


def test_investor_metrics_on_a_hand_computed_example() -> None:
    # holdings 100 → 110 → 90 → 120; the hedge adds 0, −5, +10, −15 (net of costs);
    # 20 USD deposited as margin at the start; the short is on for the first two bars
    v = np.array([100.0, 110.0, 90.0, 120.0])
    net = np.array([0.0, -5.0, 10.0, -15.0])
    leg = _leg(hedge_pnl_usd=[0, -4, 10, -15], funding_usd=[0, 1, 0, 0],
               fees_usd=[0, 2, 0, 0], deposits_usd=[20, 0, 0, 0],
               account_usd=[20, 15, 25, 10], hedged_notional_usd=[100, 100, 0, 0])
    idx = pd.date_range("2024-01-01", periods=4, freq="D")
    r_u = np.r_[np.nan, v[1:] / v[:-1] - 1]
    m, extra = policy_metrics(v, net, {"BTC": leg}, r_u, r_u, idx, 365.0)
    # holdings + hedge PnL: 100, 105, 95, 110 → final 110, +10 %; unhedged +20 %
    assert m.final_value_hedged_usd == pytest.approx(110.0)
    assert m.return_hedged_pct == pytest.approx(10.0)
    assert m.return_unhedged_pct == pytest.approx(20.0)
    assert m.capital_committed_usd == pytest.approx(120.0)  # 100 + 20 of margin
    assert m.return_on_capital_committed_pct == pytest.approx(100 * 10 / 120)
    assert (m.margin_peak_usd, m.margin_avg_usd) == (25.0, pytest.approx(17.5))
    # capital committed 120, 125, 115, 130: −8 % vs the holdings' 110 → 90: −18.2 %
    assert m.max_drawdown_hedged_committed == pytest.approx(-0.08)
    assert m.max_drawdown_unhedged == pytest.approx(90 / 110 - 1)
    assert m.drawdown_avoided_pct == pytest.approx(100 * (-0.08 - (90 / 110 - 1)))
    assert m.return_given_up_pct == pytest.approx(10.0)
    assert m.drawdown_avoided_per_return_given_up == pytest.approx(
        (-0.08 - (90 / 110 - 1)) / 0.10)
    assert m.time_hedged_pct == pytest.approx(50.0) and m.hedge_switches == 2
    assert m.funding_received_usd == 1.0 and m.fees_paid_usd == 2.0
    assert m.cost_net_paid_usd == pytest.approx(1.0)
    assert m.equity_touches_zero_on is None
    d = m.to_dict()
    assert d["funding_usd"] == -1.0 and d["cost_total_usd"] == 1.0  # deprecated keys
    # wealth = holdings + margin account 120, 125, 115, 130: no deposit after day 0
    np.testing.assert_allclose(extra["return_wealth_hedged"][1:],
                               [125 / 120 - 1, 115 / 125 - 1, 130 / 115 - 1])


def test_trigger_switches_the_policy_on_and_off(portfolio, source) -> None:  # type: ignore[no-untyped-def]
    settings = BacktestSettings(start="2021-06-01", end="2023-06-30", rebalance="weekly",
                                rounding="none")
    res = run_backtest(portfolio, source, ["rolling-ols", "ols when trend:100/2 hold 5"],
                       settings)
    plain = next(p for p in res.policies if p.name == "rolling-ols:90")
    gated = next(p for p in res.policies if p.name == "rolling-ols:90 when trend:100/2 hold 5")
    assert gated.trigger is not None and gated.to_dict()["trigger"] == "trend:100/2 hold 5"
    # independent trend state: BTC close vs its 100-day mean with a 2 % band, 5-day hold
    btc = source.closes(["BTC"])["BTC"]
    btc = btc.loc[:"2023-06-30"]
    btc = btc.loc[source.closes(["SOL", "LINK", "DOGE"]).dropna().index[0]:]
    ma = btc.rolling(100).mean()
    state, last, states = False, -99, []
    for i, (p, m) in enumerate(zip(btc, ma, strict=True)):
        if i - last >= 5 and not state and p < m * 0.98:
            state, last = True, i
        elif i - last >= 5 and state and p > m * 1.02:
            state, last = False, i
        states.append(state)
    on = pd.Series(states, index=btc.index).loc[gated.series.index].to_numpy()
    np.testing.assert_array_equal(gated.series["trigger_on"].to_numpy(), on)
    np.testing.assert_allclose(gated.series["beta_BTC"], plain.series["beta_BTC"] * on)
    # switching trades on its own bar, not at the next weekly rebalance
    held = gated.series["contracts_BTC"].to_numpy() > 0
    np.testing.assert_array_equal(held, on)
    m = gated.metrics
    assert 0 < m.time_hedged_pct < 100
    assert m.time_hedged_pct == pytest.approx(100 * on.mean())
    assert m.hedge_switches == int(np.count_nonzero(np.diff(on.astype(int)))) + int(on[0])
    assert plain.metrics.time_hedged_pct == 100.0 and plain.metrics.hedge_switches == 1


def test_plan_policy_is_the_portfolio_files_own_hedge(portfolio) -> None:  # type: ignore[no-untyped-def]
    base = plan_compare_spec(portfolio)
    assert base.plan and base.policy.name == "rolling-ols:90" and base.trigger is None
    data = {"name": "x", "holdings": [{"asset": "SOL", "amount": 1}],
            "hedge": {"beta_method": "ewma", "ewma_lambda": 0.94, "lookback_days": 60,
                      "triggers": ["trend:200", "drawdown:10/5"], "trigger_hold_days": 7}}
    pf = parse_portfolio(data)
    spec = plan_compare_spec(pf)
    # RiskMetrics λ = 0.94 → half-life ln ½ / ln 0.94 ≈ 11.2 days
    assert spec.policy.kind == "ewma"
    assert spec.policy.halflife == pytest.approx(math.log(0.5) / math.log(0.94), rel=1e-3)
    assert spec.trigger is not None and spec.trigger.hold_days == 7
    assert spec.name == "plan (ewma:11.2 when trend:200/1 or drawdown:10/5 hold 7)"
    two = parse_portfolio({**data, "hedge": {"assets": ["BTC", "ETH"], "lookback_days": 120}})
    assert plan_compare_spec(two).policy.name == "multi:120"
    assert parse_compare_item("plan when vol:90", portfolio=pf).trigger.name == "vol:90/72"  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="trigger"):
        parse_portfolio({**data, "hedge": {"triggers": ["moon:3"]}})


def test_plan_keeps_its_lookback_in_days_on_hourly_bars(portfolio, source) -> None:  # type: ignore[no-untyped-def]
    from althedge.services.backtest import _resolve_specs

    specs = _resolve_specs(portfolio, source, ["plan", "rolling-ols:90"],
                           BacktestSettings(timeframe="1h"), [])
    assert specs[0].policy.window == 90 * 24 and specs[0].policy.resolved_from == "rolling-ols:2160"
    assert specs[1].policy.window == 90  # an explicit window stays in bars


def test_compare_syntax_and_errors() -> None:
    specs = parse_policy_list("ols when trend:200, multi:90 when drawdown:10/5,none")
    assert [s.name for s in specs] == ["rolling-ols:90 when trend:200/1",
                                       "multi:90 when drawdown:10/5", "none"]
    with pytest.raises(InputError, match="trigger"):
        parse_policy_list("ols when moon:3")
    with pytest.raises(InputError, match="portfolio"):
        parse_policy_list("plan")
    with pytest.raises(InputError, match="twice"):
        parse_policy_list("ols when trend:200,rolling-ols:90 when trend:200/1")


def test_default_run_and_crash_episodes(portfolio, source) -> None:  # type: ignore[no-untyped-def]
    res = run_backtest(portfolio, source, parse_policy_list(
        "plan,none,static:1 when calendar:2022-05-01..2022-05-31", portfolio=portfolio),
        BacktestSettings(start="2021-01-01"))
    names = {e.name for e in res.episodes}
    assert {"2021-05-19 crash", "Terra/LUNA collapse (2022-05)", "FTX collapse (2022-11)",
            "yen carry unwind (2024-08-05)"} <= names
    btc = source.closes(["BTC"])["BTC"]
    plan = next(p for p in res.policies if p.plan)
    for e in res.episodes:
        # the BTC drop and the unhedged loss recomputed from the prices and the series
        drop = btc.loc[e.trough] / btc.loc[e.peak] - 1
        assert e.hedge_asset_drop_pct == pytest.approx(100 * drop)
        assert e.hedge_asset_drop_pct <= -15
        v = plan.series["value_usd"]
        assert e.unhedged_loss_pct == pytest.approx(100 * (v.loc[e.trough] / v.loc[e.peak] - 1))
        assert e.losses_pct["none"] == pytest.approx(e.unhedged_loss_pct)
        assert e.hedged_at_start["none"] is False
        eq = plan.series["equity_hedged_usd"]
        assert e.losses_pct[plan.name] == pytest.approx(
            100 * (eq.loc[e.trough] - eq.loc[e.peak]) / v.loc[e.peak])
    terra = next(e for e in res.episodes if e.name.startswith("Terra"))
    cal = "static:1 when calendar:2022-05-01..2022-05-31"
    assert terra.hedged_share_pct[cal] > 50
    # hedged through Terra at a beta of 1, the loss is smaller than unhedged
    assert terra.losses_pct[cal] > terra.unhedged_loss_pct
    d = res.to_dict()
    assert d["episodes"][0]["losses_pct"].keys() == {p.name for p in res.policies}


def test_more_future_data_does_not_move_past_trigger_decisions(portfolio, source) -> None:  # type: ignore[no-untyped-def]
    compared = ["ols when trend:100 or vol:80", "multi:90 when drawdown:15/8"]
    short = run_backtest(portfolio, source, compared,
                         BacktestSettings(start="2022-01-01", end="2022-12-31"))
    long = run_backtest(portfolio, source, compared,
                        BacktestSettings(start="2022-01-01", end="2024-12-31"))
    for p in short.policies:
        q = next(r for r in long.policies if r.name == p.name)
        s, t = p.series, q.series.loc[p.series.index]
        np.testing.assert_array_equal(s["trigger_on"], t["trigger_on"])
        # equal up to rounding: the estimators centre on the whole series' mean, which
        # cancels exactly in the algebra but not in the last bits
        for col in [c for c in s.columns if c.startswith(("beta_", "contracts_"))]:
            np.testing.assert_allclose(s[col], t[col], rtol=1e-9, atol=1e-12,
                                       err_msg=f"{p.name} {col}")
