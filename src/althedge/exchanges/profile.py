"""The shape of one exchange's profile: everything althedge must know about a venue.

A profile is plain data plus two small functions (order lookup, position-mode
detection) that take the ccxt exchange object. It never imports ccxt, so reading a
profile (fee schedule, funding rules) costs nothing at import time.

Adding an exchange = one module in this package that builds an :class:`ExchangeProfile`,
its entry in :data:`althedge.exchanges.registry.PROFILES`, the built-in instrument rows
in :mod:`althedge.core.instruments` and its tests (docs/venues.md, "Adding an exchange").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "ClientIdUniqueness",
    "DepositsFn",
    "ExchangeProfile",
    "FeeSchedule",
    "FundingRules",
    "LiquidationsFn",
    "LookupFn",
    "PositionModeRules",
    "TestEnvironment",
    "equity_of_data_rows",
]

#: How long an exchange keeps a client order id unique: ``"always"`` (a second order
#: with the same id is refused for ever), ``"open"`` (only while the first is still
#: open: Binance), ``"never"`` (labels are free text: Deribit).
ClientIdUniqueness = Literal["always", "open", "never"]

#: ``"sandbox"`` (ccxt ``set_sandbox_mode``), ``"demo"`` (ccxt ``enable_demo_trading``),
#: or ``None`` (no test environment althedge can use).
TestEnvironment = Literal["sandbox", "demo"] | None

#: ``lookup(exchange, market, client_order_id)`` → every raw ccxt order carrying that
#: client id (``[]`` = the exchange answered "no such order"). It RAISES the ccxt
#: error when the exchange did not answer (timeout, 429, unavailable): the caller
#: must then treat the outcome as unknown, never as "not found".
LookupFn = Callable[[Any, Mapping[str, Any], str], list[dict[str, Any]]]

#: ``deposits(exchange, currencies, start_ms, end_ms)`` → collateral moved into (+) or out
#: of (−) the futures account in one window, each ``{"id", "timestamp", "currency",
#: "amount", "kind"}``
DepositsFn = Callable[[Any, Sequence[str], int, int], list[dict[str, Any]]]

#: ``liquidations(exchange, market, since_ms, until_ms)`` → liquidation executions
LiquidationsFn = Callable[[Any, Mapping[str, Any], int | None, int], list[dict[str, Any]]]


def equity_of_data_rows(
    code_key: str, equity_key: str = "equity"
) -> Callable[[Mapping[str, Any]], dict[str, float]]:
    """A ``balance_equity`` reading each currency's ``equity_key`` from the rows of the
    raw reply's ``data`` list (``info.data[]``, the currency in ``code_key``): BingX
    "Query account data" and MEXC "Get all informations of user's asset" give the equity
    there while ccxt's total is another figure."""

    def equity(balance: Mapping[str, Any]) -> dict[str, float]:
        out: dict[str, float] = {}
        rows = (balance.get("info") or {}).get("data")
        for row in rows if isinstance(rows, list) else []:
            code = str((row or {}).get(code_key) or "").upper()
            value = (row or {}).get(equity_key)
            if code and value not in (None, ""):
                out[code] = out.get(code, 0.0) + float(value)
        return out

    return equity


@dataclass(frozen=True)
class FeeSchedule:
    """Base-tier (maker, taker) fee rates as fractions of traded notional; ``source`` cites them."""

    maker: float
    taker: float
    source: str = ""


@dataclass(frozen=True)
class FundingRules:
    """How funding is charged and reported.

    * ``interval_hours``: the default interval of a perpetual when the market does not
      say (Binance ``fundingIntervalHours``, Bybit ``fundingInterval`` override it);
    * ``received_sign``: multiply ccxt's funding-history ``amount`` by it to get the
      amount RECEIVED (Bybit reports ``execFee``, positive when *paid* → −1);
    * ``history``: where an account's payments come from: ``"ccxt"``
      (``fetch_funding_history``), ``"transaction_log"`` (Deribit: the account's
      transaction log, ccxt has no funding history there) or ``"none"``;
    * ``history_page``: rows per request when paging through payments;
    * ``rate_history_hours``: the period the rates in the public funding-rate history
      refer to, when it differs from the spacing of the rows (Deribit: hourly rows that
      carry the 8-hour rate ``interest_8h``); None = the spacing of the rows;
    * ``window_params`` / ``next_page_params``: how a window is bounded and paged when
      the exchange does not page forward by time (OKX bills);
    * ``settles_in_market_settle``: the payment is in the market's settlement currency
      whatever ccxt's ``code`` says (ccxt labels Bybit inverse funding "USD").
    """

    interval_hours: float = 8.0
    received_sign: float = 1.0
    #: extra params bounding one window of the account's funding ``[start_ms, end_ms]``
    #: (default: ccxt's ``until``; OKX bills: ``begin``/``end``)
    window_params: Callable[[int, int], dict[str, Any]] | None = None
    #: params for the next page from the rows of a full one (OKX bills, newest first:
    #: ``after`` = the oldest ``billId``); None: page forward from the newest timestamp
    next_page_params: Callable[[list[dict[str, Any]]], dict[str, Any]] | None = None
    history: Literal["ccxt", "transaction_log", "none"] = "ccxt"
    history_page: int = 100
    rate_history_hours: float | None = None
    settles_in_market_settle: bool = True
    #: how the PUBLIC funding-rate history pages: ``"time"`` (a start/end window) or
    #: ``"page_num"`` (MEXC: numbered pages, newest first, no time filter)
    rate_history_paging: Literal["time", "page_num"] = "time"


@dataclass(frozen=True)
class PositionModeRules:
    """Hedge (dual-side) position mode: how to detect it and what each order carries.

    ``detect(exchange, market)`` → True in hedge mode, False in one-way mode (raises
    ccxt errors when the exchange cannot be read). ``params(side_of_position)`` → the
    extra order parameters for an order on the ``"long"``/``"short"`` position in
    hedge mode. ``reduce_only_in_hedge_mode``: whether ``reduceOnly`` may still be sent
    in hedge mode (Binance and OKX refuse it there: the position side closes).
    """

    detect: Callable[[Any, Mapping[str, Any]], bool]
    params: Callable[[str], dict[str, Any]]
    reduce_only_in_hedge_mode: bool = False


@dataclass(frozen=True)
class ExchangeProfile:
    """One ccxt exchange as althedge uses it (see the module docstring)."""

    ccxt_id: str
    #: the exchange name of the core's tables (instruments, margin methods, fees)
    family: str
    title: str
    #: ``"linear"``/``"inverse"``: the futures althedge trades here
    contract_types: tuple[str, ...]
    fees: FeeSchedule
    funding: FundingRules = field(default_factory=FundingRules)
    #: ccxt ``options['fetchMarkets']`` types: for trading (derivatives only) and for data
    trade_market_types: tuple[str, ...] | None = None
    data_market_types: tuple[str, ...] | None = None
    #: bars per OHLCV request
    ohlcv_page: int = 1000
    #: contracts' OHLCV: extra ccxt params and bars per request when they differ (WEEX:
    #: ``historical`` = the history endpoint, which takes a start time, 100 bars a page)
    contract_ohlcv_params: Mapping[str, Any] = field(default_factory=dict)
    contract_ohlcv_page: int | None = None
    #: ccxt's leverage tiers of this exchange step in CONTRACTS, not quote notional (MEXC
    #: ``riskIncrVol``): converted to USD at the mark price when read
    tiers_in_contracts: bool = False
    #: market types whose candles ccxt can only read as "the latest bars" (no start time:
    #: WEEX spot); older history is refused with one line naming the alternative
    latest_ohlcv_only: tuple[str, ...] = ()
    #: the ccxt order param carrying our client id (``label`` on Deribit)
    client_id_param: str = "clientOrderId"
    client_id_unique: ClientIdUniqueness = "always"
    lookup: LookupFn | None = None
    #: inverse order amounts are USD, not contracts (Deribit)
    amount_in_usd_inverse: bool = False
    margin_modes: tuple[str, ...] = ("isolated", "cross")
    #: ccxt order param that must carry the leg's margin mode on EVERY order (OKX tdMode)
    order_margin_mode_param: str | None = None
    #: extra params for ``set_margin_mode`` (given the leverage) and ``set_leverage``
    margin_mode_params: Callable[[str, float], dict[str, Any]] | None = None
    leverage_params: Callable[[str], dict[str, Any]] | None = None
    #: extra ``set_leverage`` params given the position mode (True = hedge mode): the
    #: leverage of one SIDE (BingX: ``side`` SHORT in hedge mode, BOTH in one-way mode)
    leverage_side_params: Callable[[bool], dict[str, Any]] | None = None
    leverage_whole_number: bool = False
    #: margin mode is account-wide on some account types (Bybit unified): checked first
    account_wide_margin_mode: Callable[[Any], str | None] | None = None
    position_mode: PositionModeRules | None = None
    test_environment: TestEnvironment = None
    test_environment_note: str = ""
    #: exchange error codes meaning "already so, nothing to change" (success)
    no_change_codes: tuple[str, ...] = ()
    #: codes meaning "an order with this client id exists"
    duplicate_codes: tuple[str, ...] = ()
    #: exchange error code → one-line meaning shown to the user
    error_meanings: Mapping[str, str] = field(default_factory=dict)
    #: orders carry no fee: read it from the order's trades (Binance futures)
    order_fee_from_trades: bool = False
    #: the ``fetch_my_trades`` param selecting one order's trades
    trades_order_param: str | None = None
    #: ccxt's position ``collateral`` already includes unrealised PnL (Binance, Bybit, OKX)
    collateral_includes_pnl: bool = False
    #: ``balance_requests(exchange)`` → the ``fetch_balance`` params of every wallet that
    #: holds futures collateral, each wallet once (Bybit unified 1.0: UNIFIED for USDT and
    #: CONTRACT for inverse coins; Deribit: every currency's summary); None = one call
    balance_requests: Callable[[Any], list[dict[str, Any]]] | None = None
    #: ``balance_equity(balance)`` → each currency's EQUITY (wallet + unrealised PnL) from
    #: one ccxt ``fetch_balance`` reply, where ccxt's ``total`` is the wallet without
    #: unrealised PnL (Bybit ``walletBalance``); None = ccxt's ``total`` is the equity
    #: already (Binance ``marginBalance``, OKX ``eq``, Deribit ``equity``)
    balance_equity: Callable[[Mapping[str, Any]], dict[str, float]] | None = None
    #: ``liquidations(exchange, market, since_ms, until_ms)`` → the account's liquidation
    #: executions on the market, each ``{"id", "timestamp", "side", "contracts" (exchange
    #: units), "price", "fee" (paid), "fee_currency"}``, where ccxt has no (usable)
    #: ``fetch_my_liquidations``: OKX liquidation orders, Deribit trades flagged
    #: ``liquidation``. None: ccxt ``fetch_my_liquidations`` (if the exchange has it)
    liquidations: LiquidationsFn | None = None
    #: ``account_margin(exchange, market)`` → the ACCOUNT's margin backing a cross-margined
    #: position on the market: ``{"maintenance_margin", "margin_balance"}`` (one currency,
    #: or USD totals under cross-collateral) and optionally ``"liquidation_ratio"``
    #: (liquidation price ÷ mark). Deribit (cross per currency, or portfolio margin).
    #: None: the position's own figures are used
    account_margin: Callable[[Any, Mapping[str, Any]], dict[str, float] | None] | None = None
    #: the account's deposits and transfers into the futures wallet (one window of at
    #: most ``deposits_window_days``; None = any length); None: the exchange offers no
    #: such history through ccxt — reported as NOT AVAILABLE, never as zero
    deposits: DepositsFn | None = None
    deposits_window_days: int | None = None
    #: where the deposits come from, in words (docs/venues.md and the status note)
    deposits_source: str = ""
    #: whether althedge trades here (False: a market-data-only id such as spot ``binance``)
    tradable: bool = True
    #: althedge's client id → the exchange's format (Hyperliquid: ``0x`` + 32 hex digits);
    #: None = sent as is. The profile's ``lookup`` receives althedge's id.
    client_id_format: Callable[[str], str] | None = None
    #: order amounts are base-coin amounts whatever ccxt's ``contractSize`` says (WEEX):
    #: an althedge contract of this exchange is 1 coin
    amounts_in_coin: bool = False
    #: ccxt order param that carries the leg's leverage on every order (MEXC)
    order_leverage_param: str | None = None
    #: the margin mode is set together with the leverage (one action): only
    #: ``set_leverage`` is called (Hyperliquid ``updateLeverage``)
    margin_mode_via_leverage: bool = False
    #: market orders need a reference price (Hyperliquid: IOC limit at mark ± slippage)
    market_order_needs_price: bool = False
    #: adjusts a freshly built ccxt object (Hyperliquid: no builder-fee approval, no
    #: referrer — nothing is signed that althedge did not ask for)
    prepare: Callable[[Any], None] | None = None
    #: the credentials it takes: API key/secret(/password) or a wallet address + key
    credential_fields: tuple[str, ...] = ("api_key", "secret")
    #: a restriction on sending orders through the API, told before anything is sent,
    #: lifted by setting ``order_opt_in_env`` to ``enabled``; ``restriction_codes``: error
    #: codes / texts of the exchange meaning that restriction (MEXC "Under maintenance")
    order_restriction: str | None = None
    order_opt_in_env: str | None = None
    restriction_codes: tuple[str, ...] = ()
