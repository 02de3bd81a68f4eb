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

This is the one implementation of these formulas. :func:`hedge_notional_usd`,
:func:`contracts_exact` and :func:`round_contracts` take floats (and return floats) or
numpy arrays that broadcast (and return arrays equal to the float path element by
element, bit for bit, including the decimal-clean multiples); the backtest simulator
(:mod:`althedge.core.simulate`) sizes every column and bar through them.

Worked example of the seed article: V = 50,000 USD, β = 1.8, BTC at 65,000 USD, a linear
contract of 1 BTC → H = 90,000 USD, Q = 1.3846… ("1.38"); rounding down → 1, up → 2.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, overload

from althedge.core.instruments import ContractType, parse_contract_type
from althedge.core.numeric import is_number, np
from althedge.errors import InputError

if TYPE_CHECKING:
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]
    Num = float | FloatArray

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


def _is_array(*values: Any) -> bool:
    """True when any argument is an array (ndarray, pandas object, list, ...)."""
    return any(
        not is_number(v) and (isinstance(v, np.ndarray) or np.ndim(v) > 0) for v in values
    )


def _checked(name: str, value: Num, fix: str, *, zero_ok: bool) -> Num:
    """Validate a float (as the scalar helpers) or every element of an array.

    Arrays are checked with two reductions (min > or ≥ 0, max < ∞; a NaN fails both);
    the message names the first offending element.
    """
    if is_number(value):
        return (_non_negative if zero_ok else _positive)(name, value, fix)  # type: ignore[arg-type]
    if type(value) is np.ndarray and value.dtype == np.float64:
        arr: FloatArray = value
    elif not _is_array(value):
        return (_non_negative if zero_ok else _positive)(name, value, fix)  # type: ignore[arg-type]
    else:
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError(f"{name}: must be numbers, got {type(value).__name__}") from None
    if arr.size == 0:
        return arr
    lo = float(np.minimum.reduce(arr, axis=None))
    if (lo >= 0.0 if zero_ok else lo > 0.0) and float(np.maximum.reduce(arr, axis=None)) < math.inf:
        return arr
    flat = arr.ravel()
    ok = np.isfinite(flat) & ((flat >= 0.0) if zero_ok else (flat > 0.0))
    i = int(np.argmin(ok))
    bad = float(flat[i])
    where = f" (element {i} of {flat.size})"
    if not math.isfinite(bad):
        raise InputError(f"{name}: must be a finite number, got {bad!r}{where}")
    need = "≥ 0" if zero_ok else "> 0"
    raise InputError(f"{name}: must be {need}, got {bad!r}{where}; {fix}")


def _as_array(value: Any) -> FloatArray:
    out: FloatArray = np.asarray(value, dtype=np.float64)
    return out


@overload
def hedge_notional_usd(value_usd: float, beta: float) -> float: ...
@overload
def hedge_notional_usd(value_usd: FloatArray, beta: Num) -> FloatArray: ...
@overload
def hedge_notional_usd(value_usd: Num, beta: Num) -> Num: ...
def hedge_notional_usd(value_usd: Num, beta: Num) -> Num:
    """Hedge notional ``H = V·β`` in USD (floats, or numpy arrays that broadcast).

    ``value_usd`` ≥ 0 is the portfolio value in USD; ``beta`` ≥ 0 its beta to the hedge
    asset. A negative beta is refused: the portfolio would then move against the hedge
    asset and a short would add risk instead of removing it.
    """
    v = _checked("value_usd", value_usd, "pass the portfolio value in USD", zero_ok=True)
    b = _checked(
        "beta",
        beta,
        "a negative beta means shorting the hedge asset adds risk; do not hedge",
        zero_ok=True,
    )
    if _is_array(value_usd, beta):
        return _as_array(v * b)
    return v * b


@overload
def contracts_exact(
    contract_type: ContractType | str,
    notional_usd: float,
    price_usd: float,
    contract_size: float,
    collateral_coin: float = 0.0,
) -> float: ...
@overload
def contracts_exact(
    contract_type: ContractType | str,
    notional_usd: FloatArray,
    price_usd: Num,
    contract_size: Num,
    collateral_coin: Num = 0.0,
    *,
    validate: bool = True,
) -> FloatArray: ...
@overload
def contracts_exact(
    contract_type: ContractType | str,
    notional_usd: Num,
    price_usd: Num,
    contract_size: Num,
    collateral_coin: Num = 0.0,
    *,
    validate: bool = True,
) -> Num: ...
def contracts_exact(
    contract_type: ContractType | str,
    notional_usd: Num,
    price_usd: Num,
    contract_size: Num,
    collateral_coin: Num = 0.0,
    *,
    validate: bool = True,
) -> Num:
    """Exact (fractional) number of contracts to short for a hedge notional.

    * linear: ``Q = H / (P·CS)``, CS in coin per contract;
    * inverse: ``Q = (H + C·P) / CS``, CS in USD per contract, C the coin collateral
      (0 for USD-value collateral).

    Floats give a float; numpy arrays (any argument) broadcast and give an array, element
    by element the same IEEE operations as the float path (bit-for-bit equal). Every
    element is validated unless ``validate=False`` (arrays only: for a caller that has
    already checked them, e.g. the simulator's per-bar loop). ``collateral_coin`` is
    refused for linear contracts (their margin is in USD(T)).
    """
    ctype = parse_contract_type(contract_type)
    if _is_array(notional_usd, price_usd, contract_size, collateral_coin):
        return _contracts_exact_array(
            ctype, notional_usd, price_usd, contract_size, collateral_coin, validate
        )
    h = _non_negative("notional_usd", notional_usd, _FIX_H)  # type: ignore[arg-type]
    p = _positive("price_usd", price_usd, _FIX_P)  # type: ignore[arg-type]
    cs = _positive("contract_size", contract_size, _FIX_CS)  # type: ignore[arg-type]
    c = _non_negative("collateral_coin", collateral_coin, _FIX_C)  # type: ignore[arg-type]
    if ctype is ContractType.LINEAR:
        if c != 0.0:
            raise InputError(_LINEAR_COLLATERAL)
        return h / (p * cs)
    return (h + c * p) / cs


_FIX_H = "pass a hedge notional in USD"
_FIX_P = "pass the hedge asset's price in USD"
_FIX_CS = "pass the exchange's contract size"
_FIX_C = "pass the coin collateral amount"
_LINEAR_COLLATERAL = (
    "collateral: coin collateral applies to inverse contracts only; "
    "drop --collateral or use --contract inverse"
)


def _contracts_exact_array(
    ctype: ContractType, notional_usd: Num, price_usd: Num, contract_size: Num,
    collateral_coin: Num, validate: bool,
) -> FloatArray:
    """:func:`contracts_exact` with array arguments: the same operations, element-wise."""
    if validate:
        h = _checked("notional_usd", notional_usd, _FIX_H, zero_ok=True)
        p = _checked("price_usd", price_usd, _FIX_P, zero_ok=False)
        cs = _checked("contract_size", contract_size, _FIX_CS, zero_ok=False)
        c = _checked("collateral_coin", collateral_coin, _FIX_C, zero_ok=True)
    else:
        h, p, cs, c = notional_usd, price_usd, contract_size, collateral_coin
    if ctype is ContractType.LINEAR:
        if (c != 0.0) if type(c) is float else bool(np.any(c != 0.0)):
            raise InputError(_LINEAR_COLLATERAL)
        out = h / (p * cs)
    else:
        out = (h + c * p) / cs
    return out if type(out) is np.ndarray else _as_array(out)  # 0-d in, 0-d array out


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


# --- array forms of _steps/_multiple/_round_to_step: same operations, element-wise ------

_EXACT_INT = float(2**53)  # integers below this are exact in binary64
_POW10 = [float(10**k) for k in range(23)]  # 10^0 … 10^22, all exact in binary64


@functools.lru_cache(maxsize=1024)
def _step_digits(lot_step: float) -> tuple[float, int] | None:
    """``Decimal(repr(lot_step)) = m·10^e`` as (m, e) with m and 10^|e| exact in binary64
    (trailing zeros folded into e: 1.0 → (1, 0), 0.10 → (1, −1)), else None."""
    d = Decimal(repr(lot_step)).normalize()
    sign, digits, exp = d.as_tuple()
    if sign or not isinstance(exp, int):
        return None
    m = int("".join(map(str, digits)))
    if m >= _EXACT_INT or not -22 <= exp <= 22:
        return None
    return float(m), exp


def _multiple_one_step(k: FloatArray, lot_step: float) -> FloatArray:
    """Element-wise :func:`_multiple` for one step value, bit-for-bit.

    ``_multiple`` is ``float(Decimal(k)·Decimal(repr(step)))`` = the exact value
    ``k·m·10^e`` correctly rounded to binary64. When ``k·m`` < 2^53 it is an exact float,
    and 10^|e| (|e| ≤ 22) is exact too, so ONE IEEE multiplication or division by 10^|e|
    is that same correctly rounded value (a step of 1 is the identity for every k).
    Other elements (astronomical counts, steps of 17 significant digits) go through
    ``_multiple`` itself. ``k`` holds non-negative whole numbers.
    """
    parts = _step_digits(lot_step)
    if parts is not None:
        m, e = parts
        if m == 1.0 and e == 0:
            return k
        prod = k * m if m != 1.0 else k
        out: FloatArray = prod * _POW10[e] if e >= 0 else prod / _POW10[-e]
        if prod.size == 0 or float(np.maximum.reduce(prod, axis=None)) < _EXACT_INT:
            return out
        slow = ~(prod < _EXACT_INT)
    else:
        out = np.empty_like(k)
        slow = np.ones(k.shape, dtype=bool)
    out[slow] = [_multiple(int(v), lot_step) for v in k[slow]]
    return out


def _multiple_array(k: FloatArray, lot_step: FloatArray | float) -> FloatArray:
    """Element-wise :func:`_multiple` (``lot_step`` a float or an array broadcasting with k)."""
    if type(lot_step) is float:
        return _multiple_one_step(k, lot_step)
    if np.ndim(lot_step) == 0:
        return _multiple_one_step(k, float(lot_step))
    kb, sb = np.broadcast_arrays(k, lot_step)
    out = np.empty(kb.shape)
    for s in np.unique(sb):
        mask = sb == s
        out[mask] = _multiple_one_step(kb[mask], float(s))
    return out


def _round_to_step_array(
    exact: FloatArray, rounding: Rounding, lot_step: FloatArray | float
) -> FloatArray:
    """Element-wise :func:`_round_to_step`: the same operations in the same order, on
    ``exact`` ≥ 0 (so ``|q| = q``, also for −0.0 where both sides compare equal)."""
    q = exact / lot_step
    n = np.rint(q)  # half to even, as Python's round()
    on_step = np.abs(q - n) <= _STEP_RTOL * q
    if rounding is Rounding.DOWN:
        k = np.where(on_step, n, np.floor(q))
    elif rounding is Rounding.UP:
        k = np.where(on_step, n, np.ceil(q))
    else:
        k = np.where(on_step, n, np.floor(q + 0.5 + _STEP_RTOL * q))
    return _multiple_array(k, lot_step)


@overload
def round_contracts(
    exact: float,
    rounding: Rounding | str,
    lot_step: float = 1.0,
    min_contracts: float = 0.0,
    *,
    validate: bool = True,
) -> float: ...
@overload
def round_contracts(
    exact: FloatArray,
    rounding: Rounding | str,
    lot_step: Num = 1.0,
    min_contracts: Num = 0.0,
    *,
    validate: bool = True,
) -> FloatArray: ...
@overload
def round_contracts(
    exact: Num,
    rounding: Rounding | str,
    lot_step: Num = 1.0,
    min_contracts: Num = 0.0,
    *,
    validate: bool = True,
) -> Num: ...
def round_contracts(
    exact: Num,
    rounding: Rounding | str,
    lot_step: Num = 1.0,
    min_contracts: Num = 0.0,
    *,
    validate: bool = True,
) -> Num:
    """Round an exact contract count to an orderable quantity.

    * ``down``: the largest multiple of ``lot_step`` ≤ exact; if that is below
      ``min_contracts`` the result is 0 (no position; :func:`size_hedge` reports it);
    * ``up``: the smallest multiple ≥ exact, at least ``min_contracts`` (0 stays 0);
    * ``nearest``: the nearest multiple (half up); below the minimum, whichever of 0 and
      the minimum is nearer to ``exact`` (ties go to the minimum);
    * ``none``: ``exact`` unchanged (fractional; lot step and minimum ignored).

    A count within a relative 1e-9 of a multiple of the step counts as on it, so
    0.3 contracts with step 0.1 is 0.3 in every policy (not 0.2 rounding down), and a
    half step within that noise counts as half (0.35/0.1 → 0.4 nearest).
    The minimum is itself rounded up to a multiple of the lot step. Results are
    multiples computed in decimal (3 × 0.1 → 0.3, not 0.30000000000000004).

    Floats give a float; numpy arrays (any argument) broadcast and give an array equal
    element by element, bit for bit, to the float path (tested with hypothesis).
    ``validate=False`` skips the per-element check of an ``exact`` array (for a caller
    that has already checked it); the step and minimum are always checked.
    """
    mode = parse_rounding(rounding)
    fix_x = "pass a non-negative contract count"
    if _is_array(exact, lot_step, min_contracts):
        return _round_contracts_array(exact, mode, lot_step, min_contracts, validate)
    x = _non_negative("contracts_exact", exact, fix_x)  # type: ignore[arg-type]
    if mode is Rounding.NONE:
        return x
    step = _positive("lot_step", lot_step, _FIX_STEP)  # type: ignore[arg-type]
    minimum = _non_negative("min_contracts", min_contracts, _FIX_MIN)  # type: ignore[arg-type]
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


_FIX_STEP = "pass the exchange's quantity step, e.g. 1 or 0.001"
_FIX_MIN = "pass the exchange's minimum quantity"


@functools.lru_cache(maxsize=256)
def _step_rules(lot_step: float, min_contracts: float) -> tuple[float, float]:
    """Validated scalar ``lot_step`` and the minimum rounded up to it (0 without one)."""
    step = _positive("lot_step", lot_step, _FIX_STEP)
    minimum = _non_negative("min_contracts", min_contracts, _FIX_MIN)
    return step, (_round_to_step(minimum, Rounding.UP, step) if minimum > 0 else 0.0)


def _round_contracts_array(
    exact: Num, mode: Rounding, lot_step: Num, min_contracts: Num, validate: bool = True
) -> FloatArray:
    """:func:`round_contracts` on arrays: the same rules, element-wise, no Python loop."""
    if validate or type(exact) is not np.ndarray:
        exact = _checked("contracts_exact", exact, "pass a non-negative contract count",
                         zero_ok=True)
    x = _as_array(exact)
    if mode is Rounding.NONE:  # unchanged (a copy), broadcast like the other modes
        shape = np.broadcast_shapes(x.shape, np.shape(lot_step), np.shape(min_contracts))
        return np.broadcast_to(x, shape).copy()
    step: Num
    min_q: Num
    if type(lot_step) is float and type(min_contracts) is float:
        step, min_q = _step_rules(lot_step, min_contracts)
    elif np.ndim(lot_step) == 0 and np.ndim(min_contracts) == 0:
        step, min_q = _step_rules(float(lot_step), float(min_contracts))
    else:
        step = _checked("lot_step", lot_step, _FIX_STEP, zero_ok=False)
        mb = _as_array(_checked("min_contracts", min_contracts, _FIX_MIN, zero_ok=True))
        min_q = np.where(mb > 0, _round_to_step_array(mb, Rounding.UP, step), 0.0)
    out = _round_to_step_array(x, mode, step)
    if type(min_q) is float and min_q == 0.0:
        below = out == 0.0
    else:
        # math.isclose(out, min_q, rel_tol): equal, or |Δ| ≤ rel_tol·max(|out|, |min_q|)
        close = (out == min_q) | (
            np.abs(out - min_q) <= _STEP_RTOL * np.maximum(np.abs(out), np.abs(min_q))
        )
        below = (out == 0.0) | ((min_q > 0) & (out < min_q) & ~close)
    zero = x == 0.0
    if mode is Rounding.DOWN:
        res: FloatArray = np.where(zero | below, 0.0, out)
        return res
    if mode is Rounding.UP:
        low = np.maximum(min_q, out)
    else:  # nearest: the nearer of 0 and the smallest orderable size
        smallest = np.maximum(min_q, step)
        low = np.where(x >= smallest / 2, smallest, 0.0)
    res = np.where(zero, 0.0, np.where(below, low, out))
    return res


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
