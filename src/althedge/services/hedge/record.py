"""The journal's hedge row as a typed record, parsed once.

:class:`HedgeRecord` is the only place that reads the JSON the journal keeps for a
hedge (``portfolio_json``, ``settings_json``); every other module of the lifecycle
reads attributes. Two settings forms exist:

* current: ``settings["legs"]`` lists every leg (symbol, hedge asset, leverage,
  margin mode, exchange, settlement balance and mark at open), primary first;
* older (before multi-leg hedges): one leg whose fields are the top-level settings
  (``hedge_asset``, ``leverage``, ``margin_mode``, ``balance_open_settle``,
  ``mark_open``) on the hedge row's ``symbol``.

Both parse to the same ``legs`` tuple. :func:`settings_for_open` writes the current
form (with the primary's fields also at the top level, so an older reader still
finds them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from althedge.journal import HedgeRow

__all__ = ["HedgeRecord", "LegRecord", "PortfolioRecord", "settings_for_open"]


def _opt_float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


@dataclass(frozen=True)
class LegRecord:
    """One leg as opened: the short on ``symbol``.

    ``balance_open_settle``: the venue balance in the leg's settlement currency before
    the hedge (coin for inverse), ``mark_open``: the leg's mark at open (USD).
    ``pnl_open_settle``: for a position ``hedge adopt`` journaled, its PnL at the
    adoption's mark by the journal's fills (settlement currency) — already in
    ``balance_open_settle``, so the balance check takes it out; None otherwise.
    """

    symbol: str
    hedge_asset: str = ""
    leverage: float = 1.0
    margin_mode: str | None = None
    exchange: str | None = None
    balance_open_settle: float | None = None
    mark_open: float | None = None
    opened_ms: int | None = None
    pnl_open_settle: float | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], symbol: str | None = None) -> LegRecord:
        return cls(
            symbol=str(d.get("symbol") or symbol or ""),
            hedge_asset=str(d.get("hedge_asset") or ""),
            leverage=float(d.get("leverage") or 1.0),
            margin_mode=None if d.get("margin_mode") is None else str(d["margin_mode"]),
            exchange=None if d.get("exchange") is None else str(d["exchange"]),
            balance_open_settle=_opt_float(d.get("balance_open_settle")),
            mark_open=_opt_float(d.get("mark_open")),
            opened_ms=None if d.get("opened_ms") is None else int(d["opened_ms"]),
            pnl_open_settle=_opt_float(d.get("pnl_open_settle")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "hedge_asset": self.hedge_asset,
            "leverage": self.leverage,
            "margin_mode": self.margin_mode,
            "exchange": self.exchange,
            "balance_open_settle": self.balance_open_settle,
            "mark_open": self.mark_open,
            "opened_ms": self.opened_ms,
            "pnl_open_settle": self.pnl_open_settle,
        }


@dataclass(frozen=True)
class PortfolioRecord:
    """The portfolio as it was at open: its config, amounts and prices (USD)."""

    config: Mapping[str, Any]
    amounts: Mapping[str, float]
    prices_open: Mapping[str, float]
    value_open_usd: float
    beta_open: float
    correlation_open: float | None = None
    path: str | None = None
    as_of: str = ""

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PortfolioRecord:
        return cls(
            config=dict(d.get("config") or {}),
            amounts={str(k): float(v) for k, v in (d.get("amounts") or {}).items()},
            prices_open={str(k): float(v) for k, v in (d.get("prices_open") or {}).items()},
            value_open_usd=float(d.get("value_open_usd") or 0.0),
            beta_open=float(d.get("beta_open") or 0.0),
            correlation_open=_opt_float(d.get("correlation_open")),
            path=None if d.get("path") is None else str(d["path"]),
            as_of=str(d.get("as_of") or ""),
        )


@dataclass(frozen=True)
class HedgeRecord:
    """One hedge as journaled (see the module docstring for the two settings forms)."""

    id: int
    status: str
    venue: str
    symbol: str
    opened_at: str
    closed_at: str | None
    key: str
    legs: tuple[LegRecord, ...]
    portfolio: PortfolioRecord
    execution: Mapping[str, Any] = field(default_factory=dict)
    balance_open_usd: float | None = None
    #: how the CLI reopens the venue: its id, the prices folder, testnet or not
    venue_id: str | None = None
    prices: str | None = None
    testnet: bool = False
    attribution: Mapping[str, Any] | None = None

    @classmethod
    def from_row(cls, row: HedgeRow) -> HedgeRecord:
        s = row.settings
        raw_legs: Sequence[Mapping[str, Any]] = s.get("legs") or [s]
        return cls(
            id=row.id,
            status=row.status,
            venue=row.venue,
            symbol=row.symbol,
            opened_at=row.opened_at,
            closed_at=row.closed_at,
            key=str(s.get("hedge_key") or f"{row.id}:{row.opened_at}"),
            legs=tuple(
                LegRecord.from_dict(leg, symbol=row.symbol if i == 0 else None)
                for i, leg in enumerate(raw_legs)
            ),
            portfolio=PortfolioRecord.from_dict(row.portfolio),
            execution=dict(s.get("execution") or {}),
            balance_open_usd=_opt_float(s.get("balance_open_usd")),
            venue_id=None if s.get("venue_id") is None else str(s["venue_id"]),
            prices=None if s.get("prices") is None else str(s["prices"]),
            testnet=bool(s.get("testnet", False)),
            attribution=row.attribution,
        )

    @property
    def symbols(self) -> list[str]:
        """The legs' symbols, primary first."""
        return [leg.symbol for leg in self.legs]


def settings_for_open(
    *,
    key: str,
    legs: Sequence[LegRecord],
    execution: Mapping[str, Any],
    balance_open_usd: float | None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The hedge row's settings JSON for a new hedge (current form; the primary leg's
    fields repeated at the top level for readers of the older one-leg form)."""
    primary = legs[0]
    return {
        "hedge_key": key,
        "leverage": primary.leverage,
        "margin_mode": primary.margin_mode,
        "execution": dict(execution),
        "exchange": primary.exchange,
        "balance_open_usd": balance_open_usd,
        "balance_open_settle": primary.balance_open_settle,
        "mark_open": primary.mark_open,
        "hedge_asset": primary.hedge_asset,
        "legs": [leg.to_dict() for leg in legs],
        **(extra or {}),
    }
