"""Hyperliquid credentials: a wallet address and an API wallet's private key, never printed."""

from __future__ import annotations

import logging
import pickle
from typing import Any

import pytest

from althedge.errors import ConfigError
from althedge.venues.credentials import (
    Credentials,
    env_var_names,
    install_log_redaction,
    load_credentials,
)

ADDRESS = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"
PRIVATE_KEY = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
VAULT = "0x1719884eb866cb12b2287399b15f7db5e7d775ea"


def test_env_names_are_wallet_names() -> None:
    assert env_var_names("hyperliquid") == (
        "ALTHEDGE_HYPERLIQUID_WALLET_ADDRESS",
        "ALTHEDGE_HYPERLIQUID_PRIVATE_KEY",
        "ALTHEDGE_HYPERLIQUID_VAULT_ADDRESS",
    )
    # the CEXes keep their API key names (WEEX needs the passphrase too)
    assert env_var_names("weex")[2] == "ALTHEDGE_WEEX_PASSWORD"


def test_wallet_credentials_from_env_go_to_ccxt_only(caplog: pytest.LogCaptureFixture) -> None:
    k, s, v = env_var_names("hyperliquid")
    creds = load_credentials("hyperliquid", env={k: ADDRESS, s: PRIVATE_KEY, v: VAULT},
                             use_keyring=False)
    assert creds is not None and creds.wallet and creds.source == "env"
    assert creds.ccxt_config() == {
        "walletAddress": ADDRESS,
        "privateKey": PRIVATE_KEY,
        "options": {"vaultAddress": VAULT},
    }
    text = repr(creds) + str(creds) + f"{[creds]}"
    for secret in (ADDRESS, PRIVATE_KEY, VAULT):
        assert secret not in text
    assert "private_key=***" in text
    with pytest.raises(TypeError):
        pickle.dumps(creds)
    install_log_redaction(creds.secrets())
    caplog.set_level(logging.DEBUG)
    logging.getLogger("ccxt.base.exchange").debug("signing with %s", PRIVATE_KEY)
    assert PRIVATE_KEY not in caplog.text and "***" in caplog.text


def test_missing_wallet_credentials_name_the_variables() -> None:
    with pytest.raises(ConfigError) as info:
        load_credentials("hyperliquid", env={}, use_keyring=False)
    msg = str(info.value)
    assert "ALTHEDGE_HYPERLIQUID_WALLET_ADDRESS" in msg
    assert "ALTHEDGE_HYPERLIQUID_PRIVATE_KEY" in msg
    with pytest.raises(ConfigError) as half:
        load_credentials("hyperliquid", env={"ALTHEDGE_HYPERLIQUID_PRIVATE_KEY": PRIVATE_KEY},
                         use_keyring=False)
    assert PRIVATE_KEY not in str(half.value)
    assert "ALTHEDGE_HYPERLIQUID_WALLET_ADDRESS" in str(half.value)


def test_wallet_from_keyring(memory_keyring: Any) -> None:
    memory_keyring({
        ("althedge", "hyperliquid:wallet_address"): ADDRESS,
        ("althedge", "hyperliquid:private_key"): PRIVATE_KEY,
    })
    creds = load_credentials("hyperliquid", env={})
    assert isinstance(creds, Credentials) and creds.source == "keyring" and creds.wallet
    assert creds.ccxt_config() == {"walletAddress": ADDRESS, "privateKey": PRIVATE_KEY}
