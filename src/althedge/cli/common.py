"""Shared CLI plumbing: consoles, JSON output, turning errors into one-line messages."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from althedge.errors import InputError, ReaderGone
from althedge.files import jsonable

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table


@cache
def _console_class() -> type[Console]:
    from rich.console import Console

    class PipeAwareConsole(Console):
        """A Console whose closed pipe ends the command with exit 141 (rich exits 1)."""

        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise ReaderGone  # althedge.cli.main.run turns it into exit 141, silently

    return PipeAwareConsole


def new_console(**options: Any) -> Console:
    """A rich Console; a reader that goes away (``althedge … | head``) gives exit 141."""
    return _console_class()(**options)


class _LazyConsole:
    """A rich ``Console`` made on first use: `--help` and usage errors never import rich."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._real: Any = None

    def real(self) -> Console:
        """The rich Console itself (for rich objects that take ``console=``)."""
        if self._real is None:
            self._real = new_console(**self._options)
        return cast("Console", self._real)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real(), name)

    def __enter__(self) -> Console:
        return self.real().__enter__()

    def __exit__(self, *exc: Any) -> None:
        self.real().__exit__(*exc)


def real_console(value: Any) -> Console:
    """``value`` itself if it is a rich Console, else the Console behind a lazy one."""
    return cast("Console", value.real() if isinstance(value, _LazyConsole) else value)


# stdout carries results (tables or exactly one JSON object); stderr carries
# progress bars, warnings and errors, so `--json` output stays machine-readable.
console = cast("Console", _LazyConsole(highlight=False))
err_console = cast("Console", _LazyConsole(stderr=True, highlight=False))


def compact_table(title: str, **options: Any) -> Table:
    """A results table without box edges (a rule under the header): fits narrow terminals."""
    from rich import box
    from rich.table import Table

    return Table(title=title, title_justify="left", header_style="bold", box=box.SIMPLE_HEAD,
                 show_edge=False, pad_edge=False, **options)


def emit_json(payload: Mapping[str, Any]) -> None:
    """Print exactly one JSON object on stdout (NaN/inf become null)."""
    print(json.dumps(jsonable(payload), indent=2, allow_nan=False))


def parse_date(value: str | None, flag: str) -> date | None:
    """Parse an ISO date given on the command line (``None``/empty → ``None``).

    A bad one is a one-line :class:`InputError` naming the flag.
    """
    if value is None or value == "":
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(
            f"{flag}: {value!r} is not a date; use YYYY-MM-DD, e.g. 2024-08-05"
        ) from None
