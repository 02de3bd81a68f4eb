"""What every registered command promises (cli/main.py's COMMANDS), checked for all of them.

* ``-h``/``--help`` work, exit 0, and the root help lists every command and the exit codes;
* every float/int option refuses NaN, ±inf and overflowing values with ONE line naming the
  option and exit 2, before any work is done (in-process, through the real entry point);
* ``--help`` of any command, a usage error and every calculator's answer (``calc …``)
  import none of numpy, pandas, ccxt, plotly, pyarrow, nor pydantic (typer 0.26+ parses
  options through pydantic: the pin in pyproject.toml) — lazy imports and the core's
  number path (core/numeric.py); the speed itself is measured in benchmarks/bench_cli.py,
  not here.

A new command (``levels``, ``serve``, ``sweep``…) is covered as soon as it is registered;
if it has numeric options, add the arguments that make it parse to ``BASE_ARGS``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pytest

from althedge.cli.main import COMMANDS, EXIT_CODES, _run, load

ROOT = Path(__file__).resolve().parents[2]
PORTFOLIO = str(ROOT / "examples" / "portfolio.toml")
DAILY_SOL = str(ROOT.parent / "shared" / "data" / "daily" / "SOL-USD_1d.csv")

#: arguments that make each command parse (numbers are then replaced one at a time)
BASE_ARGS: dict[tuple[str, ...], list[str]] = {
    ("calc", "pnl"): ["--contract", "linear", "--side", "long", "--contracts", "1",
                      "--contract-size", "1", "--entry", "100", "--exit", "110"],
    ("calc", "liquidation"): ["--exchange", "binance", "--contract", "linear", "--side", "short",
                              "--contracts", "1", "--contract-size", "1", "--entry", "100",
                              "--leverage", "2", "--mmr", "0.005"],
    ("calc", "funding"): ["--contract", "linear", "--contracts", "1", "--contract-size", "1",
                          "--mark", "100", "--rate", "0.0001"],
    ("calc", "basis"): ["--spot", "100", "--futures", "101"],
    ("calc", "hedge"): ["--value", "50000", "--beta", "1.8", "--price", "65000",
                        "--contract-size", "1"],
    ("plan",): [PORTFOLIO],
    ("backtest",): [PORTFOLIO],
    ("hedge", "open"): [PORTFOLIO],
    ("hedge", "status"): [],
    ("hedge", "rebalance"): [],
    ("hedge", "close"): [],
    ("monitor",): [],
    ("data", "fetch"): ["--exchange", "binance", "--symbols", "BTC/USDT"],
    ("data", "list"): [],
    ("data", "import"): [DAILY_SOL],
    ("data", "check"): ["bundled"],
    ("demo",): [],
    ("sweep",): [str(ROOT / "examples" / "sweep.toml")],
    ("levels",): ["BTC"],
    ("serve",): [],
}


def _leaves(command: Any, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], Any]]:
    subs = getattr(command, "commands", None)
    if subs is None:
        return [(path, command)]
    out: list[tuple[tuple[str, ...], Any]] = []
    for name, sub in subs.items():
        out.extend(_leaves(sub, (*path, name)))
    return out


def _all_commands() -> list[tuple[tuple[str, ...], Any]]:
    out: list[tuple[tuple[str, ...], Any]] = []
    for entry in COMMANDS:
        out.extend(_leaves(load(entry), (entry.name,)))
    return out


def _is_number(hint: Any) -> bool:
    args = typing.get_args(hint)
    if args:  # X | None, list[X]
        return any(_is_number(a) for a in args if a is not type(None))
    return hint in (int, float)


def _numeric_options(command: Any) -> list[str]:
    func = getattr(command.callback, "__wrapped__", command.callback)
    hints = typing.get_type_hints(func)
    return [p.opts[0] for p in command.params
            if p.opts and p.opts[0].startswith("--") and _is_number(hints.get(str(p.name)))]


COMMAND_PATHS = [path for path, _ in _all_commands()]
NUMERIC = [(path, flag) for path, cmd in _all_commands() for flag in _numeric_options(cmd)]


def _call(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = _run(args, debug=False)
    out, err = capsys.readouterr()
    return code, out, err


def test_every_command_with_numbers_has_base_arguments() -> None:
    assert len(NUMERIC) >= 40  # calc, backtest, hedge and monitor options at least
    missing = {path for path, _ in NUMERIC} - set(BASE_ARGS)
    assert not missing, f"add arguments that make {missing} parse to BASE_ARGS"


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=" ".join)
def test_help_and_h_alias(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _call([*path, "--help"], capsys)
    assert code == 0 and err == ""
    assert f"Usage: althedge {' '.join(path)}" in out
    assert "<bool>" not in out  # flags are shown as flags, not as taking a value
    code_h, out_h, _ = _call([*path, "-h"], capsys)
    assert code_h == 0 and out_h == out


def test_root_help_lists_every_command_and_the_exit_codes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _call(["-h"], capsys)
    assert code == 0
    for entry in COMMANDS:
        assert f"  {entry.name} " in out
    for number, text in EXIT_CODES:
        assert f"{number:<4} {text}" in out


@pytest.mark.parametrize(("path", "flag"), NUMERIC, ids=lambda v: " ".join(v)
                         if isinstance(v, tuple) else v)
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400", "1e300"])
def test_numeric_option_refuses_non_finite(path: tuple[str, ...], flag: str, value: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    args = [*path, *BASE_ARGS[path]]
    if flag in args:  # replace the base value rather than giving the option twice
        i = args.index(flag)
        args = args[:i] + args[i + 2:]
    code, out, err = _call([*args, flag, value], capsys)
    lines = err.strip().splitlines()
    assert code == 2, (args, err)
    assert out == ""
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert flag in lines[0], lines[0]


_IMPORT_PROBE = """
import json, sys
from althedge.cli.main import _run
code = _run(sys.argv[1:], debug=False)
heavy = sorted(m for m in ("numpy", "pandas", "ccxt", "plotly", "pyarrow", "pydantic")
               if m in sys.modules)
sys.stderr.write(json.dumps({"code": code, "heavy": heavy}))
"""


@pytest.mark.parametrize("path", [(), ("calc",), ("calc", "pnl"), ("plan",), ("backtest",),
                                  ("hedge", "open"), ("monitor",), ("data", "check"),
                                  ("sweep",)],
                         ids=lambda p: " ".join(p) or "root")
def test_help_imports_no_heavy_library(path: tuple[str, ...]) -> None:
    proc = subprocess.run([sys.executable, "-c", _IMPORT_PROBE, *path, "--help"],
                          capture_output=True, text=True, timeout=60)
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    assert report == {"code": 0, "heavy": []}


_CALC_ANSWERS = [
    ["calc", "pnl", *BASE_ARGS[("calc", "pnl")]],
    ["calc", "pnl", "--contract", "inverse", "--side", "short", "--contracts", "100",
     "--contract-size", "100", "--entry", "50000", "--exit", "45000", "--leverage", "5"],
    ["calc", "liquidation", *BASE_ARGS[("calc", "liquidation")]],
    ["calc", "liquidation", "--exchange", "binance", "--symbol", "BTC/USDT:USDT", "--side",
     "short", "--contracts", "1", "--entry", "60000", "--leverage", "5"],
    ["calc", "liquidation", "--table"],
    ["calc", "funding", *BASE_ARGS[("calc", "funding")], "--json"],
    ["calc", "basis", *BASE_ARGS[("calc", "basis")], "--expiry", "2099-03-26"],
    ["calc", "hedge", *BASE_ARGS[("calc", "hedge")]],
]


@pytest.mark.parametrize("args", _CALC_ANSWERS, ids=lambda a: " ".join(a[:2]) + f" {len(a)}")
def test_calculators_answer_without_heavy_libraries(args: list[str]) -> None:
    """The calculators answer at once: single numbers go through the core's formulas
    without numpy (the same formulas broadcast over arrays for the backtester)."""
    proc = subprocess.run([sys.executable, "-c", _IMPORT_PROBE, *args],
                          capture_output=True, text=True, timeout=60)
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    assert report == {"code": 0, "heavy": []}, proc.stdout
    assert proc.stdout.strip(), "the calculator printed no answer"


@pytest.mark.parametrize("args", [["calc", "pnl", "--bogus"], ["plan", "--funding-rate", "x"],
                                  ["hedge", "open"], ["calc", "pnl", "--side", "up"]],
                         ids=lambda a: " ".join(a))
def test_usage_errors_import_no_heavy_library(args: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-c", _IMPORT_PROBE, *args],
                          capture_output=True, text=True, timeout=60)
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    assert report == {"code": 2, "heavy": []}, proc.stderr


@pytest.mark.parametrize("args", [["calc", "pnl", *BASE_ARGS[("calc", "pnl")]],
                                  ["calc", "pnl", *BASE_ARGS[("calc", "pnl")], "--json"]])
def test_a_reader_that_goes_away_ends_the_command_with_exit_141_and_no_message(
        args: list[str]) -> None:
    """``althedge … | head -0``: the reader closes the pipe before anything is written. The
    shell convention (128 + SIGPIPE) is exit 141, with nothing on stderr (rich alone exits 1)."""
    import os

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the command writes a byte
    try:
        proc = subprocess.run([sys.executable, "-m", "althedge", *args], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert proc.returncode == 141, proc.stderr
    assert proc.stderr == ""


def test_errors_name_the_option_as_typed(capsys: pytest.CaptureFixture[str]) -> None:
    """The services name a setting by its field (``fees``, ``value area``, ``keep-bar``):
    the command line says the option the user typed (``--fees``); other messages are
    left alone."""
    from althedge.cli.main import _name_the_option

    options = {"fees": "--fees", "value-area": "--value-area", "interval-hours":
               "--interval-hours"}
    assert _name_the_option("fees: got 'nan'", options) == "--fees: got 'nan'"
    assert _name_the_option("value area: must be in (0, 100]", options) == \
        "--value-area: must be in (0, 100]"
    assert _name_the_option("p.toml: hedge.leverage: 200x", options) is None
    assert _name_the_option("--fees: already named", options) is None
    assert _name_the_option("policy 'static:nan': must be finite", options) is None
    code, out, err = _call(["backtest", PORTFOLIO, "--rebalance", "threshold:nan"], capsys)
    assert code == 2 and out == ""
    assert err.startswith("error: --rebalance: 'threshold:nan'"), err


def test_readme_documents_the_same_exit_codes_as_the_help() -> None:
    """Exit codes are documented once: README's table says what ``althedge --help`` says."""
    import re

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("| exit | meaning |", 1)[1].split("\n\n", 1)[0]
    rows = [(int(m.group(1)), m.group(2).replace("`", "").strip())
            for m in re.finditer(r"^\| (\d+) \| (.+?) \|$", table, flags=re.M)]
    assert rows == [(n, t.replace("`", "")) for n, t in EXIT_CODES]
