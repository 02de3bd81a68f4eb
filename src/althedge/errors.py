"""Exception types of althedge (and :func:`os_problem`, an OSError in words). Every message
is written for a user.

This module imports nothing from the package, so every layer (core included)
may raise these. The CLI turns any :class:`AlthedgeError` into a one-line
message on stderr and exit code ``error.exit_code``.

The tree (exit code in brackets)::

    AlthedgeError [1]
    ├── InputError (also ValueError) [2]  bad or contradictory input: a field, a flag, a file
    │   ├── ConfigError [2]               the portfolio/settings file is invalid
    │   ├── UnknownInstrumentError [2]    no contract matches the exchange/symbol
    │   └── ImpossiblePositionError [2]   the position cannot exist as described
    ├── DataError [3]                     market data missing or unreadable
    │   └── DataQualityError [3]          a series failed an error-severity check
    ├── ExchangeError [4]                 the exchange refused or failed a request
    │   ├── OrderOutcomeUnknownError [4]  an order may or may not be at the exchange: stop, check
    │   ├── BelowExchangeMinimumError [4] an order is below the exchange's minimum size/notional
    │   ├── VenueRestrictedError [4]      the exchange restricts this through its API: not sent
    │   └── AccountSettingError [4]       an account-wide setting would change: refused
    ├── LimitExceededError [5]            an order would exceed a configured cap
    ├── JournalError [6]                  the journal is unreadable or disagrees with the venue
    └── OutputError [7]                   a report, file or stream cannot be written

tests/test_public_api.py checks this drawing against the classes.
"""

from __future__ import annotations

import errno


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


class OrderOutcomeUnknownError(ExchangeError):
    """A placement failed after the exchange may have acted, and every lookup failed too.

    Nothing was re-sent (a second order could double the position). The intent stays
    open in the journal; the next command reconciles it from the exchange's own orders
    and position. The message says what to check on the exchange.
    """


class BelowExchangeMinimumError(ExchangeError):
    """An order is below the exchange's minimum amount or notional; it was not sent."""


class VenueRestrictedError(ExchangeError):
    """The exchange restricts this through its API (MEXC futures orders); nothing was sent."""


class AccountSettingError(ExchangeError):
    """Doing this would change an account-wide setting (e.g. Bybit unified margin mode)."""


class LimitExceededError(AlthedgeError):
    """An order would exceed a configured cap (notional, contracts, leverage). Exit code 5."""

    exit_code = 5


class JournalError(AlthedgeError):
    """The local journal is unreadable or disagrees with the venue. Exit code 6."""

    exit_code = 6


class ReaderGone(Exception):
    """stdout's reader went away (``althedge … | head``): the command stops silently, exit 141.

    Deliberately not an ``OSError``: click/typer turn a broken pipe into exit 1.
    """


class OutputError(AlthedgeError):
    """A result cannot be written: a report/JSON/CSV path, the data directory or stdout.

    The message names the path and the problem (``out/r.html: the folder out is a file;
    pass a path in a folder``). Nothing is left half-written. Exit code 7.
    """

    exit_code = 7


_OS_PROBLEMS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is full",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the file system is read-only",
    errno.EIO: "input/output error",
}


def os_problem(exc: OSError) -> str:
    """What went wrong in an :class:`OSError`, in a few words for an :class:`OutputError`
    message ("the disk is full"), else the system's own words, lower-cased."""
    return _OS_PROBLEMS.get(exc.errno or 0, (exc.strerror or str(exc)).lower())
