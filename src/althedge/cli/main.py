"""The `althedge` console script: one typer app with a sub-command per workflow step."""

from __future__ import annotations

import sys
from typing import Any

import typer
from rich.markup import escape

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
    from althedge.cli import backtest, calc, data, hedge, levels, plan, serve, sweep

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
    levels.register(app)
    serve.register(app)
    sweep.register(app)


_register()


def _base_class(cls: type, name: str) -> type:
    """The class called ``name`` among ``cls``'s bases (typer vendors click in newer releases,
    so click's exception classes are reached through typer's public ``BadParameter``)."""
    return next(c for c in cls.__mro__ if c.__name__ == name)


_USAGE_ERROR: Any = _base_class(typer.BadParameter, "UsageError")
_CLICK_ERROR: Any = _base_class(typer.BadParameter, "ClickException")


def run() -> None:
    """Entry point: run the app, turning every error into one line and a non-zero exit.

    Usage errors (a bad option value, a missing argument) print
    ``error: <command>: <message>`` and exit 2, like click's, but on one line; our own
    :class:`AlthedgeError` becomes ``error: <message>`` on stderr and its exit code.
    """
    try:
        code = app(prog_name="althedge", standalone_mode=False)
    except _USAGE_ERROR as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `althedge calc` alone: the help text
            exc.show()
            sys.exit(exc.exit_code)
        ctx = getattr(exc, "ctx", None)
        where = ctx.command_path if ctx is not None else "althedge"
        err_console.print(
            f"[bold red]error:[/] {escape(where)}: {escape(exc.format_message())} "
            f"(see {escape(where)} --help)",
            soft_wrap=True, markup=True, highlight=False,
        )
        sys.exit(exc.exit_code)
    except _CLICK_ERROR as exc:
        err_console.print(f"[bold red]error:[/] {escape(exc.format_message())}", soft_wrap=True)
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(1)
    except AlthedgeError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
