"""`althedge calc hedge`: the seed article's hedge-size calculator, directly.

H = V·β; linear Q = H/(P·CS); inverse Q = (H + C·P)/CS (C = coin collateral); then
rounding to the lot step and minimum. Every number comes from
:func:`althedge.core.sizing.size_hedge`; this module parses flags and prints.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import typer

from althedge.cli.common import console, emit_json, err_console
from althedge.core.instruments import ContractType
from althedge.core.sizing import Rounding
from althedge.errors import InputError
from althedge.files import format_number

if TYPE_CHECKING:
    from althedge.core.sizing import HedgeSize


def _decimals(step: float) -> int:
    """Decimals needed to show multiples of ``step`` (at least 2)."""
    text = f"{step:.10f}".rstrip("0")
    return max(2, len(text.split(".")[1]) if "." in text else 0)


def _payload(size: HedgeSize, value_usd: float, beta: float, price_usd: float,
             contract_size: float, collateral_coin: float) -> dict[str, object]:
    return {
        "notional_usd": size.notional_usd,
        "contracts_exact": size.contracts_exact,
        "contracts": size.contracts,
        "residual_usd": size.residual_usd,
        "hedge_ratio_achieved": size.hedge_ratio_achieved,
        "hedged_notional_usd": size.hedged_notional_usd,
        "below_minimum": size.below_minimum,
        "rounding": size.rounding.value,
        "contract_type": size.contract_type.value,
        "contract_size": contract_size,
        "lot_step": size.lot_step,
        "min_contracts": size.min_contracts,
        "value_usd": value_usd,
        "beta": beta,
        "price_usd": price_usd,
        "collateral_coin": collateral_coin,
    }


#: core field names → the flags a user typed (messages name what the user can change)
_FLAGS = {"value_usd": "--value", "beta": "--beta", "price_usd": "--price",
          "contract_size": "--contract-size", "collateral_coin": "--collateral",
          "lot_step": "--lot-step", "min_contracts": "--min-contracts"}


def hedge(
    value: float = typer.Option(..., "--value", help="Portfolio value V in USD (> 0)."),
    beta: float = typer.Option(..., "--beta", help="Portfolio beta β to the hedge asset (≥ 0)."),
    price: float = typer.Option(..., "--price", help="Hedge asset price P in USD (> 0)."),
    contract_size: float = typer.Option(
        ...,
        "--contract-size",
        help="Contract size CS (> 0): coin per contract (linear) or USD per contract (inverse).",
    ),
    contract: ContractType = typer.Option(
        ContractType.LINEAR, "--contract", help="Contract type: linear or inverse."
    ),
    collateral: float = typer.Option(
        0.0,
        "--collateral",
        help="Coin collateral C of an inverse position (its delta is hedged too).",
    ),
    rounding: Rounding = typer.Option(
        Rounding.DOWN, "--rounding", help="down, up, nearest, or none (fractional)."
    ),
    lot_step: float = typer.Option(1.0, "--lot-step", help="Exchange quantity step, contracts."),
    min_contracts: float = typer.Option(
        0.0, "--min-contracts", help="Exchange minimum quantity, contracts."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print exactly one JSON object on stdout."),
) -> None:
    """Contracts to short for a portfolio worth --value USD with beta --beta (H = V·β)."""
    try:
        return _hedge(value, beta, price, contract_size, contract.value, collateral,
                      rounding.value, lot_step, min_contracts, as_json)
    except InputError as err:
        field, sep, rest = str(err).partition(":")
        if sep and field in _FLAGS:
            raise InputError(f"{_FLAGS[field]}:{rest}") from None
        raise


def _hedge(
    value: float,
    beta: float,
    price: float,
    contract_size: float,
    contract: str,
    collateral: float,
    rounding: str,
    lot_step: float,
    min_contracts: float,
    as_json: bool,
) -> None:
    from rich.table import Table

    from althedge.core.instruments import parse_contract_type
    from althedge.core.sizing import parse_rounding, size_hedge

    size = size_hedge(
        value,
        beta,
        price,
        parse_contract_type(contract),
        contract_size,
        collateral_coin=collateral,
        rounding=parse_rounding(rounding),
        lot_step=lot_step,
        min_contracts=min_contracts,
    )
    if as_json:
        emit_json(_payload(size, value, beta, price, contract_size, collateral))
        return
    dec = _decimals(lot_step)
    cs_unit = "coin" if size.contract_type is ContractType.LINEAR else "USD"
    table = Table(title="Hedge size (H = V·β)", show_header=True, header_style="bold")
    table.add_column("item")
    table.add_column("value", justify="right")
    table.add_row("portfolio value V", f"{value:,.2f} USD")
    table.add_row("beta β", f"{beta:.4g}")
    table.add_row("hedge notional H", f"{format_number(size.notional_usd, ',.2f')} USD")
    table.add_row(
        "contract", f"{size.contract_type.value}, {contract_size:g} {cs_unit} per contract"
    )
    if collateral:
        table.add_row("coin collateral C", f"{collateral:g} (C·P = {collateral * price:,.2f} USD)")
    table.add_row("contracts (exact)", format_number(size.contracts_exact, f",.{dec}f"))
    rounded = format_number(size.contracts, f",.{dec}f")
    table.add_row(f"contracts ({size.rounding.value})", f"[bold]{rounded}[/]")
    table.add_row("hedged notional", f"{format_number(size.hedged_notional_usd, ',.2f')} USD")
    table.add_row("residual unhedged", f"{format_number(size.residual_usd, ',.2f')} USD")
    ratio = size.hedge_ratio_achieved
    table.add_row("hedge ratio achieved", "n/a" if math.isnan(ratio) else f"{ratio:.1%}")
    console.print(table)
    if size.below_minimum:
        err_console.print(
            f"[yellow]warning:[/] {size.contracts_exact:.6g} contracts is below the minimum "
            f"order ({max(min_contracts, lot_step):g}); nothing is hedged. Use --rounding up "
            "or a smaller contract."
        )
    elif not math.isnan(ratio) and abs(ratio - 1.0) > 0.1:
        err_console.print(
            f"[yellow]warning:[/] whole contracts hedge {ratio:.0%} of the target; "
            f"{abs(size.residual_usd):,.0f} USD is left "
            f"{'unhedged' if size.residual_usd > 0 else 'over-hedged'}."
        )
