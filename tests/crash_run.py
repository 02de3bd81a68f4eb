"""Run althedge in this process and kill it (``os._exit(77)``) at one lifecycle step.

The crash-safety tests start this script as a child process::

    python tests/crash_run.py STEP cli ARG...            # the althedge CLI with ARG...
    python tests/crash_run.py STEP service HOME PRICES open|close DAY PORTFOLIO_JSON

It installs a step hook (:func:`althedge.services.hedge.set_step_hook`) that exits
with status 77 — no cleanup, no flush, like a killed process — when the lifecycle
reaches ``STEP`` (one of :data:`althedge.services.hedge.STEPS`). Production code
has no switch for this: only this script installs the hook.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import date

from althedge.services.hedge import STEPS, set_step_hook

#: exit status of a process killed at the step
CRASHED = 77


#: env: pause at the step instead of dying (the lock tests), after creating the file
#: named by :data:`ENV_MARKER` so the test knows the step is reached, until the file
#: named by :data:`ENV_RELEASE` exists (at most this many seconds)
ENV_PAUSE = "CRASH_RUN_PAUSE_S"
ENV_MARKER = "CRASH_RUN_MARKER"
ENV_RELEASE = "CRASH_RUN_RELEASE"


def _install(point: str) -> None:
    if point not in STEPS:
        raise SystemExit(f"crash_run: unknown step {point!r}; one of {', '.join(STEPS)}")
    pause = float(os.environ.get(ENV_PAUSE, "0") or 0)

    def hook(name: str) -> None:
        if name != point:
            return
        if pause > 0:
            marker = os.environ.get(ENV_MARKER)
            if marker:
                with open(marker, "w", encoding="utf-8") as fh:
                    fh.write(str(os.getpid()))
            release = os.environ.get(ENV_RELEASE)
            deadline = time.monotonic() + pause
            while time.monotonic() < deadline and not (release and os.path.exists(release)):
                time.sleep(0.05)
            return
        os._exit(CRASHED)

    set_step_hook(hook)


def _service(home: str, prices: str, action: str, day: str, portfolio: str) -> None:
    from althedge.config import parse_portfolio
    from althedge.data import open_source
    from althedge.journal import Journal
    from althedge.services.hedge import close_hedge, open_hedge
    from althedge.venues.paper import PaperExchange

    source = open_source(prices)
    at = date.fromisoformat(day)
    journal = Journal(home + "/journal.sqlite")
    venue = PaperExchange.open(home + "/paper", source=source, at=at, persist=True)
    if action == "open":
        open_hedge(journal, venue, parse_portfolio(json.loads(portfolio)), source, as_of=at,
                   live=True)
    else:
        close_hedge(journal, venue, source, as_of=at, live=True)
    venue.save()


def main(argv: list[str]) -> None:
    point, mode, *rest = argv
    _install(point)
    if mode == "cli":
        from althedge.cli.main import run

        sys.argv = ["althedge", *rest]
        run()
    elif mode == "service":
        _service(*rest)
    else:
        raise SystemExit(f"crash_run: mode must be cli or service, got {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
