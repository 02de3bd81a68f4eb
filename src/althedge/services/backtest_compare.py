"""Compared hedges: ``"POLICY"``, ``"POLICY when TRIGGER"`` and ``"plan"`` → specs.

``X when Y`` is split before ``X`` reaches the policy parser (:func:`core.policies.
parse_policy`) and ``Y`` the trigger parser (:func:`core.triggers.parse_expression`);
``plan`` is the portfolio file's own ``[hedge]`` — the hedge ``plan`` and ``hedge open``
place — with its ``triggers``. Syntax and rules: ``docs/backtest.md``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from althedge.config import PortfolioConfig
from althedge.core.estimators import get_estimator
from althedge.core.policies import DEFAULT_HALFLIFE, DEFAULT_WINDOW, PolicySpec, parse_policy
from althedge.core.triggers import parse_expression
from althedge.errors import InputError
from althedge.services.backtest_results import CompareSpec
from althedge.services.trigger_status import portfolio_trigger

__all__ = ["parse_compare_item", "parse_policy_list", "plan_compare_spec"]

_WHEN = re.compile(r"\s+when\s+", re.IGNORECASE)


def plan_compare_spec(portfolio: PortfolioConfig) -> CompareSpec:
    """The portfolio file's own ``[hedge]`` as a compared hedge, named ``plan (…)``.

    Beta method → its policy in the estimator registry (:mod:`althedge.core.estimators`)
    over ``lookback_days`` (ewma: half-life ln ½ / ln λ days); two hedge assets → multi
    (BTC+ETH minimum variance, shorts only). ``[hedge] triggers`` switch it.
    """
    h = portfolio.hedge
    w = h.lookback_days
    if len(h.assets) > 1:
        text = f"multi:{w}"
    else:
        est = get_estimator(h.beta_method)
        if est.parameter == "halflife":
            text = f"{est.policy}:{math.log(0.5) / math.log(h.ewma_lambda):.4g}"
        else:
            text = f"{est.policy}:{w}"
    spec = parse_policy(text)
    trigger = portfolio_trigger(portfolio)
    name = f"plan ({spec.name}{' when ' + trigger.name if trigger else ''})"
    return CompareSpec(name=name, policy=spec, trigger=trigger, plan=True)


def parse_compare_item(
    text: str | PolicySpec | CompareSpec,
    *,
    window: int = DEFAULT_WINDOW,
    halflife: float = DEFAULT_HALFLIFE,
    portfolio: PortfolioConfig | None = None,
) -> CompareSpec:
    """``"ols"``, ``"multi:90 when drawdown:10/5"``, ``"plan"`` → a :class:`CompareSpec`.

    ``X when Y`` is split before ``X`` goes to the policy parser; ``plan`` is the
    portfolio file's ``[hedge]`` (needs ``portfolio``); ``plan when Y`` replaces its
    triggers with ``Y``.
    """
    if isinstance(text, CompareSpec):
        return text
    if isinstance(text, PolicySpec):
        return CompareSpec(name=text.name, policy=text)
    policy_text, *rest = _WHEN.split(str(text).strip(), maxsplit=1)
    trigger = parse_expression(rest[0]) if rest else None
    if policy_text.strip().lower() == "plan":
        if portfolio is None:
            raise InputError("policy 'plan': needs the portfolio file ([hedge] settings)")
        base = plan_compare_spec(portfolio)
        if not rest:
            return base
        name = f"plan ({base.policy.name} when {trigger.name})" if trigger else base.name
        return CompareSpec(name=name, policy=base.policy, trigger=trigger, plan=True)
    spec = parse_policy(policy_text, window=window, halflife=halflife)
    name = spec.name + (f" when {trigger.name}" if trigger else "")
    return CompareSpec(name=name, policy=spec, trigger=trigger)


def parse_policy_list(
    text: str | Sequence[str],
    *,
    window: int = DEFAULT_WINDOW,
    halflife: float = DEFAULT_HALFLIFE,
    portfolio: PortfolioConfig | None = None,
) -> list[CompareSpec]:
    """``"plan,rolling-ols,ewma when vol:80,static:1.8,auto"`` → specs (duplicates refused)."""
    items = [p.strip() for p in (text.split(",") if isinstance(text, str) else text)]
    items = [p for p in items if p]
    if not items:
        raise InputError(
            "compare: no policy given; e.g. --compare rolling-ols,ewma,static:1.8,auto"
        )
    specs = [parse_compare_item(p, window=window, halflife=halflife, portfolio=portfolio)
             for p in items]
    names = [s.name for s in specs]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise InputError(f"compare: policy {dup!r} is listed twice; list each policy once")
    return specs
