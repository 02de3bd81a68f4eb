"""The hedge plan on real data: valuation, betas vs an independent numpy OLS, sizing, labels."""

from __future__ import annotations

import math
import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from althedge.config import parse_portfolio
from althedge.data import bundled_source, open_source
from althedge.errors import ConfigError, DataQualityError
from althedge.services.plan import build_plan

ROOT = Path(__file__).resolve().parents[2]


def _closes(shared: Path, sym: str) -> pd.Series:
    """Independent reader: the raw CSV, no althedge code involved."""
    df = pd.read_csv(shared / "daily" / f"{sym}-USD_1d.csv", parse_dates=["datetime"])
    return df.set_index("datetime")["close"]


def _numpy_beta(alt: pd.Series, btc: pd.Series, as_of: str, lookback: int) -> tuple[float, int]:
    both = (
        pd.concat([alt, btc], axis=1, join="outer", sort=True).loc[:as_of].iloc[-(lookback + 1) :]
    )
    rets = (both / both.shift(1) - 1).iloc[1:].dropna()
    x = rets.iloc[:, 1].to_numpy()
    y = rets.iloc[:, 0].to_numpy()
    slope, _ = np.polyfit(x, y, 1)
    return float(slope), len(x)


def _portfolio(**hedge: object) -> dict:
    return {
        "holdings": [
            {"asset": "SOL", "amount": 120, "class": "l1"},
            {"asset": "AVAX", "amount": 400, "class": "l1"},
            {"asset": "LINK", "amount": 500, "class": "defi"},
        ],
        "hedge": {"exchange": "binance", "contract": "linear", **hedge},
    }


def test_betas_match_independent_numpy_ols(shared_data: Path) -> None:
    cfg = parse_portfolio(_portfolio())
    plan = build_plan(cfg, open_source(shared_data / "daily"), date(2024, 8, 5))
    btc = _closes(shared_data, "BTC")
    for line in plan.holdings:
        expected, n = _numpy_beta(_closes(shared_data, line.asset), btc, "2024-08-05", 90)
        assert line.beta_source == "measured"
        assert line.observations == n == 90
        assert line.beta == pytest.approx(expected, abs=1e-9)
    # portfolio beta is the value-weighted sum of holding betas
    assert plan.portfolio_beta == pytest.approx(
        sum(h.weight * h.beta for h in plan.holdings), abs=1e-12
    )
    assert sum(h.weight for h in plan.holdings) == pytest.approx(1.0, abs=1e-12)


def test_valuation_uses_close_on_as_of(shared_data: Path) -> None:
    cfg = parse_portfolio(_portfolio())
    plan = build_plan(cfg, open_source(shared_data / "daily"), date(2024, 8, 5))
    sol = _closes(shared_data, "SOL").loc["2024-08-05"]
    line = next(h for h in plan.holdings if h.asset == "SOL")
    assert line.price_usd == pytest.approx(sol, rel=1e-12)
    assert line.value_usd == pytest.approx(120 * sol, rel=1e-12)
    assert plan.hedge.hedge_price_usd == pytest.approx(
        _closes(shared_data, "BTC").loc["2024-08-05"]
    )


def test_no_look_ahead(shared_data: Path, tmp_path: Path) -> None:
    """Scrambling every price after the as-of date changes nothing in the plan."""
    folder = tmp_path / "daily"
    folder.mkdir()
    for sym in ("SOL", "AVAX", "LINK", "BTC"):
        df = pd.read_csv(shared_data / "daily" / f"{sym}-USD_1d.csv")
        after = df["datetime"] > "2023-03-01"
        df.loc[after, ["open", "high", "low", "close"]] *= 7.0
        df.to_csv(folder / f"{sym}-USD_1d.csv", index=False)
    # the funding history beside daily/ is found by both (plan looks one folder up)
    shutil.copytree(shared_data / "funding", tmp_path / "funding")
    cfg = parse_portfolio(_portfolio())
    a = build_plan(cfg, open_source(shared_data / "daily"), date(2023, 3, 1)).to_dict()
    b = build_plan(cfg, open_source(folder), date(2023, 3, 1)).to_dict()
    for plan in (a, b):  # same history, named by its folder
        plan.pop("price_source")
        for leg in (plan["hedge"], *plan["hedges"]):
            assert leg.pop("funding_rate_source").startswith("history (files:")
    assert a == b


def test_linear_sizing_consistent(shared_data: Path) -> None:
    cfg = parse_portfolio(_portfolio(rounding="down"))
    plan = build_plan(cfg, open_source(shared_data / "daily"), date(2024, 8, 5))
    leg = plan.hedge
    assert leg.notional_usd == pytest.approx(plan.portfolio_value_usd * plan.portfolio_beta)
    assert leg.contracts_exact == pytest.approx(
        leg.notional_usd / (leg.hedge_price_usd * leg.contract_size)
    )
    assert leg.contracts <= leg.contracts_exact
    assert leg.residual_usd == pytest.approx(
        leg.notional_usd - leg.contracts * leg.contract_size * leg.hedge_price_usd, abs=1e-6
    )
    # a short's liquidation is above entry; initial margin = notional / leverage
    assert leg.liquidation_price > leg.hedge_price_usd
    assert leg.rally_to_liquidation_pct > 0
    assert leg.initial_margin == pytest.approx(
        leg.contracts * leg.contract_size * leg.hedge_price_usd / leg.leverage
    )


def test_seed_inverse_eth_example() -> None:
    """Seed article, corrected in docs/domain.md: 100 ETH at 3,000 → 300,000 USD of inverse
    ETH contracts → 30,000 contracts of 10 USD on Binance COIN-M."""
    cfg = parse_portfolio(
        {
            "holdings": [{"asset": "ETH", "amount": 100, "price_usd": 3000}],
            "hedge": {
                "assets": ["ETH"],
                "exchange": "binance",
                "contract": "inverse",
                "rounding": "nearest",
                "leverage": 1,
            },
        }
    )
    plan = build_plan(cfg, bundled_source(), date(2024, 3, 1))
    leg = plan.hedge
    assert plan.portfolio_value_usd == 300_000
    assert plan.holdings[0].beta == pytest.approx(1.0, abs=1e-12)  # ETH against itself
    assert leg.instrument == "ETH/USD:ETH" and leg.contract_size == 10
    assert leg.notional_usd == pytest.approx(300_000, rel=1e-12)
    assert leg.contracts == 30_000
    assert leg.initial_margin_currency == "ETH"


def test_inverse_with_coin_collateral_counts_its_delta() -> None:
    cfg = parse_portfolio(
        {
            "holdings": [{"asset": "SOL", "amount": 500}],
            "hedge": {
                "exchange": "binance",
                "contract": "inverse",
                "rounding": "none",
                "collateral_asset": "BTC",
                "collateral_amount": 0.5,
                "leverage": 1,
            },
        }
    )
    plan = build_plan(cfg, bundled_source(), date(2024, 3, 1))
    leg = plan.hedge
    p = leg.hedge_price_usd
    assert leg.contracts_exact == pytest.approx((leg.notional_usd + 0.5 * p) / 100.0, rel=1e-12)


def test_collateral_below_initial_margin_is_warned_with_the_leverage_needed() -> None:
    cfg = parse_portfolio(
        {
            "holdings": [{"asset": "SOL", "amount": 500}],
            "hedge": {"exchange": "binance", "contract": "inverse", "leverage": 2,
                      "collateral_asset": "BTC", "collateral_amount": 0.05},
        }
    )
    plan = build_plan(cfg, bundled_source(), date(2024, 3, 1))
    leg = plan.hedge
    assert leg.initial_margin > 0.05  # 2× of (H + 0.05·P) needs more than 0.05 BTC
    (msg,) = [w for w in plan.warnings if "below the initial margin" in w]
    need = leg.contracts * leg.contract_size / leg.hedge_price_usd / 0.05
    assert f"leverage ≥ {math.ceil(need * 100) / 100:.2f}" in msg and "BTC/USD:BTC" in msg
    enough = parse_portfolio(
        {
            "holdings": [{"asset": "SOL", "amount": 500}],
            "hedge": {"exchange": "binance", "contract": "inverse", "leverage": 2,
                      "collateral_asset": "BTC", "collateral_amount": 3.0},  # C ≥ H/P: IM covered
        }
    )
    assert not any("below the initial margin" in w
                   for w in build_plan(enough, bundled_source(), date(2024, 3, 1)).warnings)


def test_short_history_falls_back_to_assumed_class_beta(shared_data: Path) -> None:
    cfg = parse_portfolio(
        {
            "holdings": [
                {"asset": "SOL", "amount": 10, "class": "l1"},
                {"asset": "LINK", "amount": 10},
            ]
        }
    )
    plan = build_plan(
        cfg, open_source(shared_data / "daily"), date(2020, 4, 25)
    )  # SOL listed 2020-04-10
    sol = next(h for h in plan.holdings if h.asset == "SOL")
    link = next(h for h in plan.holdings if h.asset == "LINK")
    assert sol.beta_source == "assumed" and 1.2 <= sol.beta <= 1.8
    assert link.beta_source == "measured"
    assert plan.portfolio_beta_source == "partly assumed"
    assert any("SOL" in w and "ASSUMED" in w for w in plan.warnings)


@pytest.mark.parametrize("method", ["ols", "ewma", "downside", "shrunk", "robust", "conservative"])
def test_every_beta_method_runs(method: str) -> None:
    cfg = parse_portfolio(_portfolio(beta_method=method))
    plan = build_plan(cfg, bundled_source(), date(2024, 8, 5))
    assert all(h.beta_source == "measured" and math.isfinite(h.beta) for h in plan.holdings)
    assert {h.beta_method for h in plan.holdings} == {method}


def test_conservative_is_max_of_ols_and_downside() -> None:
    ols = build_plan(parse_portfolio(_portfolio()), bundled_source(), date(2024, 8, 5))
    cons = build_plan(
        parse_portfolio(_portfolio(beta_method="conservative")), bundled_source(), date(2024, 8, 5)
    )
    for a, c in zip(ols.holdings, cons.holdings, strict=True):
        assert c.beta == pytest.approx(max(a.beta, a.downside_beta), abs=1e-12)


def test_btc_eth_min_variance_two_legs() -> None:
    cfg = parse_portfolio(_portfolio(assets=["BTC", "ETH"], rounding="none"))
    plan = build_plan(cfg, bundled_source(), date(2024, 8, 5))
    assert [leg.hedge_asset for leg in plan.hedges] == ["BTC", "ETH"]
    assert all(leg.contracts >= 0 for leg in plan.hedges)


def test_btc_eth_mix_is_shorts_only(shared_data: Path) -> None:
    # on 2023-10-02 the free minimum-variance mix of this portfolio has a negative BTC
    # weight (a LONG BTC leg): shorts only, the plan hedges with ETH alone at its OLS beta
    cfg = parse_portfolio(
        {
            "holdings": [{"asset": "SOL", "amount": 120}, {"asset": "LINK", "amount": 500}],
            "hedge": {"exchange": "binance", "contract": "linear", "rounding": "none",
                      "assets": ["BTC", "ETH"]},
        }
    )
    plan = build_plan(cfg, open_source(shared_data / "daily"), date(2023, 10, 2))
    btc_leg, eth_leg = plan.hedges
    assert btc_leg.beta == 0.0 and btc_leg.contracts == 0.0
    assert any("wants a long leg" in w for w in plan.warnings)
    # independent: constant-weight portfolio returns vs ETH over the 90-day lookback
    closes = pd.concat([_closes(shared_data, a) for a in ("SOL", "LINK", "ETH")], axis=1, sort=True,
                       keys=["SOL", "LINK", "ETH"]).loc[:"2023-10-02"].iloc[-91:]
    rets = (closes / closes.shift(1) - 1).iloc[1:]
    weights = np.array([h.weight for h in plan.holdings])
    r_p = rets[["SOL", "LINK"]].to_numpy() @ weights
    slope, _ = np.polyfit(rets["ETH"].to_numpy(), r_p, 1)
    assert eth_leg.beta == pytest.approx(slope, rel=1e-9)


def test_unknown_asset_names_field() -> None:
    cfg = parse_portfolio(
        {"holdings": [{"asset": "SOL", "amount": 1}, {"asset": "NOPE", "amount": 1}]}
    )
    with pytest.raises(ConfigError, match=r"holdings\[1\]\.asset: 'NOPE'"):
        build_plan(cfg, bundled_source())


def test_bad_series_refused_or_excluded(shared_data: Path, tmp_path: Path) -> None:
    """UNI-USD in the shared data is not Uniswap for part of its history: a level shift the
    checks flag as an error. The plan refuses it, or excludes it when told to."""
    folder = tmp_path / "daily"
    folder.mkdir()
    for sym in ("UNI", "BTC", "SOL"):
        shutil.copy(shared_data / "daily" / f"{sym}-USD_1d.csv", folder)
    uni = pd.read_csv(folder / "UNI-USD_1d.csv", parse_dates=["datetime"]).set_index("datetime")[
        "close"
    ]
    jump = (uni / uni.shift(1)).abs()
    day = jump.idxmax() if jump.max() > 10 else (1 / jump).idxmax()
    as_of = (day + pd.Timedelta(days=20)).date()
    cfg = parse_portfolio(
        {
            "holdings": [
                {"asset": "SOL", "amount": 1},
                {"asset": "UNI", "amount": 100, "class": "defi"},
            ]
        }
    )
    with pytest.raises(DataQualityError, match="UNI"):
        build_plan(cfg, open_source(folder), as_of)
    plan = build_plan(cfg, open_source(folder), as_of, exclude_bad_series=True)
    uni_line = next(h for h in plan.holdings if h.asset == "UNI")
    assert uni_line.beta_source == "assumed"
