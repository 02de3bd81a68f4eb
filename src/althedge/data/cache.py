"""The market-data cache: one Parquet file per exchange / symbol / timeframe, written atomically.

Layout under the data directory (``--data-dir``, ``$ALTHEDGE_HOME``, default ``~/.althedge``)::

    <data_dir>/cache/<exchange>/<SAFE_SYMBOL>_<timeframe>.parquet   # OHLCV, e.g. SOL_USDT_1d
    <data_dir>/cache/<exchange>/<SAFE_SYMBOL>_funding.parquet       # funding-rate history

``SAFE_SYMBOL`` is the ccxt symbol with ``/`` → ``_`` and ``:`` → ``-`` (``BTC/USDT:USDT`` →
``BTC_USDT-USDT``). Every write goes to a temporary file in the same folder and is moved into
place with ``os.replace`` (atomic on POSIX and Windows), so an interrupted download leaves the
previous file intact and never a half-written one. Each cache folder is also a valid
:class:`althedge.data.sources.FileSource` folder.

Every file carries the cache format in its Parquet metadata (``cache_version`` in the
frame's ``attrs``, :data:`CACHE_VERSION`). A file written before a data fix that
changed its values is stale (:meth:`ParquetCache.stale_reason`): the ccxt source fetches
it again whole, or, offline, refuses it with a one-line message.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from althedge.errors import DataError, InputError
from althedge.files import atomic_path

#: the cache format. 2: Deribit funding rows carry the hour's rate (``interest_1h``);
#: files without a version were written before, when hourly rows carried the 8-hour
#: rate (8× too high)
CACHE_VERSION = 2

#: (exchange, timeframe) → (first good version, what was wrong before it)
_FIXED_IN: dict[tuple[str, str], tuple[int, str]] = {
    ("deribit", "funding"): (
        2, "Deribit funding cached before althedge read hourly rows as hourly rates (8× too high)"
    ),
}


def safe_symbol(symbol: str) -> str:
    """``BTC/USDT:USDT-250328`` → ``BTC_USDT-USDT-250328`` (a file-name-safe ccxt symbol)."""
    return symbol.replace("/", "_", 1).replace(":", "-", 1)


def unsafe_symbol(name: str) -> str:
    """Inverse of :func:`safe_symbol`."""
    return name.replace("_", "/", 1).replace("-", ":", 1)


def atomic_write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` through a temporary file and ``os.replace``
    (:func:`althedge.files.atomic_path`; an unwritable cache is a one-line OutputError)."""
    with atomic_path(path, "data cache (--data-dir or $ALTHEDGE_HOME)") as tmp:
        frame.to_parquet(tmp)


@dataclass(frozen=True)
class CacheEntry:
    """One cached series (for ``althedge data list``)."""

    exchange: str
    symbol: str
    timeframe: str  # "1d", "1h" or "funding"
    rows: int
    first: pd.Timestamp | None
    last: pd.Timestamp | None
    path: Path


class ParquetCache:
    """Read, merge and atomically write cached series."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir).expanduser()
        self.root = self.data_dir / "cache"
        # said before any exchange is asked (a fetch would fail only after the download)
        if self.data_dir.exists() and not self.data_dir.is_dir():
            raise InputError(f"data directory: {self.data_dir} is a file, not a folder; point "
                             "$ALTHEDGE_HOME (or --data-dir) at a folder")

    def path(self, exchange: str, symbol: str, timeframe: str) -> Path:
        """File of one series (``timeframe="funding"`` for funding history)."""
        return self.root / exchange / f"{safe_symbol(symbol)}_{timeframe}.parquet"

    def read(self, exchange: str, symbol: str, timeframe: str) -> pd.DataFrame | None:
        """The cached frame (index ``timestamp``, datetime64[ns]) or None when absent."""
        p = self.path(exchange, symbol, timeframe)
        if not p.exists():
            return None
        try:
            frame = pd.read_parquet(p)
        except Exception as exc:  # pyarrow raises several types
            raise DataError(f"cache: {p} is unreadable ({type(exc).__name__}); delete it and "
                            "fetch again") from exc
        frame.index = pd.DatetimeIndex(frame.index, name="timestamp").as_unit("ns")
        return frame

    def merge_write(self, exchange: str, symbol: str, timeframe: str, new: pd.DataFrame,
                    covered_from_ms: int | None = None) -> pd.DataFrame:
        """Merge ``new`` rows into the cached series (new rows win) and write atomically.

        ``covered_from_ms`` records that the exchange was asked from that time on (so a range
        before a coin's listing is not asked again); it is kept in the file's metadata.
        """
        old = self.read(exchange, symbol, timeframe)
        frame = new if old is None or old.empty else pd.concat([old, new])
        frame = frame[~frame.index.duplicated(keep="last")].sort_index()
        frame.index = pd.DatetimeIndex(frame.index, name="timestamp").as_unit("ns")
        marks = [m for m in (covered_from_ms, (old.attrs.get("covered_from_ms")
                                               if old is not None else None)) if m is not None]
        frame.attrs = {"covered_from_ms": int(min(marks))} if marks else {}
        frame.attrs["cache_version"] = CACHE_VERSION
        atomic_write_parquet(frame, self.path(exchange, symbol, timeframe))
        return frame

    def stale_reason(self, exchange: str, timeframe: str, frame: pd.DataFrame) -> str | None:
        """Why a cached ``frame`` must not be used (written before a fix of its values),
        or None. Files without ``cache_version`` are version 1."""
        fixed = _FIXED_IN.get((exchange.lower(), timeframe))
        if fixed is None:
            return None
        version = int(frame.attrs.get("cache_version") or 1)
        return fixed[1] if version < fixed[0] else None

    def remove(self, exchange: str, symbol: str, timeframe: str) -> None:
        """Delete one cached series (a stale file about to be fetched again whole)."""
        self.path(exchange, symbol, timeframe).unlink(missing_ok=True)

    def entries(self) -> list[CacheEntry]:
        """Everything in the cache, sorted by exchange, symbol, timeframe."""
        out: list[CacheEntry] = []
        if not self.root.exists():
            return out
        for f in sorted(self.root.glob("*/*.parquet")):
            stem = f.name[: -len(".parquet")]
            safe, _, tf = stem.rpartition("_")
            try:
                frame = pd.read_parquet(f)
                first = frame.index.min() if len(frame) else None
                last = frame.index.max() if len(frame) else None
                rows = len(frame)
            except Exception:  # a foreign or damaged file: list it, do not crash
                first = last = None
                rows = -1
            out.append(CacheEntry(f.parent.name, unsafe_symbol(safe), tf, rows, first, last, f))
        return out
