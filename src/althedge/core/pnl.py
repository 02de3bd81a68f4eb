"""Position value and profit and loss of linear and inverse futures.

Conventions (docs/domain.md): ``contracts`` Q ≥ 0, ``side`` +1 long / −1 short,
``contract_size`` CS in coin (linear) or USD (inverse), prices in USD.

* Linear:  value = Q·CS·P (USD);  PnL = side·Q·CS·(P − EP)  (USD).
* Inverse: value = Q·CS (USD) = Q·CS/P (coin);  PnL = side·Q·CS·(1/EP − 1/P)  (coin),
  in USD × P. Average entry of an inverse position is the harmonic mean
  ΣQ / Σ(Q/price) (Binance COIN-M / Bybit inverse "average entry price").

Sources: Bybit help centre "P&L calculations (USDT Contract)" and "P&L Calculations
(Inverse Contracts)"; Binance FAQ "How to Calculate the Margin Requirement" (PNL =
side·Qty·multiplier·(1/entry − 1/exit) for COIN-M).

All functions broadcast over numpy arrays; a scalar in gives a float out (and imports
no numpy: core/numeric.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from althedge.core.instruments import ContractType, Side, parse_contract_type, parse_side
from althedge.core.numeric import as_values, is_number, positive_values, to_output
from althedge.errors import InputError

__all__ = [
    "Position",
    "average_entry_price",
    "inverse_pnl_coin",
    "inverse_pnl_usd",
    "linear_pnl_usd",
    "pnl_usd",
    "position_value_coin",
    "position_value_usd",
    "roe_pct",
]


def position_value_usd(
    contract_type: ContractType | str, contracts: Any, contract_size: Any, price_usd: Any
) -> Any:
    """Position value in USD: linear |Q|·CS·P; inverse Q·CS (independent of price)."""
    ct = parse_contract_type(contract_type)
    q = abs(as_values(contracts))
    if ct == ContractType.LINEAR:
        return to_output(q * as_values(contract_size) * as_values(price_usd))
    return to_output(q * as_values(contract_size) + 0.0 * as_values(price_usd))


def position_value_coin(
    contract_type: ContractType | str, contracts: Any, contract_size: Any, price_usd: Any
) -> Any:
    """Position value in coin: linear |Q|·CS; inverse |Q|·CS/P (Bybit "position value")."""
    ct = parse_contract_type(contract_type)
    q = abs(as_values(contracts))
    if ct == ContractType.LINEAR:
        return to_output(q * as_values(contract_size) + 0.0 * as_values(price_usd))
    positive_values("price", price_usd)
    return to_output(q * as_values(contract_size) / as_values(price_usd))


def _side(side: Any) -> Any:
    if not is_number(side) and hasattr(side, "astype"):  # an array of +1/−1
        return side.astype(float)
    return float(parse_side(side))


def linear_pnl_usd(
    side: Side | str | int, contracts: Any, contract_size: Any, entry_price: Any, exit_price: Any
) -> Any:
    """Linear PnL in USD: side·Q·CS·(P − EP)."""
    s = _side(side)
    move = as_values(exit_price) - as_values(entry_price)
    return to_output(s * as_values(contracts) * as_values(contract_size) * move)


def inverse_pnl_coin(
    side: Side | str | int, contracts: Any, contract_size: Any, entry_price: Any, exit_price: Any
) -> Any:
    """Inverse PnL in coin: side·Q·CS·(1/EP − 1/P)."""
    positive_values("entry price", entry_price)
    positive_values("exit price", exit_price)
    s = _side(side)
    inv = 1.0 / as_values(entry_price) - 1.0 / as_values(exit_price)
    return to_output(s * as_values(contracts) * as_values(contract_size) * inv)


def inverse_pnl_usd(
    side: Side | str | int, contracts: Any, contract_size: Any, entry_price: Any, exit_price: Any
) -> Any:
    """Inverse PnL in USD at the exit price: coin PnL × P = side·Q·CS·(P/EP − 1)."""
    coin = inverse_pnl_coin(side, contracts, contract_size, entry_price, exit_price)
    return to_output(as_values(coin) * as_values(exit_price))


def pnl_usd(
    contract_type: ContractType | str,
    side: Side | str | int,
    contracts: Any,
    contract_size: Any,
    entry_price: Any,
    exit_price: Any,
) -> Any:
    """PnL in USD for either contract type (inverse: valued at the exit price)."""
    ct = parse_contract_type(contract_type)
    if ct == ContractType.LINEAR:
        return linear_pnl_usd(side, contracts, contract_size, entry_price, exit_price)
    return inverse_pnl_usd(side, contracts, contract_size, entry_price, exit_price)


def roe_pct(
    contract_type: ContractType | str,
    side: Side | str | int,
    entry_price: float,
    exit_price: float,
    leverage: float,
) -> float:
    """Return on initial margin, in %.

    Binance FAQ "How to Calculate the Margin Requirement": ROE = side·(1 − EP/P)/IMR for
    COIN-M (PnL in coin over coin margin), side·(P/EP − 1)/IMR for USDⓈ-M; IMR = 1/L.
    """
    ct = parse_contract_type(contract_type)
    positive_values("leverage", leverage)
    positive_values("entry price", entry_price)
    positive_values("exit price", exit_price)
    s = float(parse_side(side))
    if ct == ContractType.LINEAR:
        r = s * (exit_price / entry_price - 1.0)
    else:
        r = s * (1.0 - entry_price / exit_price)
    return 100.0 * r * leverage


def average_entry_price(
    contract_type: ContractType | str, contracts: Sequence[float], prices: Sequence[float]
) -> float:
    """Average entry of fills: arithmetic ΣQ·p/ΣQ (linear), harmonic ΣQ/Σ(Q/p) (inverse)."""
    ct = parse_contract_type(contract_type)
    q = as_values(list(contracts))
    p = as_values(list(prices))
    if q.shape != p.shape or q.size == 0:
        raise InputError("fills: need as many prices as contract amounts, at least one")
    positive_values("contracts", q, zero_ok=True)
    positive_values("price", p)
    total = float(q.sum())
    if total <= 0:
        raise InputError("contracts: total must be > 0 to average an entry price")
    if ct == ContractType.LINEAR:
        return float((q * p).sum() / total)
    return float(total / (q / p).sum())


@dataclass(frozen=True)
class Position:
    """An instrument-free position: add to it, reduce it, read its PnL.

    ``realised_pnl`` and :meth:`unrealised_pnl` are in the settlement currency
    (USD for linear, coin for inverse).
    """

    contract_type: ContractType
    side: Side
    contracts: float
    contract_size: float
    entry_price: float
    realised_pnl: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "contract_type", parse_contract_type(self.contract_type))
        object.__setattr__(self, "side", parse_side(self.side))
        positive_values("contracts", self.contracts, zero_ok=True)
        positive_values("contract size", self.contract_size)
        if self.contracts > 0:
            positive_values("entry price", self.entry_price)

    def add(self, contracts: float, price: float) -> Position:
        """Add ``contracts`` at ``price``; the entry becomes the (harmonic for inverse) average."""
        positive_values("contracts", contracts, zero_ok=True)
        positive_values("price", price)
        if contracts == 0:
            return self
        if self.contracts == 0:
            return replace(self, contracts=float(contracts), entry_price=float(price))
        ep = average_entry_price(
            self.contract_type, [self.contracts, contracts], [self.entry_price, price]
        )
        return replace(self, contracts=self.contracts + contracts, entry_price=ep)

    def reduce(self, contracts: float, price: float) -> Position:
        """Close ``contracts`` at ``price``, realising their PnL; the entry price is unchanged."""
        positive_values("contracts", contracts, zero_ok=True)
        positive_values("price", price)
        if contracts > self.contracts * (1 + 1e-12):
            raise InputError(
                f"contracts: cannot reduce by {contracts}, the position holds {self.contracts}"
            )
        closed = min(float(contracts), self.contracts)
        pnl = self._pnl(closed, price)
        left = self.contracts - closed
        if math.isclose(left, 0.0, abs_tol=1e-12):
            left = 0.0
        return replace(self, contracts=left, realised_pnl=self.realised_pnl + pnl)

    def unrealised_pnl(self, price: float) -> float:
        """Open PnL at ``price`` in the settlement currency (USD linear, coin inverse)."""
        return self._pnl(self.contracts, price)

    def _pnl(self, contracts: float, price: float) -> float:
        if contracts == 0:
            return 0.0
        if self.contract_type == ContractType.LINEAR:
            return float(
                linear_pnl_usd(self.side, contracts, self.contract_size, self.entry_price, price)
            )
        return float(
            inverse_pnl_coin(self.side, contracts, self.contract_size, self.entry_price, price)
        )
