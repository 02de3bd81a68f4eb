"""Hedge triggers: when to put the hedge on and when to take it off (pure, causal).

A trigger turns price (and funding) history up to bar ``t`` into an on/off state decided
at the close of ``t``; the backtest multiplies a sizing policy's hedge ratio by it, so
``"ols when trend:200"`` hedges at the rolling-OLS beta only while the trend trigger is
on. Every trigger is a small state machine with **hysteresis** (separate on and off
levels) and a **minimum holding time** (no switch sooner than ``hold`` days after the
last one), so it does not flap. The de-hedge rule mirrors the hedge rule ("correction
over"). Exact rules (windows in days, scaled by ``bars_per_day`` on hourly bars):

* ``trend:N[/B]`` — the hedge asset's close below its N-day simple moving average by
  more than B % (default 1): on; above it by more than B %: off.
* ``ptrend:N[/B]`` — the same on the portfolio's value.
* ``cross:F/S`` — the hedge asset's F-day average below its S-day average (a "death
  cross"): on; above it: off.
* ``drawdown:X[/Y]`` — the portfolio X % below its highest value since the hedge last
  came off (or since the start): on; the portfolio Y % (default X/2) above its lowest
  value since the hedge went on ("correction over"): off, and the high restarts there.
* ``vol:ON[/OFF]`` — the portfolio's realised volatility over 30 days (annualised, %)
  above ON: on; below OFF (default 0.8·ON): off.
* ``volratio:R`` — 10-day over 60-day realised volatility of the portfolio above R
  (volatility rising fast): on; below 1 (back to normal): off.
* ``funding:R`` — the hedge asset's 7-day mean funding rate at or above R basis points
  per 8 h (the market pays shorts; default 1 = 0.01 %): on; below R/2: off.
* ``backwardation[:R]`` — the 7-day mean funding at or below −R bp per 8 h (default 0;
  shorts pay longs, the perpetual trades under spot: a warning sign): on; back above
  0: off. (Funding is the only basis history in the data; see docs/backtest.md.)
* ``calendar:A..B[+C..D…]`` — on inside the listed UTC date windows (inclusive),
  e.g. ``calendar:2022-05-01..2022-06-30``; off outside. No hold (the user chose).

Triggers combine with ``or`` / ``and``: ``"trend:200 or drawdown:10"``; a trailing
``hold N`` sets the minimum holding time in days for every trigger of the expression
(default :data:`DEFAULT_HOLD_DAYS`). NaN inputs (warm-up) keep the state unchanged and
the state starts off. No look-ahead: row ``t`` uses rows ≤ t only (tested by changing
the future).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from althedge.errors import InputError

__all__ = [
    "DEFAULT_HOLD_DAYS",
    "TRIGGER_KINDS",
    "TriggerExpr",
    "TriggerInputs",
    "TriggerSpec",
    "TriggerState",
    "calendar_state",
    "cross_state",
    "drawdown_levels",
    "drawdown_state",
    "evaluate",
    "funding_state",
    "hysteresis",
    "parse_expression",
    "parse_trigger",
    "realised_vol",
    "trend_state",
    "vol_ratio_state",
    "vol_state",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

TRIGGER_KINDS = (
    "trend", "ptrend", "cross", "drawdown", "vol", "volratio", "funding", "backwardation",
    "calendar",
)
#: Minimum days between two switches of a trigger unless ``hold N`` says otherwise.
DEFAULT_HOLD_DAYS = 3
VOL_WINDOW_DAYS = 30
VOL_SHORT_DAYS, VOL_LONG_DAYS = 10, 60
FUNDING_MEAN_DAYS = 7


# ---------------------------------------------------------------------------- kernels
def hysteresis(on_signal: npt.ArrayLike, off_signal: npt.ArrayLike, min_hold: int = 0) -> BoolArray:
    """State machine: off at the start; turns on where ``on_signal`` is true, off where
    ``off_signal`` is true, never sooner than ``min_hold`` bars after the last switch.

    ``on_signal``/``off_signal`` (T,) booleans (a NaN-derived False keeps the state).
    Where both are true the state is kept. Returns the state after bar ``t`` (T,).
    """
    on = np.asarray(on_signal, dtype=bool)
    off = np.asarray(off_signal, dtype=bool)
    if on.shape != off.shape or on.ndim != 1:
        raise InputError(f"signals: on and off must be 1-D and the same length, got "
                         f"{on.shape} and {off.shape}")
    if min_hold < 0:
        raise InputError(f"hold: must be ≥ 0 bars, got {min_hold}")
    out = np.zeros(on.size, dtype=bool)
    state = False
    last = -(10**12)
    for t in range(on.size):
        if t - last >= min_hold:
            if not state and on[t] and not off[t]:
                state, last = True, t
            elif state and off[t] and not on[t]:
                state, last = False, t
        out[t] = state
    return out


def _sma(x: FloatArray, window: int) -> FloatArray:
    """Trailing simple mean over ``window`` rows (NaN until full or with a NaN inside)."""
    c = np.cumsum(np.where(np.isfinite(x), x, 0.0))
    bad = np.cumsum(~np.isfinite(x))
    out = np.full(x.size, np.nan)
    if window < 1 or x.size < window:
        return out
    s = c[window - 1:] - np.r_[0.0, c[:-window]]
    nb = bad[window - 1:] - np.r_[0, bad[:-window]]
    out[window - 1:] = np.where(nb == 0, s / window, np.nan)
    return out


def trend_state(price: npt.ArrayLike, window: int, band: float = 0.01,
                min_hold: int = 0) -> BoolArray:
    """On when ``price < SMA_window·(1 − band)``, off when ``price > SMA_window·(1 + band)``."""
    p = np.asarray(price, dtype=float)
    ma = _sma(p, int(window))
    with np.errstate(invalid="ignore"):
        return hysteresis(p < ma * (1 - band), p > ma * (1 + band), min_hold)


def cross_state(price: npt.ArrayLike, fast: int, slow: int, min_hold: int = 0) -> BoolArray:
    """On when the ``fast``-bar SMA is below the ``slow``-bar SMA, off when above."""
    p = np.asarray(price, dtype=float)
    f, s = _sma(p, int(fast)), _sma(p, int(slow))
    with np.errstate(invalid="ignore"):
        return hysteresis(f < s, f > s, min_hold)


def drawdown_state(value: npt.ArrayLike, enter: float, exit_rebound: float,
                   min_hold: int = 0) -> BoolArray:
    """On when ``value ≤ high·(1 − enter)``, ``high`` the highest value since the state
    last turned off (or the start); off when ``value ≥ low·(1 + exit_rebound)``, ``low``
    the lowest value since it turned on; the high restarts at the value where it turns off.
    Fractions (0.10 = 10 %)."""
    return drawdown_levels(value, enter, exit_rebound, min_hold)[0]


def drawdown_levels(value: npt.ArrayLike, enter: float, exit_rebound: float,
                    min_hold: int = 0) -> tuple[BoolArray, FloatArray, FloatArray]:
    """:func:`drawdown_state` with its reference levels after each bar: (state, high, low);
    ``high`` is the running high while off, ``low`` the running low while on (else NaN)."""
    v = np.asarray(value, dtype=float)
    out = np.zeros(v.size, dtype=bool)
    highs = np.full(v.size, np.nan)
    lows = np.full(v.size, np.nan)
    state = False
    high = low = math.nan
    last = -(10**12)
    for t, x in enumerate(v):
        if math.isfinite(x):
            if state:
                low = x if not math.isfinite(low) else min(low, x)
                if t - last >= min_hold and x >= low * (1 + exit_rebound):
                    state, last, high = False, t, x
            else:
                high = x if not math.isfinite(high) else max(high, x)
                if t - last >= min_hold and x <= high * (1 - enter):
                    state, last, low = True, t, x
        out[t] = state
        if state:
            lows[t] = low
        else:
            highs[t] = high
    return out, highs, lows


def realised_vol(returns: npt.ArrayLike, window: int, periods_per_year: float) -> FloatArray:
    """Trailing sample standard deviation (ddof 1) of ``window`` returns × √periods_per_year."""
    r = np.asarray(returns, dtype=float)
    m = _sma(r, window)
    m2 = _sma(r * r, window)
    with np.errstate(invalid="ignore"):
        var = np.maximum(m2 - m * m, 0.0) * window / max(window - 1, 1)
    return np.sqrt(var * periods_per_year)


def vol_state(returns: npt.ArrayLike, window: int, on_level: float, off_level: float,
              periods_per_year: float, min_hold: int = 0) -> BoolArray:
    """On when the annualised realised vol is above ``on_level``, off below ``off_level``."""
    vol = realised_vol(returns, window, periods_per_year)
    with np.errstate(invalid="ignore"):
        return hysteresis(vol > on_level, vol < off_level, min_hold)


def vol_ratio_state(returns: npt.ArrayLike, short: int, long: int, on_ratio: float,
                    off_ratio: float = 1.0, min_hold: int = 0) -> BoolArray:
    """On when vol(short)/vol(long) is above ``on_ratio``, off below ``off_ratio``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = realised_vol(returns, short, 1.0) / realised_vol(returns, long, 1.0)
        return hysteresis(ratio > on_ratio, ratio < off_ratio, min_hold)


def funding_state(rate_8h: npt.ArrayLike, window: int, on_rate: float, off_rate: float,
                  *, below: bool = False, min_hold: int = 0) -> BoolArray:
    """On when the ``window``-bar mean funding rate (per 8 h) is ≥ ``on_rate`` (or, with
    ``below``, ≤ ``on_rate``); off when it is < ``off_rate`` (with ``below``: > ``off_rate``)."""
    m = _sma(np.asarray(rate_8h, dtype=float), window)
    with np.errstate(invalid="ignore"):
        if below:
            return hysteresis(m <= on_rate, m > off_rate, min_hold)
        return hysteresis(m >= on_rate, m < off_rate, min_hold)


def calendar_state(index: pd.DatetimeIndex,
                   windows: Sequence[tuple[pd.Timestamp, pd.Timestamp]]) -> BoolArray:
    """On for bars whose UTC date falls inside any (first, last) window (dates inclusive)."""
    idx = pd.DatetimeIndex(index)
    if idx.tz is not None:
        idx = idx.tz_convert("UTC").tz_localize(None)
    day = idx.normalize()
    out = np.zeros(len(idx), dtype=bool)
    for a, b in windows:
        out |= np.asarray((day >= a) & (day <= b), dtype=bool)
    return out


# ----------------------------------------------------------------------------- specs
@dataclass(frozen=True)
class TriggerSpec:
    """One parsed trigger: ``kind`` and its parameters (days, fractions, rates)."""

    name: str  # canonical, e.g. "trend:200/1"
    kind: str
    a: float = 0.0
    b: float = 0.0
    windows: tuple[tuple[pd.Timestamp, pd.Timestamp], ...] = ()

    @property
    def warmup_days(self) -> int:
        """Days of history before the trigger can be on."""
        return {
            "trend": int(self.a), "ptrend": int(self.a), "cross": int(max(self.a, self.b)),
            "vol": VOL_WINDOW_DAYS, "volratio": VOL_LONG_DAYS, "funding": FUNDING_MEAN_DAYS,
            "backwardation": FUNDING_MEAN_DAYS,
        }.get(self.kind, 0)


@dataclass(frozen=True)
class TriggerExpr:
    """Triggers joined by ``or``/``and``, with a minimum holding time in days."""

    name: str
    parts: tuple[TriggerSpec, ...]
    op: str = "or"
    hold_days: float = DEFAULT_HOLD_DAYS

    @property
    def needs_funding(self) -> bool:
        return any(p.kind in ("funding", "backwardation") for p in self.parts)


@dataclass(frozen=True)
class TriggerInputs:
    """What triggers read, one row per bar (rows ≤ t decide bar t).

    ``hedge_price_usd``: close of the hedge asset; ``portfolio_value_usd``: the holdings'
    value; ``funding_rate_8h``: the hedge asset's funding rate per 8 h in force at the bar
    (NaN where unknown); ``bars_per_day``: 1 daily, 24 hourly.
    """

    index: pd.DatetimeIndex
    hedge_price_usd: FloatArray
    portfolio_value_usd: FloatArray
    funding_rate_8h: FloatArray | None = None
    bars_per_day: float = 1.0


@dataclass(frozen=True)
class TriggerState:
    """Per-trigger and combined on/off states (T,) and, for the last bar, why."""

    on: BoolArray
    parts: dict[str, BoolArray] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)

    @property
    def switches(self) -> int:
        """Number of on/off changes of the combined state."""
        return int(np.count_nonzero(self.on[1:] != self.on[:-1])) + int(bool(self.on[:1].any()))


def _num(text: str, spec: str, example: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise InputError(f"trigger {spec!r}: {text!r} is not a number; e.g. {example}") from None
    if not (math.isfinite(x) and x >= 0):
        raise InputError(f"trigger {spec!r}: {text!r} must be a number ≥ 0; e.g. {example}")
    return x


def _date(text: str, spec: str) -> pd.Timestamp:
    try:
        return pd.Timestamp(text.strip()).normalize()
    except ValueError:
        raise InputError(f"trigger {spec!r}: {text!r} is not a date; use "
                         "calendar:YYYY-MM-DD..YYYY-MM-DD") from None


_EXAMPLES = {
    "trend": "trend:200", "ptrend": "ptrend:100", "cross": "cross:50/200",
    "drawdown": "drawdown:10/5", "vol": "vol:80/60", "volratio": "volratio:1.5",
    "funding": "funding:1", "backwardation": "backwardation", "calendar":
    "calendar:2022-05-01..2022-06-30",
}


def parse_trigger(text: str) -> TriggerSpec:
    """Parse one trigger (``trend:200``, ``drawdown:10/5``, …; see the module docstring)."""
    spec = str(text).strip().lower()
    kind, _, arg = spec.partition(":")
    kind = {"ma": "trend", "dd": "drawdown", "volatility": "vol", "basis": "backwardation",
            "window": "calendar", "dates": "calendar"}.get(kind, kind)
    if kind not in TRIGGER_KINDS:
        raise InputError(f"trigger: unknown trigger {text!r}; use one of "
                         f"{', '.join(_EXAMPLES.values())}")
    ex = _EXAMPLES[kind]
    first, _, second = arg.partition("/")
    if kind == "calendar":
        windows = []
        for part in filter(None, (p.strip() for p in arg.split("+"))):
            lo, sep, hi = part.partition("..")
            if not sep:
                raise InputError(f"trigger {text!r}: a window is FIRST..LAST; e.g. {ex}")
            a, b = _date(lo, text), _date(hi, text)
            if b < a:
                raise InputError(f"trigger {text!r}: window {part!r} ends before it starts; "
                                 f"swap the dates, e.g. {ex}")
            windows.append((a, b))
        if not windows:
            raise InputError(f"trigger {text!r}: give at least one window; e.g. {ex}")
        name = "calendar:" + "+".join(f"{a.date()}..{b.date()}" for a, b in windows)
        return TriggerSpec(name, kind, windows=tuple(windows))
    if kind in ("trend", "ptrend"):
        n = _num(first, text, ex) if first else 200.0
        band = _num(second, text, ex) if second else 1.0
        if n < 2 or n != int(n):
            raise InputError(f"trigger {text!r}: the average needs a whole number ≥ 2 of "
                             f"days; e.g. {ex}")
        return TriggerSpec(f"{kind}:{int(n)}/{band:g}", kind, n, band / 100.0)
    if kind == "cross":
        f = _num(first, text, ex) if first else 50.0
        s = _num(second, text, ex) if second else 200.0
        if not (2 <= f < s) or f != int(f) or s != int(s):
            raise InputError(f"trigger {text!r}: needs whole days FAST < SLOW; e.g. {ex}")
        return TriggerSpec(f"cross:{int(f)}/{int(s)}", kind, f, s)
    if kind == "drawdown":
        x = _num(first, text, ex) if first else 10.0
        y = _num(second, text, ex) if second else x / 2
        if not (0 < x < 100 and 0 < y < 1000):
            raise InputError(f"trigger {text!r}: the drawdown is a percent in (0, 100) and "
                             f"the rebound > 0; e.g. {ex}")
        return TriggerSpec(f"drawdown:{x:g}/{y:g}", kind, x / 100.0, y / 100.0)
    if kind == "vol":
        on = _num(first, text, ex) if first else 80.0
        off = _num(second, text, ex) if second else 0.8 * on
        if not (on > 0 and off <= on):
            raise InputError(f"trigger {text!r}: needs ON > 0 and OFF ≤ ON (annualised %); "
                             f"e.g. {ex}")
        return TriggerSpec(f"vol:{on:g}/{off:g}", kind, on / 100.0, off / 100.0)
    if kind == "volratio":
        r = _num(first, text, ex) if first else 1.5
        if not r > 1:
            raise InputError(f"trigger {text!r}: the ratio must be > 1; e.g. {ex}")
        return TriggerSpec(f"volratio:{r:g}", kind, r, 1.0)
    if kind == "funding":
        r = _num(first, text, ex) if first else 1.0
        return TriggerSpec(f"funding:{r:g}", kind, r / 1e4, r / 2e4)
    r = _num(first, text, ex) if first else 0.0  # backwardation
    return TriggerSpec(f"backwardation:{r:g}", kind, -r / 1e4, 0.0)


_HOLD = re.compile(r"\s+hold\s+([0-9.]+)\s*$")


def parse_expression(text: str) -> TriggerExpr:
    """``"trend:200 or drawdown:10/5 hold 7"`` → a :class:`TriggerExpr`."""
    raw = str(text).strip().lower()
    hold = float(DEFAULT_HOLD_DAYS)
    m = _HOLD.search(" " + raw)
    if m:
        hold = _num(m.group(1), text, "trend:200 hold 5")
        raw = (" " + raw)[: m.start()].strip()
    words = raw.split()
    ops = {w for w in words if w in ("or", "and")}
    if len(ops) > 1:
        raise InputError(f"trigger {text!r}: use either 'or' or 'and' in one expression, "
                         "not both; e.g. 'trend:200 or drawdown:10'")
    op = ops.pop() if ops else "or"
    items = [w for w in words if w not in ("or", "and")]
    if not items:
        raise InputError(f"trigger {text!r}: nothing after 'when'; e.g. 'ols when trend:200'")
    parts = tuple(parse_trigger(w) for w in items)
    name = f" {op} ".join(p.name for p in parts)
    if hold != DEFAULT_HOLD_DAYS:
        name += f" hold {hold:g}"
    return TriggerExpr(name, parts, op, hold)


# ------------------------------------------------------------------------- evaluate
def _simple_returns(v: FloatArray) -> FloatArray:
    with np.errstate(invalid="ignore", divide="ignore"):
        out: FloatArray = np.r_[np.nan, v[1:] / v[:-1] - 1.0]
    return out


def _one(spec: TriggerSpec, x: TriggerInputs, hold: int) -> tuple[BoolArray, str]:
    bpd = x.bars_per_day

    def days(d: float) -> int:
        return max(2, round(d * bpd))

    ppy = 365.0 * bpd
    p = np.asarray(x.hedge_price_usd, dtype=float)
    v = np.asarray(x.portfolio_value_usd, dtype=float)
    k = spec.kind
    if k in ("trend", "ptrend"):
        series = p if k == "trend" else v
        w = days(spec.a)
        st = trend_state(series, w, spec.b, hold)
        ma = _sma(series, w)[-1]
        what = "hedge asset" if k == "trend" else "portfolio"
        why = (f"{what} {series[-1]:,.0f} is {100 * (series[-1] / ma - 1):+.1f} % from its "
               f"{spec.a:g}-day average {ma:,.0f} (on below −{100 * spec.b:g} %, off above "
               f"+{100 * spec.b:g} %)") if math.isfinite(ma) else "not enough history"
        return st, why
    if k == "cross":
        f, s = days(spec.a), days(spec.b)
        st = cross_state(p, f, s, hold)
        mf, ms = _sma(p, f)[-1], _sma(p, s)[-1]
        why = (f"{spec.a:g}-day average {mf:,.0f} vs {spec.b:g}-day {ms:,.0f} (on when "
               "the fast is below the slow)") if math.isfinite(ms) else "not enough history"
        return st, why
    if k == "drawdown":
        st, highs, lows = drawdown_levels(v, spec.a, spec.b, hold)
        rule = f"on at −{100 * spec.a:g} %, off after a +{100 * spec.b:g} % rebound"
        if st[-1]:
            why = (f"portfolio {v[-1]:,.0f} is {100 * (v[-1] / lows[-1] - 1):+.1f} % above "
                   f"its low {lows[-1]:,.0f} since the trigger went on ({rule})")
        else:
            why = (f"portfolio {v[-1]:,.0f} is {100 * (v[-1] / highs[-1] - 1):+.1f} % from "
                   f"its high {highs[-1]:,.0f} since the trigger last came off ({rule})")
        return st, why
    r = _simple_returns(v)
    if k == "vol":
        w = days(VOL_WINDOW_DAYS)
        st = vol_state(r, w, spec.a, spec.b, ppy, hold)
        vol = realised_vol(r, w, ppy)[-1]
        return st, (f"portfolio 30-day volatility {100 * vol:.0f} % a year (on above "
                    f"{100 * spec.a:g} %, off below {100 * spec.b:g} %)")
    if k == "volratio":
        st = vol_ratio_state(r, days(VOL_SHORT_DAYS), days(VOL_LONG_DAYS), spec.a, spec.b,
                             hold)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = (realised_vol(r, days(VOL_SHORT_DAYS), 1.0)[-1]
                     / realised_vol(r, days(VOL_LONG_DAYS), 1.0)[-1])
        return st, (f"10-day / 60-day volatility {ratio:.2f} (on above {spec.a:g}, off "
                    f"below {spec.b:g})")
    if k in ("funding", "backwardation"):
        rate = (np.full(p.size, np.nan) if x.funding_rate_8h is None
                else np.asarray(x.funding_rate_8h, dtype=float))
        w = days(FUNDING_MEAN_DAYS)
        st = funding_state(rate, w, spec.a, spec.b, below=k == "backwardation", min_hold=hold)
        mean = _sma(rate, w)[-1]
        if not math.isfinite(mean):
            return st, "no funding history for the last 7 days"
        rule = (f"on at ≥ {1e4 * spec.a:g} bp, off below {1e4 * spec.b:g} bp"
                if k == "funding" else f"on at ≤ {1e4 * spec.a:g} bp, off above 0 bp")
        return st, f"7-day mean funding {1e4 * mean:+.2f} bp per 8 h ({rule})"
    if k == "calendar":
        st = calendar_state(x.index, spec.windows)
        return st, "inside a hedge window" if st[-1:].any() else "outside every hedge window"
    raise InputError(f"trigger: unsupported kind {k!r}")  # pragma: no cover


def evaluate(expr: TriggerExpr, inputs: TriggerInputs) -> TriggerState:
    """On/off state of every trigger in ``expr`` and of the expression, bar by bar."""
    n = len(inputs.index)
    for name, arr in (("hedge_price_usd", inputs.hedge_price_usd),
                      ("portfolio_value_usd", inputs.portfolio_value_usd)):
        if np.asarray(arr).shape != (n,):
            raise InputError(f"{name}: expected {n} values, one per bar")
    hold = max(0, round(expr.hold_days * inputs.bars_per_day))
    parts: dict[str, BoolArray] = {}
    reasons: dict[str, str] = {}
    for spec in expr.parts:
        st, why = _one(spec, inputs, 0 if spec.kind == "calendar" else hold)
        parts[spec.name] = st
        reasons[spec.name] = why
    stack = np.vstack(list(parts.values()))
    on = stack.all(axis=0) if expr.op == "and" else stack.any(axis=0)
    return TriggerState(on=np.asarray(on, dtype=bool), parts=parts, reasons=reasons)
