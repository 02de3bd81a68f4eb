"""Periodic hedge status: snapshots into the journal, alerts to the console and a webhook.

Each check runs :func:`althedge.services.hedge.hedge_status` (which reconciles
first), stores the status as a journal snapshot, and evaluates the alert rules:

* ``beta_drift`` — |β now / β at open − 1| × 100 above ``beta_drift_pct``;
* ``liquidation`` — the rally that reaches the liquidation price below
  ``liquidation_distance_pct`` %;
* ``funding`` — the funding rate turned negative (a short hedge pays it);
* ``correlation`` — portfolio/hedge-asset correlation below ``min_correlation``;
* ``reconcile`` — the journal and the venue disagree;
* ``balance`` (info) — a venue balance no hedge of the journal explains (a deposit or
  withdrawal outside althedge); never changes the exit code
* ``liquidated`` (critical) — the venue liquidated a leg: the reconciliation the check
  starts with imports the forced close into the journal and journals this alert; the
  monitor prints it and POSTs it like the others (once: the next check finds it imported);
* ``orphan`` — the venue holds a position or working order that no open hedge explains
  (also with no hedge open: a lost journal never hides a short);
* ``underhedged`` — a leg holds fewer contracts than its target by more than
  ``shortfall_pct`` % (e.g. an open that crashed half-way);
* ``hedge_now`` / ``dehedge_now`` — the portfolio's ``[hedge] triggers`` (as journaled
  with the hedge, or with the last hedge when none is open) turned on / off since the
  previous check; on the first check, when they disagree with whether a hedge is open
  (:func:`trigger_alerts`, the same rules as ``plan`` and the backtest).

On a hedge with several legs (BTC+ETH) ``liquidation`` and ``funding`` are checked
per leg: each such alert names its leg (``symbol``) and fires for it independently.

The first four are :func:`althedge.services.hedge.status_alerts`, the same rules
``hedge status`` warns with (here with the ``--…`` thresholds).

An alert fires when its condition becomes true (not again while it stays true);
each is written to the journal's ``alerts`` table, printed, and — with a webhook
— POSTed as JSON (``urllib``, 10 s timeout; a failing webhook is reported, never
fatal). A check that fails (exchange unreachable, bad data) is reported and the
loop goes on. Ctrl-C (SIGINT) stops the loop cleanly between or during checks.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from althedge.errors import AlthedgeError
from althedge.journal import Journal, now_iso
from althedge.services.hedge import (
    Alert,
    AlertThresholds,
    HedgeStatus,
    hedge_status,
    status_alerts,
)
from althedge.services.hedge.common import venue_now_iso
from althedge.services.trigger_status import trigger_section

__all__ = [
    "Alert",
    "AlertThresholds",
    "MonitorSummary",
    "evaluate_alerts",
    "post_webhook",
    "run_monitor",
    "trigger_alerts",
]


@dataclass
class MonitorSummary:
    iterations: int = 0
    snapshots: int = 0
    alerts: list[dict[str, Any]] = field(default_factory=list)
    webhook_errors: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stopped_by: str = "iterations"
    last_status: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "iterations": self.iterations,
            "snapshots": self.snapshots,
            "alerts": self.alerts,
            "webhook_errors": self.webhook_errors,
            "errors": self.errors,
            "stopped_by": self.stopped_by,
            "last_status": self.last_status,
        }


#: alerts the reconciliation itself journals (a liquidation imported from the venue)
RECONCILIATION_ALERTS = ("liquidated",)


def evaluate_alerts(status: HedgeStatus, thresholds: AlertThresholds) -> list[Alert]:
    """Every alert condition true for ``status`` (no de-duplication here)."""
    out: list[Alert] = []
    orphans = status.reconciliation.orphans
    if orphans:
        held = "; ".join(
            f"{o['venue']} {o['symbol']} "
            + (f"position {float(o['contracts']):+g} contracts" if o["kind"] == "position"
               else f"working order {o['client_order_id']} ({o['side']} {o['contracts']:g})")
            for o in orphans
        )
        where = status.reconciliation.venue_option()
        out.append(
            Alert(
                "orphan",
                "critical",
                f"orphan: the venue holds what no open hedge explains ({held}); adopt it with "
                f"`althedge hedge adopt PORTFOLIO.toml {where}` or take it off with "
                f"`althedge hedge close {where} --orphan`",
            )
        )
    explained = {o.get("message") for o in orphans}
    others = [d for d in status.reconciliation.differences if d not in explained]
    if others:
        out.append(
            Alert(
                "reconcile",
                "critical",
                "journal and venue disagree: " + "; ".join(others),
            )
        )
    for b in status.reconciliation.unexplained_balances:  # shown, not a risk: "info"
        out.append(Alert("balance", "info", f"balance: {b['message']}", b["currency"]))
    if status.hedge_id is None:
        return out
    return out + status_alerts(status, thresholds)


def trigger_alerts(
    journal: Journal, source: Any, as_of: date | None, was_on: bool | None, hedge_open: bool
) -> tuple[list[Alert], bool | None]:
    """``hedge_now``/``dehedge_now`` when the portfolio's triggers changed since the last
    check (``was_on``; None on the first check: compared with ``hedge_open`` instead).

    The portfolio is the one journaled with the open hedge (or the last hedge). Returns the
    alerts and the triggers' state now (``was_on`` unchanged when there are no triggers).
    """
    from althedge.config import parse_portfolio

    rows = journal.hedges()
    row = journal.active_hedge() or (rows[-1] if rows else None)
    config = (row.portfolio or {}).get("config") if row is not None else None
    if not config:
        return [], was_on
    section = trigger_section(parse_portfolio(dict(config), source="journal"), source, as_of)
    if section is None:
        return [], was_on
    previous = hedge_open if was_on is None else was_on
    if section.hedge_on == previous:
        return [], section.hedge_on
    if section.hedge_on:
        why = "; ".join(f"{r.trigger} on since {r.since}: {r.why}"
                        for r in section.readings if r.on)
        alert = Alert("hedge_now", "warning", f"hedge now: {why}")
    else:
        why = "; ".join(f"{r.trigger}: {r.why}" for r in section.readings)
        alert = Alert("dehedge_now", "warning", f"de-hedge now: every trigger is off ({why})")
    return [alert], section.hedge_on


def post_webhook(url: str, payload: dict[str, Any], timeout_s: float = 10.0) -> None:
    """POST ``payload`` as JSON; raises :class:`AlthedgeError` with a one-line reason on failure."""
    from althedge.files import jsonable

    body = json.dumps(jsonable(payload), default=str).encode()
    req = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            if resp.status >= 300:
                raise AlthedgeError(f"webhook: HTTP {resp.status}")
    except urllib.error.HTTPError as exc:
        raise AlthedgeError(f"webhook: HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise AlthedgeError(f"webhook: {reason}") from None


def _status_line(s: HedgeStatus) -> str:
    if s.hedge_id is None:
        return f"[{now_iso()}] no open hedge"

    def f(x: float | None, spec: str) -> str:
        return "—" if x is None else format(x, spec)

    symbols = "+".join(leg.symbol for leg in s.legs) or s.symbol
    distances = [leg.liquidation_distance_pct for leg in s.legs]
    known = [d for d in distances if d is not None]
    liq = min(known) if known else s.liquidation_distance_pct  # the nearest leg's
    return (
        f"[{now_iso()}] {s.as_of} hedge #{s.hedge_id} {symbols}: beta {f(s.current_beta, '.2f')} "
        f"(open {f(s.target_beta, '.2f')}), ratio {f(s.hedge_ratio_achieved, '.0%')}, "
        f"uPnL {f(s.unrealised_pnl_usd, ',.2f')} USD, funding {f(s.funding_usd, ',.2f')} USD, "
        f"liq +{f(liq, '.1f')}%"
        + ("; balances not checked now" if s.reconciliation.unexplained_balances_note else "")
    )


def run_monitor(
    journal: Journal | None,
    venue_at: Callable[[date | None], tuple[Any, Any, date | None]],
    *,
    every_s: float,
    iterations: int | None = None,
    webhook: str | None = None,
    thresholds: AlertThresholds | None = None,
    start: date | None = None,
    advance_days: int = 0,
    on_line: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
    session: Callable[[], AbstractContextManager[Journal]] | None = None,
) -> MonitorSummary:
    """Check, snapshot, alert; repeat every ``every_s`` seconds until ``iterations`` or Ctrl-C.

    ``venue_at(day)`` returns ``(venue, price source, as_of)`` for the market date
    ``day`` (None = now); with ``advance_days`` the paper clock moves that many days
    per check from ``start`` (a replay of real history).

    ``session`` (the CLI's) opens the journal for one check — holding the journal's lock
    while it runs, released while the loop sleeps — instead of ``journal``. The venue's
    state is never saved here: the monitor only reads.
    """
    thresholds = thresholds or AlertThresholds()
    summary = MonitorSummary()
    active: set[tuple[str, str]] = set()  # (kind, leg symbol or "")
    triggers_on: bool | None = None  # the portfolio's triggers at the last check
    day = start
    try:
        while iterations is None or summary.iterations < iterations:
            summary.iterations += 1
            if session is not None:
                with session() as checked:
                    day, triggers_on, active = _check(
                        checked, venue_at, day, summary, thresholds, webhook, on_line,
                        active, triggers_on, advance_days,
                    )
            else:
                assert journal is not None
                day, triggers_on, active = _check(
                    journal, venue_at, day, summary, thresholds, webhook, on_line,
                    active, triggers_on, advance_days,
                )
            if iterations is not None and summary.iterations >= iterations:
                break
            sleep(every_s)
    except KeyboardInterrupt:
        summary.stopped_by = "interrupt"
        on_line("monitor stopped (Ctrl-C)")
    return summary


def _check(
    journal: Journal,
    venue_at: Callable[[date | None], tuple[Any, Any, date | None]],
    day: date | None,
    summary: MonitorSummary,
    thresholds: AlertThresholds,
    webhook: str | None,
    on_line: Callable[[str], None],
    active: set[tuple[str, str]],
    triggers_on: bool | None,
    advance_days: int,
) -> tuple[date | None, bool | None, set[tuple[str, str]]]:
    """One check: status (reconciled), snapshot, alerts; (next day, triggers, active alerts)."""
    known = {int(a["id"]) for a in journal.alerts()}
    try:
        venue, source, as_of = venue_at(day)
        status = hedge_status(journal, venue, source, as_of=as_of)
    except AlthedgeError as exc:
        # a failed check (exchange down, bad data) is reported, never fatal
        summary.errors.append(str(exc))
        on_line(f"[{now_iso()}] check failed: {exc}")
        return day, triggers_on, active
    snap = status.to_dict()
    clock = venue_now_iso(venue)  # journal rows take the venue's clock (paper: its date)
    journal.record_snapshot(status.hedge_id, snap, at=clock)
    summary.snapshots += 1
    summary.last_status = snap
    on_line(_status_line(status))
    try:  # a trigger that cannot be evaluated never hides the status alerts
        switch, triggers_on = trigger_alerts(
            journal, source, as_of, triggers_on, status.hedge_id is not None
        )
    except AlthedgeError as exc:
        switch = []
        summary.errors.append(f"triggers: {exc}")
        on_line(f"[{now_iso()}] trigger check failed: {exc}")
    now_alerts = evaluate_alerts(status, thresholds) + switch
    kinds = {(a.kind, a.symbol) for a in now_alerts}
    # what this check's reconciliation journaled itself (a liquidation it imported) is
    # raised here too, with the time it was journaled (not journaled twice)
    raised: list[tuple[Alert, str | None]] = [
        (Alert(str(a["kind"]), str(a["severity"]), str(a["message"])), str(a["at"]))
        for a in journal.alerts()
        if int(a["id"]) not in known and a["kind"] in RECONCILIATION_ALERTS
    ]
    raised += [(a, None) for a in now_alerts if (a.kind, a.symbol) not in active]
    for alert, journaled_at in raised:
        at = journaled_at or clock
        if journaled_at is None:
            journal.record_alert(
                status.hedge_id,
                kind=alert.kind,
                severity=alert.severity,
                message=alert.message,
                at=at,
            )
        payload = {
            "at": at,
            "as_of": status.as_of,
            "hedge_id": status.hedge_id,
            **alert.to_dict(),
        }
        summary.alerts.append(payload)
        on_line(f"ALERT [{alert.severity}] {alert.message}")  # message names its kind
        if webhook:
            try:
                post_webhook(webhook, payload)
            except AlthedgeError as exc:
                summary.webhook_errors.append(str(exc))
                on_line(f"webhook failed: {exc}")
    if advance_days and day is not None:
        day = day + timedelta(days=advance_days)
    elif advance_days and as_of is not None:
        day = as_of + timedelta(days=advance_days)
    return day, triggers_on, kinds
