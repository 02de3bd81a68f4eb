"""Exception types of althedge. Every message is written for a user.

This module imports nothing from the package, so every layer (core included)
may raise these. The CLI turns any :class:`AlthedgeError` into a one-line
message on stderr and exit code ``error.exit_code``.
"""

from __future__ import annotations


class AlthedgeError(Exception):
    """Base of all althedge errors; ``str(err)`` is a complete user-facing sentence."""

    exit_code: int = 1


class InputError(AlthedgeError, ValueError):
    """Bad or contradictory input (a field, a flag, a file). Exit code 2.

    Say which field is wrong and how to fix it, e.g.
    ``InputError("leverage: must be > 0, got 0; pass --leverage 1 or more")``.
    """

    exit_code = 2


class ConfigError(InputError):
    """The portfolio/settings file is invalid (names the field). Exit code 2."""


class UnknownInstrumentError(InputError):
    """No contract matches the exchange/symbol asked for. Exit code 2."""


class ImpossiblePositionError(InputError):
    """The position cannot exist as described (e.g. wallet already below maintenance)."""


class DataError(AlthedgeError):
    """Market data is missing, unreadable or failed a quality check. Exit code 3."""

    exit_code = 3


class DataQualityError(DataError):
    """A series has an ``error``-severity quality finding and was not excluded."""


class ExchangeError(AlthedgeError):
    """The exchange refused or failed a request (message never carries secrets). Exit code 4."""

    exit_code = 4


class LimitExceededError(AlthedgeError):
    """An order would exceed a configured cap (notional, contracts, leverage). Exit code 5."""

    exit_code = 5


class JournalError(AlthedgeError):
    """The local journal is unreadable or disagrees with the venue. Exit code 6."""

    exit_code = 6
