"""API credentials from environment variables or the OS keyring, never printed.

Lookup order for exchange ``binance`` (ccxt id upper-cased, non-alphanumerics → ``_``):

1. ``ALTHEDGE_BINANCE_API_KEY``, ``ALTHEDGE_BINANCE_SECRET``, ``ALTHEDGE_BINANCE_PASSWORD``
   (password = OKX passphrase; optional elsewhere);
2. the OS keyring (optional ``keyring`` package), service ``"althedge"``, usernames
   ``"binance:api_key"``, ``"binance:secret"``, ``"binance:password"``.

Wallet-signed exchanges (Hyperliquid) have no API key: the credentials are the wallet
ADDRESS whose account is traded and the PRIVATE KEY of an API wallet approved for it —
``ALTHEDGE_HYPERLIQUID_WALLET_ADDRESS`` / ``ALTHEDGE_HYPERLIQUID_PRIVATE_KEY`` (optional
``ALTHEDGE_HYPERLIQUID_VAULT_ADDRESS`` to trade a vault or sub-account), or the keyring
usernames ``hyperliquid:wallet_address`` / ``hyperliquid:private_key``. Both are masked
like a secret.

:class:`Credentials` masks every field in ``repr``/``str`` and refuses to be pickled or
turned into a dict by accident; the secret values are reachable only through
:meth:`Credentials.ccxt_config`, which the adapter passes straight to ccxt.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from typing import Any

from althedge.errors import ConfigError

__all__ = [
    "KEYRING_SERVICE",
    "WALLET_EXCHANGES",
    "Credentials",
    "RedactingFilter",
    "env_var_names",
    "install_log_redaction",
    "load_credentials",
    "redact",
]

KEYRING_SERVICE = "althedge"
#: exchanges whose orders are signed by a wallet key (no API key / secret)
WALLET_EXCHANGES = ("hyperliquid",)
_MASK = "***"


class Credentials:
    """Exchange API key/secret/password. ``repr``/``str`` show only which fields are set."""

    __slots__ = ("_api_key", "_password", "_secret", "_vault", "exchange", "source", "wallet")

    def __init__(
        self,
        exchange: str,
        api_key: str,
        secret: str,
        password: str | None = None,
        *,
        source: str = "explicit",
        wallet: bool = False,
        vault_address: str | None = None,
    ) -> None:
        self.exchange = exchange
        self.source = source
        #: True: ``api_key`` is a wallet address and ``secret`` its (API-wallet) private key
        self.wallet = wallet
        self._api_key = api_key
        self._secret = secret
        self._password = password
        self._vault = vault_address

    def __repr__(self) -> str:
        if self.wallet:
            vault = f", vault_address={_MASK}" if self._vault else ""
            return (
                f"Credentials(exchange={self.exchange!r}, wallet_address={_MASK}, "
                f"private_key={_MASK}{vault}, source={self.source!r})"
            )
        pw = f", password={_MASK}" if self._password else ""
        return (
            f"Credentials(exchange={self.exchange!r}, api_key={_MASK}, secret={_MASK}{pw}, "
            f"source={self.source!r})"
        )

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("Credentials cannot be pickled or copied to storage")

    def ccxt_config(self) -> dict[str, Any]:
        """The ccxt constructor entries ``apiKey``/``secret``(/``password``), or for a
        wallet ``walletAddress``/``privateKey`` (and ``options.vaultAddress``)."""
        if self.wallet:
            wcfg: dict[str, Any] = {"walletAddress": self._api_key, "privateKey": self._secret}
            if self._vault:
                wcfg["options"] = {"vaultAddress": self._vault}
            return wcfg
        cfg: dict[str, Any] = {"apiKey": self._api_key, "secret": self._secret}
        if self._password:
            cfg["password"] = self._password
        return cfg

    def secrets(self) -> tuple[str, ...]:
        """The secret strings themselves, for redaction of error messages only."""
        return tuple(
            s for s in (self._api_key, self._secret, self._password, self._vault) if s
        )


def _env_prefix(exchange: str) -> str:
    return "ALTHEDGE_" + re.sub(r"[^A-Za-z0-9]", "_", exchange).upper()


def env_var_names(exchange: str) -> tuple[str, str, str]:
    """(api key, secret, password) environment variable names for ``exchange``; for a
    wallet-signed exchange (wallet address, private key, vault address)."""
    p = _env_prefix(exchange)
    if _is_wallet(exchange):
        return (f"{p}_WALLET_ADDRESS", f"{p}_PRIVATE_KEY", f"{p}_VAULT_ADDRESS")
    return (f"{p}_API_KEY", f"{p}_SECRET", f"{p}_PASSWORD")


def _is_wallet(exchange: str) -> bool:
    return str(exchange).strip().lower() in WALLET_EXCHANGES


def _from_keyring(exchange: str) -> tuple[str | None, str | None, str | None]:
    try:
        import keyring  # optional dependency
        from keyring.errors import KeyringError
    except ImportError:
        return (None, None, None)
    out: list[str | None] = []
    fields = (
        ("wallet_address", "private_key", "vault_address") if _is_wallet(exchange)
        else ("api_key", "secret", "password")
    )
    for field in fields:
        try:
            out.append(keyring.get_password(KEYRING_SERVICE, f"{exchange}:{field}"))
        except (KeyringError, RuntimeError):
            out.append(None)
    return (out[0], out[1], out[2])


def load_credentials(
    exchange: str,
    *,
    env: Mapping[str, str] | None = None,
    use_keyring: bool = True,
    required: bool = True,
) -> Credentials | None:
    """Credentials for ``exchange`` from ``env`` (default ``os.environ``), then the keyring.

    Returns None when nothing is configured and ``required`` is False; otherwise raises
    :class:`ConfigError` naming the variables to set (never their values).
    """
    environ = os.environ if env is None else env
    k_name, s_name, p_name = env_var_names(exchange)
    key, secret, password = environ.get(k_name), environ.get(s_name), environ.get(p_name)
    source = "env"
    if not (key and secret) and use_keyring:
        kk, ks, kp = _from_keyring(exchange)
        if kk and ks:
            key, secret, password, source = kk, ks, kp or password, "keyring"
    if key and secret and _is_wallet(exchange):
        return Credentials(exchange, key, secret, None, source=source, wallet=True,
                           vault_address=password or None)
    if key and secret:
        return Credentials(exchange, key, secret, password or None, source=source)
    if key or secret:
        missing = s_name if key else k_name
        raise ConfigError(f"{missing}: not set while its pair is; set both {k_name} and {s_name}")
    if not required:
        return None
    if _is_wallet(exchange):
        raise ConfigError(
            f"credentials for {exchange}: none found; set {k_name} (the account's wallet "
            f"address) and {s_name} (an API wallet's private key) or store them in the "
            f"keyring service {KEYRING_SERVICE!r}"
        )
    raise ConfigError(
        f"credentials for {exchange}: none found; set {k_name} and {s_name} "
        f"(and {p_name} for OKX and WEEX: the API passphrase) or store them in the keyring "
        f"service {KEYRING_SERVICE!r}"
    )


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every occurrence of each secret replaced by ``***``."""
    for s in sorted(secrets, key=len, reverse=True):
        if s:
            text = text.replace(s, _MASK)
    return text


_SIGNATURE = re.compile(r"(signature|sign|sig)=[0-9A-Za-z+/=%_-]+", re.IGNORECASE)


class RedactingFilter(logging.Filter):
    """Rewrites log records so no secret (nor a request signature) reaches a handler.

    ccxt logs every request with its headers at DEBUG (``X-MBX-APIKEY`` included);
    this filter formats the record, masks the secrets and keeps the record.
    """

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.secrets: set[str] = set(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except (TypeError, ValueError):
            text = str(record.msg)
        text = _SIGNATURE.sub(r"\1=***", redact(text, tuple(self.secrets)))
        record.msg, record.args = text, None
        return True


#: loggers that may print request headers/urls: ccxt's and the HTTP stack's.
_LOGGERS = ("ccxt", "ccxt.base.exchange", "urllib3.connectionpool", "aiohttp.client")


def install_log_redaction(secrets: tuple[str, ...]) -> RedactingFilter:
    """Attach (once) a :class:`RedactingFilter` holding ``secrets`` to the ccxt/HTTP loggers."""
    existing: RedactingFilter | None = None
    for name in _LOGGERS:
        for f in logging.getLogger(name).filters:
            if isinstance(f, RedactingFilter):
                existing = f
    filt = existing or RedactingFilter()
    filt.secrets.update(s for s in secrets if s)
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if filt not in logger.filters:
            logger.addFilter(filt)
    return filt
