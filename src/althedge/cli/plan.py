"""`althedge plan` (being written)."""

from __future__ import annotations

import typer


def register(root: typer.Typer) -> None:
    """Attach this module's top-level commands to the root app."""
