"""The paper exchange: the :class:`~althedge.venues.protocol.Venue` protocol, simulated.

Every number comes from :mod:`althedge.core` — position value and PnL
(:mod:`althedge.core.pnl`), initial margin, liquidation and bankruptcy prices per
exchange (:mod:`althedge.core.margin`), funding (:mod:`althedge.core.funding`).
Nothing is re-derived here; this module only keeps the books.

Model
-----
* **Prices.** One feed per base asset (``"BTC"``): a ``pandas.Series`` of USD closes
  (the mark at time t is the last close at or before t) or a callable
  ``f(timestamp) -> price``. A data-layer ``PriceSource`` can supply the feeds
  lazily (:meth:`PaperExchange.open`). The clock moves only through
  :meth:`PaperExchange.advance_to`.
* **Fills.** A market order fills at ``mark·(1 ± slippage)`` (buy pays up, sell
  receives less) and pays the taker fee. A limit order that is marketable when
  placed fills the same way but never beyond its limit; otherwise it rests and
  fills at its limit price, as maker, when the mark reaches it during
  :meth:`advance_to`. ``post_only`` orders that would cross are rejected.
  ``partial_fill_fraction`` (e.g. 0.4) makes every fill event take only that
  fraction of what is left (at least one lot step); a market order's unfilled rest
  is then cancelled (IOC), a limit order's rest keeps resting.
* **Fees** are PAID in the settlement currency: fee rate × position value
  (linear Q·CS·P USD, inverse Q·CS/P coin; ``core.pnl.position_value_*``).
* **Margin.** Isolated, one-way. Opening moves ``core.margin.initial_margin`` at the
  fill price from the wallet into the position; reducing releases the same share
  of the isolated margin plus the realised PnL. Funding is booked to the isolated
  margin (it moves the liquidation price, as on Binance isolated positions).
  ``balances=None`` ("auto-fund") deposits whatever the margin and fees need and
  records it in :attr:`PaperExchange.deposits`, so equity − deposits is the PnL.
* **Funding** at every ``funding_interval_hours`` boundary (00:00, 08:00, 16:00 UTC
  for 8 h) for perpetuals: ``core.funding.funding_payment`` with the rate from the
  funding feed (per 8 h, scaled to the interval) or the fixed ``funding_rate_8h``.
* **Liquidation.** At each price point the position's liquidation price is
  recomputed with ``core.margin.liquidation_price`` (the instrument's exchange
  formula and tier table, wallet balance = isolated margin). When the mark
  crosses it the position is closed at ``core.margin.bankruptcy_price``: the
  isolated margin is lost, nothing more. Daily closes hide intraday spikes; feed
  hourly closes for a finer check.
* **Idempotency.** Orders are keyed by client order id: placing the same id again
  returns the stored order and fills nothing.

State (:meth:`to_dict`/:meth:`from_dict`, :meth:`save`/:meth:`open`) is plain JSON;
price feeds are not stored, they are supplied again when the state is loaded.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from althedge.core.currencies import USD_LIKE
from althedge.core.funding import funding_payment
from althedge.core.instruments import (
    BUILTIN_INSTRUMENTS,
    ContractType,
    Instrument,
    Side,
    get_instrument,
)
from althedge.core.margin import (
    bankruptcy_price,
    forfeited_margin,
    initial_margin,
    liquidation_price,
)
from althedge.core.pnl import Position, position_value_coin, position_value_usd
from althedge.errors import (
    AlthedgeError,
    DataError,
    ExchangeError,
    InputError,
    OutputError,
    UnknownInstrumentError,
    os_problem,
)
from althedge.venues.execution import ExecutesOrders, round_to_step
from althedge.venues.protocol import (
    Deposit,
    Fee,
    Fill,
    FundingPayment,
    OrderRequest,
    OrderResult,
    VenuePosition,
)

__all__ = ["STATE_FILE", "PaperExchange", "PriceFeed"]

PriceFeed = pd.Series | Callable[[pd.Timestamp], float]
STATE_FILE = "state.json"
_STATE_VERSION = 1
_EPS = 1e-12


def _ts(value: Any) -> pd.Timestamp:
    """A tz-naive UTC timestamp from a date, datetime, string or Timestamp."""
    t = pd.Timestamp(value)
    if t.tzinfo is not None:
        t = t.tz_convert("UTC").tz_localize(None)
    return t


def _ms(t: pd.Timestamp) -> int:
    return int(t.value // 1_000_000)


class PaperExchange(ExecutesOrders):
    """A simulated futures account (see the module docstring for the model).

    ``prices`` maps base assets (``"BTC"``) to feeds; ``source`` (a data-layer
    ``PriceSource``) fills missing feeds and funding lazily. ``exchange`` chooses
    whose contracts and liquidation formula are simulated when a symbol is shared
    (``"binance"`` by default).
    """

    def __init__(
        self,
        prices: Mapping[str, PriceFeed] | None = None,
        *,
        now: Any = None,
        source: Any = None,
        exchange: str = "binance",
        instruments: Mapping[str, Instrument] | None = None,
        funding: Mapping[str, pd.Series] | None = None,
        funding_rate_8h: float = 0.0001,
        taker_fee: float = 0.0005,
        maker_fee: float = 0.0002,
        slippage_bps: float = 2.0,
        partial_fill_fraction: float | None = None,
        balances: Mapping[str, float] | None = None,
        default_leverage: float = 1.0,
        name: str = "paper",
    ) -> None:
        if slippage_bps < 0:
            raise InputError(f"slippage_bps: must be >= 0, got {slippage_bps}")
        if partial_fill_fraction is not None and not 0 < partial_fill_fraction <= 1:
            raise InputError(
                f"partial_fill_fraction: must be in (0, 1], got {partial_fill_fraction}"
            )
        self.name = name
        self.notices: list[str] = []
        self.exchange = exchange
        self._feeds: dict[str, PriceFeed] = {k.upper(): v for k, v in (prices or {}).items()}
        self._funding_feeds: dict[str, pd.Series] = {
            k.upper(): v for k, v in (funding or {}).items()
        }
        self._source = source
        self._instruments: dict[str, Instrument] = dict(instruments or {})
        self.funding_rate_8h = float(funding_rate_8h)
        self.taker_fee = float(taker_fee)
        self.maker_fee = float(maker_fee)
        self.slippage_bps = float(slippage_bps)
        self.partial_fill_fraction = partial_fill_fraction
        self.default_leverage = float(default_leverage)
        self.auto_fund = balances is None
        self.balances: dict[str, float] = {k: float(v) for k, v in (balances or {}).items()}
        self.deposits: dict[str, float] = {}
        self.leverage: dict[str, float] = {}
        self.margin_mode: dict[str, str] = {}
        self.positions: dict[str, dict[str, Any]] = {}  # symbol → position book
        self.orders: dict[str, dict[str, Any]] = {}  # client id → order book entry
        self.fills: list[Fill] = []
        self.funding: list[FundingPayment] = []
        self.liquidations: list[dict[str, Any]] = []
        self._seq = 0
        self.directory: Path | None = None
        self.persist = False
        self.now: pd.Timestamp = _ts(now) if now is not None else self._latest_time()

    # ------------------------------------------------------------------ feeds
    def _latest_time(self) -> pd.Timestamp:
        latest: list[pd.Timestamp] = [
            _ts(f.index[-1]) for f in self._feeds.values() if isinstance(f, pd.Series) and len(f)
        ]
        if not latest and self._source is not None:
            try:
                closes = self._source.closes(["BTC"])
                if len(closes.index):
                    latest.append(_ts(closes.index[-1]))
            except AlthedgeError:
                pass
        if not latest:
            raise InputError("now: give the paper clock a start time or price series")
        return max(latest)

    def _feed(self, asset: str) -> PriceFeed:
        asset = asset.upper()
        if asset not in self._feeds:
            if self._source is None:
                raise DataError(f"prices: the paper venue has no price feed for {asset}")
            closes = self._source.closes([asset])
            if asset not in closes or closes[asset].dropna().empty:
                raise DataError(f"prices: no closes for {asset} in {self._source_name()}")
            self._feeds[asset] = closes[asset].dropna().astype(float)
        return self._feeds[asset]

    def _source_name(self) -> str:
        return str(getattr(self._source, "name", "the price source"))

    def price_at(self, asset: str, t: pd.Timestamp) -> float:
        """USD price of ``asset`` at ``t``: the last close at or before ``t``."""
        feed = self._feed(asset)
        if isinstance(feed, pd.Series):
            idx = feed.index.searchsorted(t, side="right")
            if idx == 0:
                raise DataError(
                    f"prices: no {asset} close on or before {t.date()}; "
                    f"the data start {pd.Timestamp(feed.index[0]).date()}"
                )
            price = float(feed.iloc[idx - 1])
        else:
            price = float(feed(t))
        if not math.isfinite(price) or price <= 0:
            raise DataError(f"prices: {asset} price at {t} is {price}; fix the price data")
        return price

    def _funding_rate_8h(self, asset: str, t: pd.Timestamp) -> float:
        asset = asset.upper()
        feed = self._funding_feeds.get(asset)
        if feed is None and self._source is not None:
            try:
                got = self._source.funding_rates(asset)
            except (AlthedgeError, KeyError, ValueError):
                got = None
            if got is not None and len(got.dropna()):
                feed = got.dropna().astype(float)
                self._funding_feeds[asset] = feed
        if feed is not None and len(feed):
            idx = feed.index.searchsorted(t, side="right")
            if idx > 0:
                return float(feed.iloc[idx - 1])
        return self.funding_rate_8h

    # ------------------------------------------------------------------ clock
    @property
    def today(self) -> date:
        """The paper clock's date (UTC)."""
        return self.now.date()

    def advance_to(self, when: Any) -> None:
        """Move the clock to ``when``: fill resting orders, pay funding, liquidate, in order."""
        target = _ts(when)
        if target < self.now:
            if self.positions or self._open_ids():
                raise InputError(
                    f"at: the paper clock is at {self.now.date()} with positions open; "
                    "it cannot go back in time"
                )
            self.now = target
            return
        events: set[pd.Timestamp] = set()
        assets = {self.instrument(s).base for s in self.positions} | {
            self.instrument(self.orders[c]["request"]["symbol"]).base for c in self._open_ids()
        }
        for asset in assets:
            feed = self._feed(asset)
            if isinstance(feed, pd.Series):
                idx = feed.index
                sel = idx[(idx > self.now) & (idx <= target)]
                events.update(_ts(x) for x in sel)
        for symbol in self.positions:
            hours = self.instrument(symbol).funding_interval_hours
            if hours:
                events.update(self._funding_times(hours, self.now, target))
        for t in sorted(events):
            self._step(t)
        self.now = target

    @staticmethod
    def _funding_times(hours: float, start: pd.Timestamp, end: pd.Timestamp) -> list[pd.Timestamp]:
        step = pd.Timedelta(hours=hours)
        first = start.normalize()
        while first <= start:
            first += step
        out = []
        t = first
        while t <= end:
            out.append(t)
            t += step
        return out

    def _step(self, t: pd.Timestamp) -> None:
        self.now = t
        for cid in self._open_ids():
            self._try_fill_resting(cid)
        for symbol in list(self.positions):
            inst = self.instrument(symbol)
            hours = inst.funding_interval_hours
            if hours and self._is_funding_time(t, hours):
                self._pay_funding(symbol, t)
            self._check_liquidation(symbol)

    @staticmethod
    def _is_funding_time(t: pd.Timestamp, hours: float) -> bool:
        since_midnight = (t - t.normalize()).total_seconds()
        return abs(since_midnight / 3600.0 / hours - round(since_midnight / 3600.0 / hours)) < 1e-9

    # ------------------------------------------------------------------ protocol
    def instrument(self, symbol: str) -> Instrument:
        if symbol in self._instruments:
            return self._instruments[symbol]
        try:
            inst = get_instrument(self.exchange, symbol)
        except UnknownInstrumentError:
            matches = [i for i in BUILTIN_INSTRUMENTS if i.symbol.upper() == symbol.upper()]
            if not matches:
                raise
            inst = matches[0]
        self._instruments[symbol] = inst
        return inst

    def mark_price(self, symbol: str) -> float:
        return self.price_at(self.instrument(symbol).base, self.now)

    def funding_rate(self, symbol: str) -> tuple[float, float]:
        inst = self.instrument(symbol)
        hours = inst.funding_interval_hours
        if not hours:
            return (0.0, 8.0)
        return (self._funding_rate_8h(inst.base, self.now) * hours / 8.0, float(hours))

    def set_leverage(self, symbol: str, leverage: float, margin_mode: str) -> None:
        inst = self.instrument(symbol)
        if margin_mode != "isolated":
            raise InputError(
                "margin_mode: the paper venue simulates isolated margin only, got "
                f'{margin_mode!r}; set hedge.margin_mode = "isolated"'
            )
        if not leverage > 0 or leverage > inst.max_leverage:
            raise ExchangeError(
                f"paper set leverage: {leverage:g}x is outside 0-{inst.max_leverage:g}x for "
                f"{symbol}; lower hedge.leverage"
            )
        if symbol in self.positions and self.leverage.get(symbol) != leverage:
            raise ExchangeError(
                f"paper set leverage: {symbol} has an open position; the paper venue keeps its "
                "leverage until it is closed"
            )
        self.leverage[symbol] = float(leverage)
        self.margin_mode[symbol] = margin_mode

    def place_order(self, order: OrderRequest) -> OrderResult:
        """Idempotent by client id; fills what is marketable now. Refusals raise ExchangeError."""
        if order.client_order_id in self.orders:
            return self._result(order.client_order_id)
        inst = self.instrument(order.symbol)
        self._seq += 1
        entry: dict[str, Any] = {
            "request": order.to_dict(),
            "exchange_order_id": f"paper-{self._seq}",
            "status": "open",
            "filled": 0.0,
            "cost": 0.0,  # Σ contracts·price (linear average)
            "inv_cost": 0.0,  # Σ contracts/price (inverse harmonic average)
            "fee": 0.0,
            "timestamp_ms": _ms(self.now),
            # the machine's clock too: a journal restored from a copy and run again at the
            # same paper date reuses this client id, and only this tells the orders apart
            "placed_wall_ms": int(time.time() * 1000),
        }
        self.orders[order.client_order_id] = entry
        reason = self._refusal(order, inst)
        if reason:
            entry["status"] = "rejected"
            raise ExchangeError(f"paper place order {order.client_order_id}: {reason}")
        mark = self.mark_price(order.symbol)
        slip = self.slippage_bps / 10_000.0
        taker_px = mark * (1 + slip) if order.side == "buy" else mark * (1 - slip)
        marketable = order.order_type == "market" or (
            order.price is not None
            and (order.price >= mark if order.side == "buy" else order.price <= mark)
        )
        if (
            marketable
            and order.order_type == "limit"
            and (order.post_only or order.time_in_force == "PO")
        ):
            entry["status"] = "rejected"
            raise ExchangeError(
                f"paper place order {order.client_order_id}: post-only order would take "
                "liquidity; price it away from the mark"
            )
        if marketable:
            price = taker_px
            if order.order_type == "limit" and order.price is not None:
                price = min(price, order.price) if order.side == "buy" else max(price, order.price)
            self._fill(order.client_order_id, price, self.taker_fee)
            immediate = order.order_type == "market" or order.time_in_force in ("IOC", "FOK")
            if immediate and entry["status"] in ("open", "partially_filled"):
                entry["status"] = "canceled"
        return self._result(order.client_order_id)

    def fetch_order(self, symbol: str, client_order_id: str) -> OrderResult | None:
        if client_order_id not in self.orders:
            return None
        return self._result(client_order_id)

    def cancel_order(self, symbol: str, client_order_id: str) -> None:
        entry = self.orders.get(client_order_id)
        if entry is not None and entry["status"] in ("open", "partially_filled"):
            entry["status"] = "canceled"

    def open_orders(self, symbol: str) -> list[OrderResult]:
        return [
            self._result(c)
            for c in self._open_ids()
            if self.orders[c]["request"]["symbol"] == symbol
        ]

    def position(self, symbol: str) -> VenuePosition | None:
        book = self.positions.get(symbol)
        if book is None:
            return None
        inst = self.instrument(symbol)
        pos = self._core_position(book)
        mark = self.mark_price(symbol)
        liq = self._liquidation(symbol)
        return VenuePosition(
            symbol=symbol,
            side=pos.side,
            contracts=pos.contracts,
            entry_price=pos.entry_price,
            contract_type=inst.contract_type,
            margin_mode="isolated",
            leverage=float(book["leverage"]),
            liquidation_price=None if liq is None or not math.isfinite(liq) else liq,
            unrealised_pnl=pos.unrealised_pnl(mark),
            isolated_margin=float(book["margin"]),
            settle=inst.settle,
            mark_price=mark,
        )

    def open_positions(self) -> list[VenuePosition]:
        """Every open position of the account (symbol order)."""
        found = (self.position(symbol) for symbol in sorted(self.positions))
        return [p for p in found if p is not None and p.contracts > 0]

    # ------------------------------------------------------------------ extras
    def _execution_clock(self) -> tuple[Callable[[float], None], Callable[[], float]]:
        """``execute`` runs on a simulated clock: waiting advances it, never the wall clock."""
        fake = [0.0]

        def clock() -> float:
            return fake[0]

        def sleep(s: float) -> None:
            fake[0] += max(s, 1e-3)

        return sleep, clock

    def funding_payments(
        self, symbol: str | None = None, since_ms: int | None = None
    ) -> list[FundingPayment]:
        """Funding RECEIVED (negative = paid) per interval, settlement currency; only the
        payments at or after ``since_ms`` (the paper clock, ms) when given."""
        return [
            p for p in self.funding
            if (symbol is None or p.symbol == symbol)
            and (since_ms is None or p.timestamp_ms >= since_ms)
        ]

    def fills_for(self, symbol: str | None = None, since_ms: int | None = None) -> list[Fill]:
        """Every execution (liquidations flagged), oldest first; since ``since_ms`` if given."""
        return [
            f for f in self.fills
            if (symbol is None or f.symbol == symbol)
            and (since_ms is None or f.timestamp_ms is None or f.timestamp_ms >= since_ms)
        ]

    def below_minimum(
        self, symbol: str, contracts: float, price: float | None = None
    ) -> str | None:
        """Below the instrument's minimum contracts (the paper venue has no notional floor)."""
        inst = self.instrument(symbol)
        if contracts < inst.min_contracts - 1e-12:
            return (
                f"{self.name}: {contracts:g} contracts of {symbol} is below the minimum of "
                f"{inst.min_contracts:g}"
            )
        return None

    def now_ms(self) -> int:
        """The paper clock in ms since the epoch (UTC)."""
        now = pd.Timestamp(self.now)
        now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
        return int(now.timestamp() * 1000)

    def use_margin_mode(self, symbol: str, margin_mode: str) -> None:
        """Remember a leg's margin mode (the paper venue simulates isolated only)."""
        if margin_mode != "isolated":
            raise InputError(
                "margin_mode: the paper venue simulates isolated margin only, got "
                f'{margin_mode!r}; set hedge.margin_mode = "isolated"'
            )
        self.margin_mode[symbol] = margin_mode

    def deposits_since(
        self, since_ms: int, currencies: Sequence[str] = ()
    ) -> list[Deposit] | None:
        """None: the paper account's auto-funding is reported cumulatively (:attr:`deposits`)."""
        return None

    def balance(self, currency: str) -> float:
        """Wallet + isolated margins + unrealised PnL in ``currency`` (account equity in it)."""
        ccy = currency.upper()
        total = self.balances.get(ccy, 0.0)
        for symbol, book in self.positions.items():
            inst = self.instrument(symbol)
            if inst.settle.upper() == ccy:
                total += float(book["margin"]) + self._core_position(book).unrealised_pnl(
                    self.mark_price(symbol)
                )
        return total

    def equity_usd(self) -> float:
        """Account equity in USD: every currency's :meth:`balance` at its USD price now."""
        currencies = set(self.balances) | {
            self.instrument(s).settle.upper() for s in self.positions
        }
        return sum(self.balance(c) * self._usd_price(c) for c in currencies)

    def _usd_price(self, currency: str) -> float:
        return 1.0 if currency.upper() in USD_LIKE else self.price_at(currency, self.now)

    # ------------------------------------------------------------------ books
    def _open_ids(self) -> list[str]:
        return [c for c, e in self.orders.items() if e["status"] in ("open", "partially_filled")]

    def _core_position(self, book: dict[str, Any]) -> Position:
        return Position(
            contract_type=ContractType(book["contract_type"]),
            side=Side(int(book["side"])),
            contracts=float(book["contracts"]),
            contract_size=float(book["contract_size"]),
            entry_price=float(book["entry_price"]),
            realised_pnl=float(book.get("realised_pnl", 0.0)),
        )

    def _refusal(self, order: OrderRequest, inst: Instrument) -> str | None:
        if order.contracts < inst.min_contracts - _EPS:
            return (
                f"{order.contracts:g} contracts is below the minimum {inst.min_contracts:g} "
                f"of {order.symbol}; increase the size"
            )
        steps = order.contracts / inst.lot_step if inst.lot_step > 0 else 0.0
        if inst.lot_step > 0 and abs(steps - round(steps)) > 1e-6:
            return (
                f"{order.contracts:g} contracts is not a multiple of the lot step {inst.lot_step:g}"
            )
        book = self.positions.get(order.symbol)
        if order.reduce_only:
            closing = Side.LONG if order.side == "sell" else Side.SHORT
            if book is None or Side(int(book["side"])) != closing:
                return "reduce-only order would open or grow a position; nothing to reduce"
        return None

    def _fill_quantity(self, entry: dict[str, Any], inst: Instrument) -> float:
        req = entry["request"]
        remaining = float(req["contracts"]) - float(entry["filled"])
        if req["reduce_only"]:
            book = self.positions.get(req["symbol"])
            held = float(book["contracts"]) if book else 0.0
            closing = Side.LONG if req["side"] == "sell" else Side.SHORT
            if book is None or Side(int(book["side"])) != closing:
                held = 0.0
            remaining = min(remaining, held)
        if self.partial_fill_fraction is not None and self.partial_fill_fraction < 1:
            part = round_to_step(remaining * self.partial_fill_fraction, inst.lot_step)
            remaining = min(remaining, max(part, inst.lot_step or remaining))
        return max(remaining, 0.0)

    def _fill(self, cid: str, price: float, fee_rate: float) -> None:
        entry = self.orders[cid]
        req = entry["request"]
        symbol = req["symbol"]
        inst = self.instrument(symbol)
        qty = self._fill_quantity(entry, inst)
        if qty <= _EPS:
            if req["reduce_only"]:
                entry["status"] = "canceled" if entry["filled"] else "rejected"
            return
        side = Side.LONG if req["side"] == "buy" else Side.SHORT
        settle = inst.settle.upper()
        value = self._value_settle(inst, qty, price)
        fee = value * fee_rate
        book = self.positions.get(symbol)
        if book is None or Side(int(book["side"])) == side:
            lev = self.leverage.get(symbol, self.default_leverage)
            margin = float(initial_margin(inst.contract_type, qty, inst.contract_size, price, lev))
            self._debit(settle, margin + fee)
            if book is None:
                book = {
                    "contract_type": str(inst.contract_type),
                    "side": int(side),
                    "contracts": 0.0,
                    "contract_size": inst.contract_size,
                    "entry_price": price,
                    "realised_pnl": 0.0,
                    "margin": 0.0,
                    "leverage": lev,
                }
                self.positions[symbol] = book
            pos = self._core_position(book).add(qty, price)
            book.update(contracts=pos.contracts, entry_price=pos.entry_price)
            book["margin"] = float(book["margin"]) + margin
        else:
            # reduce (one-way mode never flips: the excess of a non-reduce-only order opens
            # the other side only after the position is closed)
            held = float(book["contracts"])
            closed = min(qty, held)
            pos = self._core_position(book)
            after = pos.reduce(closed, price)
            pnl = after.realised_pnl - pos.realised_pnl
            released = float(book["margin"]) * closed / held
            self.balances[settle] = self.balances.get(settle, 0.0) + released + pnl
            self._debit(settle, fee)
            book["margin"] = float(book["margin"]) - released
            book.update(contracts=after.contracts, realised_pnl=after.realised_pnl)
            if after.contracts <= _EPS:
                self.balances[settle] += float(book["margin"])
                del self.positions[symbol]
            rest = qty - closed
            if rest > _EPS:
                self._record_fill(cid, entry, closed, price, fee * closed / qty, settle)
                lev = self.leverage.get(symbol, self.default_leverage)
                margin = float(
                    initial_margin(inst.contract_type, rest, inst.contract_size, price, lev)
                )
                self._debit(settle, margin + fee * rest / qty)
                self.positions[symbol] = {
                    "contract_type": str(inst.contract_type),
                    "side": int(side),
                    "contracts": rest,
                    "contract_size": inst.contract_size,
                    "entry_price": price,
                    "realised_pnl": 0.0,
                    "margin": margin,
                    "leverage": lev,
                }
                self._record_fill(cid, entry, rest, price, fee * rest / qty, settle)
                self._finish(entry, inst)
                return
        self._record_fill(cid, entry, qty, price, fee, settle)
        self._finish(entry, inst)

    def _finish(self, entry: dict[str, Any], inst: Instrument) -> None:
        req = entry["request"]
        total = float(req["contracts"])
        if entry["filled"] >= total - _EPS:
            entry["status"] = "filled"
        elif req["reduce_only"] and req["symbol"] not in self.positions:
            entry["status"] = "canceled"  # nothing left to reduce: the rest expires
        else:
            entry["status"] = "partially_filled"

    def _record_fill(
        self,
        cid: str,
        entry: dict[str, Any],
        qty: float,
        price: float,
        fee: float,
        settle: str,
    ) -> None:
        entry["filled"] = float(entry["filled"]) + qty
        entry["cost"] = float(entry["cost"]) + qty * price
        entry["inv_cost"] = float(entry["inv_cost"]) + qty / price
        entry["fee"] = float(entry["fee"]) + fee
        self.fills.append(
            Fill(
                symbol=entry["request"]["symbol"],
                client_order_id=cid,
                side=entry["request"]["side"],
                contracts=qty,
                price=price,
                fee=Fee(amount=fee, currency=settle),
                timestamp_ms=_ms(self.now),
                trade_id=f"paper-fill-{len(self.fills) + 1}",
            )
        )

    def _value_settle(self, inst: Instrument, qty: float, price: float) -> float:
        if inst.contract_type == ContractType.LINEAR:
            return float(position_value_usd(inst.contract_type, qty, inst.contract_size, price))
        return float(position_value_coin(inst.contract_type, qty, inst.contract_size, price))

    def _debit(self, currency: str, amount: float) -> None:
        have = self.balances.get(currency, 0.0)
        if amount > have + _EPS:
            if not self.auto_fund:
                raise ExchangeError(
                    f"paper place order: insufficient margin, need {amount:.8g} {currency}, "
                    f"wallet holds {have:.8g}; deposit more or lower the size"
                )
            top_up = amount - have
            self.deposits[currency] = self.deposits.get(currency, 0.0) + top_up
            have += top_up
        self.balances[currency] = have - amount

    def _try_fill_resting(self, cid: str) -> None:
        entry = self.orders[cid]
        req = entry["request"]
        limit = req.get("price")
        if limit is None:
            return
        mark = self.mark_price(req["symbol"])
        if (req["side"] == "buy" and mark <= limit) or (req["side"] == "sell" and mark >= limit):
            self._fill(cid, float(limit), self.maker_fee)

    def _result(self, cid: str) -> OrderResult:
        e = self.orders[cid]
        req = OrderRequest.from_dict(e["request"])
        inst = self.instrument(req.symbol)
        avg: float | None = None
        if e["filled"] > _EPS:
            if inst.contract_type == ContractType.INVERSE:
                avg = float(e["filled"]) / float(e["inv_cost"])  # harmonic, docs/domain.md
            else:
                avg = float(e["cost"]) / float(e["filled"])
            avg = round(avg, 9)  # Σq·p/Σq leaves 1e-11 noise on a single fill
        return OrderResult(
            client_order_id=cid,
            exchange_order_id=e["exchange_order_id"],
            symbol=req.symbol,
            side=req.side,
            order_type=req.order_type,
            contracts=req.contracts,
            status=e["status"],
            filled_contracts=float(e["filled"]),
            average_price=avg,
            price=req.price,
            fee=Fee(amount=float(e["fee"]), currency=inst.settle.upper()),
            reduce_only=req.reduce_only,
            timestamp_ms=int(e["timestamp_ms"]),
            placed_wall_ms=None if e.get("placed_wall_ms") is None else int(e["placed_wall_ms"]),
        )

    # ------------------------------------------------------------------ funding, liquidation
    def _pay_funding(self, symbol: str, t: pd.Timestamp) -> None:
        book = self.positions[symbol]
        inst = self.instrument(symbol)
        hours = float(inst.funding_interval_hours or 8.0)
        mark = self.price_at(inst.base, t)
        rate = self._funding_rate_8h(inst.base, t) * hours / 8.0
        amount = float(
            funding_payment(
                inst.contract_type,
                Side(int(book["side"])),
                float(book["contracts"]),
                inst.contract_size,
                mark,
                rate,
            )
        )
        book["margin"] = float(book["margin"]) + amount
        self.funding.append(
            FundingPayment(
                symbol=symbol,
                amount=amount,
                currency=inst.settle.upper(),
                rate=rate,
                mark_price=mark,
                timestamp_ms=_ms(t),
            )
        )

    def _liquidation(self, symbol: str) -> float | None:
        book = self.positions[symbol]
        inst = self.instrument(symbol)
        if float(book["margin"]) <= 0:
            return float(book["entry_price"])
        try:
            liq = liquidation_price(
                inst.exchange,
                inst.contract_type,
                Side(int(book["side"])),
                float(book["contracts"]),
                inst.contract_size,
                float(book["entry_price"]),
                wallet_balance=float(book["margin"]),
                tiers=inst.tiers if inst.tiers else None,
                mmr=None if inst.tiers else 0.005,
            )
        except InputError:
            return None
        return float(liq.liquidation_price)

    def _check_liquidation(self, symbol: str) -> None:
        book = self.positions.get(symbol)
        if book is None:
            return
        liq = self._liquidation(symbol)
        if liq is None or not math.isfinite(liq) or liq <= 0:
            return
        mark = self.mark_price(symbol)
        side = Side(int(book["side"]))
        if (side == Side.SHORT and mark < liq) or (side == Side.LONG and mark > liq):
            return
        inst = self.instrument(symbol)
        bp = bankruptcy_price(
            inst.contract_type,
            side,
            float(book["contracts"]),
            inst.contract_size,
            float(book["entry_price"]),
            max(float(book["margin"]), 0.0),
        )
        price = bp if math.isfinite(bp) and bp > 0 else mark
        pos = self._core_position(book)
        after = pos.reduce(pos.contracts, price)
        pnl = after.realised_pnl - pos.realised_pnl
        settle = inst.settle.upper()
        balance = float(book["margin"]) + pnl  # margin balance at the close, 0 at bankruptcy
        left = balance - float(forfeited_margin(balance))  # core.margin: what is behind is lost
        self.balances[settle] = self.balances.get(settle, 0.0) + max(left, 0.0)
        self._seq += 1
        cid = f"liq{self._seq}"
        self.fills.append(
            Fill(
                symbol=symbol,
                client_order_id=cid,
                side="buy" if side == Side.SHORT else "sell",
                contracts=pos.contracts,
                price=price,
                fee=Fee(0.0, settle),
                timestamp_ms=_ms(self.now),
                trade_id=f"paper-liquidation-{self._seq}",
                liquidation=True,
            )
        )
        self.liquidations.append(
            {
                "symbol": symbol,
                "timestamp_ms": _ms(self.now),
                "mark_price": mark,
                "liquidation_price": liq,
                "bankruptcy_price": price,
                "contracts": pos.contracts,
                "margin_lost": float(book["margin"]) - max(left, 0.0),
                "currency": settle,
            }
        )
        del self.positions[symbol]
        for c in self._open_ids():
            if (
                self.orders[c]["request"]["symbol"] == symbol
                and self.orders[c]["request"]["reduce_only"]
            ):
                self.orders[c]["status"] = "canceled"

    # ------------------------------------------------------------------ state
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state (feeds excluded). ``from_dict(to_dict())`` restores it exactly."""
        return {
            "version": _STATE_VERSION,
            "name": self.name,
            "exchange": self.exchange,
            "now": self.now.isoformat(),
            "config": {
                "funding_rate_8h": self.funding_rate_8h,
                "taker_fee": self.taker_fee,
                "maker_fee": self.maker_fee,
                "slippage_bps": self.slippage_bps,
                "partial_fill_fraction": self.partial_fill_fraction,
                "default_leverage": self.default_leverage,
                "auto_fund": self.auto_fund,
            },
            "instruments": {s: [i.exchange, i.symbol] for s, i in self._instruments.items()},
            "balances": dict(self.balances),
            "deposits": dict(self.deposits),
            "leverage": dict(self.leverage),
            "margin_mode": dict(self.margin_mode),
            "positions": json.loads(json.dumps(self.positions)),
            "orders": json.loads(json.dumps(self.orders)),
            "fills": [f.to_dict() for f in self.fills],
            "funding": [p.to_dict() for p in self.funding],
            "liquidations": list(self.liquidations),
            "seq": self._seq,
        }

    @classmethod
    def from_dict(
        cls,
        state: Mapping[str, Any],
        prices: Mapping[str, PriceFeed] | None = None,
        *,
        source: Any = None,
        funding: Mapping[str, pd.Series] | None = None,
    ) -> PaperExchange:
        """Restore :meth:`to_dict` output; price feeds (or a source) are supplied again."""
        if int(state.get("version", 0)) != _STATE_VERSION:
            raise InputError(
                f"paper state: version {state.get('version')!r} is not {_STATE_VERSION}; "
                "delete the paper folder in the data directory to start a new paper account"
            )
        cfg = state.get("config", {})
        ex = cls(
            prices,
            now=state["now"],
            source=source,
            exchange=state.get("exchange", "binance"),
            funding=funding,
            funding_rate_8h=float(cfg.get("funding_rate_8h", 0.0001)),
            taker_fee=float(cfg.get("taker_fee", 0.0005)),
            maker_fee=float(cfg.get("maker_fee", 0.0002)),
            slippage_bps=float(cfg.get("slippage_bps", 2.0)),
            partial_fill_fraction=cfg.get("partial_fill_fraction"),
            balances=None if cfg.get("auto_fund", True) else {},
            default_leverage=float(cfg.get("default_leverage", 1.0)),
            name=state.get("name", "paper"),
        )
        for symbol, (exchange, sym) in state.get("instruments", {}).items():
            ex._instruments[symbol] = get_instrument(exchange, sym)
        ex.balances = {k: float(v) for k, v in state.get("balances", {}).items()}
        ex.deposits = {k: float(v) for k, v in state.get("deposits", {}).items()}
        ex.leverage = {k: float(v) for k, v in state.get("leverage", {}).items()}
        ex.margin_mode = dict(state.get("margin_mode", {}))
        ex.positions = json.loads(json.dumps(state.get("positions", {})))
        ex.orders = json.loads(json.dumps(state.get("orders", {})))
        ex.fills = [Fill.from_dict(f) for f in state.get("fills", [])]
        ex.funding = [FundingPayment.from_dict(p) for p in state.get("funding", [])]
        ex.liquidations = list(state.get("liquidations", []))
        ex._seq = int(state.get("seq", 0))
        return ex

    def save(self) -> Path | None:
        """Write the state to ``<directory>/state.json`` atomically (only when ``persist``)."""
        if not self.persist or self.directory is None:
            return None
        target = self.directory / STATE_FILE
        tmp: str | None = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".state.", suffix=".tmp", dir=self.directory)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self.to_dict(), fh, indent=1, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException as exc:
            if tmp is not None and os.path.exists(tmp):
                os.unlink(tmp)
            if isinstance(exc, OSError):  # a full disk, a read-only folder: one line
                raise OutputError(
                    f"paper account: cannot write {target}: {os_problem(exc)}; this step "
                    "did not happen on the paper account (its file is unchanged): fix that "
                    "and run the command again") from None
            raise
        return target

    @classmethod
    def open(
        cls,
        directory: str | Path,
        *,
        source: Any = None,
        at: date | datetime | str | None = None,
        persist: bool = False,
        **config: Any,
    ) -> PaperExchange:
        """The paper account stored in ``directory`` (a new one when there is none).

        ``at`` moves the clock there (accruing funding, filling and liquidating on
        the way); without it a stored account keeps its clock and a new one starts at
        the latest close of ``source``. ``persist=False`` (dry run) makes
        :meth:`save` a no-op, so nothing simulated is kept. ``config`` goes to the
        constructor of a new account (fees, slippage, funding, ...).
        """
        path = Path(directory)
        state_file = path / STATE_FILE
        if state_file.is_file():
            try:
                state = json.loads(state_file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as err:
                raise InputError(
                    f"paper state: {state_file} is unreadable ({type(err).__name__}); "
                    "delete it to start a new paper account"
                ) from None
            ex = cls.from_dict(state, source=source)
            if at is not None:
                ex.advance_to(at)
        else:
            ex = cls(source=source, now=at, **config)
        ex.directory = path
        ex.persist = persist
        return ex
