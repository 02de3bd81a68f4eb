"""Monitor alert rules and the webhook (a real HTTP server on 127.0.0.1)."""

from __future__ import annotations

from typing import Any

import pytest

from althedge.cli.hedge import parse_every
from althedge.errors import AlthedgeError, InputError
from althedge.services.lifecycle import HedgeStatus, Reconciliation
from althedge.services.monitor import AlertThresholds, evaluate_alerts, post_webhook


def _status(**kw: Any) -> HedgeStatus:
    base: dict[str, Any] = {
        "reconciliation": Reconciliation(),
        "hedge_id": 1,
        "current_beta": 1.5,
        "target_beta": 1.5,
        "beta_drift_pct": 0.0,
        "correlation": 0.8,
        "funding_rate": 0.0001,
        "funding_interval_hours": 8.0,
        "liquidation_price": 90_000.0,
        "liquidation_distance_pct": 50.0,
    }
    base.update(kw)
    return HedgeStatus(**base)


def test_healthy_hedge_raises_nothing() -> None:
    assert evaluate_alerts(_status(), AlertThresholds()) == []


@pytest.mark.parametrize(
    ("field_values", "kind"),
    [
        ({"current_beta": 1.8, "beta_drift_pct": 20.0}, "beta_drift"),
        ({"current_beta": 1.2, "beta_drift_pct": -20.0}, "beta_drift"),
        ({"liquidation_distance_pct": 12.0}, "liquidation"),
        ({"funding_rate": -0.0002}, "funding"),
        ({"correlation": 0.3}, "correlation"),
        ({"reconciliation": Reconciliation(differences=["position differs"])}, "reconcile"),
    ],
)
def test_each_rule_fires_on_its_condition(field_values: dict[str, Any], kind: str) -> None:
    alerts = evaluate_alerts(_status(**field_values), AlertThresholds())
    assert [a.kind for a in alerts] == [kind]
    assert "\n" not in alerts[0].message


def test_thresholds_are_respected() -> None:
    s = _status(beta_drift_pct=15.0, liquidation_distance_pct=25.0, correlation=0.45)
    assert evaluate_alerts(s, AlertThresholds(20.0, 20.0, 0.4)) == []
    assert {a.kind for a in evaluate_alerts(s, AlertThresholds())} == {
        "beta_drift",
        "liquidation",
        "correlation",
    }


def test_webhook_posts_json(webhook: tuple[str, Any]) -> None:
    url, handler = webhook
    post_webhook(url, {"kind": "beta_drift", "message": "m"})
    assert handler.received == [{"kind": "beta_drift", "message": "m"}]


def test_webhook_http_error_is_one_line(webhook: tuple[str, Any]) -> None:
    url, handler = webhook
    handler.reply = 500
    with pytest.raises(AlthedgeError, match=r"^webhook: HTTP 500$"):
        post_webhook(url, {"x": 1})


def test_webhook_unreachable_is_reported() -> None:
    with pytest.raises(AlthedgeError, match="webhook"):
        post_webhook("http://127.0.0.1:9/none", {"x": 1}, timeout_s=2)


@pytest.mark.parametrize(
    ("text", "seconds"), [("1h", 3600), ("30m", 1800), ("10s", 10), ("0.5", 0.5), ("2d", 172800)]
)
def test_parse_every(text: str, seconds: float) -> None:
    assert parse_every(text) == seconds


@pytest.mark.parametrize("text", ["", "0s", "h", "5w", "-1h"])
def test_parse_every_rejects(text: str) -> None:
    with pytest.raises(InputError, match="--every"):
        parse_every(text)


def test_status_warnings_and_monitor_alerts_are_the_same_rules() -> None:
    """`hedge status` warns on exactly what the monitor alerts on (default limits)."""
    from althedge.services.hedge import status_warnings

    s = _status(
        current_beta=1.8,
        beta_drift_pct=20.0,
        liquidation_distance_pct=12.0,
        funding_rate=-0.0002,
        correlation=0.3,
    )
    alerts = evaluate_alerts(s, AlertThresholds())
    assert [a.kind for a in alerts] == ["beta_drift", "liquidation", "funding", "correlation"]
    assert [a.severity for a in alerts] == ["warning", "critical", "warning", "warning"]
    assert status_warnings(s) == [a.message for a in alerts]
    assert status_warnings(_status()) == []


def test_two_leg_status_alerts_per_leg_and_names_the_leg() -> None:
    """Liquidation and funding are per symbol: checked on every leg, each alert names its
    leg; the portfolio rules (beta drift, correlation) fire once."""
    from althedge.services.hedge import LegStatus, status_warnings

    btc = LegStatus(symbol="BTC/USDT:USDT", contracts=0.5, liquidation_price=90_000.0,
                    liquidation_distance_pct=12.0, funding_rate=0.0001,
                    funding_interval_hours=8.0, margin_ratio=0.9)
    eth = LegStatus(symbol="ETH/USDT:USDT", contracts=5.0, liquidation_price=5_000.0,
                    liquidation_distance_pct=15.0, funding_rate=-0.0001,
                    funding_interval_hours=8.0)
    s = _status(beta_drift_pct=20.0, correlation=0.3, legs=[btc, eth])
    alerts = evaluate_alerts(s, AlertThresholds())
    assert [(a.kind, a.symbol) for a in alerts] == [
        ("beta_drift", ""),
        ("liquidation", "BTC/USDT:USDT"),
        ("liquidation", "ETH/USDT:USDT"),
        ("funding", "ETH/USDT:USDT"),
        ("correlation", ""),
    ]
    assert "(ETH/USDT:USDT)" in alerts[3].message
    assert alerts[1].to_dict()["symbol"] == "BTC/USDT:USDT"
    assert "symbol" not in alerts[0].to_dict()
    warnings = status_warnings(s)
    assert warnings[:-1] == [a.message for a in alerts]
    assert warnings[-1].startswith("margin ratio (BTC/USDT:USDT) 90%")
    # one leg: messages as they always were, no symbol
    one = _status(legs=[LegStatus(symbol="BTC/USDT:USDT", liquidation_distance_pct=12.0,
                                  liquidation_price=90_000.0)])
    (liq,) = evaluate_alerts(one, AlertThresholds())
    assert liq.symbol == "" and liq.message.startswith("liquidation: a 12.0% rally")
    # a leg the shorts-only mix left empty pays no funding: no funding alert for it
    empty = LegStatus(symbol="BTC/USDT:USDT", contracts=0.0, funding_rate=-0.0001,
                      funding_interval_hours=8.0)
    kinds = [(a.kind, a.symbol) for a in evaluate_alerts(_status(legs=[empty, eth]),
                                                         AlertThresholds())]
    assert kinds == [("liquidation", "ETH/USDT:USDT"), ("funding", "ETH/USDT:USDT")]
