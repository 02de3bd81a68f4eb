"""The library API of `althedge/__init__`: every advertised name resolves, and the
two-line example of the docstring gives what `althedge plan` gives."""

from __future__ import annotations

from pathlib import Path

import pytest

import althedge

ROOT = Path(__file__).resolve().parents[1]


def test_every_exported_name_resolves() -> None:
    for name in althedge.__all__:
        assert getattr(althedge, name) is not None, name
    with pytest.raises(AttributeError):
        althedge.not_a_name  # noqa: B018


def test_docstring_example_seed_numbers() -> None:
    size = althedge.size_hedge(50_000, 1.8, 65_000, "linear", 1.0, rounding="down")
    assert (size.contracts, size.residual_usd) == (1.0, 25_000.0)


def test_plan_from_python_matches_plan_service() -> None:
    cfg = althedge.load_portfolio(ROOT / "examples" / "portfolio.toml")
    plan = althedge.build_plan(cfg, althedge.bundled_source())
    assert plan.hedge.contracts <= plan.hedge.contracts_exact
    assert plan.to_dict()["hedge"]["instrument"] == "BTC/USDT:USDT"
