"""The `althedge` console script: one root group whose commands are imported on demand.

Registering a command (``levels``, ``serve``, ``sweep`` … are coming): add ONE line to
:data:`COMMANDS` — ``Entry(name, "althedge.cli.<module>:<attribute>", "one-line help")``,
where the attribute is either a typer-annotated function (one command) or a
``typer.Typer`` (a group of sub-commands). Nothing else: the module is imported only
when that command runs or shows its own ``--help``, so ``althedge --help`` stays fast.
Keep the module's top-level imports light (stdlib, typer, ``althedge.errors``,
``althedge.cli.common``) and import numpy/pandas/services inside the command function;
``tests/cli/test_cli_contract.py`` checks every registered command (its help, its
numeric options, its import cost).

What every command gets for free from this module:

* ``-h`` as well as ``--help``, and the exit codes below in the root help's epilog;
* every ``float``/``int`` option and argument refuses NaN, ±inf and magnitudes above
  :data:`MAX_ABS` with one line naming the option (add ``min=``/``max=`` to the
  ``typer.Option`` for a range: it is shown in ``--help``); plain (click) help text;
* one-line errors and non-zero exits instead of tracebacks: usage errors (2), our own
  :class:`~althedge.errors.AlthedgeError` (its ``exit_code``), an unwritable stdout
  (:class:`~althedge.errors.OutputError`, 7), anything unexpected (70, with
  ``ALTHEDGE_DEBUG=1`` showing the traceback); no NumPy/pandas warning on the terminal.
"""

from __future__ import annotations

import errno
import functools
import importlib
import math
import os
import re
import sys
import warnings
from dataclasses import dataclass
from typing import Any

import typer
import typer.core

from althedge.errors import InputError, ReaderGone

#: Exit codes, documented once (here, the root ``--help`` epilog and the README).
EXIT_CODES: tuple[tuple[int, str], ...] = (
    (0, "success"),
    (1, "error"),
    (2, "bad input: an option, an argument or the portfolio file (the message names it)"),
    (3, "market data missing, unreadable or unusable (data check: an error finding)"),
    (4, "the exchange refused or failed a request"),
    (5, "an order would exceed a [limits] cap"),
    (6, "the journal is unreadable or disagrees with the venue"),
    (7, "an output (report, file, data directory, stdout) cannot be written"),
    (70, "internal error (a bug: rerun with ALTHEDGE_DEBUG=1 and report the traceback)"),
    (130, "interrupted (Ctrl-C)"),
    (141, "the reader of stdout went away (e.g. piped into `head`); nothing more is printed"),
)

#: Largest magnitude a numeric option accepts; beyond it arithmetic overflows to inf/NaN.
MAX_ABS = 1e15

ENV_DEBUG = "ALTHEDGE_DEBUG"


@dataclass(frozen=True)
class Entry:
    """One top-level command: ``target`` is ``"module:attribute"`` (function or Typer)."""

    name: str
    target: str
    help: str


#: Every top-level command, in the order ``althedge --help`` lists them.
COMMANDS: tuple[Entry, ...] = (
    Entry("demo", "althedge.cli.plan:demo_command",
          "The plan for the example portfolio on bundled real prices (offline)."),
    Entry("plan", "althedge.cli.plan:plan_command",
          "How much BTC/ETH to short, on which contract, with what margin, liquidation "
          "and funding."),
    Entry("backtest", "althedge.cli.backtest:backtest",
          "Walk a hedge policy forward through history: hedged vs unhedged, net of costs."),
    Entry("hedge", "althedge.cli.hedge:app",
          "Open, watch, rebalance and close a hedge (dry run unless --live)."),
    Entry("monitor", "althedge.cli.hedge:monitor_cmd",
          "Run `hedge status` periodically: snapshots, alerts to console/webhook."),
    Entry("calc", "althedge.cli.calc:app",
          "Futures calculators: PnL, liquidation, funding, basis, hedge size."),
    Entry("data", "althedge.cli.data:app", "Market data: fetch, import, list, quality checks."),
    Entry("levels", "althedge.cli.levels:levels_command",
          "The hedge asset's volume profile and where to place the limit orders."),
    Entry("serve", "althedge.cli.serve:serve_command",
          "Start the local web dashboard."),
    Entry("sweep", "althedge.cli.sweep:sweep",
          "Many backtests (portfolios × hedges × settings × periods) on Dask, to Parquet."),
)

# "\b" keeps click from re-wrapping the list into one paragraph
_EXIT_EPILOG = "\b\nExit codes:\n" + "\n".join(f"  {c:<4} {text}" for c, text in EXIT_CODES)
_SUB_EPILOG = "Exit codes: 0 ok, 2 bad input, 3 data, 4 exchange, 5 cap, 6 journal, " \
              "7 output (see althedge --help)."

# --------------------------------------------------------------------------- numbers


def _check_number(flag: str, value: Any) -> None:
    """Refuse NaN, ±inf and magnitudes above :data:`MAX_ABS` (one line naming ``flag``)."""
    if isinstance(value, list | tuple):
        for v in value:
            _check_number(flag, v)
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    if isinstance(value, float) and math.isnan(value):
        raise InputError(f"{flag}: nan is not a number; pass a finite number")
    if isinstance(value, float) and math.isinf(value):
        raise InputError(f"{flag}: {value} is not finite (or overflows); pass a finite number")
    if abs(value) > MAX_ABS:
        raise InputError(f"{flag}: {value:g} is too large (more than {MAX_ABS:g} in size); "
                         "pass a realistic value")


def _label(text: str) -> str:
    """``--value-area`` / ``value area`` / ``value_area`` → ``value-area`` (to compare)."""
    return re.sub(r"[\s_]+", "-", text.strip().lstrip("-").lower())


def _name_the_option(message: str, options: dict[str, str]) -> str | None:
    """``"fees: …"`` → ``"--fees: …"`` when ``fees`` is one of the command's options.

    The services and core name a setting by its field (``fees``, ``value area``): the
    same words serve a sweep spec or a Python caller. On the command line the user typed
    ``--fees``, so the one-line error names that. None when nothing needs renaming.
    """
    head, sep, rest = message.partition(":")
    if not sep or head.startswith("-") or len(head) > 40:
        return None
    flag = options.get(_label(head))
    return None if flag is None else f"{flag}:{rest}"


def guard_numbers(command: Any) -> Any:
    """Check every number ``command`` (and its sub-commands) receives; plain help text.

    The command's callback is wrapped: before it runs, each float/int value is checked by
    :func:`_check_number` under the option's name (``--rate``), so NaN, ±inf and
    overflowing values never reach the arithmetic, whatever the typer version.
    """
    for sub in (getattr(command, "commands", None) or {}).values():
        guard_numbers(sub)
    if hasattr(command, "rich_markup_mode"):
        command.rich_markup_mode = None  # click's plain help: fast, flags without "<bool>"
    if getattr(command, "commands", None) is None and not command.epilog:
        command.epilog = _SUB_EPILOG
    callback = command.callback
    if callback is None or getattr(callback, "_althedge_guarded", False):
        return command
    flags = {p.name: (p.opts[0] if p.opts else str(p.name)) for p in command.params}

    options = {_label(o): o for p in command.params for o in p.opts if o.startswith("--")}

    @functools.wraps(callback)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        for name, value in kwargs.items():
            _check_number(flags.get(name, name), value)
        try:
            return callback(*args, **kwargs)
        except InputError as exc:
            named = _name_the_option(str(exc), options)
            if named is None:
                raise
            raise type(exc)(named) from exc.__cause__

    guarded._althedge_guarded = True  # type: ignore[attr-defined]
    command.callback = guarded
    return command


# --------------------------------------------------------------------------- lazy group


class _Stub(typer.core.TyperCommand):
    """Stands for a registered command in the root help until it is really needed."""

    def __init__(self, entry: Entry) -> None:
        super().__init__(entry.name, help=entry.help, short_help=entry.help)
        self.entry = entry


def load(entry: Entry) -> Any:
    """Import ``entry``'s module and build its click command (numbers guarded)."""
    module, _, attribute = entry.target.partition(":")
    obj = getattr(importlib.import_module(module), attribute)
    if isinstance(obj, typer.Typer):
        command: Any = typer.main.get_group(obj)
        command.help = command.help or entry.help
    else:
        single = typer.Typer(add_completion=False, rich_markup_mode=None)
        single.command(entry.name)(obj)
        command = typer.main.get_command(single)
    command.name = entry.name
    return guard_numbers(command)


class LazyGroup(typer.core.TyperGroup):
    """The root group: lists :data:`COMMANDS` without importing them."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name, command, rest = super().resolve_command(ctx, args)
        if isinstance(command, _Stub) and name is not None:
            command = self.commands[name] = load(command.entry)
        return name, command, rest


app = typer.Typer(
    name="althedge",
    help=(
        "Hedge an altcoin portfolio against market-wide crashes by shorting BTC or ETH "
        "futures sized by the portfolio's measured beta. Nothing is ever sent to an "
        "exchange unless you pass --live."
    ),
    epilog=_EXIT_EPILOG,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=LazyGroup,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from althedge import __version__

        print(f"althedge {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """althedge: beta-sized futures hedges for altcoin portfolios."""


def root_command() -> Any:
    """The root click group with every registered command (as stubs until used)."""
    root = typer.main.get_command(app)
    for entry in COMMANDS:
        root.commands[entry.name] = _Stub(entry)
    return root


# --------------------------------------------------------------------------- output


class _Stdout:
    """sys.stdout, but a failed write or flush is an OutputError naming stdout."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def _fail(self, exc: OSError) -> Exception:
        from althedge.errors import OutputError, os_problem

        if exc.errno == errno.EPIPE or isinstance(exc, BrokenPipeError):
            return ReaderGone()  # the reader went away: nothing to tell it, exit 141
        return OutputError(f"stdout: cannot write the output ({os_problem(exc)}); redirect it to a "
                           "file on a disk with space, or to a pipe")

    def write(self, text: str) -> int:
        try:
            return int(self._stream.write(text))
        except OSError as exc:
            raise self._fail(exc) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            raise self._fail(exc) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _silence_stdout() -> None:
    """Point fd 1 at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


# --------------------------------------------------------------------------- entry point


def _print_error(text: str) -> None:
    """``error: <text>`` on stderr as ONE line (plain write: no rich import for a typo)."""
    colour = sys.stderr.isatty() and not os.environ.get("NO_COLOR")
    label = "\x1b[1;31merror:\x1b[0m" if colour else "error:"
    sys.stderr.write(f"{label} {_one_line(text)}\n")
    sys.stderr.flush()


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def run(argv: list[str] | None = None) -> None:
    """Entry point: run the command, turning every error into one line and a non-zero exit.

    Usage errors (a bad option value, a missing argument) print
    ``error: <command>: <message> (see <command> --help)`` and exit 2; our own
    :class:`AlthedgeError` becomes ``error: <message>`` and its exit code; an unwritable
    stdout is exit 7; an unexpected exception is one line and exit 70 (the traceback with
    ``ALTHEDGE_DEBUG=1``).
    """
    debug = bool(os.environ.get(ENV_DEBUG))
    if not debug:
        warnings.simplefilter("ignore")  # NumPy/pandas warnings never reach the terminal
    sys.stdout = _Stdout(sys.stdout)  # type: ignore[assignment]
    code = _run(argv, debug)
    try:
        sys.stdout.flush()
    except (OSError, ReaderGone):
        code = code or 141
        _silence_stdout()
    except Exception as exc:  # the OutputError of a full disk / failed flush
        _print_error(_one_line(str(exc)))
        code = getattr(exc, "exit_code", 7)
        _silence_stdout()
    sys.exit(code)


def _base_class(cls: type, name: str) -> Any:
    """The class called ``name`` among ``cls``'s bases (typer vendors click in newer releases,
    so click's exception classes are reached through typer's public ``BadParameter``)."""
    return next(c for c in cls.__mro__ if c.__name__ == name)


_USAGE_ERROR: Any = _base_class(typer.BadParameter, "UsageError")
_CLICK_ERROR: Any = _base_class(typer.BadParameter, "ClickException")


def _run(argv: list[str] | None, debug: bool) -> int:
    from althedge.errors import AlthedgeError

    try:
        code = root_command().main(args=argv, prog_name="althedge", standalone_mode=False)
        sys.stdout.flush()
        return code if isinstance(code, int) else 0
    except _USAGE_ERROR as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `althedge calc` alone: the help
            exc.show()
            return int(exc.exit_code)
        ctx = getattr(exc, "ctx", None)
        where = ctx.command_path if ctx is not None else "althedge"
        _print_error(f"{where}: {_one_line(exc.format_message())} (see {where} --help)")
        return int(exc.exit_code)
    except _CLICK_ERROR as exc:
        _print_error(_one_line(exc.format_message()))
        return int(exc.exit_code)
    except typer.Abort:
        _print_error("aborted")
        return 1
    except AlthedgeError as exc:
        _print_error(_one_line(str(exc)))
        return exc.exit_code
    except KeyboardInterrupt:
        _print_error("interrupted")
        return 130
    except (BrokenPipeError, ReaderGone):
        _silence_stdout()
        return 141
    except Exception as exc:
        if debug:
            raise
        _print_error(f"internal error: {type(exc).__name__}: {_one_line(str(exc))[:300]} — "
                     f"this is a bug; rerun with {ENV_DEBUG}=1 for the traceback and report it")
        return 70


if __name__ == "__main__":
    run()
