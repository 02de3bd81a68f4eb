"""The portfolio file: holdings and hedge settings, in TOML, validated with pydantic.

A minimal file::

    [[holdings]]
    asset = "SOL"
    amount = 120

    [hedge]
    exchange = "binance"
    contract = "linear"

See ``examples/portfolio.toml`` for every field, commented. Invalid files raise
:class:`althedge.errors.ConfigError` with a one-line message naming the field.
"""

from __future__ import annotations

import math
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from althedge.core.estimators import ESTIMATOR_NAMES
from althedge.core.triggers import parse_trigger
from althedge.errors import AlthedgeError, ConfigError, InputError

QUOTES_AS_USD = ("USD", "USDT", "USDC")


class AssetClass(StrEnum):
    """Seed-article classes used when a beta has to be assumed."""

    L1 = "l1"
    DEFI = "defi"
    LOWCAP = "lowcap"


#: ``hedge.beta_method`` values: the names of the estimator registry
#: (:data:`althedge.core.estimators.ESTIMATOR_NAMES`), kept as plain strings.
BETA_METHOD_NAMES: tuple[str, ...] = ESTIMATOR_NAMES
BetaMethod = str  # the type of ``hedge.beta_method``; valid values: BETA_METHOD_NAMES


#: Largest magnitude a number in the file may have (beyond it sums and products overflow).
MAX_FIELD_ABS = 1e15


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True,
                              allow_inf_nan=False)

    @field_validator("*", mode="before")  # before: 1e308 for an int is "too large" too
    @classmethod
    def _not_huge(cls, value: Any) -> Any:
        if (isinstance(value, int | float) and not isinstance(value, bool)
                and math.isfinite(value) and abs(value) > MAX_FIELD_ABS):  # NaN/inf: below
            raise ValueError(f"too large (more than {MAX_FIELD_ABS:g} in size); "
                             "use a realistic value")
        return value


class Holding(_Strict):
    """One altcoin position held spot. ``amount`` in coin; ``price_usd`` overrides the source."""

    asset: str
    amount: float = Field(gt=0)
    asset_class: AssetClass | None = Field(default=None, alias="class")
    price_usd: float | None = Field(default=None, gt=0)

    @field_validator("asset")
    @classmethod
    def _upper(cls, value: str) -> str:
        value = value.strip().upper()
        if not value or not value.replace("-", "").replace("_", "").isalnum():
            raise ValueError("must be a coin symbol such as SOL or AVAX")
        return value

    @field_validator("amount", "price_usd")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


class HedgeConfig(_Strict):
    """How to hedge: which futures contract, which beta, how to round, how much leverage."""

    assets: list[str] = Field(default_factory=lambda: ["BTC"], min_length=1, max_length=2)
    exchange: Literal[
        "binance", "bybit", "okx", "deribit", "bingx", "mexc", "weex", "hyperliquid"
    ] = "binance"
    symbol: str | None = None
    contract: Literal["linear", "inverse"] = "linear"
    perpetual: bool = True
    beta_method: str = "ols"
    lookback_days: int = Field(default=90, ge=10, le=3650)
    sampling: Literal["1d", "1h"] = "1d"
    keep_bars: list[str] = Field(default_factory=list)
    ewma_lambda: float = Field(default=0.94, gt=0, lt=1)
    min_observations: int = Field(default=30, ge=5)
    rounding: Literal["down", "up", "nearest", "none"] = "down"
    leverage: float = Field(default=2.0, gt=0)
    margin_mode: Literal["isolated", "cross"] = "isolated"
    collateral_asset: str | None = None
    collateral_amount: float = Field(default=0.0, ge=0)
    funding_rate_8h: float | None = Field(default=None, ge=-0.05, le=0.05)
    price_source: str | None = None
    # when to hedge (core.triggers; any one on = hedge on), e.g. ["trend:200", "drawdown:10/5"]
    triggers: list[str] = Field(default_factory=list, max_length=8)
    trigger_hold_days: float = Field(default=3.0, ge=0, le=365)

    @field_validator("beta_method")
    @classmethod
    def _beta_method(cls, value: str) -> str:
        key = str(value).strip().lower()
        if key not in BETA_METHOD_NAMES:
            raise ValueError(f"unknown beta method; use one of {', '.join(BETA_METHOD_NAMES)}")
        return key

    @field_validator("keep_bars")
    @classmethod
    def _keep_bars(cls, value: list[str]) -> list[str]:
        from althedge.data.quality import parse_keep_bar

        for item in value:
            try:
                parse_keep_bar(item)
            except AlthedgeError as err:
                raise ValueError(str(err).removeprefix("keep-bar: ")) from None
        return value

    @field_validator("assets")
    @classmethod
    def _hedge_assets(cls, value: list[str]) -> list[str]:
        out = [a.strip().upper() for a in value]
        bad = [a for a in out if a not in ("BTC", "ETH")]
        if bad:
            raise ValueError(f"hedge asset {bad[0]!r} is not offered; use BTC and/or ETH")
        if len(set(out)) != len(out):
            raise ValueError("list each hedge asset once")
        return out

    @field_validator("triggers")
    @classmethod
    def _known_triggers(cls, value: list[str]) -> list[str]:
        out = []
        for text in value:
            try:
                out.append(parse_trigger(text).name)
            except InputError as err:
                raise ValueError(str(err)) from None
        return out

    @field_validator("collateral_asset")
    @classmethod
    def _coll_upper(cls, value: str | None) -> str | None:
        return value.strip().upper() if value else value

    @model_validator(mode="after")
    def _collateral_consistent(self) -> HedgeConfig:
        if self.collateral_amount > 0 and self.contract != "inverse":
            raise ValueError(
                'collateral_amount is only used with contract = "inverse" (coin collateral); '
                "remove it or switch the contract"
            )
        if self.collateral_amount > 0 and self.collateral_asset not in (None, self.assets[0]):
            raise ValueError(
                f"collateral_asset must be the hedge coin {self.assets[0]} for an inverse contract"
            )
        return self


class LimitsConfig(_Strict):
    """Caps that refuse any order beyond them, live or dry run."""

    max_notional_usd: float = Field(default=1_000_000.0, gt=0)
    max_contracts: float = Field(default=100_000.0, gt=0)
    max_leverage: float = Field(default=10.0, gt=0)


class PortfolioConfig(_Strict):
    """A portfolio file: holdings, quote currency, hedge settings and safety limits."""

    name: str = "portfolio"
    quote: str = "USD"
    holdings: list[Holding] = Field(min_length=1)
    hedge: HedgeConfig = Field(default_factory=HedgeConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)

    @field_validator("quote")
    @classmethod
    def _quote(cls, value: str) -> str:
        value = value.strip().upper()
        if value not in QUOTES_AS_USD:
            raise ValueError(f"quote must be one of {', '.join(QUOTES_AS_USD)} (treated as USD)")
        return value

    @field_validator("holdings")
    @classmethod
    def _unique(cls, value: list[Holding]) -> list[Holding]:
        seen: set[str] = set()
        for h in value:
            if h.asset in seen:
                raise ValueError(f"{h.asset} is listed twice; merge the amounts into one holding")
            seen.add(h.asset)
        return value

    @model_validator(mode="after")
    def _leverage_within_limits(self) -> PortfolioConfig:
        if self.hedge.leverage > self.limits.max_leverage:
            raise ValueError(
                f"hedge.leverage {self.hedge.leverage:g} is above limits.max_leverage "
                f"{self.limits.max_leverage:g}; lower it or raise the limit"
            )
        return self

    @property
    def hedge_asset(self) -> str:
        """The first (primary) hedge asset, e.g. ``"BTC"``."""
        return self.hedge.assets[0]

    def hedge_instrument(self) -> Any:
        """The futures contract the hedge uses (:class:`althedge.core.instruments.Instrument`).

        Raises :class:`UnknownInstrumentError` (exit 2) when the exchange does not list it,
        and :class:`ConfigError` when the leverage is above the contract's maximum.
        """
        from althedge.core.instruments import find_instrument, get_instrument

        h = self.hedge
        if h.symbol:
            inst = get_instrument(h.exchange, h.symbol)
        else:
            inst = find_instrument(h.exchange, self.hedge_asset, h.contract, perpetual=h.perpetual)
        if h.leverage > inst.max_leverage:
            raise ConfigError(
                f"hedge.leverage: {h.leverage:g}x is above the {inst.max_leverage:g}x maximum of "
                f"{inst.exchange} {inst.symbol}; choose {inst.max_leverage:g} or less"
            )
        return inst


def _field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _first_error_message(err: ValidationError, source: str) -> str:
    first = err.errors()[0]
    loc = tuple(p for p in first["loc"] if p not in ("function-after", "function-before"))
    msg = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        msg = "unknown field; check the spelling against examples/portfolio.toml"
    elif first["type"] == "missing":
        msg = "is required"
    got = first.get("input")
    shown = (
        ""
        if first["type"] in ("missing", "extra_forbidden") or isinstance(got, dict | list)
        else f" (got {got!r})"
    )
    more = len(err.errors()) - 1
    tail = f" [+{more} more problem{'s' if more > 1 else ''}]" if more else ""
    where = f"{_field_path(loc)}: " if loc else ""
    return f"{source}: {where}{msg}{shown}{tail}"


def parse_portfolio(data: dict[str, Any], source: str = "portfolio") -> PortfolioConfig:
    """Validate an already-parsed mapping (e.g. from TOML or JSON) into a PortfolioConfig."""
    if not data.get("holdings"):
        raise ConfigError(
            f"{source}: holdings: the portfolio is empty; add at least one [[holdings]] entry "
            "with asset and amount"
        )
    try:
        return PortfolioConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_first_error_message(err, source)) from None


def load_portfolio(path: str | Path) -> PortfolioConfig:
    """Read and validate a portfolio TOML file.

    Raises :class:`ConfigError` naming the file and the field on any problem.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: no such portfolio file; pass the path to a .toml file")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{p.name}: not valid TOML ({err})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p.name}: not a text file; expected TOML") from None
    cfg = parse_portfolio(data, source=p.name)
    try:
        cfg.hedge_instrument()
    except AlthedgeError as err:
        text = str(err)
        raise ConfigError(f"{p.name}: {text if text.startswith('hedge') else 'hedge: ' + text}"
                          ) from None
    return cfg
