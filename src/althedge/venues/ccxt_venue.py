"""The ccxt adapter: a real exchange behind the :class:`~althedge.venues.protocol.Venue` protocol.

Every exchange difference comes from its profile (:mod:`althedge.exchanges`): ccxt
id and family, market types, client-id parameter and order lookup, margin- and
position-mode rules, funding sign, error codes. ``testnet=True`` switches to the
profile's test environment (Binance futures: demo trading; others: ccxt sandbox).

What the adapter does (and nothing more — it translates, it never decides):

* amounts: contracts ↔ the exchange's unit (Deribit inverse: USD), rounded with the
  exchange's own precision and checked against the market's minimum amount AND
  minimum notional (``limits.cost.min``) before anything is sent
  (:class:`~althedge.errors.BelowExchangeMinimumError`);
* ``set_leverage`` sets the margin mode then the leverage; "already so" answers are
  success, every other refusal (OKX 59107: orders pending) is an error. Binance
  takes whole-number leverage: a fraction is rounded DOWN and said in ``notices``.
  An account-wide margin mode (Bybit unified account) is read first and never changed
  unless ``allow_account_changes``;
* each leg's margin mode is remembered (``use_margin_mode`` restores it from the
  journal) and sent on every order where the exchange decides per order (OKX tdMode);
* hedge (dual-side) position mode is detected and every order carries the position
  side (Binance ``positionSide``, Bybit ``positionIdx``, OKX ``posSide``);
* never two orders for one intent: :meth:`CcxtVenue.place_order` looks the client
  id up first; after a timeout/network error while placing it looks the order up
  again and re-sends ONLY after a lookup that answered a definite "not found". When
  every lookup fails too it raises :class:`~althedge.errors.OrderOutcomeUnknownError`
  (nothing re-sent; the journal's intent stays open for reconciliation);
* reads (order lookups, positions, prices, funding) are retried with backoff on
  transient errors (timeouts, 429, exchange unavailable);
* every ccxt error becomes :class:`althedge.errors.ExchangeError` with a one-line
  message that never contains a key, secret, signature or URL query.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import ccxt

from althedge.core.instruments import ContractType, Instrument, Side
from althedge.errors import (
    AccountSettingError,
    AlthedgeError,
    BelowExchangeMinimumError,
    ExchangeError,
    InputError,
    OrderOutcomeUnknownError,
    UnknownInstrumentError,
    VenueRestrictedError,
)
from althedge.exchanges import (
    PROFILES,
    SUPPORTED_EXCHANGES,
    USD_LIKE,
    ExchangeProfile,
    error_code,
    instrument_from_market,
    interval_hours,
    make_exchange,
    mark_of,
    min_notional,
)
from althedge.exchanges import translate_error as _translate
from althedge.exchanges.factory import configure
from althedge.venues.credentials import Credentials, install_log_redaction
from althedge.venues.execution import ExecutesOrders
from althedge.venues.protocol import (
    Deposit,
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

_STATUS: dict[str, OrderStatus] = {
    "open": "open",
    "closed": "filled",
    "canceled": "canceled",
    "cancelled": "canceled",
    "expired": "canceled",
    "rejected": "rejected",
}

#: errors after which the request may or may not have taken effect: ccxt's
#: OperationFailed = NetworkError (timeouts, 429, unavailable) + BadResponse + Binance
#: -1001 "Internal error; unable to process your request" (status unknown)
_TRANSIENT = (ccxt.OperationFailed,)


def translate_error(
    err: BaseException, *, exchange: str, action: str, secrets: tuple[str, ...] = ()
) -> ExchangeError:
    """A one-line :class:`ExchangeError` (see :func:`althedge.exchanges.translate_error`)."""
    return _translate(err, exchange=exchange, action=action, secrets=secrets)


def _liquidation_id(exchange_id: str, ident: str) -> str:
    """A journal key for a liquidation (letters/digits, like our client ids)."""
    import hashlib

    return "ahliq" + hashlib.sha256(f"{exchange_id}:{ident}".encode()).hexdigest()[:27]


def _generic_profile(exchange_id: str) -> ExchangeProfile:
    from althedge.exchanges.profile import FeeSchedule

    return ExchangeProfile(
        ccxt_id=exchange_id,
        family=exchange_id,
        title=exchange_id,
        contract_types=("linear", "inverse"),
        fees=FeeSchedule(0.0002, 0.0005),
    )


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
        read_retries: int = 3,
        read_backoff_s: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        allow_account_changes: bool = False,
    ) -> None:
        self.exchange = exchange
        self.id: str = str(exchange.id)
        self.profile: ExchangeProfile = PROFILES.get(self.id) or _generic_profile(self.id)
        testing = bool(
            getattr(exchange, "isSandboxModeEnabled", False)
            or (exchange.options or {}).get("enableDemoTrading")
        )
        self.name = self.id + ("-testnet" if testing else "")
        self._secrets: tuple[str, ...] = credentials.secrets() if credentials else ()
        self._secrets += tuple(
            s
            for s in (
                getattr(exchange, k, None)
                for k in ("apiKey", "secret", "password", "privateKey", "walletAddress")
            )
            if s
        )
        install_log_redaction(self._secrets)
        self._lookup_attempts = max(lookup_attempts, 1)
        self._lookup_delay_s = lookup_delay_s
        self._read_retries = max(read_retries, 0)
        self._read_backoff_s = read_backoff_s
        self._sleep = sleep
        self._clock = clock
        self.allow_account_changes = allow_account_changes
        configure(exchange, "trade")
        self._instruments: dict[str, Instrument] = {}
        self._leverage_set: set[str] = set()
        self._leverages: dict[str, float | int] = {}
        self._margin_modes: dict[str, str] = {}
        self._hedge_mode: dict[str, bool] = {}
        #: the exchange's form of a client id → althedge's (Hyperliquid cloid → our id)
        self._our_ids: dict[str, str] = {}
        #: one-line notes for the user (e.g. a leverage rounded to a whole number)
        self.notices: list[str] = []
        #: a real exchange's deposits come from :meth:`deposits_since` (its history)
        self.deposits: dict[str, float] = {}
        #: the exchange's clock minus the local one (ms), read once (see :meth:`now_ms`)
        self._clock_offset_ms: int | None = None
        #: said by ``hedge status`` when the exchange reports no deposits or transfers
        self.deposits_note: str = "" if self.profile.deposits is not None else (
            f"deposits: not available on {self.profile.title} (althedge reads no deposit or "
            "transfer history there); collateral added after the open is not in the "
            "attribution"
        )

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
        config = credentials.ccxt_config() if credentials is not None else {}
        ex = make_exchange(
            exchange_id, purpose="trade", config=dict(config), testnet=testnet,
            timeout_ms=timeout_ms,
        )
        return cls(ex, credentials=credentials, **kwargs)

    # ------------------------------------------------------------------ helpers
    def _error(self, err: BaseException, action: str) -> ExchangeError:
        return translate_error(err, exchange=self.name, action=action, secrets=self._secrets)

    def _call(self, action: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A READ: retried with backoff on transient errors, then one-line errors."""
        delay = self._read_backoff_s
        for attempt in range(self._read_retries + 1):
            try:
                return fn(*args, **kwargs)
            except AlthedgeError:
                raise
            except _TRANSIENT as err:
                if attempt >= self._read_retries:
                    raise self._error(err, action) from None
                self._sleep(delay)
                delay *= 2
            except ccxt.BaseError as err:
                raise self._error(err, action) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _market(self, symbol: str) -> dict[str, Any]:
        self._call("load markets", self.exchange.load_markets)
        try:
            market: dict[str, Any] = self.exchange.market(symbol)
        except ccxt.BaseError:
            raise UnknownInstrumentError(
                f"symbol: {symbol!r} is not listed on {self.name}; check hedge.symbol"
            ) from None
        if self.profile.amounts_in_coin and market.get("contract"):
            # the exchange counts orders and positions in coin (WEEX): so does ccxt's cost
            market["contractSize"] = 1.0
        return market

    def _amount_in_usd(self, symbol: str) -> bool:
        return self.profile.amount_in_usd_inverse and bool(self._market(symbol).get("inverse"))

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
        """Live spec from ``load_markets()`` (:func:`althedge.exchanges.instrument_from_market`)."""
        if symbol in self._instruments:
            return self._instruments[symbol]
        m = self._market(symbol)
        inst = instrument_from_market(
            self.id, m, precision_mode=int(getattr(self.exchange, "precisionMode", 4))
        )
        if math.isnan(inst.max_leverage):
            inst = replace(inst, max_leverage=1.0)
        self._instruments[symbol] = inst
        return inst

    def mark_price(self, symbol: str) -> float:
        self._market(symbol)
        ex = self.exchange
        if ex.has.get("fetchMarkPrice"):
            t = self._call("fetch mark price", ex.fetch_mark_price, symbol)
        else:
            t = self._call("fetch ticker", ex.fetch_ticker, symbol)
        price = mark_of(t)
        if price is None:
            raise ExchangeError(f"{self.name} mark price: no mark price returned for {symbol}")
        return float(price)

    def funding_rate(self, symbol: str) -> tuple[float, float]:
        m = self._market(symbol)
        if not m.get("swap"):
            return (0.0, 8.0)
        fr = self._call("fetch funding rate", self.exchange.fetch_funding_rate, symbol)
        if fr.get("fundingRate") is None:
            raise ExchangeError(f"{self.name} funding rate: none returned for {symbol}")
        hours = interval_hours(fr.get("interval"))
        if hours is None:
            hours = self.instrument(symbol).funding_interval_hours or 8.0
        return (float(fr["fundingRate"]), float(hours))

    # ------------------------------------------------------------------ account set-up
    def use_margin_mode(self, symbol: str, margin_mode: str) -> None:
        """Remember the leg's margin mode (from the journal) without calling the exchange."""
        if margin_mode not in ("isolated", "cross"):
            raise InputError(f"margin_mode: must be 'isolated' or 'cross', got {margin_mode!r}")
        self._margin_modes[symbol] = margin_mode

    def margin_mode(self, symbol: str) -> str:
        """The leg's margin mode: remembered, else the open position's, else an error."""
        if symbol in self._margin_modes:
            return self._margin_modes[symbol]
        pos = self.position(symbol)
        if pos is not None and pos.margin_mode in ("isolated", "cross"):
            self._margin_modes[symbol] = pos.margin_mode
            return pos.margin_mode
        raise InputError(
            f"margin_mode: unknown for {symbol} on {self.name}; set the leverage and margin "
            "mode first (the hedge's record keeps it for later commands)"
        )

    def set_leverage(self, symbol: str, leverage: float, margin_mode: str) -> None:
        """Margin mode, then leverage; "already so" answers are success, refusals errors."""
        if margin_mode not in ("isolated", "cross"):
            raise InputError(f"margin_mode: must be 'isolated' or 'cross', got {margin_mode!r}")
        self._market(symbol)
        p = self.profile
        if margin_mode not in p.margin_modes:
            raise InputError(
                f"margin_mode: {p.title} margin is account-wide "
                f"({'/'.join(p.margin_modes)}) and its leverage is not set per order; set "
                f'hedge.margin_mode = "{p.margin_modes[0]}" for {self.id}'
            )
        ex = self.exchange
        set_mode = p.ccxt_id != "deribit" and bool(ex.has.get("setMarginMode"))
        if set_mode and p.account_wide_margin_mode is not None:
            current = self._call(
                "read account margin mode", p.account_wide_margin_mode, ex
            )
            if current is not None:  # unified account: the mode is account-wide
                if current == margin_mode:
                    set_mode = False
                elif not self.allow_account_changes:
                    raise AccountSettingError(
                        f"{self.name} margin mode: this unified account is in {current} "
                        f"margin for EVERY position; switching it to {margin_mode} would "
                        f're-margin them all. Set hedge.margin_mode = "{current}" or pass '
                        "--allow-account-change to switch the whole account"
                    )
        lev: float | int = leverage
        if p.leverage_whole_number and not float(leverage).is_integer():
            lev = max(math.floor(leverage), 1)
            self.notices.append(
                f"leverage {leverage:g} rounded down to {lev} ({p.title} takes whole numbers)"
            )
        elif float(leverage).is_integer():
            lev = int(leverage)
        if p.margin_mode_via_leverage:
            set_mode = False  # one action sets both (Hyperliquid updateLeverage)
        if set_mode:
            mm_params = p.margin_mode_params(margin_mode, lev) if p.margin_mode_params else {}
            self._tolerant(
                "set margin mode", lambda: ex.set_margin_mode(margin_mode, symbol, mm_params)
            )
        if ex.has.get("setLeverage") and p.ccxt_id != "deribit":
            params = p.leverage_params(margin_mode) if p.leverage_params else {}
            if p.leverage_side_params is not None:  # BingX: the short side's leverage
                params.update(p.leverage_side_params(self.hedge_mode(symbol)))
            self._tolerant("set leverage", lambda: ex.set_leverage(lev, symbol, params))
        self._leverage_set.add(symbol)
        self._leverages[symbol] = lev
        self._margin_modes[symbol] = margin_mode

    def _tolerant(self, action: str, fn: Callable[[], Any]) -> None:
        """A setting change: the profile's "no need to change" codes are success."""
        try:
            fn()
        except ccxt.BaseError as err:
            text = str(err)
            code = error_code(err)
            if (code is not None and code in self.profile.no_change_codes) or any(
                c in text for c in self.profile.no_change_codes
            ):
                return
            raise self._error(err, action) from None

    def hedge_mode(self, symbol: str) -> bool:
        """True when the account holds long and short sides separately (dual-side mode)."""
        rules = self.profile.position_mode
        if rules is None:
            return False
        if symbol not in self._hedge_mode:
            market = self._market(symbol)
            self._hedge_mode[symbol] = bool(
                self._call("read position mode", rules.detect, self.exchange, market)
            )
        return self._hedge_mode[symbol]

    # ------------------------------------------------------------------ orders
    def exchange_client_id(self, client_order_id: str) -> str:
        """althedge's client id in the exchange's own format (Hyperliquid: a hex cloid)."""
        fmt = self.profile.client_id_format
        if fmt is None:
            return client_order_id
        theirs = fmt(client_order_id)
        self._our_ids[theirs] = client_order_id
        return theirs

    def remember_client_ids(self, client_order_ids: Iterable[str]) -> None:
        """Client ids althedge issued (the journal's): orders read back from the exchange
        carrying their exchange form (a Hyperliquid cloid) are reported under these."""
        for cid in client_order_ids:
            self.exchange_client_id(cid)

    def _order_params(self, order: OrderRequest) -> dict[str, Any]:
        p = self.profile
        cid = order.client_order_id
        params: dict[str, Any] = {p.client_id_param: self.exchange_client_id(cid)}
        if p.order_leverage_param is not None and order.symbol in self._leverages:
            params[p.order_leverage_param] = self._leverages[order.symbol]
        if p.order_margin_mode_param is not None:
            # the exchange decides the margin mode per order (OKX tdMode): the leg's own
            params[p.order_margin_mode_param] = self.margin_mode(order.symbol)
        reduce_only = order.reduce_only
        if p.position_mode is not None and self.hedge_mode(order.symbol):
            # a hedge is a short: opening sells into it, reducing buys back from it
            opening = order.side == "sell" and not order.reduce_only
            closing_short = order.side == "buy" and order.reduce_only
            side = "short" if (opening or closing_short) else "long"
            params.update(p.position_mode.params(side))
            if not p.position_mode.reduce_only_in_hedge_mode:
                reduce_only = False  # the position side closes; reduceOnly is refused here
        if reduce_only:
            params["reduceOnly"] = True
        if order.order_type == "limit":
            if order.post_only or order.time_in_force == "PO":
                params["postOnly"] = True
            elif order.time_in_force in ("IOC", "FOK"):
                params["timeInForce"] = order.time_in_force
        return params

    def _prepared_amount(self, order: OrderRequest) -> float:
        """Exchange amount rounded to precision; refuses sizes below the market minimums."""
        m = self._market(order.symbol)
        raw = self._to_exchange_amount(order.symbol, order.contracts)
        try:
            amount = float(self.exchange.amount_to_precision(order.symbol, raw))
        except ccxt.BaseError:
            amount = 0.0
        min_amount = ((m.get("limits") or {}).get("amount") or {}).get("min")
        if amount <= 0 or (min_amount is not None and amount < float(min_amount) - 1e-12):
            raise BelowExchangeMinimumError(
                f"{self.name} place order: {order.contracts:g} contracts of {order.symbol} is "
                f"below the exchange minimum ({min_amount} in exchange units); increase the size"
            )
        floor = min_notional(m)
        if floor is not None and not order.reduce_only:
            price = order.price if order.price else self.mark_price(order.symbol)
            cs = float(m.get("contractSize") or 1.0)
            notional = amount if self._amount_in_usd(order.symbol) else amount * cs * (
                1.0 if m.get("inverse") else price
            )
            if notional < floor - 1e-9:
                raise BelowExchangeMinimumError(
                    f"{self.name} place order: {order.contracts:g} contracts of {order.symbol} "
                    f"are {notional:,.2f} {m.get('quote')} of notional, below the exchange "
                    f"minimum of {floor:g}; increase the size"
                )
        return amount

    def below_minimum(
        self, symbol: str, contracts: float, price: float | None = None
    ) -> str | None:
        """Why ``contracts`` could not be sent (below the minimum amount or notional), or None."""
        try:
            self._prepared_amount(
                OrderRequest(
                    symbol=symbol, side="sell", contracts=contracts, order_type="market",
                    client_order_id="ahminimumcheck", price=price,
                )
            )
        except BelowExchangeMinimumError as err:
            return str(err)
        return None

    def place_order(self, order: OrderRequest) -> OrderResult:
        """Send ``order`` at most once per intent (see the module docstring).

        Same client id again → the existing order, nothing sent. A create that times
        out (or fails on the network) is followed by lookups; only a lookup that
        answered "no such order" allows the one re-send. If no lookup answers,
        :class:`OrderOutcomeUnknownError` is raised and nothing is re-sent.
        """
        self.check_orders_allowed()
        existing = self._lookup_all(order.symbol, order.client_order_id, "look up order")
        if existing:
            return self._pick(existing, order)
        amount = self._prepared_amount(order)
        price: float | None = None
        if order.order_type == "limit":
            assert order.price is not None
            price = float(self.exchange.price_to_precision(order.symbol, order.price))
        elif self.profile.market_order_needs_price:
            # Hyperliquid has no market order: an IOC limit at the mark ± ccxt's slippage
            price = self.mark_price(order.symbol)
        params = self._order_params(order)
        ex = self.exchange
        for _attempt in range(2):  # a second send only after a definite "not found"
            try:
                raw = ex.create_order(
                    order.symbol, order.order_type, order.side, amount, price, dict(params)
                )
            except _TRANSIENT as err:  # timeout, 429, reset: the exchange may have acted
                self._raise_if_restricted(err)  # MEXC "Under maintenance": a refusal
                found = self._lookup_after_failure(order, err)
                if found is not None:
                    return found
                continue  # the exchange said it has no such order: send it once more
            except ccxt.InvalidOrder as err:
                code = error_code(err)
                if code is not None and code in self.profile.duplicate_codes:
                    found = self._lookup_after_failure(order, err)
                    if found is not None:
                        return found
                raise self._error(err, "place order") from None
            except ccxt.BaseError as err:
                self._raise_if_restricted(err)
                raise self._error(err, "place order") from None
            result = self._with_trade_fees(self._parse_order(raw, order.symbol, fallback=order))
            if not raw.get("status"):
                # some exchanges answer a create with the id (and fill) only: read the
                # full order (BingX, Hyperliquid, MEXC)
                fetched = self.fetch_order(order.symbol, order.client_order_id)
                return fetched if fetched is not None else result
            return result
        raise self._outcome_unknown(order, "the exchange answered 'not found' twice after "
                                    "failed sends")

    def check_orders_allowed(self) -> None:
        """Refuse, before anything is sent, where the exchange restricts API orders
        (:class:`VenueRestrictedError`); the lifecycle asks before it journals an intent."""
        p = self.profile
        if p.order_restriction is None:
            return
        if p.order_opt_in_env and os.environ.get(p.order_opt_in_env, "").lower() in (
            "enabled", "1", "true", "yes",
        ):
            return
        raise VenueRestrictedError(f"{self.name} place order: {p.order_restriction}")

    def _raise_if_restricted(self, err: BaseException) -> None:
        """The exchange's own "restricted" answer as the restriction's sentence."""
        p = self.profile
        if p.order_restriction is None or not p.restriction_codes:
            return
        code = error_code(err)
        text = str(err)
        if (code is not None and code in p.restriction_codes) or any(
            c in text for c in p.restriction_codes if not c.isdigit()
        ):
            raise VenueRestrictedError(
                f"{self.name} place order: the exchange refused it as restricted; "
                f"{p.order_restriction}"
            ) from None

    def _outcome_unknown(self, order: OrderRequest, why: str) -> OrderOutcomeUnknownError:
        return OrderOutcomeUnknownError(
            f"{self.name} place order: outcome unknown for {order.side} {order.contracts:g} "
            f"{order.symbol} (client id {order.client_order_id}): {why}; nothing was re-sent. "
            f"Check open orders and the {order.symbol} position on {self.id}, then run "
            "`althedge hedge status` to reconcile"
        )

    def _lookup_after_failure(
        self, order: OrderRequest, err: BaseException
    ) -> OrderResult | None:
        """The order after a failed create; None ONLY when the exchange said "not found"."""
        for i in range(self._lookup_attempts):
            self._sleep(self._lookup_delay_s * (2**i))
            try:
                found = self._lookup_raw(order.symbol, order.client_order_id)
            except _TRANSIENT:
                continue
            except ccxt.BaseError as lookup_err:
                raise self._outcome_unknown(
                    order, f"the lookup failed ({type(lookup_err).__name__})"
                ) from None
            if found:
                return self._pick(found, order)
            return None
        raise self._outcome_unknown(
            order,
            f"the send failed ({type(err).__name__}) and {self._lookup_attempts} lookups "
            "got no answer",
        )

    def _pick(self, raws: list[dict[str, Any]], order: OrderRequest) -> OrderResult:
        """One order of those carrying the client id (labels repeat on Deribit: newest)."""
        raw = max(raws, key=lambda r: int(r.get("timestamp") or 0))
        return self._with_trade_fees(self._parse_order(raw, order.symbol, fallback=order))

    def _lookup_raw(self, symbol: str, cid: str) -> list[dict[str, Any]]:
        """Every raw ccxt order with client id ``cid`` (raises ccxt errors; [] = not found)."""
        market = self._market(symbol)
        if self.profile.lookup is not None:
            return self.profile.lookup(self.exchange, market, cid)
        ex = self.exchange
        out: list[dict[str, Any]] = []
        for fetch in (ex.fetch_open_orders, ex.fetch_closed_orders):
            out.extend(dict(o) for o in fetch(symbol) if o.get("clientOrderId") == cid)
        return out

    def _lookup_all(self, symbol: str, cid: str, action: str) -> list[dict[str, Any]]:
        return self._call(action, self._lookup_raw, symbol, cid)

    def fetch_order(self, symbol: str, client_order_id: str) -> OrderResult | None:
        raws = self._lookup_all(symbol, client_order_id, "fetch order")
        if not raws:
            return None
        raw = max(raws, key=lambda r: int(r.get("timestamp") or 0))
        return self._with_trade_fees(self._parse_order(raw, symbol, cid=client_order_id))

    def _with_trade_fees(self, result: OrderResult) -> OrderResult:
        """Orders without a fee (Binance futures) or an average price (Hyperliquid's
        ``orderStatus``): both from the order's trades once final."""
        if (
            not self.profile.order_fee_from_trades
            or not result.is_final
            or result.filled_contracts <= 0
            or (result.fee.amount and result.average_price)
            or result.exchange_order_id is None
        ):
            return result
        fills = self.order_fills(result.symbol, result.client_order_id, result.exchange_order_id)
        if not fills:
            return result
        done = result
        if not result.fee.amount:
            total = sum(f.fee.amount for f in fills)
            done = replace(done, fee=Fee(amount=total, currency=fills[0].fee.currency))
        size = sum(f.contracts for f in fills)
        if not result.average_price and size > 0:
            done = replace(done, average_price=sum(f.price * f.contracts for f in fills) / size)
        return done

    def order_fills(
        self, symbol: str, client_order_id: str, exchange_order_id: str | None = None
    ) -> list[Fill]:
        """The executions of one order (``fetch_my_trades`` filtered by order id)."""
        if exchange_order_id is None:
            found = self.fetch_order(symbol, client_order_id)
            if found is None or found.exchange_order_id is None:
                return []
            exchange_order_id = found.exchange_order_id
        param = self.profile.trades_order_param
        params = {param: exchange_order_id} if param else {}
        trades = self._call(
            "fetch trades", self.exchange.fetch_my_trades, symbol, None, None, params
        )
        return [
            self._fill(t, symbol, client_order_id)
            for t in trades
            if str(t.get("order")) == str(exchange_order_id)
        ]

    def _fill(self, t: dict[str, Any], symbol: str, client_order_id: str) -> Fill:
        fee = t.get("fee") or {}
        return Fill(
            symbol=symbol,
            client_order_id=client_order_id,
            side=t.get("side") or "sell",
            contracts=self._to_contracts(symbol, t.get("amount")),
            price=float(t.get("price") or 0.0),
            fee=Fee(float(fee.get("cost") or 0.0), str(fee.get("currency") or "")),
            timestamp_ms=None if t.get("timestamp") is None else int(t["timestamp"]),
            trade_id=None if t.get("id") is None else str(t["id"]),
        )

    #: funding is read in windows of this many days (Binance and Bybit answer 7 days at most)
    FUNDING_WINDOW_DAYS = 7
    #: pages per window before giving up (a runaway guard)
    MAX_PAGES = 200

    def now_ms(self) -> int:
        """The exchange's clock (ms since the epoch): the server's time where ccxt can read
        it (``fetch_time``, once per venue; the offset to the local clock is kept), else the
        local clock. Fills, funding and the legs' open times are all on this clock."""
        local = int(self.exchange.milliseconds())
        if self._clock_offset_ms is None:
            self._clock_offset_ms = 0
            if self.exchange.has.get("fetchTime"):
                try:
                    server = self.exchange.fetch_time()
                except Exception:  # no server clock: the local one (and say nothing)
                    server = None
                if isinstance(server, int | float) and server > 0:
                    self._clock_offset_ms = int(server) - local
        return local + self._clock_offset_ms

    def funding_payments(self, symbol: str, since_ms: int | None = None) -> list[FundingPayment]:
        """Funding RECEIVED (negative = paid) since ``since_ms``, settlement currency.

        Read in windows from ``since_ms`` to now, page by page (the exchanges' default
        windows lose older payments), signs normalised by the profile (Bybit's
        ``execFee`` is positive when paid), each payment in the market's settlement
        currency. Deribit: from the account's transaction log (``interest_pl``).
        Exchanges report the amount only: ``rate`` is NaN (unknown), and ``mark_price``
        is today's mark, so a coin amount converted with it is valued now.
        """
        m = self._market(symbol)
        rules = self.profile.funding
        if not m.get("swap") or rules.history == "none":
            return []
        if rules.history == "transaction_log":
            rows = self._transaction_log_funding(m, since_ms)
        elif not self.exchange.has.get("fetchFundingHistory"):
            return []
        else:
            rows = self._funding_rows(symbol, since_ms)
        settle = str(m.get("settle") or "")
        mark = self.mark_price(symbol) if rows else math.nan
        out = [
            FundingPayment(
                symbol=symbol,
                amount=rules.received_sign * float(r.get("amount") or 0.0),
                currency=settle if rules.settles_in_market_settle and settle
                else str(r.get("code") or settle),
                rate=math.nan,
                mark_price=mark,
                timestamp_ms=int(r.get("timestamp") or 0),
            )
            for r in rows
            if r.get("symbol") in (None, symbol)
        ]
        return sorted(out, key=lambda p: p.timestamp_ms)

    def _funding_rows(self, symbol: str, since_ms: int | None) -> list[dict[str, Any]]:
        ex = self.exchange
        page = self.profile.funding.history_page
        if since_ms is None:  # the exchange's default window
            got = self._call("fetch funding history", ex.fetch_funding_history, symbol)
            return [dict(r) for r in got]
        now = self.now_ms()
        window = self.FUNDING_WINDOW_DAYS * 86_400_000
        rules = self.profile.funding
        seen: dict[tuple[Any, ...], dict[str, Any]] = {}
        start = int(since_ms)
        while start <= now:
            end = min(start + window - 1, now)
            bounds = rules.window_params(start, end) if rules.window_params else {"until": end}
            cursor = start
            extra: dict[str, Any] = {}
            for _page in range(self.MAX_PAGES):
                got = self._call(
                    "fetch funding history", ex.fetch_funding_history, symbol, cursor, page,
                    {**bounds, **extra},
                )
                rows = [r for r in got if start <= int(r.get("timestamp") or 0) <= end]
                for r in rows:
                    key = (r.get("id"), int(r.get("timestamp") or 0), r.get("amount"))
                    seen[key] = dict(r)
                if len(got) < page or not rows:
                    break
                if rules.next_page_params is not None:
                    extra = rules.next_page_params(rows)
                    if not extra:
                        break
                else:
                    cursor = max(int(r["timestamp"]) for r in rows) + 1
            start = end + 1
        return list(seen.values())

    def _transaction_log_funding(
        self, market: dict[str, Any], since_ms: int | None
    ) -> list[dict[str, Any]]:
        """Deribit: ``interest_pl`` of the instrument's rows in private/get_transaction_log."""
        ex = self.exchange
        now = self.now_ms()
        req: dict[str, Any] = {
            "currency": market["base"],
            "start_timestamp": int(since_ms) if since_ms is not None else now - 7 * 86_400_000,
            "end_timestamp": now,
            "count": self.profile.funding.history_page,
        }
        out: list[dict[str, Any]] = []
        for _page in range(self.MAX_PAGES):
            resp = self._call("read transaction log", ex.privateGetGetTransactionLog, dict(req))
            result = (resp or {}).get("result") or {}
            for row in result.get("logs") or []:
                if row.get("instrument_name") != market["id"]:
                    continue
                interest = row.get("interest_pl")
                if interest in (None, "", 0, "0"):
                    continue
                out.append(
                    {
                        "symbol": market["symbol"],
                        "amount": float(interest),
                        "code": row.get("currency"),
                        "timestamp": int(row.get("timestamp") or 0),
                        "id": row.get("id"),
                    }
                )
            cont = result.get("continuation")
            if not cont:
                break
            req["continuation"] = cont
        return out

    def fills_for(self, symbol: str | None = None, since_ms: int | None = None) -> list[Fill]:
        """The account's LIQUIDATIONS on ``symbol`` since ``since_ms``, as fills flagged
        ``liquidation=True``.

        Ordinary fills are read per order (:meth:`order_fills`); this is what the
        lifecycle imports to raise the liquidation alert. Where ccxt has
        ``fetch_my_liquidations`` (Binance, Bybit) it is read in 7-day windows from
        ``since_ms`` to now (both answer 7 days at most per request); OKX and Deribit
        use the profile's ``liquidations`` (liquidation orders / liquidation trades).
        """
        if symbol is None:
            return []
        m = self._market(symbol)
        now = self.now_ms()
        hook = self.profile.liquidations
        if hook is not None:
            rows = self._call("read liquidations", hook, self.exchange, m, since_ms, now)
        elif self.exchange.has.get("fetchMyLiquidations"):
            rows = [self._ccxt_liquidation(r) for r in self._ccxt_liquidations(symbol, since_ms)]
        else:
            return []
        settle = str(m.get("settle") or "")
        out: list[Fill] = []
        for r in sorted(rows, key=lambda x: int(x.get("timestamp") or 0)):
            if since_ms is not None and int(r.get("timestamp") or 0) < since_ms:
                continue  # before the leg opened: another hedge's
            ident = str(r.get("id") or r.get("timestamp") or "")
            side = str(r.get("side") or "buy").lower()
            out.append(
                Fill(
                    symbol=symbol,
                    client_order_id=_liquidation_id(self.id, ident),
                    side="buy" if side == "buy" else "sell",
                    contracts=self._to_contracts(symbol, r.get("contracts")),
                    price=float(r.get("price") or 0.0),
                    fee=Fee(float(r.get("fee") or 0.0), str(r.get("fee_currency") or settle)),
                    timestamp_ms=None if r.get("timestamp") is None else int(r["timestamp"]),
                    trade_id=ident or None,
                    liquidation=True,
                )
            )
        return out

    @staticmethod
    def _ccxt_liquidation(r: dict[str, Any]) -> dict[str, Any]:
        info = r.get("info") or {}
        return {
            "id": info.get("orderId") or info.get("order_id") or info.get("execId")
            or r.get("timestamp"),
            "timestamp": r.get("timestamp"),
            "side": r.get("side") or info.get("side"),
            "contracts": r.get("contracts"),
            "price": r.get("price"),
        }

    def _ccxt_liquidations(self, symbol: str, since_ms: int | None) -> list[dict[str, Any]]:
        ex = self.exchange
        if since_ms is None:
            return list(self._call("fetch liquidations", ex.fetch_my_liquidations, symbol))
        now = self.now_ms()
        window = self.FUNDING_WINDOW_DAYS * 86_400_000
        seen: dict[tuple[Any, ...], dict[str, Any]] = {}
        start = int(since_ms)
        while start <= now:
            end = min(start + window - 1, now)
            got = self._call(
                "fetch liquidations", ex.fetch_my_liquidations, symbol, start, None,
                {"until": end},
            )
            for r in got:
                info = r.get("info") or {}
                key = (info.get("orderId") or info.get("execId"), r.get("timestamp"))
                seen[key] = dict(r)
            start = end + 1
        return list(seen.values())

    def deposits_since(
        self, since_ms: int, currencies: Sequence[str] = ()
    ) -> list[Deposit] | None:
        """Collateral moved into (+) / out of (−) the futures account since ``since_ms``,
        oldest first (the profile's ``deposits``: Binance income TRANSFER, Bybit transfers
        and deposits into UNIFIED/CONTRACT, OKX transfer bills, Deribit deposits,
        withdrawals and transfers of ``currencies``), read in the exchange's longest
        window; None when the exchange offers no such history (not available)."""
        rule = self.profile.deposits
        if rule is None:
            return None
        now = self.now_ms()
        days = self.profile.deposits_window_days
        window = days * 86_400_000 if days else max(now - int(since_ms), 0) + 1
        wanted = list(currencies) or sorted(
            {str(i.settle).upper() for i in self._instruments.values()}
        )
        rows: dict[str, dict[str, Any]] = {}
        start = int(since_ms)
        while start <= now:
            end = min(start + window - 1, now)
            try:
                got = self._call("read deposits", rule, self.exchange, wanted, start, end)
            except ExchangeError as err:
                # not available (said), never zero; the next command reads them again
                # from the hedge's open, so a deposit is only ever late, not lost
                self.deposits_note = (
                    f"deposits: not available — {self.profile.title} refused to list them "
                    f"({self.profile.deposits_source}) to this API key; give it read access "
                    "to transfers/deposits, or collateral added after the open is missing "
                    "from the attribution"
                    if self._permission_refused(err)
                    else f"deposits: not read this time ({err}); the next command reads them "
                    "again since the hedge opened"
                )
                return None
            for r in got:
                rows[str(r["id"])] = r
            start = end + 1
        out = [
            Deposit(
                currency=str(r["currency"]).upper(),
                amount=float(r["amount"]),
                timestamp_ms=int(r["timestamp"]),
                id=str(r["id"]),
                kind=str(r.get("kind") or "transfer"),
            )
            for r in rows.values()
            if int(r["timestamp"]) >= since_ms and float(r["amount"]) != 0.0
        ]
        return sorted(out, key=lambda d: (d.timestamp_ms, d.id))

    @staticmethod
    def _permission_refused(err: ExchangeError) -> bool:
        cause = err.__context__
        return isinstance(cause, ccxt.PermissionDenied | ccxt.AuthenticationError)

    def _totals(self) -> dict[str, float]:
        """Every currency's equity (wallet + unrealised PnL) over the wallets that hold
        futures collateral (the profile's ``balance_requests``; each wallet once): ccxt's
        ``fetch_balance`` total where that is the equity (Binance USDⓈ-M and COIN-M
        ``marginBalance``, OKX ``eq``, Deribit ``equity``), else the profile's
        ``balance_equity`` (Bybit: ``equity``, as ccxt's total is ``walletBalance``)."""
        rule = self.profile.balance_requests
        requests = self._call("read account type", rule, self.exchange) if rule else [{}]
        equity = self.profile.balance_equity
        out: dict[str, float] = {}
        for params in requests:
            bal = self._call("fetch balance", self.exchange.fetch_balance, dict(params))
            figures = equity(bal) if equity is not None else (bal.get("total") or {})
            for ccy, amount in figures.items():
                if amount:
                    code = str(ccy).upper()
                    out[code] = out.get(code, 0.0) + float(amount)
        return out

    def balance(self, currency: str) -> float:
        """The account's equity in ``currency`` — wallet + margins + unrealised PnL, the
        figure the unexplained-balance check compares with the journal's hedge PnL at the
        mark (see :meth:`_totals` for the field per exchange; 0 if none) — over every
        wallet that holds futures collateral (Bybit unified 1.0: the inverse contracts'
        coins are in the CONTRACT wallet)."""
        return self._totals().get(currency.upper(), 0.0)

    def equity_usd(self) -> float:
        """Every currency's balance valued in USD: USD-like at 1, a coin at the mark of a
        contract on it (the hedge's own markets first)."""
        return sum(
            amount * (1.0 if code in USD_LIKE else self._coin_usd(code))
            for code, amount in self._totals().items()
        )

    def _coin_usd(self, coin: str) -> float:
        known = [s for s, i in self._instruments.items() if i.base.upper() == coin]
        markets = self.exchange.markets or {}
        known += [
            s for s, m in markets.items()
            if str(m.get("base", "")).upper() == coin and m.get("swap") and s not in known
        ]
        if not known:
            raise ExchangeError(
                f"{self.name} equity: no contract on {coin} to value its balance in USD"
            )
        return self.mark_price(known[0])

    def cancel_order(self, symbol: str, client_order_id: str) -> None:
        """Cancel if still open (retried on transient errors); no error when already final."""
        current = self.fetch_order(symbol, client_order_id)
        if current is None or current.is_final:
            return
        try:
            self._call(
                "cancel order", self._cancel_raw, current.exchange_order_id, symbol
            )
        except ExchangeError:
            after = self.fetch_order(symbol, client_order_id)
            if after is not None and after.is_final:
                return  # filled or cancelled in between
            raise

    def _cancel_raw(self, exchange_order_id: str | None, symbol: str) -> None:
        try:
            self.exchange.cancel_order(exchange_order_id, symbol)
        except ccxt.OrderNotFound:
            return  # filled or cancelled in between: the caller re-reads the order

    def open_orders(self, symbol: str) -> list[OrderResult]:
        self._market(symbol)
        raw = self._call("fetch open orders", self.exchange.fetch_open_orders, symbol)
        return [self._parse_order(o, symbol) for o in raw]

    def position(self, symbol: str) -> VenuePosition | None:
        """The position on ``symbol`` (in hedge mode the short side, althedge's side)."""
        m = self._market(symbol)
        raw = self._call("fetch positions", self.exchange.fetch_positions, [symbol])
        candidates: list[tuple[int, VenuePosition]] = []
        for p in raw:
            if p.get("symbol") != symbol:
                continue
            size = self._to_contracts(symbol, p.get("contracts"))
            if not size:
                continue
            side_s = (p.get("side") or "").lower()
            side = Side.SHORT if side_s == "short" else Side.LONG
            if side_s not in ("long", "short") and float(p.get("contracts") or 0) < 0:
                side = Side.SHORT  # one-way rows with a signed size (BingX "BOTH")
            liq = p.get("liquidationPrice")
            lev = p.get("leverage")
            iso = p.get("collateral") if p.get("collateral") is not None else p.get("initialMargin")
            mm = p.get("maintenanceMargin")
            ratio = p.get("marginRatio")
            pos = VenuePosition(
                symbol=symbol,
                side=side,
                contracts=abs(size),
                entry_price=float(p.get("entryPrice") or 0.0),
                contract_type=ContractType.INVERSE if m.get("inverse") else ContractType.LINEAR,
                margin_mode=str(p.get("marginMode") or self._margin_modes.get(symbol, "cross")),
                leverage=None if lev is None else float(lev),
                liquidation_price=None if not liq else float(liq),
                unrealised_pnl=float(p.get("unrealizedPnl") or 0.0),
                isolated_margin=None if iso is None else float(iso),
                settle=str(m.get("settle", "")),
                mark_price=None if p.get("markPrice") is None else float(p["markPrice"]),
                maintenance_margin=None if mm is None else float(mm),
                margin_ratio=None if ratio is None else float(ratio),
                margin_includes_pnl=p.get("collateral") is not None
                and self.profile.collateral_includes_pnl,
            )
            candidates.append((0 if side == Side.SHORT else 1, pos))
        if not candidates:
            return None
        return self._with_account_margin(min(candidates, key=lambda c: c[0])[1], m)

    def _with_account_margin(self, pos: VenuePosition, market: dict[str, Any]) -> VenuePosition:
        """A cross-margined position whose exchange margins the account as a whole
        (Deribit): margin ratio and maintenance from the ACCOUNT (its maintenance margin
        over its margin balance), the liquidation price from the account's estimate when
        the position has none. An isolated position keeps its own figures."""
        rule = self.profile.account_margin
        if rule is None or pos.margin_mode == "isolated":
            return pos
        acct = self._call("read account margin", rule, self.exchange, market)
        if not acct or not acct.get("margin_balance"):
            return pos
        mm, mb = float(acct["maintenance_margin"]), float(acct["margin_balance"])
        liq = pos.liquidation_price
        if liq is None and acct.get("liquidation_ratio") and pos.mark_price:
            liq = float(acct["liquidation_ratio"]) * float(pos.mark_price)
        return replace(
            pos, margin_mode="cross", maintenance_margin=mm, isolated_margin=mb,
            margin_ratio=mm / mb if mb > 0 else math.inf, margin_includes_pnl=True,
            liquidation_price=liq,
        )

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
        ours = cid or (fallback.client_order_id if fallback else "")
        theirs = raw.get("clientOrderId") or info.get("label")
        if self.profile.client_id_format is not None:
            # the exchange carries a transformed id (Hyperliquid cloid): ours when known
            client_id = ours or self._our_ids.get(str(theirs), theirs or "")
        else:
            client_id = theirs or ours
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
