"""`althedge calc …`: futures calculators — PnL, liquidation, funding, basis (and hedge size).

Every number comes from :mod:`althedge.core` (pnl, margin, funding, basis); this module
only parses flags, checks that they agree, and prints a table or one JSON object.
Formulas and sources: docs/futures-math.md.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any

import typer

from althedge.cli.calc_hedge import hedge
from althedge.cli.common import console, emit_json, parse_date
from althedge.core.instruments import ContractType
from althedge.errors import InputError
from althedge.files import format_number

# The core's formulas are imported inside each command; a number never imports numpy
# (core/numeric.py), so `althedge calc …` answers at once (benchmarks/README.md).

app = typer.Typer(no_args_is_help=True)
app.command("hedge")(hedge)


class SideOpt(StrEnum):
    long = "long"
    short = "short"


class ExchangeOpt(StrEnum):
    binance = "binance"
    bybit = "bybit"
    okx = "okx"
    deribit = "deribit"
    bingx = "bingx"
    mexc = "mexc"
    weex = "weex"
    hyperliquid = "hyperliquid"


JSON_HELP = "Print exactly one JSON object on stdout."
#: Largest funding rate per interval accepted (as in `backtest --funding` and `plan`).
MAX_FUNDING_RATE = 0.05


def _need(value: Any, flag: str) -> Any:
    if value is None:
        raise InputError(f"{flag}: required; pass {flag} VALUE")
    return value


def _fmt(x: float | None, spec: str = ",.2f") -> str:
    if x is None:
        return "—"
    if isinstance(x, float) and math.isinf(x):
        return "never" if x > 0 else "—"
    if isinstance(x, float) and math.isnan(x):
        return "—"
    return format_number(x, spec)


def _positive(flag: str, value: float | None) -> None:
    """A price, size or leverage must be > 0: one line naming the flag otherwise."""
    if value is not None and not value > 0:
        raise InputError(f"{flag}: must be > 0, got {value:g}")


def _print_kv(title: str, rows: list[tuple[str, str]]) -> None:
    from rich.table import Table

    console.print(f"[bold]{title}[/]")
    table = Table(show_header=False)
    table.add_column("field")
    table.add_column("value", justify="right")
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)


# --- pnl ----------------------------------------------------------------------------


@app.command("pnl")
def pnl_cmd(
    contract: ContractType = typer.Option(..., "--contract", help="linear or inverse."),
    side: SideOpt = typer.Option(..., "--side", help="long or short."),
    contracts: float = typer.Option(..., "--contracts", help="Number of contracts Q (>= 0)."),
    contract_size: float = typer.Option(
        ..., "--contract-size", help="Coin per contract (linear) or USD per contract (inverse)."
    ),
    entry: float = typer.Option(..., "--entry", help="Entry price, USD."),
    exit_price: float = typer.Option(..., "--exit", help="Exit (or mark) price, USD."),
    leverage: float | None = typer.Option(None, "--leverage", help="Leverage, for ROE %."),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """PnL: linear side·Q·CS·(P − EP) USD; inverse side·Q·CS·(1/EP − 1/P) coin."""
    from althedge.core.instruments import Side
    from althedge.core.pnl import inverse_pnl_coin, pnl_usd, roe_pct

    _positive("--entry", entry)
    _positive("--exit", exit_price)
    ct = ContractType(contract.value)
    sd = Side.LONG if side == SideOpt.long else Side.SHORT
    if contracts < 0:
        raise InputError(f"contracts: must be >= 0, got {contracts:g}; the side gives direction")
    if contract_size <= 0:
        raise InputError(f"contract size: must be > 0, got {contract_size:g}")
    out: dict[str, Any] = {
        "contract": ct.value,
        "side": side.value,
        "contracts": contracts,
        "contract_size": contract_size,
        "entry_price": entry,
        "exit_price": exit_price,
    }
    usd = float(pnl_usd(ct, sd, contracts, contract_size, entry, exit_price))
    if ct == ContractType.INVERSE:
        out["pnl_coin"] = float(inverse_pnl_coin(sd, contracts, contract_size, entry, exit_price))
    out["pnl_usd"] = usd
    if leverage is not None:
        out["leverage"] = leverage
        out["roe_pct"] = roe_pct(ct, sd, entry, exit_price, leverage)
    if json_out:
        emit_json(out)
        return
    rows = []
    if "pnl_coin" in out:
        rows.append(("PnL (coin)", _fmt(out["pnl_coin"], ",.8f")))
    rows.append(("PnL (USD)" + (" at exit price" if "pnl_coin" in out else ""), _fmt(usd)))
    if "roe_pct" in out:
        rows.append((f"ROE at {leverage:g}×", _fmt(out["roe_pct"]) + " %"))
    _print_kv(f"PnL · {ct.value} {side.value} {contracts:g} × {contract_size:g}", rows)


# --- liquidation ----------------------------------------------------------------------


def _rally_table(mmr: float, json_out: bool) -> None:
    from rich.table import Table

    from althedge.core.margin import short_rally_to_liquidation_pct

    rows = []
    for lev in range(1, 11):
        rows.append(
            {
                "leverage": lev,
                "linear_rally_pct": short_rally_to_liquidation_pct("linear", lev, mmr),
                "inverse_rally_pct": short_rally_to_liquidation_pct("inverse", lev, mmr),
            }
        )
    if json_out:
        emit_json(
            {
                "mmr": mmr,
                "formula_linear": "(1 + 1/L)/(1 + MMR) - 1",
                "formula_inverse": "(1 - MMR)/(1 - 1/L) - 1",
                "rows": rows,
            }
        )
        return
    console.print(f"[bold]Rally that liquidates an isolated short (MMR {mmr * 100:g} %)[/]")
    table = Table()
    table.add_column("leverage", justify="right")
    table.add_column("linear", justify="right")
    table.add_column("inverse", justify="right")
    for r in rows:
        inv = r["inverse_rally_pct"]
        table.add_row(
            f"{r['leverage']}×",
            f"+{r['linear_rally_pct']:.2f} %",
            "never" if math.isinf(inv) else f"+{inv:.2f} %",
        )
    console.print(table)
    console.print("isolated margin = initial margin (1/L of the entry notional)")
    console.print("linear:  (1 + 1/L)/(1 + MMR) − 1")
    console.print("inverse: (1 − MMR)/(1 − 1/L) − 1; a 1× short inverse is never liquidated")


@app.command("liquidation")
def liquidation_cmd(
    exchange: ExchangeOpt | None = typer.Option(
        None, "--exchange", help="Whose formula to use. [required unless --table]"),
    contract: ContractType | None = typer.Option(
        None, "--contract", help="linear or inverse (taken from --symbol when omitted)."
    ),
    side: SideOpt | None = typer.Option(
        None, "--side", help="long or short. [required unless --table]"),
    contracts: float | None = typer.Option(
        None, "--contracts", help="Number of contracts Q (> 0). [required unless --table]"),
    contract_size: float | None = typer.Option(
        None, "--contract-size", help="Coin (linear) / USD (inverse) per contract; or --symbol."
    ),
    entry: float | None = typer.Option(
        None, "--entry", help="Entry price, USD. [required unless --table]"),
    wallet: float | None = typer.Option(
        None, "--wallet", help="Isolated margin, settlement currency (USD linear, coin "
        "inverse). [--wallet or --leverage required]"
    ),
    leverage: float | None = typer.Option(
        None, "--leverage", help="Leverage (margin = IM). [--wallet or --leverage required]"),
    mmr: float | None = typer.Option(
        None, "--mmr", help="Maintenance-margin rate as a fraction (0.005 = 0.5 %)."
    ),
    maint_amount: float = typer.Option(
        0.0, "--maint-amount", help="Tier maintenance amount (Binance cum / Bybit deduction)."
    ),
    mmr_per_coin: float = typer.Option(
        0.0, "--mmr-per-coin",
        help="Deribit: MMR increase per coin of position size (BTC 0.00005); with --mmr.",
    ),
    symbol: str | None = typer.Option(
        None, "--symbol", help="ccxt symbol of a built-in contract: its tier table is used."
    ),
    table: bool = typer.Option(
        False, "--table", help="Print the short-rally-to-liquidation table for 1×…10×."
    ),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Isolated liquidation and bankruptcy price with the exchange's published formula.

    Needs --exchange, --side, --contracts, --entry, one of --wallet/--leverage, and either
    --symbol (its tier table) or --contract, --contract-size and --mmr; --table alone
    prints the rally that liquidates a short at 1×…10×.
    """
    from althedge.core.instruments import get_instrument
    from althedge.core.margin import liquidation_price

    if table:
        rate = 0.005 if mmr is None else mmr
        if not 0 <= rate < 1:
            raise InputError(f"mmr: must be a fraction in [0, 1), got {rate:g}")
        _rally_table(rate, json_out)
        return
    ex = _need(exchange, "--exchange").value
    sd = _need(side, "--side")
    q = _need(contracts, "--contracts")
    ep = _need(entry, "--entry")
    if (wallet is None) == (leverage is None):
        raise InputError("wallet/leverage: give exactly one of --wallet or --leverage")
    tiers = None
    inst = None
    if symbol is not None:
        inst = get_instrument(ex, symbol)
        if contract is not None and contract.value != inst.contract_type.value:
            raise InputError(
                f"contract: --contract {contract.value} contradicts --symbol {inst.symbol}, "
                f"which is {inst.contract_type.value}; drop one of them"
            )
        if contract_size is not None and not math.isclose(contract_size, inst.contract_size):
            raise InputError(
                f"contract size: --contract-size {contract_size:g} contradicts --symbol "
                f"{inst.symbol} ({inst.contract_size:g}); drop one of them"
            )
        ct = inst.contract_type
        cs = inst.contract_size
        if mmr is None:
            tiers = inst.tiers
    else:
        ct = ContractType(_need(contract, "--contract").value)
        cs = _need(contract_size, "--contract-size")
        if mmr is None:
            raise InputError("mmr: give --mmr (and --maint-amount) or --symbol for its tiers")
    if mmr is None and maint_amount:
        raise InputError("maint amount: --maint-amount needs --mmr; --symbol brings both")
    if mmr is None and mmr_per_coin:
        raise InputError("mmr per coin: --mmr-per-coin needs --mmr; --symbol brings both")
    liq = liquidation_price(
        ex, ct, sd.value, q, cs, ep, wallet_balance=wallet, leverage=leverage,
        mmr=mmr, maint_amount=maint_amount, tiers=tiers, mmr_per_coin=mmr_per_coin,
    )
    settle = "USD" if ct == ContractType.LINEAR else "coin"
    out: dict[str, Any] = {
        "exchange": ex,
        "symbol": inst.symbol if inst else None,
        "contract": ct.value,
        "side": sd.value,
        "contracts": q,
        "contract_size": cs,
        "entry_price": ep,
        "liquidation_price": liq.liquidation_price,
        "bankruptcy_price": liq.bankruptcy_price,
        "mmr": liq.mmr,
        "maint_amount": liq.maint_amount,
        "move_to_liquidation_pct": liq.move_to_liquidation_pct,
        "never_liquidated": liq.never_liquidated,
        "wallet_balance": liq.wallet_balance,
        "maintenance_margin_at_liquidation": liq.maintenance_margin,
        "settle_unit": settle,
        "method": liq.method,
        "tier": None,
    }
    if inst is not None and liq.tier_index is not None:
        t = inst.tiers[liq.tier_index]
        out["tier"] = {
            "index": liq.tier_index,
            "level": liq.tier_index + 1,
            "floor": t.floor,
            "cap": t.cap,
            "mmr": t.mmr,
            "mmr_per_coin": t.mmr_per_coin,
            "maint_amount": t.maint_amount,
            "max_leverage": t.max_leverage,
            "specs_as_of": inst.specs_as_of,
        }
    if json_out:
        emit_json(out)
        return
    rows = [
        ("liquidation price", "never" if math.isinf(liq.liquidation_price)
         else ("never (≤ 0)" if liq.liquidation_price <= 0 else _fmt(liq.liquidation_price))),
        ("move to liquidation", _fmt(liq.move_to_liquidation_pct, "+.2f") + " %"
         if math.isfinite(liq.move_to_liquidation_pct) else "—"),
        ("bankruptcy price", _fmt(liq.bankruptcy_price)),
        (f"margin ({settle})", _fmt(liq.wallet_balance, ",.8g")),
        ("MMR / maint. amount", f"{liq.mmr * 100:g} % / {liq.maint_amount:g}"),
    ]
    if out["tier"] is not None:
        t = out["tier"]
        rows.append(("tier (as of " + t["specs_as_of"] + ")",
                     f"level {t['level']}: {t['floor']:,.10g} – {t['cap']:,.10g}"))
    rows.append(("formula", liq.method))
    _print_kv(f"Liquidation · {ex} {ct.value} {sd.value} {q:g} × {cs:g}", rows)


# --- funding ------------------------------------------------------------------------


@app.command("funding")
def funding_cmd(
    contract: ContractType = typer.Option(..., "--contract", help="linear or inverse."),
    contracts: float = typer.Option(..., "--contracts", help="Number of contracts Q (>= 0)."),
    contract_size: float = typer.Option(..., "--contract-size", help="Coin / USD per contract."),
    mark: float = typer.Option(..., "--mark", help="Mark price, USD."),
    rate: float = typer.Option(..., "--rate", help="Funding rate per interval (0.0001 = 0.01 %)."),
    interval_hours: float = typer.Option(8.0, "--interval-hours", help="Funding interval."),
    side: SideOpt | None = typer.Option(
        None, "--side", help="Also report what this side receives (negative = pays)."
    ),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Funding per interval: linear Q·CS·P·rate USD, inverse Q·CS/P·rate coin; >0: longs pay."""
    from althedge.core.funding import annualised_funding_rate, funding_payment
    from althedge.core.instruments import Side

    ct = ContractType(contract.value)
    if contract_size <= 0:
        raise InputError(f"contract size: must be > 0, got {contract_size:g}")
    if abs(rate) > MAX_FUNDING_RATE:
        raise InputError(
            f"--rate: {rate:g} is {rate * 100:g} % per interval; rates are fractions "
            f"(0.0001 = 0.01 %) and exchanges cap them at a few %: pass a value within "
            f"±{MAX_FUNDING_RATE:g}")
    # amount longs pay to shorts (negative: shorts pay longs)
    paid_by_longs = -float(funding_payment(ct, Side.LONG, contracts, contract_size, mark, rate))
    ann = float(annualised_funding_rate(rate, interval_hours))
    payer = "longs" if rate > 0 else ("shorts" if rate < 0 else "nobody")
    out: dict[str, Any] = {
        "contract": ct.value,
        "rate": rate,
        "interval_hours": interval_hours,
        "payer": payer,
        "receiver": {"longs": "shorts", "shorts": "longs"}.get(payer, "nobody"),
    }
    unit = "usd" if ct == ContractType.LINEAR else "coin"
    out[f"payment_{unit}"] = paid_by_longs
    if ct == ContractType.INVERSE:
        out["payment_usd_at_mark"] = paid_by_longs * mark
    out["sign_convention"] = "payment > 0: longs pay shorts; < 0: shorts pay longs"
    out["annualised_pct"] = ann * 100.0
    if side is not None:
        got = float(funding_payment(ct, side.value, contracts, contract_size, mark, rate))
        out["side"] = side.value
        out[f"received_{unit}"] = got
        out["received_usd_per_year"] = (got * (mark if unit == "coin" else 1.0)
                                        * 24.0 / interval_hours * 365.0)
    if json_out:
        emit_json(out)
        return
    spec = ",.2f" if unit == "usd" else ",.8f"
    rows = [
        (f"payment per {interval_hours:g} h ({unit.upper()})", _fmt(abs(paid_by_longs), spec)),
        ("who pays", f"{payer} → {out['receiver']}" if payer != "nobody" else "nobody"),
        ("annualised rate", f"{_fmt(ann * 100, '+.2f')} %"),
    ]
    if side is not None:
        rows.append((f"{side.value} receives ({unit.upper()})", _fmt(out[f"received_{unit}"],
                                                                    "+" + spec)))
    _print_kv(f"Funding · {ct.value} {contracts:g} × {contract_size:g} @ {mark:,.2f}", rows)


# --- basis --------------------------------------------------------------------------


@app.command("basis")
def basis_cmd(
    spot: float = typer.Option(..., "--spot", help="Spot (index) price, USD."),
    futures: float = typer.Option(..., "--futures", help="Futures price, USD."),
    expiry: str | None = typer.Option(None, "--expiry", help="Expiry date YYYY-MM-DD."),
    as_of: str | None = typer.Option(None, "--as-of", help="Valuation date (default: today UTC)."),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Basis F/S − 1 and, with --expiry, annualised (F/S − 1)·365/days."""
    from datetime import UTC, datetime

    from althedge.core.basis import annualised_basis, basis, days_to_expiry

    b = float(basis(spot, futures))
    out: dict[str, Any] = {
        "spot": spot,
        "futures": futures,
        "basis_pct": b * 100.0,
        "structure": "contango" if b > 0 else ("backwardation" if b < 0 else "flat"),
        "short_futures": "earns the convergence" if b > 0 else (
            "pays the convergence" if b < 0 else "neither earns nor pays"),
    }
    exp = parse_date(expiry, "--expiry")
    if exp is not None:
        ref = parse_date(as_of, "--as-of") or datetime.now(UTC).date()
        days = days_to_expiry(exp, ref)
        if days <= 0:
            raise InputError(
                f"expiry: {exp.isoformat()} is not after {ref.isoformat()}; pass a future date"
            )
        out["expiry"] = exp.isoformat()
        out["as_of"] = ref.isoformat()
        out["days_to_expiry"] = days
        out["annualised_basis_pct"] = float(annualised_basis(spot, futures, days)) * 100.0
    elif as_of is not None:
        raise InputError("as-of: only meaningful with --expiry; add --expiry YYYY-MM-DD")
    if json_out:
        emit_json(out)
        return
    rows = [("basis", f"{_fmt(b * 100, '+.4f')} %"), ("structure", out["structure"])]
    if "annualised_basis_pct" in out:
        rows.append(("days to expiry", f"{out['days_to_expiry']:g}"))
        rows.append(("annualised", f"{_fmt(out['annualised_basis_pct'], '+.2f')} %"))
    rows.append(("a short future", out["short_futures"]))
    _print_kv(f"Basis · spot {spot:,.2f} futures {futures:,.2f}", rows)
