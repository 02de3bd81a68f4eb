"""The sweep spec: portfolios × compared hedges × settings grid × periods, as a list of tasks.

A spec is a TOML file (``examples/sweep.toml``, every field commented) or the same mapping
in Python. :func:`load_spec` / :func:`parse_spec` validate it into a :class:`SweepSpec`;
:func:`expand_tasks` turns it into :class:`SweepTask` s — one task = one portfolio × one
settings combination × one period, running **every** compared hedge in one
``run_backtest`` call (the estimators and prices are shared by the policies), so a task is
coarse enough to amortise the scheduler's overhead. :func:`check_against_source` refuses
a spec whose coins or periods the price source does not have, before any task starts.

Every error is one line naming the field and the fix (:class:`InputError`, exit 2;
:class:`DataError`, exit 3).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from althedge.config import PortfolioConfig, load_portfolio, parse_portfolio
from althedge.data import PriceSource, bundled_source, open_source
from althedge.errors import AlthedgeError, ConfigError, DataError, InputError
from althedge.services.backtest import BacktestSettings, check_settings, parse_policy_list
from althedge.services.backtest_results import PolicyMetrics

__all__ = [
    "METRIC_COLUMNS",
    "SETTING_KEYS",
    "Period",
    "RandomPortfolios",
    "SweepSpec",
    "SweepTask",
    "check_against_source",
    "compared_hedges",
    "expand_braces",
    "expand_tasks",
    "load_spec",
    "open_prices",
    "parse_spec",
]

#: Settings a spec may set or grid (``[settings]``): BacktestSettings' own fields except the
#: span (from ``[[periods]]``) and the timeframe (top level or per period), plus ``exchange``
#: (the portfolios' ``hedge.exchange``).
SETTING_KEYS: tuple[str, ...] = (
    *(f.name for f in fields(BacktestSettings) if f.name not in ("start", "end", "timeframe")),
    "exchange",
)
#: Numeric columns of a sweep row a summary may rank by: the run's rank and score, every
#: :class:`PolicyMetrics` number, and what an investor keeps (``kept_pct``) and loses in
#: the crash episodes (``crash_loss_pct``).
METRIC_COLUMNS: tuple[str, ...] = (
    "rank", "score",
    *(f.name for f in fields(PolicyMetrics)
      if f.name not in ("costs_by_year", "equity_touches_zero_on")),
    "cost_net_paid_usd", "kept_pct", "crash_loss_pct", "crash_loss_unhedged_pct",
)
_TOP_KEYS = {"name", "prices", "timeframe", "seed", "policies", "triggers", "portfolios",
             "hedge", "settings", "periods", "walk_forward", "summary"}
_BRACE = re.compile(r"\{([^{}]*)\}")
_ALWAYS = ("always", "", "none")


def expand_braces(text: str) -> list[str]:
    """``"rolling-ols:{30,90}"`` → ``["rolling-ols:30", "rolling-ols:90"]`` (every brace
    group, cartesian product, in order); text without braces is returned alone."""
    m = _BRACE.search(text)
    if m is None:
        return [text]
    options = [o.strip() for o in m.group(1).split(",")]
    if not any(options):
        raise InputError(f"policies: {text!r} has an empty {{}} group; list values like "
                         "rolling-ols:{30,90}")
    out: list[str] = []
    for o in options:
        out.extend(expand_braces(text[: m.start()] + o + text[m.end():]))
    return out


@dataclass(frozen=True)
class Period:
    """A span evaluated out of sample; ``confirms`` names the period it confirms (the
    walk-forward: the hedge chosen on that period is judged on this one)."""

    name: str
    start: str | None
    end: str | None
    timeframe: str
    confirms: str | None = None


@dataclass(frozen=True)
class RandomPortfolios:
    """``count`` portfolios of ``coins_min``–``coins_max`` coins drawn from ``universe``."""

    count: int
    universe: tuple[str, ...]
    coins_min: int
    coins_max: int
    weighting: str  # "equal" | "random" (Dirichlet(1) weights)
    value_usd: float
    seed: int


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep spec (see ``examples/sweep.toml`` for every field)."""

    name: str
    prices: str  # a folder, or "bundled"
    files: tuple[tuple[str, PortfolioConfig], ...]  # (name, portfolio) from portfolio files
    random: RandomPortfolios | None
    hedge: Mapping[str, Any]  # [hedge] of the random portfolios
    compared: tuple[str, ...]  # the compared hedges, ``POLICY`` or ``POLICY when TRIGGER``
    grid: tuple[tuple[str, tuple[Any, ...]], ...]  # settings key → values (a grid axis)
    periods: tuple[Period, ...]
    seed: int = 0
    metric: str = "rank"
    bootstrap: int = 1000
    confidence: float = 0.95

    def combos(self) -> list[dict[str, Any]]:
        """Every combination of the settings grid (the first key varies slowest)."""
        keys = [k for k, _ in self.grid]
        return [dict(zip(keys, vals, strict=True))
                for vals in itertools.product(*(v for _, v in self.grid))]

    def combo_label(self, combo: Mapping[str, Any]) -> str:
        """``rebalance=weekly, fees=maker`` for the keys that vary; ``all`` when none does."""
        varying = [k for k, v in self.grid if len(v) > 1]
        return ", ".join(f"{k}={combo[k]}" for k in varying) or "all"


@dataclass(frozen=True)
class SweepTask:
    """One unit of work: one portfolio × one settings combination × one period, every
    compared hedge. ``task_id`` is a hash of everything that determines the result, so a
    finished task is recognised when the sweep resumes (even from an extended spec)."""

    task_id: str
    portfolio: str
    kind: str  # "file" | "random"
    portfolio_json: str  # file: the portfolio; random: holdings as weights + [hedge]
    value_usd: float  # random portfolios: USD at the period's first bar
    period: str
    start: str | None
    end: str | None
    timeframe: str
    combo: int
    combo_label: str
    settings_json: str
    compared: tuple[str, ...]
    prices: str

    @property
    def settings(self) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(self.settings_json)
        return out


def _fail(field: str, msg: str) -> InputError:
    return InputError(f"sweep spec: {field}: {msg}")


def _shown(value: Any) -> str:
    """A value for a message: huge integers as 1e+308, not 309 digits."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**15:
        return f"{float(value):g}"
    return repr(value)


def _whole(value: Any, field: str, lo: int, hi: int, example: str) -> int:
    """A whole number from the spec in ``[lo, hi]``, or a one-line error naming ``field``
    (NaN, ±inf, 2.5, text and 1e308 included: ``int()`` of them fails or hangs later)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or (
        isinstance(value, float) and not (math.isfinite(value) and value.is_integer())
    ):
        raise _fail(field, f"{_shown(value)} is not a whole number; e.g. {example}")
    if not lo <= value <= hi:
        raise _fail(field, f"must be from {lo:,} to {hi:,}, got {_shown(value)}; e.g. {example}")
    return int(value)


def _real(value: Any, field: str, example: str) -> float:
    """A finite number from the spec, or a one-line error naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(field, f"{_shown(value)} is not a finite number; e.g. {example}")
    return float(value)


#: Largest seed (numpy takes any; a spec's is an int64) and most random portfolios.
_MAX_SEED = 2**63 - 1
_MAX_RANDOM = 100_000


def _as_list(value: Any, field: str) -> list[Any]:
    out = list(value) if isinstance(value, list | tuple) else [value]
    if not out:
        raise _fail(field, "the list is empty (an empty grid); give at least one value")
    return out


def _date(value: Any, field: str) -> str | None:
    if value is None or value == "":
        return None
    try:
        ts = pd.Timestamp(str(value))
    except (ValueError, TypeError):
        raise _fail(field, f"{value!r} is not a date; use YYYY-MM-DD") from None
    if pd.isna(ts):
        raise _fail(field, f"{value!r} is not a date; use YYYY-MM-DD")
    return str(ts.date()) if ts == ts.normalize() else ts.isoformat()


def compared_hedges(policies: Sequence[str], triggers: Sequence[str] = ()) -> list[str]:
    """The compared hedges: every policy (braces expanded), each switched by every trigger
    (``"always"`` = no trigger); ``none`` and items that already say ``when`` once."""
    pols = [p for item in policies for p in expand_braces(str(item).strip())]
    trigs = [t for item in triggers for t in expand_braces(str(item).strip())] or ["always"]
    out: list[str] = []
    for p in pols:
        if p.lower() == "none" or " when " in p.lower():
            out.append(p)
            continue
        for t in trigs:
            out.append(p if t.lower() in _ALWAYS else f"{p} when {t}")
    return list(dict.fromkeys(out))


def _periods(data: Mapping[str, Any], timeframe: str) -> list[Period]:
    out: list[Period] = []
    raw = data.get("periods")
    wf = data.get("walk_forward")
    if raw is None and wf is None:
        return [Period("all", None, None, timeframe)]
    for i, p in enumerate(_as_list(raw, "periods") if raw is not None else []):
        where = f"periods[{i}]"
        if not isinstance(p, Mapping):
            raise _fail(where, "must be a table with name, start, end")
        extra = set(p) - {"name", "start", "end", "timeframe", "confirms"}
        if extra:
            raise _fail(f"{where}.{sorted(extra)[0]}", "unknown field; use name, start, end, "
                        "timeframe, confirms")
        start, end = _date(p.get("start"), f"{where}.start"), _date(p.get("end"), f"{where}.end")
        if start and end and pd.Timestamp(end) <= pd.Timestamp(start):
            raise _fail(f"{where}.end", f"{end} is not after start {start}; swap them")
        name = str(p.get("name") or f"{start or 'first'}..{end or 'last'}")
        tf = str(p.get("timeframe", timeframe))
        out.append(Period(name, start, end, tf, p.get("confirms")))
    if wf is not None:
        out.extend(_walk_forward(wf, timeframe))
    names = [p.name for p in out]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise _fail("periods", f"the name {dup!r} is used twice; give each period its own name")
    for p in out:
        if p.confirms is not None and p.confirms not in names:
            raise _fail(f"periods.{p.name}.confirms", f"no period is named {p.confirms!r}; "
                        f"use one of {', '.join(names)}")
        if p.timeframe not in ("1d", "1h"):
            raise _fail(f"periods.{p.name}.timeframe", f"{p.timeframe!r}: use 1d or 1h")
    return out


def _walk_forward(wf: Any, timeframe: str) -> list[Period]:
    """``[walk_forward] start, end, choose_years, confirm_years, step_years`` → rolling
    choose/confirm pairs (each confirm span follows its choose span)."""
    if not isinstance(wf, Mapping):
        raise _fail("walk_forward", "must be a table with start, end, choose_years, "
                    "confirm_years")
    extra = set(wf) - {"start", "end", "choose_years", "confirm_years", "step_years",
                       "timeframe"}
    if extra:
        raise _fail(f"walk_forward.{sorted(extra)[0]}", "unknown field")
    start = _date(wf.get("start"), "walk_forward.start")
    end = _date(wf.get("end"), "walk_forward.end")
    if start is None or end is None:
        raise _fail("walk_forward", "start and end are required, e.g. start = \"2019-01-01\"")
    years_of: dict[str, float] = {}
    for key, default in (("choose_years", 2.0), ("confirm_years", 1.0), ("step_years", None)):
        raw = wf.get(key, years_of.get("confirm_years") if default is None else default)
        value = _real(raw, f"walk_forward.{key}", "2 (years)")
        if not 0 < value <= 100:
            raise _fail(f"walk_forward.{key}", f"must be > 0 and at most 100 years, got "
                        f"{_shown(raw)}")
        years_of[key] = value
    choose, confirm, step = (years_of["choose_years"], years_of["confirm_years"],
                             years_of["step_years"])
    tf = str(wf.get("timeframe", timeframe))
    s0, e = pd.Timestamp(start), pd.Timestamp(end)

    def years(x: float) -> pd.DateOffset:
        return pd.DateOffset(months=round(12 * x))

    out: list[Period] = []
    k = 0
    while True:
        cs = s0 + years(step * k)
        ce = cs + years(choose)
        fe = ce + years(confirm)
        if fe - pd.Timedelta(days=1) > e:
            break
        k += 1
        day = pd.Timedelta(days=1)
        ch = Period(f"wf{k} choose {cs.date()}..{(ce - day).date()}", str(cs.date()),
                    str((ce - day).date()), tf)
        co = Period(f"wf{k} confirm {ce.date()}..{(fe - day).date()}", str(ce.date()),
                    str((fe - day).date()), tf, confirms=ch.name)
        out += [ch, co]
    if not out:
        raise _fail("walk_forward", f"{start}..{end} is shorter than choose_years + "
                    "confirm_years; widen the span or shorten the windows")
    return out


def _random(data: Mapping[str, Any], seed: int) -> RandomPortfolios | None:
    count = _whole(data.get("random", 0), "portfolios.random", 0, _MAX_RANDOM, "random = 24")
    if count <= 0:
        return None
    universe = tuple(dict.fromkeys(str(c).strip().upper()
                                   for c in _as_list(data.get("universe", []),
                                                     "portfolios.universe")))
    coins = data.get("coins", 3)
    lo, hi = (coins, coins) if not isinstance(coins, list) else ((*tuple(coins), None))[:2]
    lo = _whole(lo, "portfolios.coins", 1, len(universe), "coins = [3, 5]")
    hi = _whole(hi if hi is not None else lo, "portfolios.coins", 1, len(universe),
                "coins = [3, 5]")
    if not 1 <= lo <= hi <= len(universe):
        raise _fail("portfolios.coins", f"[{lo}, {hi}] must satisfy 1 ≤ min ≤ max ≤ the "
                    f"{len(universe)} coins of the universe")
    weighting = str(data.get("weighting", "equal")).lower()
    if weighting not in ("equal", "random"):
        raise _fail("portfolios.weighting", f"{weighting!r}: use equal or random")
    value = _real(data.get("value_usd", 10_000.0), "portfolios.value_usd", "value_usd = 10000")
    if not 0 < value <= 1e15:
        raise _fail("portfolios.value_usd", f"must be > 0 USD and at most 1e15, got {value:g}")
    return RandomPortfolios(count, universe, lo, hi, weighting, value,
                            _whole(data.get("seed", seed), "portfolios.seed", 0, _MAX_SEED,
                                   "seed = 7"))


def parse_spec(data: Mapping[str, Any], base: Path | None = None) -> SweepSpec:
    """Validate a spec mapping; relative paths are taken from ``base`` (the spec's folder)."""
    base = base or Path.cwd()
    extra = set(data) - _TOP_KEYS
    if extra:
        raise _fail(sorted(extra)[0], "unknown field; check the spelling against "
                    "examples/sweep.toml")
    prices = str(data.get("prices", "bundled"))
    if prices != "bundled" and not Path(prices).is_absolute():
        prices = str((base / prices).resolve())
    timeframe = str(data.get("timeframe", "1d"))
    if timeframe not in ("1d", "1h"):
        raise _fail("timeframe", f"{timeframe!r}: use 1d or 1h")
    seed = _whole(data.get("seed", 0), "seed", 0, _MAX_SEED, "seed = 7")
    pdata = data.get("portfolios", {})
    if not isinstance(pdata, Mapping):
        raise _fail("portfolios", "must be a table with files and/or random")
    extra = set(pdata) - {"files", "random", "universe", "coins", "weighting", "value_usd",
                          "seed"}
    if extra:
        raise _fail(f"portfolios.{sorted(extra)[0]}", "unknown field; use files, random, "
                    "universe, coins, weighting, value_usd, seed")
    files: list[tuple[str, PortfolioConfig]] = []
    for f in pdata.get("files", []):
        path = Path(f) if Path(f).is_absolute() else base / f
        try:
            files.append((Path(f).stem, load_portfolio(path)))
        except ConfigError as err:
            raise _fail("portfolios.files", str(err)) from None
    rnd = _random(pdata, seed)
    if not files and rnd is None:
        raise _fail("portfolios", "no portfolio; list files = [\"p.toml\"] and/or draw "
                    "random = N from a universe")
    hedge = dict(data.get("hedge", {}))
    if rnd is not None:  # the [hedge] table of the random portfolios, validated once
        parse_portfolio({"holdings": [{"asset": rnd.universe[0], "amount": 1}],
                         "hedge": hedge}, source="sweep spec [hedge]")
    compared = compared_hedges(_as_list(data.get("policies", []), "policies"),
                               _as_list(data.get("triggers", ["always"]), "triggers"))
    settings = data.get("settings", {})
    if not isinstance(settings, Mapping):
        raise _fail("settings", "must be a table of backtest settings")
    grid: list[tuple[str, tuple[Any, ...]]] = []
    for key, value in settings.items():
        if key not in SETTING_KEYS:
            raise _fail(f"settings.{key}", f"unknown setting; use {', '.join(SETTING_KEYS)}")
        vals = _as_list(value, f"settings.{key}")
        if key == "keep_bars":  # one list of bars, not a grid axis
            vals = [tuple(str(v) for v in vals)]
        if len(set(map(repr, vals))) != len(vals):
            raise _fail(f"settings.{key}", "a value is listed twice")
        grid.append((key, tuple(vals)))
    summary = data.get("summary", {})
    spec = SweepSpec(
        name=str(data.get("name", "sweep")), prices=prices, files=tuple(files), random=rnd,
        hedge=hedge, compared=tuple(compared), grid=tuple(grid),
        periods=tuple(_periods(data, timeframe)), seed=seed,
        metric=str(summary.get("metric", "rank")),
        bootstrap=_whole(summary.get("bootstrap", 1000), "summary.bootstrap", 0, 100_000,
                         "bootstrap = 2000"),
        confidence=_real(summary.get("confidence", 0.95), "summary.confidence",
                         "confidence = 0.95"),
    )
    _check_grid(spec)
    return spec


def _check_grid(spec: SweepSpec) -> None:
    """Every settings combination and compared hedge parses (one line otherwise)."""
    if not 0.5 <= spec.confidence < 1:
        raise _fail("summary.confidence", f"must be in [0.5, 1), got {spec.confidence}")
    if not 0 <= spec.bootstrap <= 100_000:
        raise _fail("summary.bootstrap", f"resamples must be 0–100000, got {spec.bootstrap}")
    probe = spec.files[0][1] if spec.files else _random_portfolio(
        spec, "probe", ((spec.random.universe[0], 1.0),) if spec.random else ())
    for combo in spec.combos():
        for period in spec.periods:
            settings = _settings(combo, period)
            try:
                check_settings(settings, str(combo.get("exchange", probe.hedge.exchange)))
                parse_policy_list(list(spec.compared), window=settings.window,
                                  halflife=settings.halflife, portfolio=probe)
            except InputError as err:
                head, sep, rest = str(err).partition(":")
                key = head.strip().replace("-", "_")
                key = {"min_trade": "min_trade_usd", "collateral": "collateral_usd",
                       "basis": "basis_annual"}.get(key, key)
                if sep and key in SETTING_KEYS:  # the field as the spec spells it
                    raise _fail(f"settings.{key}", rest.strip()) from None
                raise InputError(f"sweep spec: {err}") from None
            if "exchange" in combo:
                try:
                    _with_exchange(probe, str(combo["exchange"])).hedge_instrument()
                except AlthedgeError as err:
                    raise _fail("settings.exchange", str(err)) from None
    if spec.metric not in METRIC_COLUMNS:
        raise _fail("summary.metric", f"{spec.metric!r} is not a sweep column; use rank, "
                    "score, hedge_effectiveness, kept_pct, max_drawdown_hedged_committed, …")


def _settings(combo: Mapping[str, Any], period: Period) -> BacktestSettings:
    kw = {k: v for k, v in combo.items() if k != "exchange"}
    if "keep_bars" in kw:
        kw["keep_bars"] = tuple(kw["keep_bars"])
    try:
        return BacktestSettings(start=period.start, end=period.end, timeframe=period.timeframe,
                                **kw)
    except TypeError as err:
        raise _fail("settings", str(err)) from None


def _with_exchange(pf: PortfolioConfig, exchange: str) -> PortfolioConfig:
    data = pf.model_dump(by_alias=True)
    data["hedge"]["exchange"] = exchange
    data["hedge"].pop("symbol", None)
    return parse_portfolio(data, source=f"{pf.name} (exchange={exchange})")


def _random_portfolio(
    spec: SweepSpec, name: str, weights: Sequence[tuple[str, float]]
) -> PortfolioConfig:
    return parse_portfolio({"name": name,
                            "holdings": [{"asset": a, "amount": w} for a, w in weights],
                            "hedge": dict(spec.hedge)}, source="sweep spec [hedge]")


def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate a sweep spec TOML file (paths in it are relative to the file)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such sweep spec; pass the path to a .toml file "
                         "(see examples/sweep.toml)")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"{p.name}: not valid TOML ({err})") from None
    try:
        return parse_spec(data, base=p.resolve().parent)
    except InputError as err:
        raise type(err)(str(err).replace("sweep spec:", f"{p.name}:", 1)) from None


def open_prices(prices: str) -> PriceSource:
    """The price source a spec names: ``bundled`` or a folder."""
    return bundled_source() if prices == "bundled" else open_source(prices)


def _draw(spec: SweepSpec) -> list[tuple[str, tuple[tuple[str, float], ...]]]:
    """The random portfolios: (name, ((coin, weight), …)), reproducible from the seed."""
    r = spec.random
    if r is None:
        return []
    rng = np.random.default_rng(r.seed)
    out = []
    width = len(str(r.count))
    for i in range(r.count):
        k = int(rng.integers(r.coins_min, r.coins_max + 1))
        coins = sorted(str(c) for c in rng.choice(list(r.universe), size=k, replace=False))
        w = (np.full(k, 1.0 / k) if r.weighting == "equal"
             else rng.dirichlet(np.ones(k)))
        out.append((f"random-{i + 1:0{width}d}",
                    tuple((c, float(x)) for c, x in zip(coins, w, strict=True))))
    return out


def _task_id(payload: Mapping[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def expand_tasks(spec: SweepSpec) -> list[SweepTask]:
    """Every task of the sweep, in a stable order: period, settings combination, portfolio."""
    portfolios: list[tuple[str, str, str, float]] = []  # name, kind, json, value
    for name, pf in spec.files:
        portfolios.append((name, "file", pf.model_dump_json(by_alias=True), 0.0))
    for name, weights in _draw(spec):
        pf = _random_portfolio(spec, name, weights)
        value = spec.random.value_usd if spec.random else 0.0
        portfolios.append((name, "random", pf.model_dump_json(by_alias=True), value))
    tasks = []
    for period in spec.periods:
        for c, combo in enumerate(spec.combos()):
            settings_json = json.dumps(combo, sort_keys=True, default=list)
            for name, kind, pjson, value in portfolios:
                payload = {"portfolio": pjson, "kind": kind, "value_usd": value,
                           "start": period.start, "end": period.end,
                           "timeframe": period.timeframe, "settings": settings_json,
                           "compared": list(spec.compared), "prices": spec.prices}
                tasks.append(SweepTask(
                    task_id=_task_id(payload), portfolio=name, kind=kind,
                    portfolio_json=pjson, value_usd=value, period=period.name,
                    start=period.start, end=period.end, timeframe=period.timeframe,
                    combo=c, combo_label=spec.combo_label(combo),
                    settings_json=settings_json, compared=spec.compared,
                    prices=spec.prices,
                ))
    return tasks


def check_against_source(spec: SweepSpec, source: PriceSource | None = None) -> None:
    """Refuse, before any task starts, coins the source does not have and periods in which
    the hedge assets have no prices (one line naming the coin or the period)."""
    source = source or open_prices(spec.prices)
    needs_eth = any(("multi" in c.lower() or "auto" in c.lower()) for c in spec.compared)
    for tf in sorted({p.timeframe for p in spec.periods}):
        try:
            have = set(source.symbols(tf))  # type: ignore[call-arg]
        except TypeError:
            have = set(source.symbols())
        wanted: dict[str, str] = {}
        for name, pf in spec.files:
            for h in pf.holdings:
                wanted.setdefault(h.asset, f"portfolios.files ({name})")
            for a in pf.hedge.assets:
                wanted.setdefault(a, f"portfolios.files ({name}) hedge")
        if spec.random is not None:
            for c in spec.random.universe:
                wanted.setdefault(c, "portfolios.universe")
        wanted.setdefault("BTC", "the hedge asset")
        if needs_eth:
            wanted.setdefault("ETH", "policies (multi/auto hedge with ETH too)")
        missing = [c for c in wanted if c not in have]
        if missing:
            c = missing[0]
            raise DataError(f"sweep spec: {wanted[c]}: no {tf} prices for {c} in "
                            f"{source.name}; add its file or remove the coin"
                            + (f" (also missing: {', '.join(missing[1:])})"
                               if len(missing) > 1 else ""))
        hedge = source.closes(["BTC"], timeframe=tf)["BTC"].dropna()
        for p in (q for q in spec.periods if q.timeframe == tf):
            lo = pd.Timestamp(p.start) if p.start else hedge.index[0]
            hi = pd.Timestamp(p.end) if p.end else hedge.index[-1]
            inside = hedge.loc[lo:hi]
            if len(inside) < 3:
                raise DataError(
                    f"sweep spec: periods.{p.name}: no {tf} BTC prices between "
                    f"{p.start or 'the start'} and {p.end or 'the end'} in {source.name} "
                    f"(they run {hedge.index[0].date()} → {hedge.index[-1].date()}); move "
                    "the period")
