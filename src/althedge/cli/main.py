"""The `althedge` console script: one typer app with a sub-command per workflow step."""

from __future__ import annotations

import sys

import typer

from althedge import __version__
from althedge.cli.common import err_console
from althedge.errors import AlthedgeError

app = typer.Typer(
    name="althedge",
    help=(
        "Hedge an altcoin portfolio against market-wide crashes by shorting BTC or ETH "
        "futures sized by the portfolio's measured beta. Nothing is ever sent to an "
        "exchange unless you pass --live."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        print(f"althedge {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """althedge: beta-sized futures hedges for altcoin portfolios."""


def _register() -> None:
    # Each sub-module owns its commands; imported here so `althedge --help` lists them all.
    from althedge.cli import backtest, calc, data, hedge, plan

    app.add_typer(
        calc.app,
        name="calc",
        help="Futures calculators: PnL, liquidation, funding, basis, hedge size.",
    )
    app.add_typer(data.app, name="data", help="Market data: fetch, import, list, quality checks.")
    app.add_typer(
        hedge.app,
        name="hedge",
        help="Open, watch, rebalance and close a hedge (dry run unless --live).",
    )
    plan.register(app)
    backtest.register(app)
    hedge.register(app)


_register()


def run() -> None:
    """Entry point: run the app, turning our errors into one line and a non-zero exit.

    typer/click handle usage errors themselves (message + exit 2, standalone mode);
    our own :class:`AlthedgeError` becomes ``error: <message>`` on stderr and its exit code.
    """
    try:
        app()
    except AlthedgeError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
