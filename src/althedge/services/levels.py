"""Entry levels for the hedge: the volume profile of BTC/ETH and suggested limit prices.

``build_levels(source, "BTC", days=30, timeframe="1h")`` reads the hedge asset's
OHLCV bars over the window (data up to ``as_of`` only), computes the volume profile,
value area, nodes and ATR with :mod:`althedge.core.volume_profile`, and suggests
where to sell (short entry, resistance above the price) and buy back (support
below). ``LevelsReport.to_dict()`` is ``althedge levels --json`` and ``/api/levels``;
:func:`levels_figure` is the chart both the CLI (``--html``/``--png``) and the web
page show.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from althedge.core.volume_profile import (
    Level,
    SuggestedLevels,
    VolumeProfile,
    average_true_range,
    resolve_limit_at,
    suggest_levels,
    volume_profile,
)
from althedge.data import PriceSource
from althedge.data.sources import normalise_asset
from althedge.errors import DataError, InputError

__all__ = [
    "LevelsReport",
    "build_levels",
    "levels_figure",
    "limit_price_for",
    "limit_prices_for_assets",
    "suggestions",
    "write_levels_html",
    "write_levels_png",
]

DEFAULT_DAYS = 30
DEFAULT_BINS = 50
DEFAULT_VALUE_AREA_PCT = 70.0
DEFAULT_MAX_ATR = 3.0
ATR_PERIOD = 14
#: fewer bars than this in the window: the profile is too thin to mean much (warned)
MIN_BARS = 20


@dataclass(frozen=True)
class LevelsReport:
    """The volume profile of one asset and the suggested limit prices (USD)."""

    asset: str
    source: str
    timeframe: str
    days: int
    window_start: str
    window_end: str
    bars: int
    price_usd: float  # the last close in the window
    atr_usd: float
    atr_period: int
    bins: int
    poc_usd: float
    value_area_pct: float
    value_area_volume_pct: float
    value_area_high_usd: float
    value_area_low_usd: float
    hvn_usd: list[float]
    lvn_usd: list[float]
    price_vs_value_area: str  # "above" | "inside" | "below"
    max_distance_atr: float
    short_entry: dict[str, Any] | None
    buy_back: dict[str, Any] | None
    profile: list[dict[str, float]]  # one row per bin: price_low_usd, price_high_usd, volume
    warnings: list[str] = field(default_factory=list)
    candles: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("candles", None)
        return out


def _level_dict(level: Level | None) -> dict[str, Any] | None:
    return None if level is None else asdict(level)


def _bars(source: PriceSource, asset: str, timeframe: str) -> pd.DataFrame:
    """The asset's OHLCV frame from a file source or a ccxt source."""
    ohlcv = getattr(source, "ohlcv", None)
    if ohlcv is None:
        raise DataError(f"prices: {source.name} gives closes only; levels need OHLCV bars "
                        "(high, low, volume): use --prices DIR or --exchange ID")
    spot_symbol = getattr(source, "spot_symbol", None)
    key = spot_symbol(asset) if callable(spot_symbol) else asset
    frame = ohlcv(key, timeframe)
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"prices: {source.name} returned no OHLCV for {asset}")
    return frame


def _window(frame: pd.DataFrame, days: int, as_of: date | None) -> pd.DataFrame:
    frame = frame.sort_index()
    if as_of is not None:
        frame = frame.loc[frame.index < pd.Timestamp(as_of) + pd.Timedelta(days=1)]
    frame = frame.dropna(subset=["close"])
    if frame.empty:
        return frame
    end = frame.index[-1]
    return frame.loc[frame.index > end - pd.Timedelta(days=days)]


def _has_volume(frame: pd.DataFrame) -> bool:
    cols = {"high", "low", "volume"}
    if not cols <= set(frame.columns) or frame.empty:
        return False
    v = pd.to_numeric(frame["volume"], errors="coerce")
    ok = v.notna() & (v > 0) & frame["high"].notna() & frame["low"].notna()
    return bool(ok.sum() >= max(3, len(frame) // 2))


def build_levels(
    source: PriceSource,
    asset: str = "BTC",
    *,
    days: int = DEFAULT_DAYS,
    timeframe: str | None = None,
    bins: int = DEFAULT_BINS,
    value_area_pct: float = DEFAULT_VALUE_AREA_PCT,
    max_distance_atr: float = DEFAULT_MAX_ATR,
    as_of: date | None = None,
) -> LevelsReport:
    """Volume profile and suggested limit prices for ``asset`` over the last ``days``.

    ``timeframe`` None: hourly bars when the source has them with volume, else daily
    (the report warns). Raises :class:`InputError` for bad arguments and
    :class:`DataError` when the source has no usable bars.
    """
    if days < 1 or days > 3650:
        raise InputError(f"--days: must be between 1 and 3650, got {days}")
    if timeframe is not None and timeframe not in ("1h", "1d"):
        raise InputError(f"--timeframe: {timeframe!r} is not 1h or 1d")
    asset = normalise_asset(asset)
    warnings: list[str] = []
    tfs = [timeframe] if timeframe else ["1h", "1d"]
    frame = pd.DataFrame()
    used = tfs[0]
    for tf in tfs:
        try:
            raw = _bars(source, asset, tf)
        except DataError:
            if tf == tfs[-1]:
                raise
            continue
        frame, used = _window(raw, days, as_of), tf
        if _has_volume(frame):
            break
        if tf != tfs[-1]:
            warnings.append(f"the {tf} bars of {asset} in {source.name} carry no volume; "
                            "daily bars used (pass --prices with hourly OHLCV for finer levels)")
    if frame.empty:
        when = f" up to {as_of}" if as_of else ""
        raise DataError(f"prices: no {used} bars for {asset} in {source.name}{when}; "
                        "pick another --as-of or source")
    if not _has_volume(frame):
        raise DataError(f"prices: the {used} bars of {asset} in {source.name} carry no volume "
                        "in the window; levels need volume (use --prices DIR with OHLCV files)")
    if len(frame) < MIN_BARS:
        warnings.append(f"only {len(frame)} {used} bars in the window: the profile is thin; "
                        "pass a larger --days")
    high = frame["high"].to_numpy(dtype=float)
    low = frame["low"].to_numpy(dtype=float)
    close = frame["close"].to_numpy(dtype=float)
    vol = pd.to_numeric(frame["volume"], errors="coerce").to_numpy(dtype=float)
    prof = volume_profile(high, low, vol, bins=bins, value_area_pct=value_area_pct)
    price = float(close[-1])
    atr = average_true_range(high, low, close, ATR_PERIOD)
    if not math.isfinite(atr):
        warnings.append(f"fewer than {ATR_PERIOD} bars: no ATR; levels are not limited by "
                        "distance")
    sug = suggest_levels(prof, price, atr, max_distance_atr)
    if prof.value_area_low_usd <= price <= prof.value_area_high_usd:
        where = "inside"
    else:
        where = "above" if price > prof.value_area_high_usd else "below"
    edges = prof.bin_edges_usd
    return LevelsReport(
        asset=asset,
        source=source.name,
        timeframe=used,
        days=days,
        window_start=frame.index[0].isoformat(),
        window_end=frame.index[-1].isoformat(),
        bars=len(frame),
        price_usd=price,
        atr_usd=atr,
        atr_period=ATR_PERIOD,
        bins=bins,
        poc_usd=prof.poc_usd,
        value_area_pct=prof.value_area_pct,
        value_area_volume_pct=prof.value_area_volume_pct,
        value_area_high_usd=prof.value_area_high_usd,
        value_area_low_usd=prof.value_area_low_usd,
        hvn_usd=list(prof.hvn_usd),
        lvn_usd=list(prof.lvn_usd),
        price_vs_value_area=where,
        max_distance_atr=max_distance_atr,
        short_entry=_level_dict(sug.short_entry),
        buy_back=_level_dict(sug.buy_back),
        profile=[
            {"price_low_usd": float(edges[i]), "price_high_usd": float(edges[i + 1]),
             "volume": float(prof.volume[i])}
            for i in range(len(prof.volume))
        ],
        warnings=warnings,
        candles=frame[["open", "high", "low", "close"]].copy(),
    )


def _profile_of(report: LevelsReport) -> VolumeProfile:
    edges = np.array([r["price_low_usd"] for r in report.profile]
                     + [report.profile[-1]["price_high_usd"]])
    return VolumeProfile(
        bin_edges_usd=edges,
        volume=np.array([r["volume"] for r in report.profile]),
        poc_usd=report.poc_usd,
        value_area_low_usd=report.value_area_low_usd,
        value_area_high_usd=report.value_area_high_usd,
        value_area_pct=report.value_area_pct,
        value_area_volume_pct=report.value_area_volume_pct,
        hvn_usd=tuple(report.hvn_usd),
        lvn_usd=tuple(report.lvn_usd),
    )


def limit_price_for(report: LevelsReport, spec: str, side: str) -> float:
    """The price ``--limit-at SPEC`` names for an order on ``side`` ("sell"/"buy")."""
    if side not in ("sell", "buy"):
        raise InputError(f"side: must be sell or buy, got {side!r}")
    return resolve_limit_at(
        spec, "sell" if side == "sell" else "buy", _profile_of(report), report.price_usd,
        report.atr_usd, report.max_distance_atr,
    )


def suggestions(report: LevelsReport) -> SuggestedLevels:
    """The report's suggestions as core value objects."""
    return suggest_levels(_profile_of(report), report.price_usd, report.atr_usd,
                          report.max_distance_atr)


def levels_figure(report: LevelsReport) -> Any:
    """A plotly figure: candles on the left, the volume profile on the right, levels drawn."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, column_widths=[0.75, 0.25],
                        horizontal_spacing=0.01)
    c = report.candles
    if c is not None and not c.empty:
        fig.add_trace(go.Candlestick(
            x=[t.isoformat() for t in c.index], open=c["open"], high=c["high"], low=c["low"],
            close=c["close"], name=f"{report.asset} {report.timeframe}", showlegend=False,
        ), row=1, col=1)
    centers = [(r["price_low_usd"] + r["price_high_usd"]) / 2 for r in report.profile]
    in_va = [report.value_area_low_usd <= y <= report.value_area_high_usd for y in centers]
    fig.add_trace(go.Bar(
        x=[r["volume"] for r in report.profile], y=centers, orientation="h",
        marker_color=["#4c78a8" if v else "#bbbbbb" for v in in_va], name="volume",
        showlegend=False, hovertemplate="%{y:,.0f} USD: %{x:,.2f}<extra></extra>",
    ), row=1, col=2)
    lines: list[tuple[str, float, str, str]] = [
        ("POC", report.poc_usd, "#d62728", "solid"),
        ("VAH", report.value_area_high_usd, "#9467bd", "dash"),
        ("VAL", report.value_area_low_usd, "#9467bd", "dash"),
        ("price", report.price_usd, "#333333", "dot"),
    ]
    if report.short_entry:
        lines.append((f"sell limit ({report.short_entry['kind']})",
                      report.short_entry["price_usd"], "#2ca02c", "solid"))
    if report.buy_back:
        lines.append((f"buy-back limit ({report.buy_back['kind']})",
                      report.buy_back["price_usd"], "#ff7f0e", "solid"))
    merged: dict[float, tuple[str, float, str, str]] = {}
    for name, y, color, dash in lines:  # one line per price: "POC + buy-back limit (poc)"
        prev = merged.get(round(y, 8))
        merged[round(y, 8)] = (f"{prev[0]} + {name}", y, color, dash) if prev else (
            name, y, color, dash)
    for name, y, color, dash in merged.values():
        fig.add_hline(y=y, line_color=color, line_dash=dash, line_width=1.5, row=1, col=1,
                      annotation_text=f"{name} {y:,.0f}", annotation_position="top left",
                      annotation_font_color=color)
        fig.add_hline(y=y, line_color=color, line_dash=dash, line_width=1.5, row=1, col=2)
    fig.update_layout(
        template="plotly_white", height=520, margin={"l": 60, "r": 20, "t": 50, "b": 40},
        title=f"{report.asset} volume profile, {report.days} days of {report.timeframe} bars "
              f"to {report.window_end[:16]} ({report.source})",
        xaxis_rangeslider_visible=False,
    )
    fig.update_yaxes(title_text="USD", row=1, col=1)
    fig.update_xaxes(title_text="volume", row=1, col=2)
    return fig


def write_levels_html(report: LevelsReport, path: str | Path) -> Path:
    """The chart as one self-contained HTML page (plotly.js inlined; no network)."""
    from althedge.files import atomic_write_bytes

    out = Path(path)
    body = levels_figure(report).to_html(full_html=True, include_plotlyjs=True,
                                         div_id="levels-chart")
    atomic_write_bytes(out, body.encode("utf-8"), "--html")
    return out


def write_levels_png(report: LevelsReport, path: str | Path) -> Path:
    """The chart as a PNG (matplotlib, Agg): closes, the profile, the levels."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from althedge.files import atomic_write_bytes

    fig, (ax, axp) = plt.subplots(1, 2, sharey=True, figsize=(11, 5.5),
                                  gridspec_kw={"width_ratios": [3, 1], "wspace": 0.02})
    c = report.candles
    if c is not None and not c.empty:
        ax.fill_between(c.index, c["low"], c["high"], color="#9ecae1", lw=0)
        ax.plot(c.index, c["close"], color="#08519c", lw=1)
    centers = [(r["price_low_usd"] + r["price_high_usd"]) / 2 for r in report.profile]
    height = report.profile[0]["price_high_usd"] - report.profile[0]["price_low_usd"]
    axp.barh(centers, [r["volume"] for r in report.profile], height=height * 0.9,
             color=["#4c78a8" if report.value_area_low_usd <= y <= report.value_area_high_usd
                    else "#bbbbbb" for y in centers])
    marks = [("POC", report.poc_usd, "#d62728"), ("VAH", report.value_area_high_usd, "#9467bd"),
             ("VAL", report.value_area_low_usd, "#9467bd"), ("price", report.price_usd, "#333")]
    if report.short_entry:
        marks.append(("sell limit", report.short_entry["price_usd"], "#2ca02c"))
    if report.buy_back:
        marks.append(("buy-back limit", report.buy_back["price_usd"], "#ff7f0e"))
    merged: dict[float, tuple[str, float, str]] = {}
    for name, y, color in marks:
        prev = merged.get(round(y, 8))
        merged[round(y, 8)] = (f"{prev[0]} + {name}", y, color) if prev else (name, y, color)
    for name, y, color in merged.values():
        for a in (ax, axp):
            a.axhline(y, color=color, lw=1, ls="--" if name in ("VAH", "VAL") else "-")
        ax.annotate(f"{name} {y:,.0f}", (0.01, y), xycoords=("axes fraction", "data"),
                    color=color, fontsize=8, va="bottom")
    ax.set_ylabel("USD")
    ax.set_title(f"{report.asset} volume profile, {report.days} days of {report.timeframe} bars")
    axp.set_xlabel("volume")
    fig.autofmt_xdate()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    out = Path(path)
    atomic_write_bytes(out, buf.getvalue(), "--png")
    return out


#: a named level from bars older than this (days before ``fresh_on``) is refused
MAX_LEVEL_AGE_DAYS = 3


def limit_prices_for_assets(
    source: PriceSource, assets: list[str], spec: str, side: str, as_of: date | None = None,
    *, fresh_on: date | None = None, **options: Any,
) -> dict[str, float]:
    """``--limit-at SPEC`` resolved per hedge asset: ``{"BTC": 81572.4, …}``.

    A named level (poc/vah/val/hvn) comes from each asset's volume profile as of
    ``as_of`` (:func:`build_levels` with ``options``); with ``fresh_on`` (a real venue:
    today) bars ending more than :data:`MAX_LEVEL_AGE_DAYS` before it are refused — a
    level from stale data could sit anywhere against today's price. A plain price
    applies only to a single-asset hedge (two assets cannot share one price).
    """
    text = spec.strip().lower()
    if text not in ("poc", "vah", "val", "hvn"):
        price = resolve_limit_at(text, "sell" if side == "sell" else "buy",
                                 _dummy_profile(), 1.0, math.nan)
        if len(assets) > 1:
            raise InputError("--limit-at: a price applies to one hedge asset; this hedge has "
                             f"{' and '.join(assets)} — use poc, vah, val or hvn")
        return {normalise_asset(assets[0]): price}
    out: dict[str, float] = {}
    for a in assets:
        report = build_levels(source, a, as_of=as_of, **options)
        end = pd.Timestamp(report.window_end).date()
        if fresh_on is not None and (fresh_on - end).days > MAX_LEVEL_AGE_DAYS:
            raise DataError(
                f"--limit-at: the {a} bars in {source.name} end on {end}; levels need current "
                "data: pass --prices with fresh files (althedge data fetch) or a price"
            )
        out[normalise_asset(a)] = limit_price_for(report, text, side)
    return out


def _dummy_profile() -> VolumeProfile:
    return VolumeProfile(bin_edges_usd=np.array([0.0, 1.0]), volume=np.array([0.0]), poc_usd=0.0,
                         value_area_low_usd=0.0, value_area_high_usd=0.0, value_area_pct=70.0,
                         value_area_volume_pct=0.0, hvn_usd=(), lvn_usd=())
