"""althedge: hedge an altcoin portfolio against market-wide crashes with futures.

The public Python API is re-exported here; see README.md for a tour::

    import althedge
    betas = althedge.rolling_beta(alt_returns, btc_returns, window=90)   # arrays or pandas
    size = althedge.size_hedge(50_000, 1.8, 65_000, "linear", 1.0, rounding="down")
    size.contracts, size.residual_usd                                    # 1.0, 25000.0

    plan = althedge.build_plan(althedge.load_portfolio("examples/portfolio.toml"),
                               althedge.bundled_source())
    plan.hedge.contracts, plan.hedge.liquidation_price   # plan.to_dict(): `plan --json`

Names are imported lazily (on first use), so ``import althedge`` stays fast. The
one list of public names is :data:`_EXPORTS` (name → module); ``__all__`` is made from
it and the ``TYPE_CHECKING`` imports below mirror it for type checkers
(tests/test_public_api.py checks all three agree).
"""

# ruff: noqa: F401  (the TYPE_CHECKING imports re-export _EXPORTS for type checkers)
from __future__ import annotations

from typing import TYPE_CHECKING

from althedge.core.lazy import lazy_getattr

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # returns
    "simple_returns": "althedge.core.returns",
    "portfolio_returns": "althedge.core.returns",
    "value_weights": "althedge.core.returns",
    # beta
    "BetaEstimate": "althedge.core.beta",
    "BetaUnavailableError": "althedge.core.beta",
    "InsufficientHistoryError": "althedge.core.beta",
    "BETA_METHODS": "althedge.core.beta",
    "CLASS_DEFAULT_BETAS": "althedge.core.beta",
    "class_default_beta": "althedge.core.beta",
    "ols_beta": "althedge.core.beta",
    "ewma_beta": "althedge.core.beta",
    "downside_beta": "althedge.core.beta",
    "robust_beta": "althedge.core.beta",
    "conservative_beta": "althedge.core.beta",
    "shrunk_betas": "althedge.core.beta",
    "estimate_beta": "althedge.core.beta",
    "min_variance_weights": "althedge.core.beta",
    "rolling_beta": "althedge.core.beta",
    "rolling_ewma_beta": "althedge.core.beta",
    "rolling_downside_beta": "althedge.core.beta",
    # sizing
    "Rounding": "althedge.core.sizing",
    "HedgeSize": "althedge.core.sizing",
    "hedge_notional_usd": "althedge.core.sizing",
    "contracts_exact": "althedge.core.sizing",
    "round_contracts": "althedge.core.sizing",
    "size_hedge": "althedge.core.sizing",
    # metrics
    "hedge_effectiveness": "althedge.core.metrics",
    "annualised_volatility": "althedge.core.metrics",
    "max_drawdown": "althedge.core.metrics",
    "worst_weeks_return": "althedge.core.metrics",
    # futures core
    "Instrument": "althedge.core.instruments",
    "ContractType": "althedge.core.instruments",
    "Side": "althedge.core.instruments",
    "get_instrument": "althedge.core.instruments",
    "find_instrument": "althedge.core.instruments",
    "pnl_usd": "althedge.core.pnl",
    "liquidation_price": "althedge.core.margin",
    "initial_margin": "althedge.core.margin",
    "funding_payment": "althedge.core.funding",
    "annualised_basis": "althedge.core.basis",
    # workflow: portfolio file, data, plan, backtest
    "load_portfolio": "althedge.config",
    "parse_portfolio": "althedge.config",
    "PortfolioConfig": "althedge.config",
    "open_source": "althedge.data",
    "bundled_source": "althedge.data",
    "check_closes": "althedge.data",
    "build_plan": "althedge.services.plan",
    "HedgePlan": "althedge.services.plan",
    "run_backtest": "althedge.services.backtest",
    "BacktestSettings": "althedge.services.backtest",
    "sweep": "althedge.services.sweep",
    # errors
    "AlthedgeError": "althedge.errors",
    "InputError": "althedge.errors",
    "DataError": "althedge.errors",
}

#: the public API: exactly the names of :data:`_EXPORTS` (one list) and ``__version__``
__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only; mirrors _EXPORTS
    from althedge.config import PortfolioConfig, load_portfolio, parse_portfolio
    from althedge.core.basis import annualised_basis
    from althedge.core.beta import (
        BETA_METHODS,
        CLASS_DEFAULT_BETAS,
        BetaEstimate,
        BetaUnavailableError,
        InsufficientHistoryError,
        class_default_beta,
        conservative_beta,
        downside_beta,
        estimate_beta,
        ewma_beta,
        min_variance_weights,
        ols_beta,
        robust_beta,
        rolling_beta,
        rolling_downside_beta,
        rolling_ewma_beta,
        shrunk_betas,
    )
    from althedge.core.funding import funding_payment
    from althedge.core.instruments import (
        ContractType,
        Instrument,
        Side,
        find_instrument,
        get_instrument,
    )
    from althedge.core.margin import initial_margin, liquidation_price
    from althedge.core.metrics import (
        annualised_volatility,
        hedge_effectiveness,
        max_drawdown,
        worst_weeks_return,
    )
    from althedge.core.pnl import pnl_usd
    from althedge.core.returns import portfolio_returns, simple_returns, value_weights
    from althedge.core.sizing import (
        HedgeSize,
        Rounding,
        contracts_exact,
        hedge_notional_usd,
        round_contracts,
        size_hedge,
    )
    from althedge.data import bundled_source, check_closes, open_source
    from althedge.errors import AlthedgeError, DataError, InputError
    from althedge.services.backtest import BacktestSettings, run_backtest
    from althedge.services.plan import HedgePlan, build_plan
    from althedge.services.sweep import sweep


__getattr__ = lazy_getattr(__name__, _EXPORTS)


def __dir__() -> list[str]:
    return sorted(__all__)
