"""Margin ratio from what the exchange reports (issue 9, behaviour 8).

ccxt's position ``collateral`` already includes the unrealised PnL on Binance, Bybit
and OKX (ccxt ``parsePosition``: Binance isolated ``collateral = isolatedMargin``, the
wallet plus PnL); adding the PnL again showed false alarms while losing and hid risk
while winning. Binance FAQ "What Is the Margin Ratio": maintenance ÷ margin balance.
"""

from __future__ import annotations

import pytest

from althedge.core.instruments import ContractType, Side, get_instrument
from althedge.services.hedge.status import margin_ratio
from althedge.venues.protocol import VenuePosition

BTC = get_instrument("binance", "BTC/USDT:USDT")


def _pos(**kw: object) -> VenuePosition:
    base: dict[str, object] = dict(
        symbol="BTC/USDT:USDT", side=Side.SHORT, contracts=0.01, entry_price=90_000.0,
        contract_type=ContractType.LINEAR, margin_mode="isolated", leverage=2.0,
        liquidation_price=133_660.0, unrealised_pnl=-300.0, isolated_margin=150.0,
    )
    base.update(kw)
    return VenuePosition(**base)  # type: ignore[arg-type]


def test_the_exchanges_margin_ratio_wins() -> None:
    assert margin_ratio(BTC, _pos(margin_ratio=0.42), 120_000.0) == pytest.approx(0.42)


def test_collateral_with_pnl_inside_is_not_given_the_pnl_twice() -> None:
    """Losing 300 on a 450 wallet: the exchange reports collateral 150 (= 450 − 300)
    and maintenance 4.8. Ratio = 4.8 / 150 = 3.2 %; adding the PnL again made the
    balance −150 (ratio ∞: a false liquidation alarm)."""
    pos = _pos(maintenance_margin=4.8, isolated_margin=150.0, margin_includes_pnl=True)
    assert margin_ratio(BTC, pos, 120_000.0) == pytest.approx(4.8 / 150.0)


def test_a_venue_reporting_margin_without_pnl_gets_it_added() -> None:
    pos = _pos(maintenance_margin=4.8, isolated_margin=450.0, margin_includes_pnl=False)
    assert margin_ratio(BTC, pos, 120_000.0) == pytest.approx(4.8 / 150.0)
