"""Volume profile, support/resistance levels and ATR (pure; arrays in, values out).

The seed article says to time the hedge's entry and exit with "a volume profile":
price levels where much volume traded act as support (below the price) and
resistance (above it). Definitions used here (units in every name; prices USD,
volume in the bar's own unit, usually the base coin):

* **Volume profile** — the window's price range ``[min low, max high]`` cut into
  ``bins`` equal bins; each bar's volume is spread **uniformly across its
  high–low range** (not dumped at its close), so a bar that spanned 60,000–61,000
  puts half its volume into 60,000–60,500. A bar with high = low puts it all in the
  bin holding that price. The profile's total equals the window's total volume.
* **Point of control (POC)** — the centre of the bin with the most volume.
* **Value area** — the bins around the POC holding ``value_area_pct`` (70 % by
  default, the CBOT Market Profile convention) of the volume, grown one bin at a
  time from the POC toward the side with more volume (Steidlmayer & Koy,
  *Markets and Market Logic*, 1986; CBOT *Market Profile* handbook). Its
  edges are the value-area high (VAH) and low (VAL).
* **High-/low-volume nodes (HVN/LVN)** — local maxima (minima) of the profile
  smoothed over 3 bins, above (below) the mean bin volume.
* **ATR** — Wilder's average true range (*New Concepts in Technical Trading
  Systems*, 1978): ``TR_t = max(h−l, |h−c_{t−1}|, |l−c_{t−1}|)``, the first ATR the
  mean of the first ``n`` TRs, then ``ATR_t = (ATR_{t−1}·(n−1) + TR_t)/n``.

Suggested limit prices (:func:`suggest_levels`): the hedge's **short entry sells
into resistance** — the nearest VAH/HVN/POC *above* the price within
``max_distance_atr`` ATRs; the **de-hedge buy-back buys at support** — the nearest
VAL/HVN/POC *below* it. None when no level is that close (then a market or
near-mark limit order is the honest choice). Whether this beats a market order is
an empirical question: see docs/levels.md (``benchmarks/bench_levels.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from althedge.errors import InputError

__all__ = [
    "LEVEL_KINDS",
    "Level",
    "SuggestedLevels",
    "VolumeProfile",
    "average_true_range",
    "resolve_limit_at",
    "suggest_levels",
    "volume_profile",
]

FloatArray = npt.NDArray[np.float64]
Side = Literal["sell", "buy"]
#: named levels ``--limit-at`` accepts (or a price)
LEVEL_KINDS: tuple[str, ...] = ("poc", "vah", "val", "hvn")


@dataclass(frozen=True)
class VolumeProfile:
    """Volume per price bin over a window (see the module docstring)."""

    bin_edges_usd: FloatArray  # len bins + 1, increasing
    volume: FloatArray  # len bins, ≥ 0, same unit as the input volume
    poc_usd: float
    value_area_low_usd: float
    value_area_high_usd: float
    value_area_pct: float  # the share asked for (70.0 = 70 %)
    value_area_volume_pct: float  # the share the value area actually holds (≥ asked)
    hvn_usd: tuple[float, ...]  # bin centres, increasing
    lvn_usd: tuple[float, ...]

    @property
    def bin_centers_usd(self) -> FloatArray:
        return (self.bin_edges_usd[:-1] + self.bin_edges_usd[1:]) / 2.0

    @property
    def total_volume(self) -> float:
        return float(self.volume.sum())


@dataclass(frozen=True)
class Level:
    """A suggested limit price and how far it is from the current price."""

    kind: str  # "vah" | "val" | "poc" | "hvn"
    price_usd: float
    distance_usd: float  # level − price (+ above)
    distance_pct: float  # 100·(level/price − 1)
    distance_atr: float  # |level − price| / ATR


@dataclass(frozen=True)
class SuggestedLevels:
    """Where to work the hedge's orders: sell into resistance, buy back at support."""

    price_usd: float
    atr_usd: float
    max_distance_atr: float
    short_entry: Level | None  # sell limit above the price
    buy_back: Level | None  # buy limit below the price


def _as_float(name: str, x: npt.ArrayLike) -> FloatArray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise InputError(f"{name}: must be one-dimensional, got shape {arr.shape}")
    return arr


def _clean_bars(
    high_usd: npt.ArrayLike, low_usd: npt.ArrayLike, volume: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    h, lo, v = _as_float("high_usd", high_usd), _as_float("low_usd", low_usd), _as_float(
        "volume", volume
    )
    if not (len(h) == len(lo) == len(v)):
        raise InputError(
            f"volume profile: high, low and volume differ in length ({len(h)}, {len(lo)}, "
            f"{len(v)})"
        )
    keep = np.isfinite(h) & np.isfinite(lo) & np.isfinite(v) & (v >= 0) & (lo > 0)
    h, lo, v = h[keep], lo[keep], v[keep]
    if np.any(h < lo):
        raise InputError("volume profile: a bar has high < low; check the price data")
    return h, lo, v


def _spread_volume(
    high_usd: FloatArray, low_usd: FloatArray, volume: FloatArray, edges_usd: FloatArray
) -> FloatArray:
    """Volume per bin, each bar's volume spread uniformly over [low, high].

    Cumulative share of bar i below edge e: ``clip((e − low)/(high − low), 0, 1)``; a
    bar with high = low counts as below e when its price is < e (the last edge holds
    everything), so bin k is ``[e_k, e_{k+1})`` and the top bin is closed.
    """
    rng = high_usd - low_usd
    e = edges_usd[:, None]
    flat = rng <= 0
    safe = np.where(flat, 1.0, rng)
    share = np.clip((e - low_usd[None, :]) / safe[None, :], 0.0, 1.0)
    share = np.where(flat[None, :], (e > low_usd[None, :]).astype(np.float64), share)
    share[-1, :] = 1.0
    share[0, :] = 0.0
    cumulative = share @ volume
    return np.maximum(np.diff(cumulative), 0.0)


def _value_area(volume: FloatArray, poc: int, pct: float) -> tuple[int, int, float]:
    """Grow from the POC bin toward the larger neighbour until ``pct`` % is inside."""
    total = float(volume.sum())
    lo = hi = poc
    inside = float(volume[poc])
    target = total * pct / 100.0
    n = len(volume)
    while inside < target - 1e-12 * total and (lo > 0 or hi < n - 1):
        below = volume[lo - 1] if lo > 0 else -1.0
        above = volume[hi + 1] if hi < n - 1 else -1.0
        if above >= below:
            hi += 1
            inside += float(volume[hi])
        else:
            lo -= 1
            inside += float(volume[lo])
    return lo, hi, (100.0 * inside / total if total > 0 else 0.0)


def _nodes(volume: FloatArray, centers: FloatArray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """HVN/LVN: local maxima/minima of the 3-bin smoothed profile above/below its mean."""
    if len(volume) < 3:
        return (), ()
    padded = np.concatenate([[volume[0]], volume, [volume[-1]]])
    smooth = (padded[:-2] + padded[1:-1] + padded[2:]) / 3.0
    mean = float(smooth.mean())
    hvn: list[float] = []
    lvn: list[float] = []
    n = len(smooth)
    for k in range(n):
        # an end bin is a node against its one neighbour (volume piled at the window's edge)
        left = smooth[k - 1] if k > 0 else -math.inf
        right = smooth[k + 1] if k < n - 1 else -math.inf
        mid = smooth[k]
        if mid >= left and mid > right and mid > mean:
            hvn.append(float(centers[k]))
        elif 0 < k < n - 1 and mid <= left and mid < right and mid < mean:
            lvn.append(float(centers[k]))
    return tuple(hvn), tuple(lvn)


def volume_profile(
    high_usd: npt.ArrayLike,
    low_usd: npt.ArrayLike,
    volume: npt.ArrayLike,
    *,
    bins: int = 50,
    value_area_pct: float = 70.0,
) -> VolumeProfile:
    """The volume profile of bars (high, low, volume); see the module docstring.

    Bars with a missing price or volume are skipped. Raises :class:`InputError` when
    ``bins`` < 3, ``value_area_pct`` is outside (0, 100], or no bar has volume.
    """
    if bins < 3 or bins > 10_000:
        raise InputError(f"bins: must be between 3 and 10000, got {bins}")
    if not (0.0 < value_area_pct <= 100.0):
        raise InputError(f"value area: must be in (0, 100] %, got {value_area_pct}")
    h, lo, v = _clean_bars(high_usd, low_usd, volume)
    if len(v) == 0 or float(v.sum()) <= 0:
        raise InputError(
            "volume profile: no bar in the window has a price range and volume; pick a "
            "longer window or data with volume"
        )
    top, bottom = float(h.max()), float(lo.min())
    if top <= bottom:
        top = bottom * (1.0 + 1e-6)
    edges = np.linspace(bottom, top, bins + 1)
    vol = _spread_volume(h, lo, v, edges)
    centers = (edges[:-1] + edges[1:]) / 2.0
    # ties (within float noise) go to the middle one of the tied bins (CBOT convention:
    # the one nearest the centre)
    tied = np.flatnonzero(vol >= vol.max() * (1.0 - 1e-9))
    poc = int(tied[(len(tied) - 1) // 2])
    lo_bin, hi_bin, va_share = _value_area(vol, poc, value_area_pct)
    hvn, lvn = _nodes(vol, centers)
    return VolumeProfile(
        bin_edges_usd=edges,
        volume=vol,
        poc_usd=float(centers[poc]),
        value_area_low_usd=float(edges[lo_bin]),
        value_area_high_usd=float(edges[hi_bin + 1]),
        value_area_pct=float(value_area_pct),
        value_area_volume_pct=va_share,
        hvn_usd=hvn,
        lvn_usd=lvn,
    )


def average_true_range(
    high_usd: npt.ArrayLike, low_usd: npt.ArrayLike, close_usd: npt.ArrayLike, period: int = 14
) -> float:
    """Wilder's ATR (USD) at the last bar; NaN with fewer than ``period`` true ranges.

    The first bar's true range is its high − low (no previous close).
    """
    if period < 1:
        raise InputError(f"ATR period: must be ≥ 1, got {period}")
    h, lo, c = _as_float("high_usd", high_usd), _as_float("low_usd", low_usd), _as_float(
        "close_usd", close_usd
    )
    keep = np.isfinite(h) & np.isfinite(lo) & np.isfinite(c)
    h, lo, c = h[keep], lo[keep], c[keep]
    if len(h) < period:
        return math.nan
    prev = np.concatenate([[np.nan], c[:-1]])
    tr = np.fmax(h - lo, np.fmax(np.abs(h - prev), np.abs(lo - prev)))
    atr = float(np.mean(tr[:period]))
    for x in tr[period:]:
        atr = (atr * (period - 1) + float(x)) / period
    return atr


def _level(kind: str, level_usd: float, price_usd: float, atr_usd: float) -> Level:
    d = level_usd - price_usd
    return Level(
        kind=kind,
        price_usd=level_usd,
        distance_usd=d,
        distance_pct=100.0 * (level_usd / price_usd - 1.0),
        distance_atr=abs(d) / atr_usd if atr_usd > 0 else math.inf,
    )


def _candidates(profile: VolumeProfile) -> list[tuple[str, float]]:
    out = [("vah", profile.value_area_high_usd), ("val", profile.value_area_low_usd),
           ("poc", profile.poc_usd)]
    out += [("hvn", p) for p in profile.hvn_usd if not math.isclose(p, profile.poc_usd)]
    return out


def suggest_levels(
    profile: VolumeProfile, price_usd: float, atr_usd: float, max_distance_atr: float = 3.0
) -> SuggestedLevels:
    """The nearest resistance above ``price_usd`` (short entry) and support below it
    (buy-back) among VAH/VAL/POC/HVNs, each within ``max_distance_atr`` ATRs; else None.

    A resistance is any candidate level strictly above the price (a VAL above the
    price is resistance too: the price is below value); support likewise below.
    """
    if not (price_usd > 0 and math.isfinite(price_usd)):
        raise InputError(f"price: must be a positive number, got {price_usd}")
    if max_distance_atr <= 0:
        raise InputError(f"--max-atr: must be > 0, got {max_distance_atr}")
    reach = max_distance_atr * atr_usd if math.isfinite(atr_usd) and atr_usd > 0 else math.inf
    above = sorted((p, k) for k, p in _candidates(profile) if p > price_usd and
                   p - price_usd <= reach)
    below = sorted(((p, k) for k, p in _candidates(profile) if p < price_usd and
                    price_usd - p <= reach), reverse=True)
    return SuggestedLevels(
        price_usd=price_usd,
        atr_usd=atr_usd,
        max_distance_atr=max_distance_atr,
        short_entry=_level(above[0][1], above[0][0], price_usd, atr_usd) if above else None,
        buy_back=_level(below[0][1], below[0][0], price_usd, atr_usd) if below else None,
    )


def resolve_limit_at(
    spec: str, side: Side, profile: VolumeProfile, price_usd: float, atr_usd: float,
    max_distance_atr: float = 3.0,
) -> float:
    """The limit price ``--limit-at`` names: ``poc`` | ``vah`` | ``val`` | ``hvn`` | a price.

    ``hvn`` is the nearest high-volume node on the passive side (above the price for
    a sell, below it for a buy), within ``max_distance_atr`` ATRs. Raises
    :class:`InputError` for an unknown name, a non-positive price, or no HVN there.
    """
    text = spec.strip().lower()
    if text == "poc":
        return profile.poc_usd
    if text == "vah":
        return profile.value_area_high_usd
    if text == "val":
        return profile.value_area_low_usd
    if text == "hvn":
        reach = max_distance_atr * atr_usd if math.isfinite(atr_usd) and atr_usd > 0 else math.inf
        nodes = [p for p in profile.hvn_usd
                 if (p > price_usd if side == "sell" else p < price_usd)
                 and abs(p - price_usd) <= reach]
        if not nodes:
            where = "above" if side == "sell" else "below"
            raise InputError(
                f"--limit-at: no high-volume node {where} the price {price_usd:,.2f} within "
                f"{max_distance_atr:g} ATR; use poc, vah, val or a price"
            )
        return min(nodes) if side == "sell" else max(nodes)
    try:
        value = float(text.replace(",", ""))
    except ValueError:
        raise InputError(
            f"--limit-at: {spec!r} is not poc, vah, val, hvn or a price, e.g. --limit-at vah"
        ) from None
    if not (value > 0 and math.isfinite(value)):
        raise InputError(f"--limit-at: a price must be a finite number > 0, got {spec!r}")
    return value
