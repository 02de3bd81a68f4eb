"""`althedge hedge …` and `althedge monitor` (being written)."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True)


def register(root: typer.Typer) -> None:
    """Attach top-level commands of this module (e.g. `monitor`) to the root app."""
