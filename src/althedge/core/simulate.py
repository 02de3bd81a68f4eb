"""Walk-forward simulation of a short futures hedge, on arrays (pure, no I/O).

One *leg* is one futures contract (e.g. BTCUSDT linear perpetual). A hedge policy
gives, for every bar ``t``, a target hedge notional ``H_t = β_t·V_t`` (USD, short),
decided at the close of bar ``t`` from data up to ``t`` only. The simulation then
walks forward bar by bar:

1. the position held over ``(t−1, t]`` is marked to market at the close of ``t``
   (core :func:`~althedge.core.pnl.linear_pnl_usd` /
   :func:`~althedge.core.pnl.inverse_pnl_coin` from ``P_{t−1}`` to ``P_t``; marking to
   market every bar telescopes to the PnL from the entry price), and funding for the
   bar is paid or received (core :func:`~althedge.core.funding.funding_payment`, with
   the rate per bar the caller passes);
2. with margin simulated (``leverage`` set), the isolated position is liquidated when
   its equity (wallet + unrealised PnL) is at or below the maintenance margin at
   ``P_t`` (core :func:`~althedge.core.margin.maintenance_margin`) — the very
   condition the exchanges' liquidation price solves for; the whole remaining margin
   is lost. A margin call is counted when the equity has fallen to ``top_up_level``
   (half) of the initial margin (core :func:`~althedge.core.margin.initial_margin`)
   or maintenance / equity ≥ ``margin_call_ratio`` (Binance warns at 80 %); with
   ``top_up`` the account is then topped up to the initial margin;
3. if bar ``t`` is a rebalancing bar, the position is moved to the target (core
   :func:`~althedge.core.sizing.contracts_exact` on arrays: ``Q = H/(P·CS)`` linear,
   ``Q = (H + C·P)/CS`` inverse with the coin balance C as collateral, whose own long
   delta is hedged too; rounded by :func:`~althedge.core.sizing.round_contracts`),
   unless the hedge is within ``threshold`` of its target or the trade is below
   ``min_trade_usd``. Fees and slippage are charged on the traded notional.

Everything is vectorised across columns: ``N`` independent portfolios (or policies)
are simulated at once against one hedge price path; the loop runs over time only.
When nothing is path dependent (linear contract, no margin, no threshold, no minimum
trade) the whole simulation is a closed form and runs without a Python loop.

Units: USD unless named ``_coin``; contracts are counts of the exchange's contract
(CS coin per contract linear, USD per contract inverse); prices USD.
Identity (tested): with zero costs, fractional contracts and every-bar rebalancing,
a linear hedge's return on the portfolio is ``r_p,t − β_{t−1}·r_h,t`` exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from althedge.core.funding import funding_payment
from althedge.core.instruments import ContractType, Side, parse_contract_type
from althedge.core.pnl import inverse_pnl_coin, linear_pnl_usd, position_value_usd
from althedge.core.sizing import Rounding, contracts_exact, parse_rounding, round_contracts
from althedge.errors import InputError

__all__ = [
    "LegResult",
    "LegSpec",
    "simulate_leg",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_SIZE_BLOCK = 4096  # rows sized at once (keeps sizing temporaries a few MB per column)


@dataclass(frozen=True)
class LegSpec:
    """Contract and trading rules of one hedge leg.

    * ``contract_size``: coin per contract (linear) / USD per contract (inverse);
    * ``rounding``/``lot_step``/``min_contracts``: as :func:`core.sizing.round_contracts`;
    * ``fee_rate``: fraction of traded notional (Binance USDⓈ-M taker 0.0005, maker 0.0002);
    * ``slippage_bps``: cost in basis points of traded notional;
    * ``min_trade_usd``: a rebalance whose trade is smaller than this is skipped;
    * ``threshold``: rebalance only when the hedged delta is off its target by more than
      this fraction of the target (the seed's "beta drift"); None = always on due bars;
    * ``leverage``: None = margin not simulated (no liquidation possible); otherwise the
      isolated leverage used to size the collateral (initial margin = notional / L);
    * ``collateral_usd``: initial deposit (USD; coin bought at the first trade for an
      inverse contract); default: the initial margin of the first position;
    * ``mmr``/``maint_amount``: maintenance-margin rate and amount (settlement currency);
    * ``margin_call_ratio``: maintenance margin / equity that raises a margin call (a call
      is also raised when the equity is down to ``top_up_level`` × initial margin);
    * ``top_up``: when the equity falls to ``top_up_level`` × the initial margin at the
      current price (default half of it), deposit enough to restore the initial margin.
    """

    contract_type: ContractType = ContractType.LINEAR
    contract_size: float = 1.0
    rounding: Rounding = Rounding.NONE
    lot_step: float = 1.0
    min_contracts: float = 0.0
    fee_rate: float = 0.0
    slippage_bps: float = 0.0
    min_trade_usd: float = 0.0
    threshold: float | None = None
    leverage: float | None = None
    collateral_usd: float | None = None
    mmr: float = 0.004
    maint_amount: float = 0.0
    margin_call_ratio: float = 0.8
    top_up: bool = False
    top_up_level: float = 0.5

    def __post_init__(self) -> None:
        object.__setattr__(self, "contract_type", parse_contract_type(self.contract_type))
        object.__setattr__(self, "rounding", parse_rounding(self.rounding))
        checks = {
            "contract_size": (self.contract_size, False),
            "lot_step": (self.lot_step, False),
            "min_contracts": (self.min_contracts, True),
            "fee_rate": (self.fee_rate, True),
            "slippage_bps": (self.slippage_bps, True),
            "min_trade_usd": (self.min_trade_usd, True),
            "mmr": (self.mmr, True),
        }
        for name, (value, zero_ok) in checks.items():
            if not math.isfinite(value) or value < 0 or (value == 0 and not zero_ok):
                need = "≥ 0" if zero_ok else "> 0"
                raise InputError(f"{name}: must be a finite number {need}, got {value!r}")
        if self.threshold is not None and not (0 <= self.threshold < 10):
            raise InputError(
                f"threshold: must be a fraction between 0 and 10, got {self.threshold!r}; "
                "e.g. --rebalance threshold:10 for 10 %"
            )
        if self.leverage is not None and not (math.isfinite(self.leverage) and self.leverage > 0):
            raise InputError(
                f"leverage: must be > 0, got {self.leverage!r}; pass --leverage 1 or more"
            )
        if (
            self.leverage is not None
            and self.contract_type is ContractType.INVERSE
            and self.leverage <= 1.0
        ):
            raise InputError(
                f"leverage: an inverse short with coin collateral needs leverage > 1 to hedge "
                f"anything (at 1x it is a synthetic dollar), got {self.leverage:g}; "
                "pass --leverage 2"
            )
        if not 0 < self.margin_call_ratio <= 1:
            raise InputError(
                f"margin_call_ratio: must be in (0, 1], got {self.margin_call_ratio!r}"
            )

    @property
    def margin(self) -> bool:
        """True when collateral, margin calls and liquidations are simulated."""
        return self.leverage is not None


@dataclass
class LegResult:
    """Per-bar results of one leg, arrays of shape (T, N).

    * ``contracts``: short contracts held over ``(t, t+1]`` (after the decision at ``t``);
    * ``hedge_pnl_usd``: mark-to-market PnL of the position over ``(t−1, t]`` plus, for an
      inverse contract, the revaluation of the coin balance held as collateral — before
      funding, fees and slippage;
    * ``funding_usd``: funding RECEIVED over the bar (negative = paid), USD;
    * ``fees_usd``, ``slippage_usd``: costs (≥ 0), USD;
    * ``liquidation_loss_usd``: margin forfeited at liquidation (≥ 0, included in
      ``net_pnl_usd``);
    * ``deposits_usd``: collateral added at ``t`` (initial margin, top-ups);
    * ``account_usd``: account value (wallet + unrealised) after the bar, USD;
    * ``traded_usd``: notional traded at ``t`` (USD);
    * ``rebalanced``/``margin_call``/``liquidated``: event flags at ``t``;
    * ``hedged_notional_usd``: USD delta removed by the short after ``t`` (``Q·CS·P``
      linear; ``Q·CS − C·S`` inverse with coin balance C).
    """

    contracts: FloatArray
    hedge_pnl_usd: FloatArray
    funding_usd: FloatArray
    fees_usd: FloatArray
    slippage_usd: FloatArray
    liquidation_loss_usd: FloatArray
    deposits_usd: FloatArray
    account_usd: FloatArray
    traded_usd: FloatArray
    hedged_notional_usd: FloatArray
    rebalanced: BoolArray
    margin_call: BoolArray
    liquidated: BoolArray
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def net_pnl_usd(self) -> FloatArray:
        """Everything the hedge added to the portfolio over each bar (USD)."""
        out: FloatArray = (
            self.hedge_pnl_usd
            + self.funding_usd
            - self.fees_usd
            - self.slippage_usd
            - self.liquidation_loss_usd
        )
        return out


def _sized_contracts(
    spec: LegSpec,
    target_usd: Any,
    price_usd: Any,
    collateral_coin: Any = 0.0,
    *,
    validate: bool = True,
) -> FloatArray:
    """Contracts for a target notional by the leg's rules: core
    :func:`~althedge.core.sizing.contracts_exact` then
    :func:`~althedge.core.sizing.round_contracts` (arrays broadcast), in blocks of rows
    so that a (T, N) target keeps the temporaries small. ``validate=False`` only where
    the inputs are known finite and ≥ 0 (the per-bar loop, on checked inputs)."""
    h = np.asarray(target_usd, dtype=float)
    if h.ndim < 2 or h.shape[0] <= _SIZE_BLOCK:
        exact: FloatArray = contracts_exact(
            spec.contract_type, h, price_usd, spec.contract_size, collateral_coin,
            validate=validate,
        )
        return round_contracts(
            exact, spec.rounding, spec.lot_step, spec.min_contracts, validate=validate
        )
    def rows(a: Any, lo: int, hi: int) -> Any:
        # slice row-aligned inputs; scalars and row-broadcast inputs pass whole
        arr = np.asarray(a)
        return arr[lo:hi] if arr.ndim == h.ndim and arr.shape[0] == h.shape[0] else a

    out = np.empty(h.shape)
    for lo in range(0, h.shape[0], _SIZE_BLOCK):
        hi = lo + _SIZE_BLOCK
        out[lo:hi] = _sized_contracts(
            spec, h[lo:hi], rows(price_usd, lo, hi), rows(collateral_coin, lo, hi)
        )
    return out


def _as_2d(a: Any, t: int, n: int, name: str) -> FloatArray:
    arr = np.asarray(a, dtype=float)
    if arr.ndim == 1:
        if arr.shape[0] != t:
            raise InputError(f"{name}: expected {t} rows, got {arr.shape[0]}")
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] != t or arr.shape[1] not in (1, n):
        raise InputError(f"{name}: expected shape ({t}, 1) or ({t}, {n}), got {arr.shape}")
    out: FloatArray = np.broadcast_to(arr, (t, n)).astype(float, copy=False)
    return out


def simulate_leg(
    spec: LegSpec,
    portfolio_value_usd: FloatArray,
    target_beta: FloatArray,
    price_usd: FloatArray,
    *,
    funding_rate: FloatArray | None = None,
    rebalance_due: BoolArray | None = None,
    entry_price_usd: FloatArray | None = None,
    spot_usd: FloatArray | None = None,
    force_loop: bool = False,
    mark_usd: FloatArray | None = None,
) -> LegResult:
    """Walk one hedge leg forward over ``T`` bars for ``N`` columns.

    Parameters (``(T,)`` arrays broadcast across columns, ``(T, N)`` arrays per column):

    * ``portfolio_value_usd`` (T, N): value V_t of the protected holdings at close ``t``;
    * ``target_beta`` (T, N): hedge ratio decided at ``t`` (NaN = no estimate yet → no
      hedge); target notional ``H_t = β_t·V_t`` (short, USD);
    * ``price_usd`` (T,): close of the contract held over ``(t−1, t]`` at ``t`` (the
      exit/mark price used for PnL);
    * ``entry_price_usd`` (T,): price at ``t`` of the contract held from ``t`` on
      (differs from ``price_usd`` only at a roll of a dated contract, where the
      position is closed and re-opened); default ``price_usd``;
    * ``spot_usd`` (T,): spot price valuing an inverse contract's coin balance;
      default ``price_usd``;
    * ``funding_rate`` (T,): funding rate applied at ``t`` to the position held over
      ``(t−1, t]`` (already scaled to the bar: rate per 8 h × bar hours / 8); positive
      = longs pay shorts, so the short receives;
    * ``rebalance_due`` (T,): bars on which the policy may trade (default: every bar);
    * ``mark_usd`` (T,): the exchange's mark price to test liquidation with on each bar —
      for a short, the highest mark over ``(t−1, t]`` (exchanges liquidate on the mark,
      not the last trade); the position is liquidated when the equity at that mark is at
      or below the maintenance margin at that mark (or at the close, as without it).
      Default: the close only. Only used when margin is simulated.
    """
    v = np.asarray(portfolio_value_usd, dtype=float)
    if v.ndim == 1:
        v = v[:, None]
    t_len, n = v.shape
    beta = _as_2d(target_beta, t_len, n, "target_beta")
    p_exit = np.asarray(price_usd, dtype=float)
    if p_exit.shape != (t_len,):
        raise InputError(f"price_usd: expected shape ({t_len},), got {p_exit.shape}")
    p_entry = p_exit if entry_price_usd is None else np.asarray(entry_price_usd, dtype=float)
    spot = p_exit if spot_usd is None else np.asarray(spot_usd, dtype=float)
    for name, arr in (("price_usd", p_exit), ("entry_price_usd", p_entry), ("spot_usd", spot)):
        if arr.shape != (t_len,) or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
            raise InputError(f"{name}: needs {t_len} finite prices > 0; fill or drop gaps first")
    if not np.all(np.isfinite(v)) or np.any(v < 0):
        raise InputError("portfolio_value_usd: needs finite values ≥ 0; fill or drop gaps first")
    rate = np.zeros(t_len) if funding_rate is None else np.asarray(funding_rate, dtype=float)
    if rate.shape != (t_len,) or not np.all(np.isfinite(rate)):
        raise InputError(f"funding_rate: needs {t_len} finite rates per bar")
    due = np.ones(t_len, dtype=bool) if rebalance_due is None else np.asarray(rebalance_due, bool)
    if due.shape != (t_len,):
        raise InputError(f"rebalance_due: expected shape ({t_len},), got {due.shape}")
    if np.any(np.asarray(beta)[np.isfinite(beta)] < 0):
        raise InputError("target_beta: negative hedge ratios are refused (shorting would add risk)")
    target_usd = np.where(np.isfinite(beta), beta, 0.0) * v
    closed_form = (
        spec.contract_type is ContractType.LINEAR
        and not spec.margin
        and spec.threshold is None
        and spec.min_trade_usd == 0.0
        and not force_loop
    )
    mark = None if mark_usd is None else np.asarray(mark_usd, dtype=float)
    if mark is not None and (mark.shape != (t_len,) or not np.all(np.isfinite(mark))
                             or np.any(mark <= 0)):
        raise InputError(f"mark_usd: needs {t_len} finite prices > 0; fill gaps with the close")
    if closed_form:
        return _closed_form(spec, target_usd, p_exit, p_entry, rate, due)
    return _walk(spec, target_usd, p_exit, p_entry, spot, rate, due, mark)


def _unit_series(
    spec: LegSpec, p_exit: FloatArray, p_entry: FloatArray, rate: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Core formulas for ONE short contract on every bar, vectorised over time.

    Every formula on the path is linear in the number of contracts, so both engines
    scale these by the contracts held: mark-to-market PnL over ``(t−1, t]`` from the
    previous entry price (USD linear, coin inverse; 0 at ``t = 0``), funding received at
    ``t`` (settlement currency; 0 at ``t = 0``) and the USD value of one contract at the
    entry price of ``t``.
    """
    ct = spec.contract_type
    cs = spec.contract_size
    p_prev = np.concatenate([p_entry[:1], p_entry[:-1]])
    if ct is ContractType.INVERSE:
        unit_pnl = np.asarray(inverse_pnl_coin(Side.SHORT, 1.0, cs, p_prev, p_exit))
    else:
        unit_pnl = np.asarray(linear_pnl_usd(Side.SHORT, 1.0, cs, p_prev, p_exit))
    unit_pnl[0] = 0.0
    unit_fund = np.asarray(funding_payment(ct, Side.SHORT, 1.0, cs, p_exit, rate))
    unit_fund[0] = 0.0
    unit_value = np.asarray(position_value_usd(ct, 1.0, cs, p_entry))
    return unit_pnl, unit_fund, unit_value


def _closed_form(
    spec: LegSpec,
    target_usd: FloatArray,
    p_exit: FloatArray,
    p_entry: FloatArray,
    rate: FloatArray,
    due: BoolArray,
) -> LegResult:
    """Linear leg without path dependence: contracts are a function of the target only."""
    t_len, n = target_usd.shape
    # size only on the bars where the policy may trade, then hold between them
    rows = np.flatnonzero(due)
    q_due = np.vstack([
        np.zeros((1, n)),
        _sized_contracts(spec, target_usd[rows], p_entry[rows, None]),
    ])
    # position k+1 of q_due holds the k-th decision; 0 before the first decision
    which = np.cumsum(due)
    q = q_due[which]
    q_prev = np.vstack([np.zeros((1, n)), q[:-1]])
    # one pass over (T, N) memory per series: per-contract values scaled by the count
    unit_pnl, unit_fund, unit_value = _unit_series(spec, p_exit, p_entry, rate)
    pnl = q_prev * unit_pnl[:, None]
    fund = q_prev * unit_fund[:, None]
    roll = (p_entry != p_exit)[:, None] & (q_prev > 0)
    traded_q = np.abs(q - q_prev)
    if roll.any():
        traded_q = np.where(roll, q_prev + q, traded_q)
    traded_usd = traded_q * unit_value[:, None]
    fees = traded_usd * spec.fee_rate
    slip = traded_usd * (spec.slippage_bps / 1e4)
    net = pnl + fund - fees - slip
    return LegResult(
        contracts=q,
        hedge_pnl_usd=pnl,
        funding_usd=fund,
        fees_usd=fees,
        slippage_usd=slip,
        liquidation_loss_usd=np.zeros((t_len, n)),
        deposits_usd=np.zeros((t_len, n)),
        account_usd=np.cumsum(net, axis=0),
        traded_usd=traded_usd,
        hedged_notional_usd=q * unit_value[:, None],
        rebalanced=traded_q > 0,
        margin_call=np.zeros((t_len, n), dtype=bool),
        liquidated=np.zeros((t_len, n), dtype=bool),
        meta={"engine": "closed-form"},
    )


def _walk(
    spec: LegSpec,
    target_usd: FloatArray,
    p_exit: FloatArray,
    p_entry: FloatArray,
    spot: FloatArray,
    rate: FloatArray,
    due: BoolArray,
    mark: FloatArray | None = None,
) -> LegResult:
    """General path-dependent walk (margin, thresholds, minimum trade, inverse balance)."""
    from althedge.core.margin import forfeited_margin, initial_margin, maintenance_margin

    t_len, n = target_usd.shape
    ct = spec.contract_type
    inverse = ct is ContractType.INVERSE
    cs = spec.contract_size
    out = {
        k: np.zeros((t_len, n))
        for k in (
            "contracts", "pnl", "funding", "fees", "slip", "liq_loss", "deposits",
            "account", "traded", "hedged",
        )
    }
    flags = {k: np.zeros((t_len, n), dtype=bool) for k in ("reb", "call", "liq")}
    q = np.zeros(n)  # short contracts held
    bal = np.zeros(n)  # account equity in settlement currency (USD linear, coin inverse)
    first_deposit = np.ones(n, dtype=bool)
    lev = spec.leverage
    # per-contract series, scaled by the contracts held inside the loop (no per-bar calls)
    unit_pnl, unit_fund, unit_value = _unit_series(spec, p_exit, p_entry, rate)
    if lev is not None:
        unit_mm = np.asarray(maintenance_margin(ct, 1.0, cs, p_exit, spec.mmr, 0.0))
        unit_im = np.asarray(initial_margin(ct, 1.0, cs, p_exit, lev))
        if mark is not None:
            # one short contract: PnL from the close to the mark, maintenance at the mark
            pnl_fn = inverse_pnl_coin if inverse else linear_pnl_usd
            unit_to_mark = np.asarray(pnl_fn(Side.SHORT, 1.0, cs, p_exit, mark))
            unit_mm_mark = np.asarray(maintenance_margin(ct, 1.0, cs, mark, spec.mmr, 0.0))
    settle = spot if inverse else np.ones(t_len)  # USD per unit of settlement currency
    if not inverse:
        # a linear target's contracts do not depend on the path: size every due bar at once
        q_sized = np.zeros((t_len, n))
        rows = np.flatnonzero(due)
        q_sized[rows] = _sized_contracts(spec, target_usd[rows], p_entry[rows, None])
    for t in range(t_len):
        s = spot[t]
        fx = settle[t]
        if t > 0:
            pnl_c = q * unit_pnl[t]
            fund_c = q * unit_fund[t]
            if inverse:
                # USD change of the coin account: old balance revalued + new coin × spot
                out["pnl"][t] = bal * (s - spot[t - 1]) + pnl_c * s
            else:
                out["pnl"][t] = pnl_c
            out["funding"][t] = fund_c * fx
            bal = bal + pnl_c + fund_c
            if lev is not None:
                held = q > 0
                mm = q * unit_mm[t] - spec.maint_amount
                liq = held & (bal <= mm)
                if mark is not None:
                    liq |= held & (bal + q * unit_to_mark[t]
                                   <= q * unit_mm_mark[t] - spec.maint_amount)
                if liq.any():
                    # isolated margin: the position is closed and what is left is forfeited
                    out["liq_loss"][t] = np.where(liq, forfeited_margin(bal), 0.0) * fx
                    # a negative balance (gap through bankruptcy) is absorbed by the exchange
                    out["pnl"][t] -= np.where(liq, np.minimum(bal, 0.0), 0.0) * fx
                    bal = np.where(liq, 0.0, bal)
                    q = np.where(liq, 0.0, q)
                    flags["liq"][t] = liq
                    first_deposit = first_deposit | liq
                held = q > 0
                if held.any():
                    im = q * unit_im[t]
                    low = held & (bal <= spec.top_up_level * im)
                    call = low | (held & ((bal <= 0) | (mm >= spec.margin_call_ratio * bal)))
                    flags["call"][t] = call
                    if spec.top_up and low.any():
                        add = np.where(low, np.maximum(im - bal, 0.0), 0.0)
                        bal = bal + add
                        out["deposits"][t] += add * fx
        # -- decision at the close of t (data up to t only) --------------------------
        h = target_usd[t]
        px = p_entry[t]
        if due[t]:
            if lev is not None:
                # keep at least the initial margin of the new position in the account
                # (linear IM = H/L; inverse with coin collateral C: (H + C·S)/(C·P) = L
                # → C = H/(P·L − S)); the first deposit is at least ``collateral_usd``
                need = h > 0
                if need.any():
                    if inverse:
                        c_req = h / (px * lev - s)
                        floor = (spec.collateral_usd or 0.0) / s
                    else:
                        c_req = h / lev
                        floor = spec.collateral_usd or 0.0
                    c_req = np.where(first_deposit, np.maximum(c_req, floor), c_req)
                    add = np.where(need, np.maximum(c_req - bal, 0.0), 0.0)
                    out["deposits"][t] += add * (s if inverse else 1.0)
                    bal = bal + add
                    first_deposit = first_deposit & ~need
            if inverse:
                coll: Any = np.maximum(bal, 0.0)
                # inputs checked by simulate_leg (h = β·V ≥ 0, px > 0) or built ≥ 0 here
                q_new = _sized_contracts(spec, h, px, coll, validate=False)
            else:
                coll = 0.0
                q_new = q_sized[t]
            dq = np.abs(q_new - q)
            trade = dq > 0
            if spec.threshold is not None:
                cur = q * unit_value[t] - coll * s
                with np.errstate(divide="ignore", invalid="ignore"):
                    drift = np.where(h > 0, np.abs(cur - h) / h, np.where(q > 0, np.inf, 0.0))
                trade &= drift > spec.threshold
            if spec.min_trade_usd > 0:
                trade &= dq * unit_value[t] >= spec.min_trade_usd
            q_after = np.where(trade, q_new, q)
            traded_q = np.where(trade, dq, 0.0)
            if t > 0 and p_entry[t] != p_exit[t]:
                traded_q = np.where(q > 0, q + q_after, traded_q)
            q = q_after
        elif t > 0 and p_entry[t] != p_exit[t]:
            # a dated contract expires: close and re-open the same size in the next one
            traded_q = 2 * q
        else:
            traded_q = None
        if traded_q is not None:
            # fees and slippage on the traded notional, paid from the account
            traded_usd = traded_q * unit_value[t]
            fee = traded_usd * spec.fee_rate
            slip = traded_usd * spec.slippage_bps / 1e4
            bal = bal - (fee + slip) / (px if inverse else 1.0)
            out["fees"][t] = fee
            out["slip"][t] = slip
            out["traded"][t] = traded_usd
            flags["reb"][t] = traded_q > 0
            if inverse:
                # a fee paid in coin at price px is worth (fee/px)·s in USD of balance
                out["pnl"][t] -= (fee + slip) * (s / px - 1.0)
        coll_now = np.maximum(bal, 0.0) if inverse else 0.0
        out["contracts"][t] = q
        out["hedged"][t] = q * unit_value[t] - coll_now * s
        out["account"][t] = bal * (s if inverse else 1.0)
    return LegResult(
        contracts=out["contracts"],
        hedge_pnl_usd=out["pnl"],
        funding_usd=out["funding"],
        fees_usd=out["fees"],
        slippage_usd=out["slip"],
        liquidation_loss_usd=out["liq_loss"],
        deposits_usd=out["deposits"],
        account_usd=out["account"],
        traded_usd=out["traded"],
        hedged_notional_usd=out["hedged"],
        rebalanced=flags["reb"],
        margin_call=flags["call"],
        liquidated=flags["liq"],
        meta={"engine": "walk"},
    )

