"""`althedge calc …`: futures calculators (owned by the futures-core work)."""

from __future__ import annotations

import typer

from althedge.cli.calc_hedge import hedge

app = typer.Typer(no_args_is_help=True)
app.command("hedge")(hedge)
