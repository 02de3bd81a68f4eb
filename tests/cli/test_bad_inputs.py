"""Issue 11's bad inputs, each through the real console entry (``python -m althedge``).

Every row: the exit code, ONE line on stderr starting ``error:`` that names the field,
option, file or path (and, where the issue asked, what it must not say), nothing on stdout,
no traceback. The rows are the issue's list ("Errors, not tracebacks; whole files or none",
"Honest about time", the smaller message defects) plus the unreadable-row cases; numeric
options in general are swept in test_cli_contract.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PORTFOLIO = ROOT / "examples" / "portfolio.toml"
DAILY = ROOT.parent / "shared" / "data" / "daily"
ASSETS = ("SOL", "AVAX", "LINK", "DOGE", "ADA", "BTC")


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    code: int
    says: tuple[str, ...]  # each must be in the one error line
    never: tuple[str, ...] = ()  # none may be in it
    env: dict[str, str] = field(default_factory=dict)
    stdout_to_dev_full: bool = False


def _garbage(path: Path, rows: int) -> None:
    """Put ``rows`` unreadable rows among the last month of a price file (the beta window)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    bad = [f"garbage{i},x,y,z,w,v" for i in range(rows)]
    path.write_text("\n".join([*lines[:-30], *bad, *lines[-30:]]) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Files the cases need: damaged price folders, odd portfolio files, an empty CSV."""
    root = tmp_path_factory.mktemp("bad_inputs")
    for name, damaged, rows in (("sol_garbage", "SOL", 56), ("btc_garbage", "BTC", 5)):
        folder = root / name
        folder.mkdir()
        for a in ASSETS:
            shutil.copy(DAILY / f"{a}-USD_1d.csv", folder)
        _garbage(folder / f"{damaged}-USD_1d.csv", rows)
    no_eth = root / "no_eth"  # holdings and BTC, but no ETH for a BTC+ETH hedge
    no_eth.mkdir()
    for a in ASSETS:
        shutil.copy(DAILY / f"{a}-USD_1d.csv", no_eth)
    text = PORTFOLIO.read_text(encoding="utf-8")
    (root / "huge.toml").write_text(text.replace("amount = 120", "amount = 1e308", 1), "utf-8")
    (root / "nan.toml").write_text(text.replace("amount = 120", "amount = nan", 1), "utf-8")
    (root / "btc_eth.toml").write_text(
        text.replace('assets = ["BTC"]', 'assets = ["BTC", "ETH"]', 1), "utf-8")
    (root / "lev.toml").write_text(  # above the contract's maximum, within [limits]
        text.replace("leverage = 2 ", "leverage = 200 ", 1)
        .replace("max_leverage = 5", "max_leverage = 500", 1), "utf-8")
    sweep = (ROOT / "examples" / "sweep.toml").read_text(encoding="utf-8")
    (root / "nan_seed.toml").write_text(sweep.replace("seed = 7 ", "seed = nan ", 1), "utf-8")
    (root / "huge_random.toml").write_text(sweep.replace("random = 24 ", "random = 1e308 ", 1),
                                           "utf-8")
    (root / "nan_window.toml").write_text(sweep.replace("window = 180 ", "window = nan ", 1),
                                          "utf-8")
    (root / "empty").mkdir()
    (root / "empty" / "SOL-USD_1d.csv").write_text("timestamp,open,high,low,close,volume\n",
                                                   "utf-8")
    (root / "a_file").write_text("not a folder\n", "utf-8")
    return root


def _read_only_dir(work: Path) -> str:
    """A folder no file can be created in (root ignores mode bits: /sys refuses even root)."""
    if os.geteuid() == 0:
        return "/sys"
    ro = work / "read_only"
    ro.mkdir(exist_ok=True)
    ro.chmod(0o500)
    return str(ro)


P = str(PORTFOLIO)
CASES = [
    # --- outputs: errors, not tracebacks; whole files or none -------------------------------
    Case("report-under-a-file", ("backtest", P, "--report", "README.md/r.html"), 7,
         ("--report", "README.md/r.html", "README.md is a file, not a folder")),
    Case("png-under-a-file", ("backtest", P, "--png", "README.md/png"), 7,
         ("--png", "README.md/png", "is a file")),
    Case("report-is-a-folder", ("backtest", P, "--report", "{work}/empty"), 7,
         ("--report", "it is a folder", "pass a file name")),
    Case("report-not-html", ("backtest", P, "--report", "{work}/r.pdf"), 2,
         ("--report", "r.pdf", ".html")),
    Case("report-read-only-folder", ("backtest", P, "--report", "{ro}/r.html"), 7,
         ("--report", "r.html", "pass a folder you can write to")),
    Case("png-read-only-folder", ("backtest", P, "--png", "{ro}/charts"), 7,
         ("--png", "charts")),
    Case("home-is-a-file-import", ("data", "import", str(DAILY / "SOL-USD_1d.csv")), 2,
         ("$ALTHEDGE_HOME", "a_file", "is a file, not a folder"),
         env={"ALTHEDGE_HOME": "{work}/a_file"}),
    Case("home-is-a-file-list", ("data", "list"), 2, ("$ALTHEDGE_HOME", "is a file"),
         env={"ALTHEDGE_HOME": "{work}/a_file"}),
    Case("home-is-a-file-plan-exchange", ("plan", P, "--exchange", "binance"), 2,
         ("$ALTHEDGE_HOME", "a_file", "is a file, not a folder"),
         env={"ALTHEDGE_HOME": "{work}/a_file"}),
    Case("data-dir-is-a-file", ("data", "list", "--data-dir", "{work}/a_file"), 2,
         ("--data-dir", "is a file")),
    Case("home-read-only-import", ("data", "import", str(DAILY / "SOL-USD_1d.csv")), 7,
         ("--data-dir", "{ro}/home"),
         env={"ALTHEDGE_HOME": "{ro}/home"}),
    Case("sweep-out-is-a-file", ("sweep", "examples/sweep.toml", "--out", "README.md"), 7,
         ("--out", "README.md", "is a file")),
    Case("sweep-out-under-a-file", ("sweep", "examples/sweep.toml", "--out", "README.md/x"), 7,
         ("--out", "README.md is a file, not a folder")),
    Case("sweep-out-read-only", ("sweep", "examples/sweep.toml", "--out", "{ro}/sweep"), 7,
         ("--out", "{ro}/sweep")),
    Case("fetch-read-only-home", ("data", "fetch", "--exchange", "binance", "--symbols",
                                  "BTC/USDT"), 7, ("--data-dir", "{ro}/home"),
         ("load_markets", "network"), env={"ALTHEDGE_HOME": "{ro}/home"}),
    Case("json-to-a-full-disk", ("plan", P, "--json"), 7, ("stdout", "the disk is full"),
         stdout_to_dev_full=True),
    Case("table-to-a-full-disk", ("calc", "basis", "--spot", "100", "--futures", "101"), 7,
         ("stdout", "the disk is full"), stdout_to_dev_full=True),
    # --- NaN, inf, overflow: refused with the option's name ---------------------------------
    Case("funding-rate-nan", ("calc", "funding", "--contract", "linear", "--contracts", "1",
                              "--contract-size", "1", "--mark", "65000", "--rate", "nan"), 2,
         ("--rate",), ("+nan", "nobody")),
    Case("funding-rate-200pct", ("calc", "funding", "--contract", "linear", "--contracts", "1",
                                 "--contract-size", "1", "--mark", "65000", "--rate", "2"), 2,
         ("--rate", "±0.05")),
    Case("pnl-exit-inf", ("calc", "pnl", "--contract", "linear", "--side", "short",
                          "--contracts", "1", "--contract-size", "1", "--entry", "65000",
                          "--exit", "inf"), 2, ("--exit",), ("never",)),
    Case("pnl-entry-negative", ("calc", "pnl", "--contract", "linear", "--side", "short",
                                "--contracts", "1", "--contract-size", "1", "--entry", "-5",
                                "--exit", "60000"), 2, ("--entry", "> 0")),
    Case("plan-funding-rate-inf", ("plan", P, "--funding-rate", "inf"), 2, ("--funding",),
         ("+inf",)),
    Case("plan-funding-nan", ("plan", P, "--funding", "nan"), 2, ("--funding",)),
    Case("amount-1e308", ("plan", "{work}/huge.toml"), 2,
         ("huge.toml", "holdings[0].amount", "too large"), ("RuntimeWarning", "weights")),
    Case("amount-nan", ("plan", "{work}/nan.toml"), 2, ("nan.toml", "holdings[0].amount")),
    Case("hedge-value-overflow", ("calc", "hedge", "--value", "1e400", "--beta", "1.8",
                                  "--price", "65000", "--contract-size", "1"), 2, ("--value",)),
    # --- numbers inside text options and spec files (were: internal error 70, a hang, or
    # --- exit 0 with every run failed); messages name the option as typed ---------------
    Case("backtest-fees-nan", ("backtest", P, "--fees", "nan"), 2, ("--fees:", "nan")),
    Case("backtest-funding-inf", ("backtest", P, "--funding", "inf"), 2, ("--funding:",)),
    Case("backtest-rebalance-threshold-nan", ("backtest", P, "--rebalance", "threshold:nan"),
         2, ("--rebalance:", "threshold:nan")),
    Case("backtest-policy-nan", ("backtest", P, "--policy", "static:nan"), 2,
         ("--policy 'static:nan':", "must be finite")),
    Case("backtest-compare-unknown", ("backtest", P, "--compare", "plan,bogus"), 2,
         ("--compare: unknown policy 'bogus'",)),
    Case("backtest-basis-absurd", ("backtest", P, "--basis", "100"), 2, ("--basis:", "±1")),
    Case("backtest-halflife-zero", ("backtest", P, "--halflife", "0"), 2, ("--halflife:",)),
    Case("levels-bins-zero", ("levels", "BTC", "--bins", "0"), 2, ("--bins:",)),
    Case("levels-value-area", ("levels", "BTC", "--value-area", "150"), 2, ("--value-area:",)),
    Case("funding-interval-zero", ("calc", "funding", "--contract", "linear", "--contracts",
                                   "1", "--contract-size", "1", "--mark", "5", "--rate",
                                   "0.0001", "--interval-hours", "0"), 2,
         ("--interval-hours:",), ("funding interval",)),
    Case("liquidation-mmr", ("calc", "liquidation", "--exchange", "binance", "--contract",
                             "linear", "--side", "short", "--contracts", "1", "--contract-size",
                             "1", "--entry", "100", "--leverage", "2", "--mmr", "1.5"), 2,
         ("--mmr:",)),
    Case("limit-at-inf", ("hedge", "open", P, "--venue", "paper", "--at", "2024-06-03",
                          "--limit-at", "inf"), 2, ("--limit-at", "finite")),
    Case("calc-hedge-rounding-choice", ("calc", "hedge", "--value", "1", "--beta", "1",
                                        "--price", "1", "--contract-size", "1", "--rounding",
                                        "sideways"), 2, ("--rounding", "'down', 'up'")),
    Case("sweep-workers-zero", ("sweep", "examples/sweep.toml", "--workers", "0"), 2,
         ("--workers", "x>=1")),
    Case("sweep-seed-nan", ("sweep", "{work}/nan_seed.toml", "--out", "{work}/sw"), 2,
         ("nan_seed.toml", "seed", "nan is not a whole number"), ("internal",)),
    Case("sweep-random-1e308", ("sweep", "{work}/huge_random.toml", "--out", "{work}/sw"), 2,
         ("portfolios.random", "1e+308")),
    Case("sweep-window-nan", ("sweep", "{work}/nan_window.toml", "--out", "{work}/sw"), 2,
         ("settings.window", "finite")),
    # --- rows that cannot be read are never used silently -----------------------------------
    Case("plan-unreadable-rows", ("plan", P, "--prices", "{work}/sol_garbage"), 3,
         ("SOL", "56 row(s)", "could not be read", "--exclude-bad")),
    Case("backtest-unreadable-rows", ("backtest", P, "--prices", "{work}/sol_garbage"), 3,
         ("SOL", "56 row(s)", "could not be read")),
    Case("hedge-asset-unreadable-rows",
         ("plan", P, "--prices", "{work}/btc_garbage", "--exclude-bad"), 3,
         ("BTC (the hedge asset)", "could not be read"), ("--exclude-bad",)),
    Case("import-no-rows", ("data", "import", "{work}/empty/SOL-USD_1d.csv"), 3,
         ("SOL-USD_1d.csv", "no readable rows")),
    # --- smaller ones -----------------------------------------------------------------------
    Case("collateral-negative", ("backtest", P, "--collateral", "-100"), 2,
         ("--collateral", "> 0")),
    Case("check-start-after-end", ("data", "check", str(DAILY), "--start", "2024-01-01",
                                   "--end", "2023-01-01"), 2, ("--start", "--end", "swap")),
    Case("fetch-since-after-until", ("data", "fetch", "--exchange", "binance", "--symbols",
                                     "BTC/USDT", "--since", "2024-01-01", "--until",
                                     "2023-01-01"), 2, ("--since", "--until", "swap")),
    Case("no-at-none", ("hedge", "open", P, "--venue", "paper", "--at", "2019-01-01"), 3,
         ("SOL", "--at"), ("at None",)),
    Case("eth-is-the-hedge-asset",
         ("backtest", "{work}/btc_eth.toml", "--prices", "{work}/no_eth"), 3,
         ("ETH",), ("holding",)),
    Case("eth-missing-plan", ("plan", "{work}/btc_eth.toml", "--prices", "{work}/no_eth"), 3,
         ("hedge asset ETH", "--prices"), ("holding",)),
    Case("no-double-prefix", ("plan", "{work}/lev.toml"), 2,
         ("lev.toml: hedge.leverage:", "200"), ("hedge: hedge.",)),
    Case("monitor-correlation-range", ("monitor", "--min-correlation", "5"), 2,
         ("--min-correlation",)),
    # --- honest about time --------------------------------------------------------------------
    Case("as-of-in-the-future", ("plan", P, "--as-of", "2999-01-01"), 2,
         ("--as-of", "2999-01-01", "future")),
    Case("at-after-the-data", ("hedge", "open", P, "--venue", "paper", "--at", "2026-01-01"), 2,
         ("--at", "end on"), ("--as-of",)),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input_is_one_clean_line(case: Case, work: Path, tmp_path: Path) -> None:
    ro = _read_only_dir(work)

    def fill(text: str) -> str:
        return text.replace("{work}", str(work)).replace("{ro}", ro)

    env = {**os.environ, "ALTHEDGE_HOME": str(tmp_path / "home"),
           **{k: fill(v) for k, v in case.env.items()}}
    args = [sys.executable, "-m", "althedge", *(fill(a) for a in case.args)]
    if case.stdout_to_dev_full:
        with open("/dev/full", "w") as full:
            proc = subprocess.run(args, stdout=full, stderr=subprocess.PIPE, text=True,
                                  cwd=ROOT, env=env, timeout=300)
        stdout = ""
    else:
        proc = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, env=env,
                              timeout=300)
        stdout = proc.stdout
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert proc.returncode == case.code, proc.stderr
    assert "Traceback" not in proc.stderr and "Warning" not in proc.stderr
    assert len(errors) == 1, proc.stderr
    line = errors[0]
    assert not [ln for ln in proc.stderr.splitlines() if ln.strip() and ln != line
                and not ln.startswith(("warning:", "note:"))], proc.stderr
    for text in case.says:
        assert fill(text) in line, line
    for text in case.never:
        assert text not in line, line
    assert stdout == ""
    if "report" in case.id:  # nothing half-written next to the target
        target = Path(fill(case.args[-1]))
        assert not target.exists() or target.is_dir()


def test_a_read_only_folder_target_is_named_itself(tmp_path: Path) -> None:
    """``ALTHEDGE_HOME=RO_DIR althedge data import …``: the folder that refuses the write is
    RO_DIR itself, not its (writable) parent."""
    ro = tmp_path / "ro_home"
    ro.mkdir()
    if os.geteuid() == 0:
        if subprocess.run(["chattr", "+i", str(ro)], capture_output=True).returncode:
            pytest.skip("chattr +i is not available here")
    else:
        ro.chmod(0o500)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "althedge", "data", "import", str(DAILY / "SOL-USD_1d.csv")],
            capture_output=True, text=True, cwd=ROOT, timeout=120,
            env={**os.environ, "ALTHEDGE_HOME": str(ro)})
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(ro)], check=True)
        else:
            ro.chmod(0o700)
    assert proc.returncode == 7, proc.stderr
    assert f"permission denied in {ro};" in proc.stderr, proc.stderr
    assert list(ro.iterdir()) == []


@pytest.mark.parametrize("args", [
    ("calc", "pnl", "--contract", "linear", "--side", "short", "--contracts", "1",
     "--contract-size", "1", "--entry", "5", "--exit", "5"),
    ("calc", "funding", "--contract", "linear", "--contracts", "1", "--contract-size", "1",
     "--mark", "5", "--rate", "-0.0", "--side", "short"),
    ("calc", "basis", "--spot", "5", "--futures", "5"),
    ("calc", "hedge", "--value", "1", "--beta", "0", "--price", "5", "--contract-size", "1"),
], ids=lambda a: a[1])
def test_tables_never_show_negative_zero(args: tuple[str, ...]) -> None:
    """A short closed at its entry made 0.00, not "-0.00" (the JSON's -0.0 rule, in tables)."""
    proc = subprocess.run([sys.executable, "-m", "althedge", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "0.00" in proc.stdout
    assert "-0.0" not in proc.stdout, proc.stdout
