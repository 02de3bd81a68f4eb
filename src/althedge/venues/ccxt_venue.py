"""The ccxt adapter: a real exchange behind the :class:`~althedge.venues.protocol.Venue` protocol.

Supported ccxt ids: ``binanceusdm`` (Binance USDⓈ-M), ``binancecoinm`` (COIN-M),
``bybit`` (linear and inverse), ``okx``, ``deribit``. ``testnet=True`` switches ccxt
to the exchange's sandbox (``set_sandbox_mode``).

What the adapter does (and nothing more — it translates, it never decides):

* amounts: contracts ↔ the exchange's unit. Deribit inverse contracts are sent
  in USD (``contracts × contract_size``) and read back the same way; everything
  else is in contracts. Amounts and prices are rounded with the exchange's own
  precision (``amount_to_precision``/``price_to_precision``) and checked against
  the market's minimum amount before anything is sent;
* ``set_leverage`` sets the margin mode then the leverage, ignoring the
  exchanges' "no need to change" answers;
* client order ids go out as ccxt ``clientOrderId`` (Deribit: ``label``);
  ``reduceOnly``/``postOnly`` as the unified ccxt params;
* idempotency: :meth:`CcxtVenue.place_order` first looks the client id up, and
  after a timeout or network error while placing, it looks the order up again
  (a few times) before it ever re-sends it;
* every ccxt error becomes :class:`althedge.errors.ExchangeError` with a one-line
  message that never contains a key, secret, signature or URL query.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import ccxt

from althedge.core.instruments import ContractType, Instrument, Side, get_instrument
from althedge.errors import AlthedgeError, ExchangeError, InputError, UnknownInstrumentError
from althedge.venues.credentials import Credentials, install_log_redaction, redact
from althedge.venues.execution import ExecutesOrders
from althedge.venues.protocol import (
    Fee,
    Fill,
    FundingPayment,
    OrderRequest,
    OrderResult,
    OrderStatus,
    VenuePosition,
)

__all__ = ["SUPPORTED_EXCHANGES", "CcxtVenue", "translate_error"]

T = TypeVar("T")

SUPPORTED_EXCHANGES: tuple[str, ...] = ("binanceusdm", "binancecoinm", "bybit", "okx", "deribit")

# ccxt id → the exchange name used by althedge.core.instruments' built-in table.
_FAMILY = {"binanceusdm": "binance", "binancecoinm": "binance", "binance": "binance"}

_STATUS: dict[str, OrderStatus] = {
    "open": "open",
    "closed": "filled",
    "canceled": "canceled",
    "cancelled": "canceled",
    "expired": "canceled",
    "rejected": "rejected",
}

_NO_CHANGE = re.compile(
    r"no need to change|not modified|leverage not modified|same margin mode|"
    r"-4046|-4059|110026|110043|59107",
    re.IGNORECASE,
)
_DUPLICATE = re.compile(
    r"duplicat|-4116|-4015|110072|51016|already exists|orderLinkId is repeated", re.IGNORECASE
)
_URL = re.compile(r"https?://\S+")
_LONG_TOKEN = re.compile(r"\b[A-Za-z0-9+/=_-]{40,}\b")


def _one_line_detail(err: BaseException, secrets: tuple[str, ...]) -> str:
    text = " ".join(str(err).split())
    text = redact(text, secrets)
    text = _URL.sub("<url>", text)
    text = _LONG_TOKEN.sub("***", text)  # signatures, keys we were not told about
    return text[:200]


def translate_error(
    err: BaseException, *, exchange: str, action: str, secrets: tuple[str, ...] = ()
) -> ExchangeError:
    """A one-line :class:`ExchangeError` for a ccxt error (secrets, URLs and signatures removed)."""
    detail = _one_line_detail(err, secrets)
    if isinstance(err, ccxt.InsufficientFunds) or "insufficient" in detail.lower():
        hint = "insufficient margin; deposit collateral, lower the size or raise the leverage"
    elif isinstance(err, ccxt.AuthenticationError | ccxt.PermissionDenied):
        hint = "authentication failed; check the API key, secret and its futures-trading permission"
    elif isinstance(err, ccxt.RateLimitExceeded | ccxt.DDoSProtection):
        hint = "rate limit hit; wait a minute and retry"
    elif isinstance(err, ccxt.RequestTimeout):
        hint = "request timed out; retry (orders are looked up by client id, never sent twice)"
    elif isinstance(err, ccxt.NetworkError):
        hint = "network error or exchange unavailable; retry later"
    elif isinstance(err, ccxt.BadSymbol):
        hint = "unknown symbol on this exchange; check hedge.symbol"
    elif isinstance(err, ccxt.OrderNotFound):
        hint = "order not found"
    elif isinstance(err, ccxt.InvalidOrder):
        hint = "order rejected; check size, price and the exchange's minimums"
    else:
        hint = "the exchange refused the request"
    return ExchangeError(f"{exchange} {action}: {hint} ({type(err).__name__}: {detail})")


class CcxtVenue(ExecutesOrders):
    """A :class:`~althedge.venues.protocol.Venue` over a ccxt exchange object.

    Build it from an id (``CcxtVenue.create("binanceusdm", credentials, testnet=True)``)
    or wrap an existing ccxt instance (tests point its ``urls['api']`` at a local server).
    """

    def __init__(
        self,
        exchange: ccxt.Exchange,
        *,
        credentials: Credentials | None = None,
        lookup_attempts: int = 3,
        lookup_delay_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.exchange = exchange
        self.id: str = str(exchange.id)
        self.name = self.id + (
            "-testnet" if getattr(exchange, "isSandboxModeEnabled", False) else ""
        )
        self._secrets: tuple[str, ...] = credentials.secrets() if credentials else ()
        self._secrets += tuple(
            s for s in (getattr(exchange, k, None) for k in ("apiKey", "secret", "password")) if s
        )
        install_log_redaction(self._secrets)
        self._lookup_attempts = max(lookup_attempts, 1)
        self._lookup_delay_s = lookup_delay_s
        self._sleep = sleep
        self._clock = clock
        if self.id in _FAMILY:
            # the wallet endpoint (sapi capital/config) needs spot permissions a
            # futures-only key lacks; markets come from the futures exchangeInfo alone
            exchange.has["fetchCurrencies"] = False
        if self.id in ("bybit", "okx"):
            # derivatives only: skip the spot/option market lists and the wallet's
            # currency endpoint (a futures-only key may not read it)
            exchange.has["fetchCurrencies"] = False
            fm = exchange.options.get("fetchMarkets")
            types = ["linear", "inverse"] if self.id == "bybit" else ["swap", "future"]
            if isinstance(fm, dict):
                exchange.options["fetchMarkets"] = {**fm, "types": types}
            else:
                exchange.options["fetchMarkets"] = types
        self._instruments: dict[str, Instrument] = {}
        self._leverage_set: set[str] = set()
        self._margin_modes: dict[str, str] = {}

    @classmethod
    def create(
        cls,
        exchange_id: str,
        credentials: Credentials | None = None,
        *,
        testnet: bool = False,
        timeout_ms: int = 10_000,
        **kwargs: Any,
    ) -> CcxtVenue:
        """A venue on a fresh ccxt ``exchange_id`` instance (one of :data:`SUPPORTED_EXCHANGES`)."""
        if exchange_id not in SUPPORTED_EXCHANGES:
            raise InputError(
                f"exchange: {exchange_id!r} is not supported; use one of "
                f"{', '.join(SUPPORTED_EXCHANGES)} or 'paper'"
            )
        config: dict[str, Any] = {"enableRateLimit": True, "timeout": timeout_ms}
        if credentials is not None:
            config.update(credentials.ccxt_config())
        ex = getattr(ccxt, exchange_id)(config)
        if testnet:
            try:
                ex.set_sandbox_mode(True)
            except ccxt.NotSupported:
                raise InputError(f"--testnet: {exchange_id} has no sandbox in ccxt") from None
        return cls(ex, credentials=credentials, **kwargs)

    # ------------------------------------------------------------------ helpers
    def _call(self, action: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except AlthedgeError:
            raise
        except ccxt.BaseError as err:
            raise translate_error(
                err, exchange=self.name, action=action, secrets=self._secrets
            ) from None

    def _market(self, symbol: str) -> dict[str, Any]:
        self._call("load markets", self.exchange.load_markets)
        try:
            market: dict[str, Any] = self.exchange.market(symbol)
        except ccxt.BaseError:
            raise UnknownInstrumentError(
                f"symbol: {symbol!r} is not listed on {self.name}; check hedge.symbol"
            ) from None
        return market

    def _amount_in_usd(self, symbol: str) -> bool:
        return self.id == "deribit" and bool(self._market(symbol).get("inverse"))

    def _to_exchange_amount(self, symbol: str, contracts: float) -> float:
        if self._amount_in_usd(symbol):
            return contracts * float(self._market(symbol)["contractSize"])
        return contracts

    def _to_contracts(self, symbol: str, amount: float | None) -> float:
        if amount is None:
            return 0.0
        if self._amount_in_usd(symbol):
            return float(amount) / float(self._market(symbol)["contractSize"])
        return float(amount)

    # ------------------------------------------------------------------ protocol
    def instrument(self, symbol: str) -> Instrument:
        """Live spec from ``load_markets()``; tiers and funding interval from the built-in row."""
        if symbol in self._instruments:
            return self._instruments[symbol]
        m = self._market(symbol)
        contract_type = ContractType.INVERSE if m.get("inverse") else ContractType.LINEAR
        cs = float(m.get("contractSize") or 1.0)
        usd_amounts = self._amount_in_usd(symbol)
        amount_step = float((m.get("precision") or {}).get("amount") or 1.0)
        min_amount = float(((m.get("limits") or {}).get("amount") or {}).get("min") or amount_step)
        lot_step = amount_step / cs if usd_amounts else amount_step
        min_contracts = min_amount / cs if usd_amounts else min_amount
        tick = float((m.get("precision") or {}).get("price") or 0.0)
        max_lev = ((m.get("limits") or {}).get("leverage") or {}).get("max")
        expiry_ms = m.get("expiry")
        expiry = datetime.fromtimestamp(expiry_ms / 1000, UTC).date() if expiry_ms else None
        try:
            builtin: Instrument | None = get_instrument(_FAMILY.get(self.id, self.id), symbol)
        except UnknownInstrumentError:
            builtin = None
        inst = Instrument(
            exchange=_FAMILY.get(self.id, self.id),
            symbol=symbol,
            base=str(m.get("base", "")),
            quote=str(m.get("quote", "")),
            settle=str(m.get("settle", "")),
            contract_type=contract_type,
            contract_size=cs,
            tick_size=tick,
            lot_step=lot_step,
            min_contracts=min_contracts,
            max_leverage=float(max_lev) if max_lev else (builtin.max_leverage if builtin else 1.0),
            funding_interval_hours=(
                None
                if not m.get("swap")
                else (builtin.funding_interval_hours if builtin else 8.0) or 8.0
            ),
            expiry=expiry,
            tiers=builtin.tiers if builtin else (),
            amount_in_usd=usd_amounts,
            specs_as_of="live",
        )
        self._instruments[symbol] = inst
        return inst

    def mark_price(self, symbol: str) -> float:
        self._market(symbol)
        ex = self.exchange
        if ex.has.get("fetchMarkPrice"):
            t = self._call("fetch mark price", ex.fetch_mark_price, symbol)
        else:
            t = self._call("fetch ticker", ex.fetch_ticker, symbol)
        price = t.get("markPrice") or (t.get("info") or {}).get("mark_price") or t.get("last")
        if price is None or not float(price) > 0:
            raise ExchangeError(f"{self.name} mark price: no mark price returned for {symbol}")
        return float(price)

    def funding_rate(self, symbol: str) -> tuple[float, float]:
        m = self._market(symbol)
        if not m.get("swap"):
            return (0.0, 8.0)
        fr = self._call("fetch funding rate", self.exchange.fetch_funding_rate, symbol)
        if fr.get("fundingRate") is None:
            raise ExchangeError(f"{self.name} funding rate: none returned for {symbol}")
        rate = float(fr["fundingRate"])
        interval = fr.get("interval")
        hours = 8.0
        if isinstance(interval, str) and interval.endswith("h") and interval[:-1].isdigit():
            hours = float(interval[:-1])
        else:
            inst = self.instrument(symbol)
            hours = inst.funding_interval_hours or 8.0
        return (rate, hours)

    def set_leverage(self, symbol: str, leverage: float, margin_mode: str) -> None:
        """Margin mode, then leverage; "no need to change" answers are success."""
        if margin_mode not in ("isolated", "cross"):
            raise InputError(f"margin_mode: must be 'isolated' or 'cross', got {margin_mode!r}")
        self._market(symbol)
        if self.id == "deribit" and margin_mode != "cross":
            raise InputError(
                "margin_mode: Deribit futures margin is account-wide (cross) and its leverage "
                'is not set per order; set hedge.margin_mode = "cross" for Deribit'
            )
        ex = self.exchange
        params: dict[str, Any] = {}
        mm_params: dict[str, Any] = {}
        if self.id == "okx":
            params = {"mgnMode": margin_mode}
            mm_params = {"lever": leverage}
        elif self.id == "bybit":
            mm_params = {"leverage": leverage}
        if self.id != "deribit" and ex.has.get("setMarginMode"):
            self._tolerant(
                "set margin mode",
                lambda: ex.set_margin_mode(margin_mode, symbol, mm_params),
            )
        if ex.has.get("setLeverage"):
            lev: float | int = int(leverage) if float(leverage).is_integer() else leverage
            self._tolerant("set leverage", lambda: ex.set_leverage(lev, symbol, params))
        self._leverage_set.add(symbol)
        self._margin_modes[symbol] = margin_mode

    def _tolerant(self, action: str, fn: Callable[[], Any]) -> None:
        try:
            fn()
        except ccxt.BaseError as err:
            if _NO_CHANGE.search(str(err)):
                return
            raise translate_error(
                err, exchange=self.name, action=action, secrets=self._secrets
            ) from None

    def _order_params(self, order: OrderRequest) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if self.id == "deribit":
            params["label"] = order.client_order_id
        else:
            params["clientOrderId"] = order.client_order_id
        if self.id == "okx":
            # OKX decides the margin mode per order (tdMode); ccxt's default is cross
            params["marginMode"] = self._margin_modes.get(order.symbol, "isolated")
        if order.reduce_only:
            params["reduceOnly"] = True
        if order.order_type == "limit":
            if order.post_only or order.time_in_force == "PO":
                params["postOnly"] = True
            elif order.time_in_force in ("IOC", "FOK"):
                params["timeInForce"] = order.time_in_force
        return params

    def _prepared_amount(self, order: OrderRequest) -> float:
        """Exchange amount rounded to precision; refuses sizes below the market minimum."""
        m = self._market(order.symbol)
        raw = self._to_exchange_amount(order.symbol, order.contracts)
        try:
            amount = float(self.exchange.amount_to_precision(order.symbol, raw))
        except ccxt.BaseError:
            amount = 0.0
        min_amount = ((m.get("limits") or {}).get("amount") or {}).get("min")
        if amount <= 0 or (min_amount is not None and amount < float(min_amount) - 1e-12):
            raise ExchangeError(
                f"{self.name} place order: {order.contracts:g} contracts of {order.symbol} is "
                f"below "
                f"the exchange minimum ({min_amount} in exchange units); increase the size"
            )
        return amount

    def place_order(self, order: OrderRequest) -> OrderResult:
        """Send ``order`` once. Same client id again → the existing order, nothing sent."""
        existing = self.fetch_order(order.symbol, order.client_order_id)
        if existing is not None:
            return existing
        amount = self._prepared_amount(order)
        price: float | None = None
        if order.order_type == "limit":
            assert order.price is not None
            price = float(self.exchange.price_to_precision(order.symbol, order.price))
        params = self._order_params(order)
        ex = self.exchange
        last_err: ccxt.BaseError | None = None
        for _attempt in range(2):  # the second send happens only when lookups say "never arrived"
            try:
                raw = ex.create_order(
                    order.symbol, order.order_type, order.side, amount, price, dict(params)
                )
            except ccxt.NetworkError as err:  # timeout, connection reset: outcome unknown
                last_err = err
                found = self._lookup_after_failure(order)
                if found is not None:
                    return found
                continue
            except ccxt.InvalidOrder as err:
                if _DUPLICATE.search(str(err)):
                    found = self._lookup_after_failure(order)
                    if found is not None:
                        return found
                raise translate_error(
                    err, exchange=self.name, action="place order", secrets=self._secrets
                ) from None
            except ccxt.BaseError as err:
                raise translate_error(
                    err, exchange=self.name, action="place order", secrets=self._secrets
                ) from None
            result = self._with_trade_fees(self._parse_order(raw, order.symbol, fallback=order))
            if result.status == "open" and not raw.get("status"):
                # some exchanges answer a create with the id only: read the full order
                fetched = self.fetch_order(order.symbol, order.client_order_id)
                return fetched if fetched is not None else result
            return result
        assert last_err is not None
        raise translate_error(
            last_err, exchange=self.name, action="place order", secrets=self._secrets
        )

    def _lookup_after_failure(self, order: OrderRequest) -> OrderResult | None:
        for i in range(self._lookup_attempts):
            if i:
                self._sleep(self._lookup_delay_s)
            try:
                found = self._lookup_raw(order.symbol, order.client_order_id)
            except ccxt.NetworkError:
                continue
            except ccxt.BaseError as err:
                raise translate_error(
                    err, exchange=self.name, action="look up order", secrets=self._secrets
                ) from None
            if found is not None:
                return self._parse_order(found, order.symbol, fallback=order)
        return None

    def _lookup_raw(self, symbol: str, cid: str) -> dict[str, Any] | None:
        """The raw ccxt order with client id ``cid`` or None (raises ccxt errors)."""
        ex = self.exchange
        market = self._market(symbol)
        try:
            if self.id in ("binanceusdm", "binancecoinm", "binance"):
                return dict(ex.fetch_order(None, symbol, {"origClientOrderId": cid}))
            if self.id == "okx":
                return dict(ex.fetch_order(None, symbol, {"clOrdId": cid}))
            if self.id == "bybit":
                category = "linear" if market.get("linear") else "inverse"
                req = {"category": category, "symbol": market["id"], "orderLinkId": cid}
                for endpoint in (ex.privateGetV5OrderRealtime, ex.privateGetV5OrderHistory):
                    resp = endpoint(req)
                    rows = ((resp or {}).get("result") or {}).get("list") or []
                    if rows:
                        return dict(ex.parse_order(rows[0], market))
                return None
            if self.id == "deribit":
                resp = ex.privateGetGetOrderStateByLabel({"currency": market["base"], "label": cid})
                rows = (resp or {}).get("result") or []
                rows = [r for r in rows if r.get("label") == cid]
                return dict(ex.parse_order(rows[0], market)) if rows else None
        except ccxt.OrderNotFound:
            return None
        # generic: scan open then closed orders
        for fetch in (ex.fetch_open_orders, ex.fetch_closed_orders):
            for o in fetch(symbol):
                if o.get("clientOrderId") == cid:
                    return dict(o)
        return None

    def fetch_order(self, symbol: str, client_order_id: str) -> OrderResult | None:
        try:
            raw = self._lookup_raw(symbol, client_order_id)
        except ccxt.BaseError as err:
            raise translate_error(
                err, exchange=self.name, action="fetch order", secrets=self._secrets
            ) from None
        if raw is None:
            return None
        return self._with_trade_fees(self._parse_order(raw, symbol, cid=client_order_id))

    def _with_trade_fees(self, result: OrderResult) -> OrderResult:
        """Binance futures orders carry no fee: read it from the order's trades once final."""
        if (
            self.id not in _FAMILY
            or not result.is_final
            or result.filled_contracts <= 0
            or result.fee.amount
            or result.exchange_order_id is None
        ):
            return result
        fills = self.order_fills(result.symbol, result.client_order_id, result.exchange_order_id)
        if not fills:
            return result
        total = sum(f.fee.amount for f in fills)
        return replace(result, fee=Fee(amount=total, currency=fills[0].fee.currency))

    def order_fills(
        self, symbol: str, client_order_id: str, exchange_order_id: str | None = None
    ) -> list[Fill]:
        """The executions of one order (``fetch_my_trades`` filtered by order id)."""
        if exchange_order_id is None:
            found = self.fetch_order(symbol, client_order_id)
            if found is None or found.exchange_order_id is None:
                return []
            exchange_order_id = found.exchange_order_id
        params = {"orderId": exchange_order_id} if self.id in _FAMILY else {}
        trades = self._call(
            "fetch trades", self.exchange.fetch_my_trades, symbol, None, None, params
        )
        out: list[Fill] = []
        for t in trades:
            if str(t.get("order")) != str(exchange_order_id):
                continue
            fee = t.get("fee") or {}
            out.append(
                Fill(
                    symbol=symbol,
                    client_order_id=client_order_id,
                    side=t.get("side") or "sell",
                    contracts=self._to_contracts(symbol, t.get("amount")),
                    price=float(t.get("price") or 0.0),
                    fee=Fee(float(fee.get("cost") or 0.0), str(fee.get("currency") or "")),
                    timestamp_ms=None if t.get("timestamp") is None else int(t["timestamp"]),
                    trade_id=None if t.get("id") is None else str(t["id"]),
                )
            )
        return out

    def funding_payments(self, symbol: str, since_ms: int | None = None) -> list[FundingPayment]:
        """Funding RECEIVED (negative = paid) per interval, settlement currency.

        Exchanges report the amount only: ``rate`` is NaN (unknown), and ``mark_price``
        is today's mark, so a coin amount converted with it is valued now, not at
        payment time.
        """
        m = self._market(symbol)
        ex = self.exchange
        if not m.get("swap") or not ex.has.get("fetchFundingHistory"):
            return []
        rows = self._call("fetch funding history", ex.fetch_funding_history, symbol, since_ms)
        mark = self.mark_price(symbol) if rows else math.nan
        return [
            FundingPayment(
                symbol=symbol,
                amount=float(r.get("amount") or 0.0),
                currency=str(r.get("code") or m.get("settle") or ""),
                rate=math.nan,
                mark_price=mark,
                timestamp_ms=int(r.get("timestamp") or 0),
            )
            for r in rows
            if r.get("symbol") in (None, symbol)
        ]

    def cancel_order(self, symbol: str, client_order_id: str) -> None:
        current = self.fetch_order(symbol, client_order_id)
        if current is None or current.is_final:
            return
        try:
            self.exchange.cancel_order(current.exchange_order_id, symbol)
        except ccxt.OrderNotFound:
            return  # filled or cancelled in between: the caller re-reads the order
        except ccxt.BaseError as err:
            raise translate_error(
                err, exchange=self.name, action="cancel order", secrets=self._secrets
            ) from None

    def open_orders(self, symbol: str) -> list[OrderResult]:
        self._market(symbol)
        raw = self._call("fetch open orders", self.exchange.fetch_open_orders, symbol)
        return [self._parse_order(o, symbol) for o in raw]

    def position(self, symbol: str) -> VenuePosition | None:
        m = self._market(symbol)
        raw = self._call("fetch positions", self.exchange.fetch_positions, [symbol])
        for p in raw:
            if p.get("symbol") != symbol:
                continue
            size = self._to_contracts(symbol, p.get("contracts"))
            if not size:
                continue
            side_s = (p.get("side") or "").lower()
            side = Side.SHORT if side_s == "short" else Side.LONG
            if not side_s and float(p.get("contracts") or 0) < 0:
                side = Side.SHORT
            liq = p.get("liquidationPrice")
            lev = p.get("leverage")
            iso = p.get("collateral") if p.get("collateral") is not None else p.get("initialMargin")
            return VenuePosition(
                symbol=symbol,
                side=side,
                contracts=abs(size),
                entry_price=float(p.get("entryPrice") or 0.0),
                contract_type=ContractType.INVERSE if m.get("inverse") else ContractType.LINEAR,
                margin_mode=str(p.get("marginMode") or "isolated"),
                leverage=None if lev is None else float(lev),
                liquidation_price=None if not liq else float(liq),
                unrealised_pnl=float(p.get("unrealizedPnl") or 0.0),
                isolated_margin=None if iso is None else float(iso),
                settle=str(m.get("settle", "")),
                mark_price=None if p.get("markPrice") is None else float(p["markPrice"]),
            )
        return None

    def open_positions(self) -> list[VenuePosition]:
        """Every open position of the account (one ``fetch_positions`` for the list, then
        :meth:`position` per symbol held), so orphans on any symbol are seen."""
        raw = self._call("fetch positions", self.exchange.fetch_positions)
        held = sorted(
            {str(p["symbol"]) for p in raw if p.get("symbol") and float(p.get("contracts") or 0)}
        )
        found = (self.position(symbol) for symbol in held)
        return [p for p in found if p is not None]

    # ------------------------------------------------------------------ execution
    def _execution_clock(self) -> tuple[Callable[[float], None], Callable[[], float]]:
        """``execute`` polls in real time (or on the clock the venue was given)."""
        return self._sleep, self._clock

    # ------------------------------------------------------------------ parsing
    def _parse_order(
        self,
        raw: dict[str, Any],
        symbol: str,
        *,
        fallback: OrderRequest | None = None,
        cid: str | None = None,
    ) -> OrderResult:
        info = raw.get("info") or {}
        client_id = (
            raw.get("clientOrderId")
            or info.get("label")
            or cid
            or (fallback.client_order_id if fallback else "")
        )
        amount = raw.get("amount")
        filled = raw.get("filled")
        contracts = (
            self._to_contracts(symbol, amount)
            if amount is not None
            else (fallback.contracts if fallback else 0.0)
        )
        filled_c = self._to_contracts(symbol, filled)
        status: OrderStatus = _STATUS.get(str(raw.get("status") or "open"), "open")
        if status == "open" and filled_c > 0:
            status = "partially_filled"
        if status == "canceled" and contracts and filled_c >= contracts - 1e-12:
            status = "filled"
        fee_amount = 0.0
        fee_ccy = ""
        fees = raw.get("fees") or ([raw["fee"]] if raw.get("fee") else [])
        for f in fees:
            if f and f.get("cost") is not None:
                fee_amount += float(f["cost"])
                fee_ccy = f.get("currency") or fee_ccy
        if not fee_amount and info.get("cumExecFee") not in (None, "", "0"):
            # Bybit V5 orders without ``cumFeeDetail``: the cumulative fee, settle currency
            fee_amount = float(info["cumExecFee"])
            fee_ccy = str(self._market(symbol).get("settle") or "")
        side = raw.get("side") or (fallback.side if fallback else "sell")
        otype = raw.get("type") or (fallback.order_type if fallback else "limit")
        if otype not in ("limit", "market"):
            otype = "limit"
        avg = raw.get("average")
        price = raw.get("price")
        reduce_only = raw.get("reduceOnly")
        if reduce_only is None:
            reduce_only = fallback.reduce_only if fallback else False
        return OrderResult(
            client_order_id=str(client_id),
            exchange_order_id=None if raw.get("id") is None else str(raw["id"]),
            symbol=symbol,
            side=side,
            order_type=otype,
            contracts=float(contracts),
            status=status,
            filled_contracts=float(filled_c),
            average_price=None if not avg else float(avg),
            price=None
            if not price or (isinstance(price, float) and math.isnan(price))
            else float(price),
            fee=Fee(amount=fee_amount, currency=fee_ccy),
            reduce_only=bool(reduce_only),
            timestamp_ms=None if raw.get("timestamp") is None else int(raw["timestamp"]),
        )
