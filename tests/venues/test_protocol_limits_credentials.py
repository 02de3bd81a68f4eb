"""Client order ids, order caps and credentials handling."""

from __future__ import annotations

import logging
import pickle
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from althedge.core.instruments import get_instrument
from althedge.errors import ConfigError, InputError, LimitExceededError
from althedge.venues.credentials import (
    Credentials,
    env_var_names,
    install_log_redaction,
    load_credentials,
)
from althedge.venues.limits import Limits, check_leverage, check_order, order_notional_usd
from althedge.venues.protocol import OrderRequest, OrderResult, VenuePosition, client_order_id

# OKX clOrdId: 1-32 alphanumerics; Binance newClientOrderId: ^[.A-Z:/a-z0-9_-]{1,36}$;
# Bybit orderLinkId: <= 36 letters, digits, '-' and '_'; Deribit label: <= 64 characters.
OKX = re.compile(r"^[A-Za-z0-9]{1,32}$")
BINANCE = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
BYBIT = re.compile(r"^[A-Za-z0-9_-]{1,36}$")


@given(
    plan=st.text(min_size=1, max_size=80), step=st.integers(0, 10**9), purpose=st.text(max_size=30)
)
def test_client_order_id_is_valid_everywhere_and_deterministic(
    plan: str, step: int, purpose: str
) -> None:
    cid = client_order_id(plan, step, purpose)
    assert OKX.match(cid) and BINANCE.match(cid) and BYBIT.match(cid) and len(cid) <= 64
    assert cid == client_order_id(plan, step, purpose)


@given(
    a=st.tuples(st.text(min_size=1, max_size=20), st.integers(0, 1000), st.text(max_size=8)),
    b=st.tuples(st.text(min_size=1, max_size=20), st.integers(0, 1000), st.text(max_size=8)),
)
def test_client_order_ids_differ_for_different_steps(
    a: tuple[str, int, str], b: tuple[str, int, str]
) -> None:
    if a != b:
        assert client_order_id(*a) != client_order_id(*b)


def test_client_order_id_rejects_bad_input() -> None:
    with pytest.raises(InputError):
        client_order_id("", 0, "open")
    with pytest.raises(InputError):
        client_order_id("p", -1, "open")
    with pytest.raises(InputError, match="client_order_id"):
        OrderRequest("BTC/USDT:USDT", "sell", 1, "market", "has space")


def test_value_types_round_trip() -> None:
    r = OrderResult(
        "ahx", "1", "BTC/USDT:USDT", "sell", "limit", 1.0, "partially_filled", 0.4, 90_000.0
    )
    assert OrderResult.from_dict(r.to_dict()) == r
    assert r.remaining_contracts == pytest.approx(0.6) and not r.is_final
    p = VenuePosition("BTC/USD:BTC", -1, 5, 90_000, "inverse", "isolated", 2, None, 0.0001, 0.01)  # type: ignore[arg-type]
    assert VenuePosition.from_dict(p.to_dict()).to_dict() == p.to_dict()


LIN = get_instrument("binance", "BTC/USDT:USDT")
INV = get_instrument("binance", "BTC/USD:BTC")


def test_caps_refuse_notional_contracts_and_leverage() -> None:
    limits = Limits(max_notional_usd=100_000, max_contracts=2, max_leverage=3)
    sell = OrderRequest(LIN.symbol, "sell", 1.5, "market", "ahcap")
    check_order(limits, sell, LIN, 60_000)  # 90,000 USD, 1.5 contracts: fine
    with pytest.raises(LimitExceededError, match="max_notional_usd"):
        check_order(limits, sell, LIN, 70_000)  # 105,000 USD
    with pytest.raises(LimitExceededError, match="max_contracts"):
        check_order(limits, sell, LIN, 10, position_contracts=1.0)  # 2.5 contracts
    with pytest.raises(LimitExceededError, match="max_leverage"):
        check_leverage(limits, 5)
    # inverse notional is Q·CS USD, whatever the price: 900 × 100 = 90,000
    assert order_notional_usd(INV, 900, 1.0) == pytest.approx(90_000)


def test_reduce_only_is_never_capped_so_a_hedge_can_always_come_off() -> None:
    limits = Limits(max_notional_usd=1, max_contracts=1, max_leverage=1)
    close = OrderRequest(LIN.symbol, "buy", 50, "market", "ahcls", reduce_only=True)
    check_order(limits, close, LIN, 90_000)


def test_limits_validate_and_come_from_config() -> None:
    with pytest.raises(InputError, match="max_contracts"):
        Limits(max_contracts=0)

    class Cfg:
        max_notional_usd = 5.0
        max_contracts = 6.0
        max_leverage = 7.0

    assert Limits.from_config(Cfg()) == Limits(5.0, 6.0, 7.0)


KEY = "AKenvKEY0123456789abcdefghijklmnopqrstuvwxyz"
SECRET = "SKenvSECRET9876543210zyxwvutsrqponmlkjihgfed"


def test_credentials_from_env_are_masked_everywhere(caplog: pytest.LogCaptureFixture) -> None:
    names = env_var_names("okx")
    assert names == ("ALTHEDGE_OKX_API_KEY", "ALTHEDGE_OKX_SECRET", "ALTHEDGE_OKX_PASSWORD")
    env = {names[0]: KEY, names[1]: SECRET, names[2]: "pass-phrase-1234567890"}
    creds = load_credentials("okx", env=env, use_keyring=False)
    assert creds is not None and creds.source == "env"
    text = repr(creds) + str(creds) + f"{creds}" + repr([creds])
    for s in (KEY, SECRET, "pass-phrase-1234567890"):
        assert s not in text
    assert creds.ccxt_config() == {
        "apiKey": KEY,
        "secret": SECRET,
        "password": "pass-phrase-1234567890",
    }
    with pytest.raises(TypeError):
        pickle.dumps(creds)
    install_log_redaction(creds.secrets())
    caplog.set_level(logging.DEBUG)
    logging.getLogger("ccxt.base.exchange").debug("headers %s", {"OK-ACCESS-KEY": KEY})
    assert KEY not in caplog.text and "***" in caplog.text


def test_missing_credentials_name_the_variables_not_values() -> None:
    with pytest.raises(ConfigError, match="ALTHEDGE_BINANCEUSDM_API_KEY"):
        load_credentials("binanceusdm", env={}, use_keyring=False)
    assert load_credentials("bybit", env={}, use_keyring=False, required=False) is None
    with pytest.raises(ConfigError) as info:
        load_credentials("bybit", env={"ALTHEDGE_BYBIT_API_KEY": KEY}, use_keyring=False)
    assert "ALTHEDGE_BYBIT_SECRET" in str(info.value) and KEY not in str(info.value)


def test_keyring_is_used_when_env_is_empty(memory_keyring: Any) -> None:
    memory_keyring({
        ("althedge", "deribit:api_key"): KEY,
        ("althedge", "deribit:secret"): SECRET,
    })
    creds = load_credentials("deribit", env={})
    assert isinstance(creds, Credentials) and creds.source == "keyring"
    assert creds.ccxt_config()["secret"] == SECRET
    assert SECRET not in repr(creds)
