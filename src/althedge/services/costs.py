"""Real funding for each hedge leg of a backtest: every settlement at its own time.

Which history a leg pays (``docs/backtest.md``, "Funding per leg"):

* linear perpetual on Binance (and OKX, which has no history here): that asset's own
  Binance USDⓈ-M settlements (``binance/funding_8h/<A>USDT_funding.csv``, or a bundled
  ``<A>USDT_funding_8h.parquet``) — ETH pays ETH's funding, not BTC's;
* linear perpetual on Bybit: Bybit's own settlements (``bybit/funding_8h``, 2021–2023);
  outside those years the Binance history of the same asset stands in (said in a warning);
* inverse (coin-margined) BTC perpetual: BitMEX XBTUSD (2016-05 → 2020-11) and, from
  where BitMEX ends, Deribit BTC-PERPETUAL realised hourly funding (→ 2021-02-25). After
  2021-02-25 — and for ETH inverse in every year — no real inverse funding exists in the
  data: the assumed rate per 8 h is used there and the warning counts those bars.

A settlement at time τ is paid by the position held over the bar that contains it:
bar t (opening at ``index[t]``, lasting ``bar``) collects every event with
index[t] < τ ≤ index[t] + bar. So an hourly backtest sees three payments a day, at 00:00,
08:00 and 16:00 UTC, not a daily mean smeared over 24 bars.

Liquidation is checked against the **mark price** where the folder has Binance's hourly
mark candles (``binance/mark_1h/<A>USDT_mark_1h.csv``, BTC and ETH from 2019-12-23):
:func:`mark_high_per_bar` gives, for a short, the highest mark over each bar (the
highest hourly mark high among the candles inside it); bars without mark data use the
close, as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path

import numpy as np
import pandas as pd

from althedge.data.files import read_funding_events, read_ohlcv

__all__ = ["FundingHistory", "find_funding_history", "funding_per_bar", "mark_high_per_bar"]


@dataclass(frozen=True)
class FundingHistory:
    """Funding settlements of one perpetual: ``events`` (rate per settlement, + = longs pay
    shorts) indexed by settlement time (UTC), and where they come from."""

    events: pd.Series
    label: str

    @property
    def first(self) -> pd.Timestamp:
        return pd.Timestamp(self.events.index[0])

    @property
    def last(self) -> pd.Timestamp:
        return pd.Timestamp(self.events.index[-1])


def _child(root: Path | Traversable, *parts: str) -> Path | Traversable | None:
    node: Path | Traversable = root
    for part in parts:
        node = node / part
    return node if node.is_file() else None


def _load(root: Path | Traversable, candidates: list[tuple[str, ...]]) -> FundingHistory | None:
    for parts in candidates:
        f = _child(root, *parts)
        if f is not None:
            events = read_funding_events(f, name="/".join(parts))
            if not events.empty:
                return FundingHistory(events, "/".join(parts))
    return None


def find_funding_history(
    root: Path | Traversable | None, exchange: str, asset: str, contract: str
) -> list[FundingHistory]:
    """Settlement histories for a leg, in order of preference (later ones fill the years the
    earlier ones do not cover). Empty when the folder has none (the caller then falls back
    to the source's daily means or the assumed rate)."""
    if root is None:
        return []
    a = asset.upper()
    own = [("binance", "funding_8h", f"{a}USDT_funding.csv"), (f"{a}USDT_funding_8h.parquet",)]
    found: list[FundingHistory | None] = []
    if contract == "inverse":
        if a == "BTC":
            bitmex = _load(root, [("inverse_funding", "BITMEX_XBTUSD_funding.csv")])
            deribit = _load(root, [("inverse_funding", "DERIBIT_BTC-PERPETUAL_funding_1h.csv")])
            found = [deribit, bitmex] if exchange == "deribit" else [bitmex, deribit]
        return [h for h in found if h is not None]
    if exchange == "bybit":
        found.append(_load(root, [("bybit", "funding_8h", f"{a}USDT_funding.csv")]))
    found.append(_load(root, own))
    return [h for h in found if h is not None]


def funding_per_bar(
    histories: list[FundingHistory], index: pd.DatetimeIndex, bar: pd.Timedelta,
    assumed_8h: float,
) -> tuple[np.ndarray, int, list[str]]:
    """Funding rate paid in each bar (sum of the settlements falling in it), the number of
    bars no history covers (charged ``assumed_8h`` × bar hours / 8) and the labels used.

    Each history covers [its first event − one interval, its last event]; a bar takes the
    first history (in the order given) that covers its end.
    """
    idx = pd.DatetimeIndex(index).as_unit("ns")
    n = len(idx)
    out = np.full(n, np.nan)
    ends = (idx + bar).asi8
    starts = idx.asi8
    used: list[str] = []
    for h in histories:
        ev = h.events.sort_index()
        t = pd.DatetimeIndex(ev.index).as_unit("ns").asi8
        r = ev.to_numpy(dtype=float)
        step = int(np.median(np.diff(t))) if t.size > 1 else bar.value
        covered = (ends > t[0] - step) & (ends <= t[-1]) & np.isnan(out)
        if not covered.any():
            continue
        csum = np.r_[0.0, np.cumsum(r)]
        # events with starts < τ ≤ ends: indices (searchsorted right of start, right of end]
        lo = np.searchsorted(t, starts, side="right")
        hi = np.searchsorted(t, ends, side="right")
        out[covered] = (csum[hi] - csum[lo])[covered]
        used.append(h.label)
    missing = int(np.isnan(out).sum())
    out[np.isnan(out)] = assumed_8h * (bar / pd.Timedelta(hours=8))
    return out, missing, used


def mark_high_per_bar(
    root: Path | Traversable | None, asset: str, index: pd.DatetimeIndex, bar: pd.Timedelta,
    closes: np.ndarray,
) -> tuple[np.ndarray, int] | None:
    """Highest Binance USDⓈ-M mark price over each bar (candles opening in
    [index[t], index[t] + bar)), at least the bar's close; and how many bars had mark data.
    None when the folder has no mark candles for ``asset``."""
    if root is None:
        return None
    f = _child(root, "binance", "mark_1h", f"{asset.upper()}USDT_mark_1h.csv")
    if f is None:
        return None
    raw = read_ohlcv(f, name=f"binance/mark_1h/{asset.upper()}USDT_mark_1h.csv")
    raw = raw[(raw["parse_error"] == "").to_numpy() & np.asarray(raw.index.notna())]
    high = raw["high"].where(raw["high"] > 0).fillna(raw["close"]).dropna()
    high = high[~high.index.duplicated(keep="last")].sort_index()
    t = pd.DatetimeIndex(high.index).as_unit("ns").asi8
    starts = pd.DatetimeIndex(index).as_unit("ns").asi8
    which = np.searchsorted(starts, t, side="right") - 1  # the bar each candle opens in
    inside = (which >= 0) & (t < starts[np.maximum(which, 0)] + bar.value)
    best = np.full(len(starts), -np.inf)
    np.maximum.at(best, which[inside], high.to_numpy(dtype=float)[inside])
    has = np.isfinite(best)
    out = np.maximum(np.asarray(closes, dtype=float), np.where(has, best, -np.inf))
    return out, int(has.sum())
