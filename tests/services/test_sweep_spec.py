"""The sweep spec: expansion into tasks, walk-forward splits, random portfolios, and bad specs
refused with one line before any task starts (services and the real console entry)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from althedge.data import bundled_source
from althedge.errors import DataError, InputError
from althedge.services.sweep_spec import (
    check_against_source,
    compared_hedges,
    expand_braces,
    expand_tasks,
    parse_spec,
)
from althedge.services.sweep_summary import bootstrap_means, summarise

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "portfolio.toml"


def _spec(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "prices": "bundled", "seed": 1, "policies": ["none", "rolling-ols:{30,90}"],
        "portfolios": {"random": 4, "universe": ["SOL", "ADA", "LINK", "DOGE"],
                       "coins": [2, 3]},
        "periods": [{"name": "a", "start": "2022-01-01", "end": "2022-12-31"}],
    }
    base.update(over)
    return base


def test_braces_expand_to_the_cartesian_product_in_order() -> None:
    assert expand_braces("rolling-ols:{30,90}") == ["rolling-ols:30", "rolling-ols:90"]
    assert expand_braces("{ols,ewma}:{10,20}") == ["ols:10", "ols:20", "ewma:10", "ewma:20"]
    assert expand_braces("auto") == ["auto"]
    with pytest.raises(InputError, match="empty"):
        expand_braces("ewma:{}")


def test_every_policy_is_switched_by_every_trigger_but_none_stays_alone() -> None:
    got = compared_hedges(["none", "ols:{30,90}", "multi when vol:80"],
                          ["always", "trend:{50,100}"])
    assert got == ["none", "ols:30", "ols:30 when trend:50", "ols:30 when trend:100",
                   "ols:90", "ols:90 when trend:50", "ols:90 when trend:100",
                   "multi when vol:80"]


def test_tasks_cover_periods_x_settings_x_portfolios_with_stable_ids() -> None:
    data = _spec(settings={"rebalance": ["weekly", "threshold:10"], "fees": ["taker", "maker"],
                           "slippage_bps": 2},
                 portfolios={"files": [str(EXAMPLE)], "random": 3,
                             "universe": ["SOL", "ADA", "LINK"], "coins": 2})
    spec = parse_spec(data)
    assert len(spec.combos()) == 4
    assert spec.combo_label(spec.combos()[1]) == "rebalance=weekly, fees=maker"
    tasks = expand_tasks(spec)
    assert len(tasks) == 1 * 4 * (1 + 3)
    assert len({t.task_id for t in tasks}) == len(tasks)
    assert [t.task_id for t in expand_tasks(parse_spec(data))] == [t.task_id for t in tasks]
    # a different setting is a different task; an added portfolio leaves the others' ids
    more = dict(data, portfolios={**data["portfolios"], "random": 4})
    ids = {t.task_id for t in expand_tasks(parse_spec(more))}
    assert {t.task_id for t in tasks} < ids
    other = dict(data, settings={**data["settings"], "slippage_bps": 3})
    assert not {t.task_id for t in tasks} & {t.task_id for t in expand_tasks(parse_spec(other))}


def test_random_portfolios_are_reproducible_from_the_seed() -> None:
    data = _spec(portfolios={"random": 30, "universe": ["SOL", "ADA", "LINK", "DOGE", "XRP"],
                             "coins": [2, 4], "weighting": "random"})
    a = expand_tasks(parse_spec(data))
    b = expand_tasks(parse_spec(data))
    assert [t.portfolio_json for t in a] == [t.portfolio_json for t in b]
    c = expand_tasks(parse_spec(dict(data, seed=2)))
    assert [t.portfolio_json for t in a] != [t.portfolio_json for t in c]
    sizes = set()
    for t in a:
        h = json.loads(t.portfolio_json)["holdings"]
        w = np.array([x["amount"] for x in h])
        assert np.isclose(w.sum(), 1.0) and (w > 0).all()
        sizes.add(len(h))
    assert sizes == {2, 3, 4}


def test_walk_forward_makes_rolling_choose_confirm_pairs() -> None:
    spec = parse_spec(_spec(periods=None, walk_forward={
        "start": "2019-01-01", "end": "2024-12-31", "choose_years": 2, "confirm_years": 1}))
    pairs = [(p.confirms, p.name) for p in spec.periods if p.confirms]
    assert len(pairs) == 4
    first = spec.periods[0], spec.periods[1]
    assert (first[0].start, first[0].end) == ("2019-01-01", "2020-12-31")
    assert (first[1].start, first[1].end, first[1].confirms) == ("2021-01-01", "2021-12-31",
                                                                 first[0].name)
    assert spec.periods[-1].end == "2024-12-31"


@pytest.mark.parametrize(("over", "match"), [
    ({"policies": ["none", "wobbly:3"]}, "unknown policy 'wobbly:3'"),
    ({"settings": {"rebalance": []}}, "settings.rebalance: the list is empty"),
    ({"settings": {"rebalance": "fortnightly"}}, "rebalance: unknown schedule"),
    ({"settings": {"fees": "cheap"}}, "fees: 'cheap' is not taker, maker or a rate"),
    ({"settings": {"colour": "red"}}, "settings.colour: unknown setting"),
    ({"periods": [{"name": "a", "start": "2023-01-01", "end": "2022-01-01"}]},
     "periods\\[0\\].end: 2022-01-01 is not after start"),
    ({"periods": [{"name": "b", "start": "2022-01-01", "confirms": "z"}]},
     "no period is named 'z'"),
    ({"portfolios": {}}, "portfolios: no portfolio"),
    ({"summary": {"metric": "happiness"}}, "summary.metric: 'happiness'"),
    ({"policies": []}, "policies: the list is empty"),
])
def test_bad_specs_are_one_line_input_errors(over: dict[str, Any], match: str) -> None:
    with pytest.raises(InputError, match=match) as err:
        parse_spec(_spec(**over))
    assert "\n" not in str(err.value)


def test_coins_and_periods_the_source_lacks_are_refused_before_any_task() -> None:
    src = bundled_source()
    spec = parse_spec(_spec(portfolios={"random": 2, "universe": ["SOL", "PEPE"], "coins": 1}))
    with pytest.raises(DataError, match=r"portfolios\.universe: no 1d prices for PEPE"):
        check_against_source(spec, src)
    late = parse_spec(_spec(periods=[{"name": "future", "start": "2030-01-01"}]))
    with pytest.raises(DataError, match=r"periods\.future: no 1d BTC prices"):
        check_against_source(late, src)


def test_cli_refuses_a_bad_spec_in_one_line_and_starts_nothing(tmp_path: Path) -> None:
    spec = tmp_path / "bad.toml"
    spec.write_text('prices = "bundled"\npolicies = ["none", "ols"]\n[portfolios]\n'
                    'random = 2\ncoins = 1\nuniverse = ["SOL", "NOPE"]\n', encoding="utf-8")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "althedge", "sweep", str(spec), "--out",
                           str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: bad.toml: portfolios.universe")
    assert "NOPE" in lines[0] and "Traceback" not in proc.stderr
    assert not out.exists()  # refused before any task (nothing written)
    spec.write_text('prices = "bundled"\npolicies = ["ols:{30,}"]\n', encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "althedge", "sweep", str(spec)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1


# ----------------------------------------------------------------------------- summary


def test_bootstrap_interval_of_a_mean_matches_the_normal_approximation() -> None:
    """For the mean of n iid values the percentile bootstrap interval ≈ mean ± z·s/√n
    (Efron & Tibshirani 1993, ch. 13); with n = 400 the two agree to a few percent."""
    rng = np.random.default_rng(3)
    x = rng.normal(0.0, 1.0, (400, 1))
    low, high, _ = bootstrap_means(x, 4000, 0.95, seed=1)
    half = 1.959964 * x.std(ddof=1) / np.sqrt(400)
    assert low[0] == pytest.approx(x.mean() - half, abs=0.1 * half)
    assert high[0] == pytest.approx(x.mean() + half, abs=0.1 * half)


def test_bootstrap_is_paired_across_hedges() -> None:
    """B beats A by 0.01 on every portfolio: the intervals overlap (portfolios differ a
    lot) but B is best in every paired resample."""
    rng = np.random.default_rng(0)
    a = rng.normal(0.0, 1.0, 50)
    low, high, p_best = bootstrap_means(np.column_stack([a, a + 0.01]), 500, 0.9)
    assert low[1] < high[0]  # overlapping intervals
    assert p_best.tolist() == [0.0, 1.0]
    same = bootstrap_means(np.full((5, 2), 0.3), 100, 0.95)
    assert same[0].tolist() == same[1].tolist() == [0.3, 0.3]


def _runs() -> pd.DataFrame:
    rows = []
    for period, ranks in (("choose", {"a": 1, "b": 2, "c": 3}),
                          ("confirm", {"a": 2, "b": 1, "c": 3})):
        for i in range(6):
            for pol, r in ranks.items():
                rows.append({"period": period, "combo_label": "all", "portfolio": f"p{i}",
                             "policy": pol, "status": "ok", "error": "", "rank": r,
                             "kept_pct": 100.0, "max_drawdown_hedged_committed": -0.3,
                             "hedge_effectiveness": 0.5, "crash_loss_pct": -5.0,
                             "time_hedged_pct": 50.0})
    rows.append({"period": "confirm", "combo_label": "all", "portfolio": "p9", "policy": "a",
                 "status": "no-data", "error": "prices: SOL listed later", "rank": np.nan})
    return pd.DataFrame(rows)


def test_summary_ranks_per_period_and_follows_the_walk_forward_choice() -> None:
    s = summarise(_runs(), "rank", confirms=[("choose", "confirm")], bootstrap=200)
    choose, confirm = s.rankings
    assert [r.policy for r in choose.rows] == ["a", "b", "c"]
    assert choose.rows[0].p_best == 1.0 and choose.rows[0].ci_low == choose.rows[0].ci_high
    assert confirm.runs_failed == 1 and confirm.portfolios_dropped == 1
    assert confirm.rows[0].portfolios == 6
    (wf,) = s.walk_forward
    assert (wf.chosen, wf.confirm_place, wf.confirm_of, wf.confirm_best) == ("a", 2, 3, "b")
    assert (s.failed, s.no_data) == (0, 1) and "SOL listed later" in s.errors[0]
    he = summarise(_runs(), "hedge_effectiveness", bootstrap=10)
    assert he.higher_is_better and not s.higher_is_better


def test_a_run_without_data_is_rows_named_like_the_runs_that_ran() -> None:
    from althedge.services.sweep import run_task

    spec = parse_spec(_spec(policies=["none", "ols"], triggers=["always", "trend:100"],
                            portfolios={"random": 1, "universe": ["SOL"], "coins": 1},
                            periods=[{"name": "2019", "start": "2019-01-01",
                                      "end": "2019-12-31"}]))
    (random_task,) = expand_tasks(spec)
    rows = run_task(random_task)  # SOL was listed in 2020: no data in 2019
    assert rows["status"].tolist() == ["no-data"] * 3
    assert rows["policy"].tolist() == ["none", "rolling-ols:90",
                                       "rolling-ols:90 when trend:100/1"]
    assert rows["error"].iloc[0] == "prices: SOL has no 1d close in 2019-01-01 → 2019-12-31"
    assert rows["rank"].isna().all() and rows["hedge_effectiveness"].isna().all()
    spec = parse_spec(_spec(policies=["none", "plan"], portfolios={"files": [str(EXAMPLE)]},
                            periods=[{"name": "2024", "start": "2024-01-01"}]))
    (task,) = expand_tasks(spec)
    rows = run_task(task)
    assert rows["status"].tolist() == ["ok", "ok"]
    assert rows["policy"].tolist() == ["none", "plan"]  # the same name for every file
    assert rows["policy_resolved"].iloc[1].startswith("plan (")
    assert str(rows["rank"].dtype) == "Int64" and sorted(rows["rank"]) == [1, 2]


def _set(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    *tables, key = path.split(".")
    node = data
    for t in tables:
        node = node.setdefault(t, {})
    node[key] = value
    return data


#: every number a sweep spec holds outside the policy strings (which are parsed like
#: `backtest --compare`, tested there): whole numbers and reals, each where the spec puts it
SPEC_NUMBERS = ["seed", "portfolios.random", "portfolios.coins", "portfolios.value_usd",
                "portfolios.seed", "settings.window", "settings.halflife",
                "settings.slippage_bps", "settings.min_trade_usd", "settings.basis_annual",
                "settings.leverage", "settings.collateral_usd", "summary.bootstrap",
                "summary.confidence", "walk_forward.choose_years", "walk_forward.confirm_years",
                "walk_forward.step_years"]


@pytest.mark.parametrize("field", SPEC_NUMBERS)
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 1e308, "7"])
def test_every_spec_number_refuses_nan_inf_huge_and_text(field: str, value: Any) -> None:
    """One line naming the field (was: internal errors from int(nan), a hang on
    random = 1e308, or every run failing with exit 0 on window = nan)."""
    data = _spec()
    if field.startswith("walk_forward"):
        data.pop("periods")
        data["walk_forward"] = {"start": "2019-01-01", "end": "2024-12-31"}
    _set(data, field, value)
    with pytest.raises(InputError) as info:
        parse_spec(data)
    msg = str(info.value)
    assert "\n" not in msg and f"{field}:" in msg, msg
    assert len(msg) < 300, msg  # no 309-digit integer in the message
