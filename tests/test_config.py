"""Portfolio file validation: every bad file gets one line naming the field, exit code 2."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from althedge.config import load_portfolio, parse_portfolio
from althedge.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
GOOD = {"holdings": [{"asset": "sol", "amount": 10}]}


def test_example_portfolio_loads_and_matches_bundled_copy() -> None:
    cfg = load_portfolio(ROOT / "examples" / "portfolio.toml")
    assert [h.asset for h in cfg.holdings] == ["SOL", "AVAX", "LINK", "DOGE", "ADA"]
    assert cfg.hedge.assets == ["BTC"] and cfg.hedge.contract == "linear"
    bundled = ROOT / "src" / "althedge" / "bundled" / "portfolio.toml"
    assert bundled.read_text() == (ROOT / "examples" / "portfolio.toml").read_text()


def test_defaults_and_normalisation() -> None:
    cfg = parse_portfolio(GOOD)
    assert cfg.holdings[0].asset == "SOL"
    assert cfg.hedge.beta_method == "ols" and cfg.hedge.lookback_days == 90
    assert cfg.hedge.rounding == "down" and cfg.quote == "USD"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"holdings": []}, "holdings"),
        ({"holdings": [{"asset": "SOL", "amount": -1}]}, "holdings[0].amount"),
        ({"holdings": [{"asset": "SOL", "amount": 0}]}, "holdings[0].amount"),
        ({"holdings": [{"asset": "SOL"}]}, "holdings[0].amount"),
        ({"holdings": [{"asset": "SOL", "amount": 1, "clas": "l1"}]}, "holdings[0].clas"),
        ({"holdings": [{"asset": "SOL", "amount": 1, "class": "meme"}]}, "holdings[0].class"),
        ({**GOOD, "hedge": {"leverage": 0}}, "hedge.leverage"),
        ({**GOOD, "hedge": {"leverage": -2}}, "hedge.leverage"),
        ({**GOOD, "hedge": {"contract": "perp"}}, "hedge.contract"),
        ({**GOOD, "hedge": {"exchange": "kraken"}}, "hedge.exchange"),
        ({**GOOD, "hedge": {"assets": ["SOL"]}}, "hedge.assets"),
        ({**GOOD, "hedge": {"rounding": "sideways"}}, "hedge.rounding"),
        ({**GOOD, "quote": "EUR"}, "quote"),
        ({"holdings": [{"asset": "SOL", "amount": 1}, {"asset": "sol", "amount": 2}]}, "holdings"),
        ({**GOOD, "hedge": {"collateral_amount": 1.0}}, "collateral_amount"),
    ],
)
def test_bad_input_names_the_field(data: dict, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_portfolio(data, "p.toml")
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith("p.toml: ")
    assert field in msg


def test_leverage_above_exchange_maximum(tmp_path: Path) -> None:
    p = tmp_path / "p.toml"
    p.write_text(
        '[[holdings]]\nasset = "SOL"\namount = 1\n[hedge]\nexchange = "binance"\n'
        'contract = "inverse"\nleverage = 200\n[limits]\nmax_leverage = 500\n'
    )
    with pytest.raises(ConfigError, match=r"hedge.leverage: 200x is above the \d+x maximum"):
        load_portfolio(p)


def test_unknown_contract_symbol(tmp_path: Path) -> None:
    p = tmp_path / "p.toml"
    p.write_text('[[holdings]]\nasset = "SOL"\namount = 1\n[hedge]\nsymbol = "BTC/EUR:EUR"\n')
    with pytest.raises(ConfigError, match="BTC/EUR:EUR"):
        load_portfolio(p)


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "p.toml"
    p.write_text("holdings = [[[")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_portfolio(p)
    with pytest.raises(ConfigError, match="no such portfolio file"):
        load_portfolio(tmp_path / "missing.toml")


def test_cli_bad_file_one_line_exit_2(tmp_path: Path) -> None:
    p = tmp_path / "bad.toml"
    p.write_text('[[holdings]]\nasset = "SOL"\namount = -5\n')
    proc = subprocess.run(
        [sys.executable, "-m", "althedge", "plan", str(p)], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1
    assert "holdings[0].amount" in err and "Traceback" not in err


def _numeric_fields() -> list[tuple[str, str]]:
    """(table, field) of every number a portfolio file can hold, from the models themselves
    (a new numeric field is covered as soon as it is added)."""
    import typing

    from althedge.config import HedgeConfig, Holding, LimitsConfig

    def is_number(hint: object) -> bool:
        args = typing.get_args(hint)
        return any(is_number(a) for a in args) if args else hint in (int, float)

    out = []
    for table, model in (("holdings", Holding), ("hedge", HedgeConfig),
                         ("limits", LimitsConfig)):
        for name, info in model.model_fields.items():
            if is_number(info.annotation):
                out.append((table, info.alias or name))
    return out


def test_every_numeric_field_is_enumerated() -> None:
    names = {f for _, f in _numeric_fields()}
    assert {"amount", "price_usd", "leverage", "lookback_days", "collateral_amount",
            "funding_rate_8h", "max_notional_usd", "max_contracts", "max_leverage"} <= names


@pytest.mark.parametrize(("table", "field"), _numeric_fields(), ids=lambda v: str(v))
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 1e308])
def test_every_numeric_field_refuses_non_finite_and_huge(table: str, field: str,
                                                         value: float) -> None:
    data: dict = {"holdings": [{"asset": "SOL", "amount": 10}]}
    if table == "holdings":
        data["holdings"][0][field] = value
        where = f"holdings[0].{field}"
    else:
        data[table] = {field: value}
        if field == "collateral_amount":
            data["hedge"].update(contract="inverse", collateral_asset="BTC")
        where = f"{table}.{field}"
    with pytest.raises(ConfigError) as info:
        parse_portfolio(data, "p.toml")
    msg = str(info.value)
    assert msg.startswith(f"p.toml: {where}: "), msg
    assert ("finite" in msg) if not math.isfinite(value) else ("too large" in msg), msg
