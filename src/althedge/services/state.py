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

import contextlib
import os
from pathlib import Path

from althedge.errors import InputError

__all__ = [
    "ENV_HOME",
    "data_dir",
    "journal_path",
    "last_venue",
    "paper_dir",
    "remember_venue",
]

#: the venues this data directory traded on (so an orphan is found even without a journal)
VENUES_FILE = "venues.json"

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
    # a read-only data directory: reading works; a save says why (PaperExchange.save)
    with contextlib.suppress(OSError):
        path.mkdir(parents=True, exist_ok=True)
    return path


def remember_venue(
    directory: str | Path | None, venue: str, *, prices: str | None, testnet: bool
) -> None:
    """Note that ``venue`` holds (or held) a hedge of this data directory, most recent
    last — outside the journal, so ``hedge status`` still knows where to look for a
    position if the journal is lost. Best effort: a failure to write is ignored."""
    import json
    import tempfile

    folder = data_dir(directory)
    entry = {"venue": venue, "prices": prices, "testnet": bool(testnet)}
    known = [v for v in _venues(folder) if v.get("venue") != venue] + [entry]
    try:
        fd, tmp = tempfile.mkstemp(prefix=".venues.", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"venues": known}, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, folder / VENUES_FILE)
    except OSError:
        return


def _venues(folder: Path) -> list[dict[str, object]]:
    import json

    try:
        data = json.loads((folder / VENUES_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    rows = data.get("venues") if isinstance(data, dict) else None
    return [r for r in rows or [] if isinstance(r, dict) and isinstance(r.get("venue"), str)]


def last_venue(directory: str | Path | None) -> dict[str, object] | None:
    """The venue this data directory last traded on (``{"venue", "prices", "testnet"}``)."""
    known = _venues(data_dir(directory, create=False))
    return known[-1] if known else None
