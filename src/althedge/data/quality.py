"""Data-quality checks: find the defects of real price series before a beta is computed from them.

Each :class:`Finding` names the symbol, a severity, a kind, the first timestamp concerned and a
plain explanation. Severity ``error`` means the series is unusable as it is (the plan and the
backtest refuse it, or exclude it when told to); ``warning`` is shown and the user decides.

Kinds and rules (``r`` is the log return between consecutive valid closes; thresholds are for
daily bars, and those marked † scale with √(bar length / 1 day) for other timeframes):

================== ========= =======================================================================
kind               severity  rule
================== ========= =======================================================================
unparseable        error     a row whose time or close cannot be read (the file is damaged)
duplicate_timestamp error    the same time twice with different closes (warning if identical)
unordered          warning   rows out of time order (they are sorted before use)
non_positive_price error     close <= 0: a price rounded to zero or a placeholder
missing_price      warning   empty close on a row that exists (error when every close is empty)
off_grid           warning   bars not on the timeframe's grid (e.g. a daily bar at 13:00)
gap                warning   missing bars inside the series; returns across a gap span several bars
stale              warning   the same close >= 5 bars in a row (error from 10 bars): no trading or a
                             frozen feed; hourly: 12 / 48 bars
coarse_prices      warning   >= 20 % of returns are exactly zero: prices are rounded so coarsely
                             that returns are quantised (e.g. SHIB quoted to 1e-6 USD)
spike              error     |r| >= max(ln 3 †, 30 σ) and the next bar reverts it (r_t + r_t+1
                             within 25 % of |r_t|): a bad print; warning from max(ln 2 †, 20 σ),
                             and only a warning when the market (BTC) moved ≥ 5 σ_BTC the same
                             way in that bar
level_shift        error     |r| >= ln 10 in one bar without reverting: no real market does that;
                             the ticker probably switched to another coin (UNI, TON in shared data)
extreme_move       warning   |r| >= max(ln 2 †, 20 σ) (e.g. a doubling or halving in one daily bar)
================== ========= =======================================================================

σ is the series' own robust volatility at its timeframe: 1.4826 × the median absolute deviation
of its log returns (a bad print does not move it), from at least 100 returns (fewer: the
√-scaled thresholds alone). A wild coin at hourly bars (σ ≈ 0.8 % for
SOL or AVAX on Binance) gets thresholds above the √-scaled daily ones; a calm one keeps those.

Market cross-check: :func:`check_closes` compares a suspected spike with the hedge asset's
(``market``, BTC by default) log return over the same bar. On 2022-05-11 12:00 UTC (the Terra
collapse) SOL, AVAX, DOT fell 19–26 % in one hour and came back the next while BTC fell 7 %
(≈ 20 σ_BTC): a market-wide move, reported as a warning, not refused.

Keeping a flagged bar: a user who knows a bar is genuine names it ``KIND@TIME`` or
``SYMBOL:KIND@TIME`` (``--keep-bar``, or ``keep_bars`` in the portfolio file's ``[hedge]``);
:func:`keep_bars` turns the matching error findings into warnings that say they were kept.

The numbers are rules of thumb chosen on the shared data (``/work/shared/data``): BTC's worst
day (2020-03-12, −37 %, r = −0.47) and DOGE's 2021-01-28 rally (×4.6) stay below the error
thresholds; UNI-USD (a different coin at ~0.0002 USD except for three days in October 2022),
TON-USD (alternating between two coins in January 2025) and SHIB-USD (217 days at 0.0 USD,
prices rounded to 1e-6) are refused.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

from althedge.errors import DataQualityError, InputError

ERROR = "error"
WARNING = "warning"

KINDS = (
    "unparseable", "duplicate_timestamp", "unordered", "non_positive_price", "missing_price",
    "off_grid", "gap", "stale", "coarse_prices", "spike", "level_shift", "extreme_move",
)

_DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class Finding:
    """One defect of one series.

    ``timestamp`` is the first bar concerned (ISO date for daily bars, ISO date-time otherwise)
    or None when the defect has no time (e.g. an unreadable time cell).
    """

    symbol: str
    severity: str  # "error" | "warning"
    kind: str
    timestamp: str | None
    detail: str

    def to_dict(self) -> dict[str, str | None]:
        """The JSON form used by ``althedge data check --json``."""
        return asdict(self)

    @property
    def where(self) -> str:
        """``" at 2024-08-05"``, or ``""`` when the defect has no time (never "at None")."""
        return f" at {self.timestamp}" if self.timestamp else ""

    def __str__(self) -> str:
        return f"{self.symbol}: {self.severity} {self.kind}{self.where}: {self.detail}"


@dataclass(frozen=True)
class Thresholds:
    """Rule-of-thumb limits for daily bars (see the module docstring)."""

    extreme_log_return: float = math.log(2.0)
    spike_error_log_return: float = math.log(3.0)
    spike_revert_fraction: float = 0.25
    level_shift_log_return: float = math.log(10.0)
    stale_warning_bars_daily: int = 5
    stale_error_bars_daily: int = 10
    stale_warning_bars_intraday: int = 12
    stale_error_bars_intraday: int = 48
    coarse_zero_return_share: float = 0.20
    extreme_sigmas: float = 20.0
    spike_error_sigmas: float = 30.0
    market_sigmas: float = 5.0
    sigma_min_returns: int = 100


DEFAULT_THRESHOLDS = Thresholds()


def _fmt(ts: pd.Timestamp | None) -> str | None:
    if ts is None or pd.isna(ts):
        return None
    ts = pd.Timestamp(ts)
    if ts == ts.normalize():
        return ts.date().isoformat()
    return ts.isoformat()


def _fmt_price(x: float) -> str:
    return f"{x:.6g}"


def infer_bar(index: pd.DatetimeIndex) -> pd.Timedelta:
    """The bar length of a series: the median spacing, snapped to 1 h or 1 d when close."""
    idx = index[index.notna()].as_unit("ns").sort_values().unique()
    if len(idx) < 2:
        return _DAY
    med = pd.Timedelta(np.median(np.diff(idx.asi8)), unit="ns")
    for bar in (pd.Timedelta(hours=1), pd.Timedelta(hours=4), pd.Timedelta(hours=8), _DAY):
        if abs(med - bar) <= bar * 0.1:
            return bar
    return med


def _as_frame(frame: pd.DataFrame | pd.Series) -> tuple[pd.Series, pd.Series]:
    """Return (close, parse_error) from a Series or an OHLCV frame."""
    if isinstance(frame, pd.Series):
        close = frame.astype(float)
        errors = pd.Series("", index=frame.index, dtype=object)
        return close, errors
    cols = {str(c).lower(): c for c in frame.columns}
    if "close" in cols:
        close = frame[cols["close"]]
    elif len([c for c in frame.columns if c != "parse_error"]) == 1:
        close = frame[next(c for c in frame.columns if c != "parse_error")]
    else:
        raise DataQualityError("check: the frame has no 'close' column; pass closes or OHLCV")
    errors = frame["parse_error"] if "parse_error" in frame.columns else pd.Series(
        "", index=frame.index, dtype=object)
    return pd.to_numeric(close, errors="coerce").astype(float), errors.fillna("").astype(str)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of runs of True in a boolean array."""
    out: list[tuple[int, int]] = []
    start = -1
    for i, v in enumerate(mask):
        if v and start < 0:
            start = i
        elif not v and start >= 0:
            out.append((start, i - start))
            start = -1
    if start >= 0:
        out.append((start, len(mask) - start))
    return out


def robust_sigma(log_returns: np.ndarray) -> float:
    """1.4826 × median absolute deviation of the finite log returns (0.0 when fewer than 3)."""
    r = np.asarray(log_returns, dtype=float)
    r = r[np.isfinite(r)]
    if r.size < 3:
        return 0.0
    return float(1.4826 * np.median(np.abs(r - np.median(r))))


def check_series(symbol: str, frame: pd.DataFrame | pd.Series, *, timeframe: str | None = None,
                 thresholds: Thresholds = DEFAULT_THRESHOLDS,
                 market: pd.Series | None = None, market_name: str = "BTC") -> list[Finding]:
    """Check one price series (a raw frame from :func:`althedge.data.files.read_ohlcv`, an OHLCV
    frame or a Series of closes) and return its findings, errors first.

    ``timeframe`` ("1d"/"1h") fixes the grid; by default it is inferred from the spacing.
    ``market`` (closes of the hedge asset, e.g. BTC, on any index): a suspected spike in a bar
    where the market moved the same way by ≥ ``market_sigmas`` of its own σ is a warning.
    """
    th = thresholds
    out: list[Finding] = []

    def add(sev: str, kind: str, ts: pd.Timestamp | None, detail: str) -> None:
        out.append(Finding(symbol, sev, kind, _fmt(ts), detail))

    close, perr = _as_frame(frame)
    index = pd.DatetimeIndex(close.index).as_unit("ns")
    n_rows = len(close)
    if n_rows == 0:
        add(ERROR, "missing_price", None, "the series is empty: there is no price at all")
        return out

    # 1. unreadable rows -------------------------------------------------------------------------
    bad = np.asarray(index.isna()) | (perr.to_numpy() != "")
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        first_ts = None if pd.isna(index[pos]) else index[pos]
        reason = perr.iloc[pos] or "time is not a date"
        add(ERROR, "unparseable", first_ts,
            f"{int(bad.sum())} row(s) could not be read (first: data row {pos + 1}, {reason}); "
            "the file is damaged: fix or re-export it")
    ok = ~bad
    close, index = close[ok], index[ok]
    close.index = index

    # 2. order and duplicates (file order) -------------------------------------------------------
    if len(index) > 1:
        backwards = np.diff(index.asi8) < 0
        if backwards.any():
            pos = int(np.flatnonzero(backwards)[0]) + 1
            add(WARNING, "unordered", index[pos],
                f"{int(backwards.sum())} row(s) are out of time order; they are sorted before use")
    dup = index.duplicated(keep=False)
    if dup.any():
        groups = close[dup].groupby(level=0).nunique(dropna=False)
        conflicting = groups[groups > 1]
        if len(conflicting):
            first = conflicting.index[0]
            add(ERROR, "duplicate_timestamp", conflicting.index[0],
                f"{len(conflicting)} timestamp(s) appear twice with different closes "
                f"(first: {', '.join(_fmt_price(v) for v in close[close.index == first])}); "
                "which one is right is unknown")
        else:
            add(WARNING, "duplicate_timestamp", groups.index[0],
                f"{len(groups)} timestamp(s) appear twice with the same close; "
                "duplicates are dropped")
    close = close[~close.index.duplicated(keep="last")].sort_index()
    index = pd.DatetimeIndex(close.index).as_unit("ns")

    # 3. prices ---------------------------------------------------------------------------------
    missing = close.isna()
    if missing.all():
        add(ERROR, "missing_price", index[0] if len(index) else None,
            "every close is empty: there is no price to use")
        return _sorted(out)
    if missing.any():
        add(WARNING, "missing_price", index[np.flatnonzero(missing.to_numpy())[0]],
            f"{int(missing.sum())} bar(s) have an empty close; they are treated as gaps")
    nonpos = (close <= 0) & ~missing
    if nonpos.any():
        where = np.flatnonzero(nonpos.to_numpy())
        p0 = int(where[0])
        add(ERROR, "non_positive_price", index[p0],
            f"{len(where)} bar(s) have a zero or negative close "
            f"(first {_fmt_price(close.iloc[p0])} USD on {_fmt(index[p0])}): "
            "a price rounded to zero or a placeholder; "
            "returns through it are infinite")

    # 4. grid -----------------------------------------------------------------------------------
    bar = _bar_of(timeframe) or infer_bar(index)
    scale = math.sqrt(bar / _DAY)
    if len(index) > 1:
        origin = index[0].normalize()
        off = ((index - origin) % bar) != pd.Timedelta(0)
        if off.any():
            add(WARNING, "off_grid", index[np.flatnonzero(off)[0]],
                f"{int(off.sum())} bar(s) are not on the {_bar_name(bar)} grid")
        steps = np.diff(index.asi8) / bar.value
        gap_pos = np.flatnonzero(steps > 1.5)
        if len(gap_pos):
            missing_bars = int(np.round(steps[gap_pos] - 1).sum())
            longest = int(gap_pos[np.argmax(steps[gap_pos])])
            add(WARNING, "gap", index[gap_pos[0]] + bar,
                f"{missing_bars} {_bar_name(bar)} bar(s) missing in {len(gap_pos)} gap(s); longest "
                f"from {_fmt(index[longest] + bar)} to {_fmt(index[longest + 1] - bar)} "
                f"({round(steps[longest] - 1)} bars); returns across a gap span several bars")

    valid = close[(close > 0) & close.notna()]
    values = valid.to_numpy(dtype=float)
    vindex = pd.DatetimeIndex(valid.index)

    # 5. stale runs and coarse prices -----------------------------------------------------------
    intraday = bar < _DAY
    warn_bars = th.stale_warning_bars_intraday if intraday else th.stale_warning_bars_daily
    err_bars = th.stale_error_bars_intraday if intraday else th.stale_error_bars_daily
    if len(values) > 1:
        same = np.diff(values) == 0
        runs = [(s, n + 1) for s, n in _runs(same) if n + 1 >= warn_bars]
        if runs:
            worst = max(runs, key=lambda r: r[1])
            sev = ERROR if worst[1] >= err_bars else WARNING
            add(sev, "stale", vindex[runs[0][0]],
                f"{len(runs)} run(s) of >= {warn_bars} identical closes; longest {worst[1]} bars "
                f"at {_fmt_price(values[worst[0]])} USD from {_fmt(vindex[worst[0]])}: no trading, "
                "a frozen feed or a delisted coin")
        share = float(same.mean())
        if share >= th.coarse_zero_return_share and len(values) >= 20:
            add(WARNING, "coarse_prices", vindex[0],
                f"{share:.0%} of returns are exactly zero: prices are rounded too coarsely "
                f"(e.g. {_fmt_price(values[-1])} USD) and returns are quantised")

    # 6. jumps ----------------------------------------------------------------------------------
    if len(values) > 2:
        r = np.diff(np.log(values))
        # σ needs enough bars to be the series' own: a short window (e.g. two days of a
        # crash) would otherwise raise the thresholds with its own wildness
        sigma = robust_sigma(r) if len(r) >= th.sigma_min_returns else 0.0
        extreme = max(th.extreme_log_return * scale, th.extreme_sigmas * sigma)
        spike_err = max(th.spike_error_log_return * scale, th.spike_error_sigmas * sigma)
        m_move = _market_moves(market, vindex)
        own = _market_moves(market, None)
        m_sigma = robust_sigma(own) if own is not None else 0.0
        reverted = np.zeros(len(r), dtype=bool)
        for i in range(len(r) - 1):
            a, b = r[i], r[i + 1]
            if abs(a) >= extreme and a * b < 0 and abs(a + b) <= th.spike_revert_fraction * abs(a):
                reverted[i] = reverted[i + 1] = True
                mm = float(m_move[i]) if m_move is not None else math.nan
                wide = (math.isfinite(mm) and mm * a > 0 and m_sigma > 0
                        and abs(mm) >= th.market_sigmas * m_sigma)
                sev = ERROR if abs(a) >= spike_err and not wide else WARNING
                why = (f"{market_name} moved {math.expm1(mm):+.1%} in the same bar "
                       f"({abs(mm) / m_sigma:.0f} σ): a market-wide move, not a bad print"
                       if wide else "a single-bar spike, most likely a bad print")
                add(sev, "spike", vindex[i + 1],
                    f"close jumps from {_fmt_price(values[i])} to {_fmt_price(values[i + 1])} USD "
                    f"({math.expm1(a):+.0%}) and back to {_fmt_price(values[i + 2])} the next bar: "
                    + why)
        for i in np.flatnonzero(np.abs(r) >= extreme).tolist():
            if reverted[i]:
                continue
            factor = math.exp(abs(r[i]))
            if abs(r[i]) >= th.level_shift_log_return:
                add(ERROR, "level_shift", vindex[i + 1],
                    f"close moves from {_fmt_price(values[i])} to {_fmt_price(values[i + 1])} USD "
                    f"(×{factor:.0f} {'up' if r[i] > 0 else 'down'}) in one bar and stays: no real "
                    "market does that; the ticker probably switched to another coin")
            else:
                add(WARNING, "extreme_move", vindex[i + 1],
                    f"close moves {math.expm1(r[i]):+.0%} in one bar ({_fmt_price(values[i])} → "
                    f"{_fmt_price(values[i + 1])} USD); keep it if it is a genuine crash or rally")
    return _sorted(out)


def _market_moves(market: pd.Series | None, at: pd.DatetimeIndex | None) -> np.ndarray | None:
    """Log returns of ``market`` between consecutive times of ``at`` (None: its own bars)."""
    if market is None:
        return None
    m = pd.to_numeric(market, errors="coerce").astype(float)
    m = m[(m > 0) & m.notna()]
    m = m[~m.index.duplicated(keep="last")].sort_index()
    if at is None:
        return np.diff(np.log(m.to_numpy()))
    px = m.reindex(pd.DatetimeIndex(at)).to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.diff(np.log(px))


def _bar_of(timeframe: str | None) -> pd.Timedelta | None:
    return {"1d": _DAY, "1h": pd.Timedelta(hours=1)}.get(timeframe or "")


def _bar_name(bar: pd.Timedelta) -> str:
    return {_DAY: "daily", pd.Timedelta(hours=1): "hourly"}.get(bar, str(bar))


def _sorted(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.severity != ERROR, f.timestamp or ""))


def check_closes(closes: pd.DataFrame, *, timeframe: str | None = None,
                 thresholds: Thresholds = DEFAULT_THRESHOLDS, market: str | None = "BTC",
                 keep: Sequence[str] = ()) -> list[Finding]:
    """Check every column of a closes frame (as returned by ``PriceSource.closes``).

    Leading and trailing NaN (before listing, after the data ends) are not defects; interior
    NaN rows are treated as missing bars (``gap``). When the frame has a ``market`` column
    (BTC), every other column's suspected spikes are cross-checked against it. ``keep``:
    ``KIND@TIME`` / ``SYMBOL:KIND@TIME`` bars the user keeps (:func:`keep_bars`).
    """
    rules = [parse_keep_bar(k) for k in keep]
    mkt = closes[market].dropna() if market is not None and market in closes.columns else None
    findings: list[Finding] = []
    if timeframe is None and len(closes.index) > 1:
        bar = infer_bar(pd.DatetimeIndex(closes.index))
        timeframe = "1h" if bar == pd.Timedelta(hours=1) else "1d" if bar == _DAY else None
    for col in closes.columns:
        s = closes[col]
        if not s.notna().any():
            findings.append(Finding(str(col), ERROR, "missing_price", None,
                                    "no price at all in the period asked"))
            continue
        s = s.loc[s.first_valid_index(): s.last_valid_index()]
        findings.extend(check_series(
            str(col), s.dropna(), timeframe=timeframe, thresholds=thresholds,
            market=mkt if col != market else None, market_name=market or ""))
    return keep_bars(findings, rules) if rules else findings


@dataclass(frozen=True)
class KeepBar:
    """A flagged bar the user keeps: ``kind`` at ``timestamp``, for ``symbol`` (None: any)."""

    kind: str
    timestamp: pd.Timestamp
    symbol: str | None = None

    def matches(self, f: Finding) -> bool:
        if f.kind != self.kind or f.timestamp is None:
            return False
        if self.symbol is not None and f.symbol.upper() != self.symbol:
            return False
        return pd.Timestamp(f.timestamp) == self.timestamp


def parse_keep_bar(text: str | KeepBar) -> KeepBar:
    """``spike@2022-05-11T12:00`` or ``AVAX:spike@2022-05-11T12:00`` → :class:`KeepBar`.

    Raises :class:`InputError` naming the expected form.
    """
    if isinstance(text, KeepBar):
        return text
    raw = str(text).strip()
    head, sep, when = raw.partition("@")
    symbol, _, kind = head.rpartition(":")
    kind = kind.strip().lower()
    example = "e.g. --keep-bar spike@2022-05-11T12:00 or AVAX:spike@2022-05-11T12:00"
    if not sep or kind not in KINDS:
        raise InputError(f"keep-bar: {raw!r} is not KIND@TIME with KIND one of "
                         f"{', '.join(KINDS)}; {example}")
    try:
        ts = pd.Timestamp(when.strip())
    except ValueError:
        raise InputError(f"keep-bar: {when!r} is not a time; {example}") from None
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return KeepBar(kind, ts, symbol.strip().upper() or None)


def keep_bars(findings: Iterable[Finding], keep: Sequence[str | KeepBar]) -> list[Finding]:
    """The findings with those matching a kept bar turned into warnings saying so."""
    rules = [parse_keep_bar(k) for k in keep]
    out: list[Finding] = []
    for f in findings:
        rule = next((k for k in rules if k.matches(f)), None)
        if rule is not None and f.severity == ERROR:
            f = replace(f, severity=WARNING, detail=f"{f.detail} — kept by the user "
                        f"(keep-bar {f.kind}@{f.timestamp})")
        out.append(f)
    return _sorted(out)


def has_errors(findings: Iterable[Finding]) -> bool:
    """True when any finding is an error."""
    return any(f.severity == ERROR for f in findings)


def error_symbols(findings: Iterable[Finding]) -> list[str]:
    """Symbols with at least one error finding, in order of first appearance."""
    seen: dict[str, None] = {}
    for f in findings:
        if f.severity == ERROR:
            seen.setdefault(f.symbol, None)
    return list(seen)


def exclude_error_series(closes: pd.DataFrame, findings: Sequence[Finding] | None = None
                         ) -> tuple[pd.DataFrame, list[str]]:
    """Drop the columns that have an error finding; return (kept closes, excluded symbols)."""
    if findings is None:
        findings = check_closes(closes)
    bad = [s for s in error_symbols(findings) if s in closes.columns]
    return closes.drop(columns=bad), bad


def require_usable(closes: pd.DataFrame, *, exclude: bool = False, timeframe: str | None = None,
                   protect: Sequence[str] = (), keep: Sequence[str] = ()
                   ) -> tuple[pd.DataFrame, list[Finding]]:
    """Run the checks the plan and the backtest need before computing anything from ``closes``.

    Returns (closes to use, all findings). With ``exclude=False`` an error finding raises
    :class:`DataQualityError` naming the symbol and the finding; with ``exclude=True`` the
    faulty columns are dropped instead, except those in ``protect`` (e.g. the hedge asset,
    without which nothing can be computed), which still raise.
    """
    findings = check_closes(closes, timeframe=timeframe, keep=keep)
    errors = [f for f in findings if f.severity == ERROR]
    if not errors:
        return closes, findings
    blocking = [f for f in errors if not exclude or f.symbol in set(protect)]
    if blocking:
        f = blocking[0]
        others = len({e.symbol for e in errors}) - 1
        more = f" (and {others} other series)" if others > 0 else ""
        raise DataQualityError(
            f"{f.symbol}: {f.kind} at {f.timestamp or 'unknown time'}: {f.detail}{more}; "
            "fix the data, exclude the series (--exclude-bad-data) or use another price source")
    kept, _dropped = exclude_error_series(closes, errors)
    return kept, findings
