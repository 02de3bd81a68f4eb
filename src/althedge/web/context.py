"""What the dashboard reads and does, through the services only (no HTTP here).

Each function returns the same dict the CLI prints with ``--json`` (one builder for
both: the service's ``to_dict()`` made JSON-safe by :func:`jsonable`). The venue is
opened the way the CLI opens it: the open hedge's venue from the journal, else the
server's ``--venue`` (paper by default), with the paper clock at the server's ``--at``.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

from althedge.errors import InputError
from althedge.files import jsonable

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class ServerConfig:
    """How ``althedge serve`` was started."""

    portfolios: list[Path]
    prices: str | None = None  # price folder; None = bundled
    data_dir: Path | None = None
    venue: str = "paper"
    at: date | None = None  # paper clock
    allow_live: bool = False
    host: str = "127.0.0.1"
    port: int = 8765
    token: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    token_given: bool = False
    demo: bool = False
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def loopback(self) -> bool:
        return self.host in LOOPBACK

    def portfolio_path(self, index: int | None) -> Path:
        i = 0 if index is None else index
        if not 0 <= i < len(self.portfolios):
            raise InputError(f"portfolio: no portfolio #{i}; pick one of the list "
                             f"(0–{len(self.portfolios) - 1})")
        return self.portfolios[i]

    @cached_property
    def source(self) -> Any:
        from althedge.data import open_source

        return open_source(self.prices)


# --------------------------------------------------------------------------- plan / levels


def plan_dict(cfg: ServerConfig, portfolio: int | None, as_of: date | None) -> dict[str, Any]:
    """``althedge plan FILE --as-of D --json``."""
    from althedge.config import load_portfolio
    from althedge.data import open_source
    from althedge.services.plan import build_plan

    path = cfg.portfolio_path(portfolio)
    pf = load_portfolio(path)
    source = cfg.source
    if cfg.prices is None and pf.hedge.price_source:
        source = open_source((path.parent / pf.hedge.price_source).resolve())
    out: dict[str, Any] = jsonable(build_plan(pf, source, as_of).to_dict())
    return out


def levels_dict(cfg: ServerConfig, asset: str, days: int, timeframe: str | None, bins: int,
                as_of: date | None) -> tuple[dict[str, Any], Any]:
    """``althedge levels ASSET … --json`` and the chart's figure."""
    from althedge.services.levels import build_levels, levels_figure

    report = build_levels(cfg.source, asset, days=days, timeframe=timeframe, bins=bins,
                          as_of=as_of or cfg.at)
    return jsonable(report.to_dict()), levels_figure(report)


# --------------------------------------------------------------------------- hedge


@contextmanager
def _journal(cfg: ServerConfig) -> Iterator[Any]:
    from althedge.journal import Journal
    from althedge.services import state

    journal = Journal(state.journal_path(cfg.data_dir))
    try:
        yield journal
    finally:
        journal.close()


def _venue(cfg: ServerConfig, journal: Any, *, live: bool) -> tuple[Any, Any]:
    """(venue, source) for the open hedge (or the server's venue when none is open)."""
    from althedge.data import open_source
    from althedge.services import state
    from althedge.services.hedge import HedgeRecord

    row = journal.active_hedge()
    hedge = HedgeRecord.from_row(row) if row is not None else None
    name = (hedge.venue_id if hedge else None) or cfg.venue
    prices = cfg.prices or (hedge.prices if hedge else None)
    source = cfg.source if prices == cfg.prices else open_source(prices)
    if name == "paper":
        from althedge.venues.paper import PaperExchange

        return PaperExchange.open(state.paper_dir(cfg.data_dir), source=source, at=cfg.at,
                                  persist=live), source
    from althedge.venues.ccxt_venue import CcxtVenue
    from althedge.venues.credentials import load_credentials

    credentials = load_credentials(name, required=live)  # stays on the server
    return CcxtVenue.create(name, credentials, testnet=bool(hedge.testnet if hedge else False)
                            ), source


def _as_of(venue: Any, at: date | None) -> date | None:
    if at is not None:
        return at
    clock = getattr(venue, "today", None)
    clock = clock() if callable(clock) else clock
    return clock if isinstance(clock, date) else None


def _save(venue: Any) -> None:
    save = getattr(venue, "save", None)
    if callable(save):
        save()


def status_dict(cfg: ServerConfig) -> dict[str, Any]:
    """``althedge hedge status --json`` (reconciled first; the paper account saved, as there)."""
    from althedge.services.hedge import hedge_status, reconcile

    with cfg.lock, _journal(cfg) as journal:
        venue, source = _venue(cfg, journal, live=True)
        rec = reconcile(journal, venue)
        status = hedge_status(journal, venue, source, as_of=_as_of(venue, cfg.at), rec=rec)
        _save(venue)
    out: dict[str, Any] = jsonable(status.to_dict())
    return out


def history_dict(cfg: ServerConfig) -> dict[str, Any]:
    """The journal's snapshots of the open (else the last) hedge, and every alert."""
    with cfg.lock, _journal(cfg) as journal:
        row = journal.active_hedge()
        hedges = journal.hedges()
        hedge_id = row.id if row is not None else (hedges[-1].id if hedges else None)
        snaps = journal.snapshots(hedge_id) if hedge_id is not None else []
        alerts = journal.alerts()
    points = [
        {"at": s.get("at"), "as_of": s.get("as_of"),
         "hedge_ratio_achieved": s.get("hedge_ratio_achieved"),
         "current_beta": s.get("current_beta"), "target_beta": s.get("target_beta"),
         "funding_usd": s.get("funding_usd"), "unrealised_pnl_usd": s.get("unrealised_pnl_usd"),
         "portfolio_pnl_usd": s.get("portfolio_pnl_usd"),
         "liquidation_distance_pct": s.get("liquidation_distance_pct")}
        for s in snaps
    ]
    return jsonable({"hedge_id": hedge_id, "snapshots": points, "alerts": alerts[-50:]})


def monitor_once(cfg: ServerConfig) -> dict[str, Any]:
    """One monitor check now: ``althedge monitor --iterations 1 --json`` (a journal
    snapshot and any new alert; default thresholds)."""
    from althedge.services.monitor import run_monitor

    with cfg.lock, _journal(cfg) as journal:

        def venue_at(day: date | None) -> tuple[Any, Any, date | None]:
            venue, source = _venue(cfg, journal, live=True)
            return venue, source, _as_of(venue, day or cfg.at)

        summary = run_monitor(journal, venue_at, every_s=0.0, iterations=1, start=cfg.at,
                              on_line=lambda _line: None)
    out: dict[str, Any] = jsonable(summary.to_dict())
    return out


ACTIONS = ("open", "rebalance", "close")


def hedge_action(cfg: ServerConfig, action: str, *, live: bool, portfolio: int | None = None,
                 threshold_pct: float = 10.0, limit_at: str | None = None) -> dict[str, Any]:
    """Preview (``live=False``: the exact orders, nothing sent) or run a lifecycle action.

    The same service calls as ``althedge hedge open|rebalance|close [--live] --json``;
    the caps in the portfolio's ``[limits]`` apply inside them either way.
    """
    from althedge.services.hedge import (
        ExecutionSettings,
        HedgeRecord,
        close_hedge,
        open_hedge,
        rebalance_hedge,
        reconcile,
    )
    from althedge.services.levels import limit_prices_for_assets

    if action not in ACTIONS:
        raise InputError(f"action: {action!r} is not open, rebalance or close")
    with cfg.lock, _journal(cfg) as journal:
        venue, source = _venue(cfg, journal, live=live)
        rec = reconcile(journal, venue)
        as_of = _as_of(venue, cfg.at)
        # a real exchange trades today: levels from stale bars are refused
        fresh = None if getattr(venue, "name", "") == "paper" else date.today()
        if action == "open":
            from althedge.config import load_portfolio

            path = cfg.portfolio_path(portfolio)
            pf = load_portfolio(path)
            levels = (limit_prices_for_assets(source, list(pf.hedge.assets), limit_at, "sell",
                                              as_of, fresh_on=fresh) if limit_at else {})
            result: Any = open_hedge(
                journal, venue, pf, source, as_of=as_of, live=live, rec=rec,
                execution=ExecutionSettings(limit_prices_usd=levels, limit_at=limit_at),
                portfolio_path=str(path),
                extra_settings={"venue_id": cfg.venue, "prices": cfg.prices, "testnet": False},
            )
        elif action == "rebalance":
            result = rebalance_hedge(journal, venue, source, threshold_pct=threshold_pct,
                                     as_of=as_of, live=live, rec=rec)
        else:
            row = journal.active_hedge()
            assets = [leg.hedge_asset for leg in HedgeRecord.from_row(row).legs] if row else []
            levels = (limit_prices_for_assets(source, assets, limit_at, "buy", as_of,
                                              fresh_on=fresh) if limit_at and assets else {})
            result = close_hedge(journal, venue, source, as_of=as_of, live=live, rec=rec,
                                 execution=ExecutionSettings(limit_prices_usd=levels,
                                                             limit_at=limit_at))
        if live:
            _save(venue)
    out: dict[str, Any] = jsonable(result.to_dict())
    return out


# --------------------------------------------------------------------------- data


def data_dict(cfg: ServerConfig, refresh: bool = False) -> dict[str, Any]:
    """The price source's series (first/last bar, rows) and their quality findings
    (computed once per server; ``refresh`` recomputes)."""
    if refresh or "data" not in cfg.cache:
        cfg.cache["data"] = _data_dict(cfg)
    out: dict[str, Any] = cfg.cache["data"]
    return out


def _data_dict(cfg: ServerConfig) -> dict[str, Any]:
    from althedge.data.quality import check_series

    source = cfg.source
    series: list[dict[str, Any]] = []
    findings: list[dict[str, Any]] = []
    tfs = source.timeframes() if hasattr(source, "timeframes") else ["1d"]
    for tf in tfs:
        for asset in source.symbols(tf):
            raw = source.raw(asset, tf)
            frame = source.ohlcv(asset, tf)
            idx = frame.index
            entry = source.entry(asset, tf)
            label = asset if tf == "1d" else f"{asset} {tf}"
            found = check_series(label, raw, timeframe=tf)
            series.append({
                "asset": asset, "timeframe": tf, "file": str(Path(str(entry.file)).name),
                "first": idx.min().isoformat() if len(idx) else None,
                "last": idx.max().isoformat() if len(idx) else None,
                "rows": len(frame),
                "has_volume": bool(frame["volume"].notna().any()) if "volume" in frame else False,
                "errors": sum(f.severity == "error" for f in found),
                "warnings": sum(f.severity == "warning" for f in found),
            })
            findings.extend(f.to_dict() for f in found)
    return jsonable({"source": source.name, "series": series, "findings": findings})
