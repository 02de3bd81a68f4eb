"""The venue protocol: what the lifecycle needs from an exchange, and the value types it speaks.

Two implementations satisfy :class:`Venue`: :class:`althedge.venues.paper.PaperExchange`
(simulated fills, margin, funding and liquidation from :mod:`althedge.core`) and
:class:`althedge.venues.ccxt_venue.CcxtVenue` (a real ccxt exchange object).

Units and signs (see docs/domain.md):

* ``contracts`` is always a non-negative number of contracts of the instrument
  (Deribit: contracts of ``contract_size`` USD; the adapter converts to the USD
  amount Deribit expects).
* Prices are USD per coin.
* ``Fee.amount`` is the fee PAID (positive = a cost, negative = a rebate), in
  ``Fee.currency`` (the settlement currency: USD(T) for linear, the coin for inverse).
* ``VenuePosition.unrealised_pnl`` and ``isolated_margin`` are in the settlement
  currency of the contract.

Client order ids are deterministic (:func:`client_order_id`) so that a retry after a
timeout can look the order up instead of sending it twice.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from althedge.core.instruments import ContractType, Instrument, Side
from althedge.errors import InputError

__all__ = [
    "CLIENT_ORDER_ID_MAX_LEN",
    "FINAL_STATUSES",
    "INSTANCE_CHARS",
    "AccountReports",
    "Deposit",
    "Fee",
    "Fill",
    "FundingPayment",
    "OrderRequest",
    "OrderResult",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "Venue",
    "VenuePosition",
    "client_order_id",
    "is_valid_client_order_id",
]

OrderSide = Literal["buy", "sell"]
OrderType = Literal["limit", "market"]
OrderStatus = Literal["open", "partially_filled", "filled", "canceled", "rejected"]
TimeInForce = Literal["GTC", "IOC", "FOK", "PO"]

#: Statuses after which an order can no longer fill.
FINAL_STATUSES: frozenset[str] = frozenset({"filled", "canceled", "rejected"})

#: OKX ``clOrdId`` is the strictest: 1–32 alphanumerics. Binance (36, ``[.A-Za-z0-9:/_-]``),
#: Bybit ``orderLinkId`` (36, letters/digits/``-``/``_``) and Deribit ``label`` (64) accept it.
CLIENT_ORDER_ID_MAX_LEN = 32
_CID_RE = re.compile(r"^[A-Za-z0-9]{1,32}$")


def client_order_id(plan_id: str, step: int, purpose: str, instance: str = "") -> str:
    """Deterministic client order id for order ``step`` of plan ``plan_id``.

    Same inputs → same id (so a retry finds the order already placed); different
    inputs → different ids (a SHA-256 prefix of all of them). ``instance`` is the
    journal's id (:meth:`althedge.journal.Journal.journal_id`, random, made when the
    journal file is): it enters the hash and its first :data:`INSTANCE_CHARS`
    characters are written after ``"ah"``, so two journals never derive the same id and
    an id names the journal that sent it. The result is ``"ah"`` + instance prefix + up
    to 4 alphanumerics of ``purpose`` + ``step`` in base 36 + hex hash, exactly 32
    characters, ``[A-Za-z0-9]`` only — within every supported exchange's limits:
    Binance ``newClientOrderId`` (≤ 36 of ``[.A-Za-z0-9:/_-]``), OKX ``clOrdId`` (≤ 32
    alphanumerics, the strictest), Bybit ``orderLinkId`` (≤ 36), Deribit ``label``
    (≤ 64), BingX, MEXC ``externalOid``, WEEX ``newClientOrderId``; Hyperliquid takes
    a 128-bit hex ``cloid`` derived from this id (its profile's ``client_id_format``).
    """
    if not plan_id:
        raise InputError("plan_id: must be a non-empty string to derive a client order id")
    if step < 0:
        raise InputError(f"step: must be >= 0 to derive a client order id, got {step}")
    tag = re.sub(r"[^A-Za-z0-9]", "", purpose).lower()[:4]
    step36 = _base36(step)
    inst = re.sub(r"[^A-Za-z0-9]", "", instance).lower()[:INSTANCE_CHARS]
    seed = f"{plan_id}\x1f{step}\x1f{purpose}"
    if instance:
        seed = f"{instance}\x1f{seed}"
    digest = hashlib.sha256(seed.encode()).hexdigest()
    head = f"ah{inst}{tag}{step36}"
    return (head + digest)[:CLIENT_ORDER_ID_MAX_LEN]


#: characters of the journal id written into every client order id (after ``"ah"``)
INSTANCE_CHARS = 6


def _base36(n: int) -> str:
    chars = "0123456789abcdefghijklmnopqrstuvwxyz"
    if n == 0:
        return "0"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = chars[r] + out
    return out


def is_valid_client_order_id(value: str) -> bool:
    """True when ``value`` is accepted by every supported exchange (1-32 alphanumerics)."""
    return bool(_CID_RE.match(value))


@dataclass(frozen=True)
class Fee:
    """A fee PAID: positive = cost, negative = rebate; ``currency`` e.g. ``"USDT"`` or ``"BTC"``."""

    amount: float = 0.0
    currency: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Fee:
        return cls(amount=float(d.get("amount", 0.0)), currency=str(d.get("currency", "")))


@dataclass(frozen=True)
class OrderRequest:
    """An order to send. ``contracts`` > 0 in contracts of the instrument.

    ``price`` is required for ``order_type="limit"`` and ignored for market orders.
    ``reduce_only=True`` on every order that shrinks the hedge. ``post_only`` makes a
    limit order maker-only (``time_in_force="PO"`` is the same thing).
    """

    symbol: str
    side: OrderSide
    contracts: float
    order_type: OrderType
    client_order_id: str
    price: float | None = None
    reduce_only: bool = False
    post_only: bool = False
    time_in_force: TimeInForce = "GTC"

    def __post_init__(self) -> None:
        if self.side not in ("buy", "sell"):
            raise InputError(f"side: must be 'buy' or 'sell', got {self.side!r}")
        if self.order_type not in ("limit", "market"):
            raise InputError(f"order_type: must be 'limit' or 'market', got {self.order_type!r}")
        if not (self.contracts > 0):
            raise InputError(f"contracts: must be > 0, got {self.contracts}")
        if self.order_type == "limit" and (self.price is None or not self.price > 0):
            raise InputError(f"price: a limit order needs a price > 0, got {self.price}")
        if not is_valid_client_order_id(self.client_order_id):
            raise InputError(
                f"client_order_id: must be 1-32 letters/digits, got {self.client_order_id!r}; "
                "use althedge.venues.protocol.client_order_id()"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OrderRequest:
        return cls(
            symbol=d["symbol"],
            side=d["side"],
            contracts=float(d["contracts"]),
            order_type=d["order_type"],
            client_order_id=d["client_order_id"],
            price=None if d.get("price") is None else float(d["price"]),
            reduce_only=bool(d.get("reduce_only", False)),
            post_only=bool(d.get("post_only", False)),
            time_in_force=d.get("time_in_force", "GTC"),
        )


@dataclass(frozen=True)
class OrderResult:
    """The venue's view of one order (no raw exchange payload).

    ``filled_contracts`` in contracts; ``average_price`` USD/coin (None before any
    fill); ``fee`` paid so far. ``contracts`` is the requested size.
    """

    client_order_id: str
    exchange_order_id: str | None
    symbol: str
    side: OrderSide
    order_type: OrderType
    contracts: float
    status: OrderStatus
    filled_contracts: float = 0.0
    average_price: float | None = None
    price: float | None = None
    fee: Fee = field(default_factory=Fee)
    reduce_only: bool = False
    timestamp_ms: int | None = None
    #: the machine's clock (ms) when the order was placed, where the venue runs on this
    #: machine with a clock of its own (paper: ``timestamp_ms`` is its simulated date)
    placed_wall_ms: int | None = None

    @property
    def remaining_contracts(self) -> float:
        return max(self.contracts - self.filled_contracts, 0.0)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["fee"] = self.fee.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OrderResult:
        return cls(
            client_order_id=d["client_order_id"],
            exchange_order_id=d.get("exchange_order_id"),
            symbol=d["symbol"],
            side=d["side"],
            order_type=d["order_type"],
            contracts=float(d["contracts"]),
            status=d["status"],
            filled_contracts=float(d.get("filled_contracts", 0.0)),
            average_price=None if d.get("average_price") is None else float(d["average_price"]),
            price=None if d.get("price") is None else float(d["price"]),
            fee=Fee.from_dict(d.get("fee") or {}),
            reduce_only=bool(d.get("reduce_only", False)),
            timestamp_ms=None if d.get("timestamp_ms") is None else int(d["timestamp_ms"]),
            placed_wall_ms=None if d.get("placed_wall_ms") is None else int(d["placed_wall_ms"]),
        )


@dataclass(frozen=True)
class Fill:
    """One execution: ``contracts`` at ``price`` (USD/coin), fee paid in ``fee.currency``."""

    symbol: str
    client_order_id: str
    side: OrderSide
    contracts: float
    price: float
    fee: Fee
    timestamp_ms: int | None = None
    trade_id: str | None = None
    liquidation: bool = False

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["fee"] = self.fee.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Fill:
        return cls(
            symbol=d["symbol"],
            client_order_id=d["client_order_id"],
            side=d["side"],
            contracts=float(d["contracts"]),
            price=float(d["price"]),
            fee=Fee.from_dict(d.get("fee") or {}),
            timestamp_ms=None if d.get("timestamp_ms") is None else int(d["timestamp_ms"]),
            trade_id=d.get("trade_id"),
            liquidation=bool(d.get("liquidation", False)),
        )


@dataclass(frozen=True)
class FundingPayment:
    """Funding RECEIVED by the position (negative = paid), in ``currency`` (settlement ccy)."""

    symbol: str
    amount: float
    currency: str
    rate: float
    mark_price: float
    timestamp_ms: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FundingPayment:
        return cls(
            symbol=d["symbol"],
            amount=float(d["amount"]),
            currency=d["currency"],
            rate=float(d["rate"]),
            mark_price=float(d["mark_price"]),
            timestamp_ms=int(d["timestamp_ms"]),
        )


@dataclass(frozen=True)
class Deposit:
    """Collateral moved INTO the futures account (negative = moved out), in ``currency``:
    an on-chain deposit or a transfer from another wallet of the same exchange. ``kind``
    names the exchange record it comes from (``"transfer"``, ``"deposit"``,
    ``"withdrawal"``); ``id`` is the exchange's id of it."""

    currency: str
    amount: float
    timestamp_ms: int
    id: str
    kind: str = "transfer"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Deposit:
        return cls(
            currency=str(d["currency"]),
            amount=float(d["amount"]),
            timestamp_ms=int(d["timestamp_ms"]),
            id=str(d["id"]),
            kind=str(d.get("kind", "transfer")),
        )


@dataclass(frozen=True)
class VenuePosition:
    """An open position as the venue reports it.

    ``side`` is :class:`Side` (SHORT = −1 for a hedge); ``contracts`` ≥ 0;
    ``entry_price``/``liquidation_price`` USD/coin (liquidation None/inf when the venue
    reports none); ``unrealised_pnl`` and ``isolated_margin`` in the settlement
    currency; ``leverage`` as set; ``margin_mode`` "isolated" | "cross".
    """

    symbol: str
    side: Side
    contracts: float
    entry_price: float
    contract_type: ContractType
    margin_mode: str
    leverage: float | None
    liquidation_price: float | None
    unrealised_pnl: float
    isolated_margin: float | None
    settle: str = ""
    mark_price: float | None = None
    maintenance_margin: float | None = None
    margin_ratio: float | None = None
    margin_includes_pnl: bool = False

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["side"] = int(self.side)
        d["contract_type"] = str(self.contract_type)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VenuePosition:
        def opt(key: str) -> float | None:
            v = d.get(key)
            return None if v is None else float(v)

        return cls(
            symbol=d["symbol"],
            side=Side(int(d["side"])),
            contracts=float(d["contracts"]),
            entry_price=float(d["entry_price"]),
            contract_type=ContractType(d["contract_type"]),
            margin_mode=str(d["margin_mode"]),
            leverage=opt("leverage"),
            liquidation_price=opt("liquidation_price"),
            unrealised_pnl=float(d["unrealised_pnl"]),
            isolated_margin=opt("isolated_margin"),
            settle=str(d.get("settle", "")),
            mark_price=opt("mark_price"),
            maintenance_margin=opt("maintenance_margin"),
            margin_ratio=opt("margin_ratio"),
            margin_includes_pnl=bool(d.get("margin_includes_pnl", False)),
        )


@runtime_checkable
class Venue(Protocol):
    """What the lifecycle needs from an exchange (paper or real).

    Every method raises :class:`althedge.errors.ExchangeError` (one line, no secrets)
    when the venue refuses or fails.
    """

    name: str
    #: one-line notes for the user from this session (e.g. a leverage rounded to a whole
    #: number because the exchange takes no fraction)
    notices: list[str]

    def instrument(self, symbol: str) -> Instrument:
        """Contract spec of ``symbol`` (live from the venue when it can)."""
        ...

    def mark_price(self, symbol: str) -> float:
        """Current mark price, USD per coin."""
        ...

    def funding_rate(self, symbol: str) -> tuple[float, float]:
        """(current/next funding rate per interval, interval hours); (0, 8) for dated futures."""
        ...

    def set_leverage(self, symbol: str, leverage: float, margin_mode: str) -> None:
        """Set margin mode ("isolated"/"cross") and leverage before the first order."""
        ...

    def use_margin_mode(self, symbol: str, margin_mode: str) -> None:
        """Remember a leg's margin mode (from the journal) without changing the account:
        every later order on ``symbol`` uses it (a fresh venue per command)."""
        ...

    def below_minimum(
        self, symbol: str, contracts: float, price: float | None = None
    ) -> str | None:
        """Why an order opening ``contracts`` at ``price`` would be refused by the
        exchange's minimums (amount, notional), one line; None when it is not."""
        ...

    def place_order(self, order: OrderRequest) -> OrderResult:
        """Send ``order``; idempotent by ``client_order_id`` (same id twice → same order)."""
        ...

    def fetch_order(self, symbol: str, client_order_id: str) -> OrderResult | None:
        """The order with this client id, or None if the venue never received it."""
        ...

    def cancel_order(self, symbol: str, client_order_id: str) -> None:
        """Cancel if still open; no error when already final."""
        ...

    def open_orders(self, symbol: str) -> list[OrderResult]:
        """Orders still working on ``symbol``."""
        ...

    def position(self, symbol: str) -> VenuePosition | None:
        """The open position on ``symbol``, or None when flat."""
        ...


@runtime_checkable
class AccountReports(Protocol):
    """What a venue reports about the account, for accounting and monitoring.

    Every venue (paper and ccxt) has these; the lifecycle calls them directly.
    """

    #: collateral the account took in, cumulative per currency over its life (the paper
    #: venue's auto-funding); a real venue reports ``{}`` and its deposits through
    #: :meth:`deposits_since`
    deposits: dict[str, float]

    def deposits_since(
        self, since_ms: int, currencies: Sequence[str] = ()
    ) -> list[Deposit] | None:
        """Collateral moved into (+) or out of (−) the futures account since ``since_ms``
        (of ``currencies``, where the exchange asks per currency), oldest first; None when
        the venue has no such history (paper: its auto-funding is the cumulative
        :attr:`deposits`; an exchange offering none: not available — never zero)."""
        ...

    def now_ms(self) -> int:
        """The venue's clock, ms since the epoch: the time journal rows carry."""
        ...

    def fills_for(self, symbol: str | None = None, since_ms: int | None = None) -> list[Fill]:
        """Executions the venue reports on ``symbol`` since ``since_ms``; liquidations
        flagged (``Fill.liquidation``). A real venue reports its liquidations here."""
        ...

    def funding_payments(self, symbol: str, since_ms: int | None = None) -> list[FundingPayment]:
        """Funding RECEIVED (negative = paid) on ``symbol`` since ``since_ms``, complete
        (paged), in the settlement currency."""
        ...

    def balance(self, currency: str) -> float:
        """Account equity held in ``currency`` (wallet + margins + unrealised PnL in it)."""
        ...

    def equity_usd(self) -> float:
        """Account equity in USD (every currency at its USD price now)."""
        ...
