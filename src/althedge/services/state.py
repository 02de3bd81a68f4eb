"""Where althedge keeps its state: the data directory and the files in it.

The data directory is, in order of precedence: an explicit ``--data-dir``, the
``ALTHEDGE_HOME`` environment variable, then ``~/.althedge``. It holds

* ``journal.sqlite`` — the SQLite journal of plans, orders, fills, funding,
  snapshots and alerts (see :mod:`althedge.journal`);
* ``paper/`` — the paper exchange's persisted state, so ``hedge open --live``
  on paper and a later ``hedge close --live`` see the same account.

No secrets are ever written here: API keys stay in the environment or the OS
keyring.
"""

from __future__ import annotations

import os
from pathlib import Path

from althedge.errors import InputError

__all__ = [
    "ENV_HOME",
    "data_dir",
    "journal_path",
    "paper_dir",
]

ENV_HOME = "ALTHEDGE_HOME"


def data_dir(override: str | Path | None = None, *, create: bool = True) -> Path:
    """The data directory: ``override`` > ``$ALTHEDGE_HOME`` > ``~/.althedge`` (created)."""
    if override not in (None, ""):
        raw, origin = str(override), "--data-dir"
    else:
        raw, origin = os.environ.get(ENV_HOME, ""), f"${ENV_HOME}"
    path = Path(raw).expanduser() if raw else Path.home() / ".althedge"
    if not raw:
        origin = "the data directory ~/.althedge"
    if path.exists() and not path.is_dir():
        raise InputError(f"{origin}: {path} is a file, not a folder; point it at a folder "
                         "(or pass --data-dir DIR)")
    if create:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(
                f"{origin}: cannot create {path} ({exc.strerror}); pass a writable folder"
            ) from None
    return path


def journal_path(directory: str | Path | None = None) -> Path:
    """``<data dir>/journal.sqlite``."""
    return data_dir(directory) / "journal.sqlite"


def paper_dir(directory: str | Path | None = None) -> Path:
    """``<data dir>/paper`` — the paper exchange's persisted state (created if needed)."""
    path = data_dir(directory) / "paper"
    path.mkdir(parents=True, exist_ok=True)
    return path
