"""Backtest service on the real bundled data: contract, exact identity, costs, margin."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from althedge.config import load_portfolio
from althedge.data import open_source
from althedge.errors import DataError, InputError
from althedge.services.backtest import (
    BacktestResult,
    BacktestSettings,
    dated_prices,
    parse_policy_list,
    rebalance_schedule,
    run_backtest,
)

PORTFOLIO = Path(__file__).parent / "data" / "backtest_portfolio.toml"
CONTRACT_KEYS = {
    "hedge_effectiveness", "vol_unhedged", "vol_hedged", "max_drawdown_unhedged",
    "max_drawdown_hedged", "worst_weeks_return_unhedged", "worst_weeks_return_hedged",
    "funding_usd", "fees_usd", "slippage_usd", "rebalances", "liquidations",
}


@pytest.fixture(scope="module")
def portfolio():  # type: ignore[no-untyped-def]
    return load_portfolio(PORTFOLIO)


@pytest.fixture(scope="module")
def source():  # type: ignore[no-untyped-def]
    return open_source(None)


@pytest.fixture(scope="module")
def compared(portfolio, source) -> BacktestResult:  # type: ignore[no-untyped-def]
    return run_backtest(
        portfolio, source, ["none", "static:1.8", "rolling-ols", "auto"],
        BacktestSettings(start="2021-01-01"),
    )


def test_json_contract_and_ranking(compared: BacktestResult) -> None:
    d = compared.to_dict()
    assert set(d) >= {"policies", "start", "end", "bars"}
    assert d["start"] >= "2021-01-01" and d["bars"] == len(compared.policies[0].series)
    names = [p["name"] for p in d["policies"]]
    assert sorted(names) == sorted(["none", "static:1.8", "rolling-ols:90", "auto"])
    for p in d["policies"]:
        assert set(p["metrics"]) >= CONTRACT_KEYS
    assert d["schema"] == 2 and d["rank_by"] == "return-per-drawdown"
    scores = [p["score"] for p in d["policies"]]
    assert scores == sorted(scores, reverse=True)
    assert [p["rank"] for p in d["policies"]] == [1, 2, 3, 4]
    auto = next(p for p in d["policies"] if p["name"] == "auto")
    assert auto["resolved_from"] == "multi:90"
    # the default objective recomputed independently with pandas from the series:
    # all capital committed = holdings + hedge PnL + every margin deposit (set aside)
    for p in compared.policies:
        s = p.series
        committed = s["equity_hedged_usd"] + p.metrics["collateral_deposited_usd"]
        years = len(s.index[1:]) / 365.0
        cagr = (committed.iloc[-1] / committed.iloc[0]) ** (1 / years) - 1
        dd = (committed / committed.cummax() - 1).min()
        expected = cagr / abs(dd) if cagr > 0 else cagr - 1000
        assert p.score == pytest.approx(expected, rel=1e-9), p.name


def test_rank_by_variance_orders_by_hedge_effectiveness(portfolio, source) -> None:  # type: ignore[no-untyped-def]
    res = run_backtest(portfolio, source, ["none", "static:1.8", "rolling-ols"],
                       BacktestSettings(start="2023-01-01", rank_by="variance"))
    he = [p.metrics.hedge_effectiveness for p in res.policies]
    assert he == sorted(he, reverse=True) and res.rank_by == "variance"
    util = run_backtest(portfolio, source, ["none", "static:1.8", "rolling-ols"],
                        BacktestSettings(start="2023-01-01", rank_by="utility:4"))
    assert util.rank_by == "utility:4"
    for p in util.policies:  # μ − A·σ²/2 of the returns on capital committed, by pandas
        r = p.series["committed_hedged_usd"].pct_change().dropna()
        assert p.score == pytest.approx(r.mean() * 365 - 4 * r.var() * 365 / 2, rel=1e-9)
    with pytest.raises(InputError, match="rank-by"):
        run_backtest(portfolio, source, ["none"], BacktestSettings(rank_by="sharpe"))


def test_no_hedge_costs_nothing_and_changes_nothing(compared: BacktestResult) -> None:
    none = next(p for p in compared.policies if p.name == "none").metrics
    assert none["hedge_effectiveness"] == pytest.approx(0.0, abs=1e-12)
    assert none["vol_hedged"] == pytest.approx(none["vol_unhedged"])
    assert none["fees_usd"] == none["slippage_usd"] == none["funding_usd"] == 0.0
    assert none["rebalances"] == 0


def test_seed_static_beta_is_shown_against_the_measured_beta(  # type: ignore[no-untyped-def]
    compared: BacktestResult, source
) -> None:
    static = next(p for p in compared.policies if p.name == "static:1.8")
    np.testing.assert_allclose(static.series["beta_BTC"], 1.8)
    measured = compared.measured_beta
    assert measured["beta"].notna().all() and measured["std_error"].notna().all()
    # on this data the measured beta of the bag is well below the seed's 1.8
    assert measured["beta"].median() < 1.8
    # the measured reference and the policy against an independent pandas rolling OLS
    closes = source.closes(["SOL", "LINK", "DOGE", "BTC"])
    closes = closes.loc[closes[["SOL", "LINK", "DOGE"]].notna().all(axis=1).idxmax():].ffill()
    value = closes["SOL"] * 100 + closes["LINK"] * 800 + closes["DOGE"] * 40000
    r_p, r_h = value.pct_change(), closes["BTC"].pct_change()
    beta = (r_p.rolling(90).cov(r_h) / r_h.rolling(90).var()).clip(lower=0)
    np.testing.assert_allclose(measured["beta"], beta.loc[measured.index], rtol=1e-8)
    rolling = next(p for p in compared.policies if p.name == "rolling-ols:90")
    np.testing.assert_allclose(rolling.series["beta_BTC"], beta.loc[measured.index], rtol=1e-8)


def test_service_hedged_return_equals_rp_minus_lagged_beta_rh(portfolio, source) -> None:  # type: ignore[no-untyped-def]
    """Zero costs, fractional, every bar: r_hedged = r_p − β_{t−1}·r_h, against pandas."""
    settings = BacktestSettings(start="2022-01-01", end="2023-06-30", rebalance="every",
                                rounding="none", fees="0", slippage_bps=0.0, funding="0",
                                window=60)
    res = run_backtest(portfolio, source, ["rolling-ols"], settings)
    s = res.policies[0].series
    # independent computation straight from the price files with pandas
    closes = source.closes(["SOL", "LINK", "DOGE", "BTC"], end="2023-06-30")
    closes = closes.loc[closes[["SOL", "LINK", "DOGE"]].notna().all(axis=1).idxmax():]
    value = closes["SOL"] * 100 + closes["LINK"] * 800 + closes["DOGE"] * 40000
    r_p = value.pct_change()
    r_h = closes["BTC"].pct_change()
    beta = r_p.rolling(60).cov(r_h) / r_h.rolling(60).var()
    expected = (r_p - beta.shift(1) * r_h).loc[s.index[1:]]
    np.testing.assert_allclose(s["return_hedged"].iloc[1:], expected, rtol=0, atol=1e-10)
    np.testing.assert_allclose(s["beta_BTC"], beta.loc[s.index], rtol=1e-9)


def test_assumed_funding_rate_is_paid_to_the_short(portfolio, source) -> None:  # type: ignore[no-untyped-def]
    settings = BacktestSettings(start="2023-01-01", end="2023-12-31", rebalance="every",
                                rounding="none", fees="0", slippage_bps=0.0, funding="0.0001")
    res = run_backtest(portfolio, source, ["static:1"], settings)
    s = res.policies[0].series
    btc = source.closes(["BTC"]).loc[s.index, "BTC"].to_numpy()
    contracts = s["value_usd"].to_numpy() / btc  # static:1 short of V USD of BTC
    received = (contracts[:-1] * btc[1:] * 0.0001 * 3).sum()  # daily bar = 3 × 8 h
    assert res.policies[0].metrics.funding_received_usd == pytest.approx(received, rel=1e-9)
    # schema-1 name kept one version: + = paid (deprecated)
    assert res.policies[0].metrics["funding_usd"] == pytest.approx(-received, rel=1e-9)


def test_funding_history_costs_split_by_year(portfolio, source) -> None:  # type: ignore[no-untyped-def]
    res = run_backtest(portfolio, source, ["static:1.8"],
                       BacktestSettings(start="2021-01-01", end="2022-12-31"))
    m = res.policies[0].metrics
    years = m["costs_by_year"]
    assert set(years) == {"2021", "2022"}
    for key in ("funding_usd", "fees_usd", "slippage_usd"):
        assert sum(y[key] for y in years.values()) == pytest.approx(m[key])
    # 2021 funding was strongly positive: the short earned it (negative cost)
    assert years["2021"]["funding_usd"] < 0
    assert m["fees_usd"] > 0 and m["slippage_usd"] > 0
    assert m["fees_usd"] == pytest.approx(m["turnover_usd"] * 0.0005, rel=1e-9)


def test_high_leverage_short_is_liquidated_in_the_2021_rally(portfolio, source) -> None:  # type: ignore[no-untyped-def]
    settings = BacktestSettings(start="2020-10-01", end="2021-04-30", leverage=10.0,
                                rebalance="biweekly")
    res = run_backtest(portfolio, source, ["static:1"], settings)
    m = res.policies[0].metrics
    assert m["liquidations"] >= 1 and m["margin_calls"] >= 1
    # every liquidation happens on a close at/above the liquidation price that the core
    # formula gave for the position held (up to the funding accrued since it was set)
    s = res.policies[0].series
    btc = source.closes(["BTC"]).loc[s.index, "BTC"].to_numpy()
    liq_px = s["liquidation_price_usd_BTC"].to_numpy()
    for i in np.flatnonzero(s["liquidated"].to_numpy()):
        assert btc[i] >= 0.99 * liq_px[i - 1]
    held = np.flatnonzero(np.isfinite(liq_px[:-1]) & ~s["liquidated"].to_numpy()[1:])
    assert (btc[held + 1] < 1.01 * liq_px[held]).all()
    assert 0 < m["min_rally_to_liquidation_pct"] < 10.5  # 10x: about a 10 % rally
    # the daily closes gap through the bankruptcy price, so the whole margin is lost
    # in the position's PnL (nothing left to forfeit) and the hedge lost money overall
    assert m["liquidation_loss_usd"] >= 0 and m["net_hedge_pnl_usd"] < 0
    safe = run_backtest(portfolio, source, ["static:1"],
                        BacktestSettings(start="2020-10-01", end="2021-04-30", leverage=10.0,
                                         rebalance="biweekly", top_up=True))
    assert safe.policies[0].metrics["liquidations"] < m["liquidations"]


def test_inverse_and_dated_contracts_run(portfolio, source) -> None:  # type: ignore[no-untyped-def]
    inv = run_backtest(portfolio, source, ["rolling-ols"],
                       BacktestSettings(start="2022-01-01", contract="inverse"))
    assert inv.instrument == "binance BTC/USD:BTC"
    assert inv.policies[0].metrics["hedge_effectiveness"] > 0.3
    dated = run_backtest(portfolio, source, ["rolling-ols"],
                         BacktestSettings(start="2022-01-01", perpetual=False))
    m = dated.policies[0].metrics
    assert m["funding_usd"] == 0.0
    assert "261225" in dated.instrument
    assert inv.policies[0].metrics["basis_usd"] == 0.0  # perpetual: no basis in the model
    # contango pays the short, backwardation costs it, no basis no effect
    span = {"start": "2022-01-01", "end": "2022-12-31", "perpetual": False}
    got = {b: run_backtest(portfolio, source, ["static:1"],
                           BacktestSettings(**span, basis_annual=b)).policies[0].metrics
           for b in (0.05, 0.0, -0.05)}
    assert got[0.05]["basis_usd"] > 0 > got[-0.05]["basis_usd"]
    assert got[0.0]["basis_usd"] == 0.0
    # about b × hedge notional × 1 year (notional ≈ the bag's average value)
    assert got[0.05]["basis_usd"] == pytest.approx(-got[-0.05]["basis_usd"], rel=0.1)


def test_dated_price_model_converges_at_expiry() -> None:
    idx = pd.date_range("2024-03-25", "2024-04-02", freq="D")
    spot = pd.Series(100.0, index=idx)
    exit_p, entry_p = dated_prices(spot, 0.10)
    expiry = list(idx).index(pd.Timestamp("2024-03-29"))  # last Friday of March 2024
    assert exit_p[expiry] == pytest.approx(100.0)
    assert entry_p[expiry] > 100.0  # rolled into the June contract
    assert exit_p[expiry - 1] == pytest.approx(100.0 * (1 + 0.10 * 1 / 365))
    np.testing.assert_allclose(exit_p[expiry + 1 :], entry_p[expiry + 1 :])


def test_rebalance_schedules() -> None:
    idx = pd.date_range("2024-01-01", periods=28, freq="D")  # a Monday
    weekly, thr = rebalance_schedule(idx, "weekly")
    assert thr is None and weekly.sum() == 4 and all(idx[weekly].day_of_week == 0)
    biweekly, _ = rebalance_schedule(idx, "biweekly")
    assert biweekly.sum() == 2 and biweekly[0]
    every, thr = rebalance_schedule(idx, "threshold:15")
    assert every.all() and thr == pytest.approx(0.15)
    with pytest.raises(InputError, match="rebalance"):
        rebalance_schedule(idx, "monthly")
    with pytest.raises(InputError, match="rebalance"):
        rebalance_schedule(idx, "threshold:abc")


def test_bad_inputs(portfolio, source, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match="compare"):
        parse_policy_list("ewma,ewma")
    with pytest.raises(InputError, match="fees"):
        run_backtest(portfolio, source, ["none"], BacktestSettings(fees="cheap"))
    with pytest.raises(InputError, match="funding"):
        run_backtest(portfolio, source, ["none"], BacktestSettings(funding="lots"))
    with pytest.raises(InputError, match="start: --start 2025-02-19"):  # data end 2025-02-20
        run_backtest(portfolio, source, ["rolling-ols"], BacktestSettings(start="2025-02-19"))
    with pytest.raises(InputError, match="end: --end 2024-01-01 is not after --start"):
        run_backtest(portfolio, source, ["none"],
                     BacktestSettings(start="2024-06-01", end="2024-01-01"))
    with pytest.raises(DataError, match="history"):  # the window eats all the data
        run_backtest(portfolio, source, ["rolling-ols"], BacktestSettings(window=5000))
    (tmp_path / "BTC-USD_1d.csv").write_text(
        "datetime,open,high,low,close,volume\n2024-01-01,1,1,1,1,0\n2024-01-02,1,1,1,1.1,0\n"
    )
    with pytest.raises(DataError, match="SOL"):
        run_backtest(portfolio, open_source(tmp_path), ["none"], BacktestSettings())


def test_auto_keeps_its_daily_window_on_hourly_bars() -> None:
    from althedge.core.policies import parse_policy
    from althedge.services.backtest import _scale_auto

    # BTC+ETH minimum variance on hourly bars: the hourly walk-forward's 30 days (issue 13)
    hourly = _scale_auto(parse_policy("auto"), 24.0)
    assert (hourly.kind, hourly.window, hourly.resolved_from) == ("multi", 720, "multi:720")
    fallback = _scale_auto(parse_policy("auto", single_instrument=True), 24.0)
    assert fallback.halflife == 60 * 24 and fallback.resolved_from == "ewma:1440"
    assert _scale_auto(parse_policy("auto"), 1.0) == parse_policy("auto")


def test_hourly_backtest_on_shared_data(shared_data: Path) -> None:
    pf = load_portfolio(PORTFOLIO)
    res = run_backtest(pf, open_source(shared_data), ["rolling-ols:720", "static:1.8"],
                       BacktestSettings(timeframe="1h", window=720, rebalance="daily"))
    assert res.timeframe == "1h" and res.bars > 1000
    s = res.policies[0].series
    assert s["rebalanced"].sum() <= res.bars / 24 + 2  # at most once a day
    assert res.policies[0].metrics["hedge_effectiveness"] > 0.3
