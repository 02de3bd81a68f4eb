"""`althedge hedge open|status|rebalance|close` and `althedge monitor`.

Dry run is the default: without ``--live`` a command prints the exact orders it
would send and sends nothing. Every command first reconciles the journal with the
venue and prints any difference (stderr) before doing anything else. State (the
journal, the paper account) lives in ``--data-dir`` / ``$ALTHEDGE_HOME``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import typer

from althedge.cli.common import console, emit_json, err_console, parse_date
from althedge.errors import InputError, JournalError
from althedge.exchanges.registry import SUPPORTED_EXCHANGES
from althedge.files import format_number
from althedge.services import state

if TYPE_CHECKING:  # imported where used: `althedge hedge --help` stays fast
    from althedge.journal import Journal
    from althedge.services.hedge import (
        CloseResult,
        ExecutionSettings,
        HedgeStatus,
        LegStatus,
        LifecycleResult,
        Reconciliation,
    )

app = typer.Typer(no_args_is_help=True)

#: Paper clock override for tests and demos (same as ``--at``).
ENV_PAPER_AT = "ALTHEDGE_PAPER_AT"

DataDirOpt = typer.Option(
    None,
    "--data-dir",
    help="State directory (journal, paper account). Default $ALTHEDGE_HOME or ~/.althedge.",
)
JsonOpt = typer.Option(False, "--json", help="Print one JSON object on stdout.")
LiveOpt = typer.Option(
    False, "--live", help="Send the orders (paper: execute on paper). Default: dry run."
)
AtOpt = typer.Option(
    None,
    "--at",
    help=f"Paper venue only: the market date (YYYY-MM-DD) to run at; env {ENV_PAPER_AT}.",
)
PricesOpt = typer.Option(
    None, "--prices", help="Price folder for the plan and the paper venue (default: bundled data)."
)


# --------------------------------------------------------------------------- plumbing


def _at(value: str | None) -> date | None:
    return parse_date(value if value is not None else os.environ.get(ENV_PAPER_AT), "--at")


@contextmanager
def _journal(data_dir: Path | None, what: str, *, acting: bool) -> Iterator[Journal]:
    """The journal for one command, with the journal's lock (journal/lock.py).

    ``acting`` (open, rebalance, close, adopt — dry runs too: they reconcile into the
    journal): wait briefly for another althedge process, else refuse naming it. Read-only
    commands (status, monitor) take the lock when it is free; when another process holds
    it, or the journal cannot be written, they read a snapshot and write nothing.
    """
    from althedge.journal import Journal
    from althedge.journal.lock import JournalLock

    path = state.journal_path(data_dir)
    lock = JournalLock(path)
    if acting:
        lock.acquire(
            what,
            on_wait=lambda h: err_console.print(
                f"waiting: another althedge process ({h.describe()}) is acting on this journal",
                soft_wrap=True, markup=False,
            ),
        )
        try:
            journal = Journal(path)
        except BaseException:
            lock.release()
            raise
        try:
            journal.require_writable()  # refuse before anything is read or sent
        except BaseException:
            journal.close()
            lock.release()
            raise
    else:
        journal, notice = _read_only_journal(path, lock)
        if notice:
            err_console.print(f"read-only: {notice}", soft_wrap=True, markup=False, style="yellow")
    try:
        yield journal
    finally:
        journal.close()
        lock.release()


def _read_only_journal(path: Path, lock: Any) -> tuple[Journal, str | None]:
    """(journal, why it is a read-only snapshot or None) for status and monitor."""
    from althedge.errors import JournalError
    from althedge.journal import Journal

    try:
        taken = lock.try_acquire()
    except JournalError as exc:
        return Journal.snapshot(path), f"{exc}; showing the journal without saving anything"
    if not taken:
        holder = lock.holder().describe()
        return Journal.snapshot(path), (
            f"another althedge process ({holder}) is acting on this journal; showing a "
            "snapshot of it, nothing is saved (run again when it is done for a fresh view)"
        )
    try:
        journal = Journal(path)
    except JournalError as exc:
        text = str(exc)
        if "damaged" in text:
            lock.release()
            raise
        return Journal.snapshot(path), text
    problem = journal.write_problem() or journal.foreign_lock_problem()
    if problem is None:
        return journal, None
    journal.close()
    if "locked by another program" in problem:
        problem += "; showing a snapshot of it, nothing is saved (close it for a fresh view)"
    return Journal.snapshot(path), problem


def _open_source(prices: str | None) -> Any:
    from althedge.data import open_source

    return open_source(prices or None)


def _make_venue(
    name: str,
    *,
    data_dir: Path | None,
    prices: str | None,
    at: date | None,
    testnet: bool,
    source: Any,
    live: bool,
    allow_account_change: bool = False,
) -> Any:
    """The venue for ``name``: ``paper`` (persisted in the data dir) or a ccxt exchange id."""
    if name == "paper":
        from althedge.venues.paper import PaperExchange

        if at is not None:
            _check_paper_date(source, at)

        return PaperExchange.open(state.paper_dir(data_dir), source=source, at=at, persist=live)
    if at is not None:
        raise InputError("--at: only the paper venue can run at a past date; drop --at")
    from althedge.venues.ccxt_venue import CcxtVenue
    from althedge.venues.credentials import load_credentials

    # reading positions needs the keys too, so they are loaded whenever configured;
    # only --live makes them required (and only --live ever sends an order)
    credentials = load_credentials(name, required=live)
    return CcxtVenue.create(
        name, credentials, testnet=testnet, allow_account_changes=allow_account_change,
        timeout_ms=_exchange_timeout_ms(),
    )


#: how long one exchange request may take (ms) before it counts as timed out (a read is
#: then retried with backoff; default 10 000)
ENV_EXCHANGE_TIMEOUT = "ALTHEDGE_EXCHANGE_TIMEOUT_MS"


def _exchange_timeout_ms() -> int:
    raw = os.environ.get(ENV_EXCHANGE_TIMEOUT, "").strip()
    if not raw:
        return 10_000
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 100 <= value <= 600_000:
        raise InputError(
            f"{ENV_EXCHANGE_TIMEOUT}: {raw!r} is not a timeout in ms from 100 to 600000; "
            "set it to e.g. 10000, or unset it"
        )
    return value


#: ``--at`` may run this many days past the last close (weekends, holidays) — no more.
PAPER_AT_SLACK_DAYS = 7


def _check_paper_date(source: Any, at: date) -> None:
    """Refuse a paper date past the end of the price data (the mark would be stale)."""
    import pandas as pd

    try:
        last = source.closes(["BTC"]).index.max()
    except Exception:
        return
    if last is None or pd.isna(last):
        return
    if pd.Timestamp(at) > pd.Timestamp(last) + pd.Timedelta(days=PAPER_AT_SLACK_DAYS):
        raise InputError(
            f"--at: the prices in {getattr(source, 'name', 'the source')} end on "
            f"{pd.Timestamp(last).date()}; pick a date on or before it (or --prices DIR)"
        )


def _venue_from_journal(
    journal: Journal,
    *,
    data_dir: Path | None,
    venue: str | None,
    prices: str | None,
    at: date | None,
    testnet: bool | None,
    live: bool,
) -> tuple[Any, Any, str | None]:
    """(venue, price source, prices dir) for the open hedge; with none open, ``--venue``,
    else the last hedge's venue, else the venue this data directory last traded on
    (``venues.json``, kept outside the journal), else paper."""
    from althedge.services.hedge import HedgeRecord

    row = journal.active_hedge()
    hedge = HedgeRecord.from_row(row) if row is not None else None
    if hedge is None:
        past = [HedgeRecord.from_row(r) for r in journal.hedges()]
        hedge = next((h for h in reversed(past) if h.venue_id), None)
        if hedge is None:
            remembered = state.last_venue(data_dir)
            if remembered is not None and venue in (None, remembered["venue"]):
                venue = venue or str(remembered["venue"])
                prices = prices or (str(remembered["prices"]) if remembered["prices"] else None)
                testnet = testnet if testnet is not None else bool(remembered["testnet"])
        elif venue not in (None, hedge.venue_id):
            hedge = None
    name = venue or (hedge.venue_id if hedge else None) or "paper"
    prices = prices or (hedge.prices if hedge else None)
    use_testnet = bool(testnet if testnet is not None else (hedge.testnet if hedge else False))
    source = _open_source(prices)
    v = _make_venue(
        name, data_dir=data_dir, prices=prices, at=at, testnet=use_testnet, source=source, live=live
    )
    return v, source, prices


def _as_of(venue: Any, at: date | None) -> date | None:
    """The market date commands use: ``--at``, else the paper clock, else the latest data."""
    if at is not None:
        return at
    clock = getattr(venue, "today", None)
    if callable(clock):
        clock = clock()
    return clock if isinstance(clock, date) else None


#: how `hedge rebalance` works its orders when an order option is not given
_AS_OPENED = " (`hedge rebalance`: as the hedge was opened)."


def _order_opt(flag: str, text: str) -> Any:
    """An order option of `hedge open`, `rebalance` and `close`: one declaration, one help."""
    return typer.Option(None, flag, help=text)


OrderTypeOpt = _order_opt("--order-type", "limit or market. Default: limit" + _AS_OPENED)
OffsetBpsOpt = _order_opt(
    "--offset-bps",
    "Limit price offset from mark (passive side), bp; negative crosses. Default: 0" + _AS_OPENED,
)
TimeoutOpt = _order_opt(
    "--timeout", "Seconds a limit order may work before the fallback. Default: 30" + _AS_OPENED
)
FallbackOpt = _order_opt(
    "--fallback", "After the timeout: market, reprice or cancel. Default: market" + _AS_OPENED
)
LimitAtOpt = _order_opt(
    "--limit-at",
    "Limit price: a volume-profile level of the hedge asset (poc, vah, val, hvn; see "
    "`althedge levels`) or a price in USD. Shown in the dry-run orders.",
)
VenueOverrideOpt = _order_opt(
    "--venue",
    "The venue (default: the open hedge's, else the one this data directory last traded on).",
)


@dataclass(frozen=True)
class _OrderOptions:
    """How `hedge open`, `rebalance` and `close` work their orders: the same options,
    declared once above (None = not given)."""

    order_type: str | None = None
    offset_bps: float | None = None
    timeout: float | None = None
    fallback: str | None = None
    limit_at: str | None = None

    @property
    def given(self) -> dict[str, Any]:
        """The :class:`ExecutionSettings` fields the user set."""
        fields = {"order_type": self.order_type, "offset_bps": self.offset_bps,
                  "timeout_s": self.timeout, "fallback": self.fallback}
        return {k: v for k, v in fields.items() if v is not None}

    def settings(
        self,
        base: Mapping[str, Any] | None,
        *,
        source: Any,
        assets: list[str],
        sides: tuple[str, ...],
        when: date | None,
        venue: str,
    ) -> ExecutionSettings:
        """``base`` (the defaults when None) with the options given on top, and a
        ``--limit-at`` level resolved for each side an order may take (``sides``)."""
        from althedge.services.hedge import ExecutionSettings
        from althedge.services.hedge.executor import ONE_OFF_EXECUTION_FIELDS

        fields = {k: v for k, v in (base or {}).items() if k not in ONE_OFF_EXECUTION_FIELDS}
        fields.update(self.given)
        levels = {
            side: (_limit_prices(source, assets, self.limit_at, side, when, venue) or {})
            if assets else {}
            for side in sides
        }
        return ExecutionSettings(
            **fields,
            limit_prices_usd=levels[sides[0]],
            limit_prices_buy_usd=levels["buy"] if len(sides) > 1 else {},
            limit_at=self.limit_at,
        )


def _limit_prices(source: Any, assets: list[str], spec: str | None, side: str,
                  when: date | None, venue: str = "paper") -> dict[str, float] | None:
    """``--limit-at`` per hedge asset (levels as of the paper date, data up to it only;
    on a real exchange from bars no older than a few days)."""
    if spec is None:
        return None
    from althedge.services.levels import limit_prices_for_assets

    fresh_on = None if venue == "paper" else date.today()
    prices = limit_prices_for_assets(source, assets, spec, side, as_of=when, fresh_on=fresh_on)
    for asset, px in prices.items():
        err_console.print(f"--limit-at {spec}: {side} {asset} at {px:,.2f} USD", soft_wrap=True)
    return prices


def _warn_marketable(result: LifecycleResult) -> None:
    """A limit beyond the mark on the aggressive side fills at once: say so."""
    for o in result.orders:
        px, mark = o.get("price"), o.get("mark_price_usd")
        if not px or not mark:
            continue
        if (o["side"] == "sell" and px < mark) or (o["side"] == "buy" and px > mark):
            err_console.print(
                f"[yellow]warning:[/] the {o['side']} limit {px:,.2f} is through the mark "
                f"{mark:,.2f}: it fills at once, like a market order", soft_wrap=True)


def _reconcile_first(journal: Journal, venue: Any) -> Reconciliation:
    """Reconcile before anything else and report it at once (stderr)."""
    from althedge.services.hedge import reconcile

    rec = reconcile(journal, venue)
    _print_reconciliation(rec)
    return rec


def _print_reconciliation(rec: Reconciliation) -> None:
    for line in rec.resolved:
        err_console.print(f"[cyan]reconciled:[/] {line}", soft_wrap=True)
    for line in rec.differences:
        err_console.print(f"[bold yellow]difference:[/] {line}", soft_wrap=True)
    from rich.text import Text

    notes = [b["message"] for b in rec.unexplained_balances]  # shown, never a reason to
    if rec.unexplained_balances_note:  # refuse or to exit non-zero
        notes.append(rec.unexplained_balances_note)
    for line in notes:
        err_console.print(Text.assemble(("balance: ", "cyan"), str(line)), soft_wrap=True)


def _fmt(x: Any, spec: str = ",.2f") -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    return format_number(x, spec)  # never "-0.00"


def _print_orders(result: LifecycleResult) -> None:
    if not result.orders:
        return
    from rich.table import Table

    table = Table(title="orders" + (" (dry run — not sent)" if not result.live else ""))
    table.add_column("client id", overflow="fold", min_width=16)
    several = len({o["symbol"] for o in result.orders}) > 1  # a two-leg hedge: name the leg
    if several:
        table.add_column("leg")
    for col in ("side", "contracts", "type", "price", "reduce", "notional"):
        table.add_column(col)
    for o in result.orders:
        table.add_row(
            o["client_order_id"],
            *([o["symbol"].split("/")[0]] if several else []),
            o["side"],
            _fmt(o["contracts"], "g"),
            o["order_type"],
            _fmt(o["price"]) if o["price"] else "market",
            "yes" if o["reduce_only"] else "no",
            _fmt(o["notional_usd"]),
        )
    console.print(table)


def _held_line(held: float | None, target: float | None, drift: float | None) -> str:
    return (
        f"held {_fmt(held, 'g')} · target {_fmt(target, 'g')}"
        + (f" · drift {_fmt(drift, '.1f')}%" if drift is not None else "")
    )


def _print_result(result: LifecycleResult) -> None:
    symbols = " + ".join(leg["symbol"] for leg in result.legs) or result.symbol
    console.print(
        f"[bold]{result.action}[/] {result.venue} {symbols} as of {result.as_of or 'now'}"
    )
    if len(result.legs) > 1:
        for leg in result.legs:
            console.print(f"  {leg['symbol']}: " + _held_line(
                leg["current_contracts"], leg["target_contracts"], leg.get("drift_pct")
            ))
    elif result.target_contracts is not None:
        console.print(
            _held_line(result.current_contracts, result.target_contracts, result.drift_pct)
        )
    _print_orders(result)
    for ex in result.executed:
        console.print(
            f"  {ex['client_order_id']}: {ex['status']} {ex['filled_contracts']:g}/"
            f"{ex['contracts']:g} @ {_fmt(ex['average_price'])}"
        )
    for w in result.warnings:
        err_console.print(f"[yellow]warning:[/] {w}", soft_wrap=True)
    if result.message:
        console.print(result.message)


class _Reportable(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=_Reportable)


@dataclass(frozen=True)
class _Scope:
    """What every hedge command is run with: its name, the data directory, the market
    date (``--at``), live or not, ``--json``, and the venue/prices overrides."""

    what: str
    data_dir: Path | None
    when: date | None
    live: bool
    as_json: bool
    venue: str | None = None
    prices: str | None = None


def _run_reconciled(
    run: Callable[..., R],
    show: Callable[[R], None],
    scope: _Scope,
    *,
    acting: bool = True,
    open_venue: Callable[[], tuple[Any, Any]] | None = None,
    after: Callable[[Any], None] | None = None,
) -> None:
    """The shape of every hedge command: lock → journal → venue → reconcile first → run →
    save → print.

    ``acting`` commands hold the journal's lock throughout (journal/lock.py); the others
    (status) read a snapshot when another process holds it, and never save the venue.
    The venue is the open hedge's (``--venue``/``--prices`` override it) unless
    ``open_venue`` makes one; ``run(journal, venue, source, as_of=…, rec=…)`` is the
    lifecycle call. The paper account is saved only when ``live``; ``--json`` prints
    ``result.to_dict()``, otherwise ``show(result)``. Exit code 6 (after printing) when the
    venue holds something no open hedge explains or journal and venue disagree.
    """
    what, data_dir, when, live, as_json = (
        scope.what, scope.data_dir, scope.when, scope.live, scope.as_json
    )
    with _journal(data_dir, what, acting=acting) as journal:
        if open_venue is not None:
            v, source = open_venue()
        else:
            v, source, _ = _venue_from_journal(
                journal,
                data_dir=data_dir,
                venue=scope.venue,
                prices=scope.prices,
                at=when,
                testnet=None,
                live=live and acting,
            )
        rec = _reconcile_first(journal, v)
        result = run(journal, v, source, as_of=_as_of(v, when), rec=rec)
        if acting:
            _save(v, live)
    if after is not None:
        after(result)
    if as_json:
        emit_json(result.to_dict())
    else:
        show(result)
    if not acting and not rec.ok:
        raise typer.Exit(code=JournalError.exit_code)


def _save(venue: Any, live: bool) -> None:
    save = getattr(venue, "save", None)
    if live and callable(save):
        save()


# --------------------------------------------------------------------------- commands


@app.command("open")
def open_cmd(
    portfolio: Path = typer.Argument(..., help="Portfolio TOML file."),
    venue: str = typer.Option(
        "paper",
        "--venue",
        help=f"paper, or a ccxt id: {', '.join(SUPPORTED_EXCHANGES)}.",
    ),
    prices: str | None = PricesOpt,
    live: bool = LiveOpt,
    testnet: bool = typer.Option(False, "--testnet", help="Use the exchange's testnet/demo."),
    allow_account_change: bool = typer.Option(
        False,
        "--allow-account-change",
        help="Let althedge switch an account-wide setting (Bybit unified margin mode), "
        "which re-margins every position of the account.",
    ),
    as_json: bool = JsonOpt,
    data_dir: Path | None = DataDirOpt,
    at: str | None = AtOpt,
    order_type: str | None = OrderTypeOpt,
    offset_bps: float | None = OffsetBpsOpt,
    timeout: float | None = TimeoutOpt,
    fallback: str | None = FallbackOpt,
    limit_at: str | None = LimitAtOpt,
) -> None:
    """Plan the hedge for PORTFOLIO and place one short per hedge asset (dry run unless --live).
    Run again after a crash, it completes the open it started (same client ids)."""
    from althedge.config import load_portfolio
    from althedge.services.hedge import open_hedge

    cfg = load_portfolio(portfolio)
    when = _at(at)
    prices = prices or cfg.hedge.price_source
    source = _open_source(prices)
    execution = _OrderOptions(order_type, offset_bps, timeout, fallback, limit_at).settings(
        None, source=source, assets=list(cfg.hedge.assets), sides=("sell",), when=when,
        venue=venue,
    )

    def open_venue() -> tuple[Any, Any]:
        v = _make_venue(
            venue,
            data_dir=data_dir,
            prices=prices,
            at=when,
            testnet=testnet,
            source=source,
            live=live,
            allow_account_change=allow_account_change,
        )
        return v, source

    def run(journal: Journal, v: Any, src: Any, **kw: Any) -> LifecycleResult:
        return open_hedge(
            journal,
            v,
            cfg,
            src,
            live=live,
            execution=execution,
            portfolio_path=str(portfolio.resolve()),  # its [limits] are re-read later
            extra_settings={"venue_id": venue, "prices": prices, "testnet": testnet},
            **kw,
        )

    if live:  # remembered outside the journal: a lost journal still shows the position
        state.remember_venue(data_dir, venue, prices=prices, testnet=testnet)
    _run_reconciled(
        run, _print_result, _Scope("hedge open", data_dir, when, live, as_json),
        open_venue=open_venue, after=_warn_marketable,
    )


@app.command("status")
def status_cmd(
    as_json: bool = JsonOpt,
    data_dir: Path | None = DataDirOpt,
    at: str | None = AtOpt,
    prices: str | None = PricesOpt,
    venue: str | None = VenueOverrideOpt,
) -> None:
    """Portfolio vs hedge now: beta, hedge ratio, PnL, funding, margin, liquidation, basis."""
    from althedge.services.hedge import hedge_status

    # live=False: a read-only command never writes venue state (the paper account)
    _run_reconciled(
        hedge_status, _print_status,
        _Scope("hedge status", data_dir, _at(at), False, as_json, venue, prices), acting=False,
    )


def _print_orphans(rec: Reconciliation) -> None:
    """The table of what the venue holds that no open hedge explains, and the way out."""
    if not rec.orphans:
        return
    from rich.table import Table

    table = Table(title="on the venue, explained by no open hedge", title_style="bold red")
    for col in ("venue", "symbol", "what", "contracts", "entry / price", "liquidation"):
        table.add_column(col)
    for o in rec.orphans:
        what = "position" if o["kind"] == "position" else f"working order {o['client_order_id']}"
        table.add_row(
            str(o["venue"]),
            str(o["symbol"]),
            what,
            _fmt(float(o["contracts"]) * (1 if o["kind"] == "position" else
                 (-1 if o.get("side") == "sell" else 1)), "+g"),
            _fmt(o.get("entry_price") if o["kind"] == "position" else o.get("price")),
            _fmt(o.get("liquidation_price")),
        )
    console.print(table)
    where = rec.venue_option()
    err_console.print(
        "[bold red]orphan:[/] adopt it into a hedge with `althedge hedge adopt PORTFOLIO.toml "
        f"{where}`, or take it off with `althedge hedge close {where} --orphan` "
        "(both dry runs unless --live)",
        soft_wrap=True,
    )


def _print_balances(rec: Reconciliation) -> None:
    """The table of venue balances no hedge of the journal explains (information only),
    or the one line saying they could not be checked now."""
    if rec.unexplained_balances_note:
        console.print(rec.unexplained_balances_note, soft_wrap=True, markup=False)
    if not rec.unexplained_balances:
        return
    from rich.table import Table

    table = Table(title="balances not explained by any hedge (information: not a risk)")
    for col in ("venue", "currency", "venue balance", "explained", "not explained", "USD"):
        table.add_column(col)
    for b in rec.unexplained_balances:
        table.add_row(str(b["venue"]), str(b["currency"]), _fmt(b["venue_balance_ccy"], ",.8g"),
                      _fmt(b["explained_ccy"], ",.8g"), _fmt(b["unexplained_ccy"], "+,.8g"),
                      _fmt(b["unexplained_usd"], "+,.2f"))
    console.print(table)


def _print_status(s: HedgeStatus) -> None:
    if s.hedge_id is None:
        console.print("no open hedge" + (" in the journal" if s.reconciliation.orphans else ""))
        _print_orphans(s.reconciliation)
        _print_balances(s.reconciliation)
        return
    ratio = [("hedge ratio achieved", _fmt(s.hedge_ratio_achieved, ".1%"))]
    portfolio = [
        ("portfolio value USD", _fmt(s.portfolio_value_usd)),
        ("portfolio PnL since open USD", _fmt(s.portfolio_pnl_usd)),
        ("beta now / at open", f"{_fmt(s.current_beta, '.3f')} / {_fmt(s.target_beta, '.3f')}"),
        ("correlation", _fmt(s.correlation, ".2f")),
    ]
    if len(s.legs) <= 1:
        title = f"hedge #{s.hedge_id} · {s.venue} {s.symbol} · {s.as_of}"
        _print_figures(title, portfolio + _leg_rows(s, ratio))
    else:
        symbols = " + ".join(leg.symbol for leg in s.legs)
        totals = [
            ("hedge notional USD, all legs", _fmt(s.hedge_notional_usd)),
            *ratio,
            ("unrealised PnL USD, all legs", _fmt(s.unrealised_pnl_usd)),
            ("funding so far USD, all legs", _fmt(s.funding_usd)),
            ("fees USD, all legs", _fmt(s.fees_usd)),
        ]
        _print_figures(f"hedge #{s.hedge_id} · {s.venue} {symbols} · {s.as_of}", portfolio + totals)
        for leg in s.legs:
            _print_figures(f"leg {leg.symbol}", _leg_rows(leg, []))
    _print_orphans(s.reconciliation)
    _print_balances(s.reconciliation)
    for w in s.warnings:
        err_console.print(f"[yellow]warning:[/] {w}", soft_wrap=True)


def _print_figures(title: str, rows: list[tuple[str, str]]) -> None:
    from rich.table import Table

    table = Table(title=title, show_header=False)
    table.add_column("figure")
    table.add_column("value", justify="right")
    for k, val in rows:
        table.add_row(k, val)
    console.print(table)


def _leg_rows(s: HedgeStatus | LegStatus, ratio: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The per-symbol figures of one leg (of the whole hedge when it has one leg)."""
    return [
        ("contracts held / target", f"{_fmt(s.contracts, 'g')} / {_fmt(s.target_contracts, 'g')}"),
        ("hedge notional USD", _fmt(s.hedge_notional_usd)),
        *(
            [("  net of collateral (" + f"{s.collateral_coin:g} coin) USD",
              _fmt(s.net_hedge_notional_usd))]
            if s.collateral_coin else []
        ),
        *ratio,
        (
            "entry / mark / spot",
            f"{_fmt(s.entry_price)} / {_fmt(s.mark_price)} / {_fmt(s.spot_price)}",
        ),
        ("basis", _fmt(s.basis, ".3%")),
        ("unrealised PnL USD", _fmt(s.unrealised_pnl_usd)),
        ("funding so far USD (+ received)", _fmt(s.funding_usd)),
        ("fees USD", _fmt(s.fees_usd)),
        ("margin ratio", _fmt(s.margin_ratio, ".1%")),
        ("liquidation price", _fmt(s.liquidation_price)),
        ("rally to liquidation", _fmt(s.liquidation_distance_pct, ".1f") + "%"),
    ]


@app.command("rebalance")
def rebalance_cmd(
    threshold: float = typer.Option(
        10.0, "--threshold", help="Resize a leg only when off its target by more than PCT %."
    ),
    live: bool = LiveOpt,
    as_json: bool = JsonOpt,
    data_dir: Path | None = DataDirOpt,
    at: str | None = AtOpt,
    prices: str | None = PricesOpt,
    venue: str | None = VenueOverrideOpt,
    order_type: str | None = OrderTypeOpt,
    offset_bps: float | None = OffsetBpsOpt,
    timeout: float | None = TimeoutOpt,
    fallback: str | None = FallbackOpt,
    limit_at: str | None = LimitAtOpt,
) -> None:
    """Resize each leg's short to the current beta when it is off by more than --threshold %."""
    from althedge.services.hedge import rebalance_hedge

    when = _at(at)
    options = _OrderOptions(order_type, offset_bps, timeout, fallback, limit_at)

    def run(journal: Journal, v: Any, source: Any, **kw: Any) -> LifecycleResult:
        hedge = _open_record(journal)
        execution = None
        if hedge is not None and (options.given or limit_at is not None):
            # the open's way of working orders, with the options given on top; a level
            # for each side (a leg may grow while another shrinks)
            execution = options.settings(
                hedge.execution, source=source, assets=[leg.hedge_asset for leg in hedge.legs],
                sides=("sell", "buy"), when=when, venue=_venue_kind(v),
            )
        return rebalance_hedge(journal, v, source, threshold_pct=threshold, live=live,
                               execution=execution, **kw)

    _run_reconciled(
        run, _print_result, _Scope("hedge rebalance", data_dir, when, live, as_json, venue, prices),
        after=_warn_marketable,
    )


def _open_record(journal: Journal) -> Any:
    """The journal's open hedge (:class:`HedgeRecord`), or None."""
    from althedge.services.hedge import HedgeRecord

    row = journal.active_hedge()
    return HedgeRecord.from_row(row) if row is not None else None


def _venue_kind(v: Any) -> str:
    """``paper`` or ``exchange``: where ``--limit-at`` levels may use older bars."""
    return "paper" if getattr(v, "name", "") == "paper" else "exchange"


@app.command("close")
def close_cmd(
    live: bool = LiveOpt,
    as_json: bool = JsonOpt,
    data_dir: Path | None = DataDirOpt,
    at: str | None = AtOpt,
    prices: str | None = PricesOpt,
    venue: str | None = VenueOverrideOpt,
    orphan: bool = typer.Option(
        False, "--orphan",
        help="Take off what the venue holds that no open hedge explains (positions: "
        "reduce-only market orders; unknown working orders: cancelled) instead of the hedge.",
    ),
    symbol: list[str] = typer.Option(
        [], "--symbol", help="With --orphan: only this symbol (repeatable)."
    ),
    order_type: str | None = OrderTypeOpt,
    offset_bps: float | None = OffsetBpsOpt,
    timeout: float | None = TimeoutOpt,
    fallback: str | None = FallbackOpt,
    limit_at: str | None = LimitAtOpt,
) -> None:
    """Buy every leg's short back (reduce-only) and print the attribution; with --orphan
    (and --venue), take off the venue's orphan positions and orders instead."""
    when = _at(at)
    scope = _Scope("hedge close", data_dir, when, live, as_json, venue, prices)
    options = _OrderOptions(order_type, offset_bps, timeout, fallback, limit_at)
    if orphan:
        from althedge.services.hedge.orphans import close_orphans

        _run_reconciled(
            partial(_without_as_of, close_orphans, symbols=symbol or None, live=live),
            _print_result, replace(scope, what="hedge close --orphan"),
        )
        return
    if symbol:
        raise InputError("--symbol: only with --orphan (a hedge is closed whole)")
    from althedge.services.hedge import close_hedge

    def run(journal: Journal, v: Any, source: Any, **kw: Any) -> CloseResult:
        hedge = _open_record(journal)
        assets = [leg.hedge_asset for leg in hedge.legs] if hedge is not None else []
        execution = options.settings(
            None, source=source, assets=assets, sides=("buy",), when=when, venue=_venue_kind(v)
        )
        return close_hedge(journal, v, source, live=live, execution=execution, **kw)

    _run_reconciled(run, _print_close, scope, after=lambda c: _warn_marketable(c.result))


def _without_as_of(fn: Callable[..., R], journal: Journal, v: Any, source: Any, *,
                   as_of: Any = None, **kw: Any) -> R:
    """Call a service that takes neither the price source nor the market date."""
    return fn(journal, v, **kw)


@app.command("adopt")
def adopt_cmd(
    portfolio: Path | None = typer.Argument(
        None, help="Portfolio TOML the adopted short hedges (needed when no hedge is open)."
    ),
    venue: str | None = typer.Option(
        None, "--venue", help="The venue holding the position (default: the open hedge's)."
    ),
    symbol: list[str] = typer.Option([], "--symbol", help="Only this symbol (repeatable)."),
    prices: str | None = PricesOpt,
    live: bool = LiveOpt,
    testnet: bool = typer.Option(False, "--testnet", help="Use the exchange's testnet/demo."),
    as_json: bool = JsonOpt,
    data_dir: Path | None = DataDirOpt,
    at: str | None = AtOpt,
) -> None:
    """Journal what the venue holds and no open hedge explains: a new hedge for PORTFOLIO
    (no hedge open), or the open hedge brought to the venue. Sends nothing; dry run unless
    --live."""
    from althedge.config import load_portfolio
    from althedge.services.hedge.orphans import adopt_orphans

    cfg = load_portfolio(portfolio) if portfolio is not None else None
    prices = prices or (cfg.hedge.price_source if cfg is not None else None)

    def run(journal: Journal, v: Any, src: Any, **kw: Any) -> LifecycleResult:
        return adopt_orphans(
            journal, v, cfg, src, symbols=symbol or None, live=live,
            portfolio_path=None if portfolio is None else str(portfolio.resolve()),
            extra_settings={"venue_id": venue or v.name, "prices": prices, "testnet": testnet},
            **kw,
        )

    if live and venue:
        state.remember_venue(data_dir, venue, prices=prices, testnet=testnet)
    _run_reconciled(
        run, _print_result, _Scope("hedge adopt", data_dir, _at(at), live, as_json, venue, prices)
    )


def _print_close(c: CloseResult) -> None:
    _print_result(c.result)
    from rich.table import Table

    table = Table(title="attribution (USD)" + (" — estimated, dry run" if c.estimated else ""))
    table.add_column("component")
    table.add_column("USD", justify="right")
    for k, val in (
        ("portfolio PnL", c.portfolio_pnl_usd),
        ("hedge PnL", c.hedge_pnl_usd),
        ("funding", c.funding_usd),
        ("fees", c.fees_usd),
        *([("coin collateral", c.collateral_usd)] if c.collateral_usd else []),
        ("net", c.net_usd),
    ):
        table.add_row(k, _fmt(val))
    if c.total_value_change_usd is not None:
        table.add_row("change in total value", _fmt(c.total_value_change_usd))
    console.print(table)


# --------------------------------------------------------------------------- monitor

_EVERY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


def parse_every(value: str) -> float:
    """``"1h"``, ``"30m"``, ``"10s"``, ``"1d"`` or plain seconds → seconds."""
    m = _EVERY.match(value)
    if not m or float(m.group(1)) <= 0:
        raise InputError(f"--every: {value!r} is not a duration; use e.g. 30s, 15m, 1h or 1d")
    mult = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    return float(m.group(1)) * mult


def monitor_cmd(
    every: str = typer.Option("1h", "--every", help="Interval between checks: 30s, 15m, 1h, 1d."),
    iterations: int | None = typer.Option(
        None, "--iterations", help="Stop after N checks (default: until Ctrl-C)."
    ),
    webhook: str | None = typer.Option(
        None, "--webhook", help="POST each alert as JSON to this URL."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print one JSON summary object on stdout at the end."
    ),
    data_dir: Path | None = DataDirOpt,
    at: str | None = AtOpt,
    advance_days: int = typer.Option(
        0, "--advance-days",
        help="Paper only: replay history, moving the paper clock N days per check "
        "(checks run back to back; --every is not waited).",
    ),
    prices: str | None = PricesOpt,
    beta_drift_pct: float = typer.Option(
        10.0, "--beta-drift-pct", min=0.0,
        help="Alert when beta moves more than PCT % from open."
    ),
    liquidation_pct: float = typer.Option(
        30.0, "--liquidation-pct", min=0.0,
        help="Alert when the rally to liquidation is below PCT %."
    ),
    min_correlation: float = typer.Option(
        0.5, "--min-correlation", min=-1.0, max=1.0,
        help="Alert when correlation falls below this."
    ),
) -> None:
    """Run `hedge status` periodically: snapshots into the journal, alerts to console/webhook."""
    from althedge.services.monitor import AlertThresholds, run_monitor

    seconds = parse_every(every)
    if iterations is not None and iterations < 1:
        raise InputError("--iterations: must be >= 1")
    if advance_days < 0:
        raise InputError("--advance-days: must be >= 0")
    if webhook is not None and not re.match(r"^https?://", webhook):
        raise InputError("--webhook: must be an http:// or https:// URL")
    thresholds = AlertThresholds(
        beta_drift_pct=beta_drift_pct,
        liquidation_distance_pct=liquidation_pct,
        min_correlation=min_correlation,
    )
    start = _at(at)
    current: list[Journal] = []

    @contextmanager
    def session() -> Iterator[Journal]:
        """One check's journal: the lock while it runs (a snapshot when another althedge
        process holds it), released between checks so trading is never blocked."""
        with _journal(data_dir, "monitor", acting=False) as journal:
            current[:] = [journal]
            yield journal

    def venue_at(day: date | None) -> tuple[Any, Any, date | None]:
        v, source, _ = _venue_from_journal(
            current[0],
            data_dir=data_dir,
            venue=None,
            prices=prices,
            at=day,
            testnet=None,
            live=False,  # a read-only command never writes venue state
        )
        return v, source, _as_of(v, day)

    def on_line(text: str) -> None:  # plain text: "[critical]" is not rich markup
        (err_console if as_json else console).print(text, soft_wrap=True, markup=False)

    summary = run_monitor(
        None,
        venue_at,
        every_s=0.0 if advance_days else seconds,  # a replay runs back to back
        iterations=iterations,
        webhook=webhook,
        thresholds=thresholds,
        start=start,
        advance_days=advance_days,
        on_line=on_line,
        session=session,
    )
    if as_json:
        emit_json(summary.to_dict())
    last = summary.last_status or {}
    if not (last.get("reconciliation") or {}).get("ok", True):
        raise typer.Exit(code=JournalError.exit_code)  # the venue holds what no hedge explains


def register(root: typer.Typer) -> None:
    """Attach the top-level `monitor` command to the root app."""
    root.command("monitor")(monitor_cmd)
