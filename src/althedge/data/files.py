"""Reading OHLCV and funding files (CSV or Parquet) into pandas, without ever crashing on a bad row.

Accepted layouts (all column names case-insensitive):

* the project's shared data: ``datetime,open,high,low,close,volume`` with ISO dates
  (``2024-01-31``) or ISO timestamps (``2024-11-16 00:00:00``);
* common exchange exports: a ``timestamp``/``open_time``/``date``/``time`` column in epoch
  seconds, milliseconds, microseconds or nanoseconds (the unit is inferred from the
  magnitude), or ISO 8601 strings with or without a UTC offset;
* Parquet files with the time either in a column or in the index (the cache's own files).

A row that cannot be read is kept, not dropped: :func:`read_ohlcv` returns the file's rows in
file order with the reason in a ``parse_error`` column, so that :mod:`althedge.data.quality`
reports it. :func:`clean_ohlcv` then turns the raw frame into the series the rest of the
program uses (sorted, de-duplicated, non-positive prices set to NaN).

All times are UTC, returned as a tz-naive ``datetime64[ns]`` index named ``timestamp``.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from althedge.errors import DataError

OHLCV_COLUMNS = ("open", "high", "low", "close", "volume")

#: Bar length of each supported timeframe.
TIMEFRAMES: dict[str, pd.Timedelta] = {"1d": pd.Timedelta(days=1), "1h": pd.Timedelta(hours=1)}

_TIME_ALIASES = ("timestamp", "datetime", "date", "time", "open_time", "opentime", "ts",
                 "open time", "unix", "time_period_start")
_CLOSE_ALIASES = ("close", "adj close", "adj_close", "close_price", "closeprice", "price", "c")
_FIELD_ALIASES = {
    "open": ("open", "open_price", "o"),
    "high": ("high", "high_price", "h"),
    "low": ("low", "low_price", "l"),
    "volume": ("volume", "vol", "base_volume", "v"),
}
_FUNDING_ALIASES = (
    "funding_rate_8h", "funding_mean", "fundingrate", "funding_rate", "rate", "funding",
    "last_funding_rate",
)


def _lower_columns(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    return frame


def _pick(columns: Iterable[str], aliases: Iterable[str]) -> str | None:
    cols = list(columns)
    for alias in aliases:
        if alias in cols:
            return alias
    return None


_LO = pd.Timestamp("1970-01-01")
_HI = pd.Timestamp("2262-04-01")  # the end of datetime64[ns]


def _bounded_ns(idx: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """tz-naive UTC, datetime64[ns]; times outside 1970..2262 become NaT (never an error)."""
    if idx.tz is not None:
        idx = idx.tz_convert(None)
    inside = np.asarray((idx >= _LO) & (idx < _HI))
    kept = idx.where(inside)
    return pd.DatetimeIndex(kept).as_unit("ns")


def _parse_text_times(text: pd.Series, present: pd.Series) -> pd.DatetimeIndex:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            iso = pd.DatetimeIndex(pd.to_datetime(text, errors="coerce", utc=True,
                                                  format="ISO8601"))
            iso = _bounded_ns(iso)
            missing = np.asarray(iso.isna() & present.to_numpy())
            if not missing.any():
                return iso
            values = iso.to_series(index=text.index)
            values[missing] = _bounded_ns(pd.DatetimeIndex(pd.to_datetime(
                text[missing], errors="coerce", utc=True, format="mixed")))
            return pd.DatetimeIndex(values).as_unit("ns")
        except (ValueError, OverflowError, TypeError):  # OutOfBoundsDatetime is a ValueError
            out: list[pd.Timestamp] = []
            for v in text:
                try:
                    ts = pd.Timestamp(v)
                    if ts.tzinfo is not None:
                        ts = ts.tz_convert("UTC").tz_localize(None)
                    out.append(ts if _LO <= ts < _HI else pd.NaT)
                except (ValueError, OverflowError, TypeError):
                    out.append(pd.NaT)
            return pd.DatetimeIndex(out).as_unit("ns")


def parse_timestamps(values: pd.Series | pd.Index | Iterable[Any]) -> pd.DatetimeIndex:
    """Parse a column of times into a tz-naive UTC ``DatetimeIndex`` (NaT where unreadable).

    Numbers are epoch times; the unit is inferred from the median magnitude: > 1e17 ns,
    > 1e14 µs, > 1e11 ms, otherwise seconds (1e11 s is the year 5138, 1e11 ms is 1973).
    Strings are parsed as ISO 8601 first, then with pandas' general parser. Times before 1970
    or after 2262 are NaT (reported as unreadable rows by the checks).
    """
    raw = pd.Series(list(values) if not isinstance(values, pd.Series) else values.to_numpy())
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        return _bounded_ns(pd.DatetimeIndex(pd.to_datetime(raw, utc=True)))
    text = raw.astype("string").str.strip()
    numeric = pd.to_numeric(text, errors="coerce")
    present = text.notna() & (text != "")
    if present.any() and numeric[present].notna().mean() > 0.5:
        med = float(np.nanmedian(np.abs(numeric[present].to_numpy(dtype=float))))
        unit, factor = (("ns", 1e9) if med > 1e17 else ("us", 1e6) if med > 1e14
                        else ("ms", 1e3) if med > 1e11 else ("s", 1.0))
        secs = numeric / factor
        ok = (numeric.notna() & (secs >= 0) & (secs < 9.2e9)).to_numpy()
        out = np.full(len(raw), np.datetime64("NaT", "ns"))
        if ok.any():
            parsed = pd.to_datetime(numeric[ok].astype("int64"), unit=unit)
            out[ok] = pd.DatetimeIndex(parsed).as_unit("ns").to_numpy()
        return pd.DatetimeIndex(out)
    return _parse_text_times(text, present)


def _read_table(source: Path | Traversable, name: str) -> pd.DataFrame:
    """Read a CSV or Parquet file with every value as text (CSV) so nothing fails to parse."""
    try:
        with source.open("rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise DataError(f"{name}: cannot read the file ({exc.strerror or exc}); "
                        "check the path") from exc
    if name.lower().endswith(".parquet") or data[:4] == b"PAR1":
        try:
            frame = pd.read_parquet(io.BytesIO(data))
        except Exception as exc:  # pyarrow raises many types
            raise DataError(f"{name}: not a readable Parquet file ({type(exc).__name__}); "
                            "re-download or re-export it") from exc
        if isinstance(frame.index, pd.DatetimeIndex):
            frame = frame.reset_index(names="timestamp")
        return frame
    bad_lines: list[list[str]] = []

    def keep_bad(fields: list[str]) -> None:
        bad_lines.append(fields)  # reported as unparseable rows, not silently skipped
        return None

    try:
        try:  # fast path: the C parser, for files whose every row has the header's width
            frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False,
                                skip_blank_lines=True, on_bad_lines="error", engine="c")
            frame.attrs["bad_lines"] = []
            return frame
        except pd.errors.ParserError:
            pass  # a row of another width: the python parser keeps and reports it
        frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False,
                            skip_blank_lines=True, on_bad_lines=keep_bad, engine="python")
        frame.attrs["bad_lines"] = [",".join(f) for f in bad_lines]
        return frame
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{name}: not a readable CSV file ({exc}); check the file") from exc
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{name}: the file is empty; re-export it") from exc


def _to_float(col: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Return (numbers, unparseable mask): empty cells are missing, not unparseable."""
    if pd.api.types.is_numeric_dtype(col.dtype):
        return col.astype(float), pd.Series(False, index=col.index)
    try:  # fast path: every cell is a plain number ("nan" reads as missing, as below)
        return col.astype(float), pd.Series(False, index=col.index)
    except (TypeError, ValueError):
        pass
    text = col.astype("string").str.strip()
    empty = text.isna() | text.isin(["", "nan", "NaN", "null", "None", "NA"])
    nums = pd.to_numeric(text.where(~empty), errors="coerce").astype(float)
    return nums, nums.isna() & ~empty


def read_ohlcv(source: Path | Traversable | str, name: str | None = None) -> pd.DataFrame:
    """Read one OHLCV (or close-only) file, keeping every row in file order.

    Returns a frame indexed by ``timestamp`` (tz-naive UTC, NaT where unreadable) with float
    columns ``open, high, low, close, volume`` (NaN where absent or unreadable) and a text
    column ``parse_error`` (empty when the row was read). Raises :class:`DataError` when the
    file has no time or no close column.
    """
    src = Path(source) if isinstance(source, str) else source
    label = name or src.name
    raw = _lower_columns(_read_table(src, label))
    tcol = _pick(raw.columns, _TIME_ALIASES) or (raw.columns[0] if len(raw.columns) else None)
    ccol = _pick(raw.columns, _CLOSE_ALIASES)
    if tcol is None or ccol is None:
        raise DataError(f"{label}: needs a time column (timestamp/datetime/date) and a close "
                        f"column; found {', '.join(map(str, raw.columns)) or 'no columns'}")
    index = parse_timestamps(raw[tcol])
    errors = pd.Series("", index=raw.index, dtype=object)
    bad_time = pd.Series(index.isna(), index=raw.index)
    errors[bad_time] = [f"time {v!r} is not a date" for v in raw.loc[bad_time, tcol]]
    out = pd.DataFrame(index=raw.index)
    for field in OHLCV_COLUMNS:
        col = ccol if field == "close" else _pick(raw.columns, _FIELD_ALIASES[field])
        if col is None:
            out[field] = np.nan
            continue
        nums, bad = _to_float(raw[col])
        out[field] = nums
        if field == "close" and bad.any():
            extra = [f"close {v!r} is not a number" for v in raw.loc[bad, col]]
            errors[bad] = [(e + "; " if e else "") + x
                           for e, x in zip(errors[bad], extra, strict=True)]
    out["parse_error"] = errors.astype(str)
    out.index = pd.DatetimeIndex(index, name="timestamp")
    extra_lines = raw.attrs.get("bad_lines") or []
    if extra_lines:
        width = len(raw.columns)
        bad = pd.DataFrame({c: np.nan for c in OHLCV_COLUMNS},
                           index=pd.DatetimeIndex([pd.NaT] * len(extra_lines), name="timestamp"))
        bad["parse_error"] = [f"row {line[:60]!r} does not have {width} fields"
                              for line in extra_lines]
        out = pd.concat([out, bad])
    return out


def clean_ohlcv(raw: pd.DataFrame) -> pd.DataFrame:
    """Turn a raw frame from :func:`read_ohlcv` into a usable one.

    Drops unreadable rows, sorts by time, keeps the last row of duplicated timestamps and sets
    non-positive prices to NaN. The defects removed here are the ones
    :func:`althedge.data.quality.check_series` reports: run it on the raw frame.
    """
    frame = raw
    if "parse_error" in frame.columns:
        frame = frame[frame["parse_error"] == ""].drop(columns="parse_error")
    frame = frame[frame.index.notna()]
    frame = frame[~frame.index.duplicated(keep="last")].sort_index()
    prices = [c for c in ("open", "high", "low", "close") if c in frame.columns]
    frame = frame.copy()
    frame[prices] = frame[prices].where(frame[prices] > 0)
    frame.index = pd.DatetimeIndex(frame.index, name="timestamp").astype("datetime64[ns]")
    return frame


def read_funding(source: Path | Traversable | str, name: str | None = None) -> pd.Series:
    """Read a funding file into a daily series of the mean rate per 8 hours.

    Accepts the shared ``date,funding_mean,funding_abs`` file (already a daily mean of 8-hour
    rates) and exports with one row per funding event (``fundingRate``/``funding_rate`` and a
    timestamp), which are averaged per UTC day. Rates are assumed to be per 8 hours; convert
    rates of 4 h or 1 h intervals before importing (ccxt data is converted by the ccxt source).
    """
    src = Path(source) if isinstance(source, str) else source
    label = name or src.name
    raw = _lower_columns(_read_table(src, label))
    tcol = _pick(raw.columns, _TIME_ALIASES) or (raw.columns[0] if len(raw.columns) else None)
    rcol = _pick(raw.columns, _FUNDING_ALIASES)
    if tcol is None or rcol is None:
        raise DataError(f"{label}: a funding file needs a time column and a rate column "
                        f"(funding_mean or fundingRate); found {', '.join(map(str, raw.columns))}")
    index = parse_timestamps(raw[tcol])
    rates, _bad = _to_float(raw[rcol])
    series = pd.Series(rates.to_numpy(), index=index, name="funding_rate_8h")
    series = series[series.index.notna() & series.notna()]
    return daily_mean(series)


def read_funding_events(source: Path | Traversable | str, name: str | None = None) -> pd.Series:
    """Read a funding file into its settlements: the rate paid at each settlement time.

    Accepts the event files of ``../shared/data`` — Binance/Bybit ``datetime,funding_rate``
    (8-hourly), BitMEX ``datetime,funding_rate,funding_interval_h`` and Deribit's realised
    hourly ``datetime,funding_rate,interest_8h,index_price`` — and ``fundingRate`` exports.
    Each value is what one unit of notional paid at that time (+ = longs pay shorts), for
    its own interval: nothing is rescaled. A daily-mean file (``funding_mean``) is spread
    as three settlements at 00:00, 08:00 and 16:00 UTC at that mean. Sorted, one per time.
    """
    src = Path(source) if isinstance(source, str) else source
    label = name or src.name
    raw = _lower_columns(_read_table(src, label))
    tcol = _pick(raw.columns, _TIME_ALIASES) or (raw.columns[0] if len(raw.columns) else None)
    rcol = _pick(raw.columns, _FUNDING_ALIASES)
    if tcol is None or rcol is None:
        raise DataError(f"{label}: a funding file needs a time column and a rate column "
                        f"(funding_rate or fundingRate); found {', '.join(map(str, raw.columns))}")
    index = pd.DatetimeIndex(parse_timestamps(raw[tcol])).astype("datetime64[ns]")
    rates, _bad = _to_float(raw[rcol])
    series = pd.Series(rates.to_numpy(), index=index, name="funding_rate")
    series = series[np.asarray(series.index.notna()) & series.notna().to_numpy()]
    if rcol == "funding_mean":
        days = pd.DatetimeIndex(series.index).normalize()
        parts = [pd.Series(series.to_numpy(), index=days + pd.Timedelta(hours=h))
                 for h in (0, 8, 16)]
        series = pd.concat(parts)
    series = series[~series.index.duplicated(keep="last")].sort_index()
    series.index = pd.DatetimeIndex(series.index, name="timestamp")
    series.name = "funding_rate"
    return series.astype(float)


def daily_mean(series: pd.Series) -> pd.Series:
    """Average a time series per UTC calendar day (index at 00:00, ``datetime64[ns]``)."""
    if series.empty:
        return pd.Series(dtype=float, index=pd.DatetimeIndex([], name="timestamp"),
                         name="funding_rate_8h")
    idx = pd.DatetimeIndex(series.index).astype("datetime64[ns]").normalize()
    out = series.groupby(idx).mean().astype(float)
    out.index = pd.DatetimeIndex(out.index, name="timestamp")
    out.name = "funding_rate_8h"
    return out


# --- file names -------------------------------------------------------------------------------

_NAME_RE = re.compile(
    r"^(?P<sym>[A-Za-z0-9]+?)(?:[-_/]?(?P<quote>USDT|USDC|BUSD|FDUSD|USD))?"
    r"(?:[-_](?P<venue>[A-Za-z]+))?(?:[-_](?P<tf>1d|1h|daily|hourly|d|h))?$",
    re.IGNORECASE,
)
_TF_WORDS = {"1d": "1d", "d": "1d", "daily": "1d", "day": "1d",
             "1h": "1h", "h": "1h", "hourly": "1h", "hour": "1h"}


@dataclass(frozen=True)
class FileEntry:
    """A data file found in a folder: the asset, its timeframe and whether it is funding."""

    asset: str
    timeframe: str
    kind: str  # "ohlcv" | "funding"
    exact: bool  # True when the name has no venue suffix (preferred over e.g. BTCUSDT-binance)
    file: Path | Traversable


def parse_file_name(file_name: str, folder_hint: str | None = None) -> FileEntry | None:
    """Recognise ``SOL-USD_1d.csv``, ``SOLUSDT_1h.parquet``, ``BTCUSDT_funding_daily.csv``.

    Returns None for files that are not data files (README, other extensions).
    """
    lower = file_name.lower()
    if not (lower.endswith(".csv") or lower.endswith(".parquet")):
        return None
    stem = file_name.rsplit(".", 1)[0]
    folder_tf = _TF_WORDS.get((folder_hint or "").lower())
    if "funding" in stem.lower() or (folder_hint or "").lower() == "funding":
        base = re.split(r"[-_]?funding", stem, flags=re.IGNORECASE)[0] or stem
        m = _NAME_RE.match(base)
        asset = (m.group("sym") if m else base).upper()
        return FileEntry(asset, "1d", "funding", True, Path(file_name))
    m = _NAME_RE.match(stem)
    if not m:
        return None
    venue = m.group("venue")
    tf_word = m.group("tf")
    if venue and venue.lower() in _TF_WORDS and not tf_word:
        tf_word, venue = venue, None
    timeframe = _TF_WORDS.get((tf_word or "").lower()) or folder_tf or "1d"
    return FileEntry(m.group("sym").upper(), timeframe, "ohlcv", venue is None, Path(file_name))


def scan_folder(root: Path | Traversable, depth: int = 2) -> list[FileEntry]:
    """List the data files under ``root`` (the folder itself and sub-folders up to ``depth``)."""
    found: list[FileEntry] = []

    def walk(folder: Path | Traversable, level: int, hint: str | None) -> None:
        try:
            children = sorted(folder.iterdir(), key=lambda p: p.name)
        except OSError:
            return
        for child in children:
            if child.name.startswith("."):
                continue
            if child.is_dir():
                if level < depth:
                    walk(child, level + 1, child.name)
                continue
            entry = parse_file_name(child.name, hint)
            if entry is not None:
                found.append(
                    FileEntry(entry.asset, entry.timeframe, entry.kind, entry.exact, child))

    walk(root, 0, None)
    return found
