"""Price sources behind one small protocol: bundled files, a folder of files, an exchange (ccxt).

The plan and the backtest only ever see :class:`PriceSource`::

    src = open_source()                         # bundled data, works with no network
    src = open_source("/work/shared/data")      # a folder of CSV/Parquet files
    src = open_source(exchange="binance")       # ccxt, through the Parquet cache
    closes = src.closes(["BTC", "SOL"], start="2024-01-01")   # DataFrame of USD closes
    funding = src.funding_rates("BTC")          # daily mean funding rate per 8 h

Prices are USD (USDT/USDC quotes are treated as USD, see docs/domain.md).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import date, datetime
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np
import pandas as pd

from althedge.data.files import (
    TIMEFRAMES,
    FileEntry,
    clean_ohlcv,
    read_funding,
    read_ohlcv,
    scan_folder,
)
from althedge.errors import DataError, InputError

TimeLike = str | date | datetime | pd.Timestamp | None


@runtime_checkable
class PriceSource(Protocol):
    """Where closes and funding rates come from (see docs/internal-api.md, section data/)."""

    name: str

    def symbols(self) -> list[str]:
        """Assets available, e.g. ``["BTC", "ETH", "SOL"]``."""
        ...

    def closes(self, assets: Sequence[str], start: TimeLike = None, end: TimeLike = None,
               timeframe: str = "1d") -> pd.DataFrame:
        """USD closes: tz-naive UTC DatetimeIndex, one column per asset, NaN where missing."""
        ...

    def funding_rates(self, hedge_asset: str = "BTC", start: TimeLike = None,
                      end: TimeLike = None) -> pd.Series:
        """Daily mean funding rate per 8 h of the hedge asset's perpetual; may be empty."""
        ...


def to_timestamp(value: TimeLike, field: str = "start") -> pd.Timestamp | None:
    """Parse a start/end bound into a tz-naive UTC timestamp (None stays None)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{field}: {value!r} is not a date; use YYYY-MM-DD") from exc
    if pd.isna(ts):
        raise InputError(f"{field}: {value!r} is not a date; use YYYY-MM-DD")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts


def normalise_asset(asset: str) -> str:
    """``"sol"``, ``"SOL/USDT"``, ``"SOL-USD"``, ``"SOL/USDT:USDT"`` → ``"SOL"``."""
    text = asset.strip().upper()
    for sep in ("/", ":"):
        text = text.split(sep)[0]
    for suffix in ("-USDT", "-USDC", "-USD", "_USDT", "_USD"):
        if text.endswith(suffix) and len(text) > len(suffix):
            return text[: -len(suffix)]
    return text


def check_timeframe(timeframe: str) -> str:
    """Validate a timeframe name ("1d" or "1h")."""
    if timeframe not in TIMEFRAMES:
        raise InputError(f"timeframe: {timeframe!r} is not supported; "
                         f"use one of {', '.join(TIMEFRAMES)}")
    return timeframe


FrameT = TypeVar("FrameT", pd.DataFrame, pd.Series)


def slice_time(obj: FrameT, start: TimeLike, end: TimeLike) -> FrameT:
    """Keep rows with start <= time <= end (both inclusive, either may be None)."""
    lo, hi = to_timestamp(start, "start"), to_timestamp(end, "end")
    mask = np.ones(len(obj), dtype=bool)
    index = pd.DatetimeIndex(obj.index)
    if lo is not None:
        mask &= np.asarray(index >= lo)
    if hi is not None:
        mask &= np.asarray(index <= hi)
    return obj[mask]


def join_closes(series: dict[str, pd.Series]) -> pd.DataFrame:
    """Outer-join close series into one frame (columns in the order given)."""
    if not series:
        return pd.DataFrame(index=pd.DatetimeIndex([], name="timestamp"), dtype=float)
    frame = pd.concat(series, axis=1, join="outer", sort=True)
    frame.index = pd.DatetimeIndex(frame.index, name="timestamp").astype("datetime64[ns]")
    return frame.astype(float)


class FileSource:
    """Closes and funding from a folder of CSV/Parquet files (or the bundled resources).

    Layouts: the shared data folder (``daily/<SYM>-USD_1d.csv``, ``hourly/<SYM>-USD_1h.csv``,
    ``funding/<SYM>USDT_funding_daily.csv``) or a flat folder of files per symbol
    (``SOL.csv``, ``SOLUSDT_1h.parquet``...). When two files give the same asset and timeframe
    the one without a venue suffix wins (``BTC-USD_1d.csv`` over ``BTCUSDT-binance_1d.csv``).
    """

    def __init__(self, root: Path | Traversable | str, name: str | None = None, *,
                 data_dir: Path | str | None = None) -> None:
        self.root: Path | Traversable = Path(root) if isinstance(root, str) else root
        self.name = name or f"files:{self.root}"
        if isinstance(self.root, Path) and not self.root.exists():
            raise DataError(f"prices: folder {self.root} does not exist; pass an existing folder")
        entries = scan_folder(self.root)
        self._ohlcv: dict[tuple[str, str], FileEntry] = {}
        self._funding: dict[str, FileEntry] = {}
        for entry in sorted(entries, key=lambda e: (not e.exact, str(e.file))):
            if entry.kind == "funding":
                self._funding.setdefault(entry.asset, entry)
            else:
                self._ohlcv.setdefault((entry.asset, entry.timeframe), entry)
        if not self._ohlcv and not self._funding:
            raise DataError(f"prices: no CSV or Parquet price files found in {self.root}; "
                            "expected files like SOL-USD_1d.csv")
        #: where funding files were looked for (named when none is found)
        self.funding_searched: list[str] = [str(self.root)]
        if not self._funding and isinstance(self.root, Path):
            # `--prices data/daily`: the funding history is usually one folder up, beside it
            beside = self.root.resolve().parent / "funding"
            if beside != self.root.resolve():
                if beside.is_dir():
                    self.funding_searched.append(str(beside))
                    self._add_funding(beside)
                else:
                    self.funding_searched.append(f"{beside} (no such folder)")
        if not self._funding and isinstance(self.root, Path):
            # then the data cache: funding fetched (`data fetch`) or imported (`data import`)
            cache = Path(data_dir).expanduser() if data_dir is not None else default_home()
            cache = cache / "cache"
            self.funding_searched.append(f"the data cache {cache}")
            if cache.is_dir():
                for folder in sorted(p for p in cache.iterdir() if p.is_dir()):
                    self._add_funding(folder)
        self._cache: dict[tuple[str, str], pd.DataFrame] = {}
        self._unreadable: dict[tuple[str, str], str] = {}

    def funding_origin(self, hedge_asset: str) -> str:
        """Where the asset's funding history comes from (``files:FOLDER``), for labels: a
        folder beside the prices or the data cache when the price folder has none."""
        entry = self._funding.get(normalise_asset(hedge_asset))
        if entry is None or not isinstance(entry.file, Path) or not isinstance(self.root, Path):
            return self.name
        if entry.file.resolve().is_relative_to(self.root.resolve()):
            return self.name  # in the price folder itself
        return f"files:{entry.file.parent}"

    def _add_funding(self, folder: Path) -> None:
        """Funding files of ``folder`` for the assets that have none yet."""
        for entry in scan_folder(folder, depth=1):
            if entry.kind == "funding":
                self._funding.setdefault(entry.asset, entry)

    def symbols(self, timeframe: str = "1d") -> list[str]:
        """Assets with a file of this timeframe."""
        return sorted(a for (a, tf) in self._ohlcv if tf == timeframe)

    def timeframes(self) -> list[str]:
        """Timeframes present in the folder."""
        return sorted({tf for (_a, tf) in self._ohlcv})

    def entry(self, asset: str, timeframe: str = "1d") -> FileEntry:
        """The file behind ``asset`` (raises DataError naming what is available)."""
        key = (normalise_asset(asset), check_timeframe(timeframe))
        if key not in self._ohlcv:
            have = ", ".join(self.symbols(timeframe)) or "none"
            raise DataError(f"prices: no {timeframe} data for {key[0]} in {self.name} "
                            f"(available: {have}); fetch it with `althedge data fetch` "
                            "or pick another asset")
        return self._ohlcv[key]

    def raw(self, asset: str, timeframe: str = "1d") -> pd.DataFrame:
        """The file's rows as read, unparseable ones included (for quality checks)."""
        entry = self.entry(asset, timeframe)
        return read_ohlcv(entry.file, name=entry.file.name)

    def ohlcv(self, asset: str, timeframe: str = "1d") -> pd.DataFrame:
        """Clean OHLCV frame of one asset (sorted, de-duplicated; bad prices are NaN)."""
        key = (normalise_asset(asset), check_timeframe(timeframe))
        if key not in self._cache:
            raw = self.raw(asset, timeframe)
            bad = np.asarray(raw.index.isna())
            if "parse_error" in raw:
                bad = bad | (raw["parse_error"].to_numpy() != "")
            if bad.any():
                pos = int(np.flatnonzero(bad)[0])
                reason = (str(raw["parse_error"].iloc[pos]) if "parse_error" in raw else "") \
                    or "time is not a date"
                self._unreadable[key] = (
                    f"{int(bad.sum())} row(s) of {self.entry(asset, timeframe).file.name} "
                    f"could not be read (first: data row {pos + 1}, {reason})")
            self._cache[key] = clean_ohlcv(raw)
        return self._cache[key]

    def unreadable(self, asset: str, timeframe: str = "1d") -> str | None:
        """Why rows of the asset's file could not be read (None when every row was read).

        Those rows are dropped from :meth:`ohlcv`; `data check` calls such a file unusable,
        and so do `plan` and `backtest` (they refuse it rather than use it silently).
        """
        self.ohlcv(asset, timeframe)
        return self._unreadable.get((normalise_asset(asset), check_timeframe(timeframe)))

    def closes(self, assets: Sequence[str], start: TimeLike = None, end: TimeLike = None,
               timeframe: str = "1d") -> pd.DataFrame:
        """USD closes of ``assets`` between ``start`` and ``end`` (inclusive)."""
        series = {normalise_asset(a): self.ohlcv(a, timeframe)["close"] for a in assets}
        return slice_time(join_closes(series), start, end)

    def funding_rates(self, hedge_asset: str = "BTC", start: TimeLike = None,
                      end: TimeLike = None) -> pd.Series:
        """Daily mean funding rate per 8 h (empty when the folder has no funding file)."""
        entry = self._funding.get(normalise_asset(hedge_asset))
        if entry is None:
            return pd.Series(dtype=float, index=pd.DatetimeIndex([], name="timestamp"),
                             name="funding_rate_8h")
        return slice_time(read_funding(entry.file, name=entry.file.name), start, end)


def unreadable_rows(source: PriceSource, assets: Sequence[str],
                    timeframes: Sequence[str]) -> dict[str, str]:
    """``{asset: why}`` for the assets whose price file has rows that could not be read
    (sources that read files: :meth:`althedge.data.sources.FileSource.unreadable`)."""
    probe = getattr(source, "unreadable", None)
    out: dict[str, str] = {}
    if not callable(probe):
        return out
    for asset in assets:
        for tf in dict.fromkeys(timeframes):
            try:
                why = probe(asset, tf)
            except DataError:  # no file of that timeframe: nothing to say
                continue
            if why:
                out.setdefault(asset, why)
    return out


def bundled_source() -> FileSource:
    """The dataset shipped inside the package (offline default; see bundled/README.md)."""
    return FileSource(resources.files("althedge") / "bundled", name="bundled")


def default_home() -> Path:
    """The data directory: ``$ALTHEDGE_HOME`` or ``~/.althedge``."""
    env = os.environ.get("ALTHEDGE_HOME")
    return Path(env).expanduser() if env else Path.home() / ".althedge"


def open_source(prices: str | Path | None = None, *, exchange: str | None = None,
                data_dir: str | Path | None = None, **ccxt_options: Any) -> PriceSource:
    """Open the price source the user asked for.

    * ``prices=None, exchange=None`` → the bundled data (no network);
    * ``prices="bundled"`` → the bundled data too;
    * ``prices=<folder or file>`` → CSV/Parquet files in that folder;
    * ``exchange="binance"`` → ccxt market data through the Parquet cache under ``data_dir``
      (default ``$ALTHEDGE_HOME`` or ``~/.althedge``); extra keyword arguments go to
      :class:`althedge.data.ccxt_source.CcxtPriceSource`.
    """
    if prices is not None and exchange is not None:
        raise InputError("prices: pass either a price folder or --exchange, not both")
    if exchange is not None:
        from althedge.data.ccxt_source import CcxtPriceSource

        return CcxtPriceSource(exchange, data_dir=data_dir, **ccxt_options)
    if prices is None or str(prices) == "bundled":
        return bundled_source()
    path = Path(prices).expanduser()
    if path.is_file():
        path = path.parent
    return FileSource(path, data_dir=data_dir)
