"""Hedge ratio and contract count: how many contracts to short for a beta-sized hedge.

Formulas (``docs/domain.md``, "Hedge sizing"; seed article steps 2–3):

* hedge notional ``H = V·β`` (USD), V the portfolio value in USD, β its beta to the
  hedge asset;
* linear contract (``contract_size`` CS in coin per contract): ``Q = H / (P·CS)``;
* inverse contract (CS in USD per contract) with USD-value collateral: ``Q = H / CS``;
* inverse contract with coin collateral C (in the hedge coin): the collateral is itself
  long the coin (+C·P USD of delta), so the short covers it too: ``Q = (H + C·P) / CS``.

Whole contracts: :func:`round_contracts` rounds down / up / to the nearest multiple of
the exchange's lot step and honours its minimum quantity; :func:`size_hedge` reports the
residual unhedged USD and the achieved hedge ratio.

Worked example of the seed article: V = 50,000 USD, β = 1.8, BTC at 65,000 USD, a linear
contract of 1 BTC → H = 90,000 USD, Q = 1.3846… ("1.38"); rounding down → 1, up → 2.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from althedge.core.instruments import ContractType, parse_contract_type
from althedge.errors import InputError

__all__ = [
    "HedgeSize",
    "Rounding",
    "contracts_exact",
    "hedge_notional_usd",
    "parse_rounding",
    "round_contracts",
    "size_hedge",
]

# Relative tolerance used to decide that a float quotient is "exactly on a step":
# 0.3/0.1 = 2.9999999999999996 in binary floating point, and must count as 3 steps.
_STEP_RTOL = 1e-9


class Rounding(StrEnum):
    """How a fractional contract count becomes an orderable quantity.

    ``down`` never over-hedges, ``up`` never under-hedges, ``nearest`` rounds half up,
    ``none`` keeps the exact fraction (for analysis; ignores lot step and minimum).
    """

    DOWN = "down"
    UP = "up"
    NEAREST = "nearest"
    NONE = "none"


def parse_rounding(value: Rounding | str) -> Rounding:
    """Accept :class:`Rounding` or its name (any case)."""
    if isinstance(value, Rounding):
        return value
    try:
        return Rounding(str(value).strip().lower())
    except ValueError:
        raise InputError(
            f"rounding: must be one of down, up, nearest, none; got {value!r}"
        ) from None


def _finite(name: str, value: float) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name}: must be a number, got {value!r}") from None
    if not math.isfinite(out):
        raise InputError(f"{name}: must be a finite number, got {value!r}")
    return out


def _non_negative(name: str, value: float, fix: str) -> float:
    out = _finite(name, value)
    if out < 0:
        raise InputError(f"{name}: must be ≥ 0, got {value!r}; {fix}")
    return out


def _positive(name: str, value: float, fix: str) -> float:
    out = _finite(name, value)
    if out <= 0:
        raise InputError(f"{name}: must be > 0, got {value!r}; {fix}")
    return out


def hedge_notional_usd(value_usd: float, beta: float) -> float:
    """Hedge notional ``H = V·β`` in USD.

    ``value_usd`` ≥ 0 is the portfolio value in USD; ``beta`` ≥ 0 its beta to the hedge
    asset. A negative beta is refused: the portfolio would then move against the hedge
    asset and a short would add risk instead of removing it.
    """
    v = _non_negative("value_usd", value_usd, "pass the portfolio value in USD")
    b = _non_negative(
        "beta", beta, "a negative beta means shorting the hedge asset adds risk; do not hedge"
    )
    return v * b


def contracts_exact(
    contract_type: ContractType | str,
    notional_usd: float,
    price_usd: float,
    contract_size: float,
    collateral_coin: float = 0.0,
) -> float:
    """Exact (fractional) number of contracts to short for a hedge notional.

    * linear: ``Q = H / (P·CS)``, CS in coin per contract;
    * inverse: ``Q = (H + C·P) / CS``, CS in USD per contract, C the coin collateral
      (0 for USD-value collateral).

    ``collateral_coin`` is refused for linear contracts (their margin is in USD(T)).
    """
    ctype = parse_contract_type(contract_type)
    h = _non_negative("notional_usd", notional_usd, "pass a hedge notional in USD")
    p = _positive("price_usd", price_usd, "pass the hedge asset's price in USD")
    cs = _positive("contract_size", contract_size, "pass the exchange's contract size")
    c = _non_negative("collateral_coin", collateral_coin, "pass the coin collateral amount")
    if ctype is ContractType.LINEAR:
        if c != 0.0:
            raise InputError(
                "collateral: coin collateral applies to inverse contracts only; "
                "drop --collateral or use --contract inverse"
            )
        return h / (p * cs)
    return (h + c * p) / cs


def _steps(exact: float, lot_step: float) -> tuple[float, int, bool]:
    """``exact / lot_step`` as a float, the nearest integer, and whether it is on a step."""
    q = exact / lot_step
    n = round(q)
    on_step = abs(q - n) <= _STEP_RTOL * abs(q)
    return q, int(n), on_step


def _multiple(n: int, lot_step: float) -> float:
    """``n·lot_step`` without binary noise (3 × 0.1 → 0.3, not 0.30000000000000004)."""
    return float(Decimal(n) * Decimal(repr(lot_step)))


def _round_to_step(exact: float, rounding: Rounding, lot_step: float) -> float:
    q, n, on_step = _steps(exact, lot_step)
    if not on_step:
        if rounding is Rounding.DOWN:
            n = math.floor(q)
        elif rounding is Rounding.UP:
            n = math.ceil(q)
        else:  # nearest, half up (a half step within rounding noise counts as half)
            n = math.floor(q + 0.5 + _STEP_RTOL * abs(q))
    return _multiple(n, lot_step)


def round_contracts(
    exact: float,
    rounding: Rounding | str,
    lot_step: float = 1.0,
    min_contracts: float = 0.0,
) -> float:
    """Round an exact contract count to an orderable quantity.

    * ``down``: the largest multiple of ``lot_step`` ≤ exact; if that is below
      ``min_contracts`` the result is 0 (no position; :func:`size_hedge` reports it);
    * ``up``: the smallest multiple ≥ exact, at least ``min_contracts`` (0 stays 0);
    * ``nearest``: the nearest multiple (half up); below the minimum, whichever of 0 and
      the minimum is nearer to ``exact`` (ties go to the minimum);
    * ``none``: ``exact`` unchanged (fractional; lot step and minimum ignored).

    A count within a relative 1e-9 of a multiple of the step counts as on it, so
    0.3 contracts with step 0.1 is 0.3 in every policy (not 0.2 rounding down).
    The minimum is itself rounded up to a multiple of the lot step.
    """
    mode = parse_rounding(rounding)
    x = _non_negative("contracts_exact", exact, "pass a non-negative contract count")
    if mode is Rounding.NONE:
        return x
    step = _positive("lot_step", lot_step, "pass the exchange's quantity step, e.g. 1 or 0.001")
    minimum = _non_negative("min_contracts", min_contracts, "pass the exchange's minimum quantity")
    if x == 0.0:
        return 0.0
    min_q = _round_to_step(minimum, Rounding.UP, step) if minimum > 0 else 0.0
    out = _round_to_step(x, mode, step)
    below = min_q > 0 and out < min_q and not math.isclose(out, min_q, rel_tol=_STEP_RTOL)
    if out == 0.0 or below:
        if mode is Rounding.DOWN:
            return 0.0
        if mode is Rounding.UP:
            return max(min_q, out)
        # nearest: choose between 0 and the smallest orderable size
        smallest = max(min_q, step)
        return smallest if x >= smallest / 2 else 0.0
    return out


@dataclass(frozen=True)
class HedgeSize:
    """A sized hedge.

    * ``notional_usd``: target hedge notional H = V·β (USD);
    * ``contracts_exact``: the fractional count; ``contracts``: after rounding;
    * ``hedged_notional_usd``: USD delta the rounded short removes — ``Q·CS·P`` linear,
      ``Q·CS − C·P`` inverse with coin collateral C;
    * ``residual_usd``: H − hedged notional (positive = under-hedged, negative = over);
    * ``hedge_ratio_achieved``: hedged notional / H (for linear ``contracts /
      contracts_exact``); NaN when H = 0;
    * ``below_minimum``: the exact size was positive but rounded to 0 because it is
      under the exchange's minimum quantity (or under one lot) — tell the user.
    """

    notional_usd: float
    contracts_exact: float
    contracts: float
    residual_usd: float
    hedge_ratio_achieved: float
    rounding: Rounding
    contract_type: ContractType = ContractType.LINEAR
    hedged_notional_usd: float = math.nan
    lot_step: float = 1.0
    min_contracts: float = 0.0
    below_minimum: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (enums as strings) for JSON output."""
        out = asdict(self)
        out["rounding"] = self.rounding.value
        out["contract_type"] = self.contract_type.value
        return out


def size_hedge(
    value_usd: float,
    beta: float,
    price_usd: float,
    contract_type: ContractType | str,
    contract_size: float,
    *,
    collateral_coin: float = 0.0,
    rounding: Rounding | str = "down",
    lot_step: float = 1.0,
    min_contracts: float = 0.0,
) -> HedgeSize:
    """Size the short for a portfolio worth ``value_usd`` with beta ``beta``.

    ``price_usd`` is the hedge asset's price (USD), ``contract_size`` the exchange's
    contract size (coin per contract linear, USD per contract inverse),
    ``collateral_coin`` the coin collateral of an inverse position (its own delta is
    hedged too). See the module docstring for the formulas.
    """
    ctype = parse_contract_type(contract_type)
    mode = parse_rounding(rounding)
    h = hedge_notional_usd(value_usd, beta)
    exact = contracts_exact(ctype, h, price_usd, contract_size, collateral_coin)
    q = round_contracts(exact, mode, lot_step, min_contracts)
    p = float(price_usd)
    cs = float(contract_size)
    c = float(collateral_coin)
    hedged = q * cs * p if ctype is ContractType.LINEAR else q * cs - c * p
    residual = h - hedged
    ratio = hedged / h if h > 0 else math.nan
    return HedgeSize(
        notional_usd=h,
        contracts_exact=exact,
        contracts=q,
        residual_usd=residual,
        hedge_ratio_achieved=ratio,
        rounding=mode,
        contract_type=ctype,
        hedged_notional_usd=hedged,
        lot_step=float(lot_step),
        min_contracts=float(min_contracts),
        below_minimum=exact > 0 and q == 0.0,
    )
